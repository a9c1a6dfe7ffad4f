/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of what the guest VMBus client (src/client) offers a relay
 * (the paravisor's client of the host): InitiateContact without monitor
 * pages, foreign GPADLs (another client's range list under its handle),
 * opens over a foreign ring with OpenChannel2 signal parameters, the close
 * that leaves the ring GPADL to its owner, the clearing of confidential
 * offer bits, and rescind / unload with foreign GPADLs. A scripted server
 * here records every post; expected bytes are written by hand from the
 * layouts (docs/WIRE.md). The "other client's" pages are allocated and
 * shared by the test, filled with a pattern, and checked untouched: the
 * relay's client must never allocate, zero, change or free them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cvmbus/client.h"
#include "cvmbus/log.h"
#include "cvmbus/memory.h"

#define SEC 1000000000ull
#define V60 0x00060000u
#define HOST_CONN 0x800074u
#define MAX_POSTS 64
#define PATTERN 0x5Au

/* ---- bytes, by hand ------------------------------------------------------ */

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

/* ---- the scripted server ---------------------------------------------------- */

struct post {
	uint32_t conn_id;
	size_t len;
	uint8_t b[240];
};

struct fx {
	struct cvmbus_mem *mem;
	struct cvmbus_client *cli;
	struct cvmbus_client_transport t;
	struct post posts[MAX_POSTS];
	size_t nposts, rd;
	unsigned int vis_calls; /* visibility hypercalls: the relay must make none */
	uint64_t now;
	/* The other client's pages (as the guest would own them). */
	uint64_t other_gpa;
	uint64_t other_pages;
};

static uint16_t xport_post(void *ctx, uint32_t connection_id, const void *msg, size_t len)
{
	struct fx *f = ctx;
	struct post *p;

	assert_true(len >= 8 && len <= 240);
	assert_true(f->nposts < MAX_POSTS);
	p = &f->posts[f->nposts++];
	memset(p, 0, sizeof(*p));
	p->conn_id = connection_id;
	p->len = len;
	memcpy(p->b, msg, len);
	return HV_STATUS_SUCCESS;
}

static uint16_t vis_hook(void *ctx,
			 const struct hv_input_modify_sparse_gpa_page_host_visibility *in,
			 uint32_t n)
{
	struct fx *f = ctx;

	f->vis_calls++;
	return cvmbus_mem_visibility_default(cvmbus_mem_host(f->mem), in, n);
}

static void log_sink(void *ctx, enum cvmbus_log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

static struct post *take(struct fx *f)
{
	assert_true(f->rd < f->nposts);
	return &f->posts[f->rd++];
}

static void no_more_posts(struct fx *f)
{
	assert_int_equal(f->rd, f->nposts);
}

static void deliver(struct fx *f, const uint8_t *b, size_t len)
{
	assert_int_equal(cvmbus_client_handle_message(f->cli, b, len,
						       CVMBUS_CLIENT_PATH_HYPERVISOR), 0);
}

static struct cvmbus_client_event next_ev(struct fx *f)
{
	struct cvmbus_client_event ev;

	assert_int_equal(cvmbus_client_next_event(f->cli, &ev), 1);
	return ev;
}

static void no_more_events(struct fx *f)
{
	struct cvmbus_client_event ev;

	assert_int_equal(cvmbus_client_next_event(f->cli, &ev), 0);
}

struct opts {
	uint32_t extra_features;
	bool clear;
};

static struct fx *fx_new(const struct opts *o)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cvmbus_mem_config mc = {
		.isolation = HV_ISOLATION_TYPE_SNP,
		.vtl0_bytes = 4ull << 20,
	};
	struct cvmbus_client_config cfg;

	assert_non_null(f);
	cvmbus_log_set_sink(log_sink, NULL);
	assert_int_equal(cvmbus_mem_create(&mc, &f->mem), 0);
	cvmbus_mem_set_visibility_handler(f->mem, vis_hook, f);

	/* The other client's pages: shared, with a pattern in them. */
	f->other_pages = 64;
	assert_int_equal(cvmbus_mem_alloc(f->mem, CVMBUS_MEM_REGION_VTL0, f->other_pages,
					  &f->other_gpa), 0);
	assert_int_equal(cvmbus_mem_make_shared(f->mem, CVMBUS_MEM_PARTY_GUEST, f->other_gpa,
						f->other_pages, "other"), 0);
	for (uint64_t i = 0; i < f->other_pages; i++) {
		uint8_t page[4096];

		memset(page, PATTERN, sizeof(page));
		assert_int_equal(cvmbus_mem_write(f->mem, CVMBUS_MEM_VIEW_GUEST,
						  f->other_gpa + i * 4096, page, sizeof(page)), 0);
	}
	f->vis_calls = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.mem = f->mem;
	cfg.vtl = 2;
	cfg.extra_features = o->extra_features;
	cfg.no_monitor_pages = true;
	cfg.clear_confidential_offers = o->clear;
	assert_int_equal(cvmbus_client_create(&cfg, &f->cli), 0);
	f->t.post_message = xport_post;
	f->t.ctx = f;
	f->t.path = CVMBUS_CLIENT_PATH_HYPERVISOR;
	return f;
}

/* The other client's pages kept their state and every byte. */
static void other_pages_untouched(struct fx *f)
{
	for (uint64_t i = 0; i < f->other_pages; i++) {
		uint8_t page[4096];
		uint64_t gpa = f->other_gpa + i * 4096;

		assert_int_equal(cvmbus_mem_page_state(f->mem, gpa), CVMBUS_MEM_PAGE_SHARED);
		assert_int_equal(cvmbus_mem_read(f->mem, CVMBUS_MEM_VIEW_GUEST, gpa, page,
						 sizeof(page)), 0);
		for (size_t j = 0; j < sizeof(page); j++)
			if (page[j] != PATTERN)
				fail_msg("page 0x%llx byte %zu changed", (unsigned long long)gpa, j);
	}
	assert_int_equal(f->vis_calls, 0);
}

static void fx_free(struct fx *f)
{
	cvmbus_client_destroy(f->cli);
	/* Still allocated by "the other client" after the client is gone:
	 * a free the client had made would make this one fail. */
	assert_int_equal(cvmbus_mem_free(f->mem, f->other_gpa, f->other_pages), 0);
	cvmbus_mem_destroy(f->mem);
	free(f);
	cvmbus_log_set_sink(NULL, NULL);
}

/* VersionResponse2 (15), 20 bytes: supported @8, state @9, conn id @12,
 * features @16. */
static void version_response(struct fx *f, uint32_t conn, uint32_t features)
{
	uint8_t b[20] = { 0 };

	wr32(b, 0, 15);
	b[8] = 1;
	wr32(b, 12, conn);
	wr32(b, 16, features);
	deliver(f, b, sizeof(b));
}

/* OfferChannel (1), 196 bytes: if_type @8, instance @24, flags @56,
 * sub-channel index @180, relid @184, connection id @192. */
static void offer(struct fx *f, uint32_t relid, uint16_t flags)
{
	uint8_t b[196] = { 0 };

	wr32(b, 0, 1);
	memset(b + 8, 0x11, 16);
	memset(b + 24, (int)relid, 16);
	wr16(b, 56, flags);
	wr32(b, 184, relid);
	b[188] = 0xFF;
	wr32(b, 192, 0x2000 + relid);
	deliver(f, b, sizeof(b));
}

static void relid_msg(struct fx *f, uint32_t type, uint32_t relid)
{
	uint8_t b[12] = { 0 };

	wr32(b, 0, type);
	wr32(b, 8, relid);
	deliver(f, b, sizeof(b));
}

/* GpadlCreated (10) / OpenResult (6): relid @8, gpadl or open id @12,
 * status @16. */
static void three_u32(struct fx *f, uint32_t type, uint32_t a, uint32_t b2, uint32_t c)
{
	uint8_t b[20] = { 0 };

	wr32(b, 0, type);
	wr32(b, 8, a);
	wr32(b, 12, b2);
	wr32(b, 16, c);
	deliver(f, b, sizeof(b));
}

static void torndown(struct fx *f, uint32_t gpadl)
{
	uint8_t b[12] = { 0 };

	wr32(b, 0, 12);
	wr32(b, 8, gpadl);
	deliver(f, b, sizeof(b));
}

static void empty(struct fx *f, uint32_t type)
{
	uint8_t b[8] = { 0 };

	wr32(b, 0, type);
	deliver(f, b, sizeof(b));
}

/* Connect at 6.0 granting `granted`, then one offer of relid 7. */
static void connect_and_offer(struct fx *f, uint32_t granted)
{
	struct cvmbus_client_event ev;
	struct post *p;

	assert_int_equal(cvmbus_client_connect(f->cli, &f->t, false), 0);
	p = take(f);
	assert_int_equal(rd32(p->b, 0), 14);
	version_response(f, HOST_CONN, granted);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_CONNECTED);
	assert_int_equal(cvmbus_client_msg_conn_id(f->cli), HOST_CONN);
	offer(f, 7, 0);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_OFFER);
	assert_int_equal(ev.relid, 7);
}

/* ---- tests ------------------------------------------------------------------- */

/* InitiateContact of a relay: 40 bytes, 6.0 @8, target vcpu 0 @12, SINT 2
 * @16, VTL 2 @17, the two features @20, and no monitor page @24/@32. No
 * page is allocated or made visible for it. */
static void test_relay_contact_without_pages(void **state)
{
	static const uint8_t want[40] = {
		14, 0, 0, 0, 0, 0, 0, 0,        /* InitiateContact, padding */
		0, 0, 6, 0,                     /* version 6.0 */
		0, 0, 0, 0,                     /* target vcpu 0 */
		2, 2, 0, 0,                     /* SINT 2, VTL 2, reserved */
		3, 0, 0, 0,                     /* signal parameters + redirection */
		0, 0, 0, 0, 0, 0, 0, 0,         /* no parent-to-child page */
		0, 0, 0, 0, 0, 0, 0, 0,         /* no child-to-parent page */
	};
	struct opts o = { .extra_features = 0x3 };
	struct fx *f = fx_new(&o);
	uint64_t ip, m1, m2, gpa;
	struct post *p;

	(void)state;
	assert_int_equal(cvmbus_client_connect(f->cli, &f->t, false), 0);
	p = take(f);
	assert_int_equal(p->conn_id, 4);
	assert_int_equal(p->len, sizeof(want));
	assert_memory_equal(p->b, want, sizeof(want));
	cvmbus_client_monitor_pages(f->cli, &ip, &m1, &m2);
	assert_true(ip == 0 && m1 == 0 && m2 == 0);
	/* The next free page is the one right after the other client's. */
	assert_int_equal(cvmbus_mem_alloc(f->mem, CVMBUS_MEM_REGION_VTL0, 1, &gpa), 0);
	assert_int_equal(gpa, f->other_gpa + f->other_pages * 4096);
	assert_int_equal(cvmbus_mem_free(f->mem, gpa, 1), 0);
	version_response(f, HOST_CONN, 0x3);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_CONNECTED);
	assert_int_equal(cvmbus_client_features(f->cli), 0x3);
	other_pages_untouched(f);
	fx_free(f);
}

/* A two-range foreign GPADL fits the header: range_buflen 48 @16,
 * rangecount 2 @18, then the six values as given, from @20. */
static void test_relay_foreign_gpadl_two_ranges(void **state)
{
	struct opts o = { .extra_features = 0x1 };
	struct fx *f = fx_new(&o);
	uint64_t p0 = f->other_gpa >> 12;
	uint64_t values[6] = {
		8192,                       /* 8 KiB at offset 0 */
		p0, p0 + 1,
		400ull | 0xF00ull << 32,    /* 400 bytes at offset 0xF00: 2 pages */
		p0 + 10, p0 + 11,
	};
	struct cvmbus_client_gpadl_info gi;
	struct cvmbus_client_event ev;
	struct post *p;

	(void)state;
	connect_and_offer(f, 0x1);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 0xE1E10, 2, values, 6), 0);
	p = take(f);
	assert_int_equal(p->conn_id, HOST_CONN);
	assert_int_equal(p->len, 20 + 48);
	assert_int_equal(rd32(p->b, 0), 8);
	assert_int_equal(rd32(p->b, 8), 7);
	assert_int_equal(rd32(p->b, 12), 0xE1E10);
	assert_int_equal(rd16(p->b, 16), 48);
	assert_int_equal(rd16(p->b, 18), 2);
	assert_true(rd64(p->b, 20) == 8192);
	assert_true(rd64(p->b, 28) == p0);
	assert_true(rd64(p->b, 36) == p0 + 1);
	assert_true(rd64(p->b, 44) == (400ull | 0xF00ull << 32));
	assert_true(rd64(p->b, 52) == p0 + 10);
	assert_true(rd64(p->b, 60) == p0 + 11);
	no_more_posts(f);
	assert_int_equal(cvmbus_client_gpadl_info(f->cli, 0xE1E10, &gi), 0);
	assert_true(gi.foreign);
	assert_false(gi.shared);
	assert_int_equal(gi.npages, 4);
	assert_true(gi.gpa == f->other_gpa);
	assert_int_equal(gi.state, CVMBUS_CLIENT_GPADL_CREATING);

	three_u32(f, 10, 7, 0xE1E10, 0);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_GPADL_DONE);
	assert_int_equal(ev.status, 0);
	assert_int_equal(ev.gpadl, 0xE1E10);
	/* The same handle twice is refused: answers name the handle only. */
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 0xE1E10, 2, values, 6),
			 -EEXIST);
	other_pages_untouched(f);
	fx_free(f);
}

/* One range of 40 pages: the header takes the range value and 26 PFNs
 * (236 bytes), a GpadlBody the last 14 (16 + 112 bytes), msgnumber 0. */
static void test_relay_foreign_gpadl_with_body(void **state)
{
	struct opts o = { .extra_features = 0x1 };
	struct fx *f = fx_new(&o);
	uint64_t values[41];
	uint64_t p0 = f->other_gpa >> 12;
	struct post *p;

	(void)state;
	values[0] = 40ull * 4096;
	for (unsigned int i = 0; i < 40; i++)
		values[1 + i] = p0 + i;
	connect_and_offer(f, 0x1);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 0x1234, 1, values, 41), 0);
	p = take(f);
	assert_int_equal(p->len, 236);
	assert_int_equal(rd16(p->b, 16), 41 * 8);
	assert_int_equal(rd16(p->b, 18), 1);
	assert_true(rd64(p->b, 20) == 40ull * 4096);
	for (unsigned int i = 0; i < 26; i++)
		assert_true(rd64(p->b, 28 + 8 * i) == p0 + i);
	p = take(f);
	assert_int_equal(p->len, 16 + 14 * 8);
	assert_int_equal(rd32(p->b, 0), 9);
	assert_int_equal(rd32(p->b, 8), 0);
	assert_int_equal(rd32(p->b, 12), 0x1234);
	for (unsigned int i = 0; i < 14; i++)
		assert_true(rd64(p->b, 16 + 8 * i) == p0 + 26 + i);
	no_more_posts(f);
	three_u32(f, 10, 7, 0x1234, 0);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_GPADL_DONE);
	other_pages_untouched(f);
	fx_free(f);
}

/* A range list that does not add up never leaves the client. */
static void test_relay_foreign_gpadl_refused(void **state)
{
	struct opts o = { .extra_features = 0x1 };
	struct fx *f = fx_new(&o);
	uint64_t p0 = f->other_gpa >> 12;
	uint64_t ok[3] = { 8192, p0, p0 + 1 };
	uint64_t short_list[2] = { 8192, p0 };              /* one PFN missing */
	uint64_t long_list[4] = { 8192, p0, p0 + 1, p0 + 2 }; /* one value too many */
	uint64_t zero_count[2] = { 0, p0 };
	uint64_t bad_offset[2] = { 16ull | 4096ull << 32, p0 };
	uint64_t *huge = calloc(8192, sizeof(*huge));

	(void)state;
	assert_non_null(huge);
	/* Before a connection nothing goes. */
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 1, 1, ok, 3), -ENOTCONN);
	connect_and_offer(f, 0x1);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 0, 1, ok, 3), -EINVAL);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 1, 0, ok, 3), -EINVAL);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 1, 2, ok, 3), -EINVAL);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 1, 1, short_list, 2),
			 -EINVAL);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 1, 1, long_list, 4),
			 -EINVAL);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 1, 1, zero_count, 2),
			 -EINVAL);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 1, 1, bad_offset, 2),
			 -EINVAL);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 1, 1, huge, 8192), -E2BIG);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 8, 1, 1, ok, 3), -ENOENT);
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 1, 1, NULL, 3), -EINVAL);
	no_more_posts(f);
	no_more_events(f);
	free(huge);
	other_pages_untouched(f);
	fx_free(f);
}

/* Creates foreign ring GPADL 0xE1E10 (8 pages) on relid 7 and answers it. */
static void foreign_ring(struct fx *f)
{
	uint64_t values[9];

	values[0] = 8ull * 4096;
	for (unsigned int i = 0; i < 8; i++)
		values[1 + i] = (f->other_gpa >> 12) + i;
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 0xE1E10, 1, values, 9), 0);
	assert_int_equal(rd32(take(f)->b, 0), 8);
	three_u32(f, 10, 7, 0xE1E10, 0);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_GPADL_DONE);
}

/*
 * OpenChannel2 (5), 156 bytes, over the foreign ring: relid @8, open id
 * (= relid) @12, gpadl @16, target vp @20, downstream offset @24, user
 * data @28, the other client's connection id @148 and event flag @152,
 * flags @154. The close sends CloseChannel (7, 12 bytes) and nothing else;
 * the GPADL stays for its owner, who tears it down itself.
 */
static void test_relay_open_foreign_bytes(void **state)
{
	struct opts o = { .extra_features = 0x3 };
	struct fx *f = fx_new(&o);
	static const uint8_t ud[3] = { 0xAA, 0xBB, 0xCC };
	struct cvmbus_client_open_foreign_params op = {
		.ring_gpadl = 0xE1E10,
		.downstream_page_offset = 4,
		.target_vp = 1,
		.user_data = ud,
		.user_data_len = sizeof(ud),
		.connection_id = 0x2005,
		.event_flag = 5,
	};
	struct cvmbus_client_channel_info ci;
	struct cvmbus_client_gpadl_info gi;
	struct cvmbus_client_event ev;
	struct post *p;

	(void)state;
	connect_and_offer(f, 0x3);
	foreign_ring(f);
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 7, &op), 0);
	p = take(f);
	assert_int_equal(p->conn_id, HOST_CONN);
	assert_int_equal(p->len, 156);
	assert_int_equal(rd32(p->b, 0), 5);
	assert_int_equal(rd32(p->b, 8), 7);
	assert_int_equal(rd32(p->b, 12), 7);
	assert_int_equal(rd32(p->b, 16), 0xE1E10);
	assert_int_equal(rd32(p->b, 20), 1);
	assert_int_equal(rd32(p->b, 24), 4);
	assert_int_equal(p->b[28], 0xAA);
	assert_int_equal(p->b[29], 0xBB);
	assert_int_equal(p->b[30], 0xCC);
	for (unsigned int i = 31; i < 148; i++)
		assert_int_equal(p->b[i], 0);
	assert_int_equal(rd32(p->b, 148), 0x2005);
	assert_int_equal(rd16(p->b, 152), 5);
	assert_int_equal(rd16(p->b, 154), 0);
	no_more_posts(f);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 7, &ci), 0);
	assert_int_equal(ci.state, CVMBUS_CLIENT_CHAN_OPENING);
	assert_true(ci.foreign_ring);
	assert_int_equal(ci.ring_gpadl, 0xE1E10);
	assert_true(ci.ring_gpa == f->other_gpa);
	assert_int_equal(ci.send_bytes, 4 * 4096);
	assert_int_equal(ci.recv_bytes, 4 * 4096);

	three_u32(f, 6, 7, 7, 0);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_OPEN_DONE);
	assert_int_equal(ev.status, 0);
	/* Opening twice is refused while open. */
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 7, &op), -EBUSY);

	assert_int_equal(cvmbus_client_close(f->cli, 7), 0);
	p = take(f);
	assert_int_equal(p->len, 12);
	assert_int_equal(rd32(p->b, 0), 7);
	assert_int_equal(rd32(p->b, 8), 7);
	no_more_posts(f);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_CLOSE_DONE);
	assert_int_equal(ev.status, 0);
	no_more_events(f);
	assert_int_equal(cvmbus_client_gpadl_info(f->cli, 0xE1E10, &gi), 0);
	assert_int_equal(gi.state, CVMBUS_CLIENT_GPADL_CREATED);

	/* The owner's teardown: GpadlTeardown (11), relid @8, gpadl @12. */
	assert_int_equal(cvmbus_client_gpadl_teardown(f->cli, 7, 0xE1E10), 0);
	p = take(f);
	assert_int_equal(p->len, 16);
	assert_int_equal(rd32(p->b, 0), 11);
	assert_int_equal(rd32(p->b, 8), 7);
	assert_int_equal(rd32(p->b, 12), 0xE1E10);
	torndown(f, 0xE1E10);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_GPADL_TORNDOWN);
	assert_int_equal(ev.status, 0);
	assert_int_equal(cvmbus_client_gpadl_info(f->cli, 0xE1E10, &gi), -ENOENT);
	other_pages_untouched(f);
	fx_free(f);
}

static void test_relay_open_foreign_refused(void **state)
{
	struct opts o = { .extra_features = 0x1 };
	struct fx *f = fx_new(&o);
	struct cvmbus_client_open_foreign_params op = {
		.ring_gpadl = 0xE1E10,
		.downstream_page_offset = 4,
		.connection_id = 0x2005,
		.event_flag = 5,
	};
	uint64_t values[9];

	(void)state;
	connect_and_offer(f, 0x1);
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 7, &op), -ENOENT);
	values[0] = 8ull * 4096;
	for (unsigned int i = 0; i < 8; i++)
		values[1 + i] = (f->other_gpa >> 12) + i;
	assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 7, 0xE1E10, 1, values, 9), 0);
	(void)take(f);
	/* Not created yet. */
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 7, &op), -EBUSY);
	three_u32(f, 10, 7, 0xE1E10, 0);
	(void)next_ev(f);
	op.downstream_page_offset = 1;
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 7, &op), -EINVAL);
	op.downstream_page_offset = 7;
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 7, &op), -EINVAL);
	op.downstream_page_offset = 4;
	op.open_flags = CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT; /* not negotiated */
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 7, &op), -EINVAL);
	op.open_flags = 0;
	op.user_data_len = 121;
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 7, &op), -EINVAL);
	op.user_data_len = 0;
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 9, &op), -ENOENT);
	no_more_posts(f);
	other_pages_untouched(f);
	fx_free(f);
}

/* A host that grants 6.0 without signal parameters cannot carry a relayed
 * open: the host would signal the relay instead of the guest. */
static void test_relay_open_foreign_needs_signal_params(void **state)
{
	struct opts o = { .extra_features = 0x3 };
	struct fx *f = fx_new(&o);
	struct cvmbus_client_open_foreign_params op = {
		.ring_gpadl = 0xE1E10,
		.downstream_page_offset = 4,
	};

	(void)state;
	connect_and_offer(f, 0x2); /* redirection only */
	foreign_ring(f);
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 7, &op), -EOPNOTSUPP);
	no_more_posts(f);
	other_pages_untouched(f);
	fx_free(f);
}

/* The option turns a refusal into an accepted offer with 0x2, 0x4 and 0x8
 * cleared and the rest kept; without it the same offer is refused. */
static void test_relay_offer_flags_cleared(void **state)
{
	struct opts plain = { .extra_features = 0x1 };
	struct opts clear = { .extra_features = 0x1, .clear = true };
	struct cvmbus_client_channel_info ci;
	struct cvmbus_client_stats st;
	struct cvmbus_client_event ev;
	struct fx *f;

	(void)state;
	f = fx_new(&plain);
	connect_and_offer(f, 0x1);
	{
		uint8_t b[196] = { 0 };

		wr32(b, 0, 1);
		wr16(b, 56, 0x000F);
		wr32(b, 184, 9);
		assert_int_equal(cvmbus_client_handle_message(f->cli, b, sizeof(b),
							       CVMBUS_CLIENT_PATH_HYPERVISOR),
				 -EOPNOTSUPP); /* the decoder's verdict: no such feature */
	}
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_OFFER_REFUSED);
	assert_int_equal(ev.reason, CVMBUS_CLIENT_DROP_CONFIDENTIAL_UNSUPPORTED);
	fx_free(f);

	f = fx_new(&clear);
	connect_and_offer(f, 0x1);
	offer(f, 9, 0x000F);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_OFFER);
	assert_int_equal(ev.relid, 9);
	assert_int_equal(cvmbus_client_channel_info(f->cli, 9, &ci), 0);
	assert_int_equal(ci.offer.flags, 0x0001);
	assert_false(ci.confidential_ring);
	assert_false(ci.confidential_external);
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.offers_flags_cleared, 1);
	/* An offer without those bits is not counted. */
	offer(f, 10, 0x0001);
	(void)next_ev(f);
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.offers_flags_cleared, 1);
	fx_free(f);
}

/*
 * The host rescinds an open relayed channel: release closes it
 * (CloseChannel), tears the foreign GPADL down (GpadlTeardown, answered),
 * then sends RelIdReleased (13); the other client's pages are untouched
 * throughout. An open still waiting for its result fails with -ENODEV.
 */
static void test_relay_rescind_release(void **state)
{
	struct opts o = { .extra_features = 0x1 };
	struct fx *f = fx_new(&o);
	struct cvmbus_client_open_foreign_params op = {
		.ring_gpadl = 0xE1E10,
		.downstream_page_offset = 4,
		.connection_id = 0x2005,
		.event_flag = 5,
	};
	struct cvmbus_client_event ev;
	struct post *p;

	(void)state;
	connect_and_offer(f, 0x1);
	foreign_ring(f);
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 7, &op), 0);
	(void)take(f);
	three_u32(f, 6, 7, 7, 0);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_OPEN_DONE);

	relid_msg(f, 2, 7);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_RESCIND);
	assert_int_equal(cvmbus_client_release(f->cli, 7), 0);
	p = take(f);
	assert_int_equal(rd32(p->b, 0), 7);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_CLOSE_DONE);
	p = take(f);
	assert_int_equal(rd32(p->b, 0), 11);
	assert_int_equal(rd32(p->b, 12), 0xE1E10);
	no_more_posts(f);
	torndown(f, 0xE1E10);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_GPADL_TORNDOWN);
	p = take(f);
	assert_int_equal(p->len, 12);
	assert_int_equal(rd32(p->b, 0), 13);
	assert_int_equal(rd32(p->b, 8), 7);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_RELEASED);

	/* A second channel: rescinded while its open waits. */
	offer(f, 8, 0);
	(void)next_ev(f);
	{
		uint64_t values[9];

		values[0] = 8ull * 4096;
		for (unsigned int i = 0; i < 8; i++)
			values[1 + i] = (f->other_gpa >> 12) + 16 + i;
		assert_int_equal(cvmbus_client_gpadl_create_foreign(f->cli, 8, 0xBEEF, 1, values,
								    9), 0);
		(void)take(f);
		three_u32(f, 10, 8, 0xBEEF, 0);
		(void)next_ev(f);
	}
	op.ring_gpadl = 0xBEEF;
	assert_int_equal(cvmbus_client_open_foreign(f->cli, 8, &op), 0);
	(void)take(f);
	relid_msg(f, 2, 8);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_RESCIND);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_OPEN_DONE);
	assert_int_equal(ev.status, -ENODEV);
	other_pages_untouched(f);
	fx_free(f);
}

/* Unload with foreign GPADLs still held: the response forgets them without
 * touching (or freeing) a page; so does a destroy without an unload. */
static void test_relay_unload_forgets_foreign(void **state)
{
	struct opts o = { .extra_features = 0x1 };
	struct fx *f = fx_new(&o);
	struct cvmbus_client_gpadl_info gi;
	struct cvmbus_client_stats st;

	(void)state;
	connect_and_offer(f, 0x1);
	foreign_ring(f);
	assert_int_equal(cvmbus_client_unload(f->cli), 0);
	assert_int_equal(rd32(take(f)->b, 0), 16);
	empty(f, 17);
	assert_int_equal(next_ev(f).type, CVMBUS_CLIENT_EV_UNLOADED);
	assert_int_equal(cvmbus_client_gpadl_info(f->cli, 0xE1E10, &gi), -ENOENT);
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.pages_leaked, 0);
	other_pages_untouched(f);
	fx_free(f);

	f = fx_new(&o);
	connect_and_offer(f, 0x1);
	foreign_ring(f);
	fx_free(f); /* destroy with the GPADL held; fx_free checks the pages */
}

/* A foreign GPADL whose teardown is never answered is given up on after
 * the reply timeout (-ETIMEDOUT) without counting the pages as leaked:
 * they are not the client's. */
static void test_relay_foreign_teardown_timeout(void **state)
{
	struct opts o = { .extra_features = 0x1 };
	struct fx *f = fx_new(&o);
	struct cvmbus_client_stats st;
	struct cvmbus_client_event ev;

	(void)state;
	connect_and_offer(f, 0x1);
	foreign_ring(f);
	assert_int_equal(cvmbus_client_gpadl_teardown(f->cli, 7, 0xE1E10), 0);
	(void)take(f);
	f->now += 6 * SEC;
	cvmbus_client_tick(f->cli, f->now);
	ev = next_ev(f);
	assert_int_equal(ev.type, CVMBUS_CLIENT_EV_GPADL_TORNDOWN);
	assert_int_equal(ev.status, -ETIMEDOUT);
	cvmbus_client_get_stats(f->cli, &st);
	assert_int_equal(st.pages_leaked, 0);
	other_pages_untouched(f);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_contact_without_pages),
		cmocka_unit_test(test_relay_foreign_gpadl_two_ranges),
		cmocka_unit_test(test_relay_foreign_gpadl_with_body),
		cmocka_unit_test(test_relay_foreign_gpadl_refused),
		cmocka_unit_test(test_relay_open_foreign_bytes),
		cmocka_unit_test(test_relay_open_foreign_refused),
		cmocka_unit_test(test_relay_open_foreign_needs_signal_params),
		cmocka_unit_test(test_relay_offer_flags_cleared),
		cmocka_unit_test(test_relay_rescind_release),
		cmocka_unit_test(test_relay_unload_forgets_foreign),
		cmocka_unit_test(test_relay_foreign_teardown_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
