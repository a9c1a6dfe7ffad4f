/* SPDX-License-Identifier: MIT */
/*
 * Shared by the VMBus server's tests (tests/server/): a notifier that
 * records every action the server takes, and builders that write channel
 * messages byte by byte from the documented layouts (Linux hyperv.h,
 * OpenVMM protocol.rs; offsets in the comments) so that what the server is
 * fed, and what its replies are compared with, never comes from the code
 * under test.
 */
#ifndef CVMBUS_TESTS_SERVER_TEST_H
#define CVMBUS_TESTS_SERVER_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cvmbus/server.h"

/* ---- Little-endian stores ------------------------------------------------ */

static inline void put16(uint8_t *b, size_t off, uint16_t v)
{
	b[off] = (uint8_t)v;
	b[off + 1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *b, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static inline void put64(uint8_t *b, size_t off, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

/* A GUID as its 16 wire bytes: data1 LE @0, data2 LE @4, data3 LE @6, data4 @8. */
static inline void put_guid(uint8_t *b, size_t off, const struct cvmbus_guid *g)
{
	put32(b, off, g->data1);
	put16(b, off + 4, g->data2);
	put16(b, off + 6, g->data3);
	memcpy(b + off + 8, g->data4, 8);
}

/* ---- Client -> server messages ------------------------------------------- */

/* Header only: RequestOffers (3), Unload (16). 8 bytes. */
static inline size_t msg_hdr(uint8_t *b, uint32_t type)
{
	memset(b, 0, 8);
	put32(b, 0, type);
	return 8;
}

/* CloseChannel (7), RelIdReleased (13): relid @8. 12 bytes. */
static inline size_t msg_relid(uint8_t *b, uint32_t type, uint32_t relid)
{
	memset(b, 0, 12);
	put32(b, 0, type);
	put32(b, 8, relid);
	return 12;
}

/* InitiateContact (14), 40 bytes: version @8, target_vcpu @12, msg_sint @16,
 * msg_vtl @17, feature_flags @20, monitor pages @24 / @32. */
static inline size_t msg_initiate(uint8_t *b, uint32_t version, uint32_t vp, uint8_t sint,
				  uint8_t vtl, uint32_t features, uint64_t p2c, uint64_t c2p)
{
	memset(b, 0, 40);
	put32(b, 0, 14);
	put32(b, 8, version);
	put32(b, 12, vp);
	b[16] = sint;
	b[17] = vtl;
	put32(b, 20, features);
	put64(b, 24, p2c);
	put64(b, 32, c2p);
	return 40;
}

/* OpenChannel (5), 148 bytes: relid @8, openid @12, ring gpadl @16,
 * target_vp @20, downstream page offset @24, user_data[120] @28. */
static inline size_t msg_open(uint8_t *b, uint32_t relid, uint32_t openid, uint32_t gpadl,
			      uint32_t vp, uint32_t ds, uint8_t ud)
{
	memset(b, 0, 148);
	put32(b, 0, 5);
	put32(b, 8, relid);
	put32(b, 12, openid);
	put32(b, 16, gpadl);
	put32(b, 20, vp);
	put32(b, 24, ds);
	for (int i = 0; i < 120; i++)
		b[28 + i] = (uint8_t)(ud + i);
	return 148;
}

/* OpenChannel2, 156 bytes: the above, connection_id @148, event_flag @152,
 * flags @154. */
static inline size_t msg_open2(uint8_t *b, uint32_t relid, uint32_t openid, uint32_t gpadl,
			       uint32_t vp, uint32_t ds, uint32_t conn_id, uint16_t event_flag,
			       uint16_t flags)
{
	msg_open(b, relid, openid, gpadl, vp, ds, 0);
	put32(b, 148, conn_id);
	put16(b, 152, event_flag);
	put16(b, 154, flags);
	return 156;
}

/* GpadlHeader (8): relid @8, gpadl @12, range_buflen @16, rangecount @18,
 * then n 8-byte values @20. */
static inline size_t msg_gpadl_header(uint8_t *b, uint32_t relid, uint32_t gpadl,
				      uint16_t buflen, uint16_t rangecount,
				      const uint64_t *vals, size_t n)
{
	memset(b, 0, 20 + 8 * n);
	put32(b, 0, 8);
	put32(b, 8, relid);
	put32(b, 12, gpadl);
	put16(b, 16, buflen);
	put16(b, 18, rangecount);
	for (size_t i = 0; i < n; i++)
		put64(b, 20 + 8 * i, vals[i]);
	return 20 + 8 * n;
}

/* GpadlBody (9): msgnumber @8, gpadl @12, n PFNs @16. */
static inline size_t msg_gpadl_body(uint8_t *b, uint32_t msgnum, uint32_t gpadl,
				    const uint64_t *pfns, size_t n)
{
	memset(b, 0, 16 + 8 * n);
	put32(b, 0, 9);
	put32(b, 8, msgnum);
	put32(b, 12, gpadl);
	for (size_t i = 0; i < n; i++)
		put64(b, 16 + 8 * i, pfns[i]);
	return 16 + 8 * n;
}

/* GpadlTeardown (11), 16 bytes: relid @8, gpadl @12. */
static inline size_t msg_teardown(uint8_t *b, uint32_t relid, uint32_t gpadl)
{
	memset(b, 0, 16);
	put32(b, 0, 11);
	put32(b, 8, relid);
	put32(b, 12, gpadl);
	return 16;
}

/* ModifyChannel (22), 16 bytes: relid @8, target_vp @12. */
static inline size_t msg_modify(uint8_t *b, uint32_t relid, uint32_t vp)
{
	memset(b, 0, 16);
	put32(b, 0, 22);
	put32(b, 8, relid);
	put32(b, 12, vp);
	return 16;
}

/* ---- Expected server -> client messages ---------------------------------- */

/* VersionResponse (15), 16 bytes: version_supported @8, connection_state @9,
 * msg_conn_id @12. */
static inline size_t exp_version_response(uint8_t *b, uint8_t supported, uint8_t state,
					  uint32_t conn)
{
	memset(b, 0, 16);
	put32(b, 0, 15);
	b[8] = supported;
	b[9] = state;
	put32(b, 12, conn);
	return 16;
}

/* VersionResponse2, 20 bytes: + supported_features @16. */
static inline size_t exp_version_response2(uint8_t *b, uint8_t state, uint32_t conn,
					   uint32_t features)
{
	exp_version_response(b, 1, state, conn);
	put32(b, 16, features);
	return 20;
}

/* OpenResult (6) / GpadlCreated (10), 20 bytes: relid @8, id @12, status @16. */
static inline size_t exp_result(uint8_t *b, uint32_t type, uint32_t relid, uint32_t id,
				uint32_t status)
{
	memset(b, 0, 20);
	put32(b, 0, type);
	put32(b, 8, relid);
	put32(b, 12, id);
	put32(b, 16, status);
	return 20;
}

/* ModifyChannelResponse (24), 16 bytes: relid @8, status @12. */
static inline size_t exp_modify_response(uint8_t *b, uint32_t relid, uint32_t status)
{
	memset(b, 0, 16);
	put32(b, 0, 24);
	put32(b, 8, relid);
	put32(b, 12, status);
	return 16;
}

/* OfferChannel (1), 196 bytes: if_type @8, if_instance @24, reserved @40,
 * flags @56, mmio @58, user_defined @60, sub_channel_index @180, mmio
 * optional @182, relid @184, monitor_id @188, monitor_allocated @189,
 * is_dedicated_interrupt @190, connection_id @192. */
static inline size_t exp_offer(uint8_t *b, const struct cvmbus_guid *ift,
			       const struct cvmbus_guid *inst, uint16_t flags, uint16_t mmio,
			       const uint8_t *ud, uint16_t subidx, uint16_t mmio_opt,
			       uint32_t relid, uint32_t conn_id)
{
	memset(b, 0, 196);
	put32(b, 0, 1);
	put_guid(b, 8, ift);
	put_guid(b, 24, inst);
	put16(b, 56, flags);
	put16(b, 58, mmio);
	if (ud)
		memcpy(b + 60, ud, 120);
	put16(b, 180, subidx);
	put16(b, 182, mmio_opt);
	put32(b, 184, relid);
	b[188] = 0xFF;
	b[189] = 0;
	put16(b, 190, 1);
	put32(b, 192, conn_id);
	return 196;
}

/* ---- The recording notifier ---------------------------------------------- */

enum ev_kind {
	EV_SEND = 1,
	EV_OPEN,
	EV_CLOSE,
	EV_GPADL,
	EV_TEARDOWN,
	EV_MODIFY,
	EV_CONN,
	EV_UNLOAD,
};

#define EV_MAX_VALUES 128u

struct ev {
	enum ev_kind kind;
	uint32_t client;
	uint32_t relid;
	uint32_t id;       /* gpadl id; modify: target vp */
	struct cvmbus_server_target target;
	uint8_t bytes[CVMBUS_WIRE_MAX_SIZE];
	size_t len;
	struct cvmbus_server_open_request open;
	struct cvmbus_server_gpadl gpadl;   /* values points into .values */
	uint64_t values[EV_MAX_VALUES];
	struct cvmbus_server_connection conn;
};

#define REC_MAX_EVENTS 4096u
#define REC_MAX_LOGS 64u

struct rec {
	struct ev *ev; /* REC_MAX_EVENTS */
	size_t n, pos;
	char logs[REC_MAX_LOGS][256];
	enum cvmbus_server_reject log_reason[REC_MAX_LOGS];
	size_t nlogs;      /* lines received (may exceed REC_MAX_LOGS) */
	/* Test hook: called at the end of every callback. */
	void (*hook)(struct rec *r, const struct ev *e);
	struct cvmbus_server *srv;
	int hook_rc;
};

static inline struct ev *rec_push(struct rec *r, enum ev_kind kind, uint32_t client)
{
	struct ev *e;

	assert_true(r->n < REC_MAX_EVENTS);
	e = &r->ev[r->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->client = client;
	return e;
}

static inline void rec_done(struct rec *r, struct ev *e)
{
	if (r->hook)
		r->hook(r, e);
}

static inline void rec_send(void *ctx, uint32_t client, const struct cvmbus_server_target *t,
		     const void *msg, size_t len)
{
	struct rec *r = ctx;
	struct ev *e = rec_push(r, EV_SEND, client);

	assert_true(len <= sizeof(e->bytes));
	e->target = *t;
	memcpy(e->bytes, msg, len);
	e->len = len;
	rec_done(r, e);
}

static inline void rec_open(void *ctx, const struct cvmbus_server_open_request *req)
{
	struct rec *r = ctx;
	struct ev *e = rec_push(r, EV_OPEN, req->client);

	e->open = *req;
	e->relid = req->relid;
	rec_done(r, e);
}

static inline void rec_close(void *ctx, uint32_t client, uint32_t relid)
{
	struct rec *r = ctx;
	struct ev *e = rec_push(r, EV_CLOSE, client);

	e->relid = relid;
	rec_done(r, e);
}

static inline void rec_gpadl(void *ctx, const struct cvmbus_server_gpadl *g)
{
	struct rec *r = ctx;
	struct ev *e = rec_push(r, EV_GPADL, g->client);
	uint32_t n = g->nvalues < EV_MAX_VALUES ? g->nvalues : EV_MAX_VALUES;

	e->gpadl = *g;
	memcpy(e->values, g->values, n * sizeof(uint64_t));
	e->gpadl.values = e->values;
	e->relid = g->relid;
	e->id = g->gpadl_id;
	rec_done(r, e);
}

static inline void rec_teardown(void *ctx, uint32_t client, uint32_t relid, uint32_t gpadl)
{
	struct rec *r = ctx;
	struct ev *e = rec_push(r, EV_TEARDOWN, client);

	e->relid = relid;
	e->id = gpadl;
	rec_done(r, e);
}

static inline void rec_modify(void *ctx, uint32_t client, uint32_t relid, uint32_t vp)
{
	struct rec *r = ctx;
	struct ev *e = rec_push(r, EV_MODIFY, client);

	e->relid = relid;
	e->id = vp;
	rec_done(r, e);
}

static inline void rec_conn(void *ctx, const struct cvmbus_server_connection *c)
{
	struct rec *r = ctx;
	struct ev *e = rec_push(r, EV_CONN, c->client);

	e->conn = *c;
	rec_done(r, e);
}

static inline void rec_unload(void *ctx, uint32_t client)
{
	struct rec *r = ctx;
	struct ev *e = rec_push(r, EV_UNLOAD, client);

	rec_done(r, e);
}

static inline void rec_log(void *ctx, uint32_t client, enum cvmbus_server_reject reason,
		    const char *line)
{
	struct rec *r = ctx;

	(void)client;
	if (r->nlogs < REC_MAX_LOGS) {
		snprintf(r->logs[r->nlogs], sizeof(r->logs[0]), "%s", line);
		r->log_reason[r->nlogs] = reason;
	}
	r->nlogs++;
}

static inline struct cvmbus_server_notifier rec_notifier(struct rec *r)
{
	struct cvmbus_server_notifier n = {
		.ctx = r,
		.send_message = rec_send,
		.open_channel = rec_open,
		.close_channel = rec_close,
		.gpadl_create = rec_gpadl,
		.gpadl_teardown = rec_teardown,
		.modify_channel = rec_modify,
		.connection_changed = rec_conn,
		.unload_complete = rec_unload,
		.log = rec_log,
	};
	return n;
}

#endif /* CVMBUS_TESTS_SERVER_TEST_H */
