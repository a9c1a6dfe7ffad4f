/* SPDX-License-Identifier: MIT */
/*
 * The paravisor (src/paravisor) in the whole stack, on the real platform
 * model: the host is a server glue in the HOST role listening on 0x800074
 * with an echo device; the paravisor is cvmbus_paravisor with an echo device
 * of its own and the relay; the guest is cvmbus_guest (the Linux guest's
 * behaviour) with the echo VSC helper. Scenarios:
 *   1/3  SNP or TDX with Confidential VMBus: the guest negotiates 6.0
 *        confidential and sees two offers (the paravisor's echo with 0x2,
 *        the host's relayed without confidential bits), relids unique and
 *        the paravisor's; echoes work on both; the paravisor's ring pages
 *        are private, the relayed ones shared; a random secret sent through
 *        the confidential channel is nowhere in host-visible memory (the
 *        whole shared memfd read with pread, plus the host view of every
 *        visible page), while the same secret sent through the relayed
 *        channel is found there (the scan works); each echo device counted
 *        only its own packets; the host never took a signal of the
 *        confidential channel (port trace).
 *   2    SNP with a paravisor but no Confidential VMBus: both channels plain,
 *        both secrets found.
 *   4    A hostile host: a rescind reaches the guest on the relayed relid
 *        and the relay releases the host's channel; an offer with
 *        confidential bits is re-offered without them; a forged offer from
 *        the guest on the relay's port is dropped.
 *   5    Scenario 1 under the deterministic executor over ten seeds: every
 *        run ends with every thread exited.
 * Each scenario is the main thread of an executor run; a failed check
 * records its line and unwinds, and cmocka asserts afterwards.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <cvmbus/echo.h>
#include <cvmbus/exec.h>
#include <cvmbus/guest.h>
#include <cvmbus/log.h>
#include <cvmbus/memory.h>
#include <cvmbus/paravisor.h>
#include <cvmbus/platform.h>
#include <cvmbus/server_glue.h>
#include <cvmbus/trace.h>

#define SEC        1000000000ull
#define MS         1000000ull
#define WAIT_NS    (10 * SEC)
#define ECHO_TMO   (5 * SEC)
#define RING_BYTES (4u * 4096u)
#define SECRET_LEN 32u
#define HOST_ECHO_INSTANCE 1u
#define PV_ECHO_INSTANCE   2u

/* ---- the scenario ----------------------------------------------------------- */

struct scn {
	/* Inputs. */
	enum hv_isolation_type iso;
	bool confidential;    /* the platform's CPUID bit and the paravisor's */
	uint64_t seed;        /* the secret's PRNG (and the det schedule) */
	bool hostile;         /* scenario 4 instead of 1 */

	/* The stack. */
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_mem *mem;
	struct cvmbus_server_glue *host;
	struct cvmbus_echo *host_echo;
	uint32_t host_relid;
	struct cvmbus_paravisor *pv;
	struct cvmbus_echo *pv_echo;
	uint32_t pv_relid;
	uint32_t pv_conn;     /* the paravisor echo's signal connection id */
	struct cvmbus_guest *g;

	/* Port trace, counted as it is emitted. */
	_Atomic uint64_t pv_conn_to_host;     /* any hypercall on pv_conn that reached the host */
	_Atomic uint64_t pv_conn_visible;     /* ... made on a host-visible path */
	_Atomic uint64_t pv_conn_to_pv;       /* signals of pv_conn the paravisor took */
	_Atomic uint32_t relayed_conn;
	_Atomic uint64_t relayed_conn_to_host;

	int line;
	char why[256];
};

static int fail_at(struct scn *s, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(struct scn *s, int line, const char *fmt, ...)
{
	va_list ap;

	if (!s->line) {
		s->line = line;
		va_start(ap, fmt);
		vsnprintf(s->why, sizeof(s->why), fmt, ap);
		va_end(ap);
	}
	return -1;
}

#define REQ(c)                                                                    \
	do {                                                                      \
		if (!(c))                                                         \
			return fail_at(s, __LINE__, "%s", #c);                    \
	} while (0)
#define CHECK(c)                                                                  \
	do {                                                                      \
		if (!(c)) {                                                       \
			fail_at(s, __LINE__, "%s", #c);                           \
			goto out;                                                 \
		}                                                                 \
	} while (0)

static void quiet_log(void *ctx, enum cvmbus_log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

/* ---- the port trace ------------------------------------------------------------ */

static bool host_visible_path(enum cvmbus_path path)
{
	return path == CVMBUS_PATH_GHCB || path == CVMBUS_PATH_TDCALL ||
	       path == CVMBUS_PATH_HYPERCALL_PAGE || path == CVMBUS_PATH_MSR ||
	       path == CVMBUS_PATH_HVC;
}

static void on_trace(void *ctx, const struct cvmbus_trace_event *ev, const char *json, size_t len)
{
	struct scn *s = ctx;

	(void)json;
	(void)len;
	if (ev->kind != CVMBUS_TRACE_HYPERCALL)
		return;
	if (s->pv_conn && ev->connection_id == s->pv_conn &&
	    (ev->code == HVCALL_SIGNAL_EVENT || ev->code == HVCALL_POST_MESSAGE)) {
		if (ev->to == CVMBUS_MEM_PARTY_HOST)
			atomic_fetch_add(&s->pv_conn_to_host, 1);
		if (host_visible_path(ev->path))
			atomic_fetch_add(&s->pv_conn_visible, 1);
		if (ev->to == CVMBUS_MEM_PARTY_PARAVISOR && ev->code == HVCALL_SIGNAL_EVENT &&
		    ev->status == HV_STATUS_SUCCESS)
			atomic_fetch_add(&s->pv_conn_to_pv, 1);
	}
	if (atomic_load(&s->relayed_conn) && ev->connection_id == atomic_load(&s->relayed_conn) &&
	    ev->code == HVCALL_SIGNAL_EVENT && ev->to == CVMBUS_MEM_PARTY_HOST)
		atomic_fetch_add(&s->relayed_conn_to_host, 1);
}

/* ---- the secret and the scan ------------------------------------------------------ */

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void make_secret(uint64_t seed, uint8_t out[SECRET_LEN])
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;

	for (unsigned int i = 0; i < SECRET_LEN; i += 8) {
		uint64_t v = xorshift(&x);

		memcpy(out + i, &v, 8);
	}
}

static size_t count_in(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
	size_t hits = 0;

	for (size_t i = 0; i + k <= n; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, k) == 0)
			hits++;
	return hits;
}

/*
 * Everything the host could read: the whole shared memfd, read with pread
 * as a host process holding only that fd would, and every page the host
 * view maps now, read through the host's accessor at its alias. Returns
 * the total number of places the secret was found.
 */
static int scan_host(struct scn *s, const uint8_t secret[SECRET_LEN], size_t *hits)
{
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(s->mem);
	int fd = cvmbus_mem_shared_fd(s->mem);
	uint64_t total = cvmbus_mem_bytes(s->mem);
	uint8_t *buf;
	struct stat st;
	size_t done = 0;

	REQ(fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0);
	buf = calloc(1, (size_t)st.st_size > total ? (size_t)st.st_size : total);
	REQ(buf);
	while (done < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + done, (size_t)st.st_size - done, (off_t)done);

		if (n <= 0) {
			free(buf);
			return fail_at(s, __LINE__, "pread of the shared memfd failed");
		}
		done += (size_t)n;
	}
	*hits = count_in(buf, done, secret, SECRET_LEN);

	/* The host view, page by page, assembled so that a secret across a
	 * page boundary is found too. */
	memset(buf, 0, total);
	for (uint64_t gpa = 0; gpa < total; gpa += CVMBUS_MEM_PAGE_SIZE) {
		if (!cvmbus_mem_host_view_visible(hv, gpa))
			continue;
		if (cvmbus_mem_host_read(hv, cvmbus_mem_gpa_to_alias(s->mem, gpa), buf + gpa,
					 CVMBUS_MEM_PAGE_SIZE)) {
			free(buf);
			return fail_at(s, __LINE__, "host view read of 0x%llx failed",
				       (unsigned long long)gpa);
		}
	}
	*hits += count_in(buf, total, secret, SECRET_LEN);
	free(buf);
	return 0;
}

/* ---- building and tearing down the stack ------------------------------------------ */

static int stack_up(struct scn *s)
{
	struct cvmbus_platform_config pc = {
		.exec = s->exec,
		.arch = CVMBUS_ARCH_X86_64,
		.isolation = s->iso,
		.paravisor = true,
		.confidential_vmbus = s->confidential,
		.vcpus = 1,
		.vtl0_bytes = 2u << 20,
		.vtl2_bytes = 512u << 10,
	};
	struct cvmbus_echo_config ec = { .exec = s->exec, .poll_ns = 100 * MS };
	struct cvmbus_server_glue_config hc;
	struct cvmbus_paravisor_config vc;
	struct cvmbus_offer_params op;
	struct cvmbus_guest_config gc;
	char err[128] = "";

	REQ(cvmbus_platform_create(&pc, &s->p, err, sizeof(err)) == 0);
	s->mem = cvmbus_platform_mem(s->p);
	cvmbus_trace_set_callback(cvmbus_platform_trace(s->p), on_trace, s);

	/* The host: its server behind a paravisor listens on 0x800074 for
	 * the relay and answers on the relay's inbound port. */
	cvmbus_server_glue_config_init(&hc, s->p, CVMBUS_SERVER_ROLE_HOST);
	REQ(hc.listener_count == 1 && hc.listeners[0].connection_id == 0x800074u);
	hc.relay_inbound_connection_id = CVMBUS_RELAY_INBOUND_CONNECTION_ID;
	REQ(cvmbus_server_glue_create(&hc, &s->host) == 0);
	REQ(cvmbus_echo_create(&ec, &s->host_echo) == 0);
	cvmbus_echo_offer_params(&op, HOST_ECHO_INSTANCE, false);
	REQ(cvmbus_server_glue_add_device(s->host, &op, cvmbus_echo_vsp_ops(), s->host_echo,
					  &s->host_relid) == 0);
	REQ(cvmbus_server_glue_start(s->host) == 0);

	/* The paravisor: its own echo first, so it takes relid 1. */
	memset(&vc, 0, sizeof(vc));
	vc.platform = s->p;
	vc.confidential_vmbus = s->confidential;
	vc.relay = true;
	REQ(cvmbus_paravisor_create(&vc, &s->pv) == 0);
	REQ(cvmbus_echo_create(&ec, &s->pv_echo) == 0);
	cvmbus_echo_offer_params(&op, PV_ECHO_INSTANCE, false);
	REQ(cvmbus_paravisor_add_device(s->pv, &op, cvmbus_echo_vsp_ops(), s->pv_echo,
					&s->pv_relid) == 0);
	s->pv_conn = cvmbus_server_glue_offer_connection_id(cvmbus_paravisor_server(s->pv),
							    s->pv_relid);
	REQ(s->pv_conn != 0);
	REQ(cvmbus_paravisor_start(s->pv) == 0);

	memset(&gc, 0, sizeof(gc));
	gc.platform = s->p;
	gc.detect = CVMBUS_CLIENT_DETECT_CPUID;
	REQ(cvmbus_guest_create(&gc, &s->g) == 0);
	REQ(cvmbus_guest_start(s->g) == 0);
	REQ(cvmbus_guest_connect(s->g) == 0);
	return 0;
}

static void stack_down(struct scn *s)
{
	/* Each party's stop joins its threads: the guest's, then the
	 * paravisor's (its server, then the relay's unload), then the
	 * host's; the platform's vCPU and port threads last. */
	if (s->g)
		cvmbus_guest_stop(s->g);
	if (s->pv)
		cvmbus_paravisor_stop(s->pv);
	if (s->host)
		cvmbus_server_glue_stop(s->host);
	if (s->p)
		cvmbus_trace_set_callback(cvmbus_platform_trace(s->p), NULL, NULL);
	/* The servers before the guest: a stopped glue still pins the pages
	 * of the GPADLs it holds, and the guest's destroy makes its ring
	 * pages private again, which a pinned page refuses. */
	cvmbus_paravisor_destroy(s->pv);
	cvmbus_server_glue_destroy(s->host);
	cvmbus_guest_destroy(s->g);
	if (s->p)
		cvmbus_platform_destroy(s->p);
	cvmbus_echo_destroy(s->pv_echo);
	cvmbus_echo_destroy(s->host_echo);
}

/* ---- guest helpers ------------------------------------------------------------------ */

static int find_offers(struct scn *s, struct cvmbus_guest_offer *pv_offer,
		       struct cvmbus_guest_offer *relayed, size_t *count)
{
	struct cvmbus_guest_offer offers[8];
	struct cvmbus_relay_channel rc[4];
	size_t n = 0;

	REQ(cvmbus_guest_offers(s->g, offers, 8, &n) == 0);
	*count = n;
	REQ(cvmbus_paravisor_relay_channels(s->pv, rc, 4) == 1);
	REQ(rc[0].host_relid == s->host_relid && rc[0].guest_relid != 0);
	memset(pv_offer, 0, sizeof(*pv_offer));
	memset(relayed, 0, sizeof(*relayed));
	for (size_t i = 0; i < n && i < 8; i++) {
		if (offers[i].relid == s->pv_relid)
			*pv_offer = offers[i];
		else if (offers[i].relid == rc[0].guest_relid)
			*relayed = offers[i];
	}
	REQ(pv_offer->relid == s->pv_relid);
	REQ(relayed->relid == rc[0].guest_relid);
	return 0;
}

static int open_echo(struct scn *s, uint32_t relid, struct cvmbus_channel **ch,
		     struct cvmbus_echo_vsc *vsc)
{
	struct cvmbus_guest_open_params op = {
		.send_bytes = RING_BYTES,
		.recv_bytes = RING_BYTES,
		.target_vp = 0,
	};

	REQ(cvmbus_guest_open(s->g, relid, &op, ch) == 0 && *ch);
	cvmbus_echo_vsc_init(vsc, *ch);
	return 0;
}

static int echo_once(struct scn *s, struct cvmbus_echo_vsc *vsc, const uint8_t *data,
		     size_t len)
{
	uint8_t reply[256];
	size_t rlen = 0;
	int rc = cvmbus_echo_call(vsc, data, len, reply, sizeof(reply), &rlen, ECHO_TMO);

	if (rc)
		return fail_at(s, __LINE__, "echo call failed (%d)", rc);
	REQ(rlen == ((len + 7) & ~(size_t)7));
	REQ(memcmp(reply, data, len) == 0);
	return 0;
}

/* The ring pages' state now, as the memory model holds it. */
static int ring_state(struct scn *s, uint32_t relid, int want)
{
	struct cvmbus_guest_channel_report rep;

	REQ(cvmbus_guest_channel_report(s->g, relid, &rep) == 0 && rep.open);
	for (uint64_t off = 0; off < (uint64_t)rep.send_bytes + rep.recv_bytes; off += 4096)
		REQ(cvmbus_mem_page_state(s->mem, rep.ring_gpa + off) == want);
	REQ(rep.ring_private == (want == CVMBUS_MEM_PAGE_PRIVATE));
	return 0;
}

/* Wait (executor time) until cond() holds. */
static int wait_for(struct scn *s, bool (*cond)(struct scn *, uint32_t), uint32_t arg, int line)
{
	uint64_t deadline = cvmbus_exec_deadline(s->exec, WAIT_NS);

	while (!cond(s, arg)) {
		if (cvmbus_exec_now_ns(s->exec) >= deadline)
			return fail_at(s, line, "condition never held");
		cvmbus_exec_sleep_ns(s->exec, 2 * MS);
	}
	return 0;
}

/* Both devices have counted their echoes: the paravisor's at least
 * want >> 16, the host's at least want & 0xFFFF. A device counts an echo
 * after sending it (and signalling the guest), so once the count is there
 * the device is back to waiting: nothing writes host-visible memory while
 * the test scans it. */
static bool echoes_done(struct scn *s, uint32_t want)
{
	struct cvmbus_echo_stats a, b;

	cvmbus_echo_get_stats(s->pv_echo, &a);
	cvmbus_echo_get_stats(s->host_echo, &b);
	return a.echoes >= (want >> 16) && b.echoes >= (want & 0xFFFFu);
}
#define ECHOES(pv, host) (((uint32_t)(pv) << 16) | (uint32_t)(host))

/* ---- scenario 1, 2, 3 (and 5) ---------------------------------------------------------- */

static int main_full(void *arg)
{
	struct scn *s = arg;
	struct cvmbus_guest_offer pvo, rlo;
	struct cvmbus_guest_info gi;
	struct cvmbus_relay_info ri;
	struct cvmbus_echo_stats pes, hes;
	struct cvmbus_channel *pch = NULL, *rch = NULL;
	struct cvmbus_echo_vsc pvsc, rvsc;
	uint8_t secret[SECRET_LEN], secret2[SECRET_LEN];
	static const uint8_t hello[] = "hello through the paravisor";
	size_t n = 0, hits = 0;
	uint16_t want_flags = s->confidential ? CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER : 0;

	if (stack_up(s))
		goto out;

	/* Negotiation: 6.0, confidential exactly when the CPUID bit says. */
	cvmbus_guest_get_info(s->g, &gi);
	CHECK(gi.version == CVMBUS_VERSION_6_0);
	CHECK(gi.confidential == s->confidential);
	CHECK(!!(gi.features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS) == s->confidential);
	cvmbus_paravisor_relay_info(s->pv, &ri);
	CHECK(ri.connected && ri.host_version == CVMBUS_VERSION_6_0);
	CHECK(ri.host_features & CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS);
	CHECK(ri.channels == 1);

	/* Two offers, relids from the paravisor: its echo took 1, the relayed
	 * one the next (the host's own relid for it is 1 as well). */
	if (find_offers(s, &pvo, &rlo, &n))
		goto out;
	CHECK(n == 2);
	CHECK(pvo.relid != rlo.relid);
	CHECK(pvo.relid == 1 && rlo.relid == 2 && s->host_relid == 1);
	CHECK((pvo.flags & (CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
			    CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY)) == want_flags);
	CHECK(pvo.confidential_ring == s->confidential);
	CHECK(!(rlo.flags & (CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
			     CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY |
			     CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY)));
	CHECK(!rlo.confidential_ring && !rlo.confidential_external);
	atomic_store(&s->relayed_conn, rlo.connection_id);

	/* Both open; an echo on each. */
	if (open_echo(s, pvo.relid, &pch, &pvsc) || open_echo(s, rlo.relid, &rch, &rvsc))
		goto out;
	if (echo_once(s, &pvsc, hello, sizeof(hello)) || echo_once(s, &rvsc, hello, sizeof(hello)))
		goto out;
	if (ring_state(s, pvo.relid,
		       s->confidential ? CVMBUS_MEM_PAGE_PRIVATE : CVMBUS_MEM_PAGE_SHARED) ||
	    ring_state(s, rlo.relid, CVMBUS_MEM_PAGE_SHARED))
		goto out;

	/* GPADL ids pass through unchanged: the host holds the guest's ring
	 * GPADL under the guest's own id, over the guest's own pages; a
	 * buffer GPADL of the relayed channel goes the same way, and its
	 * teardown too. */
	{
		struct cvmbus_server_glue_channel_info ci;
		struct cvmbus_server_glue_gpadl_info hg;
		struct cvmbus_guest_channel_report rep;
		uint32_t handle = 0;
		uint64_t gpa = 0;

		CHECK(cvmbus_server_glue_channel_info(cvmbus_paravisor_server(s->pv), rlo.relid,
						      &ci) == 0);
		CHECK(cvmbus_guest_channel_report(s->g, rlo.relid, &rep) == 0);
		CHECK(cvmbus_server_glue_gpadl_info(s->host, CVMBUS_SERVER_GLUE_CLIENT_RELAY,
						    ci.ring_gpadl_id, &hg) == 0);
		CHECK(hg.first_gpa == rep.ring_gpa && hg.npages == 2 * RING_BYTES / 4096);
		CHECK(hg.ring && hg.shared_pages == hg.npages && hg.private_pages == 0);
		CHECK(cvmbus_guest_gpadl_create(s->g, rlo.relid, 2 * 4096, &handle, &gpa) == 0);
		CHECK(cvmbus_server_glue_gpadl_info(s->host, CVMBUS_SERVER_GLUE_CLIENT_RELAY, handle,
						    &hg) == 0);
		CHECK(hg.first_gpa == gpa && hg.npages == 2 && !hg.ring);
		CHECK(cvmbus_guest_gpadl_teardown(s->g, rlo.relid, handle) == 0);
		CHECK(cvmbus_server_glue_gpadl_info(s->host, CVMBUS_SERVER_GLUE_CLIENT_RELAY, handle,
						    &hg) == -ENOENT);
	}

	/* The secret through the paravisor's channel first. */
	if (wait_for(s, echoes_done, ECHOES(1, 1), __LINE__))
		goto out;
	make_secret(s->seed, secret);
	CHECK(scan_host(s, secret, &hits) == 0 && hits == 0); /* not there before */
	if (echo_once(s, &pvsc, secret, SECRET_LEN) ||
	    wait_for(s, echoes_done, ECHOES(2, 1), __LINE__))
		goto out;
	CHECK(scan_host(s, secret, &hits) == 0);
	if (s->confidential)
		CHECK(hits == 0);
	else
		CHECK(hits > 0);
	/* Then through the relayed channel: found, which proves the scan. */
	if (s->confidential) {
		memcpy(secret2, secret, SECRET_LEN);
	} else {
		make_secret(s->seed + 1000, secret2);
		CHECK(scan_host(s, secret2, &hits) == 0 && hits == 0);
	}
	if (echo_once(s, &rvsc, secret2, SECRET_LEN) ||
	    wait_for(s, echoes_done, ECHOES(2, 2), __LINE__))
		goto out;
	CHECK(scan_host(s, secret2, &hits) == 0 && hits > 0);

	/* Each device saw its own channel's packets, and only those. */
	cvmbus_echo_get_stats(s->pv_echo, &pes);
	cvmbus_echo_get_stats(s->host_echo, &hes);
	CHECK(pes.echoes == 2 && pes.packets == 2 && pes.opens == 1);
	CHECK(hes.echoes == 2 && hes.packets == 2 && hes.opens == 1);

	/* Signals: the paravisor took the confidential channel's; on a
	 * Confidential VMBus none of them reached the host or went on a path
	 * it sees. The relayed channel's went to the host, directly. */
	CHECK(atomic_load(&s->pv_conn_to_pv) > 0);
	if (s->confidential) {
		CHECK(atomic_load(&s->pv_conn_to_host) == 0);
		CHECK(atomic_load(&s->pv_conn_visible) == 0);
	}
	CHECK(atomic_load(&s->relayed_conn_to_host) > 0);
	{
		struct cvmbus_server_glue_channel_info ci;

		CHECK(cvmbus_server_glue_channel_info(s->host, s->host_relid, &ci) == 0);
		CHECK(ci.open && ci.connection_id == rlo.connection_id &&
		      ci.event_flag == rlo.relid && ci.events > 0 && ci.signals > 0);
		CHECK(ci.synic == CVMBUS_SYNIC_HYPERVISOR);
		CHECK(cvmbus_server_glue_channel_info(cvmbus_paravisor_server(s->pv), rlo.relid,
						      &ci) == 0);
		CHECK(ci.relayed && ci.open && ci.events == 0 && ci.signals == 0);
	}

	/* Close both; the relayed close and the ring's teardown reach the
	 * host, and the host's echo closed its channel. */
	CHECK(cvmbus_guest_close(s->g, pvo.relid) == 0);
	CHECK(cvmbus_guest_close(s->g, rlo.relid) == 0);
	cvmbus_echo_get_stats(s->host_echo, &hes);
	CHECK(hes.closes == 1);
	cvmbus_paravisor_relay_info(s->pv, &ri);
	CHECK(ri.opens == 1 && ri.closes == 1 && ri.gpadls == 2 && ri.refused == 0);
	/* The guest unloads; the relay stays connected to the host. */
	CHECK(cvmbus_guest_unload(s->g) == 0);
	cvmbus_paravisor_relay_info(s->pv, &ri);
	CHECK(ri.connected && ri.channels == 1);
	{
		struct cvmbus_client_stats cs;

		CHECK(cvmbus_guest_client_stats(s->g, &cs) == 0 && cs.pages_leaked == 0);
	}
out:
	stack_down(s);
	return 0;
}

/* ---- scenario 4: a hostile host -------------------------------------------------------- */

static bool guest_rescinded(struct scn *s, uint32_t relid)
{
	struct cvmbus_guest_offer offers[8];
	size_t n = 0;

	if (cvmbus_guest_offers(s->g, offers, 8, &n))
		return false;
	for (size_t i = 0; i < n && i < 8; i++)
		if (offers[i].relid == relid)
			return offers[i].rescinded;
	return false;
}

static bool relay_has_none(struct scn *s, uint32_t unused)
{
	(void)unused;
	return cvmbus_paravisor_relay_channels(s->pv, NULL, 0) == 0;
}

static bool guest_offer_count(struct scn *s, uint32_t want)
{
	size_t n = 0;

	return cvmbus_guest_offers(s->g, NULL, 0, &n) == 0 && n == want;
}

static bool relay_dropped(struct scn *s, uint32_t want)
{
	struct cvmbus_relay_info ri;

	cvmbus_paravisor_relay_info(s->pv, &ri);
	return ri.dropped >= want;
}

/* An OfferChannel (1) by hand: if_type @8, instance @24, flags @56, relid
 * @184, monitor id 0xFF @188, connection id @192. */
static void forged_offer(uint8_t b[196], uint32_t relid, uint16_t flags, uint8_t instance)
{
	memset(b, 0, 196);
	b[0] = 1;
	memset(b + 8, 0x77, 16);
	memset(b + 24, instance, 16);
	b[56] = (uint8_t)flags;
	b[57] = (uint8_t)(flags >> 8);
	b[184] = (uint8_t)relid;
	b[188] = 0xFF;
	b[192] = (uint8_t)(0x2000u + relid);
	b[193] = (uint8_t)((0x2000u + relid) >> 8);
}

static int main_hostile(void *arg)
{
	struct scn *s = arg;
	struct cvmbus_guest_offer pvo, rlo, offers[8];
	struct cvmbus_relay_channel rc[4];
	struct cvmbus_relay_info ri;
	struct cvmbus_channel *rch = NULL;
	struct cvmbus_echo_vsc rvsc;
	static const uint8_t hello[] = "relayed";
	uint8_t b[196];
	uint16_t st = 0xFFFF;
	size_t n = 0;

	if (stack_up(s))
		goto out;
	if (find_offers(s, &pvo, &rlo, &n))
		goto out;
	if (open_echo(s, rlo.relid, &rch, &rvsc) || echo_once(s, &rvsc, hello, sizeof(hello)))
		goto out;

	/* The host rescinds its echo: the guest sees it on the relayed relid
	 * (its channel closed under it), releases it, and the relay releases
	 * the host's relid in turn. */
	CHECK(cvmbus_server_glue_rescind(s->host, s->host_relid) == 0);
	if (wait_for(s, guest_rescinded, rlo.relid, __LINE__))
		goto out;
	CHECK(!guest_rescinded(s, pvo.relid));
	CHECK(cvmbus_guest_release(s->g, rlo.relid) == 0);
	if (wait_for(s, relay_has_none, 0, __LINE__))
		goto out;
	cvmbus_paravisor_relay_info(s->pv, &ri);
	CHECK(ri.rescinds == 1 && ri.channels == 0);
	{
		/* The guest got its ring pages back: nothing on either side
		 * still held them when it made them private. */
		struct cvmbus_client_stats cs;

		CHECK(cvmbus_guest_client_stats(s->g, &cs) == 0 && cs.pages_leaked == 0);
	}
	CHECK(cvmbus_server_glue_chan_state(s->host, s->host_relid, NULL) ==
	      CVMBUS_SERVER_CHAN_NONE);
	if (wait_for(s, guest_offer_count, 1, __LINE__))
		goto out;

	/* An offer with both confidential bits (and pinning), straight from
	 * the host to the relay's port: re-offered without them. */
	forged_offer(b, 77, CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
				    CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY |
				    CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY, 0x31);
	CHECK(cvmbus_hv_post_message_from(s->p, CVMBUS_MEM_PARTY_HOST, 0,
					  CVMBUS_RELAY_INBOUND_CONNECTION_ID, HVMSG_VMBUS, b,
					  sizeof(b), &st) == 0 && st == HV_STATUS_SUCCESS);
	if (wait_for(s, guest_offer_count, 2, __LINE__))
		goto out;
	CHECK(cvmbus_guest_offers(s->g, offers, 8, &n) == 0 && n == 2);
	for (size_t i = 0; i < n; i++) {
		if (offers[i].relid == pvo.relid)
			continue;
		CHECK(!(offers[i].flags & (CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
					   CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY |
					   CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY)));
		CHECK(!offers[i].confidential_ring && !offers[i].confidential_external);
		CHECK(offers[i].if_instance.data1 == 0x31313131u);
	}
	CHECK(cvmbus_paravisor_relay_channels(s->pv, rc, 4) == 1);
	CHECK(rc[0].host_relid == 77 && rc[0].flags == 0);
	cvmbus_paravisor_relay_info(s->pv, &ri);
	CHECK(ri.flags_cleared == 1 && ri.channels == 1);

	/* The guest forges a host offer on the relay's port through its
	 * GHCB / tdcall: dropped, never offered. */
	forged_offer(b, 78, 0, 0x32);
	CHECK(cvmbus_hv_post_message(s->p, 0,
				     cvmbus_platform_hypercall_path(s->p, CVMBUS_SYNIC_HYPERVISOR),
				     CVMBUS_RELAY_INBOUND_CONNECTION_ID, HVMSG_VMBUS, b, sizeof(b),
				     &st) == 0);
	if (wait_for(s, relay_dropped, 1, __LINE__))
		goto out;
	cvmbus_exec_sleep_ns(s->exec, 50 * MS);
	CHECK(cvmbus_paravisor_relay_channels(s->pv, NULL, 0) == 1);
	CHECK(cvmbus_guest_offers(s->g, NULL, 0, &n) == 0 && n == 2);
out:
	stack_down(s);
	return 0;
}

/* ---- stopping with a relayed channel open ---------------------------------------------- */

static bool host_echo_closed(struct scn *s, uint32_t want)
{
	struct cvmbus_echo_stats st;

	cvmbus_echo_get_stats(s->host_echo, &st);
	return st.closes >= want;
}

/* The paravisor stops while the guest still has the relayed channel open:
 * the relay's unload makes the host close it (its device thread joined)
 * and forget the relay's GPADLs. */
static int main_stop_open(void *arg)
{
	struct scn *s = arg;
	struct cvmbus_guest_offer pvo, rlo;
	struct cvmbus_server_connection conn;
	struct cvmbus_relay_info ri;
	struct cvmbus_server_glue_stats hs;
	struct cvmbus_channel *rch = NULL;
	struct cvmbus_echo_vsc rvsc;
	static const uint8_t hello[] = "still open";
	size_t n = 0;

	if (stack_up(s))
		goto out;
	if (find_offers(s, &pvo, &rlo, &n))
		goto out;
	if (open_echo(s, rlo.relid, &rch, &rvsc) || echo_once(s, &rvsc, hello, sizeof(hello)))
		goto out;
	cvmbus_paravisor_stop(s->pv);
	if (wait_for(s, host_echo_closed, 1, __LINE__))
		goto out;
	cvmbus_paravisor_relay_info(s->pv, &ri);
	CHECK(!ri.connected);
	CHECK(cvmbus_server_glue_connection(s->host, CVMBUS_SERVER_GLUE_CLIENT_RELAY, &conn) != 0 ||
	      conn.state == CVMBUS_SERVER_CONN_DISCONNECTED);
	cvmbus_server_glue_get_stats(s->host, &hs);
	CHECK(hs.closes == 1);
	CHECK(cvmbus_server_glue_chan_state(s->host, s->host_relid, NULL) ==
	      CVMBUS_SERVER_CHAN_CLOSED);
out:
	stack_down(s);
	return 0;
}

/* ---- a host the relay must refuse ------------------------------------------------------- */

/* A host that grants no signal parameters (or no host at all): the
 * paravisor does not start, and everything it started is joined again. */
static int main_bad_host(void *arg)
{
	struct scn *s = arg;
	struct cvmbus_platform_config pc = {
		.exec = s->exec,
		.isolation = s->iso,
		.paravisor = true,
		.confidential_vmbus = s->confidential,
		.vtl0_bytes = 1u << 20,
	};
	struct cvmbus_echo_config ec = { .exec = s->exec };
	struct cvmbus_server_glue_config hc;
	struct cvmbus_paravisor_config vc;
	struct cvmbus_relay_info ri;
	struct cvmbus_offer_params op;
	int rc;

	CHECK(cvmbus_platform_create(&pc, &s->p, NULL, 0) == 0);
	memset(&vc, 0, sizeof(vc));
	vc.platform = s->p;
	vc.confidential_vmbus = s->confidential;
	vc.relay = true;
	vc.relay_timeout_ns = 200 * MS;

	/* Nobody listens on 0x800074: every InitiateContact bounces. */
	CHECK(cvmbus_paravisor_create(&vc, &s->pv) == 0);
	rc = cvmbus_paravisor_start(s->pv);
	CHECK(rc == -EDOM);
	CHECK(cvmbus_paravisor_start(s->pv) == -ESHUTDOWN);
	cvmbus_paravisor_destroy(s->pv);
	s->pv = NULL;

	/* A host without guest-specified signal parameters. */
	cvmbus_server_glue_config_init(&hc, s->p, CVMBUS_SERVER_ROLE_HOST);
	hc.relay_inbound_connection_id = CVMBUS_RELAY_INBOUND_CONNECTION_ID;
	hc.server.features &= ~CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS;
	CHECK(cvmbus_server_glue_create(&hc, &s->host) == 0);
	CHECK(cvmbus_echo_create(&ec, &s->host_echo) == 0);
	cvmbus_echo_offer_params(&op, HOST_ECHO_INSTANCE, false);
	CHECK(cvmbus_server_glue_add_device(s->host, &op, cvmbus_echo_vsp_ops(), s->host_echo,
					    &s->host_relid) == 0);
	CHECK(cvmbus_server_glue_start(s->host) == 0);
	CHECK(cvmbus_paravisor_create(&vc, &s->pv) == 0);
	CHECK(cvmbus_paravisor_start(s->pv) == -EPROTONOSUPPORT);
	cvmbus_paravisor_relay_info(s->pv, &ri);
	CHECK(!ri.connected && ri.channels == 0);

	/* Misconfigurations. */
	vc.confidential_vmbus = !s->confidential; /* contradicts the CPUID bit */
	{
		struct cvmbus_paravisor *bad = NULL;

		CHECK(cvmbus_paravisor_create(&vc, &bad) == -EINVAL && !bad);
		CHECK(cvmbus_paravisor_create(NULL, &bad) == -EINVAL);
	}
out:
	stack_down(s);
	return 0;
}

/* ---- cmocka --------------------------------------------------------------------------- */

/* Runs fn as the main thread of a fresh executor; with det, *hash and
 * *steps (if not NULL) get the schedule's fingerprint. */
static void run_ex(struct scn *s, cvmbus_thread_fn fn, bool det, uint64_t *hash,
		   uint64_t *steps)
{
	int rc;

	if (!getenv("PV_VERBOSE"))
		cvmbus_log_set_sink(quiet_log, NULL);
	if (det) {
		struct cvmbus_exec_det_opts o = { .seed = s->seed, .deadline_ns = 600 * SEC };

		assert_int_equal(cvmbus_exec_det_create(&s->exec, &o), 0);
	} else {
		assert_int_equal(cvmbus_exec_native_create(&s->exec), 0);
	}
	rc = cvmbus_exec_run(s->exec, fn, s, NULL);
	if (rc)
		fprintf(stderr, "run failed (%d): %s\n", rc,
			det ? cvmbus_exec_det_report(s->exec) : "");
	if (det && hash)
		*hash = cvmbus_exec_det_hash(s->exec);
	if (det && steps)
		*steps = cvmbus_exec_det_steps(s->exec);
	cvmbus_exec_destroy(s->exec);
	cvmbus_log_set_sink(NULL, NULL);
	if (s->line)
		fail_msg("line %d: %s", s->line, s->why);
	/* 0: every thread of the run exited. */
	assert_int_equal(rc, 0);
}

static void run(struct scn *s, cvmbus_thread_fn fn, bool det)
{
	run_ex(s, fn, det, NULL, NULL);
}

static void test_snp_confidential(void **state)
{
	struct scn s = { .iso = HV_ISOLATION_TYPE_SNP, .confidential = true, .seed = 1 };

	(void)state;
	run(&s, main_full, false);
}

static void test_snp_not_confidential(void **state)
{
	struct scn s = { .iso = HV_ISOLATION_TYPE_SNP, .confidential = false, .seed = 2 };

	(void)state;
	run(&s, main_full, false);
}

static void test_tdx_confidential(void **state)
{
	struct scn s = { .iso = HV_ISOLATION_TYPE_TDX, .confidential = true, .seed = 3 };

	(void)state;
	run(&s, main_full, false);
}

static void test_hostile_host(void **state)
{
	struct scn s = { .iso = HV_ISOLATION_TYPE_SNP, .confidential = true, .seed = 4 };

	(void)state;
	run(&s, main_hostile, false);
}

/* Scenario 1 under the deterministic executor: each seed's run must end
 * with every thread exited (cvmbus_exec_run returns 0 only then). Seeds
 * give different schedules, and a seed replays its own exactly.
 * CVMBUS_EXEC_SEED=n runs that seed alone. */
static void test_stop_with_relayed_open(void **state)
{
	struct scn s = { .iso = HV_ISOLATION_TYPE_SNP, .confidential = true, .seed = 5 };

	(void)state;
	run(&s, main_stop_open, false);
}

static void test_bad_host(void **state)
{
	struct scn s = { .iso = HV_ISOLATION_TYPE_SNP, .confidential = true, .seed = 6 };

	(void)state;
	run(&s, main_bad_host, false);
}

static void test_det_seeds(void **state)
{
	uint64_t one = cvmbus_exec_seed_from_env(UINT64_MAX);
	uint64_t hash[10] = { 0 }, steps = 0, again = 0;
	bool differ = false;

	(void)state;
	for (uint64_t seed = 0; seed < 10; seed++) {
		struct scn s = { .iso = HV_ISOLATION_TYPE_SNP, .confidential = true };

		s.seed = one != UINT64_MAX ? one : seed;
		run_ex(&s, main_full, true, &hash[seed], &steps);
		if (getenv("PV_VERBOSE"))
			fprintf(stderr, "seed %llu: %llu steps, schedule 0x%016llx\n",
				(unsigned long long)s.seed, (unsigned long long)steps,
				(unsigned long long)hash[seed]);
		if (one != UINT64_MAX)
			return;
		if (seed && hash[seed] != hash[0])
			differ = true;
	}
	assert_true(differ);
	{
		struct scn s = { .iso = HV_ISOLATION_TYPE_SNP, .confidential = true, .seed = 3 };

		run_ex(&s, main_full, true, &again, NULL);
		assert_true(again == hash[3]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snp_confidential),
		cmocka_unit_test(test_snp_not_confidential),
		cmocka_unit_test(test_tdx_confidential),
		cmocka_unit_test(test_hostile_host),
		cmocka_unit_test(test_stop_with_relayed_open),
		cmocka_unit_test(test_bad_host),
		cmocka_unit_test(test_det_seeds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
