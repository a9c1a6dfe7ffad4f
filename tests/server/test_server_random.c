/* SPDX-License-Identifier: MIT */
/*
 * A deterministic random-message loop against the VMBus server
 * (src/server): 120,000 client messages with valid headers and random
 * types, lengths and fields (biased towards small relids and GPADL ids and
 * well-formed GPADL headers so that deep states are reached), interleaved
 * with device completions in random order, offers, rescinds and resets.
 * It checks that nothing crashes (run it under ASan/UBSan), that every
 * return is 0 or a negative errno, that every message the server sends
 * decodes as a valid server-to-client message and never carries
 * confidential offer flags to a connection without the feature, and that
 * the server's invariants hold throughout. Part of tests/server/.
 */
#include <errno.h>
#include <stdlib.h>

#include "server_test.h"

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	/* xorshift64*: small, fast, the same sequence on every platform. */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1Dull;
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return (uint32_t)(rnd(r) % n);
}

/* ---- A device that answers in random order ------------------------------- */

struct pending {
	enum ev_kind kind;
	uint32_t client, relid, id;
};

#define MAX_PENDING 4096u

struct world {
	struct rng rng;
	struct cvmbus_server *srv;
	struct pending pend[MAX_PENDING];
	size_t npend;
	bool overflow;     /* a notification did not fit in pend[] */
	/* coverage */
	unsigned long sent_by_type[CVMBUS_MSG_COUNT];
	unsigned long notified[EV_UNLOAD + 1];
	unsigned long accepted, refused, logs;
	unsigned long open_ok;
};

static void pend_add(struct world *w, enum ev_kind kind, uint32_t client, uint32_t relid,
		     uint32_t id)
{
	w->notified[kind]++;
	if (w->npend == MAX_PENDING) {
		w->overflow = true; /* a device that forgets: the server must cope */
		return;
	}
	w->pend[w->npend++] = (struct pending){ kind, client, relid, id };
}

static void w_send(void *ctx, uint32_t client, const struct cvmbus_server_target *t,
		   const void *msg, size_t len)
{
	struct world *w = ctx;
	struct cvmbus_wire_msg m;
	struct cvmbus_server_connection c;
	int rc;

	(void)t;
	/* Everything the server says must be a valid server message. */
	rc = cvmbus_wire_decode(msg, len, CVMBUS_VERSION_LATEST, CVMBUS_FEATURE_ALL,
				CVMBUS_WIRE_TO_CLIENT, &m, NULL);
	assert_int_equal(rc, 0);
	w->sent_by_type[cvmbus_wire_msg_type(&m)]++;
	if (m.variant == CVMBUS_WIRE_OFFER_CHANNEL) {
		assert_int_equal(cvmbus_server_connection(w->srv, client, &c), 0);
		if (!(c.features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS))
			assert_int_equal(m.u.offer_channel.flags &
						 (CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
						  CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY),
					 0);
		assert_int_equal(m.u.offer_channel.flags &
					 CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY,
				 0);
	}
	if (m.variant == CVMBUS_WIRE_OPEN_CHANNEL_RESULT && m.u.open_result.status == 0)
		w->open_ok++;
}

static void w_open(void *ctx, const struct cvmbus_server_open_request *req)
{
	assert_true(req->downstream_page_offset > 0 &&
		    req->downstream_page_offset < req->ring_gpadl_pages);
	pend_add(ctx, EV_OPEN, req->client, req->relid, 0);
}

static void w_close(void *ctx, uint32_t client, uint32_t relid)
{
	pend_add(ctx, EV_CLOSE, client, relid, 0);
}

static void w_gpadl(void *ctx, const struct cvmbus_server_gpadl *g)
{
	uint64_t sum = 0;

	/* The page list must be readable in full (ASan checks the bounds). */
	for (uint32_t i = 0; i < g->nvalues; i++)
		sum += g->values[i];
	(void)sum;
	assert_true(g->npages > 0 && g->npages < g->nvalues);
	pend_add(ctx, EV_GPADL, g->client, g->relid, g->gpadl_id);
}

static void w_teardown(void *ctx, uint32_t client, uint32_t relid, uint32_t id)
{
	pend_add(ctx, EV_TEARDOWN, client, relid, id);
}

static void w_modify(void *ctx, uint32_t client, uint32_t relid, uint32_t vp)
{
	(void)vp;
	pend_add(ctx, EV_MODIFY, client, relid, 0);
}

static void w_conn(void *ctx, const struct cvmbus_server_connection *c)
{
	struct world *w = ctx;

	(void)c;
	w->notified[EV_CONN]++;
}

static void w_unload(void *ctx, uint32_t client)
{
	struct world *w = ctx;

	(void)client;
	w->notified[EV_UNLOAD]++;
}

static void w_log(void *ctx, uint32_t client, enum cvmbus_server_reject reason,
		  const char *line)
{
	struct world *w = ctx;

	(void)client;
	assert_true((unsigned)reason < CVMBUS_SERVER_REJ_COUNT);
	assert_true(strlen(line) < 256);
	w->logs++;
}

/* ---- Random client messages ---------------------------------------------- */

/* A plausible size per type: the layout's, so that most messages get past
 * the size check and into the state machine. */
static size_t canonical_size(uint32_t type, struct rng *r)
{
	switch (type) {
	case 3: case 4: case 16: case 17: case 27: case 28: case 29: return 8;
	case 2: case 7: case 13: case 20: return 12;
	case 5: return below(r, 2) ? 148 : 156;
	case 6: case 10: return 20;
	case 8: return 20 + 8 * (1 + below(r, 27));
	case 9: return 16 + 8 * (1 + below(r, 28));
	case 11: case 22: case 24: return 16;
	case 12: return 12;
	case 14: return below(r, 4) ? 40 : 56;
	case 15: return below(r, 2) ? 16 : 20;
	case 18: return 28;
	case 19: return 20;
	case 21: return below(r, 2) ? 40 : 56;
	case 23: return 44;
	case 25: return 24;
	case 26: return 9;
	case 1: return 196;
	default: return 8 + 8 * below(r, 20);
	}
}

static const uint32_t versions[] = {
	CVMBUS_VERSION_2_4, CVMBUS_VERSION_3_0, CVMBUS_VERSION_4_0, CVMBUS_VERSION_4_1,
	CVMBUS_VERSION_5_0, CVMBUS_VERSION_5_1, CVMBUS_VERSION_5_2, CVMBUS_VERSION_5_3,
	CVMBUS_VERSION_6_0, CVMBUS_VERSION_6_0, CVMBUS_VERSION_6_0, CVMBUS_VERSION_1_1,
};

/* Like a real client most of the time: contact when disconnected, ask for
 * offers once negotiated; random otherwise. */
static size_t random_message(struct rng *r, uint8_t *b, const struct cvmbus_server *srv,
			     uint32_t client)
{
	enum cvmbus_server_conn_state st = cvmbus_server_client_state(srv, client);
	static const uint32_t useful[] = { 3, 5, 5, 5, 5, 7, 7, 8, 8, 8, 8, 9, 9, 11, 11,
					   13, 22, 22, 25, 14, 16 };
	uint32_t type = below(r, 4) ? useful[below(r, sizeof(useful) / sizeof(useful[0]))]
				    : below(r, 32);
	size_t len;

	if (st == CVMBUS_SERVER_CONN_DISCONNECTED && below(r, 4))
		type = 14;
	else if (st == CVMBUS_SERVER_CONN_NEGOTIATED && below(r, 2))
		type = 3;
	len = below(r, 8) ? canonical_size(type, r) : below(r, 250);

	for (size_t i = 0; i < CVMBUS_WIRE_MAX_SIZE + 16; i++)
		b[i] = (uint8_t)rnd(r);
	if (len < 8)
		len = below(r, 2) ? len : 8;
	put32(b, 0, type);
	put32(b, 4, 0);
	if (len < 16)
		return len;
	/* Small relids and ids, so that messages name things that exist. */
	switch (type) {
	case 5: {
		/* Mostly name the GPADL that the header case below builds for
		 * this relid, with a downstream offset that fits it; often one
		 * that the device already accepted. */
		uint32_t relid = 1 + below(r, 6);

		for (uint32_t k = 0; k < 6 && below(r, 2); k++) {
			uint32_t c = 1 + (relid + k) % 6;

			if (cvmbus_server_gpadl_state(srv, client, c) == CVMBUS_SERVER_GPADL_ACCEPTED &&
			    cvmbus_server_offer_state(srv, client, c) == CVMBUS_SERVER_OFFER_SENT) {
				relid = c;
				break;
			}
		}

		put32(b, 8, below(r, 8) ? relid : below(r, 9));
		put32(b, 16, below(r, 4) ? relid : below(r, 8));
		put32(b, 24, below(r, 4) ? 1 : below(r, 4));
		break;
	}
	case 7: case 13: case 22:
		put32(b, 8, below(r, 8));
		if (type == 22)
			put32(b, 12, below(r, 4));
		break;
	case 8: {
		/* Mostly a consistent one-range header, sometimes raw noise. */
		uint32_t npages = below(r, 3) ? 2 + below(r, 3) : 1 + below(r, 40);
		uint32_t n = len >= 20 ? (uint32_t)(len - 20) / 8 : 0;
		uint32_t relid = 1 + below(r, 6);

		if (below(r, 2))
			n = 27;
		put32(b, 8, below(r, 8) ? relid : below(r, 9));
		put32(b, 12, below(r, 2) ? relid : below(r, 8));
		if (below(r, 5) && n > 0) {
			uint32_t carry = npages + 1 < n ? npages + 1 : n;

			put16(b, 16, (uint16_t)(8 * (npages + 1)));
			put16(b, 18, 1);
			put64(b, 20, (uint64_t)npages * 4096u - below(r, 4096) * below(r, 2));
			for (uint32_t i = 1; i < carry; i++)
				put64(b, 20 + 8 * (size_t)i, rnd(r) >> 20);
			len = 20 + 8 * (size_t)carry;
		}
		break;
	}
	case 9:
		put32(b, 12, below(r, 8));
		break;
	case 11:
		put32(b, 8, below(r, 8));
		put32(b, 12, below(r, 8));
		break;
	case 14:
		put32(b, 8, versions[below(r, sizeof(versions) / sizeof(versions[0]))]);
		if (below(r, 4)) {
			b[16] = 2;
			put32(b, 20, below(r, 4) ? (uint32_t)rnd(r) & ~CVMBUS_FEATURE_CLIENT_ID
						 : 0x13);
			put64(b, 24, 0);
			put64(b, 32, 0);
		}
		break;
	case 25:
		if (below(r, 2))
			put64(b, 16, 0);
		break;
	default:
		break;
	}
	return len;
}

/* ---- Device actions ------------------------------------------------------ */

static void forget_relid(struct world *w, uint32_t relid)
{
	size_t j = 0;

	for (size_t i = 0; i < w->npend; i++) {
		if (w->pend[i].relid != relid)
			w->pend[j++] = w->pend[i];
	}
	w->npend = j;
}

/* Answers the i-th outstanding request. */
static int complete_one(struct world *w, size_t i, uint32_t status)
{
	struct pending p = w->pend[i];
	int rc = 0;

	w->pend[i] = w->pend[--w->npend];
	switch (p.kind) {
	case EV_OPEN:
		rc = cvmbus_server_open_complete(w->srv, p.relid, status);
		break;
	case EV_CLOSE:
		rc = cvmbus_server_close_complete(w->srv, p.relid);
		break;
	case EV_GPADL:
		rc = cvmbus_server_gpadl_complete(w->srv, p.client, p.relid, p.id, status);
		break;
	case EV_TEARDOWN:
		rc = cvmbus_server_gpadl_teardown_complete(w->srv, p.client, p.relid, p.id);
		break;
	case EV_MODIFY:
		rc = cvmbus_server_modify_complete(w->srv, p.relid, status);
		break;
	default:
		break;
	}
	return rc;
}

static void device_step(struct world *w)
{
	struct rng *r = &w->rng;
	uint32_t status = below(r, 5) ? 0 : 0xC0000001u;
	int rc = 0;

	if (below(r, 20) && w->npend > 0) {
		rc = complete_one(w, below(r, (uint32_t)w->npend), status);
	} else {
		switch (below(r, 12)) {
		case 0: case 1: case 2: case 3: {
			struct cvmbus_offer_params p;
			uint32_t relid;

			memset(&p, 0, sizeof(p));
			p.interface_id.data1 = below(r, 3);
			p.instance_id.data1 = below(r, 2);
			p.subchannel_index = (uint16_t)(below(r, 8) == 0);
			p.flags = (uint16_t)(rnd(r) & CVMBUS_OFFER_KNOWN_FLAGS);
			p.keep_flags = below(r, 2);
			p.offer_order = below(r, 3) ? below(r, 4) : CVMBUS_OFFER_ORDER_NONE;
			rc = cvmbus_server_offer(w->srv, &p, &relid);
			break;
		}
		case 4: {
			uint32_t relid = 1 + below(r, 7);

			rc = cvmbus_server_rescind(w->srv, relid);
			/* The contract: a rescinded device completes nothing more. */
			if (rc == 0)
				forget_relid(w, relid);
			break;
		}
		case 5: case 6: case 7: case 8: case 9: case 10:
			break;
		case 11:
			if (below(r, 20) == 0) {
				rc = cvmbus_server_reset(w->srv);
				break;
			}
			/* fall through */
		default:
			/* Completions for things never asked: device bugs. */
			switch (below(r, 4)) {
			case 0: rc = cvmbus_server_open_complete(w->srv, below(r, 10), 0); break;
			case 1: rc = cvmbus_server_close_complete(w->srv, below(r, 10)); break;
			case 2:
				rc = cvmbus_server_gpadl_complete(w->srv, 1 + below(r, 3), below(r, 10),
								  below(r, 8), 0);
				break;
			default:
				rc = cvmbus_server_modify_complete(w->srv, below(r, 10), 0);
				break;
			}
			break;
		}
	}
	assert_true(rc <= 0);
}

static void run_seed(uint64_t seed, unsigned iterations, struct world *w)
{
	struct cvmbus_server_config cfg;
	struct cvmbus_server_notifier n = {
		.ctx = w,
		.send_message = w_send,
		.open_channel = w_open,
		.close_channel = w_close,
		.gpadl_create = w_gpadl,
		.gpadl_teardown = w_teardown,
		.modify_channel = w_modify,
		.connection_changed = w_conn,
		.unload_complete = w_unload,
		.log = w_log,
	};
	uint8_t b[CVMBUS_WIRE_MAX_SIZE + 16];
	const char *why = NULL;

	w->rng.s = seed;
	w->npend = 0;
	w->overflow = false;
	cvmbus_server_config_init(&cfg, CVMBUS_SERVER_ROLE_PARAVISOR);
	cfg.max_clients = 3;
	/* Few relids, so that random ones name live channels (and the
	 * range runs out now and then). */
	cfg.relid_max = 6;
	cfg.max_gpadls_per_client = 32;
	cfg.max_building_gpadls_per_client = 4;
	cfg.log_burst = 2;
	cfg.gpadl_ignore_excess_pfns = (seed >> 1) & 1;
	assert_int_equal(cvmbus_server_create(&cfg, &n, &w->srv), 0);

	for (unsigned it = 0; it < iterations; it++) {
		if (below(&w->rng, 100) < 55) {
			uint32_t client = 1 + below(&w->rng, 3);
			/* Odd seeds: a host, where nothing is trusted. Even seeds: a
			 * paravisor whose client 1 is always trusted, client 2
			 * never (refused once 1 connected) and client 3 either. */
			bool trusted = (seed & 1) ? false
					: client == 1 || (client == 3 && below(&w->rng, 2));
			size_t len = random_message(&w->rng, b, w->srv, client);
			int rc = cvmbus_server_handle_message(w->srv, client, b, len, trusted);

			assert_true(rc <= 0);
			if (rc == 0)
				w->accepted++;
			else
				w->refused++;
		} else {
			device_step(w);
		}
		if (it % 97 == 0 && cvmbus_server_check(w->srv, &why) != 0)
			fail_msg("seed %llu iteration %u: %s", (unsigned long long)seed, it, why);
	}
	if (cvmbus_server_check(w->srv, &why) != 0)
		fail_msg("seed %llu end: %s", (unsigned long long)seed, why);

	/* Liveness: once the device has answered everything it was asked,
	 * nothing may still be waiting (no client stuck disconnecting, no
	 * channel or GPADL stuck between states). */
	assert_false(w->overflow);
	while (w->npend > 0)
		assert_true(complete_one(w, 0, 0) <= 0);
	for (uint32_t c = 1; c <= 3; c++) {
		assert_int_not_equal(cvmbus_server_client_state(w->srv, c),
				     CVMBUS_SERVER_CONN_DISCONNECTING);
		for (uint32_t id = 0; id < 8; id++) {
			enum cvmbus_server_gpadl_state gs = cvmbus_server_gpadl_state(w->srv, c, id);

			assert_true(gs == CVMBUS_SERVER_GPADL_NONE ||
				    gs == CVMBUS_SERVER_GPADL_BUILDING ||
				    gs == CVMBUS_SERVER_GPADL_ACCEPTED);
		}
	}
	for (uint32_t relid = 1; relid <= cfg.relid_max; relid++) {
		enum cvmbus_server_chan_state cs = cvmbus_server_chan_state(w->srv, relid, NULL);

		assert_true(cs == CVMBUS_SERVER_CHAN_NONE || cs == CVMBUS_SERVER_CHAN_CLOSED ||
			    cs == CVMBUS_SERVER_CHAN_OPEN);
	}
	if (cvmbus_server_check(w->srv, &why) != 0)
		fail_msg("seed %llu drained: %s", (unsigned long long)seed, why);
	if (getenv("CVMBUS_TEST_VERBOSE")) {
		for (unsigned i = 0; i < CVMBUS_SERVER_REJ_COUNT; i++)
			print_message("  %-40s %llu\n", cvmbus_server_reject_name(i),
				      (unsigned long long)cvmbus_server_reject_count(w->srv, i));
	}
	cvmbus_server_destroy(w->srv);
	w->srv = NULL;
}

static void test_random_messages(void **state)
{
	static const uint64_t seeds[] = { 0x9E3779B97F4A7C15ull, 0x1234567ull, 0xC0FFEEull,
					  0xDEADBEEFCAFEull };
	struct world *w = calloc(1, sizeof(*w));

	(void)state;
	assert_non_null(w);
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		run_seed(seeds[i], 55000, w);
	print_message("accepted %lu refused %lu logs %lu\n", w->accepted, w->refused, w->logs);
	print_message("offers %lu opens %lu (ok results %lu) gpadls %lu teardowns %lu "
		      "closes %lu modifies %lu unloads %lu rescinds %lu torndown %lu\n",
		      w->sent_by_type[CVMBUS_MSG_OFFER_CHANNEL], w->notified[EV_OPEN], w->open_ok,
		      w->notified[EV_GPADL], w->notified[EV_TEARDOWN], w->notified[EV_CLOSE],
		      w->notified[EV_MODIFY], w->notified[EV_UNLOAD],
		      w->sent_by_type[CVMBUS_MSG_RESCIND_CHANNEL_OFFER],
		      w->sent_by_type[CVMBUS_MSG_GPADL_TORNDOWN]);
	assert_true(w->accepted + w->refused >= 100000);
	/* The loop is only worth something if it reaches the deep states. */
	assert_true(w->notified[EV_GPADL] > 50);
	assert_true(w->notified[EV_OPEN] > 50);
	assert_true(w->open_ok > 30);
	assert_true(w->notified[EV_CLOSE] > 20);
	assert_true(w->notified[EV_TEARDOWN] > 5);
	assert_true(w->notified[EV_UNLOAD] > 5);
	assert_true(w->sent_by_type[CVMBUS_MSG_RESCIND_CHANNEL_OFFER] > 5);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
