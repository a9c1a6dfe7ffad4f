/* SPDX-License-Identifier: MIT */
/*
 * The guest VMBus client's frame (src/client): creation and teardown, the
 * clock, the event queue, the outbox that turns enqueued channel messages
 * into HvPostMessage calls with Linux's retry policy, and the dispatch of
 * received messages. Received bytes are copied and validated by the wire
 * decoder before anything looks at them, as Linux's vmbus_on_msg_dpc()
 * copies the SynIC slot and checks type and size first. The protocol itself
 * lives in client_connect.c, client_channel.c and client_gpadl.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "cvmbus/log.h"

/* ---- Names ------------------------------------------------------------------ */

static const char *const client_drop_names[CVMBUS_CLIENT_DROP_COUNT] = {
	[CVMBUS_CLIENT_DROP_NONE] = "none",
	[CVMBUS_CLIENT_DROP_MALFORMED] = "malformed",
	[CVMBUS_CLIENT_DROP_UNEXPECTED] = "unexpected",
	[CVMBUS_CLIENT_DROP_UNKNOWN_RELID] = "unknown relid",
	[CVMBUS_CLIENT_DROP_UNKNOWN_GPADL] = "unknown gpadl",
	[CVMBUS_CLIENT_DROP_BAD_RELID] = "relid out of range",
	[CVMBUS_CLIENT_DROP_DUPLICATE_RELID] = "duplicate relid",
	[CVMBUS_CLIENT_DROP_CONFIDENTIAL_UNSUPPORTED] = "confidential channel not negotiated",
	[CVMBUS_CLIENT_DROP_EXTERNAL_WITHOUT_RING] = "confidential external memory without ring",
	[CVMBUS_CLIENT_DROP_NO_MEMORY] = "out of memory",
};

const char *cvmbus_client_drop_name(enum cvmbus_client_drop reason)
{
	if ((unsigned)reason >= CVMBUS_CLIENT_DROP_COUNT)
		return "unknown";
	return client_drop_names[reason];
}

static const char *const client_event_names[CVMBUS_CLIENT_EV_COUNT] = {
	[CVMBUS_CLIENT_EV_NONE] = "none",
	[CVMBUS_CLIENT_EV_CONNECTED] = "connected",
	[CVMBUS_CLIENT_EV_CONNECT_FAILED] = "connect_failed",
	[CVMBUS_CLIENT_EV_OFFER] = "offer",
	[CVMBUS_CLIENT_EV_OFFER_REFUSED] = "offer_refused",
	[CVMBUS_CLIENT_EV_ALL_OFFERS] = "all_offers",
	[CVMBUS_CLIENT_EV_OPEN_DONE] = "open_done",
	[CVMBUS_CLIENT_EV_CLOSE_DONE] = "close_done",
	[CVMBUS_CLIENT_EV_GPADL_DONE] = "gpadl_done",
	[CVMBUS_CLIENT_EV_GPADL_TORNDOWN] = "gpadl_torndown",
	[CVMBUS_CLIENT_EV_RESCIND] = "rescind",
	[CVMBUS_CLIENT_EV_RELEASED] = "released",
	[CVMBUS_CLIENT_EV_UNLOADED] = "unloaded",
	[CVMBUS_CLIENT_EV_PROTOCOL_ERROR] = "protocol_error",
};

const char *cvmbus_client_event_name(enum cvmbus_client_event_type type)
{
	if ((unsigned)type >= CVMBUS_CLIENT_EV_COUNT)
		return "unknown";
	return client_event_names[type];
}

const char *cvmbus_client_state_name(enum cvmbus_client_conn_state state)
{
	switch (state) {
	case CVMBUS_CLIENT_IDLE: return "idle";
	case CVMBUS_CLIENT_CONTACTING: return "contacting";
	case CVMBUS_CLIENT_CONNECTED: return "connected";
	case CVMBUS_CLIENT_UNLOADING: return "unloading";
	case CVMBUS_CLIENT_UNLOADED: return "unloaded";
	case CVMBUS_CLIENT_FAILED: return "failed";
	}
	return "unknown";
}

const char *cvmbus_client_path_name(enum cvmbus_client_path path)
{
	switch (path) {
	case CVMBUS_CLIENT_PATH_HYPERVISOR: return "hypervisor";
	case CVMBUS_CLIENT_PATH_PARAVISOR: return "paravisor";
	case CVMBUS_CLIENT_PATH_COUNT: break;
	}
	return "unknown";
}

/* ---- Lifecycle ------------------------------------------------------------- */

int cvmbus_client_create(const struct cvmbus_client_config *cfg, struct cvmbus_client **out)
{
	struct cvmbus_client *cli;

	if (!cfg || !out || !cfg->mem)
		return -EINVAL;
	if (cfg->extra_features & ~CLIENT_EXTRA_FEATURES_ALLOWED)
		return -EINVAL;
	if (cfg->max_version != 0 && !cvmbus_wire_version_known(cfg->max_version))
		return -EINVAL;

	cli = calloc(1, sizeof(*cli));
	if (!cli)
		return -ENOMEM;
	cli->cfg = *cfg;
	cli->mem = cfg->mem;
	if (!cli->cfg.max_version)
		cli->cfg.max_version = CVMBUS_VERSION_6_0;
	if (!cli->cfg.contact_timeout_ns)
		cli->cfg.contact_timeout_ns = CLIENT_DEFAULT_CONTACT_TIMEOUT_NS;
	if (!cli->cfg.offers_timeout_ns)
		cli->cfg.offers_timeout_ns = CLIENT_DEFAULT_OFFERS_TIMEOUT_NS;
	if (!cli->cfg.reply_timeout_ns)
		cli->cfg.reply_timeout_ns = CLIENT_DEFAULT_REPLY_TIMEOUT_NS;
	if (!cli->cfg.post_tries)
		cli->cfg.post_tries = CVMBUS_CLIENT_POST_TRIES;
	if (!cli->cfg.retry_base_ns)
		cli->cfg.retry_base_ns = CLIENT_DEFAULT_RETRY_BASE_NS;
	if (!cli->cfg.retry_doublings)
		cli->cfg.retry_doublings = CLIENT_DEFAULT_RETRY_DOUBLINGS;
	if (cli->cfg.retry_doublings > 40)
		cli->cfg.retry_doublings = 40; /* keeps the shift below 64 bits */
	cli->state = CVMBUS_CLIENT_IDLE;
	cli->next_gpadl = CVMBUS_CLIENT_FIRST_GPADL;
	cli->conn_deadline = CLIENT_NEVER;
	cli->offers_deadline = CLIENT_NEVER;
	*out = cli;
	return 0;
}

void cvmbus_client_destroy(struct cvmbus_client *cli)
{
	if (!cli)
		return;
	client_outbox_clear(cli);
	/* Reclaiming makes every shared page private before it is freed: the
	 * host loses its mapping first, so no page it could still write goes
	 * back to the allocator. */
	client_gpadl_forget_all(cli, true);
	client_chan_forget_all(cli);
	client_free_pages(cli);
	free(cli->ev);
	free(cli);
}

/* ---- Time ------------------------------------------------------------------ */

uint64_t client_deadline(const struct cvmbus_client *cli, uint64_t timeout_ns)
{
	if (timeout_ns >= CLIENT_NEVER - cli->now)
		return CLIENT_NEVER - 1;
	return cli->now + timeout_ns;
}

void cvmbus_client_tick(struct cvmbus_client *cli, uint64_t now_ns)
{
	if (!cli || cli->in_post)
		return;
	if (now_ns > cli->now)
		cli->now = now_ns;
	client_conn_expire(cli);
	/* Channel and GPADL waits only run on a live connection: during an
	 * unload they are settled wholesale by the unload's outcome. */
	if (cli->state == CVMBUS_CLIENT_CONNECTED) {
		client_chan_expire(cli);
		client_gpadl_expire(cli);
	}
	client_run(cli);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t cvmbus_client_next_deadline(const struct cvmbus_client *cli)
{
	uint64_t d = CLIENT_NEVER;

	if (!cli)
		return d;
	if (cli->state == CVMBUS_CLIENT_CONTACTING || cli->state == CVMBUS_CLIENT_UNLOADING)
		d = min_u64(d, cli->conn_deadline);
	if (cli->offers == CVMBUS_CLIENT_OFFERS_REQUESTED)
		d = min_u64(d, cli->offers_deadline);
	if (cli->out_waiting)
		d = min_u64(d, cli->out_retry_at);
	if (cli->state == CVMBUS_CLIENT_CONNECTED) {
		/* Only what has a deadline running (the counts say how many). */
		uint32_t left = cli->chan_timed;

		for (uint32_t r = 1; r <= CVMBUS_CLIENT_MAX_RELID && left; r++) {
			const struct client_channel *ch = cli->chan[r];

			if (!ch || ch->deadline == CLIENT_NEVER)
				continue;
			left--;
			if (ch->state == CHAN_OPENING)
				d = min_u64(d, ch->deadline);
		}
		left = cli->gpadl_timed;
		for (const struct client_gpadl *g = cli->gpadls; g && left; g = g->next) {
			if (g->deadline == CLIENT_NEVER)
				continue;
			left--;
			d = min_u64(d, g->deadline);
		}
	}
	return d;
}

/* ---- Events ------------------------------------------------------------------ */

void client_emit(struct cvmbus_client *cli, const struct cvmbus_client_event *ev)
{
	if (cli->ev_count == cli->ev_cap) {
		size_t cap = cli->ev_cap ? cli->ev_cap * 2 : 64;
		struct cvmbus_client_event *n;

		if (cap > CVMBUS_CLIENT_EVENT_CAP || !(n = calloc(cap, sizeof(*n)))) {
			/* A caller that never drains must not make us grow
			 * without bound; what was queued stays in order. */
			cli->stats.events_dropped++;
			return;
		}
		for (size_t i = 0; i < cli->ev_count; i++)
			n[i] = cli->ev[(cli->ev_head + i) % cli->ev_cap];
		free(cli->ev);
		cli->ev = n;
		cli->ev_cap = cap;
		cli->ev_head = 0;
	}
	cli->ev[(cli->ev_head + cli->ev_count) % cli->ev_cap] = *ev;
	cli->ev_count++;
	if (cli->cfg.on_event)
		cli->cfg.on_event(cli->cfg.event_ctx, ev);
}

void client_emit_simple(struct cvmbus_client *cli, enum cvmbus_client_event_type type,
			int status, uint32_t relid, uint32_t gpadl)
{
	struct cvmbus_client_event ev = {
		.type = type, .status = status, .relid = relid, .gpadl = gpadl,
	};

	client_emit(cli, &ev);
}

int cvmbus_client_next_event(struct cvmbus_client *cli, struct cvmbus_client_event *ev)
{
	if (!cli || !ev || cli->ev_count == 0)
		return 0;
	*ev = cli->ev[cli->ev_head];
	cli->ev_head = (cli->ev_head + 1) % cli->ev_cap;
	cli->ev_count--;
	return 1;
}

/* ---- Outbox ------------------------------------------------------------------ */

int client_send(struct cvmbus_client *cli, const struct cvmbus_wire_msg *msg, uint32_t conn_id,
		uint32_t relid, uint32_t tag, bool last)
{
	struct client_out *o = calloc(1, sizeof(*o));
	int len;

	if (!o)
		return -ENOMEM;
	len = cvmbus_wire_encode(msg, o->bytes, sizeof(o->bytes), NULL);
	if (len < 0) {
		/* Only a bug of ours gets here: we build every message. */
		free(o);
		return len;
	}
	o->len = (uint16_t)len;
	o->conn_id = conn_id;
	o->msgtype = cvmbus_wire_msg_type(msg);
	o->relid = relid;
	o->tag = tag;
	o->last = last;
	if (cli->out_tail)
		cli->out_tail->next = o;
	else
		cli->out_head = o;
	cli->out_tail = o;
	return 0;
}

static bool out_matches(const struct client_out *o, uint32_t msgtype, uint32_t relid,
			uint32_t tag)
{
	return (msgtype == 0 || o->msgtype == msgtype) &&
	       (relid == UINT32_MAX || o->relid == relid) && (tag == UINT32_MAX || o->tag == tag);
}

void client_outbox_cancel(struct cvmbus_client *cli, uint32_t msgtype, uint32_t relid,
			  uint32_t tag)
{
	struct client_out **pp = &cli->out_head;
	struct client_out *prev = NULL;

	while (*pp) {
		struct client_out *o = *pp;

		if (!out_matches(o, msgtype, relid, tag)) {
			prev = o;
			pp = &o->next;
			continue;
		}
		if (o == cli->out_head) {
			/* The head's retry state belongs to it alone. */
			cli->out_tries = 0;
			cli->out_waiting = false;
		}
		*pp = o->next;
		if (cli->out_tail == o)
			cli->out_tail = prev;
		free(o);
	}
}

void client_outbox_clear(struct cvmbus_client *cli)
{
	client_outbox_cancel(cli, 0, UINT32_MAX, UINT32_MAX);
}

bool client_outbox_has(const struct cvmbus_client *cli, uint32_t msgtype, uint32_t relid)
{
	for (const struct client_out *o = cli->out_head; o; o = o->next)
		if (out_matches(o, msgtype, relid, UINT32_MAX))
			return true;
	return false;
}

static void client_trace_tx(struct cvmbus_client *cli, const struct client_out *o,
			    uint16_t status)
{
	struct cvmbus_client_trace t = {
		.dir = CVMBUS_CLIENT_TRACE_TX,
		.path = cli->transport.path,
		.now_ns = cli->now,
		.msgtype = o->msgtype,
		.connection_id = o->conn_id,
		.hv_status = status,
		.bytes = o->bytes,
		.len = o->len,
	};

	if (cli->cfg.trace)
		cli->cfg.trace(cli->cfg.trace_ctx, &t);
}

static void client_out_done(struct cvmbus_client *cli, const struct client_out *o, int err)
{
	switch (o->msgtype) {
	case CVMBUS_MSG_INITIATE_CONTACT:
	case CVMBUS_MSG_REQUEST_OFFERS:
	case CVMBUS_MSG_UNLOAD:
		if (err)
			client_conn_post_failed(cli, o, err);
		else
			client_conn_posted(cli, o);
		break;
	case CVMBUS_MSG_GPADL_HEADER:
	case CVMBUS_MSG_GPADL_BODY:
	case CVMBUS_MSG_GPADL_TEARDOWN:
		if (err)
			client_gpadl_post_failed(cli, o, err);
		else
			client_gpadl_posted(cli, o);
		break;
	default:
		if (err)
			client_chan_post_failed(cli, o, err);
		else
			client_chan_posted(cli, o);
		break;
	}
}

/* The delay before retry number `tries` (1-based), as vmbus_post_msg():
 * 1 us, 2 us, 4 us ... doubling 21 times, then flat. */
static uint64_t client_backoff(const struct cvmbus_client *cli, uint32_t tries)
{
	uint32_t shift = tries - 1;

	if (shift > cli->cfg.retry_doublings)
		shift = cli->cfg.retry_doublings;
	if (cli->cfg.retry_base_ns > (UINT64_MAX >> 1) >> shift)
		return UINT64_MAX >> 1;
	return cli->cfg.retry_base_ns << shift;
}

/*
 * Whether the head may be retried once more. Linux retries a refused post
 * up to 100 times with a back-off that grows to seconds, about 166 s in
 * all; a host that answers a message connection id nobody owns would make
 * a connect wait that long. Here a message's retries also end where the
 * longest wait that could cover it (the reply or offers timeout) would end,
 * counted from its first post: a lying host costs a bounded wait.
 */
static bool client_retry_in_budget(const struct cvmbus_client *cli)
{
	uint64_t budget = cli->cfg.reply_timeout_ns;
	uint64_t next = client_backoff(cli, cli->out_tries);

	if (cli->cfg.offers_timeout_ns > budget)
		budget = cli->cfg.offers_timeout_ns;
	if (cli->cfg.contact_timeout_ns > budget)
		budget = cli->cfg.contact_timeout_ns;
	return cli->now - cli->out_first_at <= budget && next <= budget - (cli->now - cli->out_first_at);
}

/*
 * Posts from the head of the outbox until it is empty or the head has to
 * wait for its retry time. Returns true if any message left the outbox.
 * Status handling is vmbus_post_msg()'s: INVALID_CONNECTION_ID fails an
 * InitiateContact at once (old hosts refuse connection id 4, and the caller
 * moves to the next version), and is otherwise retried like the two
 * INSUFFICIENT statuses; any other failure is final.
 */
static bool client_pump(struct cvmbus_client *cli)
{
	bool progress = false;

	while (cli->out_head) {
		struct client_out *o = cli->out_head;
		uint16_t status;
		bool retry;
		int err;

		if (cli->out_waiting) {
			if (cli->now < cli->out_retry_at)
				break;
			cli->out_waiting = false;
			cli->stats.tx_retries++;
		}
		if (!cli->transport.post_message) {
			status = HV_STATUS_INVALID_PARAMETER;
		} else {
			cli->in_post = true;
			status = cli->transport.post_message(cli->transport.ctx, o->conn_id, o->bytes,
							     o->len);
			cli->in_post = false;
		}
		cli->stats.tx_posts++;
		client_trace_tx(cli, o, status);
		if (cli->out_tries++ == 0)
			cli->out_first_at = cli->now;

		if (status == HV_STATUS_SUCCESS) {
			err = 0;
		} else {
			switch (status) {
			case HV_STATUS_INVALID_CONNECTION_ID:
				retry = o->msgtype != CVMBUS_MSG_INITIATE_CONTACT;
				err = retry ? -EAGAIN : -EINVAL;
				break;
			case HV_STATUS_INSUFFICIENT_MEMORY:
			case HV_STATUS_INSUFFICIENT_BUFFERS:
				retry = true;
				err = -ENOBUFS;
				break;
			default:
				retry = false;
				err = -EINVAL;
				break;
			}
			if (retry && cli->out_tries < cli->cfg.post_tries &&
			    client_retry_in_budget(cli)) {
				/* No sleeping here: the glue ticks us at
				 * out_retry_at (cvmbus_client_next_deadline). */
				cli->out_waiting = true;
				cli->out_retry_at = client_deadline(cli, client_backoff(cli,
										cli->out_tries));
				break;
			}
			cli->stats.tx_failures++;
			CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
				      "client: post of %s failed, hv status 0x%x after %u tries",
				      cvmbus_wire_type_name(o->msgtype), status, cli->out_tries);
		}
		cli->out_head = o->next;
		if (!cli->out_head)
			cli->out_tail = NULL;
		cli->out_tries = 0;
		progress = true;
		client_out_done(cli, o, err);
		free(o);
	}
	return progress;
}

void client_run(struct cvmbus_client *cli)
{
	bool progress;

	if (cli->in_post)
		return;
	do {
		progress = client_chan_settle(cli);
		progress |= client_pump(cli);
	} while (progress);
}

/* ---- Messages in ----------------------------------------------------------- */

int client_drop(struct cvmbus_client *cli, uint32_t msgtype, enum cvmbus_client_drop reason,
		uint32_t relid, int err)
{
	struct cvmbus_client_event ev = {
		.type = CVMBUS_CLIENT_EV_PROTOCOL_ERROR,
		.status = err,
		.relid = relid,
		.msgtype = msgtype,
		.reason = reason,
	};

	cli->stats.rx_dropped++;
	if ((unsigned)reason < CVMBUS_CLIENT_DROP_COUNT)
		cli->stats.drops[reason]++;
	cli->last_drop = reason;
	/* The peer decides how often this runs: rate-limited. */
	CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "client: dropped %s (relid %u): %s",
		      cvmbus_wire_type_name(msgtype), relid, cvmbus_client_drop_name(reason));
	client_emit(cli, &ev);
	return err;
}

static void client_trace_rx(struct cvmbus_client *cli, const void *bytes, size_t len,
			    enum cvmbus_client_path source, uint32_t msgtype,
			    enum cvmbus_client_drop drop)
{
	struct cvmbus_client_trace t = {
		.dir = CVMBUS_CLIENT_TRACE_RX,
		.path = source,
		.now_ns = cli->now,
		.msgtype = msgtype,
		.drop = drop,
		.bytes = bytes,
		.len = len,
	};

	if (cli->cfg.trace)
		cli->cfg.trace(cli->cfg.trace_ctx, &t);
}

/* Which version and features a received message is judged against. */
static void client_rx_context(const struct cvmbus_client *cli, uint32_t *version,
			      uint32_t *features)
{
	switch (cli->state) {
	case CVMBUS_CLIENT_CONTACTING:
		/* The response's allowed layouts follow what we asked for. */
		*version = cli->req_version;
		*features = cli->req_features;
		break;
	case CVMBUS_CLIENT_CONNECTED:
	case CVMBUS_CLIENT_UNLOADING:
		*version = cli->version;
		*features = cli->features;
		break;
	default:
		/* Not connected: the decoder then only accepts the messages
		 * that exist before a connection (a VersionResponse here). */
		*version = 0;
		*features = 0;
		break;
	}
}

static int client_dispatch(struct cvmbus_client *cli, const struct cvmbus_wire_msg *m)
{
	uint32_t type = cvmbus_wire_msg_type(m);

	if (type == CVMBUS_MSG_VERSION_RESPONSE)
		return client_on_version_response(cli, m);
	if (type == CVMBUS_MSG_OFFER_CHANNEL)
		/* Every offer is accepted or refused with a reason, whatever
		 * the state (the accounting identity depends on it). */
		return client_on_offer(cli, &m->u.offer_channel);
	if (cli->state == CVMBUS_CLIENT_UNLOADING && type != CVMBUS_MSG_UNLOAD_RESPONSE)
		/* Linux ignores offers once it unloads; nothing else can still
		 * matter, since the unload's outcome settles every channel. */
		return client_drop(cli, type, CVMBUS_CLIENT_DROP_UNEXPECTED, 0, -EPROTO);
	if (type == CVMBUS_MSG_UNLOAD_RESPONSE)
		return client_on_unload_response(cli);
	if (cli->state != CVMBUS_CLIENT_CONNECTED)
		return client_drop(cli, type, CVMBUS_CLIENT_DROP_UNEXPECTED, 0, -EPROTO);

	switch (m->variant) {
	case CVMBUS_WIRE_RESCIND_CHANNEL_OFFER:
		return client_on_rescind(cli, m->u.rescind_channel_offer.child_relid);
	case CVMBUS_WIRE_ALL_OFFERS_DELIVERED:
		return client_on_all_offers(cli);
	case CVMBUS_WIRE_OPEN_CHANNEL_RESULT:
		return client_on_open_result(cli, &m->u.open_result);
	case CVMBUS_WIRE_GPADL_CREATED:
		return client_on_gpadl_created(cli, &m->u.gpadl_created);
	case CVMBUS_WIRE_GPADL_TORNDOWN:
		return client_on_gpadl_torndown(cli, m->u.gpadl_torndown.gpadl);
	default:
		/* TlConnectResult, ModifyChannelResponse ...: valid messages
		 * for features this client never asks for. */
		return client_drop(cli, type, CVMBUS_CLIENT_DROP_UNEXPECTED, 0, -EPROTO);
	}
}

/*
 * A relay's host can never keep a ring private from itself: confidential
 * bits on its offers are a lie, and the channel works without them
 * (OpenVMM's relay clears them the same way). `b` is an offer-sized copy.
 */
static void client_clear_offer_flags(struct cvmbus_client *cli, uint8_t *b)
{
	const size_t at = offsetof(struct cvmbus_msg_offer_channel, flags);
	uint32_t type = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			(uint32_t)b[3] << 24;
	uint16_t flags = (uint16_t)(b[at] | b[at + 1] << 8);

	if (type != CVMBUS_MSG_OFFER_CHANNEL || !(flags & CLIENT_CLEARED_OFFER_FLAGS))
		return;
	flags &= (uint16_t)~CLIENT_CLEARED_OFFER_FLAGS;
	b[at] = (uint8_t)flags;
	b[at + 1] = (uint8_t)(flags >> 8);
	cli->stats.offers_flags_cleared++;
	CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "client: offer with confidential flags: cleared");
}

int cvmbus_client_handle_message(struct cvmbus_client *cli, const void *bytes, size_t len,
				 enum cvmbus_client_path source)
{
	uint8_t local[sizeof(struct cvmbus_msg_offer_channel)];
	struct cvmbus_wire_msg m;
	struct cvmbus_wire_status st;
	uint32_t version, features, type;
	int rc;

	if (!cli || (!bytes && len))
		return -EINVAL;
	if (cli->in_post)
		/* A transport must not call back into us from post_message(). */
		return -EDEADLK;
	if ((unsigned)source >= CVMBUS_CLIENT_PATH_COUNT)
		source = CVMBUS_CLIENT_PATH_HYPERVISOR;
	cli->stats.rx_messages++;
	cli->stats.rx_by_path[source]++;
	cli->last_drop = CVMBUS_CLIENT_DROP_NONE;

	client_rx_context(cli, &version, &features);
	memset(&st, 0, sizeof(st));
	memset(&m, 0, sizeof(m));
	if (cli->cfg.clear_confidential_offers && len == sizeof(struct cvmbus_msg_offer_channel)) {
		/* The one read of the caller's bytes is this copy; the bits
		 * go before the decoder judges the offer against a connection
		 * that never has the features they need. */
		memcpy(local, bytes, len);
		client_clear_offer_flags(cli, local);
		bytes = local;
	}
	/* The one read of the caller's bytes (or of our copy): everything
	 * below uses m. */
	rc = cvmbus_wire_decode(bytes, len, version, features, CVMBUS_WIRE_TO_CLIENT, &m, &st);
	type = st.type;
	if (rc < 0) {
		if (type == CVMBUS_MSG_OFFER_CHANNEL)
			/* Still an offer for the accounting: every offer is
			 * either accepted or refused, with a reason. */
			rc = client_on_bad_offer(cli, &m.u, len, rc);
		else
			rc = client_drop(cli, type, CVMBUS_CLIENT_DROP_MALFORMED, 0, rc);
	} else {
		type = cvmbus_wire_msg_type(&m);
		rc = client_dispatch(cli, &m);
	}
	/* Trace from our copy, so the record is what was judged. */
	client_trace_rx(cli, m.u.bytes, len < sizeof(m.u.bytes) ? len : sizeof(m.u.bytes), source,
			type, cli->last_drop);
	client_run(cli);
	return rc;
}

int cvmbus_client_handle_hv_message(struct cvmbus_client *cli, const struct hv_message *copy,
				    enum cvmbus_client_path source)
{
	struct hv_message local;
	int rc;

	if (!cli || !copy)
		return -EINVAL;
	/* Even a "copy" may sit where someone else can write: take our own. */
	memcpy(&local, copy, sizeof(local));
	rc = cvmbus_wire_check_envelope(&local, NULL);
	if (rc < 0) {
		cli->stats.rx_messages++;
		if ((unsigned)source < CVMBUS_CLIENT_PATH_COUNT)
			cli->stats.rx_by_path[source]++;
		return client_drop(cli, 0, CVMBUS_CLIENT_DROP_MALFORMED, 0, rc);
	}
	return cvmbus_client_handle_message(cli, local.payload, local.header.payload_size, source);
}

/* ---- Introspection -------------------------------------------------------- */

enum cvmbus_client_conn_state cvmbus_client_state(const struct cvmbus_client *cli)
{
	return cli ? cli->state : CVMBUS_CLIENT_IDLE;
}

enum cvmbus_client_offers_state cvmbus_client_offers_state(const struct cvmbus_client *cli)
{
	return cli ? cli->offers : CVMBUS_CLIENT_OFFERS_NONE;
}

uint32_t cvmbus_client_version(const struct cvmbus_client *cli)
{
	return cli ? cli->version : 0;
}

uint32_t cvmbus_client_features(const struct cvmbus_client *cli)
{
	return cli ? cli->features : 0;
}

uint32_t cvmbus_client_msg_conn_id(const struct cvmbus_client *cli)
{
	return cli ? cli->msg_conn_id : 0;
}

bool cvmbus_client_confidential(const struct cvmbus_client *cli)
{
	return cli ? cli->confidential : false;
}

void cvmbus_client_monitor_pages(const struct cvmbus_client *cli, uint64_t *int_page,
				 uint64_t *monitor1, uint64_t *monitor2)
{
	bool ready = cli && cli->pages_ready;

	if (int_page)
		*int_page = ready ? cli->int_page : 0;
	if (monitor1)
		*monitor1 = ready ? cli->monitor[0] : 0;
	if (monitor2)
		*monitor2 = ready ? cli->monitor[1] : 0;
}

void cvmbus_client_get_stats(const struct cvmbus_client *cli, struct cvmbus_client_stats *out)
{
	if (!out)
		return;
	if (!cli) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = cli->stats;
}
