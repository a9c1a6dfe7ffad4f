/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the guest VMBus client's control plane (layer
 * src/client, include/cvmbus/client.h): a hostile host (or paravisor)
 * answers a client that has started to connect. Host messages from the
 * input go to cvmbus_client_handle_message() (or, by an action, through the
 * SynIC envelope of cvmbus_client_handle_hv_message()), interleaved with
 * what a driver and the clock do: request offers, open and close channels,
 * create and tear down GPADLs (also a relay's foreign ones), release,
 * unload, reconnect, tick. The client runs on real partition memory
 * (cvmbus_mem_create, SNP, 512 KiB of guest RAM) whose visibility hook is
 * this harness: it records every page made host-visible, and can make the
 * hypercall fail. The transport accepts posts, or fails them as told.
 *
 * Input:
 *   byte 0  bit 0 connect as confidential; bit 1 over the paravisor path;
 *           bit 2 isolated guest; bit 3 clear_confidential_offers; bit 4
 *           no_monitor_pages; bits 5-6 extra features (guest-specified
 *           signal parameters, interrupt redirection); bit 7 max 5.3;
 *   byte 1  bits 0-1: post_tries - 1 (0..3; so failures end quickly);
 *   then up to 96 steps, each starting with a byte h:
 *     h bit 7 clear: a host message. bit 0 the source SynIC; then a length
 *       byte and that many bytes.
 *     h bit 7 set: an action (h & 15) with a selector s = (h >> 4) & 7:
 *       0 request offers      1 open (a parameter byte follows)
 *       2 close               3 GPADL of 1 + (next byte % 8) pages
 *       4 GPADL teardown      5 release
 *       6 unload              7 tick by {1 us, 100 us, 1 ms, 100 ms, 1 s,
 *                               5 s, 10 s, 60 s}[s]
 *       8 connect again       9 the next s + 1 posts fail (status byte follows)
 *       10 the next s + 1 visibility hypercalls fail
 *       11 foreign GPADL (handle byte, range count byte, value count
 *          byte, then that many u64 values)
 *       12 open over a foreign GPADL (downstream offset byte follows)
 *       13 tick to the next deadline
 *       14 a whole hv_message: type byte (0: VMBus), payload_size byte,
 *          then min(payload_size, 240) payload bytes
 *       15 nothing
 *     Channels are named by s: one of the relids offered so far (s < 7)
 *     or a raw relid byte (s == 7); GPADLs likewise by handle (counting up
 *     from 0xE1E10, or a raw u32).
 *
 * Checked after every step: every call returns 0 or one of its documented
 * errnos; offers_received == offers_accepted + offers_refused and equals
 * the OFFER and OFFER_REFUSED events seen; every message the client posts
 * decodes with cvmbus_wire_decode() as client-to-server under its context,
 * asks for confidential_channels only on a confidential connect, and names
 * in a GpadlHeader/Body only PFNs whose pages are already host-visible
 * (or, for a confidential GPADL, still private); a channel with a
 * confidential ring exists only on a confidential 6.0 connection that got
 * the feature, and none of its ring pages is host-visible now or was made
 * host-visible during the step; every GPADL of the client's own pages is
 * exactly as visible as its `shared` flag says. After destroy: no page is
 * host-visible unless counted as leaked, and, if nothing was leaked, every
 * page of guest RAM is back in the allocator (LeakSanitizer checks the
 * heap).
 */
#include <errno.h>

#include <cvmbus/client.h>
#include <cvmbus/log.h>
#include <cvmbus/memory.h>

#include "fuzz_util.h"

#define FZ_MAX_STEPS 96u
#define FZ_VTL0_PAGES 128u
#define FZ_MAX_RELIDS 16u
#define FZ_MAX_FOREIGN 8u
#define FZ_HANDLE_SPAN 96u

struct fz_cli {
	struct cvmbus_mem *mem;
	struct cvmbus_client *cli;
	struct cvmbus_client_transport t;
	bool confidential;
	uint64_t now;
	/* Transport script: the next post_fail posts return post_status. */
	unsigned post_fail;
	uint16_t post_status;
	/* Visibility hook script and record. */
	unsigned vis_fail;
	uint8_t shared_mark[FZ_VTL0_PAGES]; /* made host-visible during this step */
	uint64_t vis_calls;
	/* What the harness learnt from events. */
	uint32_t relids[FZ_MAX_RELIDS];
	unsigned nrelids;
	uint32_t foreign[FZ_MAX_FOREIGN];
	unsigned nforeign;
	uint64_t ev_offer, ev_refused;
};

/* ---- Helpers ---------------------------------------------------------------- */

static uint32_t fz_le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t fz_le64(const uint8_t *b)
{
	return (uint64_t)fz_le32(b) | (uint64_t)fz_le32(b + 4) << 32;
}

static bool fz_errno_ok(int rc, const int *allowed, size_t n)
{
	if (rc == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (rc == -allowed[i])
			return true;
	}
	return false;
}

/* What cvmbus_client_handle_message may return: the wire decoder's
 * errnos, then the client's own (client.h). */
static bool fz_rx_rc_ok(int rc)
{
	static const int own[] = { EPROTO, ENOENT, EINVAL, EPERM, EEXIST, ENOMEM };

	if (fz_errno_ok(rc, own, sizeof(own) / sizeof(own[0])))
		return true;
	for (int e = 1; e < CVMBUS_WIRE_ERROR_COUNT; e++) {
		if (rc == -cvmbus_wire_errno((enum cvmbus_wire_error)e))
			return true;
	}
	return false;
}

/* The driver-facing calls: the errnos of client.h's header comment. */
static bool fz_api_rc_ok(int rc)
{
	static const int api[] = { EINVAL, ENOENT, ENOTCONN, EBUSY, ENODEV, ENOMEM,
				   ENOSPC, EIO, EALREADY, E2BIG, EEXIST, EOPNOTSUPP };

	return fz_errno_ok(rc, api, sizeof(api) / sizeof(api[0]));
}

static int fz_page_state(struct fz_cli *f, uint64_t gpa)
{
	int st = cvmbus_mem_page_state(f->mem, gpa);

	FZ_CHECK(st >= 0);
	return st;
}

/* ---- The host's side: transport and visibility hook -------------------------- */

/* The PFNs a GpadlHeader or GpadlBody of one of our own GPADLs names must
 * already be in their final state: host-visible for a shared GPADL (the
 * host must be able to map every PFN it learns), private for a
 * confidential one. */
static void fz_check_posted_pfns(struct fz_cli *f, const uint8_t *b, size_t len)
{
	uint32_t type = fz_le32(b);
	struct cvmbus_client_gpadl_info gi;
	size_t at, first;

	if (type == CVMBUS_MSG_GPADL_HEADER) {
		at = 20;
		first = 1; /* value 0 is the one range */
	} else {
		at = 16;
		first = 0;
	}
	if (cvmbus_client_gpadl_info(f->cli, fz_le32(b + 12), &gi) != 0 || gi.foreign)
		return;
	for (size_t i = 0; at + 8 * (i + 1) <= len; i++) {
		uint64_t pfn;

		if (i < first)
			continue;
		pfn = fz_le64(b + at + 8 * i);
		FZ_CHECK(pfn >= gi.gpa / HV_PAGE_SIZE && pfn < gi.gpa / HV_PAGE_SIZE + gi.npages);
		FZ_CHECK(fz_page_state(f, pfn * HV_PAGE_SIZE) ==
			 (gi.shared ? CVMBUS_MEM_PAGE_SHARED : CVMBUS_MEM_PAGE_PRIVATE));
	}
}

static uint16_t fz_post(void *ctx, uint32_t connection_id, const void *msg, size_t len)
{
	struct fz_cli *f = ctx;
	const uint8_t *b = msg;
	struct cvmbus_wire_msg m;
	struct cvmbus_wire_status st;
	uint32_t version = cvmbus_client_version(f->cli);
	uint32_t features = cvmbus_client_features(f->cli);
	int rc;

	(void)connection_id;
	FZ_CHECK(len >= CVMBUS_WIRE_HEADER_SIZE && len <= CVMBUS_WIRE_MAX_SIZE);
	/* A transport must not be re-entered: the client says so. */
	FZ_CHECK(cvmbus_client_handle_message(f->cli, msg, len, CVMBUS_CLIENT_PATH_HYPERVISOR) ==
		 -EDEADLK);
	if (fz_le32(b) == CVMBUS_MSG_INITIATE_CONTACT) {
		rc = cvmbus_wire_decode(msg, len, 0, 0, CVMBUS_WIRE_TO_SERVER, &m, &st);
		FZ_CHECK(rc == 0);
		if (m.u.initiate_contact.version_requested >= CVMBUS_VERSION_6_0 &&
		    (m.u.initiate_contact.feature_flags & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS))
			FZ_CHECK(f->confidential);
	} else {
		rc = cvmbus_wire_decode(msg, len, version, features, CVMBUS_WIRE_TO_SERVER, &m, &st);
		FZ_CHECK(rc == 0);
		if (m.variant == CVMBUS_WIRE_GPADL_HEADER || m.variant == CVMBUS_WIRE_GPADL_BODY)
			fz_check_posted_pfns(f, b, len);
	}
	if (f->post_fail) {
		f->post_fail--;
		return f->post_status;
	}
	return HV_STATUS_SUCCESS;
}

static uint16_t fz_visibility(void *ctx,
			      const struct hv_input_modify_sparse_gpa_page_host_visibility *in,
			      uint32_t rep_count)
{
	struct fz_cli *f = ctx;

	f->vis_calls++;
	FZ_CHECK(rep_count <= HV_MAX_MODIFY_GPA_REP_COUNT);
	if (f->vis_fail) {
		f->vis_fail--;
		return HV_STATUS_INSUFFICIENT_MEMORY;
	}
	if ((in->host_visibility & 3u) != 0) {
		for (uint32_t i = 0; i < rep_count; i++) {
			uint64_t pfn = in->gpa_page_list[i];

			FZ_CHECK(pfn < FZ_VTL0_PAGES);
			f->shared_mark[pfn] = 1;
		}
	}
	return cvmbus_mem_visibility_default(cvmbus_mem_host(f->mem), in, rep_count);
}

/* ---- Selectors ------------------------------------------------------------------ */

static uint32_t fz_pick_relid(struct fz_cli *f, struct fz_in *in, unsigned s)
{
	if (s == 7 || f->nrelids == 0)
		return fz_u8(in);
	return f->relids[s % f->nrelids];
}

static uint32_t fz_pick_handle(struct fz_in *in, unsigned s)
{
	if (s == 7)
		return fz_u32(in);
	return CVMBUS_CLIENT_FIRST_GPADL + fz_u8(in) % 16u;
}

/* ---- Invariants ------------------------------------------------------------------ */

static void fz_drain_events(struct fz_cli *f)
{
	struct cvmbus_client_event ev;

	while (cvmbus_client_next_event(f->cli, &ev)) {
		FZ_CHECK((unsigned)ev.type > CVMBUS_CLIENT_EV_NONE &&
			 (unsigned)ev.type < CVMBUS_CLIENT_EV_COUNT);
		FZ_CHECK(ev.status <= 0);
		if (ev.type == CVMBUS_CLIENT_EV_OFFER) {
			bool known = false;

			f->ev_offer++;
			FZ_CHECK(ev.relid >= 1 && ev.relid <= CVMBUS_CLIENT_MAX_RELID);
			for (unsigned i = 0; i < f->nrelids; i++)
				known |= f->relids[i] == ev.relid;
			if (!known && f->nrelids < FZ_MAX_RELIDS)
				f->relids[f->nrelids++] = ev.relid;
		} else if (ev.type == CVMBUS_CLIENT_EV_OFFER_REFUSED) {
			f->ev_refused++;
			FZ_CHECK(ev.reason != CVMBUS_CLIENT_DROP_NONE && ev.status < 0);
		}
	}
}

static void fz_check_pages(struct fz_cli *f, uint64_t gpa, uint64_t npages, bool shared,
			   bool never_marked)
{
	FZ_CHECK(gpa % HV_PAGE_SIZE == 0);
	FZ_CHECK(gpa / HV_PAGE_SIZE + npages <= FZ_VTL0_PAGES);
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t page = gpa / HV_PAGE_SIZE + i;

		FZ_CHECK(fz_page_state(f, page * HV_PAGE_SIZE) ==
			 (shared ? CVMBUS_MEM_PAGE_SHARED : CVMBUS_MEM_PAGE_PRIVATE));
		if (never_marked)
			FZ_CHECK(!f->shared_mark[page]);
	}
}

static void fz_check_channels(struct fz_cli *f)
{
	uint32_t version = cvmbus_client_version(f->cli);
	uint32_t features = cvmbus_client_features(f->cli);

	for (unsigned i = 0; i < f->nrelids; i++) {
		struct cvmbus_client_channel_info ci;

		if (cvmbus_client_channel_info(f->cli, f->relids[i], &ci) != 0)
			continue;
		if (ci.confidential_ring || ci.confidential_external) {
			/* Only a paravisor we connected to as confidential, at 6.0,
			 * that granted the feature may keep rings private. */
			FZ_CHECK(f->confidential && version >= CVMBUS_VERSION_6_0 &&
				 (features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS));
			FZ_CHECK(ci.confidential_ring);
		}
		FZ_CHECK(!(ci.offer.flags & (CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
					      CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY)) ||
			 ci.confidential_ring);
		if (!ci.ring_gpadl || ci.foreign_ring)
			continue;
		FZ_CHECK(ci.send_bytes >= 2 * HV_PAGE_SIZE && ci.recv_bytes >= 2 * HV_PAGE_SIZE);
		/* The point of Confidential VMBus: a confidential ring never
		 * reaches the host, not even for a moment. */
		FZ_CHECK(ci.ring_shared == !ci.confidential_ring);
		fz_check_pages(f, ci.ring_gpa, (ci.send_bytes + (uint64_t)ci.recv_bytes) / HV_PAGE_SIZE,
			       ci.ring_shared, ci.confidential_ring);
	}
}

static void fz_check_gpadls(struct fz_cli *f)
{
	for (uint32_t h = CVMBUS_CLIENT_FIRST_GPADL;
	     h < CVMBUS_CLIENT_FIRST_GPADL + FZ_HANDLE_SPAN; h++) {
		struct cvmbus_client_gpadl_info gi;
		struct cvmbus_client_channel_info ci;

		if (cvmbus_client_gpadl_info(f->cli, h, &gi) != 0 || gi.foreign)
			continue;
		FZ_CHECK(gi.handle == h && gi.npages > 0);
		fz_check_pages(f, gi.gpa, gi.npages, gi.shared, !gi.shared);
		/* A confidential channel's buffers stay private iff it has
		 * confidential external memory; its ring iff a confidential ring. */
		if (cvmbus_client_channel_info(f->cli, gi.relid, &ci) == 0)
			FZ_CHECK(gi.shared == !(gi.ring ? ci.confidential_ring
							: ci.confidential_external));
	}
}

static void fz_check_step(struct fz_cli *f)
{
	struct cvmbus_client_stats s;

	fz_drain_events(f);
	cvmbus_client_get_stats(f->cli, &s);
	FZ_CHECK(s.offers_received == s.offers_accepted + s.offers_refused);
	if (s.events_dropped == 0) {
		FZ_CHECK(s.offers_accepted == f->ev_offer);
		FZ_CHECK(s.offers_refused == f->ev_refused);
	}
	FZ_CHECK(s.rx_by_path[0] + s.rx_by_path[1] == s.rx_messages);
	FZ_CHECK(s.tx_retries <= s.tx_posts);
	fz_check_channels(f);
	fz_check_gpadls(f);
	memset(f->shared_mark, 0, sizeof(f->shared_mark));
}

/* ---- Steps ------------------------------------------------------------------------ */

static void fz_host_message(struct fz_cli *f, uint8_t h, struct fz_in *in)
{
	uint8_t len = fz_u8(in);
	uint8_t *msg = malloc(len ? len : 1);
	enum cvmbus_client_path src = (h & 1u) ? CVMBUS_CLIENT_PATH_PARAVISOR
					       : CVMBUS_CLIENT_PATH_HYPERVISOR;
	int rc;

	/* An exact-size copy: the client must not read past it. */
	FZ_CHECK(msg != NULL);
	fz_take(in, msg, len);
	rc = cvmbus_client_handle_message(f->cli, msg, len, src);
	FZ_CHECK(fz_rx_rc_ok(rc));
	free(msg);
}

static void fz_hv_message(struct fz_cli *f, struct fz_in *in)
{
	struct hv_message m;
	uint8_t type = fz_u8(in);
	uint8_t size = fz_u8(in);
	int rc;

	memset(&m, 0, sizeof(m));
	m.header.message_type = type ? type : HVMSG_VMBUS;
	m.header.payload_size = size;
	fz_take(in, m.payload, size < sizeof(m.payload) ? size : sizeof(m.payload));
	rc = cvmbus_client_handle_hv_message(f->cli, &m, CVMBUS_CLIENT_PATH_PARAVISOR);
	FZ_CHECK(fz_rx_rc_ok(rc));
}

static void fz_open(struct fz_cli *f, uint32_t relid, struct fz_in *in)
{
	uint8_t p = fz_u8(in);
	static const uint8_t user[4] = { 1, 2, 3, 4 };
	struct cvmbus_client_open_params op = {
		.send_bytes = (2u + (p & 3u)) * HV_PAGE_SIZE,
		.recv_bytes = (2u + ((p >> 2) & 3u)) * HV_PAGE_SIZE,
		.user_data = user,
		.user_data_len = sizeof(user),
		.target_vp = (p & 0x40u) ? CVMBUS_VP_INDEX_DISABLE_INTERRUPT : 0,
		.connection_id = 0x2000u + relid,
		.event_flag = (uint16_t)relid,
		.open_flags = (p & 0x10u) ? CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT : 0,
	};

	/* A bad size now and then, which must be refused before anything. */
	if (p & 0x80u)
		op.send_bytes = 4096 + (p & 0x20u);
	FZ_CHECK(fz_api_rc_ok(cvmbus_client_open(f->cli, relid, &op)));
}

static void fz_gpadl_foreign(struct fz_cli *f, uint32_t relid, struct fz_in *in)
{
	uint32_t handle = 0x100u + fz_u8(in);
	uint16_t range_count = fz_u8(in);
	uint8_t nvalues = fz_u8(in);
	uint64_t values[256];
	int rc;

	for (unsigned i = 0; i < nvalues; i++) {
		uint8_t b[8];

		fz_take(in, b, sizeof(b));
		values[i] = fz_le64(b);
	}
	rc = cvmbus_client_gpadl_create_foreign(f->cli, relid, handle, range_count, values,
						nvalues);
	FZ_CHECK(fz_api_rc_ok(rc));
	if (rc == 0 && f->nforeign < FZ_MAX_FOREIGN)
		f->foreign[f->nforeign++] = handle;
}

static void fz_open_foreign(struct fz_cli *f, uint32_t relid, unsigned s, struct fz_in *in)
{
	struct cvmbus_client_open_foreign_params p = {
		.ring_gpadl = f->nforeign ? f->foreign[s % f->nforeign] : 0x100u,
		.downstream_page_offset = fz_u8(in),
		.target_vp = 0,
		.connection_id = 0x3000u + relid,
		.event_flag = (uint16_t)relid,
	};

	FZ_CHECK(fz_api_rc_ok(cvmbus_client_open_foreign(f->cli, relid, &p)));
}

static void fz_action(struct fz_cli *f, uint8_t h, struct fz_in *in)
{
	static const uint64_t ticks[8] = {
		1000ull, 100000ull, 1000000ull, 100000000ull,
		1000000000ull, 5000000000ull, 10000000000ull, 60000000000ull,
	};
	static const uint16_t statuses[4] = {
		HV_STATUS_INSUFFICIENT_BUFFERS, HV_STATUS_INVALID_CONNECTION_ID,
		HV_STATUS_INSUFFICIENT_MEMORY, HV_STATUS_ACCESS_DENIED,
	};
	unsigned s = ((unsigned)h >> 4) & 7u;
	uint32_t handle, relid;
	uint64_t gpa, d;
	int rc = 0;

	switch (h & 15u) {
	case 0:
		rc = cvmbus_client_request_offers(f->cli);
		break;
	case 1:
		fz_open(f, fz_pick_relid(f, in, s), in);
		break;
	case 2:
		rc = cvmbus_client_close(f->cli, fz_pick_relid(f, in, s));
		break;
	case 3:
		relid = fz_pick_relid(f, in, s);
		rc = cvmbus_client_gpadl_create(f->cli, relid, (1u + fz_u8(in) % 8u) * HV_PAGE_SIZE,
						&handle, &gpa);
		break;
	case 4:
		relid = fz_pick_relid(f, in, s);
		rc = cvmbus_client_gpadl_teardown(f->cli, relid, fz_pick_handle(in, s));
		break;
	case 5:
		rc = cvmbus_client_release(f->cli, fz_pick_relid(f, in, s));
		break;
	case 6:
		rc = cvmbus_client_unload(f->cli);
		break;
	case 7:
		f->now += ticks[s];
		cvmbus_client_tick(f->cli, f->now);
		break;
	case 8:
		rc = cvmbus_client_connect(f->cli, &f->t, f->confidential);
		break;
	case 9:
		f->post_fail = s + 1u;
		f->post_status = statuses[fz_u8(in) & 3u];
		break;
	case 10:
		f->vis_fail = s + 1u;
		break;
	case 11:
		fz_gpadl_foreign(f, fz_pick_relid(f, in, s), in);
		break;
	case 12:
		relid = fz_pick_relid(f, in, s);
		fz_open_foreign(f, relid, s, in);
		break;
	case 13:
		d = cvmbus_client_next_deadline(f->cli);
		if (d != UINT64_MAX && d > f->now)
			f->now = d;
		cvmbus_client_tick(f->cli, f->now);
		break;
	case 14:
		fz_hv_message(f, in);
		break;
	default:
		break;
	}
	FZ_CHECK(fz_api_rc_ok(rc));
}

/* ---- The end ------------------------------------------------------------------------ */

/* Destroy must hand every page back: private, and to the allocator. */
static void fz_finish(struct fz_cli *f)
{
	struct cvmbus_mem_exposure_totals tot;
	struct cvmbus_client_stats s;
	uint64_t base = 0, bytes = 0, gpa = 0;

	/* The hypercalls of destroy succeed: otherwise it must leak, and
	 * could not say so any more. */
	f->vis_fail = 0;
	cvmbus_client_get_stats(f->cli, &s);
	cvmbus_client_destroy(f->cli);
	f->cli = NULL;
	cvmbus_mem_exposure_total(f->mem, &tot);
	FZ_CHECK(tot.pages_now <= s.pages_leaked);
	FZ_CHECK(cvmbus_mem_region(f->mem, CVMBUS_MEM_REGION_VTL0, &base, &bytes) == 0);
	if (s.pages_leaked == 0) {
		FZ_CHECK(tot.pages_now == 0);
		FZ_CHECK(cvmbus_mem_alloc(f->mem, CVMBUS_MEM_REGION_VTL0, bytes / HV_PAGE_SIZE,
					  &gpa) == 0);
		FZ_CHECK(gpa == base);
	}
}

static void fz_discard_log(void *ctx, enum cvmbus_log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The client logs what the host does wrong; a fuzzer makes it do
	 * everything wrong, millions of times. */
	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	cvmbus_log_set_sink(fz_discard_log, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = fz_in_make(data, size);
	uint8_t c0 = fz_u8(&in), c1 = fz_u8(&in);
	struct fz_cli *f = calloc(1, sizeof(*f));
	struct cvmbus_mem_config mc = {
		.isolation = HV_ISOLATION_TYPE_SNP,
		.vtl0_bytes = FZ_VTL0_PAGES * HV_PAGE_SIZE,
		.vtl2_bytes = 0,
	};
	struct cvmbus_client_config cc;
	unsigned steps = 0;

	FZ_CHECK(f != NULL);
	mc.visibility_fn = fz_visibility;
	mc.visibility_ctx = f;
	FZ_CHECK(cvmbus_mem_create(&mc, &f->mem) == 0);

	memset(&cc, 0, sizeof(cc));
	cc.mem = f->mem;
	cc.max_version = (c0 & 0x80u) ? CVMBUS_VERSION_5_3 : 0;
	cc.isolated = (c0 & 0x04u) != 0;
	cc.shared_gpa_boundary = cvmbus_mem_shared_gpa_boundary(f->mem);
	cc.extra_features = ((c0 & 0x20u) ? CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS : 0) |
			    ((c0 & 0x40u) ? CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION : 0);
	cc.post_tries = 1u + (c1 & 3u);
	cc.no_monitor_pages = (c0 & 0x10u) != 0;
	cc.clear_confidential_offers = (c0 & 0x08u) != 0;
	FZ_CHECK(cvmbus_client_create(&cc, &f->cli) == 0);

	f->confidential = (c0 & 0x01u) != 0;
	f->t.post_message = fz_post;
	f->t.ctx = f;
	f->t.path = (c0 & 0x02u) ? CVMBUS_CLIENT_PATH_PARAVISOR : CVMBUS_CLIENT_PATH_HYPERVISOR;
	FZ_CHECK(cvmbus_client_connect(f->cli, &f->t, f->confidential) == 0);
	fz_check_step(f);

	while (in.n && steps++ < FZ_MAX_STEPS) {
		uint8_t h = fz_u8(&in);

		if (h & 0x80u)
			fz_action(f, h, &in);
		else
			fz_host_message(f, h, &in);
		fz_check_step(f);
	}
	fz_finish(f);
	cvmbus_mem_destroy(f->mem);
	free(f);
	return 0;
}
