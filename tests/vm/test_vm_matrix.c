/* SPDX-License-Identifier: MIT */
/*
 * The whole VM (src/vm) and the validation matrix, against outcomes this
 * file computes by itself from a few rules (docs/MATRIX.md), never from the
 * code under test:
 *
 *   test_vm_matrix                  unit tests: cell names and filters, the
 *                                   coco.rst classification, checks that
 *                                   fail on crafted reports, the scanner on
 *                                   planted bytes, replay of a seed;
 *   test_vm_matrix cell NAME        one cell on the native executor;
 *   test_vm_matrix det FIRST COUNT  every cell under seeds FIRST.. of the
 *                                   deterministic executor.
 *
 * For a cell, the rules give: whether it exists, whether the guest
 * connects (an isolated guest refuses versions below 5.2), the version,
 * whether the connection is confidential (paravisor && (SNP || TDX) &&
 * 6.0 && x86_64), the channels with their owner and flags, the SynIC their
 * interrupts come from, the InitiateContact's path and trust, the exact set
 * of reasons the host sees pages for (coco.rst's list as this platform
 * builds it), ring pages visible, and where the secret may be found. The
 * trace is checked too: every control message appears once per hop.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/guest.h>
#include <cvmbus/log.h>
#include <cvmbus/memory.h>
#include <cvmbus/platform.h>
#include <cvmbus/trace.h>
#include <cvmbus/vm.h>

#define V50 0x00050000u
#define V60 0x00060000u
#define RING_PAGES 8u /* the default workload: 16 KiB each way */
#define PACKETS    8u

/* ---- the independent rules ---------------------------------------------------- */

struct expect {
	bool applicable;
	bool connects;
	bool confidential;
	uint32_t version;
	uint32_t features;
	size_t channels;
	const char *contact_path;
	bool contact_trusted;
	const char *contact_to;
	/* The exact set of reasons with pages visible at the steady state. */
	const char *reasons[12];
	size_t nreasons;
};

static void want_reason(struct expect *e, const char *r)
{
	e->reasons[e->nreasons++] = r;
}

static void rules(const struct cvmbus_vm_cell *c, struct expect *e)
{
	bool x86 = c->arch == CVMBUS_ARCH_X86_64;
	bool snp = c->isolation == HV_ISOLATION_TYPE_SNP;
	bool tdx = c->isolation == HV_ISOLATION_TYPE_TDX;
	bool hw = snp || tdx;
	bool iso = c->isolation != HV_ISOLATION_TYPE_NONE;
	bool pv = c->paravisor;
	/* The matrix offers Confidential VMBus with a paravisor on SNP/TDX. */
	bool offered = pv && hw;

	memset(e, 0, sizeof(*e));
	e->applicable = x86 || !hw;
	if (!e->applicable)
		return;
	e->connects = !iso || c->max_version >= 0x00050002u;
	e->version = e->connects ? c->max_version : 0;
	e->confidential = e->connects && offered && c->max_version >= V60 && x86;
	e->features = e->confidential ? 0x10u : 0;
	e->channels = e->connects ? (pv ? 2 : 1) : 0;

	/* CPUID detection: the guest tries the paravisor iff the bit is set
	 * (offered), else the hypervisor's path of its isolation; a paravisor
	 * on x86 without GHCB/tdcall traps the plain hypercall. */
	if (offered)
		e->contact_path = "paravisor-trap";
	else if (!x86)
		e->contact_path = "hvc";
	else if (snp)
		e->contact_path = "ghcb";
	else if (tdx)
		e->contact_path = "tdcall";
	else
		e->contact_path = pv ? "paravisor-trap" : "hypercall-page";
	e->contact_trusted = !strcmp(e->contact_path, "paravisor-trap") && iso;
	e->contact_to = !strcmp(e->contact_path, "paravisor-trap") ? "paravisor"
			: pv ? "paravisor" : "hypervisor";

	/* coco.rst: monitor pages always; SynIC pages unless the paravisor
	 * supplies them; hypercall pages unless a paravisor (arm64 keeps its
	 * hvc pages); the GHCB / tdcall page of SNP / TDX; the paravisor's own
	 * carrier; ring buffers (some channel is always host-visible: the host's
	 * own, or the relayed one); everything, when nothing is isolated. */
	want_reason(e, "vmbus-monitor");
	if (e->connects)
		want_reason(e, "vmbus-ring");
	if (!pv && iso) {
		want_reason(e, "synic-message");
		want_reason(e, "synic-event");
	}
	if (pv)
		want_reason(e, "synic-hypervisor");
	if (!x86 || (!pv && !hw))
		want_reason(e, "hypercall-input");
	if (snp)
		want_reason(e, "ghcb");
	if (tdx)
		want_reason(e, "tdx-hypercall");
	if (pv)
		want_reason(e, snp ? "paravisor-ghcb" : tdx ? "paravisor-tdcall"
						 : "paravisor-hypercall");
	if (!iso)
		want_reason(e, "no-isolation");
}

/* ---- checking one run --------------------------------------------------------- */

#define CHECK(c)                                                                        \
	do {                                                                            \
		if (!(c)) {                                                             \
			snprintf(why, whylen, "%s: line %d: %s", name, __LINE__, #c);   \
			return -1;                                                      \
		}                                                                       \
	} while (0)

static const struct cvmbus_vm_reason *find_reason(const struct cvmbus_vm_report *r,
						  const char *reason)
{
	for (size_t i = 0; i < r->reason_count; i++)
		if (!strcmp(r->reasons[i].reason, reason) && r->reasons[i].pages_now)
			return &r->reasons[i];
	return NULL;
}

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/*
 * Every control message exactly once per hop, from the kept trace:
 *   guest -> server      each post_message hypercall by the guest has one
 *                        "msg" event from the guest with the same bytes;
 *   paravisor <-> host   the relay's posts and the host's answers likewise;
 *   server -> guest      each VMBus message delivered into a guest SIMP
 *                        slot has one "msg" event to the guest.
 */
static int check_hops(struct cvmbus_trace *t, const char *name, char *why, size_t whylen)
{
	enum { G = CVMBUS_MEM_PARTY_GUEST, P = CVMBUS_MEM_PARTY_PARAVISOR,
	       H = CVMBUS_MEM_PARTY_HOST, N = CVMBUS_MEM_PARTY_COUNT + 1 };
	size_t n = cvmbus_trace_buffer_count(t);
	uint64_t posts[N] = { 0 }, msgs[N][N] = { { 0 } };
	uint64_t delivered = 0, to_guest = 0, from_guest = 0, contacts = 0;

	CHECK(cvmbus_trace_buffer_overflow(t) == 0);
	for (size_t i = 0; i < n; i++) {
		const struct cvmbus_trace_event *ev = cvmbus_trace_buffer_at(t, i);
		const uint8_t *b = ev->bytes;

		if (ev->kind == CVMBUS_TRACE_HYPERCALL && ev->code == 0x5c &&
		    ev->message_type == 1 && ev->from < N)
			posts[ev->from]++;
		if (ev->kind == CVMBUS_TRACE_DELIVER && ev->message_type == 1 && ev->to == G)
			delivered++;
		if (ev->kind != CVMBUS_TRACE_MSG)
			continue;
		/* Every msg event carries a whole channel message. */
		CHECK(ev->len >= 8 && b);
		CHECK(ev->from < N && ev->to < N);
		msgs[ev->from][ev->to]++;
		if (ev->from == G && rd32(b) == 14) {
			/* InitiateContact: type 14, then 4 bytes of padding. */
			static const uint8_t head[8] = { 0x0e, 0, 0, 0, 0, 0, 0, 0 };

			CHECK(memcmp(b, head, 8) == 0);
			contacts++;
		}
	}
	for (int p = 0; p < N; p++) {
		from_guest += msgs[G][p];
		to_guest += msgs[p][G];
	}
	CHECK(contacts >= 1);
	/* guest -> its server: one msg per post the guest made */
	CHECK(posts[G] == from_guest);
	/* the relay's hop, both ways */
	CHECK(posts[P] == msgs[P][H]);
	CHECK(posts[H] == msgs[H][P]);
	/* server -> guest: one msg per message delivered into a guest slot */
	CHECK(delivered == to_guest);
	CHECK(from_guest > 0 && to_guest > 0);
	return 0;
}

/* Check a finished run's report (and trace) against the rules. */
static int check_run(const struct cvmbus_vm_cell *c, const struct cvmbus_vm_report *r,
		     struct cvmbus_trace *t, char *why, size_t whylen)
{
	char name[64];
	struct expect e;
	struct cvmbus_vm_cell_result verdict;
	size_t nonconf = 0;

	cvmbus_vm_cell_name(c, name, sizeof(name));
	rules(c, &e);
	CHECK(e.applicable);
	CHECK(r->exec_status == 0);
	CHECK(r->connected == e.connects);
	if (!e.connects) {
		CHECK(r->connect_status == -EINVAL);
	} else {
		CHECK(r->status == 0);
		CHECK(r->version == e.version);
		CHECK(r->features == e.features);
		CHECK(r->steady);
	}
	CHECK(r->confidential == e.confidential);

	/* The InitiateContact that decided it (the last one posted). */
	CHECK(r->contact_count >= 1);
	{
		const struct cvmbus_vm_contact *ic = &r->contacts[r->contact_count - 1];

		CHECK(!strcmp(cvmbus_path_name(ic->path), e.contact_path));
		CHECK(ic->trusted == e.contact_trusted);
		CHECK(ic->version == c->max_version);
		CHECK(rd32(ic->head) == 14 && rd32(ic->head + 4) == 0);
		if (e.confidential)
			CHECK(ic->features == 0x10u);
		(void)e.contact_to;
	}

	/* Channels: the paravisor's own first (relid 1), then the host's. */
	CHECK(r->channel_count == e.channels);
	for (size_t i = 0; i < r->channel_count; i++) {
		const struct cvmbus_vm_channel *ch = &r->channels[i];
		bool mine = c->paravisor && i == 0;
		bool conf = mine && e.confidential;

		CHECK(ch->relid == i + 1);
		CHECK(!strcmp(ch->device, "echo"));
		CHECK(ch->owner == (mine ? CVMBUS_MEM_PARTY_PARAVISOR : CVMBUS_MEM_PARTY_HOST));
		CHECK(ch->host_relid == (mine ? 0u : 1u));
		CHECK(ch->offer_flags == (conf ? 0x6u : 0u));
		CHECK(ch->confidential_ring == conf && ch->confidential_external == conf);
		CHECK(ch->opened && ch->open_status == 0 && ch->close_status == 0);
		CHECK(ch->echoes == PACKETS && ch->echo_status == 0);
		CHECK(ch->ring_pages == RING_PAGES);
		/* Interrupts: the paravisor's SynIC for a confidential channel;
		 * the hypervisor's otherwise (the host signals there, and a
		 * non-confidential guest proxies the paravisor's SINT2). */
		CHECK(ch->synic == (conf ? CVMBUS_SYNIC_PARAVISOR : CVMBUS_SYNIC_HYPERVISOR));
		CHECK(!ch->synic_both);
		CHECK(!strcmp(cvmbus_path_name(ch->signal_path),
			      conf ? "paravisor-trap" : e.contact_path));
		CHECK(ch->secret_sent);
		if (conf) {
			CHECK(ch->ring_private && ch->ring_pages_visible == 0);
			CHECK(ch->secret_hits_view == 0 && ch->secret_hits_fd == 0);
		} else {
			nonconf++;
			CHECK(ch->ring_pages_visible == RING_PAGES);
			/* Both rings hold a copy: the packet and its echo. */
			CHECK(ch->secret_hits_view >= 2 && ch->secret_hits_fd >= 2);
		}
	}

	/* The exact set of host-visible reasons, and counts that follow from
	 * the layout: 2 monitor pages, a ring per host-visible channel, one
	 * message and one event page per vCPU, two supplied pages per vCPU. */
	for (size_t i = 0; i < e.nreasons; i++) {
		const struct cvmbus_vm_reason *rs = find_reason(r, e.reasons[i]);

		if (!rs) {
			snprintf(why, whylen, "%s: no visible pages tagged %s", name, e.reasons[i]);
			return -1;
		}
		CHECK(rs->allowed);
		CHECK(rs->category != CVMBUS_VM_COCO_UNKNOWN);
	}
	for (size_t i = 0; i < r->reason_count; i++) {
		const struct cvmbus_vm_reason *rs = &r->reasons[i];
		bool listed = false;

		if (!rs->pages_now)
			continue;
		for (size_t k = 0; k < e.nreasons; k++)
			listed |= !strcmp(rs->reason, e.reasons[k]);
		if (!listed) {
			snprintf(why, whylen, "%s: unexpected visible pages tagged %s", name,
				 rs->reason);
			return -1;
		}
	}
	CHECK(find_reason(r, "vmbus-monitor")->pages_now == 2);
	if (e.connects)
		CHECK(find_reason(r, "vmbus-ring")->pages_now == RING_PAGES * nonconf);
	if (!c->paravisor && c->isolation != HV_ISOLATION_TYPE_NONE) {
		CHECK(find_reason(r, "synic-message")->pages_now == r->config.vcpus);
		CHECK(find_reason(r, "synic-event")->pages_now == r->config.vcpus);
	}
	if (c->paravisor)
		CHECK(find_reason(r, "synic-hypervisor")->pages_now == 2u * r->config.vcpus);
	CHECK(r->ranges_dropped == 0);

	/* The code's own verdict agrees. */
	memset(&verdict, 0, sizeof(verdict));
	cvmbus_vm_check(r, &verdict);
	if (!verdict.pass) {
		snprintf(why, whylen, "%s: cvmbus_vm_check: %s", name, verdict.failures[0]);
		return -1;
	}
	if (t)
		return check_hops(t, name, why, whylen);
	return 0;
}

#undef CHECK

/* Boot the cell (native, or det with seed), keep the trace, check it. */
/* `cell NAME processes`: the host runs in its own process (cvmbus-host). */
static bool g_processes;

static int run_cell(const struct cvmbus_vm_cell *c, bool det, uint64_t seed, char *why,
		    size_t whylen)
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm *vm = NULL;
	char err[160];
	int rc;

	cvmbus_vm_cell_config(c, det, seed, &cfg);
	cfg.processes = g_processes;
	rc = cvmbus_vm_create(&cfg, &vm, err, sizeof(err));
	if (rc) {
		snprintf(why, whylen, "create: %s (%d)", err, rc);
		return -1;
	}
	if (cvmbus_trace_buffer_enable(cvmbus_vm_trace(vm), 1u << 14)) {
		cvmbus_vm_destroy(vm);
		snprintf(why, whylen, "no trace buffer");
		return -1;
	}
	(void)cvmbus_vm_run(vm, cvmbus_vm_default_workload, NULL);
	rc = check_run(c, cvmbus_vm_report(vm), cvmbus_vm_trace(vm), why, whylen);
	if (rc && det) {
		size_t n = strlen(why);

		snprintf(why + n, whylen - n, " (seed %llu; replay: CVMBUS_EXEC_SEED)",
			 (unsigned long long)seed);
	}
	cvmbus_vm_destroy(vm);
	return rc;
}

/* ---- modes: one cell, a seed sweep --------------------------------------------- */

static struct cvmbus_vm_cell g_cell;
static uint64_t g_first, g_count;

static void test_one_cell(void **state)
{
	struct expect e;
	char why[320] = "";

	(void)state;
	rules(&g_cell, &e);
	if (!e.applicable) {
		struct cvmbus_vm_cell_result res;

		/* Reported, not skipped: n/a with the reason. */
		assert_int_equal(cvmbus_vm_run_cell(&g_cell, false, 0, NULL, &res), 0);
		assert_false(res.applicable);
		assert_non_null(strstr(res.na_reason, "arm64"));
		return;
	}
	if (run_cell(&g_cell, false, 0, why, sizeof(why)))
		fail_msg("%s", why);
}

static void test_det_sweep(void **state)
{
	struct cvmbus_vm_cell cells[CVMBUS_VM_MATRIX_CELLS];
	size_t n = cvmbus_vm_matrix_cells(cells, CVMBUS_VM_MATRIX_CELLS);
	uint64_t seed0 = cvmbus_exec_seed_from_env(g_first);
	uint64_t count = seed0 == g_first ? g_count : 1;
	char why[320] = "";

	(void)state;
	for (uint64_t s = seed0; s < seed0 + count; s++)
		for (size_t i = 0; i < n; i++) {
			struct expect e;

			rules(&cells[i], &e);
			if (!e.applicable)
				continue;
			if (run_cell(&cells[i], true, s, why, sizeof(why)))
				fail_msg("%s", why);
		}
}

/* ---- unit tests --------------------------------------------------------------------- */

static void test_cells(void **state)
{
	struct cvmbus_vm_cell cells[CVMBUS_VM_MATRIX_CELLS], back;
	char name[64];
	size_t n, snp60 = 0, pv = 0, na = 0;

	(void)state;
	n = cvmbus_vm_matrix_cells(cells, CVMBUS_VM_MATRIX_CELLS);
	assert_int_equal(n, 32);
	assert_int_equal(cvmbus_vm_matrix_cells(NULL, 0), 32);
	for (size_t i = 0; i < n; i++) {
		struct cvmbus_vm_config cfg;

		cvmbus_vm_cell_name(&cells[i], name, sizeof(name));
		assert_int_equal(cvmbus_vm_cell_parse(name, &back), 0);
		assert_int_equal(back.paravisor, cells[i].paravisor);
		assert_int_equal(back.isolation, cells[i].isolation);
		assert_int_equal(back.max_version, cells[i].max_version);
		assert_int_equal(back.arch, cells[i].arch);
		for (size_t k = 0; k < i; k++) {
			char other[64];

			cvmbus_vm_cell_name(&cells[k], other, sizeof(other));
			assert_string_not_equal(name, other);
		}
		snp60 += cvmbus_vm_cell_match(&cells[i], "snp,6.0");
		pv += cvmbus_vm_cell_match(&cells[i], "paravisor");
		assert_true(cvmbus_vm_cell_match(&cells[i], NULL));
		assert_true(cvmbus_vm_cell_match(&cells[i], name));
		assert_false(cvmbus_vm_cell_match(&cells[i], "sev"));
		/* Confidential VMBus is offered with a paravisor on SNP/TDX only. */
		cvmbus_vm_cell_config(&cells[i], true, 9, &cfg);
		assert_int_equal(cfg.confidential_vmbus,
				 cells[i].paravisor && (cells[i].isolation == HV_ISOLATION_TYPE_SNP ||
							cells[i].isolation == HV_ISOLATION_TYPE_TDX));
		assert_true(cfg.deterministic && cfg.seed == 9);
		if (cvmbus_vm_config_check(&cfg, NULL, 0) == -ENOTSUP)
			na++;
	}
	assert_int_equal(snp60, 4);
	assert_int_equal(pv, 16); /* "paravisor" is not "no-paravisor" */
	assert_int_equal(na, 8);
	assert_int_equal(cvmbus_vm_cell_parse("paravisor/snp/6.0/x86_64", &back), 0);
	assert_true(back.paravisor && back.isolation == HV_ISOLATION_TYPE_SNP &&
		    back.max_version == V60 && back.arch == CVMBUS_ARCH_X86_64);
	assert_int_equal(cvmbus_vm_cell_parse("paravisor/snp/6.0", &back), -EINVAL);
	assert_int_equal(cvmbus_vm_cell_parse("paravisor/sev/6.0/x86_64", &back), -EINVAL);
}

static void test_coco_classify(void **state)
{
	struct cvmbus_vm_config pv_snp, bare_vbs, none_arm_pv;
	bool ok;

	(void)state;
	cvmbus_vm_config_default(&pv_snp); /* snp + paravisor */
	cvmbus_vm_config_default(&bare_vbs);
	bare_vbs.isolation = HV_ISOLATION_TYPE_VBS;
	bare_vbs.paravisor = false;
	bare_vbs.confidential_vmbus = false;
	cvmbus_vm_config_default(&none_arm_pv);
	none_arm_pv.isolation = HV_ISOLATION_TYPE_NONE;
	none_arm_pv.arch = CVMBUS_ARCH_ARM64;

	assert_int_equal(cvmbus_vm_coco_classify("vmbus-monitor", CVMBUS_MEM_PARTY_GUEST, &pv_snp,
						 &ok), CVMBUS_VM_COCO_MONITOR);
	assert_true(ok);
	assert_int_equal(cvmbus_vm_coco_classify("vmbus-ring", CVMBUS_MEM_PARTY_GUEST, &pv_snp, &ok),
			 CVMBUS_VM_COCO_RING);
	assert_true(ok);
	/* SynIC pages: the guest's own only without a paravisor. */
	assert_int_equal(cvmbus_vm_coco_classify("synic-message", CVMBUS_MEM_PARTY_GUEST, &pv_snp,
						 &ok), CVMBUS_VM_COCO_SYNIC);
	assert_false(ok);
	cvmbus_vm_coco_classify("synic-event", CVMBUS_MEM_PARTY_GUEST, &bare_vbs, &ok);
	assert_true(ok);
	assert_int_equal(cvmbus_vm_coco_classify("synic-hypervisor", CVMBUS_MEM_PARTY_PARAVISOR,
						 &pv_snp, &ok), CVMBUS_VM_COCO_SYNIC_SUPPLIED);
	assert_true(ok);
	cvmbus_vm_coco_classify("synic-hypervisor", CVMBUS_MEM_PARTY_PARAVISOR, &bare_vbs, &ok);
	assert_false(ok);
	/* Hypercall pages: not with a paravisor on x86; arm64 keeps hvc's. */
	cvmbus_vm_coco_classify("hypercall-input", CVMBUS_MEM_PARTY_GUEST, &bare_vbs, &ok);
	assert_true(ok);
	pv_snp.isolation = HV_ISOLATION_TYPE_VBS;
	cvmbus_vm_coco_classify("hypercall-input", CVMBUS_MEM_PARTY_GUEST, &pv_snp, &ok);
	assert_false(ok);
	pv_snp.isolation = HV_ISOLATION_TYPE_SNP;
	cvmbus_vm_coco_classify("hypercall-input", CVMBUS_MEM_PARTY_GUEST, &none_arm_pv, &ok);
	assert_true(ok);
	/* The GHCB on SNP only, the tdcall page on TDX only. */
	assert_int_equal(cvmbus_vm_coco_classify("ghcb", CVMBUS_MEM_PARTY_GUEST, &pv_snp, &ok),
			 CVMBUS_VM_COCO_GHCB);
	assert_true(ok);
	cvmbus_vm_coco_classify("tdx-hypercall", CVMBUS_MEM_PARTY_GUEST, &pv_snp, &ok);
	assert_false(ok);
	/* Everything visible: only when nothing is isolated. */
	assert_int_equal(cvmbus_vm_coco_classify("no-isolation", CVMBUS_MEM_PARTY_GUEST, &pv_snp,
						 &ok), CVMBUS_VM_COCO_NO_ISOLATION);
	assert_false(ok);
	cvmbus_vm_coco_classify("no-isolation", CVMBUS_MEM_PARTY_GUEST, &none_arm_pv, &ok);
	assert_true(ok);
	/* Anything else is a finding. */
	assert_int_equal(cvmbus_vm_coco_classify("untagged", CVMBUS_MEM_PARTY_GUEST, &pv_snp, &ok),
			 CVMBUS_VM_COCO_UNKNOWN);
	assert_false(ok);
	assert_int_equal(cvmbus_vm_coco_classify(NULL, CVMBUS_MEM_PARTY_GUEST, &pv_snp, &ok),
			 CVMBUS_VM_COCO_UNKNOWN);
	assert_false(ok);
	assert_string_equal(cvmbus_vm_coco_name(CVMBUS_VM_COCO_RING), "ring buffers");
}

/* A report of a clean confidential SNP cell, written by hand. */
static void clean_report(struct cvmbus_vm_report *r)
{
	memset(r, 0, sizeof(*r));
	cvmbus_vm_config_default(&r->config);
	r->connected = true;
	r->steady = true;
	r->version = V60;
	r->features = 0x10;
	r->confidential = true;
	r->contact_count = 1;
	r->contacts[0].version = V60;
	r->contacts[0].path = CVMBUS_PATH_PARAVISOR_TRAP;
	r->contacts[0].trusted = true;
	r->channel_count = 2;
	r->channels[0].relid = 1;
	r->channels[0].confidential_ring = true;
	r->channels[0].opened = true;
	r->channels[0].ring_private = true;
	r->channels[0].secret_sent = true;
	r->channels[1].relid = 2;
	r->channels[1].opened = true;
	r->channels[1].secret_sent = true;
	r->channels[1].secret_hits_view = 2;
	r->channels[1].secret_hits_fd = 2;
	r->reason_count = 1;
	snprintf(r->reasons[0].reason, sizeof(r->reasons[0].reason), "vmbus-ring");
	r->reasons[0].pages_now = 8;
	r->reasons[0].allowed = true;
	r->reasons[0].category = CVMBUS_VM_COCO_RING;
}

static bool verdict_of(const struct cvmbus_vm_report *r, const char *needle)
{
	struct cvmbus_vm_cell_result v;

	memset(&v, 0, sizeof(v));
	cvmbus_vm_check(r, &v);
	if (!needle)
		return v.pass && v.failure_count == 0;
	for (size_t i = 0; i < v.failure_count; i++)
		if (strstr(v.failures[i], needle))
			return !v.pass;
	return false;
}

static void test_checks_fail(void **state)
{
	struct cvmbus_vm_report r;

	(void)state;
	clean_report(&r);
	assert_true(verdict_of(&r, NULL));

	clean_report(&r); /* a page of the confidential ring visible */
	r.channels[0].ring_pages_visible = 1;
	assert_true(verdict_of(&r, "confidential ring are host-visible"));

	clean_report(&r); /* the confidential secret readable in the memfd */
	r.channels[0].secret_hits_fd = 1;
	assert_true(verdict_of(&r, "can read the secret"));

	clean_report(&r); /* a blind scan */
	r.channels[1].secret_hits_view = 0;
	assert_true(verdict_of(&r, "scan missed"));

	clean_report(&r); /* a reason coco.rst does not name */
	r.reasons[0].allowed = false;
	r.reasons[0].category = CVMBUS_VM_COCO_UNKNOWN;
	assert_true(verdict_of(&r, "not allowed here"));

	clean_report(&r); /* confidential, but contacted over the GHCB */
	r.contacts[0].path = CVMBUS_PATH_GHCB;
	r.contacts[0].trusted = false;
	assert_true(verdict_of(&r, "contacted over ghcb"));

	clean_report(&r); /* offered at 6.0, yet not confidential */
	r.confidential = false;
	r.features = 0;
	r.channels[0].confidential_ring = false;
	r.channels[0].secret_hits_view = 2;
	assert_true(verdict_of(&r, "not confidential"));

	clean_report(&r); /* confidential flags on a channel, feature not granted */
	r.features = 0;
	assert_true(verdict_of(&r, "without feature 0x10"));

	clean_report(&r); /* an isolated guest that accepted 5.0 */
	r.config.max_version = V50;
	r.version = V50;
	r.confidential = false;
	r.features = 0;
	r.channels[0].confidential_ring = false;
	r.channels[0].secret_hits_view = 2;
	r.contacts[0].version = V50;
	assert_true(verdict_of(&r, "below 5.2"));

	clean_report(&r); /* the run itself failed */
	r.status = -ETIMEDOUT;
	snprintf(r.error, sizeof(r.error), "echo on relid 2 failed");
	assert_true(verdict_of(&r, "echo on relid 2"));
}

/* The scanner finds bytes planted in a shared page, through both looks,
 * and not in a private one; a page made private loses its copy. */
static int plant_workload(struct cvmbus_vm *vm, void *arg)
{
	static const uint8_t needle[24] = "planted-needle-0123456!";
	struct cvmbus_platform *p = cvmbus_vm_platform(vm);
	struct cvmbus_mem *mem = cvmbus_platform_mem(p);
	uint64_t *res = arg, gpa_sh = 0, gpa_pr = 0, v, f;

	if (cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 2, &gpa_sh) ||
	    cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 1, &gpa_pr))
		return -ENOMEM;
	if (cvmbus_platform_set_visibility(p, CVMBUS_MEM_PARTY_GUEST, gpa_sh, 2, true,
					   "vmbus-buffer"))
		return -EIO;
	/* Straddling the two shared pages, and once in the private one. */
	if (cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpa_sh + 4096 - 10, needle,
			     sizeof(needle)) ||
	    cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpa_pr + 100, needle, sizeof(needle)))
		return -EIO;
	if (cvmbus_vm_scan(vm, needle, sizeof(needle), &v, &f))
		return -EIO;
	res[0] = v;
	res[1] = f;
	if (cvmbus_platform_set_visibility(p, CVMBUS_MEM_PARTY_GUEST, gpa_sh, 2, false, NULL))
		return -EIO;
	if (cvmbus_vm_scan(vm, needle, sizeof(needle), &v, &f))
		return -EIO;
	res[2] = v;
	res[3] = f;
	return 0;
}

static void test_scan_planted(void **state)
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm *vm;
	uint64_t res[4] = { 9, 9, 9, 9 };

	(void)state;
	cvmbus_vm_config_default(&cfg);
	cfg.paravisor = false;
	cfg.confidential_vmbus = false;
	assert_int_equal(cvmbus_vm_create(&cfg, &vm, NULL, 0), 0);
	assert_int_equal(cvmbus_vm_run(vm, plant_workload, res), 0);
	assert_int_equal(res[0], 1); /* the host view, across the page boundary */
	assert_int_equal(res[1], 1); /* the memfd */
	assert_int_equal(res[2], 0); /* made private: zeroed and gone */
	assert_int_equal(res[3], 0);
	cvmbus_vm_destroy(vm);
}

/* The same seed replays the same run: the same trace, byte for byte, and
 * the same report. */
static void test_replay(void **state)
{
	struct cvmbus_vm_cell c;
	struct cvmbus_vm_report a, b;

	(void)state;
	assert_int_equal(cvmbus_vm_cell_parse("paravisor/tdx/6.0/x86_64", &c), 0);
	for (int k = 0; k < 2; k++) {
		struct cvmbus_vm_config cfg;
		struct cvmbus_vm *vm;

		cvmbus_vm_cell_config(&c, true, 4242, &cfg);
		assert_int_equal(cvmbus_vm_create(&cfg, &vm, NULL, 0), 0);
		assert_int_equal(cvmbus_vm_run(vm, cvmbus_vm_default_workload, NULL), 0);
		*(k ? &b : &a) = *cvmbus_vm_report(vm);
		cvmbus_vm_destroy(vm);
	}
	assert_true(a.trace_events > 100);
	assert_int_equal(a.trace_events, b.trace_events);
	assert_int_equal(a.trace_hash, b.trace_hash);
	assert_int_equal(a.channel_count, b.channel_count);
	for (size_t i = 0; i < a.channel_count; i++) {
		assert_memory_equal(a.channels[i].secret, b.channels[i].secret,
				    CVMBUS_VM_SECRET_BYTES);
		assert_int_equal(a.channels[i].ring_gpa, b.channels[i].ring_gpa);
	}
	assert_int_equal(a.range_count, b.range_count);
	assert_memory_equal(a.ranges, b.ranges, sizeof(a.ranges[0]) * a.range_count);
}

/* A failing workload fails the run cleanly (every party stopped and
 * joined: ASan sees no leak), the VM runs again with a fresh report, and
 * the run-only API refuses outside a run. */
static int failing_workload(struct cvmbus_vm *vm, void *arg)
{
	int *calls = arg;

	(*calls)++;
	/* The parties are there during the run. */
	if (!cvmbus_vm_platform(vm) || !cvmbus_vm_guest(vm) || !cvmbus_vm_host_server(vm) ||
	    !cvmbus_vm_paravisor(vm))
		return -EFAULT;
	return -EIO;
}

static void test_failing_workload_and_rerun(void **state)
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm *vm;
	const struct cvmbus_vm_report *r;
	uint8_t secret[CVMBUS_VM_SECRET_BYTES] = { 0 };
	int calls = 0;

	(void)state;
	cvmbus_vm_config_default(&cfg);
	cfg.isolation = HV_ISOLATION_TYPE_TDX;
	assert_int_equal(cvmbus_vm_create(&cfg, &vm, NULL, 0), 0);
	assert_int_equal(cvmbus_vm_run(vm, failing_workload, &calls), -EIO);
	r = cvmbus_vm_report(vm);
	assert_int_equal(calls, 1);
	assert_int_equal(r->status, -EIO);
	assert_non_null(strstr(r->error, "workload failed"));
	assert_true(r->connected && r->confidential);
	assert_int_equal(r->exec_status, 0);
	/* Outside a run: nothing to reach. */
	assert_null(cvmbus_vm_platform(vm));
	assert_null(cvmbus_vm_guest(vm));
	assert_int_equal(cvmbus_vm_snapshot(vm), -EINVAL);
	assert_int_equal(cvmbus_vm_scan(vm, secret, sizeof(secret), NULL, NULL), -EINVAL);
	/* The same VM again, this time with the default workload. */
	assert_int_equal(cvmbus_vm_run(vm, cvmbus_vm_default_workload, NULL), 0);
	assert_int_equal(r->status, 0);
	assert_true(r->steady && r->channel_count == 2);
	assert_int_equal(r->channels[0].echoes, PACKETS);
	/* No workload at all: boot, connect, unload. */
	assert_int_equal(cvmbus_vm_run(vm, NULL, NULL), 0);
	assert_true(r->connected && !r->steady && r->channel_count == 0);
	cvmbus_vm_destroy(vm);
}

/* A paravisor cell on a platform that cannot have one is not a crash. */
static void test_bad_config(void **state)
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm *vm = NULL;
	char err[160];

	(void)state;
	cvmbus_vm_config_default(&cfg);
	cfg.arch = CVMBUS_ARCH_ARM64;
	assert_int_equal(cvmbus_vm_create(&cfg, &vm, err, sizeof(err)), -ENOTSUP);
	assert_null(vm);
	assert_non_null(strstr(err, "arm64"));
	cfg.arch = CVMBUS_ARCH_X86_64;
	cfg.paravisor = false; /* but Confidential VMBus still asked for */
	assert_int_equal(cvmbus_vm_create(&cfg, &vm, err, sizeof(err)), -EINVAL);
}

int main(int argc, char **argv)
{
	/* The parties' progress lines would bury cmocka's output. */
	cvmbus_log_set_level(CVMBUS_LOG_WARN);
	if ((argc == 3 || (argc == 4 && !strcmp(argv[3], "processes"))) &&
	    !strcmp(argv[1], "cell")) {
		g_processes = argc == 4;
		const struct CMUnitTest t[] = { cmocka_unit_test(test_one_cell) };

		if (cvmbus_vm_cell_parse(argv[2], &g_cell)) {
			fprintf(stderr, "no such cell: %s\n", argv[2]);
			return 2;
		}
		return cmocka_run_group_tests_name(argv[2], t, NULL, NULL);
	}
	if (argc == 4 && !strcmp(argv[1], "det")) {
		const struct CMUnitTest t[] = { cmocka_unit_test(test_det_sweep) };

		g_first = strtoull(argv[2], NULL, 0);
		g_count = strtoull(argv[3], NULL, 0);
		return cmocka_run_group_tests_name("det sweep", t, NULL, NULL);
	}
	{
		const struct CMUnitTest t[] = {
			cmocka_unit_test(test_cells),
			cmocka_unit_test(test_coco_classify),
			cmocka_unit_test(test_checks_fail),
			cmocka_unit_test(test_scan_planted),
			cmocka_unit_test(test_replay),
			cmocka_unit_test(test_failing_workload_and_rerun),
			cmocka_unit_test(test_bad_config),
		};

		return cmocka_run_group_tests(t, NULL, NULL);
	}
}
