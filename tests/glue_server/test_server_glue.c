/* SPDX-License-Identifier: MIT */
/*
 * The server glue (src/server/server_glue*.c) on the real platform, with
 * the echo device behind it and a guest scripted here: every channel
 * message is built byte by byte from the layouts (docs/WIRE.md) and posted
 * with cvmbus_hv_post_message on the path the platform gives the guest
 * (hypercall page, GHCB, paravisor trap); replies are read from the guest's
 * SIMP page through the guest's view; ring packets go through a
 * cvmbus_channel (GUEST endpoint) over the guest's ring pages. Scenarios:
 * the host role without isolation and on SNP (private ring refused, private
 * GPA-direct buffer unreachable, rescind), the paravisor role on SNP with
 * Confidential VMBus (confidential offer bits, private ring accepted and a
 * shared one refused, replies in the paravisor SynIC's private page,
 * nothing of them in the host's view, private GPA-direct buffer read), the
 * paravisor role without isolation (proxied SINT, a fake relayed offer),
 * the host role behind a paravisor (a fake relay client on 0x800074,
 * OpenChannel2 with guest-visible signal parameters), and a seed sweep of
 * the first scenario under the deterministic executor.
 *
 * Each scenario is the main thread of an executor run; a failed check
 * records its line and unwinds, and the cmocka test asserts afterwards
 * (cmocka's asserts must run on the test's own thread).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/channel.h>
#include <cvmbus/echo.h>
#include <cvmbus/exec.h>
#include <cvmbus/hv.h>
#include <cvmbus/log.h>
#include <cvmbus/memory.h>
#include <cvmbus/platform.h>
#include <cvmbus/server_glue.h>

#define VP       0u
#define SINT2    VMBUS_MESSAGE_SINT
#define PAGE     4096u
#define WAIT_NS  (10ull * 1000000000ull)
#define POLL_NS  1000000ull
#define TMO      (5ull * 1000000000ull)
#define VECTOR   0x30u
#define FAILED   0xC0000001u
#define V50      0x00050000u
#define V60      0x00060000u
#define RELAY_IN 0x800075u

/* ---- fixture ------------------------------------------------------------- */

struct relay_box {
	struct cvmbus_mutex lock;
	struct cvmbus_cond cond;
	uint8_t msg[8][240];
	uint32_t len[8];
	unsigned int head, count;
};

struct fx {
	enum hv_isolation_type iso; /* host_main's isolation */
	unsigned int sint_depth;    /* 0: the platform's default */
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_mem *mem;
	struct cvmbus_server_glue *glue;
	struct cvmbus_echo *echo;
	uint64_t boundary;

	/* The guest's SynIC as it reads it. */
	enum cvmbus_path reg_path;  /* to the SynIC it programmed (EOM) */
	enum cvmbus_path post_path; /* its hypercalls */
	struct hv_message_page *simp;
	struct hv_event_flags_page *siefp;
	struct cvmbus_doorbell irq;
	bool irq_init;
	_Atomic(struct cvmbus_channel *) gch; /* ISR notifies it when set */
	_Atomic uint32_t watch_flag;
	_Atomic uint64_t flag_hits;
	uint32_t msg_conn; /* from VersionResponse */
	bool open2;        /* 6.0 with signal parameters: OpenChannel2 is required */

	/* The last message received. */
	uint8_t m[240];
	uint32_t mlen;

	/* The guest's channels (a reopen gets a fresh one: the ISR may still
	 * hold the old one, which lives until teardown). */
	struct cvmbus_channel chs[2];
	unsigned int nch;
	struct cvmbus_channel *ch;
	struct cvmbus_channel_ops ch_ops;
	uint32_t ch_conn;
	enum cvmbus_path sig_path;
	_Atomic uint32_t last_sig_status;

	/* A fake relay's inbound port (host-with-paravisor scenario). */
	struct relay_box box;
	bool box_init;

	int line;
	char why[240];
};

static int fail_at(struct fx *fx, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_at(struct fx *fx, int line, const char *fmt, ...)
{
	va_list ap;

	if (!fx->line) {
		fx->line = line;
		va_start(ap, fmt);
		vsnprintf(fx->why, sizeof(fx->why), fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* In helpers returning int, and in scenarios (which unwind to out:). */
#define REQ(c)                                                                    \
	do {                                                                      \
		if (!(c))                                                         \
			return fail_at(fx, __LINE__, "%s", #c);                   \
	} while (0)
#define CHECK(c)                                                                  \
	do {                                                                      \
		if (!(c)) {                                                       \
			fail_at(fx, __LINE__, "%s", #c);                          \
			goto out;                                                 \
		}                                                                 \
	} while (0)
#define TRY(e)                                                                    \
	do {                                                                      \
		if ((e) != 0) {                                                   \
			fail_at(fx, __LINE__, "%s", #e);                          \
			goto out;                                                 \
		}                                                                 \
	} while (0)

/* Little-endian fields of a message buffer. */
static void put16(uint8_t *b, size_t off, uint16_t v)
{
	b[off] = (uint8_t)v;
	b[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		b[off + i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *b, size_t off, uint64_t v)
{
	for (unsigned int i = 0; i < 8; i++)
		b[off + i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] | b[off + 1] << 8);
}

static uint32_t get32(const uint8_t *b, size_t off)
{
	uint32_t v = 0;

	for (unsigned int i = 0; i < 4; i++)
		v |= (uint32_t)b[off + i] << (8 * i);
	return v;
}

/* The echo interface GUID as it lies on the wire, written out by hand. */
static const uint8_t echo_if_bytes[16] = {
	0xd2, 0xc4, 0xa0, 0xe5, 0x3b, 0x7f, 0x1e, 0x4c,
	0x9a, 0x56, 0x3b, 0x1d, 0x0c, 0x8e, 0x2f, 0x41,
};

static uint64_t ref_fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* ---- the guest's interrupt handler --------------------------------------- */

static void fx_isr(void *ctx, struct cvmbus_platform *p, uint32_t vp,
		   enum cvmbus_synic_kind synic, uint32_t sint, uint32_t vector)
{
	struct fx *fx = ctx;
	struct cvmbus_channel *ch = atomic_load(&fx->gch);

	(void)p;
	(void)vp;
	(void)synic;
	(void)vector;
	/* Only when a channel is handed to the ISR does it consume the flag:
	 * raw checks read the flag themselves. */
	if (sint == SINT2 && ch &&
	    cvmbus_event_flag_test_and_clear(&fx->siefp->sint_flags[SINT2],
					     atomic_load(&fx->watch_flag))) {
		atomic_fetch_add(&fx->flag_hits, 1);
		cvmbus_channel_notify(ch);
	}
	cvmbus_doorbell_ring(&fx->irq, 1);
}

/* ---- platform and guest SynIC -------------------------------------------- */

static int fx_platform(struct fx *fx, enum hv_isolation_type iso, bool pv, bool cvmbus)
{
	struct cvmbus_platform_config cfg = {
		.exec = fx->exec,
		.arch = CVMBUS_ARCH_X86_64,
		.isolation = iso,
		.paravisor = pv,
		.confidential_vmbus = cvmbus,
		.vcpus = 1,
		.vtl0_bytes = 1u << 20,
		.vtl2_bytes = pv ? 256u << 10 : 0,
		.sint_queue_depth = fx->sint_depth,
	};

	cvmbus_doorbell_init(&fx->irq, fx->exec, "test-irq");
	fx->irq_init = true;
	REQ(cvmbus_platform_create(&cfg, &fx->p, NULL, 0) == 0);
	fx->mem = cvmbus_platform_mem(fx->p);
	fx->boundary = cvmbus_mem_shared_gpa_boundary(fx->mem);
	cvmbus_platform_set_isr(fx->p, fx_isr, fx);
	return 0;
}

/*
 * Program one SynIC the way the guest would: SIMP/SIEFP, SINT2 with a
 * vector and auto-EOI (plus the proxy bit if asked), SCONTROL. The
 * hypervisor's pages are shared ones the guest allocates; the paravisor's
 * are private. With `proxy` the guest reads the hypervisor's pages the
 * paravisor supplies, because that is where proxied messages land.
 */
static int guest_synic(struct fx *fx, enum cvmbus_synic_kind which, bool proxy)
{
	uint64_t gpa, simp_gpa, siefp_gpa;
	uint64_t sint = VECTOR | HV_SINT_AUTO_EOI | (proxy ? HV_SINT_PROXY : 0);

	fx->reg_path = cvmbus_platform_reg_path(fx->p, which);
	fx->post_path = cvmbus_platform_hypercall_path(fx->p, which);
	REQ(fx->reg_path != CVMBUS_PATH_NONE && fx->post_path != CVMBUS_PATH_NONE);
	if (which == CVMBUS_SYNIC_HYPERVISOR && cvmbus_platform_config(fx->p)->paravisor) {
		REQ(cvmbus_synic_supplied_pages(fx->p, VP, &simp_gpa, &siefp_gpa) == 0);
	} else {
		REQ(cvmbus_mem_alloc(fx->mem, CVMBUS_MEM_REGION_VTL0, 2, &gpa) == 0);
		if (which == CVMBUS_SYNIC_HYPERVISOR)
			REQ(cvmbus_platform_set_visibility(fx->p, CVMBUS_MEM_PARTY_GUEST, gpa, 2, true,
							   "synic") == 0);
		simp_gpa = gpa;
		siefp_gpa = gpa + PAGE;
	}
	REQ(cvmbus_reg_write(fx->p, VP, fx->reg_path, HV_X64_MSR_SIMP,
			     simp_gpa | HV_SYNIC_PAGE_ENABLE) == 0);
	REQ(cvmbus_reg_write(fx->p, VP, fx->reg_path, HV_X64_MSR_SIEFP,
			     siefp_gpa | HV_SYNIC_PAGE_ENABLE) == 0);
	REQ(cvmbus_reg_write(fx->p, VP, fx->reg_path, HV_X64_MSR_SINT0 + SINT2, sint) == 0);
	REQ(cvmbus_reg_write(fx->p, VP, fx->reg_path, HV_X64_MSR_SCONTROL, HV_SCONTROL_ENABLE) ==
	    0);
	if (proxy) {
		REQ(cvmbus_synic_supplied_pages(fx->p, VP, &simp_gpa, &siefp_gpa) == 0);
		REQ(cvmbus_mem_ptr(fx->mem, CVMBUS_MEM_VIEW_GUEST, simp_gpa, PAGE,
				   (void **)&fx->simp) == 0);
		REQ(cvmbus_mem_ptr(fx->mem, CVMBUS_MEM_VIEW_GUEST, siefp_gpa, PAGE,
				   (void **)&fx->siefp) == 0);
		return 0;
	}
	REQ(cvmbus_mem_ptr(fx->mem, CVMBUS_MEM_VIEW_GUEST, simp_gpa, PAGE, (void **)&fx->simp) == 0);
	REQ(cvmbus_mem_ptr(fx->mem, CVMBUS_MEM_VIEW_GUEST, siefp_gpa, PAGE, (void **)&fx->siefp) ==
	    0);
	return 0;
}

static int fx_glue(struct fx *fx, enum cvmbus_server_role role,
		   struct cvmbus_server_glue_config *override)
{
	struct cvmbus_server_glue_config cfg;
	struct cvmbus_echo_config ecfg = { .exec = fx->exec, .poll_ns = 50000000ull };

	if (override)
		cfg = *override;
	else
		cvmbus_server_glue_config_init(&cfg, fx->p, role);
	REQ(cvmbus_server_glue_create(&cfg, &fx->glue) == 0);
	REQ(cvmbus_echo_create(&ecfg, &fx->echo) == 0);
	REQ(cvmbus_server_glue_start(fx->glue) == 0);
	return 0;
}

static void fx_teardown(struct fx *fx)
{
	/* Devices first (their threads are joined), then the platform (its
	 * vCPU and port threads), then what they pointed at. */
	if (fx->glue)
		cvmbus_server_glue_stop(fx->glue);
	if (fx->p) {
		cvmbus_platform_set_isr(fx->p, NULL, NULL);
		cvmbus_platform_destroy(fx->p);
	}
	for (unsigned int i = 0; i < fx->nch; i++)
		cvmbus_channel_destroy(&fx->chs[i]);
	cvmbus_server_glue_destroy(fx->glue);
	cvmbus_echo_destroy(fx->echo);
	if (fx->irq_init)
		cvmbus_doorbell_destroy(&fx->irq);
	if (fx->box_init) {
		cvmbus_cond_destroy(&fx->box.cond);
		cvmbus_mutex_destroy(&fx->box.lock);
	}
}

/* ---- guest messages ------------------------------------------------------ */

static int post_on(struct fx *fx, enum cvmbus_path path, uint32_t conn, const uint8_t *b,
		   uint32_t len, uint16_t *status)
{
	REQ(cvmbus_hv_post_message(fx->p, VP, path, conn, HVMSG_VMBUS, b, len, status) == 0);
	return 0;
}

static int guest_post(struct fx *fx, uint32_t conn, const uint8_t *b, uint32_t len)
{
	uint16_t st = 0xffff;

	if (post_on(fx, fx->post_path, conn, b, len, &st))
		return -1;
	if (st != HV_STATUS_SUCCESS)
		return fail_at(fx, __LINE__, "post to 0x%x: status 0x%x", conn, st);
	return 0;
}

/* Take the next message from the guest's SIMP slot of SINT2, as the guest
 * does: copy, free the slot, EOM if another one waits. */
static int guest_recv(struct fx *fx, int line)
{
	struct hv_message_page *simp = fx->simp;
	uint64_t deadline = cvmbus_exec_deadline(fx->exec, WAIT_NS);
	struct hv_message copy;

	while (!cvmbus_simp_slot_read(&simp->sint_message[SINT2], &copy)) {
		if (cvmbus_exec_now_ns(fx->exec) >= deadline)
			return fail_at(fx, line, "no message arrived");
		(void)cvmbus_doorbell_wait(&fx->irq, 1, POLL_NS, NULL);
	}
	if (copy.header.message_type != HVMSG_VMBUS ||
	    copy.header.payload_size > HV_MESSAGE_PAYLOAD_SIZE)
		return fail_at(fx, __LINE__, "bad slot header");
	fx->mlen = copy.header.payload_size;
	memcpy(fx->m, copy.payload, sizeof(fx->m));
	if (cvmbus_simp_slot_release(&simp->sint_message[SINT2]))
		REQ(cvmbus_reg_write(fx->p, VP, fx->reg_path, HV_X64_MSR_EOM, 0) == 0);
	return 0;
}

static int expect_at(struct fx *fx, int line, uint32_t type, uint32_t len)
{
	if (guest_recv(fx, line))
		return -1;
	if (get32(fx->m, 0) != type || (len && fx->mlen != len))
		return fail_at(fx, line, "got type %u (%u bytes), wanted type %u (%u bytes)",
			       get32(fx->m, 0), fx->mlen, type, len);
	return 0;
}
#define EXPECT(type, len) expect_at(fx, __LINE__, (type), (len))

/* Nothing more arrives for a while (executor time). */
static int guest_quiet(struct fx *fx)
{
	struct hv_message copy;

	cvmbus_exec_sleep_ns(fx->exec, 20 * POLL_NS);
	if (cvmbus_simp_slot_read(&fx->simp->sint_message[SINT2], &copy))
		return fail_at(fx, __LINE__, "unexpected message type %u",
			       get32(copy.payload, 0));
	return 0;
}

/* InitiateContact (14): version @8, target vcpu @12, SINT @16, VTL @17,
 * feature flags @20, monitor pages @24/@32. Answer: VersionResponse (15),
 * 16 bytes, or 20 with the granted features @16 for an accepted 6.0. */
static int contact(struct fx *fx, uint32_t conn, uint32_t version, uint32_t features,
		   uint32_t *granted)
{
	uint8_t b[40] = { 0 };

	put32(b, 0, 14);
	put32(b, 8, version);
	put32(b, 12, VP);
	b[16] = SINT2;
	put32(b, 20, features);
	if (guest_post(fx, conn, b, sizeof(b)))
		return -1;
	if (EXPECT(15, version == V60 ? 20 : 16))
		return -1;
	REQ(fx->m[8] == 1); /* version supported */
	REQ(fx->m[9] == 0); /* connection state: successful */
	fx->msg_conn = get32(fx->m, 12);
	fx->open2 = version == V60 && (get32(fx->m, 16) & 0x3);
	if (granted)
		*granted = version == V60 ? get32(fx->m, 16) : 0;
	return 0;
}

struct offer {
	uint32_t relid;
	uint32_t conn;
	uint16_t flags;
	uint8_t if_type[16];
	uint8_t instance[16];
};

/* RequestOffers (3) -> n x OfferChannel (1, 196 bytes) + AllOffersDelivered
 * (4, 8 bytes). */
static int request_offers(struct fx *fx, unsigned int n, struct offer *out)
{
	uint8_t b[8] = { 0 };

	put32(b, 0, 3);
	if (guest_post(fx, fx->msg_conn, b, sizeof(b)))
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		if (EXPECT(1, 196))
			return -1;
		memcpy(out[i].if_type, fx->m + 8, 16);
		memcpy(out[i].instance, fx->m + 24, 16);
		out[i].flags = get16(fx->m, 56);
		out[i].relid = get32(fx->m, 184);
		out[i].conn = get32(fx->m, 192);
	}
	return EXPECT(4, 8);
}

/* GpadlHeader (8): relid @8, id @12, range_buflen @16, rangecount @18, then
 * one range {byte_count @20, byte_offset @24} and its PFNs from @28.
 * Answer: GpadlCreated (10, 20 bytes): relid @8, id @12, status @16. */
static int gpadl(struct fx *fx, uint32_t relid, uint32_t id, uint64_t gpa, uint32_t pages,
		 uint32_t *status)
{
	uint8_t b[240] = { 0 };

	REQ(pages >= 1 && pages <= 26);
	put32(b, 0, 8);
	put32(b, 8, relid);
	put32(b, 12, id);
	put16(b, 16, (uint16_t)(8 + 8 * pages));
	put16(b, 18, 1);
	put32(b, 20, pages * PAGE);
	put32(b, 24, 0);
	for (uint32_t i = 0; i < pages; i++)
		put64(b, 28 + 8 * i, (gpa / PAGE) + i);
	if (guest_post(fx, fx->msg_conn, b, 28 + 8 * pages))
		return -1;
	if (EXPECT(10, 20))
		return -1;
	REQ(get32(fx->m, 8) == relid);
	REQ(get32(fx->m, 12) == id);
	*status = get32(fx->m, 16);
	return 0;
}

/* OpenChannel (5, 148 bytes): relid @8, open id @12, ring GPADL @16,
 * target vp @20, downstream page offset @24, user data @28; OpenChannel2
 * (156 bytes, required once 6.0 granted signal parameters) adds the
 * connection id @148 and event flag @152, here the offer's own. Answer:
 * OpenResult (6, 20 bytes): relid @8, open id @12, status @16. */
static int open_channel(struct fx *fx, uint32_t relid, uint32_t openid, uint32_t ring_gpadl,
			uint32_t ds, uint32_t *status)
{
	uint8_t b[156] = { 0 };
	uint32_t len = fx->open2 ? 156 : 148;

	put32(b, 0, 5);
	put32(b, 8, relid);
	put32(b, 12, openid);
	put32(b, 16, ring_gpadl);
	put32(b, 20, VP);
	put32(b, 24, ds);
	memset(b + 28, 0x11, 120);
	put32(b, 148, 0x2000u + relid);
	put16(b, 152, (uint16_t)relid);
	if (guest_post(fx, fx->msg_conn, b, len))
		return -1;
	if (EXPECT(6, 20))
		return -1;
	REQ(get32(fx->m, 8) == relid);
	REQ(get32(fx->m, 12) == openid);
	*status = get32(fx->m, 16);
	return 0;
}

static int relid_msg(struct fx *fx, uint32_t type, uint32_t relid)
{
	uint8_t b[12] = { 0 };

	put32(b, 0, type);
	put32(b, 8, relid);
	return guest_post(fx, fx->msg_conn, b, sizeof(b));
}

/* GpadlTeardown (11, 16 bytes): relid @8, id @12 -> GpadlTorndown (12,
 * 12 bytes): id @8. */
static int gpadl_teardown(struct fx *fx, uint32_t relid, uint32_t id)
{
	uint8_t b[16] = { 0 };

	put32(b, 0, 11);
	put32(b, 8, relid);
	put32(b, 12, id);
	if (guest_post(fx, fx->msg_conn, b, sizeof(b)))
		return -1;
	if (EXPECT(12, 12))
		return -1;
	REQ(get32(fx->m, 8) == id);
	return 0;
}

/* Unload (16) -> UnloadResponse (17), both bare headers. */
static int unload(struct fx *fx)
{
	uint8_t b[8] = { 0 };

	put32(b, 0, 16);
	if (guest_post(fx, fx->msg_conn, b, sizeof(b)))
		return -1;
	return EXPECT(17, 8);
}

static int wait_chan_state(struct fx *fx, uint32_t relid, enum cvmbus_server_chan_state want)
{
	uint64_t deadline = cvmbus_exec_deadline(fx->exec, WAIT_NS);

	while (cvmbus_server_glue_chan_state(fx->glue, relid, NULL) != want) {
		if (cvmbus_exec_now_ns(fx->exec) >= deadline)
			return fail_at(fx, __LINE__, "relid %u never reached %s", relid,
				       cvmbus_server_chan_state_name(want));
		cvmbus_exec_sleep_ns(fx->exec, POLL_NS);
	}
	return 0;
}

/* ---- guest memory and channel -------------------------------------------- */

struct gbuf {
	uint64_t gpa;
	uint32_t pages;
	uint8_t *ptr; /* the guest's view */
};

static int guest_alloc(struct fx *fx, uint32_t pages, bool shared, struct gbuf *g)
{
	REQ(cvmbus_mem_alloc(fx->mem, CVMBUS_MEM_REGION_VTL0, pages, &g->gpa) == 0);
	if (shared)
		REQ(cvmbus_platform_set_visibility(fx->p, CVMBUS_MEM_PARTY_GUEST, g->gpa, pages, true,
						   "test") == 0);
	g->pages = pages;
	REQ(cvmbus_mem_ptr(fx->mem, CVMBUS_MEM_VIEW_GUEST, g->gpa, (size_t)pages * PAGE,
			   (void **)&g->ptr) == 0);
	return 0;
}

static void guest_signal(void *ctx)
{
	struct fx *fx = ctx;
	uint16_t st = 0xffff;

	(void)cvmbus_hv_signal_event(fx->p, VP, fx->sig_path, fx->ch_conn, 0, &st);
	atomic_store(&fx->last_sig_status, st);
}

/* The guest formats its ring before it opens the channel (the server then
 * attaches), and signals the offer's connection id on its hypercall path. */
static int guest_channel(struct fx *fx, const struct gbuf *ring, uint32_t ds, uint32_t conn)
{
	struct cvmbus_channel_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	fx->ch_ops.signal = guest_signal;
	fx->ch_conn = conn;
	fx->sig_path = fx->post_path;
	cfg.exec = fx->exec;
	cfg.endpoint = CVMBUS_RING_ENDPOINT_GUEST;
	cfg.mode = CVMBUS_RING_FORMAT;
	cfg.ops = &fx->ch_ops;
	cfg.ctx = fx;
	REQ(cvmbus_ring_split(ring->ptr, (size_t)ring->pages * PAGE, ds, &cfg.upstream,
			      &cfg.downstream) == 0);
	REQ(fx->nch < 2);
	REQ(cvmbus_channel_init(&fx->chs[fx->nch], &cfg) == 0);
	fx->ch = &fx->chs[fx->nch++];
	return 0;
}

/* From now on the ISR consumes relid's flag and wakes the channel. A flag
 * left set by an earlier raw check would suppress every later interrupt
 * ("already set"), so it is taken here once. */
static void guest_channel_irq(struct fx *fx, uint32_t relid)
{
	atomic_store(&fx->watch_flag, relid);
	atomic_store(&fx->gch, fx->ch);
	(void)cvmbus_event_flag_test_and_clear(&fx->siefp->sint_flags[SINT2], relid);
	cvmbus_channel_notify(fx->ch);
}

/* Raw: one in-band request, then the event flag of relid in the guest's
 * SIEFP, then the completion in the ring. */
static int raw_echo(struct fx *fx, uint32_t relid, uint64_t trans, const char *text)
{
	size_t len = strlen(text);
	uint64_t deadline = cvmbus_exec_deadline(fx->exec, WAIT_NS);
	struct cvmbus_ring_packet pkt;
	int rc;

	REQ(cvmbus_channel_send_inband(fx->ch, CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED, trans,
				       text, len, TMO) == 0);
	REQ(atomic_load(&fx->last_sig_status) == HV_STATUS_SUCCESS);
	while (!cvmbus_event_flag_test_and_clear(&fx->siefp->sint_flags[SINT2], relid)) {
		if (cvmbus_exec_now_ns(fx->exec) >= deadline)
			return fail_at(fx, __LINE__, "event flag %u never set", relid);
		(void)cvmbus_doorbell_wait(&fx->irq, 1, POLL_NS, NULL);
	}
	/* The server wrote before it signalled: the packet is there. */
	rc = cvmbus_channel_recv(fx->ch, &pkt, 0);
	REQ(rc == 0);
	REQ(pkt.type == CVMBUS_RING_PKT_COMPLETION);
	REQ(pkt.trans_id == trans);
	REQ(pkt.payload_len == ((len + 7) & ~(size_t)7));
	REQ(memcmp(pkt.payload, text, len) == 0);
	return 0;
}

/* Occurrences of needle in every page the host can see now. */
static size_t host_scan(struct fx *fx, const void *needle, size_t n)
{
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(fx->mem);
	uint8_t *page = malloc(PAGE);
	size_t hits = 0;

	if (!page)
		return (size_t)-1;
	for (uint64_t gpa = 0; gpa < cvmbus_mem_bytes(fx->mem); gpa += PAGE) {
		if (!cvmbus_mem_host_view_visible(hv, gpa))
			continue;
		if (cvmbus_mem_host_read(hv, cvmbus_mem_gpa_to_alias(fx->mem, gpa), page, PAGE))
			continue;
		for (size_t i = 0; i + n <= PAGE; i++)
			if (!memcmp(page + i, needle, n))
				hits++;
	}
	free(page);
	return hits;
}

static int echo_stats(struct fx *fx, struct cvmbus_echo_stats *st)
{
	cvmbus_echo_get_stats(fx->echo, st);
	return 0;
}

/* ---- scenario: the host, no paravisor ------------------------------------ */

static int host_main(void *arg)
{
	struct fx *fx = arg;
	enum hv_isolation_type iso = fx->iso;
	struct cvmbus_offer_params op;
	struct cvmbus_server_glue_channel_info ci;
	struct cvmbus_server_glue_gpadl_info gi;
	struct cvmbus_server_glue_stats gs;
	struct cvmbus_echo_stats es;
	struct cvmbus_echo_vsc vsc;
	struct cvmbus_echo_hash_reply hr;
	struct cvmbus_ring_gpa_range rg;
	struct offer off[1];
	struct gbuf ring, bad_ring, priv, shared;
	uint8_t reply[64];
	uint64_t pfn, faults0, faults1, last;
	uint32_t relid = 0, st = 0, granted = 0;
	uint16_t hst;
	size_t rlen;
	int ret = -1;

	TRY(fx_platform(fx, iso, false, false));
	TRY(guest_synic(fx, CVMBUS_SYNIC_HYPERVISOR, false));
	TRY(fx_glue(fx, CVMBUS_SERVER_ROLE_HOST, NULL));
	cvmbus_echo_offer_params(&op, 0x10570001u, false);
	TRY(cvmbus_server_glue_add_device(fx->glue, &op, cvmbus_echo_vsp_ops(), fx->echo, &relid));
	CHECK(relid == 1);

	/* Contact on 4. A host never grants confidential channels, even when
	 * asked for them. */
	if (iso == HV_ISOLATION_TYPE_NONE) {
		TRY(contact(fx, VMBUS_MESSAGE_CONNECTION_ID_4, V50, 0, NULL));
	} else {
		TRY(contact(fx, VMBUS_MESSAGE_CONNECTION_ID_4, V60, 0x11, &granted));
		CHECK(granted == 0x01);
	}
	CHECK(fx->msg_conn == VMBUS_MESSAGE_CONNECTION_ID);

	TRY(request_offers(fx, 1, off));
	CHECK(memcmp(off[0].if_type, echo_if_bytes, 16) == 0);
	CHECK(off[0].relid == relid);
	CHECK(off[0].conn == 0x2000u + relid);
	CHECK(off[0].flags == 0); /* no confidential bits to a non-confidential connection */

	/* A private ring: the host cannot see it, the GPADL fails cleanly. */
	TRY(guest_alloc(fx, 4, false, &bad_ring));
	TRY(gpadl(fx, relid, 0x100, bad_ring.gpa, 4, &st));
	if (iso == HV_ISOLATION_TYPE_NONE) {
		/* Without isolation every page is host-visible. */
		CHECK(st == 0);
		TRY(gpadl_teardown(fx, relid, 0x100));
	} else {
		CHECK(st == FAILED);
		CHECK(cvmbus_server_glue_gpadl_info(fx->glue, CVMBUS_SERVER_GLUE_CLIENT_GUEST, 0x100,
						    &gi) == -ENOENT);
	}

	/* A host-visible ring: accepted, recorded as 4 shared pages. */
	TRY(guest_alloc(fx, 4, true, &ring));
	TRY(gpadl(fx, relid, 0x101, ring.gpa, 4, &st));
	CHECK(st == 0);
	TRY(cvmbus_server_glue_gpadl_info(fx->glue, CVMBUS_SERVER_GLUE_CLIENT_GUEST, 0x101, &gi));
	CHECK(gi.npages == 4 && gi.shared_pages == 4 && gi.private_pages == 0 && gi.contiguous);
	CHECK(gi.first_gpa == ring.gpa);

	TRY(guest_channel(fx, &ring, 2, off[0].conn));
	TRY(open_channel(fx, relid, 0x77, 0x101, 2, &st));
	CHECK(st == 0);
	TRY(cvmbus_server_glue_channel_info(fx->glue, relid, &ci));
	CHECK(ci.open && ci.state == CVMBUS_SERVER_CHAN_OPEN);
	CHECK(ci.synic == CVMBUS_SYNIC_HYPERVISOR);
	CHECK(ci.connection_id == 0x2000u + relid && ci.event_flag == relid);
	CHECK(!ci.confidential_ring && !ci.ring_private && ci.ring_pages == 4);
	/* The host holds the ring: a guest that tries to take it back while
	 * it is open is refused, instead of the host faulting on it later. */
	if (iso != HV_ISOLATION_TYPE_NONE) {
		CHECK(cvmbus_mem_make_private(cvmbus_platform_mem(fx->p), CVMBUS_MEM_PARTY_GUEST,
					      ring.gpa, 4) == -EBUSY);
		CHECK(cvmbus_mem_page_state(cvmbus_platform_mem(fx->p), ring.gpa) ==
		      CVMBUS_MEM_PAGE_SHARED);
	}

	/* Raw echo: the reply is in the ring and relid's flag in the
	 * hypervisor SynIC's event page. */
	TRY(raw_echo(fx, relid, 0x1234, "ping-through-the-hypervisor-synic"));
	TRY(cvmbus_server_glue_channel_info(fx->glue, relid, &ci));
	CHECK(ci.events >= 1 && ci.signals >= 1);

	/* The guest's helper, woken by the ISR. */
	guest_channel_irq(fx, relid);
	cvmbus_echo_vsc_init(&vsc, fx->ch);
	CHECK(cvmbus_echo_call(&vsc, "host-echo", 9, reply, sizeof(reply), &rlen, TMO) == 0);
	CHECK(rlen == 16 && memcmp(reply, "host-echo", 9) == 0);
	/* The reply may be read before the interrupt is taken: wait for it. */
	for (unsigned int i = 0; i < 1000 && !atomic_load(&fx->flag_hits); i++)
		cvmbus_exec_sleep_ns(fx->exec, POLL_NS);
	CHECK(atomic_load(&fx->flag_hits) >= 1);

	/* GPA direct: a shared buffer (as its alias, and as a plain GPA the
	 * host turns into its alias) hashes; a private one is out of the
	 * host's reach: -EFAULT, counted by the host view. */
	TRY(guest_alloc(fx, 1, true, &shared));
	for (unsigned int i = 0; i < PAGE; i++)
		shared.ptr[i] = (uint8_t)(i * 7u + 3u);
	pfn = (shared.gpa | fx->boundary) / PAGE;
	rg = (struct cvmbus_ring_gpa_range){ .byte_count = 300, .byte_offset = 40, .pfns = &pfn,
					     .pfn_count = 1 };
	CHECK(cvmbus_echo_gpa_hash(&vsc, &rg, 1, &hr, TMO) == 0);
	CHECK(hr.status == 0 && hr.bytes == 300);
	CHECK(hr.fnv1a == ref_fnv(0xcbf29ce484222325ull, shared.ptr + 40, 300));
	pfn = shared.gpa / PAGE;
	CHECK(cvmbus_echo_gpa_hash(&vsc, &rg, 1, &hr, TMO) == 0);
	CHECK(hr.status == 0 && hr.fnv1a == ref_fnv(0xcbf29ce484222325ull, shared.ptr + 40, 300));
	if (iso != HV_ISOLATION_TYPE_NONE) {
		TRY(guest_alloc(fx, 1, false, &priv));
		memset(priv.ptr, 0x5c, PAGE);
		pfn = priv.gpa / PAGE;
		cvmbus_mem_host_view_faults(cvmbus_mem_host(fx->mem), &faults0, &last);
		CHECK(cvmbus_echo_gpa_hash(&vsc, &rg, 1, &hr, TMO) == 0);
		CHECK(hr.status == -EFAULT && hr.fnv1a == 0);
		cvmbus_mem_host_view_faults(cvmbus_mem_host(fx->mem), &faults1, &last);
		CHECK(faults1 == faults0 + 1);
		CHECK(last == (priv.gpa | fx->boundary) + 40);
	}
	/* A range outside guest RAM: refused before any view is touched. */
	pfn = cvmbus_mem_bytes(fx->mem) / PAGE + 5;
	CHECK(cvmbus_echo_gpa_hash(&vsc, &rg, 1, &hr, TMO) == 0);
	CHECK(hr.status == -EFAULT);

	/* Close: the device lets go, the event port is gone. */
	TRY(relid_msg(fx, 7, relid));
	TRY(wait_chan_state(fx, relid, CVMBUS_SERVER_CHAN_CLOSED));
	TRY(echo_stats(fx, &es));
	CHECK(es.opens == 1 && es.closes == 1 && es.channels_open == 0);
	CHECK(cvmbus_hv_signal_event(fx->p, VP, fx->post_path, 0x2000u + relid, 0, &hst) == 0);
	CHECK(hst == HV_STATUS_INVALID_CONNECTION_ID);
	TRY(cvmbus_server_glue_channel_info(fx->glue, relid, &ci));
	CHECK(!ci.open && ci.opens == 1 && ci.closes == 1);
	CHECK(cvmbus_server_glue_gpadl_info(fx->glue, CVMBUS_SERVER_GLUE_CLIENT_GUEST, 0x101, &gi) ==
	      0 && !gi.ring);

	/* Reopen over the same GPADL (Linux keeps it across close/open), then
	 * rescind while open: the device is closed and the guest told. */
	atomic_store(&fx->gch, NULL);
	TRY(guest_channel(fx, &ring, 2, off[0].conn));
	TRY(open_channel(fx, relid, 0x78, 0x101, 2, &st));
	CHECK(st == 0);
	TRY(raw_echo(fx, relid, 0x99, "second-open"));
	TRY(cvmbus_server_glue_rescind(fx->glue, relid));
	TRY(EXPECT(2, 12)); /* RescindChannelOffer */
	CHECK(get32(fx->m, 8) == relid);
	TRY(echo_stats(fx, &es));
	CHECK(es.opens == 2 && es.closes == 2 && es.channels_open == 0);
	CHECK(cvmbus_server_glue_channel_info(fx->glue, relid, &ci) == -ENOENT);
	CHECK(cvmbus_server_glue_rescind(fx->glue, relid) == -ENOENT);
	TRY(relid_msg(fx, 7, relid)); /* Linux closes, then releases */
	TRY(relid_msg(fx, 13, relid));
	TRY(unload(fx));

	cvmbus_server_glue_get_stats(fx->glue, &gs);
	CHECK(gs.opens == 2 && gs.closes == 2 && gs.rescinds == 1);
	CHECK(gs.gpadls_refused == (iso == HV_ISOLATION_TYPE_NONE ? 0u : 1u));
	CHECK(gs.messages_lost == 0 && gs.messages_dropped_in == 0);
	{
		const char *why = NULL;

		CHECK(cvmbus_server_glue_check(fx->glue, &why) == 0);
	}
	ret = 0;
out:
	fx_teardown(fx);
	return ret;
}

/* ---- scenario: the paravisor on SNP with Confidential VMBus -------------- */

static int pv_snp_main(void *arg)
{
	struct fx *fx = arg;
	struct cvmbus_offer_params op;
	struct cvmbus_server_glue_channel_info ci;
	struct cvmbus_server_glue_gpadl_info gi;
	struct cvmbus_server_glue_stats gs;
	struct cvmbus_echo_vsc vsc;
	struct cvmbus_echo_hash_reply hr;
	struct cvmbus_ring_gpa_range rg;
	struct cvmbus_echo_stats es;
	struct offer off[2], *conf = NULL, *ring_only = NULL;
	struct gbuf shared_ring, ring, ring2, priv, shared;
	static const char secret[] = "CONFIDENTIAL-PAYLOAD-7d1c0a";
	uint8_t b[8] = { 0 }, inst[16], reply[64];
	uint32_t relid = 0, relid2 = 0, st = 0, granted = 0;
	uint64_t pfn, vtl2_base, vtl2_bytes;
	uint16_t hst = 0;
	size_t rlen;
	int ret = -1;

	TRY(fx_platform(fx, HV_ISOLATION_TYPE_SNP, true, true));
	/* A confidential guest: the paravisor's SynIC, SINT2 not proxied,
	 * hypercalls trapped by the paravisor (trusted). */
	TRY(guest_synic(fx, CVMBUS_SYNIC_PARAVISOR, false));
	CHECK(fx->post_path == CVMBUS_PATH_PARAVISOR_TRAP);
	TRY(fx_glue(fx, CVMBUS_SERVER_ROLE_PARAVISOR, NULL));
	cvmbus_echo_offer_params(&op, 0x5ec7e7a1u, true);
	TRY(cvmbus_server_glue_add_device(fx->glue, &op, cvmbus_echo_vsp_ops(), fx->echo, &relid));
	/* A second echo that asks only for the default: a confidential ring. */
	cvmbus_echo_offer_params(&op, 0x5ec7e7a2u, false);
	TRY(cvmbus_server_glue_add_device(fx->glue, &op, cvmbus_echo_vsp_ops(), fx->echo, &relid2));

	TRY(contact(fx, VMBUS_MESSAGE_CONNECTION_ID_4, V60, 0x10 | 0x01, &granted));
	CHECK(granted == (0x10 | 0x01));
	TRY(request_offers(fx, 2, off));
	for (unsigned int i = 0; i < 2; i++) {
		if (off[i].relid == relid)
			conf = &off[i];
		if (off[i].relid == relid2)
			ring_only = &off[i];
	}
	CHECK(conf && ring_only);
	CHECK(conf->flags == (0x2 | 0x4));   /* confidential ring + external memory */
	CHECK(ring_only->flags == 0x2);      /* confidential ring only */
	/* The offers went to the private SIMP page: the host saw none of it. */
	memcpy(inst, conf->instance, 16);
	CHECK(host_scan(fx, inst, 16) == 0);

	/* An untrusted message after a trusted contact is refused. */
	put32(b, 0, 3);
	cvmbus_server_glue_get_stats(fx->glue, &gs);
	{
		uint64_t refused = gs.messages_refused;

		TRY(post_on(fx, CVMBUS_PATH_GHCB, fx->msg_conn, b, 8, &hst));
		CHECK(hst == HV_STATUS_SUCCESS);
		TRY(guest_quiet(fx));
		cvmbus_server_glue_get_stats(fx->glue, &gs);
		CHECK(gs.messages_refused == refused + 1);
	}

	/* Confidential channel: a host-visible GPADL is refused, a private one
	 * accepted (4 private pages). */
	TRY(guest_alloc(fx, 4, true, &shared_ring));
	TRY(gpadl(fx, relid, 0x200, shared_ring.gpa, 4, &st));
	CHECK(st == FAILED);
	TRY(guest_alloc(fx, 4, false, &ring));
	TRY(gpadl(fx, relid, 0x201, ring.gpa, 4, &st));
	CHECK(st == 0);
	TRY(cvmbus_server_glue_gpadl_info(fx->glue, CVMBUS_SERVER_GLUE_CLIENT_GUEST, 0x201, &gi));
	CHECK(gi.private_pages == 4 && gi.shared_pages == 0);

	TRY(guest_channel(fx, &ring, 2, conf->conn));
	TRY(open_channel(fx, relid, 1, 0x201, 2, &st));
	CHECK(st == 0);
	TRY(cvmbus_server_glue_channel_info(fx->glue, relid, &ci));
	CHECK(ci.open && ci.synic == CVMBUS_SYNIC_PARAVISOR);
	CHECK(ci.confidential_ring && ci.confidential_external_memory && ci.ring_private);

	TRY(raw_echo(fx, relid, 0x42, secret));
	guest_channel_irq(fx, relid);
	cvmbus_echo_vsc_init(&vsc, fx->ch);
	CHECK(cvmbus_echo_call(&vsc, secret, sizeof(secret) - 1, reply, sizeof(reply), &rlen, TMO) ==
	      0);
	CHECK(memcmp(reply, secret, sizeof(secret) - 1) == 0);
	/* Neither the ring nor the SynIC page is host-visible. */
	CHECK(host_scan(fx, secret, sizeof(secret) - 1) == 0);

	/* GPA direct: the paravisor reads the guest's private buffer. */
	TRY(guest_alloc(fx, 1, false, &priv));
	for (unsigned int i = 0; i < PAGE; i++)
		priv.ptr[i] = (uint8_t)(i * 13u + 5u);
	pfn = priv.gpa / PAGE;
	rg = (struct cvmbus_ring_gpa_range){ .byte_count = 1000, .byte_offset = 96, .pfns = &pfn,
					     .pfn_count = 1 };
	CHECK(cvmbus_echo_gpa_hash(&vsc, &rg, 1, &hr, TMO) == 0);
	CHECK(hr.status == 0 && hr.bytes == 1000);
	CHECK(hr.fnv1a == ref_fnv(0xcbf29ce484222325ull, priv.ptr + 96, 1000));
	/* A shared alias must name a host-visible page. */
	pfn = (priv.gpa | fx->boundary) / PAGE;
	CHECK(cvmbus_echo_gpa_hash(&vsc, &rg, 1, &hr, TMO) == 0);
	CHECK(hr.status == -EFAULT);
	TRY(guest_alloc(fx, 1, true, &shared));
	memset(shared.ptr, 0xa7, PAGE);
	pfn = (shared.gpa | fx->boundary) / PAGE;
	CHECK(cvmbus_echo_gpa_hash(&vsc, &rg, 1, &hr, TMO) == 0);
	CHECK(hr.status == 0 && hr.fnv1a == ref_fnv(0xcbf29ce484222325ull, shared.ptr + 96, 1000));
	/* Paravisor memory is never the guest's to name. */
	TRY(cvmbus_mem_region(fx->mem, CVMBUS_MEM_REGION_VTL2, &vtl2_base, &vtl2_bytes));
	pfn = vtl2_base / PAGE;
	CHECK(cvmbus_echo_gpa_hash(&vsc, &rg, 1, &hr, TMO) == 0);
	CHECK(hr.status == -EFAULT);

	/* The ring-only channel: a host-visible GPADL is accepted (it could
	 * be a non-ring buffer), but not as the ring: the open fails. A private
	 * one opens. */
	TRY(gpadl(fx, relid2, 0x300, shared_ring.gpa, 4, &st));
	CHECK(st == 0);
	TRY(open_channel(fx, relid2, 2, 0x300, 2, &st));
	CHECK(st == FAILED);
	TRY(cvmbus_server_glue_channel_info(fx->glue, relid2, &ci));
	CHECK(!ci.open && ci.open_failures == 1);
	TRY(guest_alloc(fx, 4, false, &ring2));
	memset(ring2.ptr, 0, 4 * PAGE); /* the guest formats it: zero control pages */
	TRY(gpadl(fx, relid2, 0x301, ring2.gpa, 4, &st));
	CHECK(st == 0);
	TRY(open_channel(fx, relid2, 3, 0x301, 2, &st));
	CHECK(st == 0);

	/* Close both. */
	TRY(relid_msg(fx, 7, relid));
	TRY(relid_msg(fx, 7, relid2));
	TRY(wait_chan_state(fx, relid, CVMBUS_SERVER_CHAN_CLOSED));
	TRY(wait_chan_state(fx, relid2, CVMBUS_SERVER_CHAN_CLOSED));
	TRY(echo_stats(fx, &es));
	CHECK(es.opens == 2 && es.closes == 2 && es.faults == 2);
	cvmbus_server_glue_get_stats(fx->glue, &gs);
	CHECK(gs.gpadls_refused == 1 && gs.open_failures == 1 && gs.messages_lost == 0);
	ret = 0;
out:
	fx_teardown(fx);
	return ret;
}

/* ---- scenario: the paravisor without isolation, a relayed offer ---------- */

struct fake_relay {
	struct cvmbus_server_glue *glue;
	struct cvmbus_server_open_request req;
	unsigned int opens, closes;
};

static int fr_open(void *ctx, const struct cvmbus_server_open_request *req)
{
	struct fake_relay *r = ctx;

	/* The relay would forward this to the host; it answers later. */
	r->req = *req;
	r->opens++;
	return 0;
}

static int fr_close(void *ctx, uint32_t client, uint32_t relid)
{
	struct fake_relay *r = ctx;

	(void)client;
	r->closes++;
	/* Completing from inside the callback: the glue queues it. */
	return cvmbus_server_glue_close_complete(r->glue, relid);
}

static const struct cvmbus_relayed_ops fr_ops = {
	.open_request = fr_open,
	.close_request = fr_close,
};

static int pv_none_main(void *arg)
{
	struct fx *fx = arg;
	struct cvmbus_offer_params op;
	struct cvmbus_server_glue_channel_info ci;
	struct cvmbus_echo_vsc vsc;
	struct fake_relay fr = { 0 };
	struct offer off[2], *echo = NULL, *relayed = NULL;
	struct gbuf ring, rring;
	uint8_t reply[32], ob[148] = { 0 };
	uint32_t relid = 0, rrelid = 0, st = 0;
	size_t rlen;
	int ret = -1;

	TRY(fx_platform(fx, HV_ISOLATION_TYPE_NONE, true, false));
	/* A non-confidential guest proxies SINT2: the paravisor's messages
	 * land in the hypervisor's (supplied) page. */
	TRY(guest_synic(fx, CVMBUS_SYNIC_PARAVISOR, true));
	TRY(fx_glue(fx, CVMBUS_SERVER_ROLE_PARAVISOR, NULL));
	fr.glue = fx->glue;
	cvmbus_echo_offer_params(&op, 0x0e0e0001u, false);
	TRY(cvmbus_server_glue_add_device(fx->glue, &op, cvmbus_echo_vsp_ops(), fx->echo, &relid));
	memset(&op, 0, sizeof(op));
	op.interface_id.data1 = 0x12345678u; /* some host device class */
	op.instance_id.data1 = 0xabcdef01u;
	op.offer_order = 7; /* the host's relid */
	TRY(cvmbus_server_glue_add_relayed(fx->glue, &op, &fr_ops, &fr, &rrelid));

	/* Not isolated: the trap is no proof of anything, no 0x10 granted. */
	TRY(contact(fx, VMBUS_MESSAGE_CONNECTION_ID_4, V50, 0, NULL));
	TRY(request_offers(fx, 2, off));
	for (unsigned int i = 0; i < 2; i++) {
		if (off[i].relid == relid)
			echo = &off[i];
		if (off[i].relid == rrelid)
			relayed = &off[i];
	}
	CHECK(echo && relayed && echo->flags == 0 && relayed->flags == 0);

	TRY(guest_alloc(fx, 4, true, &ring));
	TRY(gpadl(fx, relid, 1, ring.gpa, 4, &st));
	CHECK(st == 0);
	TRY(guest_channel(fx, &ring, 2, echo->conn));
	TRY(open_channel(fx, relid, 1, 1, 2, &st));
	CHECK(st == 0);
	TRY(cvmbus_server_glue_channel_info(fx->glue, relid, &ci));
	CHECK(ci.synic == CVMBUS_SYNIC_PARAVISOR && !ci.ring_private);
	/* Signalled on the paravisor's SynIC, proxied to the hypervisor's
	 * event page, which is the one the guest reads. */
	TRY(raw_echo(fx, relid, 5, "proxied-sint-echo"));
	guest_channel_irq(fx, relid);
	cvmbus_echo_vsc_init(&vsc, fx->ch);
	CHECK(cvmbus_echo_call(&vsc, "vsc", 3, reply, sizeof(reply), &rlen, TMO) == 0);
	CHECK(rlen == 8 && memcmp(reply, "vsc", 3) == 0);

	/* The relayed channel: the GPADL is checked (host-visible) and
	 * accepted; the open reaches the relay before any mapping, and the
	 * guest hears nothing until the relay completes it. */
	TRY(guest_alloc(fx, 4, true, &rring));
	TRY(gpadl(fx, rrelid, 2, rring.gpa, 4, &st));
	CHECK(st == 0);
	put32(ob, 0, 5);
	put32(ob, 8, rrelid);
	put32(ob, 12, 0x55);
	put32(ob, 16, 2);
	put32(ob, 20, VP);
	put32(ob, 24, 2);
	TRY(guest_post(fx, fx->msg_conn, ob, sizeof(ob)));
	TRY(wait_chan_state(fx, rrelid, CVMBUS_SERVER_CHAN_OPENING));
	TRY(guest_quiet(fx));
	CHECK(fr.opens == 1 && fr.req.relid == rrelid && fr.req.open_id == 0x55);
	CHECK(fr.req.ring_gpadl_id == 2 && fr.req.ring_gpadl_pages == 4);
	CHECK(fr.req.connection_id == 0x2000u + rrelid && fr.req.event_flag == rrelid);
	CHECK(!fr.req.confidential_ring && !fr.req.confidential_external_memory);
	TRY(cvmbus_server_glue_open_complete(fx->glue, rrelid, 0));
	TRY(EXPECT(6, 20));
	CHECK(get32(fx->m, 8) == rrelid && get32(fx->m, 12) == 0x55 && get32(fx->m, 16) == 0);
	TRY(cvmbus_server_glue_channel_info(fx->glue, rrelid, &ci));
	CHECK(ci.relayed && ci.open && ci.state == CVMBUS_SERVER_CHAN_OPEN);
	/* No event port for a relayed channel: the host owns its signals. */
	{
		uint16_t hst = 0;

		CHECK(cvmbus_hv_signal_event(fx->p, VP, fx->post_path, 0x2000u + rrelid, 0, &hst) ==
		      0);
		CHECK(hst == HV_STATUS_INVALID_CONNECTION_ID);
	}
	/* A second completion is out of state. */
	CHECK(cvmbus_server_glue_open_complete(fx->glue, rrelid, 0) < 0);

	/* Close: the relay completes from inside its callback. */
	TRY(relid_msg(fx, 7, rrelid));
	TRY(wait_chan_state(fx, rrelid, CVMBUS_SERVER_CHAN_CLOSED));
	CHECK(fr.closes == 1);
	TRY(cvmbus_server_glue_channel_info(fx->glue, rrelid, &ci));
	CHECK(!ci.open && ci.closes == 1);

	/* Unload closes the echo channel through its device. */
	TRY(unload(fx));
	TRY(wait_chan_state(fx, relid, CVMBUS_SERVER_CHAN_CLOSED));
	{
		struct cvmbus_echo_stats es;

		TRY(echo_stats(fx, &es));
		CHECK(es.closes == 1 && es.channels_open == 0);
	}
	ret = 0;
out:
	fx_teardown(fx);
	return ret;
}

/* ---- scenario: the host behind a paravisor, contacted by a relay --------- */

static void relay_inbound(void *ctx, const struct cvmbus_port_message *m)
{
	struct fx *fx = ctx;
	struct relay_box *bx = &fx->box;

	cvmbus_mutex_lock(&bx->lock);
	if (bx->count < 8 && m->size <= 240) {
		unsigned int slot = (bx->head + bx->count) % 8;

		memcpy(bx->msg[slot], m->payload, m->size);
		bx->len[slot] = m->size;
		bx->count++;
		cvmbus_cond_broadcast(&bx->cond);
	}
	cvmbus_mutex_unlock(&bx->lock);
}

static int relay_expect_at(struct fx *fx, int line, uint32_t type, uint32_t len)
{
	struct relay_box *bx = &fx->box;
	uint64_t deadline = cvmbus_exec_deadline(fx->exec, WAIT_NS);
	int rc = 0;

	cvmbus_mutex_lock(&bx->lock);
	while (!bx->count && rc == 0)
		rc = cvmbus_cond_wait_until(&bx->cond, &bx->lock, deadline);
	if (bx->count) {
		memcpy(fx->m, bx->msg[bx->head], sizeof(fx->m));
		fx->mlen = bx->len[bx->head];
		bx->head = (bx->head + 1) % 8;
		bx->count--;
		rc = 0;
	}
	cvmbus_mutex_unlock(&bx->lock);
	if (rc)
		return fail_at(fx, line, "relay got no message");
	if (get32(fx->m, 0) != type || (len && fx->mlen != len))
		return fail_at(fx, line, "relay got type %u (%u bytes), wanted %u (%u)",
			       get32(fx->m, 0), fx->mlen, type, len);
	return 0;
}
#define RELAY_EXPECT(type, len) relay_expect_at(fx, __LINE__, (type), (len))

static int relay_post(struct fx *fx, const uint8_t *b, uint32_t len)
{
	uint16_t st = 0xffff;

	REQ(cvmbus_hv_post_message_from(fx->p, CVMBUS_MEM_PARTY_PARAVISOR, VP,
					VMBUS_MESSAGE_REDIRECT_CONNECTION_ID, HVMSG_VMBUS, b, len,
					&st) == 0);
	REQ(st == HV_STATUS_SUCCESS);
	return 0;
}

static int host_relay_main(void *arg)
{
	struct fx *fx = arg;
	struct cvmbus_server_glue_config cfg;
	struct cvmbus_port_config pc;
	struct cvmbus_offer_params op;
	struct cvmbus_server_glue_channel_info ci;
	struct cvmbus_server_glue_gpadl_info gi;
	struct cvmbus_server_glue_stats gs;
	struct cvmbus_ring_packet pkt;
	struct gbuf ring;
	uint8_t b[240];
	uint32_t relid = 0, guest_flag = 77, guest_conn = 0x2000u + 77;
	uint64_t deadline;
	uint16_t hst = 0;
	int ret = -1;

	TRY(fx_platform(fx, HV_ISOLATION_TYPE_SNP, true, false));
	/* The guest's hypervisor SynIC: pages supplied by the paravisor, its
	 * registers through the GHCB. */
	TRY(guest_synic(fx, CVMBUS_SYNIC_HYPERVISOR, false));
	CHECK(fx->post_path == CVMBUS_PATH_GHCB);
	cvmbus_mutex_init(&fx->box.lock, fx->exec, "relay-box");
	cvmbus_cond_init(&fx->box.cond, fx->exec, "relay-box");
	fx->box_init = true;
	memset(&pc, 0, sizeof(pc));
	pc.connection_id = RELAY_IN;
	pc.kind = CVMBUS_PORT_MESSAGE;
	pc.owner = CVMBUS_MEM_PARTY_PARAVISOR;
	pc.on_message = relay_inbound;
	pc.ctx = fx;
	TRY(cvmbus_port_add(fx->p, &pc));

	cvmbus_server_glue_config_init(&cfg, fx->p, CVMBUS_SERVER_ROLE_HOST);
	CHECK(cfg.listener_count == 1 &&
	      cfg.listeners[0].connection_id == VMBUS_MESSAGE_REDIRECT_CONNECTION_ID &&
	      cfg.listeners[0].peer == CVMBUS_SERVER_GLUE_PEER_RELAY);
	{
		struct cvmbus_server_glue *tmp = NULL;

		/* A relay listener needs somewhere to answer. */
		CHECK(cvmbus_server_glue_create(&cfg, &tmp) == -EINVAL);
	}
	cfg.relay_inbound_connection_id = RELAY_IN;
	TRY(fx_glue(fx, CVMBUS_SERVER_ROLE_HOST, &cfg));
	cvmbus_echo_offer_params(&op, 0x4e1a0001u, false);
	TRY(cvmbus_server_glue_add_device(fx->glue, &op, cvmbus_echo_vsp_ops(), fx->echo, &relid));

	/* The guest cannot pose as the relay: its GHCB post is dropped. */
	memset(b, 0, sizeof(b));
	put32(b, 0, 3);
	TRY(post_on(fx, CVMBUS_PATH_GHCB, VMBUS_MESSAGE_REDIRECT_CONNECTION_ID, b, 8, &hst));
	CHECK(hst == HV_STATUS_SUCCESS);

	/* The relay's contact: 6.0 with the features OpenHCL's relay needs. */
	memset(b, 0, sizeof(b));
	put32(b, 0, 14);
	put32(b, 8, V60);
	put32(b, 12, VP);
	b[16] = 7; /* the redirect SINT */
	put32(b, 20, 0x07);
	TRY(relay_post(fx, b, 40));
	TRY(RELAY_EXPECT(15, 20));
	CHECK(fx->m[8] == 1 && fx->m[9] == 0);
	CHECK(get32(fx->m, 12) == VMBUS_MESSAGE_REDIRECT_CONNECTION_ID);
	CHECK(get32(fx->m, 16) == 0x07);
	cvmbus_server_glue_get_stats(fx->glue, &gs);
	CHECK(gs.messages_dropped_in == 1);
	CHECK(gs.ports_added == 0); /* 0x800074 is already a listener */

	memset(b, 0, sizeof(b));
	put32(b, 0, 3);
	TRY(relay_post(fx, b, 8));
	TRY(RELAY_EXPECT(1, 196));
	CHECK(memcmp(fx->m + 8, echo_if_bytes, 16) == 0 && get32(fx->m, 184) == relid);
	TRY(RELAY_EXPECT(4, 8));

	/* The guest's ring, forwarded by the relay as a GPADL of its own. */
	TRY(guest_alloc(fx, 4, true, &ring));
	memset(b, 0, sizeof(b));
	put32(b, 0, 8);
	put32(b, 8, relid);
	put32(b, 12, 9);
	put16(b, 16, 8 + 8 * 4);
	put16(b, 18, 1);
	put32(b, 20, 4 * PAGE);
	for (uint32_t i = 0; i < 4; i++)
		put64(b, 28 + 8 * i, ring.gpa / PAGE + i);
	TRY(relay_post(fx, b, 28 + 32));
	TRY(RELAY_EXPECT(10, 20));
	CHECK(get32(fx->m, 16) == 0);
	TRY(cvmbus_server_glue_gpadl_info(fx->glue, CVMBUS_SERVER_GLUE_CLIENT_RELAY, 9, &gi));
	CHECK(gi.shared_pages == 4);

	/* OpenChannel2 (156 bytes) with the guest-visible connection id @148
	 * and event flag @152: host and guest signal each other directly. */
	TRY(guest_channel(fx, &ring, 2, guest_conn));
	memset(b, 0, sizeof(b));
	put32(b, 0, 5);
	put32(b, 8, relid);
	put32(b, 12, 0x31);
	put32(b, 16, 9);
	put32(b, 20, VP);
	put32(b, 24, 2);
	put32(b, 148, guest_conn);
	put16(b, 152, (uint16_t)guest_flag);
	TRY(relay_post(fx, b, 156));
	TRY(RELAY_EXPECT(6, 20));
	CHECK(get32(fx->m, 16) == 0);
	TRY(cvmbus_server_glue_channel_info(fx->glue, relid, &ci));
	CHECK(ci.owner == CVMBUS_SERVER_GLUE_CLIENT_RELAY && ci.open);
	CHECK(ci.connection_id == guest_conn && ci.event_flag == guest_flag);

	/* The guest signals the host on its own path and id; the reply's
	 * signal sets the guest's flag 77 in the hypervisor SynIC. */
	TRY(cvmbus_channel_send_inband(fx->ch, CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED, 3,
				       "relayed-data-plane", 18, TMO));
	CHECK(atomic_load(&fx->last_sig_status) == HV_STATUS_SUCCESS);
	deadline = cvmbus_exec_deadline(fx->exec, WAIT_NS);
	while (!cvmbus_event_flag_test_and_clear(&fx->siefp->sint_flags[SINT2], guest_flag)) {
		CHECK(cvmbus_exec_now_ns(fx->exec) < deadline);
		(void)cvmbus_doorbell_wait(&fx->irq, 1, POLL_NS, NULL);
	}
	CHECK(cvmbus_channel_recv(fx->ch, &pkt, 0) == 0);
	CHECK(pkt.type == CVMBUS_RING_PKT_COMPLETION && pkt.trans_id == 3);
	CHECK(memcmp(pkt.payload, "relayed-data-plane", 18) == 0);
	ret = 0;
out:
	fx_teardown(fx);
	return ret;
}

/* ---- scenario: a full SynIC queue, a message connection id of its own ---- */

static int queue_main(void *arg)
{
	struct fx *fx = arg;
	struct cvmbus_server_glue_config cfg;
	struct cvmbus_server_glue_stats gs;
	struct cvmbus_offer_params op;
	struct offer off[6];
	uint32_t relids[6];
	uint8_t b[8] = { 0 };
	int ret = -1;

	fx->sint_depth = 1;
	TRY(fx_platform(fx, HV_ISOLATION_TYPE_NONE, false, false));
	TRY(guest_synic(fx, CVMBUS_SYNIC_HYPERVISOR, false));
	cvmbus_server_glue_config_init(&cfg, fx->p, CVMBUS_SERVER_ROLE_HOST);
	cfg.server.message_connection_id = 0x2345;
	TRY(fx_glue(fx, CVMBUS_SERVER_ROLE_HOST, &cfg));
	for (unsigned int i = 0; i < 6; i++) {
		cvmbus_echo_offer_params(&op, 0x900u + i, false);
		TRY(cvmbus_server_glue_add_device(fx->glue, &op, cvmbus_echo_vsp_ops(), fx->echo,
						  &relids[i]));
	}
	/* From 5.0 the client posts to the id VersionResponse names: the glue
	 * registered it before answering. */
	TRY(contact(fx, VMBUS_MESSAGE_CONNECTION_ID_4, V50, 0, NULL));
	CHECK(fx->msg_conn == 0x2345);
	cvmbus_server_glue_get_stats(fx->glue, &gs);
	CHECK(gs.ports_added == 1);

	/* Seven replies into one slot and a one-message SINT queue while the
	 * guest looks away: the glue holds the rest and retries. */
	put32(b, 0, 3);
	TRY(guest_post(fx, fx->msg_conn, b, sizeof(b)));
	cvmbus_exec_sleep_ns(fx->exec, 5 * POLL_NS);
	cvmbus_server_glue_get_stats(fx->glue, &gs);
	CHECK(gs.messages_held >= 1);
	/* Everything arrives, in order (same class: by instance id). */
	for (unsigned int i = 0; i < 6; i++) {
		TRY(EXPECT(1, 196));
		off[i].relid = get32(fx->m, 184);
		CHECK(off[i].relid == relids[i]);
		CHECK(get32(fx->m, 24) == 0x900u + i);
	}
	TRY(EXPECT(4, 8));
	cvmbus_server_glue_get_stats(fx->glue, &gs);
	CHECK(gs.messages_lost == 0);
	ret = 0;
out:
	fx_teardown(fx);
	return ret;
}

/* ---- runners ------------------------------------------------------------- */

static void run(struct cvmbus_exec *exec, cvmbus_thread_fn fn, struct fx *fx)
{
	int ret = -1, rc;

	fx->exec = exec;
	rc = cvmbus_exec_run(exec, fn, fx, &ret);
	if (rc)
		print_error("run failed (%d): %s\n", rc,
			    cvmbus_exec_kind(exec) == CVMBUS_EXEC_DET ? cvmbus_exec_det_report(exec)
								       : "");
	if (ret)
		print_error("failed at line %d: %s\n", fx->line, fx->why);
	assert_int_equal(rc, 0);
	assert_int_equal(ret, 0);
}

static struct fx *fx_new(void)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	atomic_init(&fx->gch, NULL);
	return fx;
}

static void run_native(cvmbus_thread_fn fn, struct fx *fx)
{
	struct cvmbus_exec *exec;

	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	run(exec, fn, fx);
	cvmbus_exec_destroy(exec);
	free(fx);
}

static struct fx *host_fx(enum hv_isolation_type iso)
{
	struct fx *fx = fx_new();

	fx->iso = iso;
	return fx;
}

static void test_host_none(void **state)
{
	(void)state;
	run_native(host_main, host_fx(HV_ISOLATION_TYPE_NONE));
}

static void test_host_snp(void **state)
{
	(void)state;
	run_native(host_main, host_fx(HV_ISOLATION_TYPE_SNP));
}

static void test_paravisor_snp_confidential(void **state)
{
	(void)state;
	run_native(pv_snp_main, fx_new());
}

static void test_paravisor_none_relayed(void **state)
{
	(void)state;
	run_native(pv_none_main, fx_new());
}

static void test_held_replies(void **state)
{
	(void)state;
	run_native(queue_main, fx_new());
}

static void test_host_behind_paravisor_relay(void **state)
{
	(void)state;
	run_native(host_relay_main, fx_new());
}

/* The first scenario on SNP under the deterministic executor: each seed's
 * run ends with every thread exited, and a seed replays to the same
 * schedule. CVMBUS_EXEC_SEED replays one seed. */
static void test_det_seeds(void **state)
{
	uint64_t first = cvmbus_exec_seed_from_env(1);
	uint64_t hash1 = 0;

	(void)state;
	for (uint64_t seed = first; seed < first + 3; seed++) {
		struct cvmbus_exec_det_opts o = { .seed = seed };
		struct cvmbus_exec *exec;
		struct fx *fx = host_fx(HV_ISOLATION_TYPE_SNP);

		assert_int_equal(cvmbus_exec_det_create(&exec, &o), 0);
		run(exec, host_main, fx);
		if (seed == first)
			hash1 = cvmbus_exec_det_hash(exec);
		free(fx);
		cvmbus_exec_destroy(exec);
	}
	{
		struct cvmbus_exec_det_opts o = { .seed = first };
		struct cvmbus_exec *exec;
		struct fx *fx = host_fx(HV_ISOLATION_TYPE_SNP);

		assert_int_equal(cvmbus_exec_det_create(&exec, &o), 0);
		run(exec, host_main, fx);
		assert_true(cvmbus_exec_det_hash(exec) == hash1);
		free(fx);
		cvmbus_exec_destroy(exec);
	}
}

static void test_det_paravisor(void **state)
{
	struct cvmbus_exec_det_opts o = { .seed = cvmbus_exec_seed_from_env(11) };
	struct cvmbus_exec *exec;
	struct fx *fx = fx_new();

	(void)state;
	assert_int_equal(cvmbus_exec_det_create(&exec, &o), 0);
	run(exec, pv_snp_main, fx);
	free(fx);
	cvmbus_exec_destroy(exec);
}

/* Configurations the glue refuses before touching anything. */
static void test_config_refusals(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_platform_config pcfg = {
		.arch = CVMBUS_ARCH_X86_64, .isolation = HV_ISOLATION_TYPE_NONE, .vcpus = 1,
		.vtl0_bytes = 1u << 20,
	};
	struct cvmbus_server_glue_config cfg;
	struct cvmbus_server_glue *g = NULL;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	pcfg.exec = exec;
	assert_int_equal(cvmbus_platform_create(&pcfg, &p, NULL, 0), 0);
	/* No paravisor: no paravisor role. */
	cvmbus_server_glue_config_init(&cfg, p, CVMBUS_SERVER_ROLE_PARAVISOR);
	assert_int_equal(cvmbus_server_glue_create(&cfg, &g), -EINVAL);
	/* A host that would grant confidential channels. */
	cvmbus_server_glue_config_init(&cfg, p, CVMBUS_SERVER_ROLE_HOST);
	assert_int_equal(cfg.listener_count, 2);
	assert_int_equal(cfg.listeners[0].connection_id, 4);
	assert_int_equal(cfg.listeners[1].connection_id, 1);
	cfg.server.features |= 0x10;
	assert_int_equal(cvmbus_server_glue_create(&cfg, &g), -EINVAL);
	/* Two listeners on one id; a relay listener in the wrong role. */
	cvmbus_server_glue_config_init(&cfg, p, CVMBUS_SERVER_ROLE_HOST);
	cfg.listeners[1].connection_id = 4;
	assert_int_equal(cvmbus_server_glue_create(&cfg, &g), -EINVAL);
	cvmbus_server_glue_config_init(&cfg, p, CVMBUS_SERVER_ROLE_HOST);
	cfg.listeners[0].connection_id = 1u << 24;
	assert_int_equal(cvmbus_server_glue_create(&cfg, &g), -EINVAL);
	/* A good one creates, and is destroyed without ever starting. */
	cvmbus_server_glue_config_init(&cfg, p, CVMBUS_SERVER_ROLE_HOST);
	assert_int_equal(cvmbus_server_glue_create(&cfg, &g), 0);
	assert_int_equal(cvmbus_server_glue_role(g), CVMBUS_SERVER_ROLE_HOST);
	assert_int_equal(cvmbus_server_glue_synic(g), CVMBUS_SYNIC_HYPERVISOR);
	cvmbus_server_glue_destroy(g);
	cvmbus_platform_destroy(p);
	cvmbus_exec_destroy(exec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_refusals),
		cmocka_unit_test(test_host_none),
		cmocka_unit_test(test_host_snp),
		cmocka_unit_test(test_paravisor_snp_confidential),
		cmocka_unit_test(test_paravisor_none_relayed),
		cmocka_unit_test(test_host_behind_paravisor_relay),
		cmocka_unit_test(test_held_replies),
		cmocka_unit_test(test_det_seeds),
		cmocka_unit_test(test_det_paravisor),
	};

	cvmbus_log_set_level(getenv("CVMBUS_TEST_LOG") ? CVMBUS_LOG_DEBUG : CVMBUS_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
