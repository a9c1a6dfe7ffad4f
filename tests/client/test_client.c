/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the guest VMBus client (src/client) against a scripted
 * server written here: a transport that records every HvPostMessage (and
 * returns the statuses a test scripts), hand-built server messages injected
 * as raw bytes, and a partition memory whose visibility hook logs each
 * host-visibility change in the same ordered log as the posts. Expected
 * wire bytes are written out by hand from the layouts, never produced by
 * the wire encoder the client uses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmbus/client.h"
#include "cvmbus/log.h"
#include "cvmbus/memory.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define BOUNDARY (1ull << 46) /* SNP vTOM default of the memory model */
/* The fixture reserves this many pages first, so the client's pages have
 * GPAs that are not 0: int page 0x10000, monitor pages 0x11000, 0x12000. */
#define RESERVED_PAGES 16u
#define V(maj, min) (((uint32_t)(maj) << 16) | (min))

/* ---- Byte helpers (little-endian, by hand) ------------------------------ */

static uint16_t rd16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] | b[off + 1] << 8);
}

static uint32_t rd32(const uint8_t *b, size_t off)
{
	return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
	       (uint32_t)b[off + 3] << 24;
}

static uint64_t rd64(const uint8_t *b, size_t off)
{
	return (uint64_t)rd32(b, off) | (uint64_t)rd32(b, off + 4) << 32;
}

static void wr16(uint8_t *b, size_t off, uint16_t v)
{
	b[off] = (uint8_t)v;
	b[off + 1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *b, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[off + i] = (uint8_t)(v >> (8 * i));
}

/* ---- The scripted server --------------------------------------------------- */

#define MAX_POSTS 1024
#define MAX_LOG   2048

struct post {
	enum cvmbus_client_path path;
	uint32_t conn_id;
	size_t len;
	uint8_t b[240];
	int log_index;
	/* GPADL header: how many of its PFNs were host-visible when posted. */
	uint32_t pfns_shared_at_post;
};

enum log_kind { LOG_POST, LOG_VISIBILITY };

struct log_entry {
	enum log_kind kind;
	uint32_t msgtype;     /* POST */
	uint64_t first_pfn;   /* VISIBILITY */
	uint32_t count;
	uint32_t visibility;
};

struct fx;

struct xport {
	struct fx *f;
	struct cvmbus_client_transport t;
	/* Statuses returned in order; then `dflt`. */
	uint16_t script[256];
	size_t nscript, iscript;
	uint16_t dflt;
	/* If set, returned for every post on connection id 4. */
	uint16_t conn4_status;
	size_t nposts;
};

struct fx {
	struct cvmbus_mem *mem;
	struct cvmbus_client *cli;
	struct cvmbus_client_config cfg;
	struct xport hyp, para;
	struct post posts[MAX_POSTS];
	size_t nposts, rd;
	struct log_entry log[MAX_LOG];
	size_t nlog;
	uint64_t now;
	uint32_t conn_id; /* what the scripted server hands out from 5.0 on */
};

static void fx_log(struct fx *f, const struct log_entry *e)
{
	if (f->nlog < MAX_LOG)
		f->log[f->nlog++] = *e;
}

static uint16_t xport_post(void *ctx, uint32_t connection_id, const void *msg, size_t len)
{
	struct xport *x = ctx;
	struct fx *f = x->f;
	const uint8_t *b = msg;
	struct log_entry e = { .kind = LOG_POST };
	uint16_t status;

	assert_true(len >= 8 && len <= 240);
	x->nposts++;
	if (x->conn4_status && connection_id == 4)
		status = x->conn4_status;
	else if (x->iscript < x->nscript)
		status = x->script[x->iscript++];
	else
		status = x->dflt;
	if (status != HV_STATUS_SUCCESS)
		return status; /* the hypercall failed: nothing reached the server */

	e.msgtype = rd32(b, 0);
	if (f->nposts < MAX_POSTS) {
		struct post *p = &f->posts[f->nposts++];

		memset(p, 0, sizeof(*p));
		p->path = x->t.path;
		p->conn_id = connection_id;
		p->len = len;
		memcpy(p->b, b, len);
		p->log_index = (int)f->nlog;
		if (e.msgtype == CVMBUS_MSG_GPADL_HEADER) {
			size_t n = (len - 28) / 8;

			for (size_t i = 0; i < n; i++) {
				uint64_t gpa = rd64(b, 28 + 8 * i) << 12;

				if (cvmbus_mem_page_state(f->mem, gpa) == CVMBUS_MEM_PAGE_SHARED)
					p->pfns_shared_at_post++;
			}
		}
	}
	fx_log(f, &e);
	return HV_STATUS_SUCCESS;
}

static uint16_t vis_hook(void *ctx,
			 const struct hv_input_modify_sparse_gpa_page_host_visibility *in,
			 uint32_t n)
{
	struct fx *f = ctx;
	struct log_entry e = {
		.kind = LOG_VISIBILITY,
		.first_pfn = in->gpa_page_list[0],
		.count = n,
		.visibility = in->host_visibility,
	};

	fx_log(f, &e);
	return cvmbus_mem_visibility_default(cvmbus_mem_host(f->mem), in, n);
}

static void log_sink(void *ctx, enum cvmbus_log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

struct opts {
	uint32_t max_version;
	bool isolated;
	uint32_t extra_features;
	uint32_t post_tries;
	enum hv_isolation_type isolation;
};

static struct fx *fx_new(const struct opts *o)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cvmbus_mem_config mc = {
		.isolation = o && o->isolation ? o->isolation : HV_ISOLATION_TYPE_SNP,
		.vtl0_bytes = 16ull << 20,
		.vtl2_bytes = 0,
	};
	uint64_t reserved;

	assert_non_null(f);
	assert_int_equal(cvmbus_mem_create(&mc, &f->mem), 0);
	cvmbus_mem_set_visibility_handler(f->mem, vis_hook, f);
	assert_int_equal(cvmbus_mem_alloc(f->mem, CVMBUS_MEM_REGION_VTL0, RESERVED_PAGES,
					  &reserved), 0);
	assert_int_equal(reserved, 0);

	f->cfg.mem = f->mem;
	f->cfg.max_version = o ? o->max_version : 0;
	f->cfg.isolated = o ? o->isolated : false;
	f->cfg.extra_features = o ? o->extra_features : 0;
	f->cfg.post_tries = o ? o->post_tries : 0;
	f->cfg.shared_gpa_boundary = cvmbus_mem_shared_gpa_boundary(f->mem);
	assert_int_equal(cvmbus_client_create(&f->cfg, &f->cli), 0);

	f->hyp.f = f;
	f->hyp.t.post_message = xport_post;
	f->hyp.t.ctx = &f->hyp;
	f->hyp.t.path = CVMBUS_CLIENT_PATH_HYPERVISOR;
	f->para = f->hyp;
	f->para.t.ctx = &f->para;
	f->para.t.path = CVMBUS_CLIENT_PATH_PARAVISOR;
	f->conn_id = 0x2A;
	return f;
}

static void fx_free(struct fx *f)
{
	cvmbus_client_destroy(f->cli);
	cvmbus_mem_destroy(f->mem);
	free(f);
}

static void advance(struct fx *f, uint64_t ns)
{
	f->now += ns;
	cvmbus_client_tick(f->cli, f->now);
}

static struct post *take_post(struct fx *f)
{
	assert_true(f->rd < f->nposts);
	return &f->posts[f->rd++];
}

static struct post *take_post_type(struct fx *f, uint32_t type)
{
	struct post *p = take_post(f);

	if (rd32(p->b, 0) != type)
		fail_msg("expected message type %u, got %u", type, rd32(p->b, 0));
	return p;
}

static void expect_no_post(struct fx *f)
{
	if (f->rd != f->nposts)
		fail_msg("unexpected post of type %u", rd32(f->posts[f->rd].b, 0));
}

static struct cvmbus_client_event next_ev(struct fx *f)
{
	struct cvmbus_client_event ev;

	if (!cvmbus_client_next_event(f->cli, &ev))
		fail_msg("no event");
	return ev;
}

static void expect_ev(struct fx *f, enum cvmbus_client_event_type type, int status,
		      uint32_t relid)
{
	struct cvmbus_client_event ev = next_ev(f);

	if (ev.type != type || ev.status != status || ev.relid != relid)
		fail_msg("expected %s(%d, relid %u), got %s(%d, relid %u)",
			 cvmbus_client_event_name(type), status, relid,
			 cvmbus_client_event_name(ev.type), ev.status, ev.relid);
}

static void expect_no_ev(struct fx *f)
{
	struct cvmbus_client_event ev;

	if (cvmbus_client_next_event(f->cli, &ev))
		fail_msg("unexpected event %s(%d)", cvmbus_client_event_name(ev.type), ev.status);
}

/* ---- Server messages, built by hand --------------------------------------- */

static int inject(struct fx *f, const uint8_t *b, size_t len)
{
	return cvmbus_client_handle_message(f->cli, b, len, CVMBUS_CLIENT_PATH_PARAVISOR);
}

static int inj_version_response(struct fx *f, uint8_t supported, uint32_t conn_id)
{
	uint8_t b[16] = { 0 };

	wr32(b, 0, 15);
	b[8] = supported;
	b[9] = 0;
	wr32(b, 12, conn_id);
	return inject(f, b, sizeof(b));
}

static int inj_version_response2(struct fx *f, uint8_t supported, uint32_t conn_id,
				 uint32_t features)
{
	uint8_t b[20] = { 0 };

	wr32(b, 0, 15);
	b[8] = supported;
	wr32(b, 12, conn_id);
	wr32(b, 16, features);
	return inject(f, b, sizeof(b));
}

static void build_offer(uint8_t b[196], uint32_t relid, uint16_t flags)
{
	memset(b, 0, 196);
	wr32(b, 0, 1);
	for (int i = 0; i < 16; i++) {
		b[8 + i] = (uint8_t)(0xA0 + i);       /* if_type */
		b[24 + i] = (uint8_t)(relid + i);     /* if_instance */
	}
	wr16(b, 56, flags);
	wr32(b, 184, relid);
	wr32(b, 192, 0x10000 + relid); /* connection id for signalling */
}

static int inj_offer(struct fx *f, uint32_t relid, uint16_t flags)
{
	uint8_t b[196];

	build_offer(b, relid, flags);
	return inject(f, b, sizeof(b));
}

static int inj_hdr_only(struct fx *f, uint32_t type)
{
	uint8_t b[8] = { 0 };

	wr32(b, 0, type);
	return inject(f, b, sizeof(b));
}

static int inj_relid_msg(struct fx *f, uint32_t type, uint32_t relid)
{
	uint8_t b[12] = { 0 };

	wr32(b, 0, type);
	wr32(b, 8, relid);
	return inject(f, b, sizeof(b));
}

static int inj_gpadl_created(struct fx *f, uint32_t relid, uint32_t gpadl, uint32_t status)
{
	uint8_t b[20] = { 0 };

	wr32(b, 0, 10);
	wr32(b, 8, relid);
	wr32(b, 12, gpadl);
	wr32(b, 16, status);
	return inject(f, b, sizeof(b));
}

static int inj_open_result(struct fx *f, uint32_t relid, uint32_t openid, uint32_t status)
{
	uint8_t b[20] = { 0 };

	wr32(b, 0, 6);
	wr32(b, 8, relid);
	wr32(b, 12, openid);
	wr32(b, 16, status);
	return inject(f, b, sizeof(b));
}

static int inj_torndown(struct fx *f, uint32_t gpadl)
{
	return inj_relid_msg(f, 12, gpadl); /* gpadl @8, same shape */
}

/* ---- Flows ------------------------------------------------------------------ */

/* Connects, answering "no" to every version above `version` and "yes" to
 * it. granted < 0: the 16-byte response; otherwise the 20-byte one. */
static void connect_at(struct fx *f, struct xport *x, bool confidential, uint32_t version,
		       int64_t granted)
{
	assert_int_equal(cvmbus_client_connect(f->cli, &x->t, confidential), 0);
	for (;;) {
		struct post *p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
		uint32_t v = rd32(p->b, 8);

		if (v != version) {
			assert_true(v > version);
			assert_int_equal(inj_version_response(f, 0, 0), 0);
			continue;
		}
		if (granted < 0)
			assert_int_equal(inj_version_response(f, 1, f->conn_id), 0);
		else
			assert_int_equal(inj_version_response2(f, 1, f->conn_id,
							       (uint32_t)granted), 0);
		break;
	}
	{
		struct cvmbus_client_event ev = next_ev(f);

		assert_int_equal(ev.type, CVMBUS_CLIENT_EV_CONNECTED);
		assert_int_equal(ev.version, version);
	}
	assert_int_equal(cvmbus_client_state(f->cli), CVMBUS_CLIENT_CONNECTED);
}

static void offer(struct fx *f, uint32_t relid, uint16_t flags)
{
	assert_int_equal(inj_offer(f, relid, flags), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_OFFER, 0, relid);
}

static struct cvmbus_client_open_params ring_params(uint32_t send, uint32_t recv)
{
	struct cvmbus_client_open_params p = {
		.send_bytes = send,
		.recv_bytes = recv,
		.target_vp = 3,
	};
	return p;
}

/* Takes the GPADL header and all bodies of one GPADL; returns its handle. */
static uint32_t take_gpadl_msgs(struct fx *f, uint32_t relid, uint32_t npages,
				struct post **header)
{
	struct post *h = take_post_type(f, CVMBUS_MSG_GPADL_HEADER);
	uint32_t handle = rd32(h->b, 12);
	uint32_t got = (uint32_t)((h->len - 28) / 8);

	assert_int_equal(rd32(h->b, 8), relid);
	assert_int_equal(rd16(h->b, 16), 8 + 8 * npages);
	assert_int_equal(rd16(h->b, 18), 1);
	while (got < npages) {
		struct post *b = take_post_type(f, CVMBUS_MSG_GPADL_BODY);

		assert_int_equal(rd32(b->b, 12), handle);
		got += (uint32_t)((b->len - 16) / 8);
	}
	assert_int_equal(got, npages);
	if (header)
		*header = h;
	return handle;
}

static uint32_t open_channel(struct fx *f, uint32_t relid, uint32_t send, uint32_t recv)
{
	struct cvmbus_client_open_params p = ring_params(send, recv);
	uint32_t handle;
	struct post *op;

	assert_int_equal(cvmbus_client_open(f->cli, relid, &p), 0);
	handle = take_gpadl_msgs(f, relid, (send + recv) / 4096, NULL);
	expect_no_post(f);
	assert_int_equal(inj_gpadl_created(f, relid, handle, 0), 0);
	op = take_post_type(f, CVMBUS_MSG_OPEN_CHANNEL);
	assert_int_equal(rd32(op->b, 16), handle);
	assert_int_equal(inj_open_result(f, relid, relid, 0), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_OPEN_DONE, 0, relid);
	return handle;
}

static void assert_pages(struct fx *f, uint64_t gpa, uint64_t npages, int state)
{
	for (uint64_t i = 0; i < npages; i++)
		if (cvmbus_mem_page_state(f->mem, gpa + i * 4096) != state)
			fail_msg("page 0x%llx: state %d, want %d",
				 (unsigned long long)(gpa + i * 4096),
				 cvmbus_mem_page_state(f->mem, gpa + i * 4096), state);
}

static void assert_offer_accounting(struct fx *f)
{
	struct cvmbus_client_stats st;

	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.offers_received, st.offers_accepted + st.offers_refused);
}

/* ---- Negotiation --------------------------------------------------------------- */

static void test_contact_bytes_60_confidential(void **state)
{
	/* Hand-written from the layout: type 14, version 6.0, target_vcpu 0,
	 * msg_sint 2, msg_vtl 0, reserved 0, feature_flags 0x10, monitor
	 * pages 0x11000 and 0x12000 with the vTOM bit 46 set. */
	static const uint8_t want[40] = {
		0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
		0x00, 0x10, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00,
		0x00, 0x20, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00,
	};
	struct fx *f = fx_new(NULL);
	uint64_t ip, m1, m2;
	struct post *p;

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->para.t, true), 0);
	cvmbus_client_monitor_pages(f->cli, &ip, &m1, &m2);
	assert_int_equal(ip, 0x10000);
	assert_int_equal(m1, 0x11000);
	assert_int_equal(m2, 0x12000);
	/* Monitor pages are host-visible (Linux decrypts them), the
	 * interrupt page is not. */
	assert_pages(f, m1, 2, CVMBUS_MEM_PAGE_SHARED);
	assert_pages(f, ip, 1, CVMBUS_MEM_PAGE_PRIVATE);

	p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(p->conn_id, 4);
	assert_int_equal(p->path, CVMBUS_CLIENT_PATH_PARAVISOR);
	assert_int_equal(p->len, sizeof(want));
	assert_memory_equal(p->b, want, sizeof(want));
	expect_no_post(f);
	fx_free(f);
}

static void test_contact_bytes_60_plain(void **state)
{
	static const uint8_t want[40] = {
		0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* no 0x10 */
		0x00, 0x10, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00,
		0x00, 0x20, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00,
	};
	struct fx *f = fx_new(NULL);
	struct post *p;

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
	p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(p->conn_id, 4);
	assert_memory_equal(p->b, want, sizeof(want));
	fx_free(f);
}

static void test_contact_bytes_53_confidential(void **state)
{
	/* Confidential, but 5.3 has no feature flags: the word stays 0. */
	static const uint8_t want[40] = {
		0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x03, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x10, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00,
		0x00, 0x20, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00,
	};
	struct opts o = { .max_version = V(5, 3) };
	struct fx *f = fx_new(&o);
	struct post *p;

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->para.t, true), 0);
	p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(p->conn_id, 4);
	assert_memory_equal(p->b, want, sizeof(want));
	fx_free(f);
}

static void test_contact_bytes_40(void **state)
{
	/* Below 5.0: the u64 at 16 is the interrupt page (0x10000), and the
	 * message goes on connection id 1. */
	static const uint8_t want[40] = {
		0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x10, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00,
		0x00, 0x20, 0x01, 0x00, 0x00, 0x40, 0x00, 0x00,
	};
	struct opts o = { .max_version = V(4, 0) };
	struct fx *f = fx_new(&o);
	struct post *p;

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, true), 0);
	p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(p->conn_id, 1);
	assert_memory_equal(p->b, want, sizeof(want));
	/* Accepted: later messages use connection id 1, whatever the
	 * response's last field says (it is not a connection id before 5.0). */
	assert_int_equal(inj_version_response(f, 1, 0x77), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_CONNECTED, 0, 0);
	assert_int_equal(cvmbus_client_msg_conn_id(f->cli), 1);
	fx_free(f);
}

static void test_version_fallback(void **state)
{
	struct fx *f = fx_new(NULL);
	struct post *p;

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
	p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(rd32(p->b, 8), V(6, 0));
	expect_no_post(f);
	assert_int_equal(inj_version_response(f, 0, 0), 0);
	expect_no_ev(f);
	p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(rd32(p->b, 8), V(5, 3));
	assert_int_equal(p->conn_id, 4);
	assert_int_equal(rd32(p->b, 20), 0); /* reserved before 6.0 */
	assert_int_equal(inj_version_response(f, 1, 0x123456), 0);
	{
		struct cvmbus_client_event ev = next_ev(f);

		assert_int_equal(ev.type, CVMBUS_CLIENT_EV_CONNECTED);
		assert_int_equal(ev.version, V(5, 3));
		assert_int_equal(ev.features, 0);
	}
	assert_int_equal(cvmbus_client_version(f->cli), V(5, 3));
	assert_int_equal(cvmbus_client_msg_conn_id(f->cli), 0x123456);
	/* Every later message goes on the connection id the host gave. */
	assert_int_equal(cvmbus_client_request_offers(f->cli), 0);
	p = take_post_type(f, CVMBUS_MSG_REQUEST_OFFERS);
	assert_int_equal(p->conn_id, 0x123456);
	assert_int_equal(p->len, 8);
	fx_free(f);
}

static void test_max_version_cap(void **state)
{
	struct opts o = { .max_version = V(5, 1) };
	struct fx *f = fx_new(&o);
	struct cvmbus_client_stats st;
	struct post *p;

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, true), 0);
	p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(rd32(p->b, 8), V(5, 1));
	assert_int_equal(inj_version_response(f, 0, 0), 0);
	p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(rd32(p->b, 8), V(5, 0));
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.versions_tried, 2);
	fx_free(f);

	/* An unknown version as the cap is a configuration error. */
	{
		struct cvmbus_client *cli;
		struct cvmbus_client_config c = { 0 };
		struct fx *g = fx_new(NULL);

		c.mem = g->mem;
		c.max_version = V(5, 9);
		assert_int_equal(cvmbus_client_create(&c, &cli), -EINVAL);
		fx_free(g);
	}
}

static void test_invalid_connection_id(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_stats st;
	static const uint32_t tried[] = { V(6, 0), V(5, 3), V(5, 2), V(5, 1), V(5, 0) };

	(void)state;
	/* An old host: HvPostMessage on connection id 4 fails. Each version
	 * from 5.0 up fails at once, without retries, and 4.1 goes on id 1. */
	f->hyp.conn4_status = HV_STATUS_INVALID_CONNECTION_ID;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
	assert_int_equal(f->hyp.nposts, 6); /* 5 refused hypercalls + 4.1 */
	{
		struct post *p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);

		assert_int_equal(rd32(p->b, 8), V(4, 1));
		assert_int_equal(p->conn_id, 1);
	}
	expect_no_post(f);
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.versions_tried, 6);
	assert_int_equal(st.tx_retries, 0);
	assert_int_equal(st.tx_failures, sizeof(tried) / sizeof(tried[0]));
	assert_int_equal(inj_version_response(f, 1, 0), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_CONNECTED, 0, 0);
	assert_int_equal(cvmbus_client_version(f->cli), V(4, 1));
	assert_int_equal(cvmbus_client_msg_conn_id(f->cli), 1);
	fx_free(f);
}

static void test_contact_timeout(void **state)
{
	struct fx *f = fx_new(NULL);

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
	take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(cvmbus_client_next_deadline(f->cli), f->now + 5 * SEC);
	advance(f, 5 * SEC - 1);
	expect_no_ev(f);
	advance(f, 1);
	/* -ETIMEDOUT aborts the negotiation: no older version is tried. */
	expect_ev(f, CVMBUS_CLIENT_EV_CONNECT_FAILED, -ETIMEDOUT, 0);
	expect_no_post(f);
	assert_int_equal(cvmbus_client_state(f->cli), CVMBUS_CLIENT_FAILED);
	/* A late answer is a host talking out of turn. */
	assert_int_equal(inj_version_response(f, 1, 5), -EPROTO);
	{
		struct cvmbus_client_event ev = next_ev(f);

		assert_int_equal(ev.type, CVMBUS_CLIENT_EV_PROTOCOL_ERROR);
		assert_int_equal(ev.reason, CVMBUS_CLIENT_DROP_UNEXPECTED);
	}
	assert_int_equal(cvmbus_client_state(f->cli), CVMBUS_CLIENT_FAILED);
	fx_free(f);
}

static void test_versions_exhausted(void **state)
{
	static const uint32_t order[] = { V(6, 0), V(5, 3), V(5, 2), V(5, 1), V(5, 0),
					  V(4, 1), V(4, 0), V(3, 0), V(2, 4) };
	struct fx *f = fx_new(NULL);

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct post *p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);

		assert_int_equal(rd32(p->b, 8), order[i]);
		assert_int_equal(p->conn_id, order[i] >= V(5, 0) ? 4 : 1);
		assert_int_equal(inj_version_response(f, 0, 0), 0);
	}
	expect_ev(f, CVMBUS_CLIENT_EV_CONNECT_FAILED, -EDOM, 0);
	expect_no_post(f);
	fx_free(f);
}

static void test_isolated_refuses_below_52(void **state)
{
	struct opts o = { .isolated = true };
	struct fx *f = fx_new(&o);

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
	/* A host that refuses 6.0, 5.3 and 5.2 and takes 5.1: a downgrade an
	 * isolated guest must not accept. */
	for (int i = 0; i < 3; i++) {
		take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
		assert_int_equal(inj_version_response(f, 0, 0), 0);
	}
	take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(inj_version_response(f, 1, 9), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_CONNECT_FAILED, -EINVAL, 0);
	assert_int_equal(cvmbus_client_state(f->cli), CVMBUS_CLIENT_FAILED);
	assert_int_equal(cvmbus_client_version(f->cli), 0);
	expect_no_post(f); /* as Linux: no Unload for a version never recorded */
	assert_int_equal(cvmbus_client_request_offers(f->cli), -ENOTCONN);
	fx_free(f);

	/* 5.2 is enough. */
	f = fx_new(&o);
	connect_at(f, &f->hyp, false, V(5, 2), -1);
	fx_free(f);
}

static void test_insufficient_buffers_retry(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_stats st;

	(void)state;
	f->hyp.script[0] = HV_STATUS_INSUFFICIENT_BUFFERS;
	f->hyp.script[1] = HV_STATUS_INSUFFICIENT_MEMORY;
	f->hyp.script[2] = HV_STATUS_INSUFFICIENT_BUFFERS;
	f->hyp.nscript = 3;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
	/* No sleeping inside: the backoff is a deadline, 1, 2, 4 us as Linux. */
	assert_int_equal(f->hyp.nposts, 1);
	expect_no_post(f);
	assert_int_equal(cvmbus_client_next_deadline(f->cli), f->now + 1000);
	advance(f, 999);
	assert_int_equal(f->hyp.nposts, 1);
	advance(f, 1);
	assert_int_equal(f->hyp.nposts, 2);
	assert_int_equal(cvmbus_client_next_deadline(f->cli), f->now + 2000);
	advance(f, 2000);
	assert_int_equal(f->hyp.nposts, 3);
	assert_int_equal(cvmbus_client_next_deadline(f->cli), f->now + 4000);
	advance(f, 4000);
	assert_int_equal(f->hyp.nposts, 4);
	{
		/* The same version, delivered on the fourth try; its answer's
		 * deadline starts now, not at the first try. */
		struct post *p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);

		assert_int_equal(rd32(p->b, 8), V(6, 0));
	}
	assert_int_equal(cvmbus_client_next_deadline(f->cli), f->now + 5 * SEC);
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.tx_retries, 3);
	assert_int_equal(inj_version_response(f, 1, 3), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_CONNECTED, 0, 0);
	fx_free(f);

	/* Retries are bounded: with 4 tries the version fails with -ENOBUFS
	 * and the next one is tried. */
	{
		struct opts o = { .post_tries = 4 };

		f = fx_new(&o);
		for (int i = 0; i < 4; i++)
			f->hyp.script[i] = HV_STATUS_INSUFFICIENT_BUFFERS;
		f->hyp.nscript = 4;
		assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
		advance(f, 1000);
		advance(f, 2000);
		advance(f, 4000);
		assert_int_equal(f->hyp.nposts, 5);
		{
			struct post *p = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);

			assert_int_equal(rd32(p->b, 8), V(5, 3));
		}
		cvmbus_client_get_stats(f->cli, &st);
		assert_int_equal(st.tx_failures, 1);
		fx_free(f);
	}
}

static void test_version_response_out_of_turn(void **state)
{
	struct fx *f = fx_new(NULL);

	(void)state;
	/* Before any connect. */
	assert_int_equal(inj_version_response(f, 1, 1), -EPROTO);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_PROTOCOL_ERROR);
	assert_int_equal(cvmbus_client_state(f->cli), CVMBUS_CLIENT_IDLE);
	/* After connecting: ignored, the connection keeps its version. */
	connect_at(f, &f->hyp, false, V(5, 3), -1);
	assert_int_equal(inj_version_response(f, 1, 99), -EPROTO);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_PROTOCOL_ERROR);
	assert_int_equal(cvmbus_client_version(f->cli), V(5, 3));
	assert_int_equal(cvmbus_client_msg_conn_id(f->cli), f->conn_id);
	/* A 20-byte response to a 5.3 request is malformed there. */
	fx_free(f);

	f = fx_new(&(struct opts){ .max_version = V(5, 3) });
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
	take_post(f);
	assert_true(inj_version_response2(f, 1, 1, 0) < 0);
	assert_int_equal(next_ev(f).reason, CVMBUS_CLIENT_DROP_MALFORMED);
	assert_int_equal(cvmbus_client_state(f->cli), CVMBUS_CLIENT_CONTACTING);
	fx_free(f);
}

static void test_features_granted(void **state)
{
	struct fx *f = fx_new(NULL);

	(void)state;
	/* Confidential at 6.0, and the paravisor grants 0x10. */
	connect_at(f, &f->para, true, V(6, 0), CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
	assert_int_equal(cvmbus_client_features(f->cli), CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
	assert_true(cvmbus_client_confidential(f->cli));
	fx_free(f);

	/* A server granting what was not asked is malformed. */
	f = fx_new(NULL);
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
	take_post(f);
	assert_true(inj_version_response2(f, 1, 1, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS) < 0);
	assert_int_equal(cvmbus_client_state(f->cli), CVMBUS_CLIENT_CONTACTING);
	fx_free(f);
}

/* ---- Offers ------------------------------------------------------------------------ */

static void test_offers_and_all_delivered(void **state)
{
	struct fx *f = fx_new(NULL);

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	/* AllOffersDelivered before RequestOffers is out of turn. */
	assert_int_equal(inj_hdr_only(f, 4), -EPROTO);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_PROTOCOL_ERROR);
	assert_int_equal(cvmbus_client_request_offers(f->cli), 0);
	take_post_type(f, CVMBUS_MSG_REQUEST_OFFERS);
	assert_int_equal(cvmbus_client_request_offers(f->cli), -EALREADY);
	offer(f, 1, 0);
	offer(f, 2, CVMBUS_OFFER_NAMED_PIPE_MODE);
	assert_int_equal(inj_hdr_only(f, 4), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_ALL_OFFERS, 0, 0);
	assert_int_equal(cvmbus_client_offers_state(f->cli), CVMBUS_CLIENT_OFFERS_DELIVERED);
	{
		struct cvmbus_client_channel_info ci;

		assert_int_equal(cvmbus_client_channel_info(f->cli, 2, &ci), 0);
		assert_int_equal(ci.offer.flags, CVMBUS_OFFER_NAMED_PIPE_MODE);
		assert_int_equal(ci.offer.connection_id, 0x10002);
		assert_int_equal(ci.state, CVMBUS_CLIENT_CHAN_CLOSED);
		assert_false(ci.confidential_ring);
	}
	assert_offer_accounting(f);
	fx_free(f);

	/* No AllOffersDelivered: the wait times out. */
	f = fx_new(NULL);
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	assert_int_equal(cvmbus_client_request_offers(f->cli), 0);
	advance(f, 10 * SEC);
	expect_ev(f, CVMBUS_CLIENT_EV_ALL_OFFERS, -ETIMEDOUT, 0);
	fx_free(f);
}

static void test_confidential_offer_on_plain_connection(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_event ev;
	struct cvmbus_client_stats st;

	(void)state;
	/* 6.0, but not confidential: a host asking for a private ring is
	 * refused, with the reason, and counted. */
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	assert_true(inj_offer(f, 5, CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER) < 0);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_OFFER_REFUSED);
	assert_int_equal(ev.relid, 5);
	assert_int_equal(ev.reason, CVMBUS_CLIENT_DROP_CONFIDENTIAL_UNSUPPORTED);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 5, &(struct cvmbus_client_channel_info){ 0 }),
			 -ENOENT);
	/* The relid stays free for a valid offer. */
	offer(f, 5, 0);
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.offers_received, 2);
	assert_int_equal(st.offers_refused, 1);
	assert_int_equal(st.drops[CVMBUS_CLIENT_DROP_CONFIDENTIAL_UNSUPPORTED], 1);
	assert_offer_accounting(f);
	fx_free(f);

	/* Confidential, but only 5.3: no confidential channels before 6.0. */
	f = fx_new(&(struct opts){ .max_version = V(5, 3) });
	connect_at(f, &f->para, true, V(5, 3), -1);
	assert_true(inj_offer(f, 6, CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
				     CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY) < 0);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_OFFER_REFUSED);
	assert_int_equal(ev.reason, CVMBUS_CLIENT_DROP_CONFIDENTIAL_UNSUPPORTED);
	assert_offer_accounting(f);
	fx_free(f);

	/* Confidential at 6.0 but the paravisor did not grant 0x10. */
	f = fx_new(NULL);
	connect_at(f, &f->para, true, V(6, 0), 0);
	assert_true(inj_offer(f, 7, CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER) < 0);
	assert_int_equal(next_ev(f).reason, CVMBUS_CLIENT_DROP_CONFIDENTIAL_UNSUPPORTED);
	fx_free(f);
}

static void test_external_without_ring_refused(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_event ev;
	struct cvmbus_client_stats st;

	(void)state;
	connect_at(f, &f->para, true, V(6, 0), CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
	assert_true(inj_offer(f, 9, CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY) < 0);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_OFFER_REFUSED);
	assert_int_equal(ev.relid, 9);
	assert_int_equal(ev.reason, CVMBUS_CLIENT_DROP_EXTERNAL_WITHOUT_RING);
	/* Both flags, or the ring alone, are fine on this connection. */
	offer(f, 9, CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
		    CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY);
	offer(f, 10, CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER);
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.offers_received, 3);
	assert_int_equal(st.offers_accepted, 2);
	assert_int_equal(st.offers_refused, 1);
	assert_int_equal(st.drops[CVMBUS_CLIENT_DROP_EXTERNAL_WITHOUT_RING], 1);
	fx_free(f);
}

static void test_offer_relids(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_stats st;

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	assert_true(inj_offer(f, 0, 0) < 0);
	assert_int_equal(next_ev(f).reason, CVMBUS_CLIENT_DROP_BAD_RELID);
	assert_true(inj_offer(f, 2048, 0) < 0);
	assert_int_equal(next_ev(f).reason, CVMBUS_CLIENT_DROP_BAD_RELID);
	assert_true(inj_offer(f, 0xFFFFFFFFu, 0) < 0);
	assert_int_equal(next_ev(f).reason, CVMBUS_CLIENT_DROP_BAD_RELID);
	offer(f, 2047, 0);
	offer(f, 1, 0);
	assert_true(inj_offer(f, 1, 0) < 0);
	assert_int_equal(next_ev(f).reason, CVMBUS_CLIENT_DROP_DUPLICATE_RELID);
	/* Offers before a connection exist are not offers to us. */
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.offers_received, 6);
	assert_int_equal(st.offers_accepted, 2);
	assert_offer_accounting(f);
	fx_free(f);

	/* An offer before a connection exists is refused, and counted. */
	f = fx_new(NULL);
	assert_true(inj_offer(f, 3, 0) < 0);
	{
		struct cvmbus_client_event ev = next_ev(f);

		assert_int_equal(ev.type, CVMBUS_CLIENT_EV_OFFER_REFUSED);
		assert_int_equal(ev.reason, CVMBUS_CLIENT_DROP_UNEXPECTED);
	}
	assert_offer_accounting(f);
	fx_free(f);
}

/* ---- Open, GPADLs, close ---------------------------------------------------------- */

static void test_open_confidential_ring_private(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_open_params p = ring_params(4 * 4096, 4 * 4096);
	struct cvmbus_client_channel_info ci;
	static const char ud[] = "user-data";
	struct post *h, *op;
	uint8_t probe[8];
	uint32_t handle;
	size_t nlog_before;

	(void)state;
	connect_at(f, &f->para, true, V(6, 0), CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
	offer(f, 4, CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER);
	p.user_data = ud;
	p.user_data_len = sizeof(ud);
	nlog_before = f->nlog;
	assert_int_equal(cvmbus_client_open(f->cli, 4, &p), 0);

	assert_int_equal(cvmbus_client_channel_info(f->cli, 4, &ci), 0);
	assert_true(ci.confidential_ring);
	assert_false(ci.ring_shared);
	assert_int_equal(ci.state, CVMBUS_CLIENT_CHAN_OPENING);
	assert_int_equal(ci.send_bytes, 4 * 4096);
	assert_int_equal(ci.recv_bytes, 4 * 4096);
	/* The ring stays private: no visibility call at all, the host view
	 * cannot read it, and yet the GPADL is sent. */
	assert_pages(f, ci.ring_gpa, 8, CVMBUS_MEM_PAGE_PRIVATE);
	for (size_t i = nlog_before; i < f->nlog; i++)
		assert_int_not_equal(f->log[i].kind, LOG_VISIBILITY);
	assert_int_equal(cvmbus_mem_host_read(cvmbus_mem_host(f->mem), ci.ring_gpa | BOUNDARY,
					      probe, sizeof(probe)), -EFAULT);

	handle = take_gpadl_msgs(f, 4, 8, &h);
	assert_int_equal(handle, 0xE1E10); /* Linux's first handle */
	assert_int_equal(ci.ring_gpadl, handle);
	assert_int_equal(h->pfns_shared_at_post, 0);
	assert_int_equal(h->len, 20 + 8 * 9);
	assert_int_equal(rd32(h->b, 20), 8 * 4096); /* byte_count */
	assert_int_equal(rd32(h->b, 24), 0);        /* byte_offset */
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(rd64(h->b, 28 + 8 * i), (ci.ring_gpa >> 12) + i);

	assert_int_equal(inj_gpadl_created(f, 4, handle, 0), 0);
	op = take_post_type(f, CVMBUS_MSG_OPEN_CHANNEL);
	/* OpenChannel by hand: relid, openid = relid, gpadl, target vp,
	 * downstream offset in pages, user data; 148 bytes. */
	assert_int_equal(op->len, 148);
	assert_int_equal(op->conn_id, f->conn_id);
	assert_int_equal(rd32(op->b, 8), 4);
	assert_int_equal(rd32(op->b, 12), 4);
	assert_int_equal(rd32(op->b, 16), handle);
	assert_int_equal(rd32(op->b, 20), 3);
	assert_int_equal(rd32(op->b, 24), 4);
	assert_memory_equal(op->b + 28, ud, sizeof(ud));
	assert_int_equal(op->b[28 + sizeof(ud)], 0);
	expect_no_ev(f);
	assert_int_equal(inj_open_result(f, 4, 4, 0), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_OPEN_DONE, 0, 4);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 4, &ci), 0);
	assert_int_equal(ci.state, CVMBUS_CLIENT_CHAN_OPEN);
	assert_pages(f, ci.ring_gpa, 8, CVMBUS_MEM_PAGE_PRIVATE);
	fx_free(f);
}

static void test_open_plain_shares_before_header(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_open_params p = ring_params(2 * 4096, 3 * 4096);
	struct cvmbus_client_channel_info ci;
	struct post *h;
	int vis_index = -1;
	size_t nlog_before;
	uint8_t probe[8];

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 8, 0);
	nlog_before = f->nlog;
	assert_int_equal(cvmbus_client_open(f->cli, 8, &p), 0);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 8, &ci), 0);
	assert_true(ci.ring_shared);
	assert_pages(f, ci.ring_gpa, 5, CVMBUS_MEM_PAGE_SHARED);
	assert_int_equal(cvmbus_mem_host_read(cvmbus_mem_host(f->mem), ci.ring_gpa | BOUNDARY,
					      probe, sizeof(probe)), 0);

	take_gpadl_msgs(f, 8, 5, &h);
	/* The order of events: the visibility hypercall for the ring pages
	 * comes first in the log, then the GPADL header; and at the moment
	 * the header was posted, every PFN in it was already shared. */
	for (size_t i = nlog_before; i < f->nlog; i++) {
		if (f->log[i].kind == LOG_VISIBILITY && f->log[i].first_pfn == ci.ring_gpa >> 12) {
			assert_int_equal(f->log[i].count, 5);
			assert_int_equal(f->log[i].visibility, HV_MAP_GPA_READ_WRITE);
			vis_index = (int)i;
			break;
		}
	}
	assert_true(vis_index >= 0);
	assert_true(vis_index < h->log_index);
	assert_int_equal(h->pfns_shared_at_post, 5);
	fx_free(f);
}

static void test_gpadl_split_over_bodies(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_open_params p = ring_params(64 * 4096, 64 * 4096);
	struct cvmbus_client_channel_info ci;
	static const uint32_t body_pfns[] = { 28, 28, 28, 18 };
	uint64_t pfn0;
	struct post *h;
	uint32_t next = 0;

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 3, 0);
	assert_int_equal(cvmbus_client_open(f->cli, 3, &p), 0);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 3, &ci), 0);
	pfn0 = ci.ring_gpa >> 12;

	/* 128 PFNs: 26 in the header (20 + 8 range + 26 * 8 = 236 bytes),
	 * then 28, 28, 28 and 18 in bodies of 16 + 8n bytes. */
	h = take_post_type(f, CVMBUS_MSG_GPADL_HEADER);
	assert_int_equal(h->len, 236);
	assert_int_equal(rd32(h->b, 8), 3);
	assert_int_equal(rd32(h->b, 12), 0xE1E10);
	assert_int_equal(rd16(h->b, 16), 8 + 8 * 128);
	assert_int_equal(rd16(h->b, 18), 1);
	assert_int_equal(rd32(h->b, 20), 128 * 4096);
	assert_int_equal(rd32(h->b, 24), 0);
	for (uint32_t i = 0; i < 26; i++)
		assert_int_equal(rd64(h->b, 28 + 8 * i), pfn0 + next++);
	for (size_t k = 0; k < 4; k++) {
		struct post *b = take_post_type(f, CVMBUS_MSG_GPADL_BODY);

		assert_int_equal(b->len, 16 + 8 * body_pfns[k]);
		assert_int_equal(rd32(b->b, 8), 0); /* msgnumber: Linux leaves 0 */
		assert_int_equal(rd32(b->b, 12), 0xE1E10);
		for (uint32_t i = 0; i < body_pfns[k]; i++)
			assert_int_equal(rd64(b->b, 16 + 8 * i), pfn0 + next++);
	}
	assert_int_equal(next, 128);
	expect_no_post(f);
	/* The answer is only expected once the last body is out. */
	assert_int_equal(inj_gpadl_created(f, 3, 0xE1E10, 0), 0);
	{
		struct post *op = take_post_type(f, CVMBUS_MSG_OPEN_CHANNEL);

		assert_int_equal(rd32(op->b, 24), 64); /* downstream offset in pages */
	}
	fx_free(f);
}

static void test_close_makes_pages_private(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_channel_info ci;
	struct cvmbus_mem_stats ms;
	uint32_t handle;
	struct post *p;
	uint8_t probe[8];
	uint64_t gpa;

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 2, 0);
	handle = open_channel(f, 2, 2 * 4096, 2 * 4096);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 2, &ci), 0);
	gpa = ci.ring_gpa;
	assert_pages(f, gpa, 4, CVMBUS_MEM_PAGE_SHARED);

	assert_int_equal(cvmbus_client_close(f->cli, 2), 0);
	/* CloseChannel, then the ring's teardown, in that order. */
	p = take_post_type(f, CVMBUS_MSG_CLOSE_CHANNEL);
	assert_int_equal(p->len, 12);
	assert_int_equal(rd32(p->b, 8), 2);
	p = take_post_type(f, CVMBUS_MSG_GPADL_TEARDOWN);
	assert_int_equal(p->len, 16);
	assert_int_equal(rd32(p->b, 8), 2);
	assert_int_equal(rd32(p->b, 12), handle);
	/* Still shared until the host says it let go. */
	assert_pages(f, gpa, 4, CVMBUS_MEM_PAGE_SHARED);
	expect_no_ev(f);
	assert_int_equal(inj_torndown(f, handle), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_CLOSE_DONE, 0, 2);
	assert_pages(f, gpa, 4, CVMBUS_MEM_PAGE_PRIVATE);
	assert_int_equal(cvmbus_mem_host_read(cvmbus_mem_host(f->mem), gpa | BOUNDARY, probe,
					      sizeof(probe)), -EFAULT);
	cvmbus_mem_get_stats(f->mem, &ms);
	assert_int_equal(ms.pages_made_private, 4);
	/* Freed: the next allocation of that size gets the same pages. */
	{
		uint64_t again;

		assert_int_equal(cvmbus_mem_alloc(f->mem, CVMBUS_MEM_REGION_VTL0, 4, &again), 0);
		assert_int_equal(again, gpa);
		assert_int_equal(cvmbus_mem_free(f->mem, again, 4), 0);
	}
	assert_int_equal(cvmbus_client_channel_info(f->cli, 2, &ci), 0);
	assert_int_equal(ci.state, CVMBUS_CLIENT_CHAN_CLOSED);
	assert_int_equal(ci.ring_gpadl, 0);
	assert_int_equal(cvmbus_client_close(f->cli, 2), -EINVAL);
	/* Reopen: a new handle. */
	assert_int_equal(open_channel(f, 2, 2 * 4096, 2 * 4096), 0xE1E11);
	fx_free(f);
}

static void test_buffer_gpadl_external_rule(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_gpadl_info gi;
	uint32_t h1, h2, h3;
	uint64_t g1, g2, g3;

	(void)state;
	connect_at(f, &f->para, true, V(6, 0), CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
	offer(f, 1, CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
		    CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY);
	offer(f, 2, CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER);
	offer(f, 3, 0);

	/* Confidential external memory: the buffer stays private. */
	assert_int_equal(cvmbus_client_gpadl_create(f->cli, 1, 3 * 4096, &h1, &g1), 0);
	take_gpadl_msgs(f, 1, 3, NULL);
	assert_pages(f, g1, 3, CVMBUS_MEM_PAGE_PRIVATE);
	/* Confidential ring only: device buffers are host-visible. */
	assert_int_equal(cvmbus_client_gpadl_create(f->cli, 2, 2 * 4096, &h2, &g2), 0);
	take_gpadl_msgs(f, 2, 2, NULL);
	assert_pages(f, g2, 2, CVMBUS_MEM_PAGE_SHARED);
	/* A plain channel on the confidential connection: shared too. */
	assert_int_equal(cvmbus_client_gpadl_create(f->cli, 3, 4096, &h3, &g3), 0);
	take_gpadl_msgs(f, 3, 1, NULL);
	assert_pages(f, g3, 1, CVMBUS_MEM_PAGE_SHARED);
	assert_int_equal(h2, h1 + 1);
	assert_int_equal(h3, h2 + 1);

	assert_int_equal(inj_gpadl_created(f, 2, h2, 0), 0);
	{
		struct cvmbus_client_event ev = next_ev(f);

		assert_int_equal(ev.type, CVMBUS_CLIENT_EV_GPADL_DONE);
		assert_int_equal(ev.gpadl, h2);
		assert_int_equal(ev.status, 0);
	}
	assert_int_equal(cvmbus_client_gpadl_info(f->cli, h2, &gi), 0);
	assert_int_equal(gi.state, CVMBUS_CLIENT_GPADL_CREATED);
	assert_true(gi.shared);
	/* Not the owner: the relid must match. */
	assert_int_equal(cvmbus_client_gpadl_teardown(f->cli, 1, h2), -ENOENT);
	assert_int_equal(cvmbus_client_gpadl_teardown(f->cli, 1, h1), -EBUSY);
	assert_int_equal(cvmbus_client_gpadl_teardown(f->cli, 2, h2), 0);
	take_post_type(f, CVMBUS_MSG_GPADL_TEARDOWN);
	assert_int_equal(inj_torndown(f, h2), 0);
	{
		struct cvmbus_client_event ev = next_ev(f);

		assert_int_equal(ev.type, CVMBUS_CLIENT_EV_GPADL_TORNDOWN);
		assert_int_equal(ev.gpadl, h2);
		assert_int_equal(ev.status, 0);
	}
	assert_pages(f, g2, 2, CVMBUS_MEM_PAGE_PRIVATE);
	assert_int_equal(cvmbus_client_gpadl_info(f->cli, h2, &gi), -ENOENT);
	fx_free(f);
}

static void test_gpadl_created_failure(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_open_params p = ring_params(2 * 4096, 2 * 4096);
	struct cvmbus_client_channel_info ci;
	uint32_t handle;
	uint64_t gpa;

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 6, 0);
	assert_int_equal(cvmbus_client_open(f->cli, 6, &p), 0);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 6, &ci), 0);
	gpa = ci.ring_gpa;
	handle = take_gpadl_msgs(f, 6, 4, NULL);
	/* A GpadlCreated naming the wrong relid is not ours. */
	assert_int_equal(inj_gpadl_created(f, 7, handle, 0), -ENOENT);
	assert_int_equal(next_ev(f).reason, CVMBUS_CLIENT_DROP_UNKNOWN_GPADL);
	assert_int_equal(inj_gpadl_created(f, 6, handle, 0xC0000001u), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_OPEN_DONE, -EDQUOT, 6);
	expect_no_post(f); /* never created: no teardown */
	assert_pages(f, gpa, 4, CVMBUS_MEM_PAGE_PRIVATE);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 6, &ci), 0);
	assert_int_equal(ci.state, CVMBUS_CLIENT_CHAN_CLOSED);
	fx_free(f);
}

static void test_open_result_failure(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_open_params p = ring_params(2 * 4096, 2 * 4096);
	struct cvmbus_client_channel_info ci;
	struct post *t;
	uint32_t handle;
	uint64_t gpa;

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 11, 0);
	assert_int_equal(cvmbus_client_open(f->cli, 11, &p), 0);
	handle = take_gpadl_msgs(f, 11, 4, NULL);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 11, &ci), 0);
	gpa = ci.ring_gpa;
	assert_int_equal(inj_gpadl_created(f, 11, handle, 0), 0);
	take_post_type(f, CVMBUS_MSG_OPEN_CHANNEL);
	/* The wrong open id is not an answer to this open. */
	assert_int_equal(inj_open_result(f, 11, 12, 0), -EPROTO);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_PROTOCOL_ERROR);
	assert_int_equal(inj_open_result(f, 11, 11, 0xC0000001u), 0);
	/* __vmbus_open()'s error path: tear the ring GPADL down, then report. */
	t = take_post_type(f, CVMBUS_MSG_GPADL_TEARDOWN);
	assert_int_equal(rd32(t->b, 12), handle);
	expect_no_ev(f);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 11, &ci), 0);
	assert_int_equal(ci.state, CVMBUS_CLIENT_CHAN_CLOSING);
	assert_int_equal(inj_torndown(f, handle), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_OPEN_DONE, -EAGAIN, 11);
	assert_pages(f, gpa, 4, CVMBUS_MEM_PAGE_PRIVATE);
	/* The channel can be opened again. */
	assert_int_equal(open_channel(f, 11, 2 * 4096, 2 * 4096), 0xE1E11);
	fx_free(f);
}

static void test_open_timeout(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_open_params p = ring_params(2 * 4096, 2 * 4096);
	struct cvmbus_client_stats st;
	struct cvmbus_client_channel_info ci;
	uint32_t handle;
	uint64_t gpa;

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 12, 0);
	assert_int_equal(cvmbus_client_open(f->cli, 12, &p), 0);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 12, &ci), 0);
	gpa = ci.ring_gpa;
	handle = take_gpadl_msgs(f, 12, 4, NULL);
	assert_int_equal(inj_gpadl_created(f, 12, handle, 0), 0);
	take_post_type(f, CVMBUS_MSG_OPEN_CHANNEL);
	advance(f, 5 * SEC);
	take_post_type(f, CVMBUS_MSG_GPADL_TEARDOWN);
	/* The teardown is not answered either: the channel was not
	 * rescinded, so the host may still map the ring. It is leaked. */
	advance(f, 5 * SEC);
	expect_ev(f, CVMBUS_CLIENT_EV_OPEN_DONE, -ETIMEDOUT, 12);
	assert_pages(f, gpa, 4, CVMBUS_MEM_PAGE_SHARED);
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.pages_leaked, 4);
	assert_int_equal(st.timeouts, 2);
	{
		uint64_t other;

		assert_int_equal(cvmbus_client_channel_info(f->cli, 12, &ci), 0);
		assert_int_equal(ci.state, CVMBUS_CLIENT_CHAN_CLOSED);
		/* The leaked pages are not handed out again. */
		assert_int_equal(cvmbus_mem_alloc(f->mem, CVMBUS_MEM_REGION_VTL0, 4, &other), 0);
		assert_true(other != gpa);
	}
	fx_free(f);
}

/* ---- Rescind ------------------------------------------------------------------------- */

static void test_rescind_during_gpadl(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_open_params p = ring_params(2 * 4096, 2 * 4096);
	struct cvmbus_client_channel_info ci;
	struct post *r;
	uint32_t handle;
	uint64_t gpa;

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 20, 0);
	offer(f, 21, 0);
	assert_int_equal(cvmbus_client_open(f->cli, 20, &p), 0);
	handle = take_gpadl_msgs(f, 20, 4, NULL);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 20, &ci), 0);
	gpa = ci.ring_gpa;
	assert_int_equal(cvmbus_client_release(f->cli, 20), -EINVAL); /* not rescinded */
	assert_int_equal(inj_relid_msg(f, 2, 20), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_RESCIND, 0, 20);
	expect_ev(f, CVMBUS_CLIENT_EV_OPEN_DONE, -ENODEV, 20);
	assert_pages(f, gpa, 4, CVMBUS_MEM_PAGE_PRIVATE);
	/* A late GpadlCreated is for a GPADL that no longer exists. */
	assert_int_equal(inj_gpadl_created(f, 20, handle, 0), -ENOENT);
	assert_int_equal(next_ev(f).reason, CVMBUS_CLIENT_DROP_UNKNOWN_GPADL);
	/* A second rescind is out of turn; opening a rescinded channel fails. */
	assert_int_equal(inj_relid_msg(f, 2, 20), -EPROTO);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_PROTOCOL_ERROR);
	assert_int_equal(cvmbus_client_open(f->cli, 20, &p), -ENODEV);
	/* The driver lets go: RelIdReleased, and the relid is gone. */
	assert_int_equal(cvmbus_client_release(f->cli, 20), 0);
	r = take_post_type(f, CVMBUS_MSG_RELID_RELEASED);
	assert_int_equal(r->len, 12);
	assert_int_equal(rd32(r->b, 8), 20);
	expect_ev(f, CVMBUS_CLIENT_EV_RELEASED, 0, 20);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 20, &ci), -ENOENT);
	/* The other channel is untouched and works. */
	open_channel(f, 21, 2 * 4096, 2 * 4096);
	/* The relid can be offered again. */
	offer(f, 20, 0);
	fx_free(f);
}

static void test_rescind_during_open(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_open_params p = ring_params(2 * 4096, 2 * 4096);
	struct cvmbus_client_channel_info ci;
	uint32_t handle;
	uint64_t gpa;

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 30, 0);
	assert_int_equal(cvmbus_client_open(f->cli, 30, &p), 0);
	handle = take_gpadl_msgs(f, 30, 4, NULL);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 30, &ci), 0);
	gpa = ci.ring_gpa;
	assert_int_equal(inj_gpadl_created(f, 30, handle, 0), 0);
	take_post_type(f, CVMBUS_MSG_OPEN_CHANNEL);
	/* Rescind while waiting for OpenResult: the open fails with -ENODEV
	 * once the ring GPADL is torn down. */
	assert_int_equal(inj_relid_msg(f, 2, 30), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_RESCIND, 0, 30);
	take_post_type(f, CVMBUS_MSG_GPADL_TEARDOWN);
	assert_int_equal(cvmbus_client_release(f->cli, 30), 0);
	expect_no_post(f); /* not before the ring is gone */
	/* An OpenResult now is for an open that is no longer waiting. */
	assert_int_equal(inj_open_result(f, 30, 30, 0), -EPROTO);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_PROTOCOL_ERROR);
	/* The host does not answer the teardown: after a rescind that means
	 * it dropped the channel's GPADLs with it; the pages come back. */
	advance(f, 5 * SEC);
	expect_ev(f, CVMBUS_CLIENT_EV_OPEN_DONE, -ENODEV, 30);
	assert_pages(f, gpa, 4, CVMBUS_MEM_PAGE_PRIVATE);
	take_post_type(f, CVMBUS_MSG_RELID_RELEASED);
	expect_ev(f, CVMBUS_CLIENT_EV_RELEASED, 0, 30);
	{
		struct cvmbus_client_stats st;

		cvmbus_client_get_stats(f->cli, &st);
		assert_int_equal(st.pages_leaked, 0);
	}
	fx_free(f);
}

static void test_rescind_open_channel_release(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_channel_info ci;
	uint32_t ring, buf;
	uint64_t bgpa;

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 40, 0);
	ring = open_channel(f, 40, 2 * 4096, 2 * 4096);
	assert_int_equal(cvmbus_client_gpadl_create(f->cli, 40, 4096, &buf, &bgpa), 0);
	take_gpadl_msgs(f, 40, 1, NULL);
	assert_int_equal(inj_gpadl_created(f, 40, buf, 0), 0);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_GPADL_DONE);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 40, &ci), 0);

	assert_int_equal(inj_relid_msg(f, 2, 40), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_RESCIND, 0, 40);
	expect_no_post(f);
	/* Release of an open channel: close, tear down the ring and the
	 * driver's buffer, then RelIdReleased last. */
	assert_int_equal(cvmbus_client_release(f->cli, 40), 0);
	assert_int_equal(cvmbus_client_release(f->cli, 40), -EALREADY);
	take_post_type(f, CVMBUS_MSG_CLOSE_CHANNEL);
	assert_int_equal(rd32(take_post_type(f, CVMBUS_MSG_GPADL_TEARDOWN)->b, 12), ring);
	assert_int_equal(inj_torndown(f, ring), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_CLOSE_DONE, 0, 40);
	assert_int_equal(rd32(take_post_type(f, CVMBUS_MSG_GPADL_TEARDOWN)->b, 12), buf);
	expect_no_post(f);
	assert_int_equal(inj_torndown(f, buf), 0);
	{
		struct cvmbus_client_event ev = next_ev(f);

		assert_int_equal(ev.type, CVMBUS_CLIENT_EV_GPADL_TORNDOWN);
		assert_int_equal(ev.gpadl, buf);
	}
	take_post_type(f, CVMBUS_MSG_RELID_RELEASED);
	expect_ev(f, CVMBUS_CLIENT_EV_RELEASED, 0, 40);
	assert_pages(f, ci.ring_gpa, 4, CVMBUS_MEM_PAGE_PRIVATE);
	assert_pages(f, bgpa, 1, CVMBUS_MEM_PAGE_PRIVATE);
	fx_free(f);
}

/* ---- Protocol violations --------------------------------------------------------- */

static void test_host_protocol_violations(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_stats st;

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 1, 0);
	offer(f, 2, 0);
	open_channel(f, 1, 2 * 4096, 2 * 4096);

	assert_int_equal(inj_gpadl_created(f, 1, 0x1234, 0), -ENOENT);      /* unknown GPADL */
	assert_int_equal(inj_open_result(f, 2, 2, 0), -EPROTO);             /* not opening */
	assert_int_equal(inj_open_result(f, 99, 99, 0), -ENOENT);           /* no channel */
	assert_int_equal(inj_relid_msg(f, 2, 77), -ENOENT);                 /* rescind unknown */
	assert_int_equal(inj_torndown(f, 0xE1E10), -EPROTO);                /* not tearing down */
	assert_int_equal(inj_torndown(f, 0x5555), -ENOENT);
	assert_int_equal(inj_hdr_only(f, 17), -EPROTO);                     /* unload response */
	assert_int_equal(inj_hdr_only(f, 3), -EPERM);                       /* a server's message */
	assert_true(inj_relid_msg(f, 99, 1) < 0);                           /* unknown type */
	{
		uint8_t junk[7] = { 1, 0, 0, 0, 0, 0, 0 };

		assert_true(inject(f, junk, sizeof(junk)) < 0);              /* too short */
	}
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.rx_dropped, 10);
	assert_int_equal(st.drops[CVMBUS_CLIENT_DROP_UNKNOWN_GPADL], 2);
	assert_int_equal(st.drops[CVMBUS_CLIENT_DROP_UNKNOWN_RELID], 2);
	assert_int_equal(st.drops[CVMBUS_CLIENT_DROP_UNEXPECTED], 3);
	assert_int_equal(st.drops[CVMBUS_CLIENT_DROP_MALFORMED], 3);
	/* Nothing else moved: channel 1 stays open, channel 2 opens fine. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_PROTOCOL_ERROR);
	expect_no_post(f);
	{
		struct cvmbus_client_channel_info ci;

		assert_int_equal(cvmbus_client_channel_info(f->cli, 1, &ci), 0);
		assert_int_equal(ci.state, CVMBUS_CLIENT_CHAN_OPEN);
	}
	open_channel(f, 2, 2 * 4096, 2 * 4096);
	fx_free(f);
}

static void test_api_argument_checks(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_open_params p = ring_params(2 * 4096, 2 * 4096);
	uint32_t h;
	uint8_t big[121] = { 0 };

	(void)state;
	assert_int_equal(cvmbus_client_open(f->cli, 1, &p), -ENOTCONN);
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), -EBUSY);
	assert_int_equal(cvmbus_client_open(f->cli, 1, &p), -ENOENT);
	offer(f, 1, 0);
	p.send_bytes = 4096; /* a ring needs its control page and data */
	assert_int_equal(cvmbus_client_open(f->cli, 1, &p), -EINVAL);
	p.send_bytes = 3 * 4096 + 1;
	assert_int_equal(cvmbus_client_open(f->cli, 1, &p), -EINVAL);
	p.send_bytes = 2 * 4096;
	p.user_data = big;
	p.user_data_len = sizeof(big);
	assert_int_equal(cvmbus_client_open(f->cli, 1, &p), -EINVAL);
	p.user_data_len = 0;
	p.open_flags = CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT; /* not negotiated */
	assert_int_equal(cvmbus_client_open(f->cli, 1, &p), -EINVAL);
	p.open_flags = 0;
	p.send_bytes = 8190 * 4096; /* with the receive ring, past a u16 range_buflen */
	assert_int_equal(cvmbus_client_open(f->cli, 1, &p), -E2BIG);
	p.send_bytes = 4090 * 4096; /* fits a GPADL, not the 16 MiB guest */
	assert_int_equal(cvmbus_client_open(f->cli, 1, &p), -ENOSPC);
	assert_int_equal(cvmbus_client_gpadl_create(f->cli, 1, 100, &h, NULL), -EINVAL);
	assert_int_equal(cvmbus_client_gpadl_create(f->cli, 9, 4096, &h, NULL), -ENOENT);
	assert_int_equal(cvmbus_client_close(f->cli, 1), -EINVAL);
	expect_no_post(f);
	expect_no_ev(f);
	fx_free(f);
}

static void test_open_channel2(void **state)
{
	struct opts o = { .extra_features = CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS };
	struct fx *f = fx_new(&o);
	struct cvmbus_client_open_params p = ring_params(2 * 4096, 2 * 4096);
	struct post *ic, *op;
	uint32_t handle;

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
	ic = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);
	assert_int_equal(rd32(ic->b, 20), CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS);
	assert_int_equal(inj_version_response2(f, 1, 7,
					       CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_CONNECTED, 0, 0);
	offer(f, 5, 0);
	p.connection_id = 0x4321;
	p.event_flag = 5;
	assert_int_equal(cvmbus_client_open(f->cli, 5, &p), 0);
	handle = take_gpadl_msgs(f, 5, 4, NULL);
	assert_int_equal(inj_gpadl_created(f, 5, handle, 0), 0);
	op = take_post_type(f, CVMBUS_MSG_OPEN_CHANNEL);
	assert_int_equal(op->len, 156);
	assert_int_equal(op->conn_id, 7);
	assert_int_equal(rd32(op->b, 148), 0x4321);
	assert_int_equal(rd16(op->b, 152), 5);
	assert_int_equal(rd16(op->b, 154), 0);
	fx_free(f);
}

/* ---- Unload ------------------------------------------------------------------------ */

static void test_unload(void **state)
{
	struct fx *f = fx_new(NULL);
	struct cvmbus_client_channel_info ci;
	struct post *u;
	uint64_t ring;

	(void)state;
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 1, 0);
	open_channel(f, 1, 2 * 4096, 2 * 4096);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 1, &ci), 0);
	ring = ci.ring_gpa;
	assert_int_equal(cvmbus_client_unload(f->cli), 0);
	u = take_post_type(f, CVMBUS_MSG_UNLOAD);
	assert_int_equal(u->len, 8);
	assert_int_equal(u->conn_id, f->conn_id);
	assert_int_equal(cvmbus_client_state(f->cli), CVMBUS_CLIENT_UNLOADING);
	/* Offers are ignored while unloading. */
	assert_true(inj_offer(f, 2, 0) < 0);
	{
		struct cvmbus_client_event ev = next_ev(f);

		assert_int_equal(ev.type, CVMBUS_CLIENT_EV_OFFER_REFUSED);
		assert_int_equal(ev.reason, CVMBUS_CLIENT_DROP_UNEXPECTED);
	}
	assert_offer_accounting(f);
	assert_int_equal(inj_hdr_only(f, 17), 0);
	expect_ev(f, CVMBUS_CLIENT_EV_UNLOADED, 0, 0);
	assert_int_equal(cvmbus_client_state(f->cli), CVMBUS_CLIENT_UNLOADED);
	/* The host let go of everything: the ring is private and free. */
	assert_pages(f, ring, 4, CVMBUS_MEM_PAGE_PRIVATE);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 1, &ci), -ENOENT);
	assert_int_equal(cvmbus_client_unload(f->cli), -ENOTCONN);
	/* And the client can connect again. */
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	fx_free(f);

	/* No response: everything the host may still map stays leaked. */
	f = fx_new(NULL);
	connect_at(f, &f->hyp, false, V(6, 0), -1);
	offer(f, 1, 0);
	open_channel(f, 1, 2 * 4096, 2 * 4096);
	assert_int_equal(cvmbus_client_unload(f->cli), 0);
	take_post_type(f, CVMBUS_MSG_UNLOAD);
	advance(f, 5 * SEC);
	expect_ev(f, CVMBUS_CLIENT_EV_UNLOADED, -ETIMEDOUT, 0);
	{
		struct cvmbus_client_stats st;

		cvmbus_client_get_stats(f->cli, &st);
		assert_int_equal(st.pages_leaked, 4);
	}
	fx_free(f);

	/* Below 3.0 there is no Unload message. */
	f = fx_new(&(struct opts){ .max_version = V(2, 4) });
	connect_at(f, &f->hyp, false, V(2, 4), -1);
	assert_int_equal(cvmbus_client_unload(f->cli), 0);
	expect_no_post(f);
	expect_ev(f, CVMBUS_CLIENT_EV_UNLOADED, 0, 0);
	fx_free(f);
}

/* ---- Detection ------------------------------------------------------------------- */

static void test_detect_strategies_pure(void **state)
{
	struct cvmbus_client_detect d;
	struct cvmbus_client_attempt a;
	struct cvmbus_client_platform p;
	struct hv_cpuid_result iso = { .eax = HV_PARAVISOR_PRESENT, .ebx = 2 | (1u << 5) | (46u << 6) };
	struct hv_cpuid_result vs = { .eax = HV_VS_PROPERTIES_EAX_CONFIDENTIAL_VMBUS_AVAILABLE };

	(void)state;
	cvmbus_client_platform_from_cpuid(&p, &iso, &vs);
	assert_true(p.paravisor_present);
	assert_int_equal(p.isolation, HV_ISOLATION_TYPE_SNP);
	assert_true(p.confidential_vmbus_available);

	/* CPUID, bit set: one confidential attempt over the paravisor. */
	cvmbus_client_detect_init(&d, CVMBUS_CLIENT_DETECT_CPUID, &p);
	assert_int_equal(cvmbus_client_detect_next(&d, &a), 1);
	assert_int_equal(a.path, CVMBUS_CLIENT_PATH_PARAVISOR);
	assert_true(a.confidential);
	assert_int_equal(cvmbus_client_detect_next(&d, &a), 0);
	/* CPUID, bit clear (bit 2 alone is something else): plain. */
	vs.eax = HV_VS_PROPERTIES_EAX_EXTENDED_IOAPIC_RTE;
	cvmbus_client_platform_from_cpuid(&p, &iso, &vs);
	cvmbus_client_detect_init(&d, CVMBUS_CLIENT_DETECT_CPUID, &p);
	assert_int_equal(cvmbus_client_detect_next(&d, &a), 1);
	assert_int_equal(a.path, CVMBUS_CLIENT_PATH_HYPERVISOR);
	assert_false(a.confidential);
	assert_int_equal(cvmbus_client_detect_next(&d, &a), 0);
	/* PROBE on SNP/TDX with a paravisor: paravisor first, then hypervisor. */
	for (int t = HV_ISOLATION_TYPE_SNP; t <= HV_ISOLATION_TYPE_TDX; t++) {
		p.isolation = (enum hv_isolation_type)t;
		cvmbus_client_detect_init(&d, CVMBUS_CLIENT_DETECT_PROBE, &p);
		assert_int_equal(cvmbus_client_detect_next(&d, &a), 1);
		assert_int_equal(a.path, CVMBUS_CLIENT_PATH_PARAVISOR);
		assert_true(a.confidential);
		assert_int_equal(cvmbus_client_detect_next(&d, &a), 1);
		assert_int_equal(a.path, CVMBUS_CLIENT_PATH_HYPERVISOR);
		assert_false(a.confidential);
		assert_int_equal(cvmbus_client_detect_next(&d, &a), 0);
	}
	/* PROBE on VBS, or without a paravisor: only the plain attempt. */
	p.isolation = HV_ISOLATION_TYPE_VBS;
	cvmbus_client_detect_init(&d, CVMBUS_CLIENT_DETECT_PROBE, &p);
	assert_int_equal(cvmbus_client_detect_next(&d, &a), 1);
	assert_false(a.confidential);
	assert_int_equal(cvmbus_client_detect_next(&d, &a), 0);
	p.isolation = HV_ISOLATION_TYPE_SNP;
	p.paravisor_present = false;
	cvmbus_client_detect_init(&d, CVMBUS_CLIENT_DETECT_PROBE, &p);
	assert_int_equal(cvmbus_client_detect_next(&d, &a), 1);
	assert_int_equal(a.path, CVMBUS_CLIENT_PATH_HYPERVISOR);
	assert_int_equal(cvmbus_client_detect_next(&d, &a), 0);
}

/* What the glue does: run the attempts in order against two transports. */
static int run_detect(struct fx *f, enum cvmbus_client_detect_strategy s,
		      const struct cvmbus_client_platform *p, bool para_answers,
		      bool para_rejects_post)
{
	struct cvmbus_client_detect d;
	struct cvmbus_client_attempt a;
	int attempts = 0;

	cvmbus_client_detect_init(&d, s, p);
	if (para_rejects_post)
		f->para.dflt = HV_STATUS_ACCESS_DENIED;
	while (cvmbus_client_detect_next(&d, &a)) {
		struct xport *x = a.path == CVMBUS_CLIENT_PATH_PARAVISOR ? &f->para : &f->hyp;
		struct cvmbus_client_event ev;

		attempts++;
		assert_int_equal(cvmbus_client_connect(f->cli, &x->t, a.confidential), 0);
		/* The scripted servers: the hypervisor's answers the first
		 * InitiateContact; the paravisor's only if told to. */
		while (f->rd < f->nposts) {
			struct post *q = take_post_type(f, CVMBUS_MSG_INITIATE_CONTACT);

			assert_int_equal(q->path, a.path);
			/* The flag goes only where the attempt is confidential. */
			assert_int_equal(rd32(q->b, 20),
					 a.confidential ? CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS : 0);
			if (x == &f->hyp || para_answers)
				assert_int_equal(inj_version_response2(
							 f, 1, 5, a.confidential ? 0x10 : 0), 0);
		}
		if (!cvmbus_client_next_event(f->cli, &ev))
			advance(f, 5 * SEC); /* a paravisor that never answers */
		else if (ev.type == CVMBUS_CLIENT_EV_CONNECTED)
			return attempts;
		if (cvmbus_client_state(f->cli) == CVMBUS_CLIENT_CONNECTED)
			return attempts;
		while (cvmbus_client_next_event(f->cli, &ev))
			;
	}
	return -attempts;
}

static void test_detect_cpuid_against_transports(void **state)
{
	struct cvmbus_client_platform p = {
		.paravisor_present = true,
		.isolation = HV_ISOLATION_TYPE_TDX,
		.confidential_vmbus_available = true,
	};
	struct fx *f = fx_new(&(struct opts){ .isolation = HV_ISOLATION_TYPE_TDX });

	(void)state;
	assert_int_equal(run_detect(f, CVMBUS_CLIENT_DETECT_CPUID, &p, true, false), 1);
	assert_true(cvmbus_client_confidential(f->cli));
	assert_int_equal(f->hyp.nposts, 0);
	assert_int_equal(f->para.nposts, 1);
	fx_free(f);

	/* Bit clear: straight to the hypervisor, never to the paravisor. */
	p.confidential_vmbus_available = false;
	f = fx_new(NULL);
	assert_int_equal(run_detect(f, CVMBUS_CLIENT_DETECT_CPUID, &p, true, false), 1);
	assert_false(cvmbus_client_confidential(f->cli));
	assert_int_equal(f->para.nposts, 0);
	assert_int_equal(f->hyp.nposts, 1);
	fx_free(f);

	/* Bit set but the paravisor fails: no fallback with CPUID. */
	p.confidential_vmbus_available = true;
	f = fx_new(NULL);
	assert_int_equal(run_detect(f, CVMBUS_CLIENT_DETECT_CPUID, &p, false, true), -1);
	assert_int_equal(f->hyp.nposts, 0);
	fx_free(f);
}

static void test_detect_probe_fallback(void **state)
{
	struct cvmbus_client_platform p = {
		.paravisor_present = true,
		.isolation = HV_ISOLATION_TYPE_SNP,
	};
	struct fx *f = fx_new(NULL);

	(void)state;
	/* A paravisor without Confidential VMBus: the non-isolated
	 * HvPostMessage is refused for every version, the attempt ends with
	 * -EDOM, and the plain attempt over the hypervisor connects. */
	assert_int_equal(run_detect(f, CVMBUS_CLIENT_DETECT_PROBE, &p, false, true), 2);
	assert_int_equal(f->para.nposts, 9);
	assert_int_equal(f->hyp.nposts, 1);
	assert_false(cvmbus_client_confidential(f->cli));
	/* Connected over the hypervisor: a confidential offer is refused. */
	assert_true(inj_offer(f, 3, CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER) < 0);
	fx_free(f);

	/* A paravisor that accepts the post but never answers: timeout, then
	 * the fallback. */
	f = fx_new(NULL);
	assert_int_equal(run_detect(f, CVMBUS_CLIENT_DETECT_PROBE, &p, false, false), 2);
	assert_int_equal(f->para.nposts, 1);
	assert_false(cvmbus_client_confidential(f->cli));
	fx_free(f);

	/* A paravisor with Confidential VMBus: the probe is the connection. */
	f = fx_new(NULL);
	assert_int_equal(run_detect(f, CVMBUS_CLIENT_DETECT_PROBE, &p, true, false), 1);
	assert_true(cvmbus_client_confidential(f->cli));
	assert_int_equal(cvmbus_client_features(f->cli), CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
	assert_int_equal(f->hyp.nposts, 0);
	fx_free(f);
}

/* ---- Envelope and hostile input ---------------------------------------------------- */

static void test_hv_message_envelope(void **state)
{
	struct fx *f = fx_new(NULL);
	struct hv_message m;

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, false), 0);
	take_post(f);
	memset(&m, 0, sizeof(m));
	m.header.message_type = HVMSG_TIMER_EXPIRED;
	m.header.payload_size = 16;
	wr32(m.payload, 0, 15);
	m.payload[8] = 1;
	assert_true(cvmbus_client_handle_hv_message(f->cli, &m, CVMBUS_CLIENT_PATH_HYPERVISOR) < 0);
	assert_int_equal(cvmbus_client_state(f->cli), CVMBUS_CLIENT_CONTACTING);
	m.header.message_type = HVMSG_VMBUS;
	m.header.payload_size = 241;
	assert_true(cvmbus_client_handle_hv_message(f->cli, &m, CVMBUS_CLIENT_PATH_HYPERVISOR) < 0);
	m.header.payload_size = 16;
	assert_int_equal(cvmbus_client_handle_hv_message(f->cli, &m, CVMBUS_CLIENT_PATH_HYPERVISOR),
			 0);
	assert_int_equal(cvmbus_client_state(f->cli), CVMBUS_CLIENT_CONNECTED);
	{
		struct cvmbus_client_stats st;

		cvmbus_client_get_stats(f->cli, &st);
		assert_int_equal(st.rx_by_path[CVMBUS_CLIENT_PATH_HYPERVISOR], 3);
	}
	fx_free(f);
}

/* A small deterministic PRNG: the loop is reproducible. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Requests the random server may answer correctly (or nearly so). */
struct pending {
	uint32_t type, relid, handle, version;
};

/* A plausible answer to a recorded request; `r` picks success or failure
 * and sometimes a wrong field. */
static size_t answer(const struct pending *q, uint64_t r, uint8_t *b)
{
	uint32_t skew = (r >> 50) % 16 == 0 ? 1 : 0; /* a wrong id now and then */

	switch (q->type) {
	case CVMBUS_MSG_INITIATE_CONTACT:
		wr32(b, 0, 15);
		b[8] = (r >> 40) % 4 != 0;
		wr32(b, 12, 0x2A);
		if (q->version >= V(6, 0) && (r >> 42) & 1) {
			wr32(b, 16, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
			return 20;
		}
		return 16;
	case CVMBUS_MSG_REQUEST_OFFERS:
		wr32(b, 0, 4);
		return 8;
	case CVMBUS_MSG_GPADL_BODY:
	case CVMBUS_MSG_GPADL_HEADER:
		wr32(b, 0, 10);
		wr32(b, 8, q->relid + skew);
		wr32(b, 12, q->handle);
		wr32(b, 16, (r >> 40) % 8 == 0 ? 0xC0000001u : 0);
		return 20;
	case CVMBUS_MSG_OPEN_CHANNEL:
		wr32(b, 0, 6);
		wr32(b, 8, q->relid);
		wr32(b, 12, q->relid + skew);
		wr32(b, 16, (r >> 40) % 8 == 0 ? 1 : 0);
		return 20;
	case CVMBUS_MSG_GPADL_TEARDOWN:
		wr32(b, 0, 12);
		wr32(b, 8, q->handle + skew);
		return 12;
	case CVMBUS_MSG_UNLOAD:
		wr32(b, 0, 17);
		return 8;
	default:
		return 0;
	}
}

static void test_random_messages(void **state)
{
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	struct cvmbus_client_stats st;
	uint64_t total_opens = 0, total_closes = 0, total_released = 0;
	int rounds = 24;

	(void)state;
	/* Longer or other runs by hand: CVMBUS_CLIENT_ROUNDS, CVMBUS_CLIENT_SEED. */
	if (getenv("CVMBUS_CLIENT_ROUNDS"))
		rounds = atoi(getenv("CVMBUS_CLIENT_ROUNDS"));
	if (getenv("CVMBUS_CLIENT_SEED"))
		seed = strtoull(getenv("CVMBUS_CLIENT_SEED"), NULL, 0) | 1;
	for (int round = 0; round < rounds; round++) {
		struct fx *f = fx_new(NULL);
		bool conf = round & 1;
		struct pending pend[64];
		size_t npend = 0;

		if (round % 3 == 0)
			connect_at(f, &f->para, true, V(6, 0), CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
		else
			assert_int_equal(cvmbus_client_connect(f->cli, &f->hyp.t, conf), 0);
		for (int i = 0; i < 6000; i++) {
			uint64_t r = rng_next(&seed);
			uint8_t b[260];
			size_t len = 0;
			uint32_t relid = (uint32_t)(r >> 8) % 8;

			memset(b, 0, sizeof(b));
			switch (r % 16) {
			case 0: /* pure noise */
				len = (size_t)(r >> 16) % sizeof(b);
				for (size_t k = 0; k < len; k++)
					b[k] = (uint8_t)rng_next(&seed);
				break;
			case 1:
			case 2:
				build_offer(b, relid, (r >> 20) % 4 ? 0 : (uint16_t)(r >> 24));
				if ((r >> 30) % 3 == 0)
					wr16(b, 56, CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
						    ((r >> 33) & 1 ? CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY : 0));
				len = 196;
				break;
			case 3:
				wr32(b, 0, 2);
				wr32(b, 8, relid);
				len = (r >> 40) % 4 == 0 ? 12 : 0;
				break;
			case 4: /* a mutated answer to nothing in particular */
				wr32(b, 0, (uint32_t)(r >> 24) % 32);
				len = 8 + (size_t)(r >> 32) % 40;
				for (size_t k = 8; k < len; k++)
					b[k] = (uint8_t)rng_next(&seed);
				break;
			case 5:
			case 6:
			case 7:
			case 8:
				/* The cooperative part: answer a recorded request. */
				if (npend) {
					size_t k = (size_t)(r >> 16) % npend;

					len = answer(&pend[k], r, b);
					pend[k] = pend[--npend];
				}
				break;
			default:
				break;
			}
			if (len) {
				(void)cvmbus_client_handle_message(f->cli, b, len,
								   (enum cvmbus_client_path)(r >> 63));
			} else {
				/* Driver requests and time, mixed in. */
				struct cvmbus_client_open_params p =
					ring_params(((uint32_t)(r >> 20) % 3 + 2) * 4096,
						    ((uint32_t)(r >> 22) % 40 + 2) * 4096);
				uint32_t h;

				switch ((r >> 8) % 10) {
				case 0:
				case 1: (void)cvmbus_client_open(f->cli, relid, &p); break;
				case 2: (void)cvmbus_client_close(f->cli, relid); break;
				case 3: (void)cvmbus_client_gpadl_create(f->cli, relid, 4096, &h, NULL); break;
				case 4: (void)cvmbus_client_gpadl_teardown(f->cli, relid,
									  0xE1E10 + (uint32_t)(r >> 32) % 64);
					break;
				case 5: (void)cvmbus_client_release(f->cli, relid); break;
				case 6: (void)cvmbus_client_request_offers(f->cli); break;
				case 7: advance(f, (r >> 32) % 1500 * MS); break;
				case 8:
					if ((r >> 20) % 200 == 0)
						(void)cvmbus_client_unload(f->cli);
					else if (cvmbus_client_state(f->cli) == CVMBUS_CLIENT_FAILED ||
						 cvmbus_client_state(f->cli) == CVMBUS_CLIENT_UNLOADED)
						(void)cvmbus_client_connect(f->cli, &f->hyp.t, conf);
					break;
				default:
					f->hyp.dflt = (r >> 30) % 11 == 0 ? HV_STATUS_INSUFFICIENT_BUFFERS
									  : HV_STATUS_SUCCESS;
					f->para.dflt = f->hyp.dflt;
					break;
				}
			}
			/* Record what was posted, for the cooperative answers. */
			for (size_t k = 0; k < f->nposts; k++) {
				const struct post *q = &f->posts[k];
				struct pending n = { .type = rd32(q->b, 0) };

				switch (n.type) {
				case CVMBUS_MSG_INITIATE_CONTACT: n.version = rd32(q->b, 8); break;
				case CVMBUS_MSG_GPADL_HEADER:
					n.relid = rd32(q->b, 8);
					n.handle = rd32(q->b, 12);
					/* Answer the header only when it is all there. */
					if (q->len != 236)
						break;
					continue;
				case CVMBUS_MSG_GPADL_BODY:
					/* The body's relid is the header's: look it up. */
					n.handle = rd32(q->b, 12);
					{
						struct cvmbus_client_gpadl_info gi;

						if (cvmbus_client_gpadl_info(f->cli, n.handle, &gi) < 0)
							continue;
						n.relid = gi.relid;
					}
					if (q->len == 240)
						continue;
					break;
				case CVMBUS_MSG_OPEN_CHANNEL: n.relid = rd32(q->b, 8); break;
				case CVMBUS_MSG_GPADL_TEARDOWN: n.handle = rd32(q->b, 12); break;
				case CVMBUS_MSG_REQUEST_OFFERS:
				case CVMBUS_MSG_UNLOAD: break;
				default: continue;
				}
				if (npend == 64)
					pend[(size_t)(r >> 24) % 64] = n;
				else
					pend[npend++] = n;
			}
			/* Drain what the client produced, as the glue would. */
			{
				struct cvmbus_client_event ev;

				while (cvmbus_client_next_event(f->cli, &ev)) {
					assert_true(ev.type > CVMBUS_CLIENT_EV_NONE &&
						    ev.type < CVMBUS_CLIENT_EV_COUNT);
					total_opens += ev.type == CVMBUS_CLIENT_EV_OPEN_DONE && !ev.status;
					total_closes += ev.type == CVMBUS_CLIENT_EV_CLOSE_DONE;
					total_released += ev.type == CVMBUS_CLIENT_EV_RELEASED;
				}
			}
			f->rd = f->nposts = 0;
			f->nlog = 0;
			assert_offer_accounting(f);
			/* Every ring the client reports has the visibility its
			 * offer calls for. */
			for (uint32_t c = 1; c < 8; c++) {
				struct cvmbus_client_channel_info ci;

				if (cvmbus_client_channel_info(f->cli, c, &ci) == 0 && ci.ring_gpadl)
					assert_pages(f, ci.ring_gpa, (ci.send_bytes + ci.recv_bytes) / 4096,
						     ci.ring_shared ? CVMBUS_MEM_PAGE_SHARED
								    : CVMBUS_MEM_PAGE_PRIVATE);
			}
		}
		cvmbus_client_get_stats(f->cli, &st);
		assert_true(st.rx_messages > 0);
		/* Whatever happened, no page is left host-visible by the client
		 * except those it counted as leaked. */
		{
			struct cvmbus_mem_exposure_totals before, after;

			cvmbus_mem_exposure_total(f->mem, &before);
			cvmbus_client_destroy(f->cli);
			f->cli = NULL;
			cvmbus_mem_exposure_total(f->mem, &after);
			assert_true(after.pages_now <= st.pages_leaked);
			if (getenv("CVMBUS_TEST_STATS"))
				fprintf(stderr, "round %d: rx %llu dropped %llu offers %llu/%llu "
					"posts %llu leaked %llu shared %llu->%llu\n", round,
					(unsigned long long)st.rx_messages,
					(unsigned long long)st.rx_dropped,
					(unsigned long long)st.offers_accepted,
					(unsigned long long)st.offers_received,
					(unsigned long long)st.tx_posts,
					(unsigned long long)st.pages_leaked,
					(unsigned long long)before.pages_now,
					(unsigned long long)after.pages_now);
		}
		fx_free(f);
	}
	if (getenv("CVMBUS_TEST_STATS"))
		fprintf(stderr, "opens %llu closes %llu released %llu\n",
			(unsigned long long)total_opens, (unsigned long long)total_closes,
			(unsigned long long)total_released);
	/* The loop reached the deep states, not only the error paths. */
	if (rounds < 24)
		return;
	assert_true(total_opens > 20);
	assert_true(total_closes > 5);
	assert_true(total_released > 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contact_bytes_60_confidential),
		cmocka_unit_test(test_contact_bytes_60_plain),
		cmocka_unit_test(test_contact_bytes_53_confidential),
		cmocka_unit_test(test_contact_bytes_40),
		cmocka_unit_test(test_version_fallback),
		cmocka_unit_test(test_max_version_cap),
		cmocka_unit_test(test_invalid_connection_id),
		cmocka_unit_test(test_contact_timeout),
		cmocka_unit_test(test_versions_exhausted),
		cmocka_unit_test(test_isolated_refuses_below_52),
		cmocka_unit_test(test_insufficient_buffers_retry),
		cmocka_unit_test(test_version_response_out_of_turn),
		cmocka_unit_test(test_features_granted),
		cmocka_unit_test(test_offers_and_all_delivered),
		cmocka_unit_test(test_confidential_offer_on_plain_connection),
		cmocka_unit_test(test_external_without_ring_refused),
		cmocka_unit_test(test_offer_relids),
		cmocka_unit_test(test_open_confidential_ring_private),
		cmocka_unit_test(test_open_plain_shares_before_header),
		cmocka_unit_test(test_gpadl_split_over_bodies),
		cmocka_unit_test(test_close_makes_pages_private),
		cmocka_unit_test(test_buffer_gpadl_external_rule),
		cmocka_unit_test(test_gpadl_created_failure),
		cmocka_unit_test(test_open_result_failure),
		cmocka_unit_test(test_open_timeout),
		cmocka_unit_test(test_rescind_during_gpadl),
		cmocka_unit_test(test_rescind_during_open),
		cmocka_unit_test(test_rescind_open_channel_release),
		cmocka_unit_test(test_host_protocol_violations),
		cmocka_unit_test(test_api_argument_checks),
		cmocka_unit_test(test_open_channel2),
		cmocka_unit_test(test_unload),
		cmocka_unit_test(test_detect_strategies_pure),
		cmocka_unit_test(test_detect_cpuid_against_transports),
		cmocka_unit_test(test_detect_probe_fallback),
		cmocka_unit_test(test_hv_message_envelope),
		cmocka_unit_test(test_random_messages),
	};

	/* Hostile-input tests provoke warnings by design: keep them quiet
	 * unless CVMBUS_TEST_LOG is set. */
	if (!getenv("CVMBUS_TEST_LOG"))
		cvmbus_log_set_sink(log_sink, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
