/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the VMBus server's control plane (layer src/server,
 * include/cvmbus/server.h): a sequence of channel messages from up to four
 * hostile clients, fed to cvmbus_server_handle_message() on a server in the
 * paravisor role (confidential channels granted to trusted contacts) or the
 * host role, with three offered devices. A device model written here
 * records every request the server makes and answers it (in order for one
 * channel, in any order across channels) only after the server returned:
 * a notifier must never call back in (the server refuses with -EBUSY, and
 * with a bit set the target checks exactly that from inside send_message).
 *
 * Input:
 *   byte 0  bit 0 host role (else paravisor); bit 1 the third offer is a
 *           relayed one (keep_flags, no confidential flag; else a local
 *           device with confidential external memory); bit 2 the second
 *           offer has confidential external memory; bit 3
 *           gpadl_ignore_excess_pfns; bits 4-5 max_clients - 1; bits 6-7 the
 *           highest version (6.0, 5.3, 4.1, 2.4);
 *   byte 1  bits 0-3 max_building_gpadls_per_client (0: default), bits 4-7
 *           max_gpadls_per_client / 2 (0: default);
 *   byte 2  features taken away from the role's default;
 *   then up to 96 steps, each starting with a byte h:
 *     h bit 7 clear: a client message. bit 0 trusted path, bits 1-2 the
 *       client (keys 0x100..0x103), bits 3-4 what the device does with the
 *       requests queued once the call returned (0 answer all, 1 answer all
 *       with opens, GPADLs and modifies failing, 2 nothing, 3 the oldest
 *       one), bit 5 probe re-entry from the next send; then a length byte
 *       and that many message bytes (a header and a body, as posted).
 *     h bit 7 set: a device event, bits 0-2: 0 rescind offer (h >> 3) % 3,
 *       1 offer it again, 2 VM reset, 3 answer all, 4 a completion nobody
 *       asked for (kind, channel and client from h >> 3, GPADL id from the
 *       next byte), 5 rescind and offer again, 6 (7) answer with success
 *       (failure) request number (h >> 3) & 15 among those that are the
 *       oldest of their channel: devices are independent, so answers to
 *       different channels come in any order, but one channel's in order.
 *
 * Checked: every call returns 0 or the errno of a documented rejection,
 * and every refusal is counted; a device completion for a request the
 * server made, in order for its channel, is accepted (0), and one it did
 * not ask for is refused (-ENOENT or -EINVAL), counted, and changes no
 * state and sends nothing; every message the server sends decodes with
 * cvmbus_wire_decode() as server-to-client under the receiving connection's
 * context (a VersionResponse under what that client asked for, as a client
 * reads it; everything else under the last version and features it
 * negotiated); no offer carries a confidential flag (and no connection,
 * open or GPADL request has confidential_channels) unless the server is a
 * paravisor and the contact came over the trusted path; a GPADL given to the
 * device has ranges that add up to its page count; an open names an accepted
 * ring GPADL and a downstream offset inside it; cvmbus_server_check()
 * passes; and after a reset and a device that answers everything, every
 * client is disconnected and no channel is owned.
 */
#include <errno.h>

#include <cvmbus/server.h>

#include "fuzz_util.h"

#define FZ_KEYS 4u
#define FZ_KEY_BASE 0x100u
#define FZ_OFFERS 3u
#define FZ_MAX_STEPS 96u
#define FZ_DRAIN_MAX 4096u
#define FZ_STATUS_FAIL 0xC0000001u

enum fz_req_kind { FZ_REQ_OPEN, FZ_REQ_CLOSE, FZ_REQ_GPADL, FZ_REQ_TEARDOWN, FZ_REQ_MODIFY };

struct fz_req {
	enum fz_req_kind kind;
	uint32_t client;
	uint32_t relid;
	uint32_t gpadl;
};

/* What the harness knows of one client key. */
struct fz_key {
	/* The InitiateContact the server stored or acted on last: the context
	 * a client reads the VersionResponse under. */
	bool asked;
	uint32_t ask_version, ask_features;
	bool ask_trusted;
	/* The last negotiated connection (kept after it ends: UnloadResponse
	 * comes after the disconnect). */
	bool negotiated;
	uint32_t version, features;
};

struct fz_offer {
	struct cvmbus_offer_params p;
	uint16_t flags_held; /* what the server keeps: ring added unless keep_flags */
	uint32_t relid;
	bool live;
};

struct fz_srv {
	struct cvmbus_server *srv;
	enum cvmbus_server_role role;
	struct fz_req *q;
	size_t nq, capq;
	struct fz_key keys[FZ_KEYS];
	struct fz_offer offers[FZ_OFFERS];
	/* The InitiateContact being handled right now, if any. */
	int call_key;
	bool call_is_contact;
	uint32_t call_version, call_features;
	bool call_trusted;
	bool version_response_in_call;
	bool probe;
	uint64_t sends;
};

static uint32_t fz_le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static struct fz_key *fz_key_of(struct fz_srv *f, uint32_t client)
{
	FZ_CHECK(client >= FZ_KEY_BASE && client < FZ_KEY_BASE + FZ_KEYS);
	return &f->keys[client - FZ_KEY_BASE];
}

static bool fz_paravisor(const struct fz_srv *f)
{
	return f->role == CVMBUS_SERVER_ROLE_PARAVISOR;
}

static const struct fz_offer *fz_offer_of(const struct fz_srv *f, uint32_t relid)
{
	for (unsigned i = 0; i < FZ_OFFERS; i++) {
		if (f->offers[i].live && f->offers[i].relid == relid)
			return &f->offers[i];
	}
	return NULL;
}

static void fz_push(struct fz_srv *f, enum fz_req_kind kind, uint32_t client, uint32_t relid,
		    uint32_t gpadl)
{
	if (f->nq == f->capq) {
		size_t cap = f->capq ? f->capq * 2 : 16;
		struct fz_req *q = realloc(f->q, cap * sizeof(*q));

		FZ_CHECK(q != NULL);
		f->q = q;
		f->capq = cap;
	}
	f->q[f->nq].kind = kind;
	f->q[f->nq].client = client;
	f->q[f->nq].relid = relid;
	f->q[f->nq].gpadl = gpadl;
	f->nq++;
}

/* ---- The notifier --------------------------------------------------------- */

static void fz_probe_reentry(struct fz_srv *f, uint32_t client, const void *msg, size_t len)
{
	/* The contract: a callback that calls a mutating entry point gets
	 * -EBUSY and changes nothing. */
	f->probe = false;
	FZ_CHECK(cvmbus_server_handle_message(f->srv, client, msg, len, true) == -EBUSY);
	FZ_CHECK(cvmbus_server_open_complete(f->srv, 1, 0) == -EBUSY);
	FZ_CHECK(cvmbus_server_reset(f->srv) == -EBUSY);
}

static void fz_send(void *ctx, uint32_t client, const struct cvmbus_server_target *target,
		    const void *msg, size_t len)
{
	struct fz_srv *f = ctx;
	struct fz_key *k = fz_key_of(f, client);
	struct cvmbus_wire_msg m;
	struct cvmbus_wire_status st;
	uint32_t type, version, features;
	bool trusted;
	int rc;

	f->sends++;
	FZ_CHECK(target != NULL && target->sint < 16);
	FZ_CHECK(len >= CVMBUS_WIRE_HEADER_SIZE && len <= CVMBUS_WIRE_MAX_SIZE);
	type = fz_le32(msg);
	if (type == CVMBUS_MSG_VERSION_RESPONSE) {
		/* Read as the client reads it: under what it asked for. */
		if (f->call_is_contact && f->call_key == (int)(client - FZ_KEY_BASE)) {
			version = f->call_version;
			features = f->call_features;
			trusted = f->call_trusted;
			f->version_response_in_call = true;
		} else {
			FZ_CHECK(k->asked);
			version = k->ask_version;
			features = k->ask_features;
			trusted = k->ask_trusted;
		}
		rc = cvmbus_wire_decode(msg, len, version, features, CVMBUS_WIRE_TO_CLIENT, &m, &st);
		FZ_CHECK(rc == 0);
		if (m.variant != CVMBUS_WIRE_VERSION_RESPONSE &&
		    (m.u.version_response2.supported_features &
		     CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS))
			FZ_CHECK(fz_paravisor(f) && trusted);
	} else {
		FZ_CHECK(k->negotiated);
		rc = cvmbus_wire_decode(msg, len, k->version, k->features, CVMBUS_WIRE_TO_CLIENT,
					&m, &st);
		FZ_CHECK(rc == 0);
		if (type == CVMBUS_MSG_OFFER_CHANNEL) {
			uint16_t flags = m.u.offer_channel.flags;

			if (flags & (CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
				     CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY))
				FZ_CHECK(k->features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS);
			FZ_CHECK(!(flags & CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY));
		}
	}
	if (f->probe)
		fz_probe_reentry(f, client, msg, len);
}

static void fz_connection_changed(void *ctx, const struct cvmbus_server_connection *c)
{
	struct fz_srv *f = ctx;
	struct fz_key *k = fz_key_of(f, c->client);

	if (c->state == CVMBUS_SERVER_CONN_DISCONNECTED)
		return;
	FZ_CHECK(cvmbus_wire_version_known(c->version) && c->version >= CVMBUS_VERSION_2_4);
	FZ_CHECK(!(c->features & ~CVMBUS_SERVER_IMPLEMENTED_FEATURES));
	if (c->version < CVMBUS_VERSION_6_0)
		FZ_CHECK(c->features == 0);
	if (c->features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS)
		FZ_CHECK(fz_paravisor(f) && c->trusted);
	k->negotiated = true;
	k->version = c->version;
	k->features = c->features;
}

/* Both flags of a request follow from the connection and the offer. */
static void fz_check_confidential(struct fz_srv *f, uint32_t client, uint32_t relid, bool ring,
				  bool ext)
{
	const struct fz_key *k = fz_key_of(f, client);
	const struct fz_offer *o = fz_offer_of(f, relid);
	bool granted = k->features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS;

	FZ_CHECK(o != NULL);
	FZ_CHECK(ring == (granted && (o->flags_held & CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER)));
	FZ_CHECK(ext == (granted && (o->flags_held & CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY)));
	if (ring || ext)
		FZ_CHECK(fz_paravisor(f));
}

static void fz_open_channel(void *ctx, const struct cvmbus_server_open_request *r)
{
	struct fz_srv *f = ctx;

	fz_check_confidential(f, r->client, r->relid, r->confidential_ring,
			      r->confidential_external_memory);
	FZ_CHECK(cvmbus_server_gpadl_state(f->srv, r->client, r->ring_gpadl_id) ==
		 CVMBUS_SERVER_GPADL_ACCEPTED);
	FZ_CHECK(r->downstream_page_offset >= 1 &&
		 r->downstream_page_offset < r->ring_gpadl_pages);
	FZ_CHECK(r->features == fz_key_of(f, r->client)->features);
	fz_push(f, FZ_REQ_OPEN, r->client, r->relid, 0);
}

static void fz_close_channel(void *ctx, uint32_t client, uint32_t relid)
{
	struct fz_srv *f = ctx;

	(void)fz_key_of(f, client);
	fz_push(f, FZ_REQ_CLOSE, client, relid, 0);
}

static void fz_gpadl_create(void *ctx, const struct cvmbus_server_gpadl *g)
{
	struct fz_srv *f = ctx;
	uint64_t pos = 0, pages = 0;

	fz_check_confidential(f, g->client, g->relid, g->confidential_ring,
			      g->confidential_external_memory);
	/* The promise: ranges add up exactly before the device sees them. */
	FZ_CHECK(g->range_count >= 1 && g->values != NULL);
	for (uint32_t r = 0; r < g->range_count; r++) {
		uint32_t count, offset;
		uint64_t span;

		FZ_CHECK(pos < g->nvalues);
		count = (uint32_t)g->values[pos];
		offset = (uint32_t)(g->values[pos] >> 32);
		FZ_CHECK(count > 0 && offset < HV_PAGE_SIZE);
		span = ((uint64_t)offset + count + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE;
		FZ_CHECK(span <= g->nvalues - pos - 1);
		pages += span;
		pos += 1 + span;
	}
	FZ_CHECK(pos == g->nvalues && pages == g->npages && pages > 0);
	fz_push(f, FZ_REQ_GPADL, g->client, g->relid, g->gpadl_id);
}

static void fz_gpadl_teardown(void *ctx, uint32_t client, uint32_t relid, uint32_t gpadl_id)
{
	struct fz_srv *f = ctx;

	(void)fz_key_of(f, client);
	fz_push(f, FZ_REQ_TEARDOWN, client, relid, gpadl_id);
}

static void fz_modify_channel(void *ctx, uint32_t client, uint32_t relid, uint32_t vp)
{
	struct fz_srv *f = ctx;

	(void)vp;
	(void)fz_key_of(f, client);
	fz_push(f, FZ_REQ_MODIFY, client, relid, 0);
}

static void fz_unload_complete(void *ctx, uint32_t client)
{
	(void)fz_key_of(ctx, client);
}

static void fz_log(void *ctx, uint32_t client, enum cvmbus_server_reject reason,
		   const char *line)
{
	(void)ctx;
	(void)client;
	FZ_CHECK((unsigned)reason < CVMBUS_SERVER_REJ_COUNT);
	FZ_CHECK(line != NULL && line[0] != '\0');
}

/* ---- The device ------------------------------------------------------------- */

/* Answers request i (and removes it). Given in order, once, for a live
 * device, every answer must be taken. */
static void fz_answer(struct fz_srv *f, size_t i, bool fail)
{
	struct fz_req r = f->q[i];
	int rc = -1;

	memmove(&f->q[i], &f->q[i + 1], (f->nq - i - 1) * sizeof(f->q[0]));
	f->nq--;
	switch (r.kind) {
	case FZ_REQ_OPEN:
		rc = cvmbus_server_open_complete(f->srv, r.relid,
						 fail ? FZ_STATUS_FAIL : CVMBUS_STATUS_SUCCESS);
		break;
	case FZ_REQ_CLOSE:
		rc = cvmbus_server_close_complete(f->srv, r.relid);
		break;
	case FZ_REQ_GPADL:
		rc = cvmbus_server_gpadl_complete(f->srv, r.client, r.relid, r.gpadl,
						  fail ? FZ_STATUS_FAIL : CVMBUS_STATUS_SUCCESS);
		break;
	case FZ_REQ_TEARDOWN:
		rc = cvmbus_server_gpadl_teardown_complete(f->srv, r.client, r.relid, r.gpadl);
		break;
	case FZ_REQ_MODIFY:
		rc = cvmbus_server_modify_complete(f->srv, r.relid,
						   fail ? FZ_STATUS_FAIL : CVMBUS_STATUS_SUCCESS);
		break;
	}
	FZ_CHECK(rc == 0);
}

/* Answers the k-th request (cyclically) among those that no older request
 * of the same channel precedes. */
static void fz_answer_out_of_order(struct fz_srv *f, unsigned k, bool fail)
{
	size_t heads[64];
	size_t nheads = 0;

	for (size_t i = 0; i < f->nq && nheads < 64; i++) {
		bool first = true;

		for (size_t j = 0; j < i && first; j++)
			first = f->q[j].relid != f->q[i].relid;
		if (first)
			heads[nheads++] = i;
	}
	if (nheads)
		fz_answer(f, heads[k % nheads], fail);
}

static bool fz_pending(const struct fz_srv *f, enum fz_req_kind kind, uint32_t client,
		       uint32_t relid, uint32_t gpadl)
{
	for (size_t i = 0; i < f->nq; i++) {
		const struct fz_req *r = &f->q[i];

		if (r->kind != kind)
			continue;
		if (kind == FZ_REQ_GPADL || kind == FZ_REQ_TEARDOWN) {
			if (r->client == client && r->gpadl == gpadl)
				return true;
		} else if (r->relid == relid) {
			return true;
		}
	}
	return false;
}

/* A device that answers what it was never asked: refused, counted, and
 * nothing else happens. */
static void fz_bogus_completion(struct fz_srv *f, unsigned sel, uint8_t id_byte)
{
	enum fz_req_kind kind = (enum fz_req_kind)(sel % 5u);
	const struct fz_offer *o = &f->offers[(sel / 5u) % FZ_OFFERS];
	uint32_t relid = o->live ? o->relid : CVMBUS_SERVER_MAX_RELID;
	uint32_t client = FZ_KEY_BASE + (sel & 3u);
	uint32_t gpadl = id_byte;
	enum cvmbus_server_chan_state before[FZ_OFFERS], after;
	enum cvmbus_server_gpadl_state gbefore;
	uint64_t rejects = cvmbus_server_reject_total(f->srv), sends = f->sends;
	int rc = 0;

	if (fz_pending(f, kind, client, relid, gpadl))
		return;
	for (unsigned i = 0; i < FZ_OFFERS; i++)
		before[i] = cvmbus_server_chan_state(f->srv, f->offers[i].relid, NULL);
	gbefore = cvmbus_server_gpadl_state(f->srv, client, gpadl);
	switch (kind) {
	case FZ_REQ_OPEN:
		rc = cvmbus_server_open_complete(f->srv, relid, CVMBUS_STATUS_SUCCESS);
		break;
	case FZ_REQ_CLOSE:
		rc = cvmbus_server_close_complete(f->srv, relid);
		break;
	case FZ_REQ_GPADL:
		rc = cvmbus_server_gpadl_complete(f->srv, client, relid, gpadl,
						  CVMBUS_STATUS_SUCCESS);
		break;
	case FZ_REQ_TEARDOWN:
		rc = cvmbus_server_gpadl_teardown_complete(f->srv, client, relid, gpadl);
		break;
	case FZ_REQ_MODIFY:
		rc = cvmbus_server_modify_complete(f->srv, relid, CVMBUS_STATUS_SUCCESS);
		break;
	}
	FZ_CHECK(rc == -ENOENT || rc == -EINVAL);
	FZ_CHECK(cvmbus_server_reject_total(f->srv) == rejects + 1u);
	FZ_CHECK(f->sends == sends);
	for (unsigned i = 0; i < FZ_OFFERS; i++) {
		after = cvmbus_server_chan_state(f->srv, f->offers[i].relid, NULL);
		FZ_CHECK(after == before[i]);
	}
	FZ_CHECK(cvmbus_server_gpadl_state(f->srv, client, gpadl) == gbefore);
}

/* Answers everything, including what the answers cause. */
static void fz_answer_all(struct fz_srv *f, bool fail)
{
	for (unsigned n = 0; f->nq && n < FZ_DRAIN_MAX; n++)
		fz_answer(f, 0, fail);
	FZ_CHECK(f->nq == 0);
}

/* The device of relid is gone: it answers nothing more for it. */
static void fz_forget_relid(struct fz_srv *f, uint32_t relid)
{
	size_t w = 0;

	for (size_t i = 0; i < f->nq; i++) {
		if (f->q[i].relid != relid)
			f->q[w++] = f->q[i];
	}
	f->nq = w;
}

static void fz_offer(struct fz_srv *f, unsigned slot)
{
	struct fz_offer *o = &f->offers[slot];
	int rc;

	if (o->live)
		return;
	rc = cvmbus_server_offer(f->srv, &o->p, &o->relid);
	FZ_CHECK(rc == 0);
	FZ_CHECK(o->relid >= 1 && o->relid <= CVMBUS_SERVER_MAX_RELID);
	o->live = true;
}

static void fz_rescind(struct fz_srv *f, unsigned slot)
{
	struct fz_offer *o = &f->offers[slot];

	if (!o->live)
		return;
	FZ_CHECK(cvmbus_server_rescind(f->srv, o->relid) == 0);
	FZ_CHECK(cvmbus_server_rescind(f->srv, o->relid) == -EALREADY ||
		 cvmbus_server_chan_state(f->srv, o->relid, NULL) == CVMBUS_SERVER_CHAN_NONE);
	fz_forget_relid(f, o->relid);
	o->live = false;
}

static void fz_device_event(struct fz_srv *f, uint8_t h, struct fz_in *in)
{
	unsigned slot = ((unsigned)h >> 3) % FZ_OFFERS;

	switch (h & 7u) {
	case 0:
		fz_rescind(f, slot);
		break;
	case 1:
		fz_offer(f, slot);
		break;
	case 2:
		FZ_CHECK(cvmbus_server_reset(f->srv) == 0);
		break;
	case 3:
		fz_answer_all(f, false);
		break;
	case 4:
		fz_bogus_completion(f, ((unsigned)h >> 3) & 15u, fz_u8(in));
		break;
	case 5:
		fz_rescind(f, slot);
		fz_offer(f, slot);
		break;
	case 6:
	case 7:
		fz_answer_out_of_order(f, ((unsigned)h >> 3) & 15u, (h & 7u) == 7);
		break;
	}
}

/* ---- Messages --------------------------------------------------------------- */

static bool fz_rc_documented(int rc)
{
	if (rc == 0)
		return true;
	for (int r = 0; r < CVMBUS_SERVER_REJ_COUNT; r++) {
		if (rc == -cvmbus_server_reject_errno((enum cvmbus_server_reject)r))
			return true;
	}
	return false;
}

static void fz_message(struct fz_srv *f, uint8_t h, const uint8_t *msg, size_t len)
{
	bool trusted = h & 1u;
	unsigned idx = ((unsigned)h >> 1) & 3u;
	uint32_t key = FZ_KEY_BASE + idx;
	unsigned policy = ((unsigned)h >> 3) & 3u;
	uint64_t rejects = cvmbus_server_reject_total(f->srv);
	int rc;

	f->probe = (h & 0x20u) != 0;
	/* An InitiateContact's request, read from the bytes by hand: version
	 * @8, feature flags @20 (meaningful from 6.0 on). */
	f->call_key = (int)idx;
	f->call_is_contact = len >= 40 && fz_le32(msg) == CVMBUS_MSG_INITIATE_CONTACT;
	f->call_version = f->call_is_contact ? fz_le32(msg + 8) : 0;
	f->call_features = f->call_is_contact && f->call_version >= CVMBUS_VERSION_6_0
				   ? fz_le32(msg + 20) : 0;
	f->call_trusted = trusted;
	f->version_response_in_call = false;

	rc = cvmbus_server_handle_message(f->srv, key, msg, len, trusted);
	FZ_CHECK(fz_rc_documented(rc));
	/* Every refusal is counted; an accepted message is not. */
	FZ_CHECK(cvmbus_server_reject_total(f->srv) - rejects == (rc < 0 ? 1u : 0u) ||
		 (rc < 0 && cvmbus_server_reject_total(f->srv) > rejects));
	if (f->call_is_contact && (rc == 0 || f->version_response_in_call)) {
		struct fz_key *k = &f->keys[idx];

		k->asked = true;
		k->ask_version = f->call_version;
		k->ask_features = f->call_features;
		k->ask_trusted = trusted;
	}
	f->call_is_contact = false;
	f->call_key = -1;
	f->probe = false;

	switch (policy) {
	case 0:
		fz_answer_all(f, false);
		break;
	case 1:
		fz_answer_all(f, true);
		break;
	case 2:
		break;
	default:
		if (f->nq)
			fz_answer(f, 0, false);
		break;
	}
}

/* ---- Set-up and the end ---------------------------------------------------- */

static void fz_guid(struct cvmbus_guid *g, uint32_t d1, uint8_t tag)
{
	memset(g, 0, sizeof(*g));
	g->data1 = d1;
	g->data2 = 0x1234;
	g->data3 = 0x5678;
	g->data4[7] = tag;
}

static void fz_offers_init(struct fz_srv *f, uint8_t cfg)
{
	for (unsigned i = 0; i < FZ_OFFERS; i++) {
		struct fz_offer *o = &f->offers[i];

		memset(o, 0, sizeof(*o));
		fz_guid(&o->p.interface_id, 0xF8615163u, (uint8_t)i);
		fz_guid(&o->p.instance_id, 0x12345678u + i, (uint8_t)i);
		o->p.offer_order = CVMBUS_OFFER_ORDER_NONE;
		o->p.user_defined[0] = (uint8_t)i;
	}
	/* 0: a local device; the server adds the confidential ring flag. */
	f->offers[0].p.flags = CVMBUS_OFFER_ENUMERATE_DEVICE_INTERFACE;
	/* 1: a local device that can DMA into private memory, or not. */
	if (cfg & 0x04u)
		f->offers[1].p.flags = CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY;
	/* 2: relayed from the host with its flags kept (none confidential),
	 * or a second local device with both flags. */
	if (cfg & 0x02u) {
		f->offers[2].p.keep_flags = true;
		f->offers[2].p.offer_order = 7;
	} else {
		f->offers[2].p.flags = CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
				       CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY;
	}
	for (unsigned i = 0; i < FZ_OFFERS; i++) {
		struct fz_offer *o = &f->offers[i];

		o->flags_held = o->p.flags;
		if (!o->p.keep_flags)
			o->flags_held |= CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER;
	}
}

static void fz_config(struct cvmbus_server_config *cfg, enum cvmbus_server_role role,
		      uint8_t c0, uint8_t c1, uint8_t c2)
{
	static const uint32_t max_versions[4] = {
		CVMBUS_VERSION_6_0, CVMBUS_VERSION_5_3, CVMBUS_VERSION_4_1, CVMBUS_VERSION_2_4,
	};

	cvmbus_server_config_init(cfg, role);
	cfg->gpadl_ignore_excess_pfns = (c0 & 0x08u) != 0;
	cfg->max_clients = (uint16_t)(1u + ((c0 >> 4) & 3u));
	cfg->max_version = max_versions[c0 >> 6];
	if (c1 & 0x0fu)
		cfg->max_building_gpadls_per_client = c1 & 0x0fu;
	if (c1 >> 4)
		cfg->max_gpadls_per_client = 2u * (c1 >> 4);
	cfg->features &= ~(uint32_t)c2;
	/* Keep the log lines cheap but still produced (the rate limit is
	 * part of what is exercised). */
	cfg->log_burst = 2;
}

/* After a reset, a device that answers everything must let every client
 * reach DISCONNECTED and every channel CLOSED. */
static void fz_final(struct fz_srv *f)
{
	FZ_CHECK(cvmbus_server_reset(f->srv) == 0);
	fz_answer_all(f, false);
	for (unsigned i = 0; i < FZ_KEYS; i++)
		FZ_CHECK(cvmbus_server_client_state(f->srv, FZ_KEY_BASE + i) ==
			 CVMBUS_SERVER_CONN_DISCONNECTED);
	for (unsigned i = 0; i < FZ_OFFERS; i++) {
		uint32_t owner = 0;

		if (!f->offers[i].live)
			continue;
		FZ_CHECK(cvmbus_server_chan_state(f->srv, f->offers[i].relid, &owner) ==
			 CVMBUS_SERVER_CHAN_CLOSED);
		FZ_CHECK(owner == CVMBUS_SERVER_NO_CLIENT);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = fz_in_make(data, size);
	uint8_t c0 = fz_u8(&in), c1 = fz_u8(&in), c2 = fz_u8(&in);
	struct cvmbus_server_config cfg;
	struct cvmbus_server_notifier n = {
		.send_message = fz_send,
		.open_channel = fz_open_channel,
		.close_channel = fz_close_channel,
		.gpadl_create = fz_gpadl_create,
		.gpadl_teardown = fz_gpadl_teardown,
		.modify_channel = fz_modify_channel,
		.connection_changed = fz_connection_changed,
		.unload_complete = fz_unload_complete,
		.log = fz_log,
	};
	struct fz_srv *f = calloc(1, sizeof(*f));
	const char *why = NULL;
	unsigned steps = 0;

	FZ_CHECK(f != NULL);
	f->role = (c0 & 1u) ? CVMBUS_SERVER_ROLE_HOST : CVMBUS_SERVER_ROLE_PARAVISOR;
	f->call_key = -1;
	n.ctx = f;
	fz_config(&cfg, f->role, c0, c1, c2);
	FZ_CHECK(cvmbus_server_create(&cfg, &n, &f->srv) == 0);
	fz_offers_init(f, c0);
	for (unsigned i = 0; i < FZ_OFFERS; i++)
		fz_offer(f, i);

	while (in.n && steps++ < FZ_MAX_STEPS) {
		uint8_t h = fz_u8(&in);

		if (h & 0x80u) {
			fz_device_event(f, h, &in);
		} else {
			uint8_t len = fz_u8(&in);
			uint8_t *msg = malloc(len ? len : 1);

			/* An exact-size copy: the server must not read past it. */
			FZ_CHECK(msg != NULL);
			fz_take(&in, msg, len);
			fz_message(f, h, msg, len);
			free(msg);
		}
	}
	/* Once per input: the check walks every relid of every client and is
	 * most of a run's time. */
	FZ_CHECK(cvmbus_server_check(f->srv, &why) == 0);
	fz_final(f);
	cvmbus_server_destroy(f->srv);
	free(f->q);
	free(f);
	return 0;
}
