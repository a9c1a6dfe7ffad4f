/* SPDX-License-Identifier: MIT */
/*
 * Channels of the guest VMBus client (src/client): offers and their
 * validation (vmbus_onoffer() with the Confidential VMBus checks), rescind
 * (vmbus_onoffer_rescind()), and the control-plane half of the channel API
 * a device driver (VSC) uses: open (__vmbus_open()), close
 * (vmbus_close_internal()) and release (RelIdReleased once a rescinded
 * channel is idle). The ring's GPADL and its memory policy are in
 * client_gpadl.c; this file decides when a GPADL is made or torn down.
 * A relay also opens channels over another client's ring GPADL
 * (cvmbus_client_open_foreign): OpenChannel2 with that client's signal
 * parameters, and a close that leaves the GPADL to its owner.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "cvmbus/log.h"

static struct client_channel *client_chan_get(const struct cvmbus_client *cli, uint32_t relid)
{
	if (relid == 0 || relid > CVMBUS_CLIENT_MAX_RELID)
		return NULL;
	return cli->chan[relid];
}

/* ---- Offers ------------------------------------------------------------------ */

/* A refused offer is a dropped message with its own event, so that
 * offers_received == offers_accepted + offers_refused holds on every path
 * (Linux's external-without-ring path forgot its offer_in_progress count). */
static int client_refuse_offer(struct cvmbus_client *cli, uint32_t relid,
			       enum cvmbus_client_drop reason, int err)
{
	struct cvmbus_client_event ev = {
		.type = CVMBUS_CLIENT_EV_OFFER_REFUSED,
		.status = err,
		.relid = relid,
		.msgtype = CVMBUS_MSG_OFFER_CHANNEL,
		.reason = reason,
	};

	cli->stats.offers_received++;
	cli->stats.offers_refused++;
	cli->stats.rx_dropped++;
	cli->stats.drops[reason]++;
	cli->last_drop = reason;
	CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "client: invalid offer relid=%u: %s", relid,
		      cvmbus_client_drop_name(reason));
	client_emit(cli, &ev);
	return err;
}

/* The Confidential VMBus rules on an offer's flags, in Linux's order. */
static enum cvmbus_client_drop client_offer_flags_verdict(const struct cvmbus_client *cli,
							  uint16_t flags)
{
	bool co_ring = flags & CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER;
	bool co_external = flags & CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY;

	/* Encrypted DMA buffers next to a host-visible ring make no sense:
	 * the ring would carry their descriptions in the clear. */
	if (co_external && !co_ring)
		return CVMBUS_CLIENT_DROP_EXTERNAL_WITHOUT_RING;
	/* Only a paravisor that granted confidential channels over a
	 * connection we made confidential may ask for private memory; a host
	 * that sets these bits would have us keep rings it cannot read. */
	if ((co_ring || co_external) &&
	    (cli->version < CVMBUS_VERSION_6_0 || !cli->confidential ||
	     !(cli->features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS)))
		return CVMBUS_CLIENT_DROP_CONFIDENTIAL_UNSUPPORTED;
	return CVMBUS_CLIENT_DROP_NONE;
}

int client_on_bad_offer(struct cvmbus_client *cli, const union cvmbus_wire_body *copy, size_t len,
			int err)
{
	enum cvmbus_client_drop reason = CVMBUS_CLIENT_DROP_MALFORMED;
	uint32_t relid = 0;

	/* Not connected, the decoder refuses every offer for want of a
	 * version: that is an offer out of turn, not a malformed one. */
	if (cli->state != CVMBUS_CLIENT_CONNECTED) {
		if (len == sizeof(struct cvmbus_msg_offer_channel))
			relid = copy->offer_channel.child_relid;
		return client_refuse_offer(cli, relid, CVMBUS_CLIENT_DROP_UNEXPECTED, -EPROTO);
	}

	/* The decoder refused it, but if it has an offer's size its flags
	 * say why in our terms; the copy is ours, so reading it is safe. */
	if (len == sizeof(struct cvmbus_msg_offer_channel)) {
		enum cvmbus_client_drop v = client_offer_flags_verdict(cli, copy->offer_channel.flags);

		relid = copy->offer_channel.child_relid;
		if (v != CVMBUS_CLIENT_DROP_NONE)
			reason = v;
	}
	return client_refuse_offer(cli, relid, reason, err);
}

int client_on_offer(struct cvmbus_client *cli, const struct cvmbus_msg_offer_channel *o)
{
	uint32_t relid = o->child_relid;
	enum cvmbus_client_drop verdict;
	struct client_channel *ch;

	/* Linux ignores offers once it unloads, and none can come before. */
	if (cli->state != CVMBUS_CLIENT_CONNECTED)
		return client_refuse_offer(cli, relid, CVMBUS_CLIENT_DROP_UNEXPECTED, -EPROTO);
	if (relid == 0 || relid > CVMBUS_CLIENT_MAX_RELID)
		return client_refuse_offer(cli, relid, CVMBUS_CLIENT_DROP_BAD_RELID, -EINVAL);
	verdict = client_offer_flags_verdict(cli, o->flags);
	if (verdict != CVMBUS_CLIENT_DROP_NONE)
		return client_refuse_offer(cli, relid, verdict, -EPERM);
	if (cli->chan[relid])
		return client_refuse_offer(cli, relid, CVMBUS_CLIENT_DROP_DUPLICATE_RELID, -EEXIST);
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return client_refuse_offer(cli, relid, CVMBUS_CLIENT_DROP_NO_MEMORY, -ENOMEM);
	ch->relid = relid;
	ch->offer = *o;
	ch->state = CHAN_CLOSED;
	ch->co_ring = o->flags & CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER;
	ch->co_external = o->flags & CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY;
	ch->deadline = CLIENT_NEVER; /* before it is linked: counted by nobody */
	cli->chan[relid] = ch;
	cli->nchan++;
	cli->stats.offers_received++;
	cli->stats.offers_accepted++;
	client_emit_simple(cli, CVMBUS_CLIENT_EV_OFFER, 0, relid, 0);
	return 0;
}

/* ---- Open ---------------------------------------------------------------------- */

/* The open has failed: report it once its ring is gone. */
static void client_open_failed(struct cvmbus_client *cli, struct client_channel *ch, int err)
{
	struct client_gpadl *g = ch->ring;

	client_outbox_cancel(cli, CVMBUS_MSG_OPEN_CHANNEL, ch->relid, UINT32_MAX);
	client_chan_set_deadline(cli, ch, CLIENT_NEVER);
	ch->open_status = err;
	if (!g) {
		ch->state = CHAN_CLOSED;
		client_emit_simple(cli, CVMBUS_CLIENT_EV_OPEN_DONE, err, ch->relid, 0);
		return;
	}
	/* __vmbus_open()'s error path tears the ring GPADL down before the
	 * pages are freed: the host may have mapped it. */
	ch->state = CHAN_OPEN_FAILING;
	if (client_gpadl_teardown_start(cli, g) < 0) {
		client_gpadl_leak(cli, g);
		ch->ring = NULL;
		ch->state = CHAN_CLOSED;
		client_emit_simple(cli, CVMBUS_CLIENT_EV_OPEN_DONE, err, ch->relid, 0);
	}
}

static bool client_use_open2(const struct cvmbus_client *cli)
{
	return cli->version >= CVMBUS_VERSION_6_0 &&
	       (cli->features & (CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS |
				 CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION));
}

/* Enqueues OpenChannel(2) over ring GPADL `handle` and waits for its
 * result; send_pages is the downstream offset. */
static void client_chan_send_open(struct cvmbus_client *cli, struct client_channel *ch,
				  uint32_t handle)
{
	struct cvmbus_wire_msg m;
	struct cvmbus_msg_open_channel *op;
	int rc;

	/* The wire decoder insists on the 156-byte layout once 6.0 and
	 * either feature are negotiated, so we send what it would accept. */
	cvmbus_wire_msg_init(&m, client_use_open2(cli) ? CVMBUS_WIRE_OPEN_CHANNEL2
						       : CVMBUS_WIRE_OPEN_CHANNEL);
	op = &m.u.open_channel;
	op->child_relid = ch->relid;
	/* Linux uses the relid as the open id; OpenResult must echo it. */
	op->openid = ch->relid;
	op->ringbuffer_gpadl = handle;
	op->target_vp = ch->target_vp;
	/* The receive ring starts right after the send ring, in 4 KiB pages. */
	op->downstream_ring_page_offset = ch->send_pages;
	memcpy(op->user_data, ch->user_data, sizeof(op->user_data));
	if (m.variant == CVMBUS_WIRE_OPEN_CHANNEL2) {
		m.u.open_channel2.connection_id = ch->signal_connection_id;
		m.u.open_channel2.event_flag = ch->event_flag;
		m.u.open_channel2.flags = ch->open_flags;
	}
	ch->state = CHAN_OPENING;
	ch->open_posted = false;
	client_chan_set_deadline(cli, ch, CLIENT_NEVER);
	rc = client_send(cli, &m, cli->msg_conn_id, ch->relid, 0, true);
	if (rc < 0)
		client_open_failed(cli, ch, rc);
}

void client_chan_ring_created(struct cvmbus_client *cli, struct client_channel *ch)
{
	if (ch->state != CHAN_OPEN_GPADL)
		return;
	client_chan_send_open(cli, ch, ch->ring->handle);
}

void client_chan_ring_failed(struct cvmbus_client *cli, struct client_channel *ch, int status)
{
	/* The GPADL never existed for the host: nothing to tear down. */
	ch->ring = NULL;
	if (ch->state != CHAN_OPEN_GPADL)
		return;
	ch->state = CHAN_CLOSED;
	client_emit_simple(cli, CVMBUS_CLIENT_EV_OPEN_DONE, status, ch->relid, 0);
}

void client_chan_ring_gone(struct cvmbus_client *cli, struct client_channel *ch, int status)
{
	enum client_chan_state was = ch->state;

	ch->ring = NULL;
	ch->state = CHAN_CLOSED;
	if (was == CHAN_OPEN_FAILING)
		client_emit_simple(cli, CVMBUS_CLIENT_EV_OPEN_DONE, ch->open_status, ch->relid, 0);
	else if (was == CHAN_CLOSING)
		client_emit_simple(cli, CVMBUS_CLIENT_EV_CLOSE_DONE, status, ch->relid, 0);
}

static int client_check_open_params(const struct cvmbus_client *cli,
				    const struct cvmbus_client_open_params *p)
{
	uint64_t pages;

	if (!p)
		return -EINVAL;
	if (p->send_bytes % HV_PAGE_SIZE || p->recv_bytes % HV_PAGE_SIZE ||
	    p->send_bytes < 2 * HV_PAGE_SIZE || p->recv_bytes < 2 * HV_PAGE_SIZE)
		return -EINVAL;
	pages = (uint64_t)p->send_bytes / HV_PAGE_SIZE + p->recv_bytes / HV_PAGE_SIZE;
	if (pages > CLIENT_MAX_GPADL_PAGES)
		return -E2BIG;
	if (p->user_data_len > CVMBUS_USER_DEFINED_SIZE || (p->user_data_len && !p->user_data))
		return -EINVAL;
	if (p->open_flags & ~CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT)
		return -EINVAL;
	if ((p->open_flags & CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT) &&
	    !(client_use_open2(cli) &&
	      (cli->features & CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION)))
		return -EINVAL;
	return 0;
}

int cvmbus_client_open(struct cvmbus_client *cli, uint32_t relid,
		       const struct cvmbus_client_open_params *p)
{
	struct client_channel *ch;
	struct client_gpadl *g;
	int rc;

	if (!cli)
		return -EINVAL;
	if (cli->state != CVMBUS_CLIENT_CONNECTED)
		return -ENOTCONN;
	ch = client_chan_get(cli, relid);
	if (!ch)
		return -ENOENT;
	if (ch->rescinded)
		return -ENODEV;
	if (ch->state != CHAN_CLOSED)
		return -EBUSY;
	rc = client_check_open_params(cli, p);
	if (rc < 0)
		return rc;

	ch->foreign = false;
	ch->foreign_gpadl = 0;
	ch->send_pages = p->send_bytes / HV_PAGE_SIZE;
	ch->recv_pages = p->recv_bytes / HV_PAGE_SIZE;
	ch->target_vp = p->target_vp;
	ch->signal_connection_id = p->connection_id;
	ch->event_flag = p->event_flag;
	ch->open_flags = p->open_flags;
	memset(ch->user_data, 0, sizeof(ch->user_data));
	if (p->user_data_len)
		memcpy(ch->user_data, p->user_data, p->user_data_len);
	ch->open_status = 0;

	/* One GPADL over both rings, send ring first (Linux: one allocation,
	 * downstream offset = send size). */
	g = client_gpadl_start(cli, ch, true, (uint64_t)ch->send_pages + ch->recv_pages, &rc);
	if (!g)
		return rc;
	ch->ring = g;
	ch->state = CHAN_OPEN_GPADL;
	client_run(cli);
	return 0;
}

int cvmbus_client_open_foreign(struct cvmbus_client *cli, uint32_t relid,
			       const struct cvmbus_client_open_foreign_params *p)
{
	struct client_channel *ch;
	struct client_gpadl *g;

	if (!cli || !p)
		return -EINVAL;
	if (cli->state != CVMBUS_CLIENT_CONNECTED)
		return -ENOTCONN;
	ch = client_chan_get(cli, relid);
	if (!ch)
		return -ENOENT;
	if (ch->rescinded)
		return -ENODEV;
	if (ch->state != CHAN_CLOSED)
		return -EBUSY;
	/* Without signal parameters the server would signal (and be
	 * signalled by) this client on the offer's ids, not the client whose
	 * ring it is: the data plane would have no one at the other end. */
	if (!client_use_open2(cli) ||
	    !(cli->features & CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS))
		return -EOPNOTSUPP;
	if (p->user_data_len > CVMBUS_USER_DEFINED_SIZE || (p->user_data_len && !p->user_data))
		return -EINVAL;
	if (p->open_flags & ~CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT)
		return -EINVAL;
	if ((p->open_flags & CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT) &&
	    !(cli->features & CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION))
		return -EINVAL;
	g = client_gpadl_find(cli, p->ring_gpadl);
	if (!g || !g->foreign || g->relid != relid)
		return -ENOENT;
	if (g->state != CVMBUS_CLIENT_GPADL_CREATED)
		return -EBUSY;
	/* Both rings need their control page and at least one data page. */
	if (p->downstream_page_offset < 2 || g->npages < 2 ||
	    p->downstream_page_offset > g->npages - 2)
		return -EINVAL;

	ch->foreign = true;
	ch->foreign_gpadl = p->ring_gpadl;
	ch->ring = NULL;
	ch->send_pages = p->downstream_page_offset;
	ch->recv_pages = (uint32_t)(g->npages - p->downstream_page_offset);
	ch->target_vp = p->target_vp;
	ch->signal_connection_id = p->connection_id;
	ch->event_flag = p->event_flag;
	ch->open_flags = p->open_flags;
	memset(ch->user_data, 0, sizeof(ch->user_data));
	if (p->user_data_len)
		memcpy(ch->user_data, p->user_data, p->user_data_len);
	ch->open_status = 0;
	client_chan_send_open(cli, ch, p->ring_gpadl);
	client_run(cli);
	return 0;
}

int client_on_open_result(struct cvmbus_client *cli, const struct cvmbus_msg_open_result *r)
{
	struct client_channel *ch = client_chan_get(cli, r->child_relid);

	if (!ch)
		return client_drop(cli, CVMBUS_MSG_OPEN_CHANNEL_RESULT,
				   CVMBUS_CLIENT_DROP_UNKNOWN_RELID, r->child_relid, -ENOENT);
	/* Linux matches on relid and open id against an open in flight. */
	if (ch->state != CHAN_OPENING || !ch->open_posted || r->openid != ch->relid)
		return client_drop(cli, CVMBUS_MSG_OPEN_CHANNEL_RESULT,
				   CVMBUS_CLIENT_DROP_UNEXPECTED, r->child_relid, -EPROTO);
	if (r->status != CVMBUS_STATUS_SUCCESS) {
		cvmbus_log_warn("client: open of relid %u failed, status 0x%x", ch->relid,
				r->status);
		client_open_failed(cli, ch, -EAGAIN);
		return 0;
	}
	ch->state = CHAN_OPEN;
	client_chan_set_deadline(cli, ch, CLIENT_NEVER);
	client_emit_simple(cli, CVMBUS_CLIENT_EV_OPEN_DONE, 0, ch->relid, 0);
	return 0;
}

/* ---- Close ----------------------------------------------------------------------- */

static int client_close_start(struct cvmbus_client *cli, struct client_channel *ch)
{
	struct cvmbus_wire_msg m;
	int rc;

	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_CLOSE_CHANNEL);
	m.u.close_channel.child_relid = ch->relid;
	rc = client_send(cli, &m, cli->msg_conn_id, ch->relid, 0, true);
	if (rc < 0)
		return rc;
	ch->state = CHAN_CLOSING;
	return 0;
}

int cvmbus_client_close(struct cvmbus_client *cli, uint32_t relid)
{
	struct client_channel *ch;
	int rc;

	if (!cli)
		return -EINVAL;
	if (cli->state != CVMBUS_CLIENT_CONNECTED)
		return -ENOTCONN;
	ch = client_chan_get(cli, relid);
	if (!ch)
		return -ENOENT;
	if (ch->state == CHAN_CLOSED)
		return -EINVAL;
	if (ch->state != CHAN_OPEN)
		return -EBUSY;
	rc = client_close_start(cli, ch);
	if (rc < 0)
		return rc;
	client_run(cli);
	return 0;
}

/* ---- Rescind and release ------------------------------------------------------- */

int client_on_rescind(struct cvmbus_client *cli, uint32_t relid)
{
	struct client_channel *ch = client_chan_get(cli, relid);

	if (!ch)
		return client_drop(cli, CVMBUS_MSG_RESCIND_CHANNEL_OFFER,
				   CVMBUS_CLIENT_DROP_UNKNOWN_RELID, relid, -ENOENT);
	if (ch->rescinded)
		return client_drop(cli, CVMBUS_MSG_RESCIND_CHANNEL_OFFER,
				   CVMBUS_CLIENT_DROP_UNEXPECTED, relid, -EPROTO);
	ch->rescinded = true;
	client_emit_simple(cli, CVMBUS_CLIENT_EV_RESCIND, 0, relid, 0);

	/* vmbus_rescind_cleanup() wakes every wait on the channel: a GPADL
	 * being created fails with -ENODEV (its pages go private and back),
	 * an open waiting for its result fails and tears its ring down. */
	client_gpadl_fail_creating_for(cli, relid, -ENODEV);
	if (ch->state == CHAN_OPENING)
		client_open_failed(cli, ch, -ENODEV);
	return 0;
}

int cvmbus_client_release(struct cvmbus_client *cli, uint32_t relid)
{
	struct client_channel *ch;

	if (!cli)
		return -EINVAL;
	if (cli->state != CVMBUS_CLIENT_CONNECTED)
		return -ENOTCONN;
	ch = client_chan_get(cli, relid);
	if (!ch)
		return -ENOENT;
	/* The host owns the relid until it rescinds the offer. */
	if (!ch->rescinded)
		return -EINVAL;
	if (ch->release_requested)
		return -EALREADY;
	ch->release_requested = true;
	cli->release_pending++;
	client_run(cli);
	return 0;
}

/* One step towards RelIdReleased for a channel whose release was asked;
 * true if anything changed. The channel may be freed. */
static bool client_chan_release_step(struct cvmbus_client *cli, struct client_channel *ch)
{
	struct cvmbus_wire_msg m;
	uint32_t relid = ch->relid;
	bool moved = false;

	if (ch->state == CHAN_OPEN) {
		if (client_close_start(cli, ch) < 0)
			return false; /* no memory: the next run tries again */
		return true;
	}
	if (ch->state != CHAN_CLOSED)
		return false; /* an open or close is still settling */
	moved = client_gpadl_teardown_buffers_of(cli, relid);
	if (client_gpadl_any_for(cli, relid))
		return moved;

	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_RELID_RELEASED);
	m.u.relid_released.child_relid = relid;
	if (client_send(cli, &m, cli->msg_conn_id, relid, 0, true) < 0)
		return moved;
	client_chan_set_deadline(cli, ch, CLIENT_NEVER);
	cli->chan[relid] = NULL;
	cli->nchan--;
	cli->release_pending--;
	free(ch);
	client_emit_simple(cli, CVMBUS_CLIENT_EV_RELEASED, 0, relid, 0);
	return true;
}

bool client_chan_settle(struct cvmbus_client *cli)
{
	bool moved = false;

	if (!cli->release_pending || cli->state != CVMBUS_CLIENT_CONNECTED)
		return false;
	for (uint32_t r = 1; r <= CVMBUS_CLIENT_MAX_RELID && cli->release_pending; r++) {
		struct client_channel *ch = cli->chan[r];

		if (ch && ch->release_requested)
			moved |= client_chan_release_step(cli, ch);
	}
	return moved;
}

void client_chan_forget_all(struct cvmbus_client *cli)
{
	for (uint32_t r = 0; r <= CVMBUS_CLIENT_MAX_RELID; r++) {
		free(cli->chan[r]);
		cli->chan[r] = NULL;
	}
	cli->nchan = 0;
	cli->release_pending = 0;
	cli->chan_timed = 0;
}

/* ---- Outbox outcomes and deadlines ------------------------------------------ */

void client_chan_posted(struct cvmbus_client *cli, const struct client_out *o)
{
	struct client_channel *ch = client_chan_get(cli, o->relid);

	if (!ch)
		return;
	switch (o->msgtype) {
	case CVMBUS_MSG_OPEN_CHANNEL:
		if (ch->state == CHAN_OPENING) {
			ch->open_posted = true;
			client_chan_set_deadline(cli, ch,
						 client_deadline(cli, cli->cfg.reply_timeout_ns));
		}
		break;
	case CVMBUS_MSG_CLOSE_CHANNEL:
		/* vmbus_close_internal(): the ring GPADL goes only after the
		 * close went out. */
		if (ch->state == CHAN_CLOSING && ch->foreign && !ch->ring) {
			/* CloseChannel has no answer; the ring GPADL is its
			 * owner's to tear down. */
			ch->state = CHAN_CLOSED;
			client_emit_simple(cli, CVMBUS_CLIENT_EV_CLOSE_DONE, 0, ch->relid, 0);
		} else if (ch->state == CHAN_CLOSING && ch->ring &&
			   client_gpadl_teardown_start(cli, ch->ring) < 0) {
			client_gpadl_leak(cli, ch->ring);
			client_chan_ring_gone(cli, ch, -ENOMEM);
		}
		break;
	default:
		break;
	}
}

void client_chan_post_failed(struct cvmbus_client *cli, const struct client_out *o, int err)
{
	struct client_channel *ch = client_chan_get(cli, o->relid);

	switch (o->msgtype) {
	case CVMBUS_MSG_OPEN_CHANNEL:
		if (ch && ch->state == CHAN_OPENING)
			client_open_failed(cli, ch, err);
		break;
	case CVMBUS_MSG_CLOSE_CHANNEL:
		/* Linux: "if we failed to post the close msg, it is perhaps
		 * better to leak memory" - the host may still use the ring. */
		if (ch && ch->state == CHAN_CLOSING && ch->foreign && !ch->ring) {
			ch->state = CHAN_CLOSED;
			client_emit_simple(cli, CVMBUS_CLIENT_EV_CLOSE_DONE, err, ch->relid, 0);
		} else if (ch && ch->state == CHAN_CLOSING && ch->ring) {
			client_gpadl_leak(cli, ch->ring);
			client_chan_ring_gone(cli, ch, err);
		}
		break;
	case CVMBUS_MSG_RELID_RELEASED:
		cvmbus_log_warn("client: relid_released for %u not delivered (%d)", o->relid, err);
		break;
	default:
		break;
	}
}

void client_chan_set_deadline(struct cvmbus_client *cli, struct client_channel *ch,
			      uint64_t deadline)
{
	bool was = ch->deadline != CLIENT_NEVER, is = deadline != CLIENT_NEVER;

	cli->chan_timed += (uint32_t)is - (uint32_t)was;
	ch->deadline = deadline;
}

void client_chan_expire(struct cvmbus_client *cli)
{
	uint32_t left = cli->chan_timed;

	/* Only as far as the last channel with a deadline running. */
	for (uint32_t r = 1; r <= CVMBUS_CLIENT_MAX_RELID && left; r++) {
		struct client_channel *ch = cli->chan[r];

		if (!ch || ch->deadline == CLIENT_NEVER)
			continue;
		left--;
		if (ch->state == CHAN_OPENING && cli->now >= ch->deadline) {
			cli->stats.timeouts++;
			cvmbus_log_warn("client: no open result for relid %u", r);
			client_open_failed(cli, ch, -ETIMEDOUT);
		}
	}
}

/* ---- Introspection --------------------------------------------------------------- */

static enum cvmbus_client_channel_state client_public_state(enum client_chan_state s)
{
	switch (s) {
	case CHAN_CLOSED: return CVMBUS_CLIENT_CHAN_CLOSED;
	case CHAN_OPEN_GPADL:
	case CHAN_OPENING: return CVMBUS_CLIENT_CHAN_OPENING;
	case CHAN_OPEN: return CVMBUS_CLIENT_CHAN_OPEN;
	case CHAN_OPEN_FAILING:
	case CHAN_CLOSING: return CVMBUS_CLIENT_CHAN_CLOSING;
	}
	return CVMBUS_CLIENT_CHAN_CLOSED;
}

int cvmbus_client_channel_info(const struct cvmbus_client *cli, uint32_t relid,
			       struct cvmbus_client_channel_info *out)
{
	const struct client_channel *ch;

	if (!cli || !out)
		return -EINVAL;
	ch = client_chan_get(cli, relid);
	if (!ch)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->relid = relid;
	out->offer = ch->offer;
	out->state = client_public_state(ch->state);
	out->rescinded = ch->rescinded;
	out->confidential_ring = ch->co_ring;
	out->confidential_external = ch->co_external;
	out->target_vp = ch->target_vp;
	if (ch->ring) {
		out->ring_gpadl = ch->ring->handle;
		out->ring_gpa = ch->ring->gpa;
		out->send_bytes = ch->send_pages * HV_PAGE_SIZE;
		out->recv_bytes = ch->recv_pages * HV_PAGE_SIZE;
		out->ring_shared = ch->ring->shared;
	} else if (ch->foreign && ch->state != CHAN_CLOSED) {
		const struct client_gpadl *g = client_gpadl_find(cli, ch->foreign_gpadl);

		out->foreign_ring = true;
		out->ring_gpadl = ch->foreign_gpadl;
		out->ring_gpa = g ? g->gpa : 0;
		out->send_bytes = ch->send_pages * HV_PAGE_SIZE;
		out->recv_bytes = ch->recv_pages * HV_PAGE_SIZE;
	}
	return 0;
}
