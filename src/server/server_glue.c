/* SPDX-License-Identifier: MIT */
/*
 * The server glue (include/cvmbus/server_glue.h; layer: src/server, above
 * the pure server and src/hw, src/channel, src/exec):
 * message ports in, replies out through the role's SynIC (or the relay's
 * port), a queue of the work the pure server asks for, the devices behind
 * the offers, and the lifecycle. The memory rules and the channel
 * operations are in server_glue_mem.c.
 *
 * Why a work queue: the server refuses re-entry, so a notifier callback
 * only records what was asked (check this GPADL, open that channel) and the
 * glue does it right after the server call returns, on the same thread and
 * still under the lock, then delivers the completion, which may queue more
 * work (a close that completes a reopen asks for an open). The relay's
 * completions join the same queue when they are made from inside one of
 * its callbacks.
 *
 * Client keys: a listener says who may post to it. Every guest message is
 * client CVMBUS_SERVER_GLUE_CLIENT_GUEST, whichever port and vCPU it came
 * through; on the host, messages on a relay listener (0x800074) from the
 * paravisor are client CVMBUS_SERVER_GLUE_CLIENT_RELAY and their replies go
 * to the relay's inbound port instead of a SynIC.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>

#include "server/server_glue_internal.h"

/* Only its address is used: a per-thread identity for "do I hold the
 * glue's lock", never written. */
static _Thread_local char sg_thread_key;

static uintptr_t self_key(void)
{
	return (uintptr_t)&sg_thread_key;
}

static const char *role_name(const struct cvmbus_server_glue *g)
{
	return g->role == CVMBUS_SERVER_ROLE_HOST ? "host" : "paravisor";
}

static bool nt_success(uint32_t status)
{
	return !(status & 0x80000000u);
}

static void glue_lock(struct cvmbus_server_glue *g)
{
	cvmbus_mutex_lock(&g->lock);
	atomic_store_explicit(&g->holder, self_key(), memory_order_relaxed);
}

static void glue_unlock(struct cvmbus_server_glue *g)
{
	atomic_store_explicit(&g->holder, 0, memory_order_relaxed);
	cvmbus_mutex_unlock(&g->lock);
}

/* Only the holder itself can see its own key here: every other thread
 * reads 0 or another thread's key. */
static bool held_by_me(struct cvmbus_server_glue *g)
{
	return atomic_load_explicit(&g->holder, memory_order_relaxed) == self_key();
}

static struct sg_chan *chan_of(struct cvmbus_server_glue *g, uint32_t relid)
{
	return relid < SG_RELIDS ? g->chans[relid] : NULL;
}

/* ---- replies ------------------------------------------------------------- */

/* 0, -ENOSPC (queue full: hold and retry), or another negative errno (the
 * reply is lost; the platform traced why). */
static int post_reply(struct cvmbus_server_glue *g, uint32_t client,
		      const struct cvmbus_server_target *t, const void *bytes, uint32_t len)
{
	uint16_t status;
	uint32_t vp;
	int rc;

	if (client == CVMBUS_SERVER_GLUE_CLIENT_RELAY) {
		/* The relay is the paravisor's client: the root partition
		 * posts to the paravisor's inbound port (as OpenVMM replies to
		 * VTL2's redirect SINT). */
		vp = t->vp < cvmbus_platform_vcpus(g->plat) ? t->vp : 0;
		rc = cvmbus_hv_post_message_from(g->plat, CVMBUS_MEM_PARTY_HOST, vp,
						 g->cfg.relay_inbound_connection_id, HVMSG_VMBUS,
						 bytes, len, &status);
		if (rc)
			return rc;
		if (status == HV_STATUS_SUCCESS)
			return 0;
		return status == HV_STATUS_INSUFFICIENT_BUFFERS ? -ENOSPC : -EIO;
	}
	return cvmbus_synic_post(g->plat, g->synic, t->vp, t->sint, HVMSG_VMBUS, bytes, len);
}

static void reply_lost(struct cvmbus_server_glue *g, uint32_t client, int rc)
{
	g->stats.messages_lost++;
	CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "%s glue: reply to client %u lost (%d)", role_name(g),
		      client, rc);
}

/* Post what was held, oldest first, until a queue is full again. lock held. */
static void flush_held(struct cvmbus_server_glue *g)
{
	while (g->held_count) {
		struct sg_held *h = &g->held[g->held_head];
		int rc = post_reply(g, h->client, &h->target, h->bytes, h->len);

		if (rc == -ENOSPC)
			break;
		if (rc == 0)
			g->stats.messages_out++;
		else
			reply_lost(g, h->client, rc);
		g->held_head = (g->held_head + 1) % g->held_cap;
		g->held_count--;
	}
}

static void hold_reply(struct cvmbus_server_glue *g, uint32_t client,
		       const struct cvmbus_server_target *t, const void *bytes, uint32_t len)
{
	struct sg_held *h;

	if (g->held_count == g->held_cap) {
		/* A client that never drains its SINT cannot make us grow. */
		reply_lost(g, client, -ENOSPC);
		return;
	}
	h = &g->held[(g->held_head + g->held_count) % g->held_cap];
	h->client = client;
	h->target = *t;
	h->len = len;
	memcpy(h->bytes, bytes, len);
	g->held_count++;
	g->stats.messages_held++;
	cvmbus_doorbell_ring(&g->bell, SG_BELL_KICK);
}

/* ---- notifier (called by the server, lock held) -------------------------- */

static void push_work(struct cvmbus_server_glue *g, struct sg_work *w)
{
	w->next = NULL;
	if (g->work_tail)
		g->work_tail->next = w;
	else
		g->work_head = w;
	g->work_tail = w;
}

static struct sg_work *new_work(struct cvmbus_server_glue *g, enum sg_work_kind kind)
{
	struct sg_work *w = calloc(1, sizeof(*w));

	if (!w) {
		cvmbus_log_error("%s glue: out of memory: server request %d dropped",
				 role_name(g), (int)kind);
		return NULL;
	}
	w->kind = kind;
	return w;
}

static void n_send_message(void *ctx, uint32_t client, const struct cvmbus_server_target *t,
			   const void *msg, size_t len)
{
	struct cvmbus_server_glue *g = ctx;
	int rc;

	if (len > HV_MESSAGE_PAYLOAD_SIZE) {
		reply_lost(g, client, -EMSGSIZE);
		return;
	}
	/* Order per client is the protocol's: nothing overtakes a held one. */
	flush_held(g);
	if (g->held_count) {
		hold_reply(g, client, t, msg, (uint32_t)len);
		return;
	}
	rc = post_reply(g, client, t, msg, (uint32_t)len);
	if (rc == 0)
		g->stats.messages_out++;
	else if (rc == -ENOSPC)
		hold_reply(g, client, t, msg, (uint32_t)len);
	else
		reply_lost(g, client, rc);
}

static void n_open_channel(void *ctx, const struct cvmbus_server_open_request *req)
{
	struct cvmbus_server_glue *g = ctx;
	struct sg_work *w = new_work(g, SG_W_OPEN);

	if (!w)
		return;
	w->relid = req->relid;
	w->client = req->client;
	w->open = *req;
	push_work(g, w);
}

static void n_close_channel(void *ctx, uint32_t client, uint32_t relid)
{
	struct cvmbus_server_glue *g = ctx;
	struct sg_work *w = new_work(g, SG_W_CLOSE);

	if (!w)
		return;
	w->client = client;
	w->relid = relid;
	push_work(g, w);
}

static void n_gpadl_create(void *ctx, const struct cvmbus_server_gpadl *gp)
{
	struct cvmbus_server_glue *g = ctx;
	struct sg_work *w = new_work(g, SG_W_GPADL);

	if (!w)
		return;
	/* The server's buffer is only lent for the call. */
	w->values = calloc(gp->nvalues ? gp->nvalues : 1, sizeof(*w->values));
	if (!w->values) {
		free(w);
		cvmbus_log_error("%s glue: out of memory: gpadl %u dropped", role_name(g),
				 gp->gpadl_id);
		return;
	}
	memcpy(w->values, gp->values, (size_t)gp->nvalues * sizeof(*w->values));
	w->gpadl = *gp;
	w->gpadl.values = w->values;
	w->client = gp->client;
	w->relid = gp->relid;
	w->gpadl_id = gp->gpadl_id;
	push_work(g, w);
}

static void n_gpadl_teardown(void *ctx, uint32_t client, uint32_t relid, uint32_t gpadl_id)
{
	struct cvmbus_server_glue *g = ctx;
	struct sg_work *w = new_work(g, SG_W_TEARDOWN);

	if (!w)
		return;
	w->client = client;
	w->relid = relid;
	w->gpadl_id = gpadl_id;
	push_work(g, w);
}

static void n_modify_channel(void *ctx, uint32_t client, uint32_t relid, uint32_t target_vp)
{
	struct cvmbus_server_glue *g = ctx;
	struct sg_work *w = new_work(g, SG_W_MODIFY);

	if (!w)
		return;
	w->client = client;
	w->relid = relid;
	w->vp = target_vp;
	push_work(g, w);
}

static struct sg_port *port_find(struct cvmbus_server_glue *g, uint32_t connection_id)
{
	for (unsigned int i = 0; i < g->nports; i++)
		if (g->ports[i].connection_id == connection_id)
			return &g->ports[i];
	return NULL;
}

static void on_message(void *ctx, const struct cvmbus_port_message *m);

static int port_register(struct cvmbus_server_glue *g, struct sg_port *port)
{
	struct cvmbus_port_config pc = {
		.connection_id = port->connection_id,
		.kind = CVMBUS_PORT_MESSAGE,
		.owner = g->party,
		.on_message = on_message,
		.queue_depth = port->queue_depth,
		.ctx = port,
	};
	int rc = cvmbus_port_add(g->plat, &pc);

	if (rc == 0)
		port->registered = true;
	return rc;
}

/* A client negotiated: from 5.0 on it posts everything to the message
 * connection id of the VersionResponse, so that id must be ours before the
 * response goes out (the server calls this first). */
static void n_connection_changed(void *ctx, const struct cvmbus_server_connection *conn)
{
	struct cvmbus_server_glue *g = ctx;
	struct sg_port *port;
	int rc;

	if (conn->state != CVMBUS_SERVER_CONN_NEGOTIATED || conn->version < CVMBUS_VERSION_5_0)
		return;
	if (port_find(g, conn->message_connection_id))
		return;
	if (g->nports == SG_MAX_PORTS) {
		cvmbus_log_warn("%s glue: no room for message connection id 0x%x", role_name(g),
				conn->message_connection_id);
		return;
	}
	port = &g->ports[g->nports++];
	memset(port, 0, sizeof(*port));
	port->glue = g;
	port->connection_id = conn->message_connection_id;
	port->peer = conn->client == CVMBUS_SERVER_GLUE_CLIENT_RELAY ? CVMBUS_SERVER_GLUE_PEER_RELAY
								     : CVMBUS_SERVER_GLUE_PEER_GUEST;
	rc = port_register(g, port);
	if (rc)
		cvmbus_log_warn("%s glue: message connection id 0x%x not registered (%d)",
				role_name(g), port->connection_id, rc);
	else
		g->stats.ports_added++;
}

static void n_unload_complete(void *ctx, uint32_t client)
{
	struct cvmbus_server_glue *g = ctx;

	cvmbus_log_debug("%s glue: client %u unloaded", role_name(g), client);
}

static void n_log(void *ctx, uint32_t client, enum cvmbus_server_reject reason,
		  const char *line)
{
	struct cvmbus_server_glue *g = ctx;

	/* The server already limits these by count. */
	cvmbus_log_warn("%s server: client %u: %s: %s", role_name(g), client,
			cvmbus_server_reject_name(reason), line);
}

/* ---- devices ------------------------------------------------------------- */

static void complete_deferred_teardowns(struct cvmbus_server_glue *g, uint32_t relid)
{
	for (;;) {
		struct sg_gpadl *r = NULL;
		uint32_t client, id;
		int rc;

		cvmbus_mutex_lock(&g->gpadl_lock);
		for (struct sg_gpadl *it = g->gpadls; it; it = it->next)
			if (it->relid == relid && it->teardown_pending)
				r = it;
		cvmbus_mutex_unlock(&g->gpadl_lock);
		if (!r)
			return;
		client = r->client;
		id = r->gpadl_id;
		sg_gpadl_remove(g, r);
		rc = cvmbus_server_gpadl_teardown_complete(g->srv, client, relid, id);
		if (rc)
			cvmbus_log_warn("%s glue: teardown of gpadl %u not completed (%d)",
					role_name(g), id, rc);
	}
}

/* Stop the device's use of an open channel and unmap it. With `complete`,
 * teardowns deferred because of it are answered now (not after a rescind
 * or during stop, when the server expects nothing more). lock held. */
static void device_close(struct cvmbus_server_glue *g, struct sg_chan *c, bool complete)
{
	if (!c->open)
		return;
	/* Wake every wait on the channel first, so the device's threads leave
	 * and its close can join them. */
	cvmbus_channel_close(&c->ch);
	if (c->port_added) {
		cvmbus_port_remove(g->plat, c->connection_id);
		c->port_added = false;
	}
	c->vsp->close(c->ctx, &c->vc);
	cvmbus_channel_destroy(&c->ch);
	c->open = false;
	cvmbus_mutex_lock(&g->gpadl_lock);
	if (c->ring)
		c->ring->ring = false;
	c->ring = NULL;
	cvmbus_mutex_unlock(&g->gpadl_lock);
	c->closes++;
	g->stats.closes++;
	if (complete)
		complete_deferred_teardowns(g, c->relid);
}

/* Map the ring, build the channel, register its event port, hand it to the
 * device. Returns the NTSTATUS for OpenResult. lock held. */
static uint32_t device_open(struct cvmbus_server_glue *g, struct sg_chan *c,
			    const struct cvmbus_server_open_request *req)
{
	struct cvmbus_channel_config cc;
	struct cvmbus_port_config pc;
	int rc;

	c->client = req->client;
	c->connection_id = req->connection_id;
	c->event_flag = req->event_flag;
	atomic_store(&c->target_vp, req->target_vp);
	c->confidential_ring = req->confidential_ring;
	c->confidential_external_memory = req->confidential_external_memory;

	memset(&cc, 0, sizeof(cc));
	rc = sg_ring_map(g, c, req, &cc.upstream, &cc.downstream);
	if (rc)
		goto fail;
	sg_chan_ops_init(c);
	cc.exec = g->exec;
	cc.endpoint = CVMBUS_RING_ENDPOINT_HOST;
	cc.mode = CVMBUS_RING_ATTACH; /* the client formatted its own memory */
	cc.ops = &c->ch_ops;
	cc.ctx = c;
	cc.max_packet = c->vsp->max_packet;
	rc = cvmbus_channel_init(&c->ch, &cc);
	if (rc) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "%s glue: open of relid %u: ring refused (%d)",
			      role_name(g), c->relid, rc);
		if (rc == -EPROTO)
			cvmbus_channel_destroy(&c->ch);
		goto fail;
	}

	memset(&pc, 0, sizeof(pc));
	pc.connection_id = req->connection_id;
	pc.kind = CVMBUS_PORT_EVENT;
	pc.owner = g->party;
	pc.on_event = sg_chan_event;
	/* Only the paravisor shares the guest's vCPUs; the host's devices
	 * are woken, never run on them. */
	if (g->role == CVMBUS_SERVER_ROLE_PARAVISOR)
		pc.on_vtl_return = sg_chan_vtl_return;
	pc.ctx = c;
	rc = cvmbus_port_add(g->plat, &pc);
	if (rc) {
		/* e.g. a guest-specified connection id that is already taken. */
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
			      "%s glue: open of relid %u: event port 0x%x not registered (%d)",
			      role_name(g), c->relid, req->connection_id, rc);
		goto fail_channel;
	}
	c->port_added = true;

	memset(&c->vc, 0, sizeof(c->vc));
	c->vc.channel = &c->ch;
	c->vc.relid = c->relid;
	c->vc.client = req->client;
	c->vc.role = g->role;
	c->vc.target_vp = req->target_vp;
	c->vc.confidential_ring = req->confidential_ring;
	c->vc.confidential_external_memory = req->confidential_external_memory;
	c->vc.version = req->version;
	memcpy(c->vc.user_data, req->user_data, sizeof(c->vc.user_data));
	rc = c->vsp->open(c->ctx, &c->vc);
	if (rc) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "%s glue: device refused to open relid %u (%d)",
			      role_name(g), c->relid, rc);
		goto fail_port;
	}
	c->open = true;
	cvmbus_mutex_lock(&g->gpadl_lock);
	c->ring->ring = true;
	cvmbus_mutex_unlock(&g->gpadl_lock);
	c->opens++;
	g->stats.opens++;
	return CVMBUS_STATUS_SUCCESS;

fail_port:
	cvmbus_port_remove(g->plat, req->connection_id);
	c->port_added = false;
fail_channel:
	cvmbus_channel_close(&c->ch);
	cvmbus_channel_destroy(&c->ch);
fail:
	c->ring = NULL;
	c->open_failures++;
	g->stats.open_failures++;
	return CVMBUS_SERVER_GLUE_STATUS_FAILED;
}

/* ---- the work queue ------------------------------------------------------ */

static void warn_completion(struct cvmbus_server_glue *g, const char *what, uint32_t relid,
			    int rc)
{
	if (rc)
		cvmbus_log_warn("%s glue: %s of relid %u not accepted by the server (%d)",
				role_name(g), what, relid, rc);
}

static void do_gpadl(struct cvmbus_server_glue *g, struct sg_work *w)
{
	struct sg_chan *c = chan_of(g, w->relid);
	struct sg_gpadl *r = NULL;
	uint32_t status = CVMBUS_SERVER_GLUE_STATUS_FAILED;
	int rc = -ENOENT;

	if (c)
		rc = sg_gpadl_accept(g, &w->gpadl, &r);
	if (rc == 0 && c->kind == SG_CHAN_RELAYED && c->relay->gpadl_request) {
		rc = c->relay->gpadl_request(c->ctx, &w->gpadl);
		if (rc == 0)
			return; /* the relay answers with the host's status */
		sg_gpadl_remove(g, r);
	}
	if (rc == 0) {
		status = CVMBUS_STATUS_SUCCESS;
		g->stats.gpadls_accepted++;
	} else {
		g->stats.gpadls_refused++;
	}
	warn_completion(g, "gpadl",  w->relid,
			cvmbus_server_gpadl_complete(g->srv, w->client, w->relid, w->gpadl_id,
						     status));
}

static void do_open(struct cvmbus_server_glue *g, struct sg_work *w)
{
	struct sg_chan *c = chan_of(g, w->relid);
	uint32_t status = CVMBUS_SERVER_GLUE_STATUS_FAILED;

	if (c && c->kind == SG_CHAN_RELAYED) {
		c->client = w->open.client;
		c->connection_id = w->open.connection_id;
		c->event_flag = w->open.event_flag;
		atomic_store(&c->target_vp, w->open.target_vp);
		c->confidential_ring = w->open.confidential_ring;
		c->confidential_external_memory = w->open.confidential_external_memory;
		c->ring_gpadl_id = w->open.ring_gpadl_id;
		c->ring_pages = w->open.ring_gpadl_pages;
		c->relay_opening = true;
		if (c->relay->open_request(c->ctx, &w->open) == 0)
			return;
		c->relay_opening = false;
		c->open_failures++;
		g->stats.open_failures++;
	} else if (c && !c->open) {
		status = device_open(g, c, &w->open);
	}
	warn_completion(g, "open", w->relid,
			cvmbus_server_open_complete(g->srv, w->relid, status));
}

static void do_close(struct cvmbus_server_glue *g, struct sg_work *w)
{
	struct sg_chan *c = chan_of(g, w->relid);

	if (c && c->kind == SG_CHAN_RELAYED) {
		if (c->relay->close_request &&
		    c->relay->close_request(c->ctx, w->client, w->relid) == 0)
			return;
		if (c->open) {
			c->open = false;
			c->closes++;
			g->stats.closes++;
		}
	} else if (c) {
		device_close(g, c, true);
	}
	warn_completion(g, "close", w->relid, cvmbus_server_close_complete(g->srv, w->relid));
}

static void do_teardown(struct cvmbus_server_glue *g, struct sg_work *w)
{
	struct sg_chan *c = chan_of(g, w->relid);
	struct sg_gpadl *r;
	bool defer;

	cvmbus_mutex_lock(&g->gpadl_lock);
	r = sg_gpadl_find(g, w->client, w->gpadl_id);
	/* Pages a device may still be reading stay recorded (and the client
	 * unanswered) until that channel closes. */
	defer = r && c && c->kind == SG_CHAN_DEVICE && c->open && (r->ring || r->looked_up);
	if (defer)
		r->teardown_pending = true;
	cvmbus_mutex_unlock(&g->gpadl_lock);
	if (defer)
		return;
	if (c && c->kind == SG_CHAN_RELAYED && c->relay->gpadl_teardown_request &&
	    c->relay->gpadl_teardown_request(c->ctx, w->client, w->relid, w->gpadl_id) == 0)
		return;
	if (r)
		sg_gpadl_remove(g, r);
	warn_completion(g, "gpadl teardown", w->relid,
			cvmbus_server_gpadl_teardown_complete(g->srv, w->client, w->relid,
							      w->gpadl_id));
}

static void do_modify(struct cvmbus_server_glue *g, struct sg_work *w)
{
	struct sg_chan *c = chan_of(g, w->relid);

	if (c && c->kind == SG_CHAN_RELAYED && c->relay->modify_request &&
	    c->relay->modify_request(c->ctx, w->client, w->relid, w->vp) == 0)
		return;
	if (c)
		atomic_store(&c->target_vp, w->vp);
	warn_completion(g, "modify", w->relid,
			cvmbus_server_modify_complete(g->srv, w->relid, CVMBUS_STATUS_SUCCESS));
}

/* A relay completion, made now. Returns what the server returned. */
static int apply_completion(struct cvmbus_server_glue *g, const struct sg_work *w)
{
	struct sg_chan *c = chan_of(g, w->relid);
	struct sg_gpadl *r;
	int rc = -EINVAL;

	switch (w->kind) {
	case SG_W_OPEN_DONE:
		rc = cvmbus_server_open_complete(g->srv, w->relid, w->status);
		if (rc == 0 && c) {
			c->relay_opening = false;
			c->open = nt_success(w->status);
			if (c->open) {
				c->opens++;
				g->stats.opens++;
			} else {
				c->open_failures++;
				g->stats.open_failures++;
			}
		}
		break;
	case SG_W_CLOSE_DONE:
		rc = cvmbus_server_close_complete(g->srv, w->relid);
		if (rc == 0 && c && c->open) {
			c->open = false;
			c->closes++;
			g->stats.closes++;
		}
		break;
	case SG_W_GPADL_DONE:
		rc = cvmbus_server_gpadl_complete(g->srv, w->client, w->relid, w->gpadl_id,
						  w->status);
		r = sg_gpadl_find(g, w->client, w->gpadl_id);
		if (nt_success(w->status) && rc == 0) {
			g->stats.gpadls_accepted++;
		} else {
			g->stats.gpadls_refused++;
			if (r)
				sg_gpadl_remove(g, r);
		}
		break;
	case SG_W_TEARDOWN_DONE:
		/* Forget (and unpin) the pages before GpadlTorndown goes out:
		 * the guest makes them private as soon as it reads it. */
		r = sg_gpadl_find(g, w->client, w->gpadl_id);
		if (r)
			sg_gpadl_remove(g, r);
		rc = cvmbus_server_gpadl_teardown_complete(g->srv, w->client, w->relid,
							   w->gpadl_id);
		break;
	case SG_W_MODIFY_DONE:
		rc = cvmbus_server_modify_complete(g->srv, w->relid, w->status);
		break;
	default:
		break;
	}
	return rc;
}

static void do_work(struct cvmbus_server_glue *g, struct sg_work *w)
{
	switch (w->kind) {
	case SG_W_GPADL:
		do_gpadl(g, w);
		break;
	case SG_W_OPEN:
		do_open(g, w);
		break;
	case SG_W_CLOSE:
		do_close(g, w);
		break;
	case SG_W_TEARDOWN:
		do_teardown(g, w);
		break;
	case SG_W_MODIFY:
		do_modify(g, w);
		break;
	default:
		warn_completion(g, "relay completion", w->relid, apply_completion(g, w));
		break;
	}
}

/* Do what the server asked for, in order, until nothing is left. Each
 * completion may queue more. After stop began, requests are dropped: the
 * channels are closed by stop itself. lock held. */
static void drain(struct cvmbus_server_glue *g)
{
	struct sg_work *w;

	while ((w = g->work_head)) {
		g->work_head = w->next;
		if (!g->work_head)
			g->work_tail = NULL;
		if (!g->stopping)
			do_work(g, w);
		free(w->values);
		free(w);
	}
}

/* ---- message ports ------------------------------------------------------- */

/* Who may use a listener: the guest's (and, on the host, a guest hypercall
 * the paravisor forwarded), or only the paravisor on a relay listener. */
static bool sender_ok(const struct cvmbus_server_glue *g, const struct sg_port *port,
		      const struct cvmbus_port_message *m)
{
	if (port->peer == CVMBUS_SERVER_GLUE_PEER_RELAY)
		return m->from == CVMBUS_MEM_PARTY_PARAVISOR;
	if (m->from == CVMBUS_MEM_PARTY_GUEST)
		return true;
	return g->role == CVMBUS_SERVER_ROLE_HOST && m->from == CVMBUS_MEM_PARTY_PARAVISOR;
}

static void on_message(void *ctx, const struct cvmbus_port_message *m)
{
	struct sg_port *port = ctx;
	struct cvmbus_server_glue *g = port->glue;
	struct cvmbus_server_msg_info info = {
		.trusted = m->trusted,
		.connection_id = m->connection_id,
	};
	uint32_t client = port->peer == CVMBUS_SERVER_GLUE_PEER_RELAY
				  ? CVMBUS_SERVER_GLUE_CLIENT_RELAY
				  : CVMBUS_SERVER_GLUE_CLIENT_GUEST;
	bool ok = m->message_type == HVMSG_VMBUS && sender_ok(g, port, m);
	int rc;

	glue_lock(g);
	if (g->stopping) {
		glue_unlock(g);
		return;
	}
	if (!ok) {
		g->stats.messages_dropped_in++;
		glue_unlock(g);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
			      "%s glue: message type 0x%x from %s on 0x%x dropped", role_name(g),
			      m->message_type, cvmbus_mem_party_name(m->from), m->connection_id);
		return;
	}
	rc = cvmbus_server_handle_message_ex(g->srv, client, m->payload, m->size, &info);
	g->stats.messages_in++;
	if (rc < 0)
		g->stats.messages_refused++;
	drain(g);
	glue_unlock(g);
}

/* ---- service thread ------------------------------------------------------ */

static int svc_main(void *arg)
{
	struct cvmbus_server_glue *g = arg;

	for (;;) {
		uint64_t fired = 0;
		bool pending;

		glue_lock(g);
		pending = g->held_count != 0;
		glue_unlock(g);
		/* A hold made after the check rings KICK, which latches. */
		(void)cvmbus_doorbell_wait(&g->bell, SG_BELL_KICK | SG_BELL_STOP,
					   pending ? g->cfg.retry_ns : CVMBUS_EXEC_FOREVER,
					   &fired);
		if (fired & SG_BELL_STOP)
			break;
		glue_lock(g);
		if (!g->stopping)
			flush_held(g);
		glue_unlock(g);
	}
	return 0;
}

/* ---- configuration and lifecycle ----------------------------------------- */

void cvmbus_server_glue_config_init(struct cvmbus_server_glue_config *cfg,
				    struct cvmbus_platform *p, enum cvmbus_server_role role)
{
	bool pv = p && cvmbus_platform_config(p)->paravisor;

	memset(cfg, 0, sizeof(*cfg));
	cfg->platform = p;
	cvmbus_server_config_init(&cfg->server, role);
	if (role == CVMBUS_SERVER_ROLE_HOST && pv) {
		/* The guest talks to the paravisor on 4 and 1; the host's
		 * server is the relay's, at the redirect id, and keeps it as
		 * the message connection id so the relay never posts to 1. */
		cfg->listeners[0].connection_id = VMBUS_MESSAGE_REDIRECT_CONNECTION_ID;
		cfg->listeners[0].peer = CVMBUS_SERVER_GLUE_PEER_RELAY;
		cfg->listener_count = 1;
		cfg->server.message_connection_id = VMBUS_MESSAGE_REDIRECT_CONNECTION_ID;
	} else {
		cfg->listeners[0].connection_id = VMBUS_MESSAGE_CONNECTION_ID_4;
		cfg->listeners[1].connection_id = VMBUS_MESSAGE_CONNECTION_ID;
		cfg->listener_count = 2;
	}
}

static int config_check(const struct cvmbus_server_glue_config *cfg)
{
	enum cvmbus_server_role role = cfg->server.role;
	bool relay = false;

	if (!cfg->platform)
		return -EINVAL;
	if (role != CVMBUS_SERVER_ROLE_HOST && role != CVMBUS_SERVER_ROLE_PARAVISOR)
		return -EINVAL;
	/* The paravisor's ports and SynIC exist only with a paravisor. */
	if (role == CVMBUS_SERVER_ROLE_PARAVISOR && !cvmbus_platform_config(cfg->platform)->paravisor)
		return -EINVAL;
	if (cfg->listener_count > CVMBUS_SERVER_GLUE_MAX_LISTENERS)
		return -EINVAL;
	for (unsigned int i = 0; i < cfg->listener_count; i++) {
		const struct cvmbus_server_glue_listener *l = &cfg->listeners[i];

		if (l->connection_id & ~HV_CONNECTION_ID_MASK)
			return -EINVAL;
		if (l->peer == CVMBUS_SERVER_GLUE_PEER_RELAY)
			relay = true;
		else if (l->peer != CVMBUS_SERVER_GLUE_PEER_GUEST)
			return -EINVAL;
		for (unsigned int j = 0; j < i; j++)
			if (cfg->listeners[j].connection_id == l->connection_id)
				return -EINVAL;
	}
	if (relay && (role != CVMBUS_SERVER_ROLE_HOST || !cfg->relay_inbound_connection_id ||
		      (cfg->relay_inbound_connection_id & ~HV_CONNECTION_ID_MASK)))
		return -EINVAL;
	if (cfg->out_queue_depth > CVMBUS_PLATFORM_MAX_QUEUE)
		return -EINVAL;
	return 0;
}

int cvmbus_server_glue_create(const struct cvmbus_server_glue_config *cfg,
			      struct cvmbus_server_glue **out)
{
	struct cvmbus_server_notifier n = {
		.send_message = n_send_message,
		.open_channel = n_open_channel,
		.close_channel = n_close_channel,
		.gpadl_create = n_gpadl_create,
		.gpadl_teardown = n_gpadl_teardown,
		.modify_channel = n_modify_channel,
		.connection_changed = n_connection_changed,
		.unload_complete = n_unload_complete,
		.log = n_log,
	};
	struct cvmbus_server_glue *g;
	int rc;

	if (!cfg || !out)
		return -EINVAL;
	rc = config_check(cfg);
	if (rc)
		return rc;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->cfg = *cfg;
	if (!g->cfg.out_queue_depth)
		g->cfg.out_queue_depth = CVMBUS_SERVER_GLUE_DEFAULT_OUT_QUEUE;
	if (!g->cfg.retry_ns)
		g->cfg.retry_ns = CVMBUS_SERVER_GLUE_DEFAULT_RETRY_NS;
	g->plat = cfg->platform;
	g->exec = cvmbus_platform_exec(g->plat);
	g->mem = cvmbus_platform_mem(g->plat);
	g->hv = cvmbus_mem_host(g->mem);
	g->role = cfg->server.role;
	if (g->role == CVMBUS_SERVER_ROLE_HOST) {
		g->party = CVMBUS_MEM_PARTY_HOST;
		g->synic = CVMBUS_SYNIC_HYPERVISOR;
	} else {
		g->party = CVMBUS_MEM_PARTY_PARAVISOR;
		g->synic = CVMBUS_SYNIC_PARAVISOR;
	}
	g->boundary = cvmbus_mem_shared_gpa_boundary(g->mem);
	rc = cvmbus_mem_region(g->mem, CVMBUS_MEM_REGION_VTL0, &g->vtl0_base, &g->vtl0_bytes);
	if (rc)
		goto fail;
	g->held_cap = g->cfg.out_queue_depth;
	g->held = calloc(g->held_cap, sizeof(*g->held));
	if (!g->held) {
		rc = -ENOMEM;
		goto fail;
	}
	n.ctx = g;
	rc = cvmbus_server_create(&cfg->server, &n, &g->srv);
	if (rc)
		goto fail;
	for (unsigned int i = 0; i < cfg->listener_count; i++) {
		struct sg_port *port = &g->ports[g->nports++];

		port->glue = g;
		port->connection_id = cfg->listeners[i].connection_id;
		port->peer = cfg->listeners[i].peer;
		port->queue_depth = cfg->listeners[i].queue_depth;
	}
	cvmbus_mutex_init(&g->lock, g->exec, "server-glue");
	cvmbus_mutex_init(&g->gpadl_lock, g->exec, "server-glue-gpadl");
	cvmbus_doorbell_init(&g->bell, g->exec, "server-glue-svc");
	*out = g;
	return 0;

fail:
	free(g->held);
	free(g);
	return rc;
}

/* Unregister every message port (joining their handlers). Not under the
 * lock: a handler may be waiting for it. */
static void ports_remove(struct cvmbus_server_glue *g)
{
	uint32_t ids[SG_MAX_PORTS];
	unsigned int n = 0;

	glue_lock(g);
	for (unsigned int i = 0; i < g->nports; i++) {
		if (g->ports[i].registered) {
			ids[n++] = g->ports[i].connection_id;
			g->ports[i].registered = false;
		}
	}
	glue_unlock(g);
	for (unsigned int i = 0; i < n; i++)
		cvmbus_port_remove(g->plat, ids[i]);
}

int cvmbus_server_glue_start(struct cvmbus_server_glue *g)
{
	int rc = 0;

	if (!g)
		return -EINVAL;
	glue_lock(g);
	if (g->started || g->stopping) {
		rc = g->stopping ? -ESHUTDOWN : -EALREADY;
		glue_unlock(g);
		return rc;
	}
	for (unsigned int i = 0; i < g->nports && !rc; i++)
		rc = port_register(g, &g->ports[i]);
	if (!rc)
		rc = cvmbus_thread_spawn(g->exec, &g->svc, "server-glue-svc", svc_main, g);
	if (!rc)
		g->started = true;
	glue_unlock(g);
	if (rc)
		ports_remove(g);
	return rc;
}

void cvmbus_server_glue_stop(struct cvmbus_server_glue *g)
{
	if (!g)
		return;
	glue_lock(g);
	if (g->stopping) {
		glue_unlock(g);
		return;
	}
	/* From here no handler calls the server, so no port is added. */
	g->stopping = true;
	glue_unlock(g);

	ports_remove(g);
	if (g->svc) {
		cvmbus_doorbell_ring(&g->bell, SG_BELL_STOP);
		cvmbus_thread_join(g->svc, NULL);
		g->svc = NULL;
	}

	glue_lock(g);
	for (uint32_t relid = 0; relid < SG_RELIDS; relid++) {
		struct sg_chan *c = g->chans[relid];

		if (c && c->kind == SG_CHAN_DEVICE)
			device_close(g, c, false);
	}
	drain(g);
	g->held_count = 0;
	g->stopped = true;
	glue_unlock(g);
	/* A stopped server holds no guest page: its GPADL records go now, and
	 * with them their pins, so the partition's memory may be torn down
	 * (or its pages change visibility) before the glue is destroyed. */
	sg_gpadl_drop_all(g);
}

void cvmbus_server_glue_destroy(struct cvmbus_server_glue *g)
{
	if (!g)
		return;
	if (g->started && !g->stopped)
		cvmbus_server_glue_stop(g);
	for (uint32_t relid = 0; relid < SG_RELIDS; relid++)
		free(g->chans[relid]);
	while (g->work_head) {
		struct sg_work *w = g->work_head;

		g->work_head = w->next;
		free(w->values);
		free(w);
	}
	sg_gpadl_drop_all(g);
	cvmbus_server_destroy(g->srv);
	cvmbus_doorbell_destroy(&g->bell);
	cvmbus_mutex_destroy(&g->gpadl_lock);
	cvmbus_mutex_destroy(&g->lock);
	free(g->held);
	free(g);
}

/* ---- offers -------------------------------------------------------------- */

static int add_channel(struct cvmbus_server_glue *g, const struct cvmbus_offer_params *params,
		       struct sg_chan *c, uint32_t *relid_out)
{
	uint32_t relid = 0;
	int rc;

	glue_lock(g);
	if (g->stopping) {
		rc = -ESHUTDOWN;
		goto out;
	}
	rc = cvmbus_server_offer(g->srv, params, &relid);
	if (rc)
		goto out;
	if (relid >= SG_RELIDS || g->chans[relid]) {
		/* The server handed out a relid we still hold: refuse rather
		 * than mix two devices up. */
		cvmbus_log_error("%s glue: relid %u handed out twice", role_name(g), relid);
		(void)cvmbus_server_rescind(g->srv, relid);
		rc = -EEXIST;
		goto out;
	}
	c->relid = relid;
	g->chans[relid] = c;
	c = NULL;
	if (relid_out)
		*relid_out = relid;
	drain(g);
out:
	glue_unlock(g);
	free(c);
	return rc;
}

static struct sg_chan *chan_new(struct cvmbus_server_glue *g, const struct cvmbus_offer_params *p,
				enum sg_chan_kind kind, void *ctx)
{
	struct sg_chan *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->glue = g;
	c->kind = kind;
	c->ctx = ctx;
	c->offer_flags = p->flags;
	atomic_init(&c->target_vp, CVMBUS_VP_INDEX_DISABLE_INTERRUPT);
	atomic_init(&c->signals, 0);
	atomic_init(&c->events, 0);
	return c;
}

int cvmbus_server_glue_add_device(struct cvmbus_server_glue *g,
				  const struct cvmbus_offer_params *params,
				  const struct cvmbus_vsp_ops *ops, void *ctx, uint32_t *relid)
{
	struct sg_chan *c;

	if (!g || !params || !ops || !ops->open || !ops->close)
		return -EINVAL;
	c = chan_new(g, params, SG_CHAN_DEVICE, ctx);
	if (!c)
		return -ENOMEM;
	c->vsp = ops;
	return add_channel(g, params, c, relid);
}

int cvmbus_server_glue_add_relayed(struct cvmbus_server_glue *g,
				   const struct cvmbus_offer_params *params,
				   const struct cvmbus_relayed_ops *ops, void *ctx,
				   uint32_t *relid)
{
	struct cvmbus_offer_params p;
	struct sg_chan *c;

	if (!g || !params || !ops || !ops->open_request)
		return -EINVAL;
	p = *params;
	p.keep_flags = true;
	c = chan_new(g, &p, SG_CHAN_RELAYED, ctx);
	if (!c)
		return -ENOMEM;
	c->relay = ops;
	return add_channel(g, &p, c, relid);
}

int cvmbus_server_glue_rescind(struct cvmbus_server_glue *g, uint32_t relid)
{
	struct sg_chan *c;
	int rc;

	if (!g)
		return -EINVAL;
	glue_lock(g);
	if (g->stopping) {
		rc = -ESHUTDOWN;
		goto out;
	}
	c = chan_of(g, relid);
	if (!c) {
		rc = -ENOENT;
		goto out;
	}
	rc = cvmbus_server_rescind(g->srv, relid);
	if (rc)
		goto out;
	drain(g);
	/* The server asks nothing more of this relid and expects nothing
	 * back: stop the device and forget its GPADLs ourselves. */
	if (c->kind == SG_CHAN_DEVICE)
		device_close(g, c, false);
	sg_gpadl_drop_relid(g, relid);
	g->chans[relid] = NULL;
	free(c);
	g->stats.rescinds++;
out:
	glue_unlock(g);
	return rc;
}

/* ---- relay completions --------------------------------------------------- */

static int relay_complete(struct cvmbus_server_glue *g, const struct sg_work *tmpl)
{
	struct sg_work *w;
	int rc;

	if (!g)
		return -EINVAL;
	if (held_by_me(g)) {
		/* From inside a glue callback: the server is busy in this very
		 * call stack; deliver when the callback has returned. */
		w = malloc(sizeof(*w));
		if (!w)
			return -ENOMEM;
		*w = *tmpl;
		w->values = NULL;
		push_work(g, w);
		return 0;
	}
	glue_lock(g);
	if (g->stopping) {
		glue_unlock(g);
		return -ESHUTDOWN;
	}
	rc = apply_completion(g, tmpl);
	drain(g);
	glue_unlock(g);
	return rc;
}

int cvmbus_server_glue_open_complete(struct cvmbus_server_glue *g, uint32_t relid,
				     uint32_t status)
{
	struct sg_work w = { .kind = SG_W_OPEN_DONE, .relid = relid, .status = status };

	return relay_complete(g, &w);
}

int cvmbus_server_glue_close_complete(struct cvmbus_server_glue *g, uint32_t relid)
{
	struct sg_work w = { .kind = SG_W_CLOSE_DONE, .relid = relid };

	return relay_complete(g, &w);
}

int cvmbus_server_glue_gpadl_complete(struct cvmbus_server_glue *g, uint32_t client,
				      uint32_t relid, uint32_t gpadl_id, uint32_t status)
{
	struct sg_work w = {
		.kind = SG_W_GPADL_DONE, .client = client, .relid = relid,
		.gpadl_id = gpadl_id, .status = status,
	};

	return relay_complete(g, &w);
}

int cvmbus_server_glue_gpadl_teardown_complete(struct cvmbus_server_glue *g,
					       uint32_t client, uint32_t relid,
					       uint32_t gpadl_id)
{
	struct sg_work w = {
		.kind = SG_W_TEARDOWN_DONE, .client = client, .relid = relid, .gpadl_id = gpadl_id,
	};

	return relay_complete(g, &w);
}

int cvmbus_server_glue_modify_complete(struct cvmbus_server_glue *g, uint32_t relid,
				       uint32_t status)
{
	struct sg_work w = { .kind = SG_W_MODIFY_DONE, .relid = relid, .status = status };

	return relay_complete(g, &w);
}

/* ---- queries ------------------------------------------------------------- */

/* Queries may be made from inside a glue callback (the lock is then ours
 * already) or from any thread but a device's. */
static bool query_lock(struct cvmbus_server_glue *g)
{
	if (held_by_me(g))
		return false;
	glue_lock(g);
	return true;
}

static void query_unlock(struct cvmbus_server_glue *g, bool locked)
{
	if (locked)
		glue_unlock(g);
}

int cvmbus_server_glue_channel_info(struct cvmbus_server_glue *g, uint32_t relid,
				    struct cvmbus_server_glue_channel_info *out)
{
	struct sg_chan *c;
	bool locked;

	if (!g || !out)
		return -EINVAL;
	locked = query_lock(g);
	c = chan_of(g, relid);
	if (!c) {
		query_unlock(g, locked);
		return -ENOENT;
	}
	memset(out, 0, sizeof(*out));
	out->relid = relid;
	out->relayed = c->kind == SG_CHAN_RELAYED;
	out->role = g->role;
	out->state = cvmbus_server_chan_state(g->srv, relid, &out->owner);
	out->open = c->open;
	out->confidential_ring = c->confidential_ring;
	out->confidential_external_memory = c->confidential_external_memory;
	out->synic = g->synic;
	out->connection_id = c->connection_id;
	out->event_flag = c->event_flag;
	out->target_vp = atomic_load(&c->target_vp);
	out->ring_gpadl_id = c->ring_gpadl_id;
	out->ring_pages = c->ring_pages;
	out->ring_gpa = c->ring_gpa;
	out->ring_private = c->ring_private;
	out->opens = c->opens;
	out->open_failures = c->open_failures;
	out->closes = c->closes;
	out->signals = atomic_load(&c->signals);
	out->events = atomic_load(&c->events);
	query_unlock(g, locked);
	return 0;
}

int cvmbus_server_glue_gpadl_info(struct cvmbus_server_glue *g, uint32_t client,
				  uint32_t gpadl_id, struct cvmbus_server_glue_gpadl_info *out)
{
	struct sg_gpadl *r;
	int rc = -ENOENT;

	if (!g || !out)
		return -EINVAL;
	cvmbus_mutex_lock(&g->gpadl_lock);
	r = sg_gpadl_find(g, client, gpadl_id);
	if (r) {
		memset(out, 0, sizeof(*out));
		out->client = r->client;
		out->relid = r->relid;
		out->gpadl_id = r->gpadl_id;
		out->range_count = r->range_count;
		out->npages = r->npages;
		out->private_pages = r->private_pages;
		out->shared_pages = r->shared_pages;
		out->first_gpa = r->pfns[0] << CVMBUS_MEM_PAGE_SHIFT;
		out->contiguous = r->contiguous;
		out->ring = r->ring;
		rc = 0;
	}
	cvmbus_mutex_unlock(&g->gpadl_lock);
	return rc;
}

void cvmbus_server_glue_get_stats(struct cvmbus_server_glue *g,
				  struct cvmbus_server_glue_stats *out)
{
	bool locked;

	if (!g || !out)
		return;
	locked = query_lock(g);
	*out = g->stats;
	query_unlock(g, locked);
}

int cvmbus_server_glue_connection(struct cvmbus_server_glue *g, uint32_t client,
				  struct cvmbus_server_connection *out)
{
	bool locked;
	int rc;

	if (!g || !out)
		return -EINVAL;
	locked = query_lock(g);
	rc = cvmbus_server_connection(g->srv, client, out);
	query_unlock(g, locked);
	return rc;
}

enum cvmbus_server_chan_state cvmbus_server_glue_chan_state(struct cvmbus_server_glue *g,
							    uint32_t relid, uint32_t *owner)
{
	enum cvmbus_server_chan_state st;
	bool locked;

	if (!g)
		return CVMBUS_SERVER_CHAN_NONE;
	locked = query_lock(g);
	st = cvmbus_server_chan_state(g->srv, relid, owner);
	query_unlock(g, locked);
	return st;
}

uint32_t cvmbus_server_glue_offer_connection_id(struct cvmbus_server_glue *g, uint32_t relid)
{
	uint32_t id;
	bool locked;

	if (!g)
		return 0;
	locked = query_lock(g);
	id = cvmbus_server_channel_connection_id(g->srv, relid);
	query_unlock(g, locked);
	return id;
}

enum cvmbus_server_role cvmbus_server_glue_role(const struct cvmbus_server_glue *g)
{
	return g->role;
}

enum cvmbus_synic_kind cvmbus_server_glue_synic(const struct cvmbus_server_glue *g)
{
	return g->synic;
}

int cvmbus_server_glue_check(struct cvmbus_server_glue *g, const char **why)
{
	bool locked;
	int rc;

	if (!g)
		return -EINVAL;
	locked = query_lock(g);
	rc = cvmbus_server_check(g->srv, why);
	query_unlock(g, locked);
	return rc;
}
