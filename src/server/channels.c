/* SPDX-License-Identifier: MIT */
/*
 * Channels of the VMBus server (src/server): offers and relids, the stable
 * order of RequestOffers, rescind and RelIdReleased, and each channel's
 * device-side state machine driven by OpenChannel / CloseChannel /
 * ModifyChannel from its owning client and by the device's completions:
 *
 *   CLOSED --open--> OPENING --open_complete(ok)--> OPEN --close--> CLOSING
 *   OPENING --open_complete(fail)--> CLOSED      CLOSING --close_complete--> CLOSED
 *   CLOSING --open--> CLOSING_REOPEN --close_complete--> (open again)
 *   owner releases: OPENING -> OPENING_RELEASED, OPEN/CLOSING* -> CLOSING_RELEASED,
 *   both end in CLOSED through the device without a word to the client.
 *
 * Each client separately holds an offer (NONE, SENT, RESCINDED); a channel
 * is opened by at most one client at a time; relids are server-wide so they
 * stay unique across clients and SynICs. Facts from OpenVMM channels.rs
 * (revoke, client_release_channel, send_offer, handle_request_offers).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

/* ---- Helpers ------------------------------------------------------------- */

void srv_chan_own(struct cvmbus_server *srv, struct srv_channel *ch, struct srv_client *cl)
{
	(void)srv;
	ch->owner = (int)cl->index;
	cl->nowned++;
}

struct srv_client *srv_chan_disown(struct cvmbus_server *srv, struct srv_channel *ch)
{
	struct srv_client *cl;

	if (ch->owner < 0)
		return NULL;
	cl = &srv->clients[ch->owner];
	cl->nowned--;
	ch->owner = -1;
	ch->state = CVMBUS_SERVER_CHAN_CLOSED;
	ch->modifying = false;
	ch->modify_pending = false;
	return cl;
}

struct srv_channel *srv_channel_of(struct cvmbus_server *srv, const struct srv_client *cl,
				   uint32_t relid)
{
	struct srv_channel *ch;

	if (relid == 0 || relid > CVMBUS_SERVER_MAX_RELID)
		return NULL;
	ch = srv->chan[relid];
	if (!ch || ch->offer_state[cl->index] == CVMBUS_SERVER_OFFER_NONE)
		return NULL;
	return ch;
}

/* OpenVMM (OpenRequest::new): a channel is confidential for a connection
 * only if the connection negotiated confidential_channels and the offer
 * carries the flag. */
bool srv_channel_confidential_ring(const struct srv_channel *ch, const struct srv_client *cl)
{
	return (cl->conn.features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS) &&
	       (ch->offer.flags & CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER);
}

bool srv_channel_confidential_ext(const struct srv_channel *ch, const struct srv_client *cl)
{
	return (cl->conn.features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS) &&
	       (ch->offer.flags & CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY);
}

static bool srv_channel_held(const struct srv_channel *ch)
{
	for (unsigned i = 0; i < CVMBUS_SERVER_MAX_CLIENTS; i++) {
		if (ch->offer_state[i] != CVMBUS_SERVER_OFFER_NONE)
			return true;
	}
	return false;
}

bool srv_channel_maybe_free(struct cvmbus_server *srv, struct srv_channel *ch)
{
	if (!ch->rescinded || ch->owner >= 0 || srv_channel_held(ch))
		return false;
	/* Nobody can name this relid any more: it may be handed out again. */
	srv->chan[ch->relid] = NULL;
	srv->nchannels--;
	free(ch);
	return true;
}

void srv_channel_free_all(struct cvmbus_server *srv)
{
	for (uint32_t r = 0; r <= CVMBUS_SERVER_MAX_RELID; r++) {
		free(srv->chan[r]);
		srv->chan[r] = NULL;
	}
	srv->nchannels = 0;
}

/* ---- Offers -------------------------------------------------------------- */

static void srv_send_offer(struct cvmbus_server *srv, struct srv_client *cl,
			   struct srv_channel *ch)
{
	struct cvmbus_wire_msg m;
	struct cvmbus_msg_offer_channel *o;
	uint16_t flags = ch->offer.flags;

	/* OpenVMM send_offer: the confidential flags mean nothing to, and
	 * must never reach, a connection without confidential_channels (a
	 * Linux guest drops such an offer); pinning likewise needs
	 * gpa_pinning, which this server never grants. */
	if (!(cl->conn.features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS))
		flags &= (uint16_t)~(CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
				     CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY);
	if (!(cl->conn.features & CVMBUS_FEATURE_GPA_PINNING))
		flags &= (uint16_t)~CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY;

	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_OFFER_CHANNEL);
	o = &m.u.offer_channel;
	o->if_type = ch->offer.interface_id;
	o->if_instance = ch->offer.instance_id;
	o->flags = flags;
	o->mmio_megabytes = ch->offer.mmio_megabytes;
	memcpy(o->user_defined, ch->offer.user_defined, sizeof(o->user_defined));
	o->sub_channel_index = ch->offer.subchannel_index;
	o->mmio_megabytes_optional = ch->offer.mmio_megabytes_optional;
	o->child_relid = ch->relid;
	/* No monitored notification: OpenVMM sends id 0xff, not allocated. */
	o->monitor_id = 0xFF;
	o->monitor_allocated = 0;
	/* Every channel has its own interrupt since 2.4 (Win8). */
	o->is_dedicated_interrupt = 1;
	o->connection_id = ch->connection_id;
	ch->offer_state[cl->index] = CVMBUS_SERVER_OFFER_SENT;
	srv_send(srv, cl, &m);
}

static bool srv_guid_eq(const struct cvmbus_guid *a, const struct cvmbus_guid *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

int srv_offer(struct cvmbus_server *srv, const struct cvmbus_offer_params *p, uint32_t *relid)
{
	struct srv_channel *ch;
	uint16_t flags = p->flags;
	uint32_t r;

	if (flags & (uint16_t)~CVMBUS_OFFER_KNOWN_FLAGS)
		return -EINVAL;
	/* A local device can always keep its ring in private memory; whether
	 * it can DMA into private memory is its own statement. A relayed offer
	 * comes from the host and keeps exactly the flags the relay chose. */
	if (!p->keep_flags)
		flags |= CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER;
	if ((flags & CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY) &&
	    !(flags & CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER))
		return -EINVAL;

	for (r = 1; r <= CVMBUS_SERVER_MAX_RELID; r++) {
		const struct srv_channel *o = srv->chan[r];

		/* A rescinded offer the clients still hold is not a live one:
		 * the device may come back under the same key. */
		if (o && !o->rescinded && srv_guid_eq(&o->offer.interface_id, &p->interface_id) &&
		    srv_guid_eq(&o->offer.instance_id, &p->instance_id) &&
		    o->offer.subchannel_index == p->subchannel_index)
			return -EEXIST;
	}
	/* The lowest free relid, so that a fixed set of devices gets the same
	 * relids on every boot. */
	for (r = srv->cfg.relid_min; r <= srv->cfg.relid_max; r++) {
		if (!srv->chan[r])
			break;
	}
	if (r > srv->cfg.relid_max)
		return -ENOSPC;

	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->relid = r;
	ch->connection_id = srv->cfg.channel_connection_base + r;
	ch->offer = *p;
	ch->offer.flags = flags;
	ch->state = CVMBUS_SERVER_CHAN_CLOSED;
	ch->owner = -1;
	srv->chan[r] = ch;
	srv->nchannels++;

	/* Hot add: clients that already have their list get it now; those
	 * still negotiating get it with RequestOffers. */
	for (unsigned i = 0; i < srv->cfg.max_clients; i++) {
		struct srv_client *cl = &srv->clients[i];

		if (cl->used && cl->state == CVMBUS_SERVER_CONN_CONNECTED)
			srv_send_offer(srv, cl, ch);
	}
	*relid = r;
	return 0;
}

static int srv_guid_cmp(const struct cvmbus_guid *a, const struct cvmbus_guid *b)
{
	if (a->data1 != b->data1)
		return a->data1 < b->data1 ? -1 : 1;
	if (a->data2 != b->data2)
		return a->data2 < b->data2 ? -1 : 1;
	if (a->data3 != b->data3)
		return a->data3 < b->data3 ? -1 : 1;
	return memcmp(a->data4, b->data4, sizeof(a->data4));
}

/* OpenVMM's key: (interface id, offer order, instance id), GUIDs compared
 * field by field. Sub-channel index and relid only break ties, so that the
 * order is total and the same on every run. */
static int srv_offer_cmp(const void *pa, const void *pb)
{
	const struct srv_channel *a = *(const struct srv_channel *const *)pa;
	const struct srv_channel *b = *(const struct srv_channel *const *)pb;
	int c;

	c = srv_guid_cmp(&a->offer.interface_id, &b->offer.interface_id);
	if (c)
		return c;
	if (a->offer.offer_order != b->offer.offer_order)
		return a->offer.offer_order < b->offer.offer_order ? -1 : 1;
	c = srv_guid_cmp(&a->offer.instance_id, &b->offer.instance_id);
	if (c)
		return c;
	if (a->offer.subchannel_index != b->offer.subchannel_index)
		return a->offer.subchannel_index < b->offer.subchannel_index ? -1 : 1;
	return a->relid < b->relid ? -1 : (a->relid > b->relid ? 1 : 0);
}

int srv_handle_request_offers(struct cvmbus_server *srv, struct srv_client *cl)
{
	struct srv_channel *list[CVMBUS_SERVER_MAX_RELID];
	struct cvmbus_wire_msg m;
	size_t n = 0;

	if (cl->state != CVMBUS_SERVER_CONN_NEGOTIATED)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_OFFERS_ALREADY_SENT,
				  "request_offers", NULL);
	for (uint32_t r = srv->cfg.relid_min; r <= srv->cfg.relid_max; r++) {
		if (srv->chan[r] && !srv->chan[r]->rescinded)
			list[n++] = srv->chan[r];
	}
	qsort(list, n, sizeof(list[0]), srv_offer_cmp);
	for (size_t i = 0; i < n; i++)
		srv_send_offer(srv, cl, list[i]);
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_ALL_OFFERS_DELIVERED);
	srv_send(srv, cl, &m);
	cl->state = CVMBUS_SERVER_CONN_CONNECTED;
	return 0;
}

/* ---- Rescind and release ------------------------------------------------- */

int srv_rescind(struct cvmbus_server *srv, uint32_t relid)
{
	struct srv_channel *ch;
	struct cvmbus_wire_msg m;

	if (relid == 0 || relid > CVMBUS_SERVER_MAX_RELID || !srv->chan[relid])
		return -ENOENT;
	ch = srv->chan[relid];
	if (ch->rescinded)
		return -EALREADY;
	ch->rescinded = true;
	/* The device is gone and completes nothing more: whatever it was in
	 * the middle of ends here. The owner learns it from the rescind (an
	 * OPENING client gets no OpenResult, as with OpenVMM's Revoked). */
	(void)srv_chan_disown(srv, ch);
	srv_gpadls_rescind(srv, ch);
	for (unsigned i = 0; i < srv->cfg.max_clients; i++) {
		struct srv_client *cl = &srv->clients[i];

		if (!cl->used || ch->offer_state[i] != CVMBUS_SERVER_OFFER_SENT)
			continue;
		ch->offer_state[i] = CVMBUS_SERVER_OFFER_RESCINDED;
		cvmbus_wire_msg_init(&m, CVMBUS_WIRE_RESCIND_CHANNEL_OFFER);
		m.u.rescind_channel_offer.child_relid = relid;
		srv_send(srv, cl, &m);
	}
	(void)srv_channel_maybe_free(srv, ch);
	/* A client waiting to disconnect may have waited on this device. */
	for (unsigned i = 0; i < srv->cfg.max_clients; i++) {
		if (srv->clients[i].used)
			(void)srv_check_disconnected(srv, &srv->clients[i]);
	}
	return 0;
}

bool srv_release_channel(struct cvmbus_server *srv, struct srv_client *cl,
			 struct srv_channel *ch)
{
	if (ch->owner == (int)cl->index) {
		switch (ch->state) {
		case CVMBUS_SERVER_CHAN_OPENING:
			ch->state = CVMBUS_SERVER_CHAN_OPENING_RELEASED;
			break;
		case CVMBUS_SERVER_CHAN_OPEN:
			ch->state = CVMBUS_SERVER_CHAN_CLOSING_RELEASED;
			ch->modify_pending = false;
			if (srv->n.close_channel)
				srv->n.close_channel(srv->n.ctx, cl->key, ch->relid);
			break;
		case CVMBUS_SERVER_CHAN_CLOSING:
		case CVMBUS_SERVER_CHAN_CLOSING_REOPEN:
			ch->state = CVMBUS_SERVER_CHAN_CLOSING_RELEASED;
			break;
		default:
			break;
		}
	}
	ch->offer_state[cl->index] = CVMBUS_SERVER_OFFER_NONE;
	srv_gpadls_release(srv, cl, ch);
	return srv_channel_maybe_free(srv, ch);
}

int srv_handle_relid_released(struct cvmbus_server *srv, struct srv_client *cl,
			      const struct cvmbus_wire_msg *m)
{
	uint32_t relid = m->u.relid_released.child_relid;
	struct srv_channel *ch = srv_channel_of(srv, cl, relid);

	if (!ch)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_UNKNOWN_RELID, "relid_released",
				  "relid %u", relid);
	/* Releasing a channel the client is using (or just asked to use) is a
	 * client bug; a CLOSING one is fine, the close needs no answer. */
	if (ch->owner == (int)cl->index && (ch->state == CVMBUS_SERVER_CHAN_OPENING ||
					    ch->state == CVMBUS_SERVER_CHAN_OPEN ||
					    ch->state == CVMBUS_SERVER_CHAN_CLOSING_REOPEN))
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_CHANNEL_STATE, "relid_released",
				  "relid %u is %s", relid, cvmbus_server_chan_state_name(ch->state));
	(void)srv_release_channel(srv, cl, ch);
	return 0;
}

/* ---- Open and close ------------------------------------------------------ */

static void srv_send_open_result(struct cvmbus_server *srv, const struct srv_client *cl,
				 uint32_t relid, uint32_t open_id, uint32_t status)
{
	struct cvmbus_wire_msg m;

	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_OPEN_CHANNEL_RESULT);
	m.u.open_result.child_relid = relid;
	m.u.open_result.openid = open_id;
	m.u.open_result.status = status;
	srv_send(srv, cl, &m);
}

/* CLOSED -> OPENING, after checking the ring GPADL: it must be this
 * client's, on this channel, accepted by the device, and the downstream
 * offset must leave at least one page to each ring. A bad one is answered
 * with a failed OpenResult rather than handed to the device. */
static int srv_start_open(struct cvmbus_server *srv, struct srv_client *cl,
			  struct srv_channel *ch, const struct srv_open *req)
{
	struct cvmbus_server_open_request o;
	const struct srv_gpadl *g = srv_gpadl_find(cl, req->ring_gpadl_id);

	if (!g || g->relid != ch->relid || g->state != CVMBUS_SERVER_GPADL_ACCEPTED ||
	    req->downstream_page_offset == 0 || req->downstream_page_offset >= g->npages) {
		srv_send_open_result(srv, cl, ch->relid, req->open_id, CVMBUS_STATUS_UNSUCCESSFUL);
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_BAD_RING_GPADL, "open_channel",
				  "relid %u gpadl %#x offset %u", ch->relid, req->ring_gpadl_id,
				  req->downstream_page_offset);
	}
	ch->open = *req;
	ch->open.ring_gpadl_pages = g->npages;
	srv_chan_own(srv, ch, cl);
	ch->state = CVMBUS_SERVER_CHAN_OPENING;

	if (!srv->n.open_channel)
		return 0;
	memset(&o, 0, sizeof(o));
	o.client = cl->key;
	o.relid = ch->relid;
	o.open_id = req->open_id;
	o.ring_gpadl_id = req->ring_gpadl_id;
	o.ring_gpadl_pages = g->npages;
	o.downstream_page_offset = req->downstream_page_offset;
	o.target_vp = req->target_vp;
	memcpy(o.user_data, req->user_data, sizeof(o.user_data));
	/* OpenVMM OpenParams::from_request: without guest-chosen parameters
	 * the device signals the offer's connection id with the relid as the
	 * event flag. */
	o.guest_specified_signal = req->guest_specified_signal;
	o.connection_id = req->guest_specified_signal ? req->connection_id : ch->connection_id;
	o.event_flag = req->guest_specified_signal ? req->event_flag : (uint16_t)ch->relid;
	o.redirect_interrupt = req->redirect_interrupt;
	o.version = cl->conn.version;
	o.features = cl->conn.features;
	o.confidential_ring = srv_channel_confidential_ring(ch, cl);
	o.confidential_external_memory = srv_channel_confidential_ext(ch, cl);
	o.target = cl->target;
	srv->n.open_channel(srv->n.ctx, &o);
	return 0;
}

int srv_handle_open(struct cvmbus_server *srv, struct srv_client *cl,
		    const struct cvmbus_wire_msg *m)
{
	const struct cvmbus_msg_open_channel *oc = &m->u.open_channel;
	struct srv_channel *ch = srv_channel_of(srv, cl, oc->child_relid);
	struct srv_open req;

	if (!ch)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_UNKNOWN_RELID, "open_channel",
				  "relid %u", oc->child_relid);
	/* OpenVMM ignores an open of a revoked channel: the client is about
	 * to process the rescind and will release it. */
	if (ch->offer_state[cl->index] == CVMBUS_SERVER_OFFER_RESCINDED)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_CHANNEL_RESCINDED, "open_channel",
				  "relid %u", ch->relid);

	memset(&req, 0, sizeof(req));
	req.open_id = oc->openid;
	req.ring_gpadl_id = oc->ringbuffer_gpadl;
	req.target_vp = oc->target_vp;
	req.downstream_page_offset = oc->downstream_ring_page_offset;
	memcpy(req.user_data, oc->user_data, sizeof(req.user_data));
	/* The decoder only lets the 156-byte layout through at 6.0 with one of
	 * the two features; each extra field counts only with its feature. */
	if (m->variant == CVMBUS_WIRE_OPEN_CHANNEL2) {
		const struct cvmbus_msg_open_channel2 *o2 = &m->u.open_channel2;

		if (cl->conn.features & CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS) {
			req.guest_specified_signal = true;
			req.connection_id = o2->connection_id;
			req.event_flag = o2->event_flag;
		}
		if (cl->conn.features & CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION)
			req.redirect_interrupt = (o2->flags & CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT) != 0;
	}

	if (ch->owner >= 0 && ch->owner != (int)cl->index) {
		srv_send_open_result(srv, cl, ch->relid, req.open_id, CVMBUS_STATUS_UNSUCCESSFUL);
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_CHANNEL_BUSY, "open_channel",
				  "relid %u owned by client %u", ch->relid,
				  srv->clients[ch->owner].key);
	}
	if (ch->owner == (int)cl->index) {
		/* There is no close response, so a client may reopen before the
		 * device finished closing: remember it (OpenVMM ClosingReopen). */
		if (ch->state == CVMBUS_SERVER_CHAN_CLOSING) {
			ch->state = CVMBUS_SERVER_CHAN_CLOSING_REOPEN;
			ch->reopen = req;
			return 0;
		}
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_CHANNEL_ALREADY_OPEN,
				  "open_channel", "relid %u is %s", ch->relid,
				  cvmbus_server_chan_state_name(ch->state));
	}
	return srv_start_open(srv, cl, ch, &req);
}

int srv_handle_close(struct cvmbus_server *srv, struct srv_client *cl,
		     const struct cvmbus_wire_msg *m)
{
	uint32_t relid = m->u.close_channel.child_relid;
	struct srv_channel *ch = srv_channel_of(srv, cl, relid);

	if (!ch)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_UNKNOWN_RELID, "close_channel",
				  "relid %u", relid);
	/* Linux closes a rescinded channel on its way to releasing it; there
	 * is no device left to tell, and nothing is wrong. */
	if (ch->offer_state[cl->index] == CVMBUS_SERVER_OFFER_RESCINDED)
		return 0;
	if (ch->owner != (int)cl->index || ch->state != CVMBUS_SERVER_CHAN_OPEN)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_CHANNEL_NOT_OPEN, "close_channel",
				  "relid %u is %s", relid, cvmbus_server_chan_state_name(ch->state));
	ch->state = CVMBUS_SERVER_CHAN_CLOSING;
	ch->modify_pending = false;
	if (srv->n.close_channel)
		srv->n.close_channel(srv->n.ctx, cl->key, relid);
	return 0;
}

/* ---- Modify -------------------------------------------------------------- */

static void srv_send_modify_response(struct cvmbus_server *srv, const struct srv_client *cl,
				     uint32_t relid, uint32_t status)
{
	struct cvmbus_wire_msg m;

	/* Before 5.3 the client gets no answer and cannot tell when the
	 * change took effect. */
	if (cl->conn.version < CVMBUS_VERSION_5_3)
		return;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_MODIFY_CHANNEL_RESPONSE);
	m.u.modify_channel_response.child_relid = relid;
	m.u.modify_channel_response.status = status;
	srv_send(srv, cl, &m);
}

static void srv_start_modify(struct cvmbus_server *srv, struct srv_channel *ch,
			     struct srv_client *cl, uint32_t target_vp)
{
	/* Later opens after a reconnect do not inherit it, but the device and
	 * any re-notification see the new target. */
	ch->open.target_vp = target_vp;
	ch->modifying = true;
	if (srv->n.modify_channel)
		srv->n.modify_channel(srv->n.ctx, cl->key, ch->relid, target_vp);
}

int srv_handle_modify_channel(struct cvmbus_server *srv, struct srv_client *cl,
			      const struct cvmbus_wire_msg *m)
{
	uint32_t relid = m->u.modify_channel.child_relid;
	uint32_t vp = m->u.modify_channel.target_vp;
	struct srv_channel *ch = srv_channel_of(srv, cl, relid);
	enum cvmbus_server_reject why;

	if (!ch) {
		why = CVMBUS_SERVER_REJ_UNKNOWN_RELID;
		goto refuse;
	}
	if (ch->offer_state[cl->index] == CVMBUS_SERVER_OFFER_RESCINDED) {
		why = CVMBUS_SERVER_REJ_CHANNEL_RESCINDED;
		goto refuse;
	}
	if (ch->owner != (int)cl->index || ch->state != CVMBUS_SERVER_CHAN_OPEN) {
		why = CVMBUS_SERVER_REJ_CHANNEL_STATE;
		goto refuse;
	}
	if (ch->modifying) {
		/* From 5.3 the client must wait for the response; before, it
		 * cannot know, so the newest target is applied afterwards. */
		if (cl->conn.version >= CVMBUS_VERSION_5_3)
			return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_MODIFY_BUSY,
					  "modify_channel", "relid %u", relid);
		ch->modify_pending = true;
		ch->modify_pending_vp = vp;
		return 0;
	}
	srv_start_modify(srv, ch, cl, vp);
	return 0;

refuse:
	/* OpenVMM answers every refused modify with a failure status. */
	srv_send_modify_response(srv, cl, relid, CVMBUS_STATUS_UNSUCCESSFUL);
	return srv_reject(srv, cl->key, why, "modify_channel", "relid %u", relid);
}

/* ---- Device completions -------------------------------------------------- */

static struct srv_channel *srv_device_channel(struct cvmbus_server *srv, uint32_t relid)
{
	if (relid == 0 || relid > CVMBUS_SERVER_MAX_RELID)
		return NULL;
	return srv->chan[relid];
}

int srv_open_complete(struct cvmbus_server *srv, uint32_t relid, uint32_t status)
{
	struct srv_channel *ch = srv_device_channel(srv, relid);
	struct srv_client *cl;

	if (!ch) {
		srv_reject(srv, CVMBUS_SERVER_NO_CLIENT, CVMBUS_SERVER_REJ_DEVICE, "open_complete",
			   "no relid %u", relid);
		return -ENOENT;
	}
	switch (ch->state) {
	case CVMBUS_SERVER_CHAN_OPENING:
		cl = &srv->clients[ch->owner];
		srv_send_open_result(srv, cl, relid, ch->open.open_id, status);
		if (srv_nt_success(status))
			ch->state = CVMBUS_SERVER_CHAN_OPEN;
		else
			(void)srv_chan_disown(srv, ch);
		return 0;
	case CVMBUS_SERVER_CHAN_OPENING_RELEASED:
		/* Nobody wants it any more: undo a successful open quietly. */
		if (srv_nt_success(status)) {
			ch->state = CVMBUS_SERVER_CHAN_CLOSING_RELEASED;
			if (srv->n.close_channel)
				srv->n.close_channel(srv->n.ctx, srv->clients[ch->owner].key, relid);
			return 0;
		}
		cl = srv_chan_disown(srv, ch);
		(void)srv_check_disconnected(srv, cl);
		return 0;
	default:
		return srv_reject(srv, CVMBUS_SERVER_NO_CLIENT, CVMBUS_SERVER_REJ_DEVICE,
				  "open_complete", "relid %u is %s", relid,
				  cvmbus_server_chan_state_name(ch->state));
	}
}

int srv_close_complete(struct cvmbus_server *srv, uint32_t relid)
{
	struct srv_channel *ch = srv_device_channel(srv, relid);
	struct srv_client *cl;
	struct srv_open req;

	if (!ch) {
		srv_reject(srv, CVMBUS_SERVER_NO_CLIENT, CVMBUS_SERVER_REJ_DEVICE, "close_complete",
			   "no relid %u", relid);
		return -ENOENT;
	}
	switch (ch->state) {
	case CVMBUS_SERVER_CHAN_CLOSING:
		(void)srv_chan_disown(srv, ch);
		return 0;
	case CVMBUS_SERVER_CHAN_CLOSING_REOPEN:
		req = ch->reopen;
		cl = srv_chan_disown(srv, ch);
		/* A refused reopen was answered with OpenResult; the device call
		 * itself succeeded. */
		(void)srv_start_open(srv, cl, ch, &req);
		return 0;
	case CVMBUS_SERVER_CHAN_CLOSING_RELEASED:
		cl = srv_chan_disown(srv, ch);
		(void)srv_check_disconnected(srv, cl);
		return 0;
	default:
		return srv_reject(srv, CVMBUS_SERVER_NO_CLIENT, CVMBUS_SERVER_REJ_DEVICE,
				  "close_complete", "relid %u is %s", relid,
				  cvmbus_server_chan_state_name(ch->state));
	}
}

int srv_modify_complete(struct cvmbus_server *srv, uint32_t relid, uint32_t status)
{
	struct srv_channel *ch = srv_device_channel(srv, relid);
	struct srv_client *cl;

	if (!ch) {
		srv_reject(srv, CVMBUS_SERVER_NO_CLIENT, CVMBUS_SERVER_REJ_DEVICE, "modify_complete",
			   "no relid %u", relid);
		return -ENOENT;
	}
	if (!ch->modifying)
		return srv_reject(srv, CVMBUS_SERVER_NO_CLIENT, CVMBUS_SERVER_REJ_DEVICE,
				  "modify_complete", "relid %u has no modify pending", relid);
	ch->modifying = false;
	/* A modify overtaken by a close: the client no longer waits for it. */
	if (ch->state != CVMBUS_SERVER_CHAN_OPEN)
		return 0;
	cl = &srv->clients[ch->owner];
	srv_send_modify_response(srv, cl, relid, status);
	if (ch->modify_pending) {
		ch->modify_pending = false;
		srv_start_modify(srv, ch, cl, ch->modify_pending_vp);
	}
	return 0;
}
