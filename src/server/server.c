/* SPDX-License-Identifier: MIT */
/*
 * The VMBus server's front door (src/server, above src/wire): configuration,
 * lifetime, the client table, message dispatch, the rejection vocabulary
 * with its counters and rate-limited log lines, reply encoding, and the
 * read-only queries and invariant check. The protocol itself lives in
 * connection.c (negotiation, unload), channels.c (offers, open/close) and
 * gpadl.c (GPADLs).
 *
 * Threat model: every byte handed to cvmbus_server_handle_message() comes
 * from a client we do not trust (on the host: the guest or a paravisor we
 * cannot inspect; in the paravisor: a guest that may be compromised). It is
 * copied once by the wire decoder, validated there, and then only the copy
 * is used; every refusal is counted, logged at a bounded rate, and answered
 * with a status or dropped. Nothing a client sends can make the server
 * assert, leak, or touch another client's state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

/* ---- Rejections ---------------------------------------------------------- */

static const struct {
	const char *name;
	int err;
} srv_reasons[CVMBUS_SERVER_REJ_COUNT] = {
	[CVMBUS_SERVER_REJ_MALFORMED] = { "malformed message", EBADMSG },
	[CVMBUS_SERVER_REJ_WRONG_DIRECTION] = { "server-to-client message", EBADMSG },
	[CVMBUS_SERVER_REJ_NOT_CONNECTED] = { "message before contact", ENOTCONN },
	[CVMBUS_SERVER_REJ_NOT_NEGOTIATED] = { "not negotiated", EPROTO },
	[CVMBUS_SERVER_REJ_UNTRUSTED] = { "untrusted message after trusted contact", EPERM },
	[CVMBUS_SERVER_REJ_TOO_MANY_CLIENTS] = { "too many clients", EUSERS },
	[CVMBUS_SERVER_REJ_UNSUPPORTED_VERSION] = { "unsupported version", EPROTONOSUPPORT },
	[CVMBUS_SERVER_REJ_BAD_CONTACT] = { "invalid initiate contact", EINVAL },
	[CVMBUS_SERVER_REJ_UNSUPPORTED_MESSAGE] = { "unsupported message", EOPNOTSUPP },
	[CVMBUS_SERVER_REJ_OFFERS_ALREADY_SENT] = { "offers already sent", EALREADY },
	[CVMBUS_SERVER_REJ_UNKNOWN_RELID] = { "unknown relid", ENXIO },
	[CVMBUS_SERVER_REJ_CHANNEL_RESCINDED] = { "channel rescinded", ENODEV },
	[CVMBUS_SERVER_REJ_CHANNEL_ALREADY_OPEN] = { "channel already open", EISCONN },
	[CVMBUS_SERVER_REJ_CHANNEL_NOT_OPEN] = { "channel not open", EBADFD },
	[CVMBUS_SERVER_REJ_CHANNEL_BUSY] = { "channel owned by another client", EBUSY },
	[CVMBUS_SERVER_REJ_CHANNEL_STATE] = { "invalid channel state", EINVAL },
	[CVMBUS_SERVER_REJ_BAD_RING_GPADL] = { "unusable ring gpadl", EINVAL },
	[CVMBUS_SERVER_REJ_MODIFY_BUSY] = { "modify already pending", EBUSY },
	[CVMBUS_SERVER_REJ_DUPLICATE_GPADL] = { "duplicate gpadl id", EEXIST },
	[CVMBUS_SERVER_REJ_UNKNOWN_GPADL] = { "unknown gpadl id", ENOENT },
	[CVMBUS_SERVER_REJ_GPADL_STATE] = { "invalid gpadl state", EINVAL },
	[CVMBUS_SERVER_REJ_GPADL_WRONG_CHANNEL] = { "gpadl belongs to another channel", EINVAL },
	[CVMBUS_SERVER_REJ_GPADL_IN_USE] = { "gpadl is an open channel's ring", EBUSY },
	[CVMBUS_SERVER_REJ_GPADL_OVERFLOW] = { "too many pfns", E2BIG },
	[CVMBUS_SERVER_REJ_GPADL_INVALID] = { "invalid gpa ranges", EINVAL },
	[CVMBUS_SERVER_REJ_GPADL_LIMIT] = { "gpadl limit reached", ENOSPC },
	[CVMBUS_SERVER_REJ_NO_MEMORY] = { "out of memory", ENOMEM },
	[CVMBUS_SERVER_REJ_DEVICE] = { "device completion out of state", EINVAL },
};

const char *cvmbus_server_reject_name(enum cvmbus_server_reject reason)
{
	if ((unsigned)reason >= CVMBUS_SERVER_REJ_COUNT)
		return "unknown";
	return srv_reasons[reason].name;
}

int cvmbus_server_reject_errno(enum cvmbus_server_reject reason)
{
	if ((unsigned)reason >= CVMBUS_SERVER_REJ_COUNT)
		return EINVAL;
	return srv_reasons[reason].err;
}

/* A client can provoke any reason at will, once per message, so the log
 * would be a flood channel without a bound. A pure state machine has no
 * clock, so the bound is by count: the first log_burst occurrences of a
 * reason, then the 2^k-th ones (which still shows that it goes on, and how
 * often, at a logarithmic cost). */
static bool srv_should_log(const struct cvmbus_server *srv, uint64_t count)
{
	if (count <= srv->cfg.log_burst)
		return true;
	return (count & (count - 1)) == 0;
}

int srv_reject(struct cvmbus_server *srv, uint32_t key, enum cvmbus_server_reject reason,
	       const char *what, const char *fmt, ...)
{
	char line[256];
	size_t at = 0;
	uint64_t count;
	va_list ap;
	int n;

	count = ++srv->rejects[reason];
	srv->reject_total++;
	if (!srv->n.log || !srv_should_log(srv, count))
		return -srv_reasons[reason].err;

	if (key == CVMBUS_SERVER_NO_CLIENT)
		n = snprintf(line, sizeof(line), "device: ");
	else
		n = snprintf(line, sizeof(line), "client %u: ", key);
	at += n > 0 ? (size_t)n : 0;
	if (what && at < sizeof(line)) {
		n = snprintf(line + at, sizeof(line) - at, "%s: ", what);
		at += n > 0 ? (size_t)n : 0;
	}
	if (at < sizeof(line)) {
		n = snprintf(line + at, sizeof(line) - at, "%s", srv_reasons[reason].name);
		at += n > 0 ? (size_t)n : 0;
	}
	if (fmt && at + 2 < sizeof(line)) {
		line[at++] = ':';
		line[at++] = ' ';
		va_start(ap, fmt);
		n = vsnprintf(line + at, sizeof(line) - at, fmt, ap);
		va_end(ap);
		at += n > 0 ? (size_t)n : 0;
	}
	if (count > srv->cfg.log_burst && at < sizeof(line))
		snprintf(line + at, sizeof(line) - at, " (%llu times)", (unsigned long long)count);
	srv->n.log(srv->n.ctx, key, reason, line);
	return -srv_reasons[reason].err;
}

/* ---- Sending ------------------------------------------------------------- */

void srv_send_to(struct cvmbus_server *srv, uint32_t key, const struct cvmbus_server_target *t,
		 const struct cvmbus_wire_msg *msg)
{
	uint8_t buf[CVMBUS_WIRE_MAX_SIZE];
	struct cvmbus_wire_status st;
	int len = cvmbus_wire_encode(msg, buf, sizeof(buf), &st);

	if (len < 0) {
		/* Only a server bug can build a message the encoder refuses: say
		 * so loudly, and send nothing rather than something wrong. */
		char detail[160];

		cvmbus_wire_status_format(&st, detail, sizeof(detail));
		srv_reject(srv, key, CVMBUS_SERVER_REJ_DEVICE, "encode", "%s", detail);
		return;
	}
	srv->n.send_message(srv->n.ctx, key, t, buf, (size_t)len);
}

void srv_send(struct cvmbus_server *srv, const struct srv_client *cl,
	      const struct cvmbus_wire_msg *msg)
{
	srv_send_to(srv, cl->key, &cl->target, msg);
}

/* ---- Clients ------------------------------------------------------------- */

struct srv_client *srv_client_find(struct cvmbus_server *srv, uint32_t key)
{
	for (unsigned i = 0; i < srv->cfg.max_clients; i++) {
		if (srv->clients[i].used && srv->clients[i].key == key)
			return &srv->clients[i];
	}
	return NULL;
}

static const struct srv_client *srv_client_find_const(const struct cvmbus_server *srv,
						      uint32_t key)
{
	return srv_client_find((struct cvmbus_server *)srv, key);
}

static void srv_client_init(struct srv_client *cl, unsigned index, uint32_t key)
{
	memset(cl, 0, sizeof(*cl));
	cl->used = true;
	cl->key = key;
	cl->index = index;
	cl->state = CVMBUS_SERVER_CONN_DISCONNECTED;
	/* Until InitiateContact says otherwise: VP 0, SINT 2, VTL 0. */
	cl->target.sint = 2;
}

struct srv_client *srv_client_get(struct cvmbus_server *srv, uint32_t key)
{
	struct srv_client *cl = srv_client_find(srv, key);
	unsigned i;

	if (cl)
		return cl;
	for (i = 0; i < srv->cfg.max_clients; i++) {
		if (!srv->clients[i].used) {
			srv_client_init(&srv->clients[i], i, key);
			return &srv->clients[i];
		}
	}
	/* Full: a disconnected client holds nothing (its channels and GPADLs
	 * were all released before it became disconnected), so its slot can
	 * go to the newcomer. */
	for (i = 0; i < srv->cfg.max_clients; i++) {
		struct srv_client *old = &srv->clients[i];

		if (old->state == CVMBUS_SERVER_CONN_DISCONNECTED && old->ngpadls == 0) {
			free(old->gpadls);
			srv_client_init(old, i, key);
			return old;
		}
	}
	return NULL;
}

/* ---- Configuration and lifetime ------------------------------------------ */

void cvmbus_server_config_init(struct cvmbus_server_config *cfg, enum cvmbus_server_role role)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->role = role;
	cfg->max_version = CVMBUS_VERSION_6_0;
	cfg->features = CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS |
			CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION |
			CVMBUS_FEATURE_MODIFY_CONNECTION | CVMBUS_FEATURE_CLIENT_ID;
	if (role == CVMBUS_SERVER_ROLE_PARAVISOR)
		cfg->features |= CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS;
	cfg->message_connection_id = VMBUS_MESSAGE_CONNECTION_ID;
	cfg->channel_connection_base = CVMBUS_SERVER_DEFAULT_CHANNEL_CONNECTION_BASE;
	cfg->relid_min = 1;
	cfg->relid_max = CVMBUS_SERVER_MAX_RELID;
	cfg->max_clients = 4;
	cfg->max_gpadls_per_client = 4096;
	cfg->max_building_gpadls_per_client = 64;
	cfg->log_burst = 10;
	cfg->gpadl_ignore_excess_pfns = false;
}

static int srv_config_valid(const struct cvmbus_server_config *cfg)
{
	if (cfg->role != CVMBUS_SERVER_ROLE_HOST && cfg->role != CVMBUS_SERVER_ROLE_PARAVISOR)
		return -EINVAL;
	if (cfg->max_version < CVMBUS_VERSION_2_4 || cfg->max_version > CVMBUS_VERSION_6_0 ||
	    !cvmbus_wire_version_known(cfg->max_version))
		return -EINVAL;
	if (cfg->features & ~CVMBUS_SERVER_IMPLEMENTED_FEATURES)
		return -EINVAL;
	/* The host is outside the guest's trust boundary: a host server that
	 * offered confidential channels would be claiming a guarantee it cannot
	 * give, so that configuration is refused rather than quietly fixed. */
	if (cfg->role == CVMBUS_SERVER_ROLE_HOST &&
	    (cfg->features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS))
		return -EINVAL;
	if (cfg->message_connection_id == 0 ||
	    cfg->message_connection_id > HV_CONNECTION_ID_MASK)
		return -EINVAL;
	if ((cfg->channel_connection_base & 0xFFFu) != 0 ||
	    cfg->channel_connection_base + CVMBUS_SERVER_MAX_RELID > HV_CONNECTION_ID_MASK)
		return -EINVAL;
	if (cfg->relid_min < 1 || cfg->relid_max > CVMBUS_SERVER_MAX_RELID ||
	    cfg->relid_min > cfg->relid_max)
		return -EINVAL;
	if (cfg->max_clients < 1 || cfg->max_clients > CVMBUS_SERVER_MAX_CLIENTS)
		return -EINVAL;
	if (cfg->max_gpadls_per_client < 1 || cfg->max_building_gpadls_per_client < 1)
		return -EINVAL;
	return 0;
}

int cvmbus_server_create(const struct cvmbus_server_config *cfg,
			 const struct cvmbus_server_notifier *notifier,
			 struct cvmbus_server **out)
{
	struct cvmbus_server *srv;
	int rc;

	if (!cfg || !notifier || !out || !notifier->send_message)
		return -EINVAL;
	*out = NULL;
	rc = srv_config_valid(cfg);
	if (rc < 0)
		return rc;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cfg = *cfg;
	srv->n = *notifier;
	*out = srv;
	return 0;
}

void cvmbus_server_destroy(struct cvmbus_server *srv)
{
	if (!srv)
		return;
	for (unsigned i = 0; i < CVMBUS_SERVER_MAX_CLIENTS; i++) {
		srv_gpadls_free_all(&srv->clients[i]);
		free(srv->clients[i].gpadls);
	}
	srv_channel_free_all(srv);
	free(srv);
}

/* ---- Dispatch ------------------------------------------------------------ */

static enum cvmbus_server_reject srv_decode_reason(enum cvmbus_wire_error e, bool negotiated)
{
	switch (e) {
	case CVMBUS_WIRE_E_WRONG_DIRECTION:
		return CVMBUS_SERVER_REJ_WRONG_DIRECTION;
	case CVMBUS_WIRE_E_NEEDS_VERSION:
		/* Before a contact the decoder runs at version 0, where only
		 * InitiateContact passes: anything else is "too early". */
		return negotiated ? CVMBUS_SERVER_REJ_NOT_NEGOTIATED
				  : CVMBUS_SERVER_REJ_NOT_CONNECTED;
	case CVMBUS_WIRE_E_NEEDS_FEATURE:
		return CVMBUS_SERVER_REJ_NOT_NEGOTIATED;
	default:
		return CVMBUS_SERVER_REJ_MALFORMED;
	}
}

static int srv_dispatch(struct cvmbus_server *srv, uint32_t key, const void *bytes, size_t len,
			const struct cvmbus_server_msg_info *info)
{
	struct cvmbus_wire_msg m;
	struct cvmbus_wire_status st;
	struct srv_client *cl;
	uint32_t type = 0;
	bool negotiated;
	int rc;

	if (bytes && len >= sizeof(type))
		memcpy(&type, bytes, sizeof(type));

	/* Once any client connected over a trusted path (the paravisor saw the
	 * hypercall itself), a message over an untrusted path may be the host
	 * impersonating or racing the guest: refuse it before even parsing. */
	if (!info->trusted && srv->trusted_clients > 0)
		return srv_reject(srv, key, CVMBUS_SERVER_REJ_UNTRUSTED,
				  cvmbus_wire_type_name(type), NULL);

	cl = srv_client_find(srv, key);
	negotiated = cl && srv_client_negotiated(cl);
	rc = cvmbus_wire_decode(bytes, len, negotiated ? cl->conn.version : 0,
				negotiated ? cl->conn.features : 0, CVMBUS_WIRE_TO_SERVER, &m, &st);
	if (rc < 0) {
		char detail[192];

		cvmbus_wire_status_format(&st, detail, sizeof(detail));
		return srv_reject(srv, key, srv_decode_reason(st.error, negotiated), NULL, "%s",
				  detail);
	}
	type = cvmbus_wire_msg_type(&m);
	if (type == CVMBUS_MSG_INITIATE_CONTACT)
		return srv_handle_initiate_contact(srv, key, &m, info);
	/* CloseReservedChannel decodes at version 0 too (OpenVMM allows it
	 * before contact); this server has no reserved channels. */
	if (!negotiated)
		return srv_reject(srv, key, CVMBUS_SERVER_REJ_NOT_CONNECTED,
				  cvmbus_wire_type_name(type), NULL);

	switch (type) {
	case CVMBUS_MSG_REQUEST_OFFERS:
		return srv_handle_request_offers(srv, cl);
	case CVMBUS_MSG_OPEN_CHANNEL:
		return srv_handle_open(srv, cl, &m);
	case CVMBUS_MSG_CLOSE_CHANNEL:
		return srv_handle_close(srv, cl, &m);
	case CVMBUS_MSG_GPADL_HEADER:
		return srv_handle_gpadl_header(srv, cl, &m);
	case CVMBUS_MSG_GPADL_BODY:
		return srv_handle_gpadl_body(srv, cl, &m);
	case CVMBUS_MSG_GPADL_TEARDOWN:
		return srv_handle_gpadl_teardown(srv, cl, &m);
	case CVMBUS_MSG_RELID_RELEASED:
		return srv_handle_relid_released(srv, cl, &m);
	case CVMBUS_MSG_UNLOAD:
		return srv_handle_unload(srv, cl);
	case CVMBUS_MSG_MODIFY_CHANNEL:
		return srv_handle_modify_channel(srv, cl, &m);
	case CVMBUS_MSG_MODIFY_CONNECTION:
		return srv_handle_modify_connection(srv, cl, &m);
	default:
		/* OpenReservedChannel, CloseReservedChannel (kernel debugger
		 * transport) and TlConnectRequest (hv_sock) are valid protocol
		 * this server does not implement; Pause/Resume never pass the
		 * decoder because the feature is never granted. */
		return srv_reject(srv, key, CVMBUS_SERVER_REJ_UNSUPPORTED_MESSAGE,
				  cvmbus_wire_type_name(type), NULL);
	}
}

/* Every mutating entry point goes through these two: a notifier callback
 * that calls back in would see (and break) a half-made transition. */
static bool srv_enter(struct cvmbus_server *srv)
{
	if (srv->depth != 0)
		return false;
	srv->depth++;
	return true;
}

static void srv_leave(struct cvmbus_server *srv)
{
	srv->depth--;
}

int cvmbus_server_handle_message_ex(struct cvmbus_server *srv, uint32_t client,
				    const void *bytes, size_t len,
				    const struct cvmbus_server_msg_info *info)
{
	struct cvmbus_server_msg_info none = { 0 };
	int rc;

	if (!srv)
		return -EINVAL;
	if (!srv_enter(srv))
		return -EBUSY;
	rc = srv_dispatch(srv, client, bytes, len, info ? info : &none);
	srv_leave(srv);
	return rc;
}

int cvmbus_server_handle_message(struct cvmbus_server *srv, uint32_t client, const void *bytes,
				 size_t len, bool trusted)
{
	struct cvmbus_server_msg_info info = { .trusted = trusted, .connection_id = 0 };

	return cvmbus_server_handle_message_ex(srv, client, bytes, len, &info);
}

/* ---- Device API entry points --------------------------------------------- */

int cvmbus_server_offer(struct cvmbus_server *srv, const struct cvmbus_offer_params *params,
			uint32_t *relid)
{
	int rc;

	if (!srv || !params || !relid)
		return -EINVAL;
	if (!srv_enter(srv))
		return -EBUSY;
	rc = srv_offer(srv, params, relid);
	srv_leave(srv);
	return rc;
}

int cvmbus_server_rescind(struct cvmbus_server *srv, uint32_t relid)
{
	int rc;

	if (!srv)
		return -EINVAL;
	if (!srv_enter(srv))
		return -EBUSY;
	rc = srv_rescind(srv, relid);
	srv_leave(srv);
	return rc;
}

int cvmbus_server_open_complete(struct cvmbus_server *srv, uint32_t relid, uint32_t status)
{
	int rc;

	if (!srv)
		return -EINVAL;
	if (!srv_enter(srv))
		return -EBUSY;
	rc = srv_open_complete(srv, relid, status);
	srv_leave(srv);
	return rc;
}

int cvmbus_server_close_complete(struct cvmbus_server *srv, uint32_t relid)
{
	int rc;

	if (!srv)
		return -EINVAL;
	if (!srv_enter(srv))
		return -EBUSY;
	rc = srv_close_complete(srv, relid);
	srv_leave(srv);
	return rc;
}

int cvmbus_server_gpadl_complete(struct cvmbus_server *srv, uint32_t client, uint32_t relid,
				 uint32_t gpadl_id, uint32_t status)
{
	int rc;

	if (!srv)
		return -EINVAL;
	if (!srv_enter(srv))
		return -EBUSY;
	rc = srv_gpadl_complete(srv, client, relid, gpadl_id, status);
	srv_leave(srv);
	return rc;
}

int cvmbus_server_gpadl_teardown_complete(struct cvmbus_server *srv, uint32_t client,
					  uint32_t relid, uint32_t gpadl_id)
{
	int rc;

	if (!srv)
		return -EINVAL;
	if (!srv_enter(srv))
		return -EBUSY;
	rc = srv_gpadl_teardown_complete(srv, client, relid, gpadl_id);
	srv_leave(srv);
	return rc;
}

int cvmbus_server_modify_complete(struct cvmbus_server *srv, uint32_t relid, uint32_t status)
{
	int rc;

	if (!srv)
		return -EINVAL;
	if (!srv_enter(srv))
		return -EBUSY;
	rc = srv_modify_complete(srv, relid, status);
	srv_leave(srv);
	return rc;
}

int cvmbus_server_reset(struct cvmbus_server *srv)
{
	if (!srv)
		return -EINVAL;
	if (!srv_enter(srv))
		return -EBUSY;
	srv_reset(srv);
	srv_leave(srv);
	return 0;
}

/* ---- Queries ------------------------------------------------------------- */

enum cvmbus_server_conn_state cvmbus_server_client_state(const struct cvmbus_server *srv,
							 uint32_t client)
{
	const struct srv_client *cl = srv ? srv_client_find_const(srv, client) : NULL;

	return cl ? cl->state : CVMBUS_SERVER_CONN_DISCONNECTED;
}

int cvmbus_server_connection(const struct cvmbus_server *srv, uint32_t client,
			     struct cvmbus_server_connection *out)
{
	const struct srv_client *cl = srv ? srv_client_find_const(srv, client) : NULL;

	if (!cl || !out)
		return -ENOENT;
	srv_connection_of(cl, out);
	return 0;
}

enum cvmbus_server_offer_state cvmbus_server_offer_state(const struct cvmbus_server *srv,
							 uint32_t client, uint32_t relid)
{
	const struct srv_client *cl = srv ? srv_client_find_const(srv, client) : NULL;

	if (!cl || relid == 0 || relid > CVMBUS_SERVER_MAX_RELID || !srv->chan[relid])
		return CVMBUS_SERVER_OFFER_NONE;
	return (enum cvmbus_server_offer_state)srv->chan[relid]->offer_state[cl->index];
}

enum cvmbus_server_chan_state cvmbus_server_chan_state(const struct cvmbus_server *srv,
						       uint32_t relid, uint32_t *owner)
{
	const struct srv_channel *ch;

	if (owner)
		*owner = CVMBUS_SERVER_NO_CLIENT;
	if (!srv || relid == 0 || relid > CVMBUS_SERVER_MAX_RELID || !srv->chan[relid])
		return CVMBUS_SERVER_CHAN_NONE;
	ch = srv->chan[relid];
	if (owner && ch->owner >= 0)
		*owner = srv->clients[ch->owner].key;
	return ch->state;
}

enum cvmbus_server_gpadl_state cvmbus_server_gpadl_state(const struct cvmbus_server *srv,
							 uint32_t client, uint32_t gpadl_id)
{
	const struct srv_client *cl = srv ? srv_client_find_const(srv, client) : NULL;
	const struct srv_gpadl *g = cl ? srv_gpadl_find(cl, gpadl_id) : NULL;

	return g ? g->state : CVMBUS_SERVER_GPADL_NONE;
}

uint32_t cvmbus_server_channel_connection_id(const struct cvmbus_server *srv, uint32_t relid)
{
	return srv ? srv->cfg.channel_connection_base + relid : 0;
}

size_t cvmbus_server_channel_count(const struct cvmbus_server *srv)
{
	return srv ? srv->nchannels : 0;
}

uint64_t cvmbus_server_reject_count(const struct cvmbus_server *srv,
				    enum cvmbus_server_reject reason)
{
	if (!srv || (unsigned)reason >= CVMBUS_SERVER_REJ_COUNT)
		return 0;
	return srv->rejects[reason];
}

uint64_t cvmbus_server_reject_total(const struct cvmbus_server *srv)
{
	return srv ? srv->reject_total : 0;
}

const char *cvmbus_server_conn_state_name(enum cvmbus_server_conn_state state)
{
	switch (state) {
	case CVMBUS_SERVER_CONN_DISCONNECTED: return "disconnected";
	case CVMBUS_SERVER_CONN_NEGOTIATED: return "negotiated";
	case CVMBUS_SERVER_CONN_CONNECTED: return "connected";
	case CVMBUS_SERVER_CONN_DISCONNECTING: return "disconnecting";
	}
	return "unknown";
}

const char *cvmbus_server_offer_state_name(enum cvmbus_server_offer_state state)
{
	switch (state) {
	case CVMBUS_SERVER_OFFER_NONE: return "none";
	case CVMBUS_SERVER_OFFER_SENT: return "sent";
	case CVMBUS_SERVER_OFFER_RESCINDED: return "rescinded";
	}
	return "unknown";
}

const char *cvmbus_server_chan_state_name(enum cvmbus_server_chan_state state)
{
	switch (state) {
	case CVMBUS_SERVER_CHAN_CLOSED: return "closed";
	case CVMBUS_SERVER_CHAN_OPENING: return "opening";
	case CVMBUS_SERVER_CHAN_OPEN: return "open";
	case CVMBUS_SERVER_CHAN_CLOSING: return "closing";
	case CVMBUS_SERVER_CHAN_CLOSING_REOPEN: return "closing_reopen";
	case CVMBUS_SERVER_CHAN_OPENING_RELEASED: return "opening_released";
	case CVMBUS_SERVER_CHAN_CLOSING_RELEASED: return "closing_released";
	case CVMBUS_SERVER_CHAN_NONE: return "none";
	}
	return "unknown";
}

const char *cvmbus_server_gpadl_state_name(enum cvmbus_server_gpadl_state state)
{
	switch (state) {
	case CVMBUS_SERVER_GPADL_NONE: return "none";
	case CVMBUS_SERVER_GPADL_BUILDING: return "building";
	case CVMBUS_SERVER_GPADL_OFFERED: return "offered";
	case CVMBUS_SERVER_GPADL_OFFERED_RELEASED: return "offered_released";
	case CVMBUS_SERVER_GPADL_ACCEPTED: return "accepted";
	case CVMBUS_SERVER_GPADL_TEARING_DOWN: return "tearing_down";
	case CVMBUS_SERVER_GPADL_TEARING_DOWN_RELEASED: return "tearing_down_released";
	}
	return "unknown";
}

/* ---- Invariants ---------------------------------------------------------- */

#define SRV_CHECK(cond, text)                  \
	do {                                   \
		if (!(cond)) {                 \
			if (why)               \
				*why = (text); \
			return -EFAULT;        \
		}                              \
	} while (0)

static int srv_check_gpadls(const struct cvmbus_server *srv, const struct srv_client *cl,
			    const char **why)
{
	uint32_t building = 0;

	SRV_CHECK(cl->ngpadls <= cl->cap_gpadls, "gpadl count past capacity");
	for (uint32_t i = 0; i < cl->ngpadls; i++) {
		const struct srv_gpadl *g = cl->gpadls[i];
		const struct srv_channel *ch;

		SRV_CHECK(g, "null gpadl");
		SRV_CHECK(g->relid >= 1 && g->relid <= CVMBUS_SERVER_MAX_RELID, "gpadl relid range");
		ch = srv->chan[g->relid];
		SRV_CHECK(ch, "gpadl on a freed channel");
		for (uint32_t j = i + 1; j < cl->ngpadls; j++)
			SRV_CHECK(cl->gpadls[j]->id != g->id, "duplicate gpadl id");
		switch (g->state) {
		case CVMBUS_SERVER_GPADL_BUILDING:
			building++;
			SRV_CHECK(g->values && g->filled < g->nvalues, "building gpadl buffer");
			/* fall through */
		case CVMBUS_SERVER_GPADL_OFFERED:
		case CVMBUS_SERVER_GPADL_ACCEPTED:
		case CVMBUS_SERVER_GPADL_TEARING_DOWN:
			/* The client can still name it: it must still hold the relid. */
			SRV_CHECK(ch->offer_state[cl->index] != CVMBUS_SERVER_OFFER_NONE,
				  "client gpadl on a channel it does not hold");
			SRV_CHECK(srv_client_negotiated(cl), "client gpadl without a connection");
			break;
		case CVMBUS_SERVER_GPADL_OFFERED_RELEASED:
		case CVMBUS_SERVER_GPADL_TEARING_DOWN_RELEASED:
			/* Only the device's answer is missing: the device exists. */
			SRV_CHECK(!ch->rescinded, "released gpadl on a rescinded channel");
			break;
		default:
			SRV_CHECK(false, "bad gpadl state");
		}
		if (g->state != CVMBUS_SERVER_GPADL_BUILDING)
			SRV_CHECK(g->values == NULL, "gpadl buffer kept after completion");
		/* Rescind answers every GPADL the device still owed an answer. */
		if (g->state == CVMBUS_SERVER_GPADL_OFFERED ||
		    g->state == CVMBUS_SERVER_GPADL_TEARING_DOWN)
			SRV_CHECK(!ch->rescinded, "device-pending gpadl on a rescinded channel");
	}
	SRV_CHECK(building == cl->nbuilding, "building gpadl count");
	return 0;
}

int cvmbus_server_check(const struct cvmbus_server *srv, const char **why)
{
	unsigned trusted = 0;
	size_t nch = 0;
	int rc;

	SRV_CHECK(srv, "null server");
	SRV_CHECK(srv->depth == 0, "checked from inside a callback");
	for (unsigned i = 0; i < CVMBUS_SERVER_MAX_CLIENTS; i++) {
		const struct srv_client *cl = &srv->clients[i];

		if (!cl->used) {
			SRV_CHECK(cl->ngpadls == 0, "unused slot with gpadls");
			continue;
		}
		SRV_CHECK(i < srv->cfg.max_clients, "slot past max_clients");
		SRV_CHECK(cl->index == i, "slot index");
		for (unsigned j = i + 1; j < CVMBUS_SERVER_MAX_CLIENTS; j++)
			SRV_CHECK(!srv->clients[j].used || srv->clients[j].key != cl->key,
				  "duplicate client key");
		if (cl->counted_trusted)
			trusted++;
		SRV_CHECK(!cl->counted_trusted || cl->state != CVMBUS_SERVER_CONN_DISCONNECTED,
			  "disconnected client counted as trusted");
		if (cl->state == CVMBUS_SERVER_CONN_DISCONNECTED)
			SRV_CHECK(cl->ngpadls == 0, "disconnected client with gpadls");
		rc = srv_check_gpadls(srv, cl, why);
		if (rc < 0)
			return rc;
	}
	SRV_CHECK(trusted == srv->trusted_clients, "trusted client count");

	/* Ownership counts, which decide when a disconnect is complete. */
	for (unsigned i = 0; i < CVMBUS_SERVER_MAX_CLIENTS; i++) {
		uint32_t owned = 0;

		for (uint32_t r = 0; r <= CVMBUS_SERVER_MAX_RELID; r++) {
			if (srv->chan[r] && srv->chan[r]->owner == (int)i)
				owned++;
		}
		SRV_CHECK(owned == srv->clients[i].nowned, "owned channel count");
		SRV_CHECK(owned == 0 || srv->clients[i].state != CVMBUS_SERVER_CONN_DISCONNECTED,
			  "disconnected client owns a channel");
	}

	for (uint32_t r = 0; r <= CVMBUS_SERVER_MAX_RELID; r++) {
		const struct srv_channel *ch = srv->chan[r];
		bool held = false;

		if (!ch)
			continue;
		nch++;
		SRV_CHECK(r >= srv->cfg.relid_min && r <= srv->cfg.relid_max, "relid out of range");
		SRV_CHECK(ch->relid == r, "relid slot mismatch");
		SRV_CHECK(ch->connection_id == srv->cfg.channel_connection_base + r,
			  "connection id");
		for (unsigned i = 0; i < CVMBUS_SERVER_MAX_CLIENTS; i++) {
			const struct srv_client *cl = &srv->clients[i];
			uint8_t os = ch->offer_state[i];

			SRV_CHECK(os <= CVMBUS_SERVER_OFFER_RESCINDED, "bad offer state");
			if (os == CVMBUS_SERVER_OFFER_NONE)
				continue;
			held = true;
			SRV_CHECK(cl->used && srv_client_negotiated(cl),
				  "offer held by a client without a connection");
			SRV_CHECK((os == CVMBUS_SERVER_OFFER_RESCINDED) == ch->rescinded,
				  "offer state disagrees with rescind");
		}
		SRV_CHECK(!ch->rescinded || held, "rescinded channel nobody holds");
		if (ch->state == CVMBUS_SERVER_CHAN_CLOSED) {
			SRV_CHECK(ch->owner < 0, "closed channel with an owner");
			SRV_CHECK(!ch->modifying, "closed channel modifying");
		} else {
			SRV_CHECK(!ch->rescinded, "rescinded channel not closed");
			SRV_CHECK(ch->state <= CVMBUS_SERVER_CHAN_CLOSING_RELEASED, "bad chan state");
			SRV_CHECK(ch->owner >= 0 && ch->owner < (int)CVMBUS_SERVER_MAX_CLIENTS &&
					  srv->clients[ch->owner].used,
				  "busy channel without an owner");
			if (ch->state == CVMBUS_SERVER_CHAN_OPENING_RELEASED ||
			    ch->state == CVMBUS_SERVER_CHAN_CLOSING_RELEASED)
				SRV_CHECK(ch->offer_state[ch->owner] == CVMBUS_SERVER_OFFER_NONE,
					  "released channel still offered to its owner");
			else
				SRV_CHECK(ch->offer_state[ch->owner] == CVMBUS_SERVER_OFFER_SENT,
					  "owned channel not offered to its owner");
		}
		SRV_CHECK(!ch->modifying || ch->state != CVMBUS_SERVER_CHAN_OPENING,
			  "modifying while opening");
	}
	SRV_CHECK(nch == srv->nchannels, "channel count");
	return 0;
}
