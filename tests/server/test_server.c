/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the VMBus server state machine (src/server), in the manner
 * of OpenVMM's channels/tests.rs: raw client messages built byte by byte
 * from the layouts go in, and the recorded notifier actions and the exact
 * bytes of every reply are checked. Covers negotiation, offers, channels,
 * GPADLs, rescind, modify, unload, multiple clients, and every rejection
 * path; each test ends with the server's own invariant check.
 */
#include <errno.h>
#include <stdlib.h>

#include "server_test.h"

/* ---- Fixture ------------------------------------------------------------- */

struct fx {
	struct rec rec;
	struct cvmbus_server *srv;
	struct cvmbus_server_config cfg;
};

typedef void (*tweak_fn)(struct cvmbus_server_config *cfg);

static struct fx *fx_new(enum cvmbus_server_role role, tweak_fn tweak)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cvmbus_server_notifier n;

	assert_non_null(f);
	f->rec.ev = calloc(REC_MAX_EVENTS, sizeof(struct ev));
	assert_non_null(f->rec.ev);
	cvmbus_server_config_init(&f->cfg, role);
	if (tweak)
		tweak(&f->cfg);
	n = rec_notifier(&f->rec);
	assert_int_equal(cvmbus_server_create(&f->cfg, &n, &f->srv), 0);
	f->rec.srv = f->srv;
	return f;
}

static void fx_free(struct fx *f)
{
	const char *why = NULL;
	int rc = cvmbus_server_check(f->srv, &why);

	if (rc != 0)
		fail_msg("invariant: %s", why);
	cvmbus_server_destroy(f->srv);
	free(f->rec.ev);
	free(f);
}

static int feed_t(struct fx *f, uint32_t client, const uint8_t *b, size_t len, bool trusted)
{
	return cvmbus_server_handle_message(f->srv, client, b, len, trusted);
}

static int feed(struct fx *f, uint32_t client, const uint8_t *b, size_t len)
{
	return feed_t(f, client, b, len, false);
}

static struct ev *next_ev(struct fx *f)
{
	if (f->rec.pos >= f->rec.n)
		fail_msg("expected another action, have none");
	return &f->rec.ev[f->rec.pos++];
}

static struct ev *expect_kind(struct fx *f, enum ev_kind kind)
{
	struct ev *e = next_ev(f);

	if (e->kind != kind)
		fail_msg("expected action %d, got %d", kind, e->kind);
	return e;
}

static struct ev *expect_send(struct fx *f, uint32_t client, const uint8_t *exp, size_t len)
{
	struct ev *e = expect_kind(f, EV_SEND);

	assert_int_equal(e->client, client);
	assert_int_equal(e->len, len);
	assert_memory_equal(e->bytes, exp, len);
	return e;
}

static void expect_quiet(struct fx *f)
{
	if (f->rec.pos != f->rec.n)
		fail_msg("unexpected action %d", f->rec.ev[f->rec.pos].kind);
}

static struct cvmbus_guid guid(uint32_t d1, uint8_t last)
{
	struct cvmbus_guid g;

	memset(&g, 0, sizeof(g));
	g.data1 = d1;
	g.data4[7] = last;
	return g;
}

/* InitiateContact at version with features, VP 0, SINT 2; expects the
 * connection report and a VersionResponse; returns the granted features. */
static uint32_t connect_ex(struct fx *f, uint32_t client, uint32_t version, uint32_t features,
			   bool trusted)
{
	uint8_t b[64];
	uint32_t granted;
	struct ev *e;

	assert_int_equal(feed_t(f, client, b, msg_initiate(b, version, 0, 2, 0, features, 0, 0),
				trusted),
			 0);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->conn.state, CVMBUS_SERVER_CONN_NEGOTIATED);
	assert_int_equal(e->conn.version, version);
	granted = e->conn.features;
	e = expect_kind(f, EV_SEND);
	assert_int_equal(e->client, client);
	assert_int_equal(e->bytes[0], 15);
	assert_int_equal(e->bytes[8], 1);
	return granted;
}

static void connect_v(struct fx *f, uint32_t client, uint32_t version)
{
	(void)connect_ex(f, client, version, 0, false);
}

/* RequestOffers; returns the relids offered, in order, in out. */
static size_t request_offers(struct fx *f, uint32_t client, uint32_t *out, size_t cap)
{
	uint8_t b[8];
	size_t n = 0;

	assert_int_equal(feed(f, client, b, msg_hdr(b, 3)), 0);
	for (;;) {
		struct ev *e = expect_kind(f, EV_SEND);

		assert_int_equal(e->client, client);
		if (e->bytes[0] == 4) {
			assert_int_equal(e->len, 8);
			break;
		}
		assert_int_equal(e->bytes[0], 1);
		assert_int_equal(e->len, 196);
		if (n < cap)
			out[n] = (uint32_t)e->bytes[184] | (uint32_t)e->bytes[185] << 8;
		n++;
	}
	return n;
}

static uint32_t add_offer(struct fx *f, uint32_t if_id, uint32_t inst, uint32_t order)
{
	struct cvmbus_offer_params p;
	uint32_t relid = 0;

	memset(&p, 0, sizeof(p));
	p.interface_id = guid(if_id, 0);
	p.instance_id = guid(inst, 0);
	p.offer_order = order;
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &relid), 0);
	return relid;
}

static uint64_t pfn_of(uint32_t id, uint32_t i)
{
	return 0x100000ull + (uint64_t)id * 0x1000u + i;
}

/* Describes a one-range GPADL of npages pages (header + bodies), returns
 * the device notification. */
static struct ev *send_gpadl(struct fx *f, uint32_t client, uint32_t relid, uint32_t id,
			     uint32_t npages)
{
	uint8_t b[CVMBUS_WIRE_MAX_SIZE];
	uint64_t vals[27];
	uint32_t inhdr = npages < 26 ? npages : 26, sent;

	vals[0] = (uint64_t)npages * 4096u; /* byte_count, offset 0 */
	for (uint32_t i = 0; i < inhdr; i++)
		vals[1 + i] = pfn_of(id, i);
	assert_int_equal(feed(f, client, b,
			      msg_gpadl_header(b, relid, id, (uint16_t)(8 + 8 * npages), 1, vals,
					       1 + inhdr)),
			 0);
	sent = inhdr;
	while (sent < npages) {
		uint64_t pfns[28];
		uint32_t n = npages - sent < 28 ? npages - sent : 28;

		for (uint32_t i = 0; i < n; i++)
			pfns[i] = pfn_of(id, sent + i);
		assert_int_equal(feed(f, client, b, msg_gpadl_body(b, 0, id, pfns, n)), 0);
		sent += n;
	}
	return expect_kind(f, EV_GPADL);
}

static void make_gpadl(struct fx *f, uint32_t client, uint32_t relid, uint32_t id,
		       uint32_t npages)
{
	uint8_t exp[20];

	(void)send_gpadl(f, client, relid, id, npages);
	assert_int_equal(cvmbus_server_gpadl_complete(f->srv, client, relid, id, 0), 0);
	expect_send(f, client, exp, exp_result(exp, 10, relid, id, 0));
}

static struct ev *open_ch(struct fx *f, uint32_t client, uint32_t relid, uint32_t gpadl,
			  uint32_t openid)
{
	uint8_t b[160], exp[20];
	struct ev *e;

	assert_int_equal(feed(f, client, b, msg_open(b, relid, openid, gpadl, 0, 1, 0)), 0);
	e = expect_kind(f, EV_OPEN);
	assert_int_equal(cvmbus_server_open_complete(f->srv, relid, 0), 0);
	expect_send(f, client, exp, exp_result(exp, 6, relid, openid, 0));
	return e;
}

static void set_max_53(struct cvmbus_server_config *c)
{
	c->max_version = CVMBUS_VERSION_5_3;
}

/* ---- Configuration ------------------------------------------------------- */

static void test_config(void **state)
{
	struct cvmbus_server_config c;
	struct rec r = { 0 };
	struct cvmbus_server_notifier n = rec_notifier(&r);
	struct cvmbus_server *srv = NULL;

	(void)state;
	cvmbus_server_config_init(&c, CVMBUS_SERVER_ROLE_HOST);
	assert_int_equal(c.max_version, CVMBUS_VERSION_6_0);
	assert_int_equal(c.features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, 0);
	assert_int_equal(c.message_connection_id, 1);
	assert_int_equal(c.channel_connection_base, 0x2000);
	/* A host that would grant confidential channels is refused. */
	c.features |= CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS;
	assert_int_equal(cvmbus_server_create(&c, &n, &srv), -EINVAL);
	assert_null(srv);

	cvmbus_server_config_init(&c, CVMBUS_SERVER_ROLE_PARAVISOR);
	assert_true(c.features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
	c.max_version = CVMBUS_MAKE_VERSION(2, 3);
	assert_int_equal(cvmbus_server_create(&c, &n, &srv), -EINVAL);
	cvmbus_server_config_init(&c, CVMBUS_SERVER_ROLE_PARAVISOR);
	c.features |= CVMBUS_FEATURE_PAUSE_RESUME; /* not implemented */
	assert_int_equal(cvmbus_server_create(&c, &n, &srv), -EINVAL);
	cvmbus_server_config_init(&c, CVMBUS_SERVER_ROLE_PARAVISOR);
	c.relid_min = 0;
	assert_int_equal(cvmbus_server_create(&c, &n, &srv), -EINVAL);
	cvmbus_server_config_init(&c, CVMBUS_SERVER_ROLE_PARAVISOR);
	c.channel_connection_base = 0x2001;
	assert_int_equal(cvmbus_server_create(&c, &n, &srv), -EINVAL);
	cvmbus_server_config_init(&c, CVMBUS_SERVER_ROLE_PARAVISOR);
	c.max_clients = CVMBUS_SERVER_MAX_CLIENTS + 1;
	assert_int_equal(cvmbus_server_create(&c, &n, &srv), -EINVAL);
	cvmbus_server_config_init(&c, CVMBUS_SERVER_ROLE_PARAVISOR);
	n.send_message = NULL;
	assert_int_equal(cvmbus_server_create(&c, &n, &srv), -EINVAL);
	n = rec_notifier(&r);
	assert_int_equal(cvmbus_server_create(&c, &n, &srv), 0);
	cvmbus_server_destroy(srv);
	cvmbus_server_destroy(NULL);
}

/* ---- Negotiation --------------------------------------------------------- */

static void set_conn_55(struct cvmbus_server_config *c)
{
	c->message_connection_id = 0x55;
}

static void test_negotiate_5_0(void **state)
{
	/* InitiateContact 5.0, target VP 1, SINT 2, VTL 0, no monitor pages. */
	static const uint8_t ic[40] = {
		14, 0, 0, 0, 0, 0, 0, 0,  /* header */
		0x00, 0x00, 0x05, 0x00,   /* @8 version 5.0 */
		1, 0, 0, 0,               /* @12 target vcpu 1 */
		2, 0, 0, 0, 0, 0, 0, 0,   /* @16 sint 2, vtl 0, reserved, features */
	};
	/* VersionResponse: supported, successful, message connection id 0x55. */
	static const uint8_t vr[16] = { 15, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x55, 0, 0, 0 };
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, set_conn_55);
	struct cvmbus_server_msg_info info = { .trusted = false, .connection_id = 4 };
	struct cvmbus_server_connection c;
	struct ev *e;

	(void)state;
	assert_int_equal(cvmbus_server_handle_message_ex(f->srv, 7, ic, sizeof(ic), &info), 0);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->conn.client, 7);
	assert_int_equal(e->conn.version, CVMBUS_VERSION_5_0);
	assert_int_equal(e->conn.features, 0);
	assert_int_equal(e->conn.message_connection_id, 0x55);
	assert_int_equal(e->conn.contact_connection_id, 4);
	assert_int_equal(e->conn.target.vp, 1);
	assert_int_equal(e->conn.target.sint, 2);
	assert_false(e->conn.trusted);
	e = expect_send(f, 7, vr, sizeof(vr));
	assert_int_equal(e->target.vp, 1);
	assert_int_equal(e->target.sint, 2);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_client_state(f->srv, 7), CVMBUS_SERVER_CONN_NEGOTIATED);
	assert_int_equal(cvmbus_server_connection(f->srv, 7, &c), 0);
	assert_int_equal(c.version, CVMBUS_VERSION_5_0);
	assert_int_equal(cvmbus_server_connection(f->srv, 8, &c), -ENOENT);
	fx_free(f);
}

/* Before 5.0 the response carries the version, SINT is always 2 and the
 * target VP counts only from 3.0 (Win8.1). */
static void test_negotiate_old_versions(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[64], exp[16];
	struct ev *e;

	(void)state;
	assert_int_equal(feed(f, 1, b, msg_initiate(b, CVMBUS_VERSION_4_1, 3, 9, 1, 0xff, 0, 0)),
			 0);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->conn.target.vp, 3);
	assert_int_equal(e->conn.target.sint, 2);
	assert_int_equal(e->conn.target.vtl, 0);
	assert_int_equal(e->conn.features, 0);
	assert_int_equal(e->conn.message_connection_id, VMBUS_MESSAGE_CONNECTION_ID);
	e = expect_send(f, 1, exp, exp_version_response(exp, 1, 0, CVMBUS_VERSION_4_1));
	assert_int_equal(e->target.vp, 3);

	assert_int_equal(feed(f, 2, b, msg_initiate(b, CVMBUS_VERSION_2_4, 3, 0, 0, 0, 0, 0)), 0);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->conn.target.vp, 0);
	expect_send(f, 2, exp, exp_version_response(exp, 1, 0, CVMBUS_VERSION_2_4));

	/* 5.1 honours the VTL. */
	assert_int_equal(feed(f, 3, b, msg_initiate(b, CVMBUS_VERSION_5_1, 0, 5, 2, 0, 0, 0)), 0);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->conn.target.sint, 5);
	assert_int_equal(e->conn.target.vtl, 2);
	e = expect_send(f, 3, exp, exp_version_response(exp, 1, 0, 1));
	assert_int_equal(e->target.sint, 5);
	fx_free(f);
}

static void test_unsupported_version(void **state)
{
	static const uint32_t bad[] = { CVMBUS_MAKE_VERSION(7, 0), CVMBUS_VERSION_1_1,
					CVMBUS_VERSION_0_13, CVMBUS_MAKE_VERSION(5, 4), 0 };
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[64], exp[16];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(feed(f, 1, b, msg_initiate(b, bad[i], 0, 2, 0, 0, 0, 0)),
				 -EPROTONOSUPPORT);
		/* version_supported = 0, so the client falls back. */
		expect_send(f, 1, exp, exp_version_response(exp, 0, 0, 0));
		expect_quiet(f);
		assert_int_equal(cvmbus_server_client_state(f->srv, 1),
				 CVMBUS_SERVER_CONN_DISCONNECTED);
	}
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_UNSUPPORTED_VERSION),
			 5);
	/* The fallback succeeds. */
	connect_v(f, 1, CVMBUS_VERSION_5_3);
	fx_free(f);
}

static void test_max_version(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, set_max_53);
	uint8_t b[64], exp[16];

	(void)state;
	assert_int_equal(feed(f, 1, b, msg_initiate(b, CVMBUS_VERSION_6_0, 0, 2, 0, 0, 0, 0)),
			 -EPROTONOSUPPORT);
	expect_send(f, 1, exp, exp_version_response(exp, 0, 0, 0));
	connect_v(f, 1, CVMBUS_VERSION_5_3);
	fx_free(f);
}

static void test_negotiate_6_0_features(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[64], exp[20];
	struct ev *e;
	uint32_t asked = CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS |
			 CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION |
			 CVMBUS_FEATURE_PAUSE_RESUME | 0xF0000000u;
	uint32_t granted = CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS |
			   CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION;

	(void)state;
	assert_int_equal(feed(f, 1, b, msg_initiate(b, CVMBUS_VERSION_6_0, 0, 2, 0, asked, 0, 0)),
			 0);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->conn.features, granted);
	/* VersionResponse2: 20 bytes with supported_features @16. */
	expect_send(f, 1, exp, exp_version_response2(exp, 0, 1, granted));
	expect_quiet(f);
	fx_free(f);
}

static void test_confidential_trusted_paravisor(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_PARAVISOR, NULL);
	uint8_t b[64], exp[20];
	struct ev *e;

	(void)state;
	assert_int_equal(feed_t(f, 1, b,
				msg_initiate(b, CVMBUS_VERSION_6_0, 0, 2, 0,
					     CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, 0, 0),
				true),
			 0);
	e = expect_kind(f, EV_CONN);
	assert_true(e->conn.trusted);
	assert_int_equal(e->conn.features, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
	expect_send(f, 1, exp, exp_version_response2(exp, 0, 1, 0x10));
	fx_free(f);
}

static void test_confidential_untrusted_not_granted(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_PARAVISOR, NULL);
	uint8_t b[64], exp[20];
	struct ev *e;

	(void)state;
	assert_int_equal(feed_t(f, 1, b,
				msg_initiate(b, CVMBUS_VERSION_6_0, 0, 2, 0,
					     CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, 0, 0),
				false),
			 0);
	e = expect_kind(f, EV_CONN);
	assert_false(e->conn.trusted);
	assert_int_equal(e->conn.features, 0);
	expect_send(f, 1, exp, exp_version_response2(exp, 0, 1, 0));
	fx_free(f);
}

static void no_confidential(struct cvmbus_server_config *c)
{
	c->features &= ~CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS;
}

/* The host role never grants it, trusted or not; nor a paravisor that was
 * not configured to. */
static void test_confidential_never_host(void **state)
{
	static const enum cvmbus_server_role roles[2] = { CVMBUS_SERVER_ROLE_HOST,
							  CVMBUS_SERVER_ROLE_PARAVISOR };
	(void)state;
	for (int i = 0; i < 2; i++) {
		struct fx *f = fx_new(roles[i], i == 0 ? NULL : no_confidential);
		uint8_t b[64], exp[20];
		struct ev *e;

		assert_int_equal(feed_t(f, 1, b,
					msg_initiate(b, CVMBUS_VERSION_6_0, 0, 2, 0,
						     CVMBUS_FEATURE_ALL & ~CVMBUS_FEATURE_CLIENT_ID, 0,
						     0),
					true),
				 0);
		e = expect_kind(f, EV_CONN);
		assert_int_equal(e->conn.features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, 0);
		expect_send(f, 1, exp,
			    exp_version_response2(exp, 0, 1,
						  CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS |
							  CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION |
							  CVMBUS_FEATURE_MODIFY_CONNECTION));
		fx_free(f);
	}
}

static void test_untrusted_after_trusted(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_PARAVISOR, NULL);
	uint8_t b[64];

	(void)state;
	(void)connect_ex(f, 1, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, true);
	/* The same client over the untrusted path, and another client. */
	assert_int_equal(feed_t(f, 1, b, msg_hdr(b, 3), false), -EPERM);
	assert_int_equal(feed_t(f, 2, b, msg_initiate(b, CVMBUS_VERSION_5_0, 0, 2, 0, 0, 0, 0),
				false),
			 -EPERM);
	/* Even garbage is refused before it is parsed. */
	assert_int_equal(feed_t(f, 2, b, 3, false), -EPERM);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_UNTRUSTED), 3);
	assert_int_equal(cvmbus_server_client_state(f->srv, 2), CVMBUS_SERVER_CONN_DISCONNECTED);
	/* The trusted path still works. */
	assert_int_equal(feed_t(f, 1, b, msg_hdr(b, 3), true), 0);
	expect_kind(f, EV_SEND); /* AllOffersDelivered */
	/* Once the trusted connection is gone, untrusted contact is possible. */
	assert_int_equal(feed_t(f, 1, b, msg_hdr(b, 16), true), 0);
	expect_kind(f, EV_CONN);
	expect_kind(f, EV_UNLOAD);
	expect_kind(f, EV_SEND);
	(void)connect_ex(f, 2, CVMBUS_VERSION_5_0, 0, false);
	fx_free(f);
}

static void test_client_id(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[64], exp[20];
	struct cvmbus_guid id = guid(0xabcdef01, 0x77);
	struct ev *e;

	(void)state;
	/* 40-byte layout with the client_id flag: the GUID is missing. */
	assert_int_equal(feed(f, 1, b, msg_initiate(b, CVMBUS_VERSION_6_0, 0, 2, 0,
						    CVMBUS_FEATURE_CLIENT_ID, 0, 0)),
			 -EINVAL);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_BAD_CONTACT), 1);
	/* The 56-byte layout: client id @40. */
	msg_initiate(b, CVMBUS_VERSION_6_0, 0, 2, 0, CVMBUS_FEATURE_CLIENT_ID, 0, 0);
	put_guid(b, 40, &id);
	assert_int_equal(feed(f, 1, b, 56), 0);
	e = expect_kind(f, EV_CONN);
	assert_memory_equal(&e->conn.client_id, &id, sizeof(id));
	expect_send(f, 1, exp, exp_version_response2(exp, 0, 1, CVMBUS_FEATURE_CLIENT_ID));
	fx_free(f);
}

static void test_monitor_pages(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[64], exp[16];
	struct ev *e;

	(void)state;
	/* Only one of the two pages: a failed connection at that version. */
	assert_int_equal(feed(f, 1, b, msg_initiate(b, CVMBUS_VERSION_5_2, 0, 2, 0, 0, 0x5000, 0)),
			 -EINVAL);
	expect_send(f, 1, exp, exp_version_response(exp, 1, 2, 1));
	assert_int_equal(cvmbus_server_client_state(f->srv, 1), CVMBUS_SERVER_CONN_DISCONNECTED);
	/* Both: recorded for the glue. */
	assert_int_equal(
		feed(f, 1, b, msg_initiate(b, CVMBUS_VERSION_5_2, 0, 2, 0, 0, 0x5000, 0x6000)), 0);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->conn.parent_to_child_monitor_gpa, 0x5000);
	assert_int_equal(e->conn.child_to_parent_monitor_gpa, 0x6000);
	expect_send(f, 1, exp, exp_version_response(exp, 1, 0, 1));
	fx_free(f);
}

static void test_bad_sint(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[64];

	(void)state;
	assert_int_equal(feed(f, 1, b, msg_initiate(b, CVMBUS_VERSION_5_0, 0, 16, 0, 0, 0, 0)),
			 -EINVAL);
	expect_quiet(f);
	fx_free(f);
}

static void test_modify_connection(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[32];
	uint8_t ok[9] = { 26, 0, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t bad[9] = { 26, 0, 0, 0, 0, 0, 0, 0, 2 };
	struct ev *e;

	(void)state;
	/* Without the feature the message does not pass the decoder. */
	connect_v(f, 1, CVMBUS_VERSION_6_0);
	memset(b, 0, 24);
	put32(b, 0, 25);
	put64(b, 8, 0x7000);
	put64(b, 16, 0x8000);
	assert_int_equal(feed(f, 1, b, 24), -EPROTO);
	(void)connect_ex(f, 2, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_MODIFY_CONNECTION, false);
	assert_int_equal(feed(f, 2, b, 24), 0);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->conn.parent_to_child_monitor_gpa, 0x7000);
	assert_int_equal(e->conn.child_to_parent_monitor_gpa, 0x8000);
	expect_send(f, 2, ok, sizeof(ok));
	put64(b, 16, 0);
	assert_int_equal(feed(f, 2, b, 24), -EINVAL);
	expect_send(f, 2, bad, sizeof(bad));
	fx_free(f);
}

/* ---- Early, malformed and misdirected messages --------------------------- */

static void test_message_before_contact(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[CVMBUS_WIRE_MAX_SIZE];
	uint64_t v[2] = { 4096, 1 };

	(void)state;
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 3)), -ENOTCONN);
	assert_int_equal(feed(f, 1, b, msg_open(b, 1, 1, 1, 0, 1, 0)), -ENOTCONN);
	assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, 1, 1, 16, 1, v, 2)), -ENOTCONN);
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 16)), -ENOTCONN);
	/* CloseReservedChannel decodes at version 0 but is still too early. */
	memset(b, 0, 20);
	put32(b, 0, 19);
	assert_int_equal(feed(f, 1, b, 20), -ENOTCONN);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_NOT_CONNECTED), 5);
	assert_int_equal(f->rec.nlogs, 5);
	assert_non_null(strstr(f->rec.logs[0], "message before contact"));
	fx_free(f);
}

static void test_malformed(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[300];

	(void)state;
	connect_v(f, 1, CVMBUS_VERSION_5_3);
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 99)), -EBADMSG);  /* unknown type */
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 0)), -EBADMSG);   /* type 0 */
	assert_int_equal(feed(f, 1, b, 4), -EBADMSG);               /* short header */
	msg_open(b, 1, 1, 1, 0, 1, 0);
	assert_int_equal(feed(f, 1, b, 150), -EBADMSG);             /* no such size */
	memset(b, 0, sizeof(b));
	put32(b, 0, 3);
	assert_int_equal(feed(f, 1, b, 260), -EBADMSG);             /* past 240 */
	assert_int_equal(cvmbus_server_handle_message(f->srv, 1, NULL, 8, false), -EBADMSG);
	/* An offer is a server-to-client message. */
	memset(b, 0, 196);
	put32(b, 0, 1);
	assert_int_equal(feed(f, 1, b, 196), -EBADMSG);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_MALFORMED), 6);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_WRONG_DIRECTION), 1);
	fx_free(f);
}

static void test_unsupported_message(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[64];

	(void)state;
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	memset(b, 0, 40);
	put32(b, 0, 21); /* TlConnectRequest, 40 bytes */
	assert_int_equal(feed(f, 1, b, 40), -EOPNOTSUPP);
	memset(b, 0, 28);
	put32(b, 0, 18); /* OpenReservedChannel */
	assert_int_equal(feed(f, 1, b, 28), -EOPNOTSUPP);
	expect_quiet(f);
	fx_free(f);
}

static void one_client(struct cvmbus_server_config *c)
{
	c->max_clients = 1;
}

static void test_too_many_clients(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, one_client);
	uint8_t b[64], exp[16];

	(void)state;
	/* A refused contact leaves a disconnected slot, which a newcomer may
	 * take; a connected one it may not. */
	assert_int_equal(feed(f, 1, b, msg_initiate(b, 0x70000, 0, 2, 0, 0, 0, 0)),
			 -EPROTONOSUPPORT);
	expect_send(f, 1, exp, exp_version_response(exp, 0, 0, 0));
	connect_v(f, 2, CVMBUS_VERSION_5_0);
	assert_int_equal(feed(f, 3, b, msg_initiate(b, CVMBUS_VERSION_5_0, 0, 2, 0, 0, 0, 0)),
			 -EUSERS);
	expect_quiet(f);
	fx_free(f);
}

static void log_burst_3(struct cvmbus_server_config *c)
{
	c->log_burst = 3;
}

static void test_log_rate_limit(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, log_burst_3);
	uint8_t b[8];

	(void)state;
	for (int i = 0; i < 20; i++)
		assert_int_equal(feed(f, 1, b, msg_hdr(b, 3)), -ENOTCONN);
	/* Occurrences 1, 2, 3, then 4, 8 and 16. */
	assert_int_equal(f->rec.nlogs, 6);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_NOT_CONNECTED), 20);
	assert_int_equal(cvmbus_server_reject_total(f->srv), 20);
	assert_non_null(strstr(f->rec.logs[5], "(16 times)"));
	assert_int_equal(f->rec.log_reason[5], CVMBUS_SERVER_REJ_NOT_CONNECTED);
	assert_string_equal(cvmbus_server_reject_name(CVMBUS_SERVER_REJ_UNTRUSTED),
			    "untrusted message after trusted contact");
	assert_int_equal(cvmbus_server_reject_errno(CVMBUS_SERVER_REJ_GPADL_OVERFLOW), E2BIG);
	fx_free(f);
}

/* ---- Offers -------------------------------------------------------------- */

static void test_offer_bytes(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	struct cvmbus_offer_params p;
	uint8_t exp[196], b[8];
	uint32_t relid = 0;
	struct cvmbus_guid ift = { 0xf8615163, 0xdf3e, 0x46c5, { 0x91, 0x3f, 0xf2, 0xd2,
								 0xf9, 0x65, 0xed, 0x0e } };
	struct cvmbus_guid inst = guid(0x12345678, 0x9a);

	(void)state;
	memset(&p, 0, sizeof(p));
	p.interface_id = ift;
	p.instance_id = inst;
	p.flags = CVMBUS_OFFER_NAMED_PIPE_MODE;
	p.mmio_megabytes = 0x0102;
	p.mmio_megabytes_optional = 0x0304;
	p.subchannel_index = 0;
	p.offer_order = CVMBUS_OFFER_ORDER_NONE;
	for (int i = 0; i < 120; i++)
		p.user_defined[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &relid), 0);
	assert_int_equal(relid, 1);
	assert_int_equal(cvmbus_server_channel_connection_id(f->srv, relid), 0x2001);
	expect_quiet(f); /* nobody connected yet */
	connect_v(f, 1, CVMBUS_VERSION_5_3);
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 3)), 0);
	/* The confidential ring flag the server adds to a local offer is
	 * stripped for a connection without confidential_channels. */
	expect_send(f, 1, exp,
		    exp_offer(exp, &ift, &inst, 0x10, 0x0102, p.user_defined, 0, 0x0304, 1,
			      0x2001));
	{
		static const uint8_t all[8] = { 4, 0, 0, 0, 0, 0, 0, 0 };

		expect_send(f, 1, all, sizeof(all));
	}
	expect_quiet(f);
	assert_int_equal(cvmbus_server_client_state(f->srv, 1), CVMBUS_SERVER_CONN_CONNECTED);
	assert_int_equal(cvmbus_server_offer_state(f->srv, 1, 1), CVMBUS_SERVER_OFFER_SENT);
	fx_free(f);
}

static void test_offers_sorted(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint32_t got[8];
	uint32_t a, bb, c, d, e, g;
	struct cvmbus_offer_params p;

	(void)state;
	a = add_offer(f, 2, 1, CVMBUS_OFFER_ORDER_NONE);
	bb = add_offer(f, 1, 9, 5);
	c = add_offer(f, 1, 3, 7);
	d = add_offer(f, 1, 8, 5);
	e = add_offer(f, 2, 0, 1);
	/* GUIDs compare field by field: data1 before data2. */
	memset(&p, 0, sizeof(p));
	p.interface_id.data1 = 0;
	p.interface_id.data2 = 0xffff;
	p.offer_order = CVMBUS_OFFER_ORDER_NONE;
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &g), 0);
	assert_int_equal(a, 1);
	assert_int_equal(g, 6);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	assert_int_equal(request_offers(f, 1, got, 8), 6);
	assert_int_equal(got[0], g);
	assert_int_equal(got[1], d);  /* interface 1, order 5, instance 8 */
	assert_int_equal(got[2], bb); /* interface 1, order 5, instance 9 */
	assert_int_equal(got[3], c);  /* interface 1, order 7 */
	assert_int_equal(got[4], e);  /* interface 2, order 1 */
	assert_int_equal(got[5], a);  /* interface 2, no order */
	/* A second client sees the same order. */
	connect_v(f, 2, CVMBUS_VERSION_5_3);
	{
		uint32_t again[8];

		assert_int_equal(request_offers(f, 2, again, 8), 6);
		assert_memory_equal(again, got, 6 * sizeof(uint32_t));
	}
	fx_free(f);
}

static void test_request_offers_twice(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[8];

	(void)state;
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	assert_int_equal(request_offers(f, 1, NULL, 0), 0);
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 3)), -EALREADY);
	expect_quiet(f);
	fx_free(f);
}

static void test_late_offer(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint32_t relid, got[4];
	struct ev *e;

	(void)state;
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	connect_v(f, 2, CVMBUS_VERSION_5_0);
	assert_int_equal(request_offers(f, 1, NULL, 0), 0);
	relid = add_offer(f, 5, 5, 0);
	/* Client 1 has its list: the offer goes out now. Client 2 has not
	 * asked yet: it gets it with its list. */
	e = expect_kind(f, EV_SEND);
	assert_int_equal(e->client, 1);
	assert_int_equal(e->bytes[0], 1);
	assert_int_equal(e->bytes[184], relid);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_offer_state(f->srv, 2, relid), CVMBUS_SERVER_OFFER_NONE);
	assert_int_equal(request_offers(f, 2, got, 4), 1);
	assert_int_equal(got[0], relid);
	fx_free(f);
}

static void relids_1_to_3(struct cvmbus_server_config *c)
{
	c->relid_max = 3;
}

static void test_offer_errors(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, relids_1_to_3);
	struct cvmbus_offer_params p;
	uint32_t relid;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.interface_id = guid(1, 0);
	p.instance_id = guid(1, 0);
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &relid), 0);
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &relid), -EEXIST);
	p.subchannel_index = 1; /* a sub-channel is another offer */
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &relid), 0);
	p.subchannel_index = 2;
	p.flags = 0x8000; /* unknown flag */
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &relid), -EINVAL);
	p.flags = CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY;
	p.keep_flags = true; /* relayed: external memory without the ring */
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &relid), -EINVAL);
	p.keep_flags = false; /* local: the ring flag is added */
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &relid), 0);
	assert_int_equal(relid, 3);
	p.subchannel_index = 3;
	p.flags = 0;
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &relid), -ENOSPC);
	assert_int_equal(cvmbus_server_channel_count(f->srv), 3);
	assert_int_equal(cvmbus_server_rescind(f->srv, 9), -ENOENT);
	assert_int_equal(cvmbus_server_rescind(f->srv, 0), -ENOENT);
	fx_free(f);
}

/* Local offers carry the confidential flags only to a connection that was
 * granted confidential_channels; relayed offers keep the relay's flags. */
static void test_confidential_offer_flags(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_PARAVISOR, NULL);
	struct cvmbus_offer_params p;
	uint32_t local, relayed;
	uint8_t b[CVMBUS_WIRE_MAX_SIZE];
	struct ev *e;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.interface_id = guid(1, 0);
	p.instance_id = guid(1, 0);
	p.flags = CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY;
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &local), 0);
	memset(&p, 0, sizeof(p));
	p.interface_id = guid(2, 0);
	p.instance_id = guid(2, 0);
	p.flags = CVMBUS_OFFER_ENUMERATE_DEVICE_INTERFACE;
	p.keep_flags = true;
	assert_int_equal(cvmbus_server_offer(f->srv, &p, &relayed), 0);

	/* Untrusted client first (afterwards it would be refused). */
	(void)connect_ex(f, 1, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, false);
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 3)), 0);
	e = expect_kind(f, EV_SEND);
	assert_int_equal(e->bytes[184], local);
	assert_int_equal(e->bytes[56], 0);
	e = expect_kind(f, EV_SEND);
	assert_int_equal(e->bytes[184], relayed);
	assert_int_equal(e->bytes[56], 0x01);
	expect_kind(f, EV_SEND);

	(void)connect_ex(f, 2, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, true);
	assert_int_equal(feed_t(f, 2, b, msg_hdr(b, 3), true), 0);
	e = expect_kind(f, EV_SEND);
	assert_int_equal(e->bytes[184], local);
	assert_int_equal(e->bytes[56], 0x06); /* ring + external memory */
	e = expect_kind(f, EV_SEND);
	assert_int_equal(e->bytes[184], relayed);
	assert_int_equal(e->bytes[56], 0x01); /* as the relay gave it */
	expect_kind(f, EV_SEND);

	/* The device learns the decision with the GPADL and the open. */
	{
		uint64_t v[3] = { 8192, 11, 12 };
		uint8_t exp[20];

		assert_int_equal(feed_t(f, 2, b, msg_gpadl_header(b, local, 9, 24, 1, v, 3), true),
				 0);
		e = expect_kind(f, EV_GPADL);
		assert_true(e->gpadl.confidential_ring);
		assert_true(e->gpadl.confidential_external_memory);
		assert_int_equal(cvmbus_server_gpadl_complete(f->srv, 2, local, 9, 0), 0);
		expect_send(f, 2, exp, exp_result(exp, 10, local, 9, 0));
		assert_int_equal(feed_t(f, 2, b, msg_open(b, local, 1, 9, 0, 1, 0), true), 0);
		e = expect_kind(f, EV_OPEN);
		assert_true(e->open.confidential_ring);
		assert_true(e->open.confidential_external_memory);
		assert_int_equal(e->open.features, CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
	}
	fx_free(f);
}

/* ---- Open and close ------------------------------------------------------ */

static void test_open_success(void **state)
{
	/* OpenChannel: relid 1, openid 0x77, ring gpadl 0xE1E10, VP 3,
	 * downstream page offset 2, user data 0x00... */
	uint8_t oc[148] = {
		5, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 0, 0,             /* @8 relid */
		0x77, 0, 0, 0,          /* @12 open id */
		0x10, 0x1E, 0x0E, 0,    /* @16 ring gpadl 0xE1E10 */
		3, 0, 0, 0,             /* @20 target vp */
		2, 0, 0, 0,             /* @24 downstream offset */
	};
	static const uint8_t result[20] = {
		6, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0,
	};
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	struct ev *e;
	uint32_t relid, owner;

	(void)state;
	oc[28] = 0xde;
	oc[147] = 0xad;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_3);
	assert_int_equal(request_offers(f, 1, NULL, 0), 1);
	make_gpadl(f, 1, relid, 0xE1E10, 4);
	assert_int_equal(feed(f, 1, oc, sizeof(oc)), 0);
	e = expect_kind(f, EV_OPEN);
	assert_int_equal(e->open.client, 1);
	assert_int_equal(e->open.relid, 1);
	assert_int_equal(e->open.open_id, 0x77);
	assert_int_equal(e->open.ring_gpadl_id, 0xE1E10);
	assert_int_equal(e->open.ring_gpadl_pages, 4);
	assert_int_equal(e->open.downstream_page_offset, 2);
	assert_int_equal(e->open.target_vp, 3);
	assert_int_equal(e->open.user_data[0], 0xde);
	assert_int_equal(e->open.user_data[119], 0xad);
	/* No guest-chosen signal parameters: the offer's id, relid as flag. */
	assert_false(e->open.guest_specified_signal);
	assert_int_equal(e->open.connection_id, 0x2001);
	assert_int_equal(e->open.event_flag, 1);
	assert_false(e->open.confidential_ring);
	assert_int_equal(e->open.version, CVMBUS_VERSION_5_3);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_chan_state(f->srv, relid, &owner), CVMBUS_SERVER_CHAN_OPENING);
	assert_int_equal(owner, 1);
	assert_int_equal(cvmbus_server_open_complete(f->srv, relid, 0), 0);
	expect_send(f, 1, result, sizeof(result));
	assert_int_equal(cvmbus_server_chan_state(f->srv, relid, NULL), CVMBUS_SERVER_CHAN_OPEN);
	fx_free(f);
}

static void test_open_failure(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160], exp[20];
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 9, 5, 0, 1, 0)), 0);
	expect_kind(f, EV_OPEN);
	/* The device's status goes to the client verbatim. */
	assert_int_equal(cvmbus_server_open_complete(f->srv, relid, 0xC0000001u), 0);
	expect_send(f, 1, exp, exp_result(exp, 6, relid, 9, 0xC0000001u));
	assert_int_equal(cvmbus_server_chan_state(f->srv, relid, NULL), CVMBUS_SERVER_CHAN_CLOSED);
	/* And it can be opened again. */
	open_ch(f, 1, relid, 5, 10);
	fx_free(f);
}

static void test_open2_guest_signal(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160];
	uint32_t relid;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	(void)connect_ex(f, 1, CVMBUS_VERSION_6_0,
			 CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS |
				 CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION,
			 false);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	/* Once either feature is negotiated at 6.0, the 148-byte layout is a
	 * truncated message. */
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 1, 5, 0, 1, 0)), -EBADMSG);
	assert_int_equal(feed(f, 1, b, msg_open2(b, relid, 1, 5, 2, 1, 0x2345, 7, 1)), 0);
	e = expect_kind(f, EV_OPEN);
	assert_true(e->open.guest_specified_signal);
	assert_int_equal(e->open.connection_id, 0x2345);
	assert_int_equal(e->open.event_flag, 7);
	assert_true(e->open.redirect_interrupt);
	assert_int_equal(e->open.target_vp, 2);
	fx_free(f);
}

/* OpenChannel2 carries signal parameters that count only with their
 * feature: with redirection alone the device keeps the defaults. */
static void test_open2_redirect_only(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160];
	uint32_t relid;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	(void)connect_ex(f, 1, CVMBUS_VERSION_6_0, CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION,
			 false);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	assert_int_equal(feed(f, 1, b, msg_open2(b, relid, 1, 5, 2, 1, 0x2345, 7, 1)), 0);
	e = expect_kind(f, EV_OPEN);
	assert_false(e->open.guest_specified_signal);
	assert_int_equal(e->open.connection_id, 0x2001);
	assert_int_equal(e->open.event_flag, relid);
	assert_true(e->open.redirect_interrupt);
	fx_free(f);
}

static void test_open2_below_6_0(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160];
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_3);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	assert_int_equal(feed(f, 1, b, msg_open2(b, relid, 1, 5, 2, 1, 0x2345, 7, 0)), -EPROTO);
	/* 6.0 without either feature: still the 148-byte layout only. */
	(void)connect_ex(f, 2, CVMBUS_VERSION_6_0, 0, false);
	request_offers(f, 2, NULL, 0);
	assert_int_equal(feed(f, 2, b, msg_open2(b, relid, 1, 5, 2, 1, 0x2345, 7, 0)), -EPROTO);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_NOT_NEGOTIATED), 2);
	fx_free(f);
}

static void test_open_already_open(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160];
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 1, 5, 0, 1, 0)), 0);
	expect_kind(f, EV_OPEN);
	/* While opening, and once open. */
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 2, 5, 0, 1, 0)), -EISCONN);
	assert_int_equal(cvmbus_server_open_complete(f->srv, relid, 0), 0);
	expect_kind(f, EV_SEND);
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 3, 5, 0, 1, 0)), -EISCONN);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_CHANNEL_ALREADY_OPEN),
			 2);
	fx_free(f);
}

static void test_open_bad_ring(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160], exp[20];
	uint32_t r1, r2;
	struct {
		uint32_t gpadl, ds;
	} bad[] = {
		{ 99, 1 }, /* no such GPADL */
		{ 6, 1 },  /* a GPADL of the other channel */
		{ 5, 0 },  /* no page for the outgoing ring */
		{ 5, 3 },  /* no page for the incoming ring */
		{ 7, 1 },  /* not accepted yet */
	};

	(void)state;
	r1 = add_offer(f, 1, 1, 0);
	r2 = add_offer(f, 1, 2, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, r1, 5, 3);
	make_gpadl(f, 1, r2, 6, 3);
	send_gpadl(f, 1, r1, 7, 3);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(feed(f, 1, b, msg_open(b, r1, 40 + (uint32_t)i, bad[i].gpadl, 0,
							bad[i].ds, 0)),
				 -EINVAL);
		expect_send(f, 1, exp,
			    exp_result(exp, 6, r1, 40 + (uint32_t)i, CVMBUS_STATUS_UNSUCCESSFUL));
	}
	expect_quiet(f);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_BAD_RING_GPADL), 5);
	assert_int_equal(cvmbus_server_chan_state(f->srv, r1, NULL), CVMBUS_SERVER_CHAN_CLOSED);
	fx_free(f);
}

static void test_unknown_relid(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160], exp[16];
	uint64_t v[2] = { 4096, 1 };
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_3);
	/* Offered, but not to this client yet: as unknown as relid 77. */
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 1, 5, 0, 1, 0)), -ENXIO);
	request_offers(f, 1, NULL, 0);
	assert_int_equal(feed(f, 1, b, msg_open(b, 77, 1, 5, 0, 1, 0)), -ENXIO);
	assert_int_equal(feed(f, 1, b, msg_relid(b, 7, 77)), -ENXIO);
	assert_int_equal(feed(f, 1, b, msg_relid(b, 13, 0)), -ENXIO);
	assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, 77, 1, 16, 1, v, 2)), -ENXIO);
	expect_quiet(f);
	/* A refused modify is answered (5.3). */
	assert_int_equal(feed(f, 1, b, msg_modify(b, 77, 1)), -ENXIO);
	expect_send(f, 1, exp, exp_modify_response(exp, 77, CVMBUS_STATUS_UNSUCCESSFUL));
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_UNKNOWN_RELID), 6);
	fx_free(f);
}

static void test_close(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[16];
	uint32_t relid;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	/* Close of a channel never opened. */
	assert_int_equal(feed(f, 1, b, msg_relid(b, 7, relid)), -EBADFD);
	make_gpadl(f, 1, relid, 5, 2);
	open_ch(f, 1, relid, 5, 1);
	assert_int_equal(feed(f, 1, b, msg_relid(b, 7, relid)), 0);
	e = expect_kind(f, EV_CLOSE);
	assert_int_equal(e->client, 1);
	assert_int_equal(e->relid, relid);
	expect_quiet(f); /* CloseChannel has no response */
	assert_int_equal(cvmbus_server_chan_state(f->srv, relid, NULL), CVMBUS_SERVER_CHAN_CLOSING);
	assert_int_equal(feed(f, 1, b, msg_relid(b, 7, relid)), -EBADFD);
	assert_int_equal(cvmbus_server_close_complete(f->srv, relid), 0);
	assert_int_equal(cvmbus_server_chan_state(f->srv, relid, NULL), CVMBUS_SERVER_CHAN_CLOSED);
	/* The ring GPADL can now go. */
	assert_int_equal(feed(f, 1, b, msg_teardown(b, relid, 5)), 0);
	expect_kind(f, EV_TEARDOWN);
	fx_free(f);
}

/* The client reopens before the device finished closing (there is no
 * close response to wait for). */
static void test_close_then_reopen(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160], exp[20];
	uint32_t relid;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	open_ch(f, 1, relid, 5, 1);
	assert_int_equal(feed(f, 1, b, msg_relid(b, 7, relid)), 0);
	expect_kind(f, EV_CLOSE);
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 2, 5, 4, 1, 0)), 0);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_chan_state(f->srv, relid, NULL),
			 CVMBUS_SERVER_CHAN_CLOSING_REOPEN);
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 3, 5, 4, 1, 0)), -EISCONN);
	assert_int_equal(cvmbus_server_close_complete(f->srv, relid), 0);
	e = expect_kind(f, EV_OPEN);
	assert_int_equal(e->open.open_id, 2);
	assert_int_equal(e->open.target_vp, 4);
	assert_int_equal(cvmbus_server_open_complete(f->srv, relid, 0), 0);
	expect_send(f, 1, exp, exp_result(exp, 6, relid, 2, 0));
	fx_free(f);
}

/* ---- GPADLs -------------------------------------------------------------- */

/* GpadlHeader with 1 range of 60 pages at byte offset 0x10: 26 PFNs in the
 * header, 28 in the first body, 6 in the second. */
static void test_gpadl_bodies(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[CVMBUS_WIRE_MAX_SIZE];
	uint64_t pf[60], v[27];
	uint32_t relid;
	struct ev *e;
	/* GpadlCreated: relid 1, gpadl 0x1234, status 0. */
	static const uint8_t created[20] = {
		10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x34, 0x12, 0, 0, 0, 0, 0, 0,
	};

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	for (int i = 0; i < 60; i++)
		pf[i] = 0xABC000u + (uint64_t)i;
	/* 60 pages from offset 0x10 need 60 * 4096 - 0x10 bytes at most. */
	v[0] = (uint64_t)(60u * 4096u - 0x10u) | ((uint64_t)0x10 << 32);
	memcpy(v + 1, pf, 26 * sizeof(uint64_t));
	/* Header bytes by hand: type 8, relid @8, gpadl @12, buflen 8*61=488
	 * @16, rangecount 1 @18, values @20. */
	memset(b, 0, sizeof(b));
	b[0] = 8;
	b[8] = 1;
	b[12] = 0x34;
	b[13] = 0x12;
	b[16] = 488 & 0xff;
	b[17] = 488 >> 8;
	b[18] = 1;
	for (int i = 0; i < 27; i++)
		put64(b, 20 + 8 * (size_t)i, v[i]);
	assert_int_equal(feed(f, 1, b, 20 + 27 * 8), 0);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_gpadl_state(f->srv, 1, 0x1234), CVMBUS_SERVER_GPADL_BUILDING);
	assert_int_equal(feed(f, 1, b, msg_gpadl_body(b, 1, 0x1234, pf + 26, 28)), 0);
	expect_quiet(f);
	assert_int_equal(feed(f, 1, b, msg_gpadl_body(b, 2, 0x1234, pf + 54, 6)), 0);
	e = expect_kind(f, EV_GPADL);
	assert_int_equal(e->gpadl.client, 1);
	assert_int_equal(e->gpadl.relid, relid);
	assert_int_equal(e->gpadl.gpadl_id, 0x1234);
	assert_int_equal(e->gpadl.range_count, 1);
	assert_int_equal(e->gpadl.npages, 60);
	assert_int_equal(e->gpadl.nvalues, 61);
	assert_int_equal(e->values[0], v[0]);
	assert_memory_equal(e->values + 1, pf, sizeof(pf));
	assert_false(e->gpadl.confidential_ring);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_gpadl_state(f->srv, 1, 0x1234), CVMBUS_SERVER_GPADL_OFFERED);
	assert_int_equal(cvmbus_server_gpadl_complete(f->srv, 1, relid, 0x1234, 0), 0);
	expect_send(f, 1, created, sizeof(created));
	assert_int_equal(cvmbus_server_gpadl_state(f->srv, 1, 0x1234), CVMBUS_SERVER_GPADL_ACCEPTED);
	/* A body for a complete GPADL. */
	assert_int_equal(feed(f, 1, b, msg_gpadl_body(b, 3, 0x1234, pf, 1)), -EINVAL);
	expect_quiet(f);
	fx_free(f);
}

/* Two ranges, the second described in a body. */
static void test_gpadl_two_ranges(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[CVMBUS_WIRE_MAX_SIZE];
	uint64_t v[3] = { 8192, 0x11, 0x12 };
	uint64_t rest[2] = { 100 | (200ull << 32), 0x21 };
	uint32_t relid;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, relid, 3, 40, 2, v, 3)), 0);
	assert_int_equal(feed(f, 1, b, msg_gpadl_body(b, 0, 3, rest, 2)), 0);
	e = expect_kind(f, EV_GPADL);
	assert_int_equal(e->gpadl.range_count, 2);
	assert_int_equal(e->gpadl.npages, 3);
	assert_int_equal(e->values[3], rest[0]);
	assert_int_equal(e->values[4], 0x21);
	fx_free(f);
}

/* Ranges that only turn out wrong once the bodies arrive. */
static void test_gpadl_invalid_ranges(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[CVMBUS_WIRE_MAX_SIZE], exp[20];
	uint64_t v[3] = { 8192, 0x11, 0x12 };
	uint64_t empty[2] = { 0, 0x21 };                 /* byte_count 0 */
	uint64_t big[2] = { 3 * 4096, 0x21 };            /* 3 pages, 1 PFN left */
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, relid, 3, 40, 2, v, 3)), 0);
	assert_int_equal(feed(f, 1, b, msg_gpadl_body(b, 0, 3, empty, 2)), -EINVAL);
	expect_send(f, 1, exp, exp_result(exp, 10, relid, 3, CVMBUS_STATUS_UNSUCCESSFUL));
	assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, relid, 3, 40, 2, v, 3)), 0);
	assert_int_equal(feed(f, 1, b, msg_gpadl_body(b, 0, 3, big, 2)), -EINVAL);
	expect_send(f, 1, exp, exp_result(exp, 10, relid, 3, CVMBUS_STATUS_UNSUCCESSFUL));
	expect_quiet(f);
	assert_int_equal(cvmbus_server_gpadl_state(f->srv, 1, 3), CVMBUS_SERVER_GPADL_NONE);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_GPADL_INVALID), 2);
	/* An inconsistent header never gets past the decoder. */
	v[0] = 4096;
	assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, relid, 4, 40, 1, v, 3)), -EBADMSG);
	fx_free(f);
}

static void test_gpadl_failure(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t exp[20];
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	send_gpadl(f, 1, relid, 8, 3);
	/* E.g. the glue found a page of a non-confidential channel private. */
	assert_int_equal(cvmbus_server_gpadl_complete(f->srv, 1, relid, 8, 0xC0000022u), 0);
	expect_send(f, 1, exp, exp_result(exp, 10, relid, 8, 0xC0000022u));
	assert_int_equal(cvmbus_server_gpadl_state(f->srv, 1, 8), CVMBUS_SERVER_GPADL_NONE);
	/* The id is free again. */
	make_gpadl(f, 1, relid, 8, 3);
	/* A second answer is a device bug. */
	assert_int_equal(cvmbus_server_gpadl_complete(f->srv, 1, relid, 8, 0), -EINVAL);
	assert_int_equal(cvmbus_server_gpadl_complete(f->srv, 1, relid, 99, 0), -ENOENT);
	assert_int_equal(cvmbus_server_gpadl_complete(f->srv, 1, relid + 1, 8, 0), -EINVAL);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_DEVICE), 3);
	expect_quiet(f);
	fx_free(f);
}

static void test_gpadl_teardown(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[16];
	static const uint8_t torndown[12] = { 12, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x1E, 0x0E, 0 };
	uint32_t relid;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 0xE1E10, 2);
	assert_int_equal(feed(f, 1, b, msg_teardown(b, relid, 0xE1E10)), 0);
	e = expect_kind(f, EV_TEARDOWN);
	assert_int_equal(e->relid, relid);
	assert_int_equal(e->id, 0xE1E10);
	/* Not torn down until the device says so. */
	expect_quiet(f);
	assert_int_equal(feed(f, 1, b, msg_teardown(b, relid, 0xE1E10)), -EINVAL);
	assert_int_equal(cvmbus_server_gpadl_teardown_complete(f->srv, 1, relid, 0xE1E10), 0);
	expect_send(f, 1, torndown, sizeof(torndown));
	assert_int_equal(cvmbus_server_gpadl_teardown_complete(f->srv, 1, relid, 0xE1E10),
			 -ENOENT);
	fx_free(f);
}

static void test_gpadl_teardown_errors(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[16];
	uint32_t r1, r2;

	(void)state;
	r1 = add_offer(f, 1, 1, 0);
	r2 = add_offer(f, 1, 2, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, r1, 5, 2);
	send_gpadl(f, 1, r1, 6, 2); /* offered, not answered */
	assert_int_equal(feed(f, 1, b, msg_teardown(b, r1, 99)), -ENOENT);
	assert_int_equal(feed(f, 1, b, msg_teardown(b, r2, 5)), -EINVAL);
	assert_int_equal(feed(f, 1, b, msg_teardown(b, r1, 6)), -EINVAL);
	open_ch(f, 1, r1, 5, 1);
	assert_int_equal(feed(f, 1, b, msg_teardown(b, r1, 5)), -EBUSY);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_UNKNOWN_GPADL), 1);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_GPADL_WRONG_CHANNEL),
			 1);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_GPADL_STATE), 1);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_GPADL_IN_USE), 1);
	fx_free(f);
}

static void test_gpadl_duplicate_id(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[CVMBUS_WIRE_MAX_SIZE];
	uint64_t v[3] = { 8192, 1, 2 };
	uint32_t r1, r2;

	(void)state;
	r1 = add_offer(f, 1, 1, 0);
	r2 = add_offer(f, 1, 2, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, r1, 5, 2);
	/* Same id, same or other channel: unique per connection. */
	assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, r1, 5, 24, 1, v, 3)), -EEXIST);
	assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, r2, 5, 24, 1, v, 3)), -EEXIST);
	/* The duplicate is dropped, not answered: an answer would be about
	 * the existing GPADL. */
	expect_quiet(f);
	assert_int_equal(cvmbus_server_gpadl_state(f->srv, 1, 5), CVMBUS_SERVER_GPADL_ACCEPTED);
	fx_free(f);
}

static void test_gpadl_body_unknown(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[CVMBUS_WIRE_MAX_SIZE];
	uint64_t p[2] = { 1, 2 };

	(void)state;
	(void)add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	assert_int_equal(feed(f, 1, b, msg_gpadl_body(b, 0, 42, p, 2)), -ENOENT);
	expect_quiet(f);
	fx_free(f);
}

static void ignore_excess(struct cvmbus_server_config *c)
{
	c->gpadl_ignore_excess_pfns = true;
}

static void test_gpadl_too_many_pfns(void **state)
{
	uint8_t b[CVMBUS_WIRE_MAX_SIZE], exp[20];
	uint64_t v[2] = { 2 * 4096, 1 };
	uint64_t p[3] = { 2, 3, 4 };

	(void)state;
	for (int lenient = 0; lenient < 2; lenient++) {
		struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, lenient ? ignore_excess : NULL);
		uint32_t relid = add_offer(f, 1, 1, 0);
		struct ev *e;

		connect_v(f, 1, CVMBUS_VERSION_5_0);
		request_offers(f, 1, NULL, 0);
		/* Two pages announced, one in the header, three in the body. */
		assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, relid, 7, 24, 1, v, 2)), 0);
		if (!lenient) {
			assert_int_equal(feed(f, 1, b, msg_gpadl_body(b, 0, 7, p, 3)), -E2BIG);
			expect_send(f, 1, exp,
				    exp_result(exp, 10, relid, 7, CVMBUS_STATUS_UNSUCCESSFUL));
			assert_int_equal(cvmbus_server_gpadl_state(f->srv, 1, 7),
					 CVMBUS_SERVER_GPADL_NONE);
		} else {
			/* OpenVMM's UEFI compatibility: the tail is ignored. */
			assert_int_equal(feed(f, 1, b, msg_gpadl_body(b, 0, 7, p, 3)), 0);
			e = expect_kind(f, EV_GPADL);
			assert_int_equal(e->gpadl.nvalues, 3);
			assert_int_equal(e->values[2], 2);
		}
		expect_quiet(f);
		fx_free(f);
	}
}

static void small_gpadl_limits(struct cvmbus_server_config *c)
{
	c->max_gpadls_per_client = 3;
	c->max_building_gpadls_per_client = 1;
}

static void test_gpadl_limits(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, small_gpadl_limits);
	uint8_t b[CVMBUS_WIRE_MAX_SIZE], exp[20];
	uint64_t v[2] = { 2 * 4096, 1 }, one[2] = { 4096, 1 };
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	/* One half-described GPADL at a time. */
	assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, relid, 1, 24, 1, v, 2)), 0);
	assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, relid, 2, 24, 1, v, 2)), -ENOSPC);
	expect_send(f, 1, exp, exp_result(exp, 10, relid, 2, CVMBUS_STATUS_UNSUCCESSFUL));
	/* A complete one still fits. */
	make_gpadl(f, 1, relid, 3, 1);
	make_gpadl(f, 1, relid, 4, 1);
	/* Three held: no more. */
	assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, relid, 5, 16, 1, one, 2)), -ENOSPC);
	expect_send(f, 1, exp, exp_result(exp, 10, relid, 5, CVMBUS_STATUS_UNSUCCESSFUL));
	expect_quiet(f);
	fx_free(f);
}

/* ---- Rescind ------------------------------------------------------------- */

static void test_rescind_release_reuse(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160];
	static const uint8_t rescind[12] = { 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };
	static const uint8_t torndown[12] = { 12, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0 };
	uint32_t relid, other;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	open_ch(f, 1, relid, 5, 1);
	assert_int_equal(cvmbus_server_rescind(f->srv, relid), 0);
	/* The device is not asked to close: it is the one going away. */
	expect_send(f, 1, rescind, sizeof(rescind));
	expect_quiet(f);
	assert_int_equal(cvmbus_server_rescind(f->srv, relid), -EALREADY);
	assert_int_equal(cvmbus_server_offer_state(f->srv, 1, relid),
			 CVMBUS_SERVER_OFFER_RESCINDED);
	assert_int_equal(cvmbus_server_chan_state(f->srv, relid, NULL), CVMBUS_SERVER_CHAN_CLOSED);
	/* The relid is still held: a new device gets another one. */
	other = add_offer(f, 1, 1, 0); /* same key: the old one is gone */
	assert_int_equal(other, 2);
	expect_kind(f, EV_SEND);
	/* Linux's way out: close, tear down, release. */
	assert_int_equal(feed(f, 1, b, msg_relid(b, 7, relid)), 0);
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 1, 5, 0, 1, 0)), -ENODEV);
	assert_int_equal(feed(f, 1, b, msg_teardown(b, relid, 5)), 0);
	expect_send(f, 1, torndown, sizeof(torndown));
	expect_quiet(f);
	assert_int_equal(feed(f, 1, b, msg_relid(b, 13, relid)), 0);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_chan_state(f->srv, relid, NULL), CVMBUS_SERVER_CHAN_NONE);
	assert_int_equal(feed(f, 1, b, msg_relid(b, 13, relid)), -ENXIO);
	/* Released: the relid is reused. */
	assert_int_equal(add_offer(f, 3, 3, 0), relid);
	expect_kind(f, EV_SEND);
	fx_free(f);
}

static void test_rescind_unoffered(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0); /* negotiated, list not asked for */
	assert_int_equal(cvmbus_server_rescind(f->srv, relid), 0);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_channel_count(f->srv), 0);
	assert_int_equal(add_offer(f, 2, 2, 0), relid);
	assert_int_equal(request_offers(f, 1, NULL, 0), 1);
	fx_free(f);
}

/* Rescind while the device still owed answers: the client gets them from
 * the server, and late device answers are refused. */
static void test_rescind_pending(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160], exp[20];
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	make_gpadl(f, 1, relid, 6, 2);
	send_gpadl(f, 1, relid, 7, 2);                      /* offered */
	assert_int_equal(feed(f, 1, b, msg_teardown(b, relid, 6)), 0);
	expect_kind(f, EV_TEARDOWN);                        /* tearing down */
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 1, 5, 0, 1, 0)), 0);
	expect_kind(f, EV_OPEN);                            /* opening */
	assert_int_equal(cvmbus_server_rescind(f->srv, relid), 0);
	{
		struct ev *e1 = expect_kind(f, EV_SEND), *e2 = expect_kind(f, EV_SEND);
		uint8_t t[12] = { 12, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0 };

		/* Either order for the two GPADL answers (table order). */
		if (e1->bytes[0] == 12) {
			struct ev *tmp = e1;

			e1 = e2;
			e2 = tmp;
		}
		assert_int_equal(e1->len, exp_result(exp, 10, relid, 7, CVMBUS_STATUS_UNSUCCESSFUL));
		assert_memory_equal(e1->bytes, exp, 20);
		assert_memory_equal(e2->bytes, t, 12);
	}
	memset(exp, 0, 12);
	put32(exp, 0, 2);
	put32(exp, 8, relid);
	expect_send(f, 1, exp, 12);
	expect_quiet(f); /* no OpenResult */
	assert_int_equal(cvmbus_server_open_complete(f->srv, relid, 0), -EINVAL);
	assert_int_equal(cvmbus_server_gpadl_complete(f->srv, 1, relid, 7, 0), -ENOENT);
	assert_int_equal(cvmbus_server_gpadl_teardown_complete(f->srv, 1, relid, 6), -ENOENT);
	/* A GPADL completed after the rescind fails at once, device untold. */
	{
		uint64_t v[2] = { 4096, 1 };

		assert_int_equal(feed(f, 1, b, msg_gpadl_header(b, relid, 8, 16, 1, v, 2)),
				 -ENODEV);
		expect_send(f, 1, exp, exp_result(exp, 10, relid, 8, CVMBUS_STATUS_UNSUCCESSFUL));
	}
	expect_quiet(f);
	fx_free(f);
}

static void test_relid_released_errors(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[16];
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	open_ch(f, 1, relid, 5, 1);
	assert_int_equal(feed(f, 1, b, msg_relid(b, 13, relid)), -EINVAL);
	assert_int_equal(feed(f, 1, b, msg_relid(b, 13, 1000)), -ENXIO);
	expect_quiet(f);
	/* Releasing a closed, live channel: it is gone for this client (and
	 * its GPADLs go through the device). */
	assert_int_equal(feed(f, 1, b, msg_relid(b, 7, relid)), 0);
	expect_kind(f, EV_CLOSE);
	assert_int_equal(cvmbus_server_close_complete(f->srv, relid), 0);
	assert_int_equal(feed(f, 1, b, msg_relid(b, 13, relid)), 0);
	expect_kind(f, EV_TEARDOWN);
	assert_int_equal(cvmbus_server_offer_state(f->srv, 1, relid), CVMBUS_SERVER_OFFER_NONE);
	assert_int_equal(cvmbus_server_gpadl_state(f->srv, 1, 5),
			 CVMBUS_SERVER_GPADL_TEARING_DOWN_RELEASED);
	assert_int_equal(cvmbus_server_gpadl_teardown_complete(f->srv, 1, relid, 5), 0);
	expect_quiet(f); /* the client let go: no GpadlTorndown */
	assert_int_equal(cvmbus_server_gpadl_state(f->srv, 1, 5), CVMBUS_SERVER_GPADL_NONE);
	fx_free(f);
}

/* ---- Modify -------------------------------------------------------------- */

static void test_modify_channel(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[16];
	static const uint8_t resp[16] = { 24, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 };
	uint32_t relid;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_3);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	open_ch(f, 1, relid, 5, 1);
	assert_int_equal(feed(f, 1, b, msg_modify(b, relid, 6)), 0);
	e = expect_kind(f, EV_MODIFY);
	assert_int_equal(e->relid, relid);
	assert_int_equal(e->id, 6);
	/* At 5.3 the client must wait for the response. */
	assert_int_equal(feed(f, 1, b, msg_modify(b, relid, 7)), -EBUSY);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_modify_complete(f->srv, relid, 0), 0);
	expect_send(f, 1, resp, sizeof(resp));
	assert_int_equal(cvmbus_server_modify_complete(f->srv, relid, 0), -EINVAL);
	/* A modify overtaken by a close is absorbed. */
	assert_int_equal(feed(f, 1, b, msg_modify(b, relid, 8)), 0);
	expect_kind(f, EV_MODIFY);
	assert_int_equal(feed(f, 1, b, msg_relid(b, 7, relid)), 0);
	expect_kind(f, EV_CLOSE);
	assert_int_equal(cvmbus_server_modify_complete(f->srv, relid, 0), 0);
	expect_quiet(f);
	fx_free(f);
}

static void test_modify_channel_old(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[16];
	uint32_t relid;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_4_1);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	open_ch(f, 1, relid, 5, 1);
	assert_int_equal(feed(f, 1, b, msg_modify(b, relid, 2)), 0);
	expect_kind(f, EV_MODIFY);
	/* Before 5.3 there is no response, so the client may not wait: the
	 * newest target is applied after the current one. */
	assert_int_equal(feed(f, 1, b, msg_modify(b, relid, 3)), 0);
	assert_int_equal(feed(f, 1, b, msg_modify(b, relid, 4)), 0);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_modify_complete(f->srv, relid, 0), 0);
	e = expect_kind(f, EV_MODIFY);
	assert_int_equal(e->id, 4);
	assert_int_equal(cvmbus_server_modify_complete(f->srv, relid, 0), 0);
	expect_quiet(f);
	/* Not open: refused without an answer at 4.1. */
	assert_int_equal(feed(f, 1, b, msg_relid(b, 7, relid)), 0);
	expect_kind(f, EV_CLOSE);
	assert_int_equal(feed(f, 1, b, msg_modify(b, relid, 1)), -EINVAL);
	expect_quiet(f);
	/* And below 4.1 the message does not exist. */
	connect_v(f, 2, CVMBUS_VERSION_4_0);
	assert_int_equal(feed(f, 2, b, msg_modify(b, relid, 1)), -EPROTO);
	fx_free(f);
}

static void test_modify_not_open(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[16], exp[16];
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_3);
	request_offers(f, 1, NULL, 0);
	assert_int_equal(feed(f, 1, b, msg_modify(b, relid, 1)), -EINVAL);
	expect_send(f, 1, exp, exp_modify_response(exp, relid, CVMBUS_STATUS_UNSUCCESSFUL));
	expect_quiet(f);
	fx_free(f);
}

/* ---- Unload, reconnect, reset -------------------------------------------- */

static void test_unload_idle(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[8];
	static const uint8_t resp[8] = { 17, 0, 0, 0, 0, 0, 0, 0 };
	struct ev *e;

	(void)state;
	(void)add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 16)), 0);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->conn.state, CVMBUS_SERVER_CONN_DISCONNECTED);
	assert_int_equal(e->conn.version, 0);
	e = expect_kind(f, EV_UNLOAD);
	assert_int_equal(e->client, 1);
	expect_send(f, 1, resp, sizeof(resp));
	expect_quiet(f);
	assert_int_equal(cvmbus_server_client_state(f->srv, 1), CVMBUS_SERVER_CONN_DISCONNECTED);
	assert_int_equal(cvmbus_server_offer_state(f->srv, 1, 1), CVMBUS_SERVER_OFFER_NONE);
	/* Nothing but InitiateContact now; and it works again. */
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 16)), -ENOTCONN);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	assert_int_equal(request_offers(f, 1, NULL, 0), 1);
	fx_free(f);
}

static void test_unload_busy(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[8];
	static const uint8_t resp[8] = { 17, 0, 0, 0, 0, 0, 0, 0 };
	uint32_t relid;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	open_ch(f, 1, relid, 5, 1);
	send_gpadl(f, 1, relid, 6, 2); /* the device has not answered yet */
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 16)), 0);
	e = expect_kind(f, EV_CLOSE);
	assert_int_equal(e->relid, relid);
	e = expect_kind(f, EV_TEARDOWN);
	assert_int_equal(e->id, 5);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_client_state(f->srv, 1), CVMBUS_SERVER_CONN_DISCONNECTING);
	assert_int_equal(cvmbus_server_chan_state(f->srv, relid, NULL),
			 CVMBUS_SERVER_CHAN_CLOSING_RELEASED);
	/* Messages other than InitiateContact are refused meanwhile. */
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 3)), -ENOTCONN);
	assert_int_equal(cvmbus_server_close_complete(f->srv, relid), 0);
	assert_int_equal(cvmbus_server_gpadl_teardown_complete(f->srv, 1, relid, 5), 0);
	expect_quiet(f);
	/* The late GPADL was accepted by the device: it must be torn down too,
	 * and the client hears nothing about it. */
	assert_int_equal(cvmbus_server_gpadl_complete(f->srv, 1, relid, 6, 0), 0);
	e = expect_kind(f, EV_TEARDOWN);
	assert_int_equal(e->id, 6);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_gpadl_teardown_complete(f->srv, 1, relid, 6), 0);
	expect_kind(f, EV_CONN);
	expect_kind(f, EV_UNLOAD);
	expect_send(f, 1, resp, sizeof(resp));
	expect_quiet(f);
	fx_free(f);
}

/* Unload while the device is still opening: the open is undone quietly. */
static void test_unload_while_opening(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160];
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 1, 5, 0, 1, 0)), 0);
	expect_kind(f, EV_OPEN);
	assert_int_equal(feed(f, 1, b, msg_hdr(b, 16)), 0);
	expect_kind(f, EV_TEARDOWN);
	assert_int_equal(cvmbus_server_chan_state(f->srv, relid, NULL),
			 CVMBUS_SERVER_CHAN_OPENING_RELEASED);
	assert_int_equal(cvmbus_server_open_complete(f->srv, relid, 0), 0);
	expect_kind(f, EV_CLOSE); /* no OpenResult */
	assert_int_equal(cvmbus_server_gpadl_teardown_complete(f->srv, 1, relid, 5), 0);
	expect_quiet(f);
	/* The close is the last thing the unload waited for. */
	assert_int_equal(cvmbus_server_close_complete(f->srv, relid), 0);
	expect_kind(f, EV_CONN);
	expect_kind(f, EV_UNLOAD);
	expect_kind(f, EV_SEND);
	fx_free(f);
}

/* A client that sends InitiateContact again has forgotten its channels. */
static void test_reconnect(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[64], exp[20];
	uint32_t relid;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_3);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	open_ch(f, 1, relid, 5, 1);
	assert_int_equal(feed(f, 1, b, msg_initiate(b, CVMBUS_VERSION_6_0, 2, 2, 0, 0, 0, 0)), 0);
	expect_kind(f, EV_CLOSE);
	expect_kind(f, EV_TEARDOWN);
	expect_quiet(f);
	/* A newer contact while draining replaces the pending one. */
	assert_int_equal(feed(f, 1, b, msg_initiate(b, CVMBUS_VERSION_6_0, 3, 2, 0, 0, 0, 0)), 0);
	assert_int_equal(cvmbus_server_close_complete(f->srv, relid), 0);
	assert_int_equal(cvmbus_server_gpadl_teardown_complete(f->srv, 1, relid, 5), 0);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->conn.state, CVMBUS_SERVER_CONN_DISCONNECTED);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->conn.state, CVMBUS_SERVER_CONN_NEGOTIATED);
	assert_int_equal(e->conn.version, CVMBUS_VERSION_6_0);
	e = expect_send(f, 1, exp, exp_version_response2(exp, 0, 1, 0));
	assert_int_equal(e->target.vp, 3);
	expect_quiet(f); /* no UnloadResponse */
	assert_int_equal(request_offers(f, 1, NULL, 0), 1);
	fx_free(f);
}

static void test_reset(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint32_t relid;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	connect_v(f, 2, CVMBUS_VERSION_5_0); /* idle */
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	open_ch(f, 1, relid, 5, 1);
	assert_int_equal(cvmbus_server_reset(f->srv), 0);
	/* The idle client is done at once; the busy one after its device. */
	e = expect_kind(f, EV_CLOSE);
	e = expect_kind(f, EV_TEARDOWN);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->client, 2);
	assert_int_equal(e->conn.state, CVMBUS_SERVER_CONN_DISCONNECTED);
	expect_quiet(f);
	assert_int_equal(cvmbus_server_close_complete(f->srv, relid), 0);
	assert_int_equal(cvmbus_server_gpadl_teardown_complete(f->srv, 1, relid, 5), 0);
	e = expect_kind(f, EV_CONN);
	assert_int_equal(e->client, 1);
	expect_quiet(f); /* no message to anyone */
	assert_int_equal(cvmbus_server_client_state(f->srv, 1), CVMBUS_SERVER_CONN_DISCONNECTED);
	assert_int_equal(cvmbus_server_channel_count(f->srv), 1);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	fx_free(f);
}

/* ---- Several clients ----------------------------------------------------- */

static void test_two_clients(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160], exp[20];
	uint32_t relid, owner;
	struct ev *e;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	/* The guest at VP 3 SINT 2, the relay client at VP 0 SINT 7 VTL 2. */
	assert_int_equal(feed(f, 0x100, b, msg_initiate(b, CVMBUS_VERSION_5_3, 3, 2, 0, 0, 0, 0)),
			 0);
	expect_kind(f, EV_CONN);
	e = expect_kind(f, EV_SEND);
	assert_int_equal(e->target.vp, 3);
	assert_int_equal(feed(f, 0x200, b, msg_initiate(b, CVMBUS_VERSION_5_3, 0, 7, 2, 0, 0, 0)),
			 0);
	expect_kind(f, EV_CONN);
	e = expect_kind(f, EV_SEND);
	assert_int_equal(e->target.sint, 7);
	assert_int_equal(e->target.vtl, 2);
	request_offers(f, 0x100, NULL, 0);
	request_offers(f, 0x200, NULL, 0);
	/* GPADL ids are per connection: both may use 5. */
	make_gpadl(f, 0x100, relid, 5, 2);
	make_gpadl(f, 0x200, relid, 5, 2);
	open_ch(f, 0x100, relid, 5, 1);
	/* One owner at a time. */
	assert_int_equal(feed(f, 0x200, b, msg_open(b, relid, 2, 5, 0, 1, 0)), -EBUSY);
	e = expect_send(f, 0x200, exp, exp_result(exp, 6, relid, 2, CVMBUS_STATUS_UNSUCCESSFUL));
	assert_int_equal(e->target.sint, 7);
	/* Client 0x200 cannot close or modify what 0x100 opened. */
	assert_int_equal(feed(f, 0x200, b, msg_relid(b, 7, relid)), -EBADFD);
	/* 0x100 unloads; 0x200 keeps its GPADL and offer. */
	assert_int_equal(feed(f, 0x100, b, msg_hdr(b, 16)), 0);
	expect_kind(f, EV_CLOSE);
	e = expect_kind(f, EV_TEARDOWN);
	assert_int_equal(e->client, 0x100);
	assert_int_equal(cvmbus_server_close_complete(f->srv, relid), 0);
	assert_int_equal(cvmbus_server_gpadl_teardown_complete(f->srv, 0x100, relid, 5), 0);
	expect_kind(f, EV_CONN);
	expect_kind(f, EV_UNLOAD);
	e = expect_kind(f, EV_SEND);
	assert_int_equal(e->client, 0x100);
	assert_int_equal(cvmbus_server_gpadl_state(f->srv, 0x200, 5), CVMBUS_SERVER_GPADL_ACCEPTED);
	assert_int_equal(cvmbus_server_offer_state(f->srv, 0x200, relid), CVMBUS_SERVER_OFFER_SENT);
	open_ch(f, 0x200, relid, 5, 3);
	assert_int_equal(cvmbus_server_chan_state(f->srv, relid, &owner), CVMBUS_SERVER_CHAN_OPEN);
	assert_int_equal(owner, 0x200);
	/* A rescind reaches every holder. */
	connect_v(f, 0x100, CVMBUS_VERSION_5_3);
	request_offers(f, 0x100, NULL, 0);
	assert_int_equal(cvmbus_server_rescind(f->srv, relid), 0);
	e = expect_kind(f, EV_SEND);
	assert_int_equal(e->bytes[0], 2);
	e = expect_kind(f, EV_SEND);
	assert_int_equal(e->bytes[0], 2);
	expect_quiet(f);
	assert_int_equal(feed(f, 0x100, b, msg_relid(b, 13, relid)), 0);
	assert_int_equal(cvmbus_server_channel_count(f->srv), 1);
	assert_int_equal(feed(f, 0x200, b, msg_teardown(b, relid, 5)), 0);
	expect_kind(f, EV_SEND);
	assert_int_equal(feed(f, 0x200, b, msg_relid(b, 13, relid)), 0);
	assert_int_equal(cvmbus_server_channel_count(f->srv), 0);
	fx_free(f);
}

/* ---- The device contract ------------------------------------------------- */

static void reenter_hook(struct rec *r, const struct ev *e)
{
	if (e->kind != EV_OPEN)
		return;
	/* Queries are fine from a callback; mutations are refused. */
	assert_int_equal(cvmbus_server_chan_state(r->srv, e->relid, NULL),
			 CVMBUS_SERVER_CHAN_OPENING);
	r->hook_rc = cvmbus_server_open_complete(r->srv, e->relid, 0);
}

static void test_reentry_refused(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint8_t b[160];
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	connect_v(f, 1, CVMBUS_VERSION_5_0);
	request_offers(f, 1, NULL, 0);
	make_gpadl(f, 1, relid, 5, 2);
	f->rec.hook = reenter_hook;
	assert_int_equal(feed(f, 1, b, msg_open(b, relid, 1, 5, 0, 1, 0)), 0);
	assert_int_equal(f->rec.hook_rc, -EBUSY);
	f->rec.hook = NULL;
	expect_kind(f, EV_OPEN);
	assert_int_equal(cvmbus_server_open_complete(f->srv, relid, 0), 0);
	expect_kind(f, EV_SEND);
	fx_free(f);
}

static void test_device_errors(void **state)
{
	struct fx *f = fx_new(CVMBUS_SERVER_ROLE_HOST, NULL);
	uint32_t relid;

	(void)state;
	relid = add_offer(f, 1, 1, 0);
	assert_int_equal(cvmbus_server_open_complete(f->srv, relid, 0), -EINVAL);
	assert_int_equal(cvmbus_server_close_complete(f->srv, relid), -EINVAL);
	assert_int_equal(cvmbus_server_modify_complete(f->srv, relid, 0), -EINVAL);
	assert_int_equal(cvmbus_server_open_complete(f->srv, 500, 0), -ENOENT);
	assert_int_equal(cvmbus_server_close_complete(f->srv, 0), -ENOENT);
	assert_int_equal(cvmbus_server_modify_complete(f->srv, 5000, 0), -ENOENT);
	assert_int_equal(cvmbus_server_gpadl_teardown_complete(f->srv, 9, relid, 1), -ENOENT);
	assert_int_equal(cvmbus_server_reject_count(f->srv, CVMBUS_SERVER_REJ_DEVICE), 7);
	assert_non_null(strstr(f->rec.logs[0], "device: open_complete"));
	expect_quiet(f);
	assert_int_equal(cvmbus_server_offer(NULL, NULL, NULL), -EINVAL);
	assert_int_equal(cvmbus_server_handle_message(NULL, 1, NULL, 0, false), -EINVAL);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_negotiate_5_0),
		cmocka_unit_test(test_negotiate_old_versions),
		cmocka_unit_test(test_unsupported_version),
		cmocka_unit_test(test_max_version),
		cmocka_unit_test(test_negotiate_6_0_features),
		cmocka_unit_test(test_confidential_trusted_paravisor),
		cmocka_unit_test(test_confidential_untrusted_not_granted),
		cmocka_unit_test(test_confidential_never_host),
		cmocka_unit_test(test_untrusted_after_trusted),
		cmocka_unit_test(test_client_id),
		cmocka_unit_test(test_monitor_pages),
		cmocka_unit_test(test_bad_sint),
		cmocka_unit_test(test_modify_connection),
		cmocka_unit_test(test_message_before_contact),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_unsupported_message),
		cmocka_unit_test(test_too_many_clients),
		cmocka_unit_test(test_log_rate_limit),
		cmocka_unit_test(test_offer_bytes),
		cmocka_unit_test(test_offers_sorted),
		cmocka_unit_test(test_request_offers_twice),
		cmocka_unit_test(test_late_offer),
		cmocka_unit_test(test_offer_errors),
		cmocka_unit_test(test_confidential_offer_flags),
		cmocka_unit_test(test_open_success),
		cmocka_unit_test(test_open_failure),
		cmocka_unit_test(test_open2_guest_signal),
		cmocka_unit_test(test_open2_redirect_only),
		cmocka_unit_test(test_open2_below_6_0),
		cmocka_unit_test(test_open_already_open),
		cmocka_unit_test(test_open_bad_ring),
		cmocka_unit_test(test_unknown_relid),
		cmocka_unit_test(test_close),
		cmocka_unit_test(test_close_then_reopen),
		cmocka_unit_test(test_gpadl_bodies),
		cmocka_unit_test(test_gpadl_two_ranges),
		cmocka_unit_test(test_gpadl_invalid_ranges),
		cmocka_unit_test(test_gpadl_failure),
		cmocka_unit_test(test_gpadl_teardown),
		cmocka_unit_test(test_gpadl_teardown_errors),
		cmocka_unit_test(test_gpadl_duplicate_id),
		cmocka_unit_test(test_gpadl_body_unknown),
		cmocka_unit_test(test_gpadl_too_many_pfns),
		cmocka_unit_test(test_gpadl_limits),
		cmocka_unit_test(test_rescind_release_reuse),
		cmocka_unit_test(test_rescind_unoffered),
		cmocka_unit_test(test_rescind_pending),
		cmocka_unit_test(test_relid_released_errors),
		cmocka_unit_test(test_modify_channel),
		cmocka_unit_test(test_modify_channel_old),
		cmocka_unit_test(test_modify_not_open),
		cmocka_unit_test(test_unload_idle),
		cmocka_unit_test(test_unload_busy),
		cmocka_unit_test(test_unload_while_opening),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_two_clients),
		cmocka_unit_test(test_reentry_refused),
		cmocka_unit_test(test_device_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
