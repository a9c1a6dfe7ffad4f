/* SPDX-License-Identifier: MIT */
/*
 * The paravisor's relay (src/paravisor, above src/client and src/server):
 * a VMBus client of the host's server, run by one thread, that re-offers
 * every host channel through the paravisor's own server and forwards the
 * guest's control-plane requests for it, while the data plane stays between
 * the guest and the host. As OpenHCL's vmbus_relay:
 *   - the host's offers come in on the relay's connection (messages to
 *     0x800074 as the paravisor, replies on a port of the paravisor's),
 *     are re-offered with the confidential bits cleared, in host relid
 *     order, under relids the paravisor's server assigns;
 *   - the guest's GPADLs of a relayed channel go to the host unchanged,
 *     under the guest's own GPADL ids (the paravisor's glue has already
 *     checked that their pages are host-visible);
 *   - the guest's open becomes an OpenChannel2 to the host with the
 *     guest-visible connection id and event flag, so the host registers
 *     its event port on the guest's id and signals the guest's relid: the
 *     paravisor never touches a relayed ring or a relayed signal;
 *   - closes, teardowns and host rescinds are forwarded each way.
 *
 * Threads: the client is a pure state machine and not thread-safe, so only
 * the relay thread ("vmbus-relay") touches it. Host messages reach that
 * thread through an inbox filled by the inbound port's handler; the guest's
 * requests through a queue filled by the glue's relayed callbacks (which
 * run with the glue's lock held, so they only queue). The relay thread
 * calls the glue (offers, completions, rescinds) with no lock of its own
 * held: lock order is glue, then relay.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/client.h>
#include <cvmbus/log.h>

#include "paravisor/pv_internal.h"

#define RELAY_BELL_INBOX 0x1u
#define RELAY_BELL_REQ   0x2u
#define RELAY_BELL_STOP  0x4u
#define RELAY_BELL_LOST  0x8u
/* Host messages held for the relay thread; a full inbox makes the port's
 * handler wait, so the port's queue fills and the host's glue holds and
 * retries its replies (back-pressure, not loss). */
#define RELAY_INBOX_CAP 64u
#define RELAY_RELIDS    (CVMBUS_CLIENT_MAX_RELID + 1u)
/* The bits a relayed offer never carries: the host cannot keep anything
 * private from itself, and pinning needs gpa_pinning. */
#define RELAY_CLEARED_FLAGS                                                            \
	(CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER | CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY | \
	 CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY)
/* start_status while the start is still undecided. */
#define RELAY_PENDING 1

enum relay_state {
	RELAY_IDLE = 0,   /* thread not started */
	RELAY_CONNECTING, /* InitiateContact out */
	RELAY_OFFERS,     /* RequestOffers out; re-offering as offers come */
	RELAY_READY,      /* AllOffersDelivered handled */
	RELAY_UNLOADING,  /* Unload out (stop, or a host we refuse) */
	RELAY_DONE,       /* the thread has nothing left to do */
};

enum relay_req_kind {
	RELAY_RQ_OPEN = 1,
	RELAY_RQ_CLOSE,
	RELAY_RQ_GPADL,
	RELAY_RQ_TEARDOWN,
};

/* One guest request, queued by a glue callback for the relay thread. */
struct relay_req {
	struct relay_req *next;
	enum relay_req_kind kind;
	uint64_t cookie;      /* of the relayed channel it names */
	uint32_t client;
	uint32_t guest_relid;
	uint32_t gpadl_id;
	struct cvmbus_server_open_request open;
	uint16_t range_count;
	uint32_t nvalues;
	uint64_t *values;
};

/* A guest GPADL forwarded to the host, until its teardown is answered. */
struct relay_gpadl {
	struct relay_gpadl *next;
	uint32_t handle;
	uint32_t client;      /* the paravisor server's key of its owner */
};

/* One host channel. The glue holds a pointer to it (the relayed ops' ctx)
 * until it is rescinded there; only the relay thread changes it. */
struct relay_chan {
	struct pv_relay *relay;   /* immutable */
	uint64_t cookie;          /* immutable: tells incarnations of a guest relid apart */
	uint32_t host_relid;
	uint32_t guest_relid;     /* 0: not relayed (refused) or rescinded */
	struct cvmbus_guid if_type;
	struct cvmbus_guid if_instance;
	uint16_t flags;           /* as re-offered */
	bool open_pending;        /* OpenChannel2 out, OpenResult awaited */
	bool open;
	bool closing;             /* the guest's close forwarded, CLOSE_DONE awaited */
	bool rescinded;
	bool retired;             /* the glue may still hold it: freed at destroy */
	struct relay_gpadl *gpadls;
	struct relay_chan *next_retired;
};

struct relay_msg {
	uint32_t len;
	uint8_t bytes[HV_MESSAGE_PAYLOAD_SIZE];
};

struct pv_relay {
	struct pv_relay_config cfg;
	struct cvmbus_client_config cc; /* kept: a restart makes a new client */
	struct cvmbus_exec *exec;
	struct cvmbus_client *cli; /* the relay thread's alone once it runs */
	struct cvmbus_thread *thread;
	struct cvmbus_doorbell bell;

	/* lock guards everything below. Never held while calling the glue,
	 * the client or the platform. */
	struct cvmbus_mutex lock;
	struct cvmbus_cond cond; /* start decided, inbox space, stop */
	struct relay_msg inbox[RELAY_INBOX_CAP];
	unsigned int in_head, in_count;
	struct relay_req *req_head, *req_tail;
	bool port_added;
	bool port_closing;       /* the port's handler drops instead of waiting */
	bool stop_requested;
	bool host_lost;          /* the host is gone: rescind all, then end */
	enum relay_state state;
	int start_status;        /* RELAY_PENDING, 0, or a negative errno */
	struct relay_chan *by_host[RELAY_RELIDS];
	uint32_t host_of_guest[RELAY_RELIDS];
	struct relay_chan *retired;
	uint64_t next_cookie;
	struct cvmbus_relay_info info;
};

/* ---- small helpers ------------------------------------------------------- */

static void relay_set_state(struct pv_relay *r, enum relay_state st)
{
	cvmbus_mutex_lock(&r->lock);
	r->state = st;
	cvmbus_cond_broadcast(&r->cond);
	cvmbus_mutex_unlock(&r->lock);
}

/* The start's outcome, once: pv_relay_start() waits for it. */
static void relay_start_done(struct pv_relay *r, int status)
{
	cvmbus_mutex_lock(&r->lock);
	if (r->start_status == RELAY_PENDING) {
		r->start_status = status;
		cvmbus_cond_broadcast(&r->cond);
	}
	cvmbus_mutex_unlock(&r->lock);
}

static void relay_count(struct pv_relay *r, uint64_t *counter)
{
	cvmbus_mutex_lock(&r->lock);
	(*counter)++;
	cvmbus_mutex_unlock(&r->lock);
}

static struct relay_chan *relay_by_host(struct pv_relay *r, uint32_t host_relid)
{
	if (host_relid == 0 || host_relid >= RELAY_RELIDS)
		return NULL;
	return r->by_host[host_relid];
}

/* The live channel a queued request names: the guest relid must still be
 * this incarnation's (a rescinded relid may be handed out again). */
static struct relay_chan *relay_by_request(struct pv_relay *r, const struct relay_req *q)
{
	struct relay_chan *c;

	if (q->guest_relid == 0 || q->guest_relid >= RELAY_RELIDS)
		return NULL;
	c = relay_by_host(r, r->host_of_guest[q->guest_relid]);
	if (!c || c->cookie != q->cookie || c->rescinded)
		return NULL;
	return c;
}

static struct relay_gpadl *relay_gpadl_find(struct relay_chan *c, uint32_t handle)
{
	for (struct relay_gpadl *g = c->gpadls; g; g = g->next)
		if (g->handle == handle)
			return g;
	return NULL;
}

static void relay_gpadl_remove(struct relay_chan *c, uint32_t handle)
{
	for (struct relay_gpadl **pp = &c->gpadls; *pp; pp = &(*pp)->next) {
		if ((*pp)->handle == handle) {
			struct relay_gpadl *g = *pp;

			*pp = g->next;
			free(g);
			return;
		}
	}
}

static void relay_chan_free(struct relay_chan *c)
{
	while (c->gpadls) {
		struct relay_gpadl *g = c->gpadls;

		c->gpadls = g->next;
		free(g);
	}
	free(c);
}

static uint32_t relay_status(int status)
{
	return status == 0 ? CVMBUS_STATUS_SUCCESS : CVMBUS_SERVER_GLUE_STATUS_FAILED;
}

/* ---- the transport and the trace ------------------------------------------ */

/*
 * One HvPostMessage of the paravisor to the hypervisor. The client posts
 * InitiateContact to 4 (1 below 5.0), which belong to the paravisor's own
 * server: the relay's contact goes to the host's redirect id instead, as
 * OpenHCL's client posts everything to 0x800074. Later messages go where
 * the host's VersionResponse said (the same id, from this host's glue).
 */
static uint16_t relay_post(void *ctx, uint32_t connection_id, const void *msg, size_t len)
{
	struct pv_relay *r = ctx;
	uint16_t status = HV_STATUS_INVALID_PARAMETER;
	int rc;

	if (connection_id == VMBUS_MESSAGE_CONNECTION_ID_4 ||
	    connection_id == VMBUS_MESSAGE_CONNECTION_ID)
		connection_id = r->cfg.host_connection_id;
	rc = cvmbus_hv_post_message_from(r->cfg.platform, CVMBUS_MEM_PARTY_PARAVISOR, 0,
					 connection_id, HVMSG_VMBUS, msg, (uint32_t)len, &status);
	if (rc < 0)
		/* The platform refused before any hypercall ran (tearing
		 * down): a failure the client does not retry. */
		return HV_STATUS_INVALID_PARAMETER;
	return status;
}

static void relay_trace(void *ctx, const struct cvmbus_client_trace *t)
{
	struct pv_relay *r = ctx;
	struct cvmbus_trace_event ev;

	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_MSG);
	ev.vp = 0;
	ev.message_type = HVMSG_VMBUS;
	ev.bytes = t->bytes;
	ev.len = (uint32_t)t->len;
	if (t->dir == CVMBUS_CLIENT_TRACE_RX) {
		ev.from = CVMBUS_MEM_PARTY_HOST;
		ev.to = CVMBUS_MEM_PARTY_PARAVISOR;
		ev.note = t->drop != CVMBUS_CLIENT_DROP_NONE ? cvmbus_client_drop_name(t->drop)
							     : "relay";
	} else {
		ev.from = CVMBUS_MEM_PARTY_PARAVISOR;
		ev.to = CVMBUS_MEM_PARTY_HOST;
		/* The paravisor reaches the host as an enlightened guest would:
		 * GHCB on SNP, tdcall on TDX: host-visible, untrusted. */
		ev.path = cvmbus_platform_hypercall_path(r->cfg.platform, CVMBUS_SYNIC_HYPERVISOR);
		ev.trusted = false;
		ev.connection_id = t->connection_id;
		ev.status = t->hv_status;
		ev.note = t->hv_status == HV_STATUS_SUCCESS ? "relay" : "relay post failed";
	}
	cvmbus_trace_emit(cvmbus_platform_trace(r->cfg.platform), &ev);
}

/* ---- the inbound port ------------------------------------------------------ */

/* The host's replies to the relay. Anyone can post to any connection id
 * (a guest through its GHCB, say), so only what the host sent is taken:
 * a forged OfferChannel from the guest must not become a relayed offer. */
static void relay_on_message(void *ctx, const struct cvmbus_port_message *m)
{
	struct pv_relay *r = ctx;
	struct relay_msg *slot;

	cvmbus_mutex_lock(&r->lock);
	if (m->from != CVMBUS_MEM_PARTY_HOST || m->message_type != HVMSG_VMBUS ||
	    m->size > HV_MESSAGE_PAYLOAD_SIZE) {
		r->info.dropped++;
		cvmbus_mutex_unlock(&r->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "relay: message from %s on 0x%x dropped",
			      cvmbus_mem_party_name(m->from), m->connection_id);
		return;
	}
	while (r->in_count == RELAY_INBOX_CAP && !r->port_closing)
		cvmbus_cond_wait(&r->cond, &r->lock);
	if (r->port_closing) {
		cvmbus_mutex_unlock(&r->lock);
		return;
	}
	slot = &r->inbox[(r->in_head + r->in_count) % RELAY_INBOX_CAP];
	slot->len = m->size;
	memcpy(slot->bytes, m->payload, m->size);
	r->in_count++;
	cvmbus_mutex_unlock(&r->lock);
	cvmbus_doorbell_ring(&r->bell, RELAY_BELL_INBOX);
}

/* ---- the glue's relayed callbacks (glue lock held: queue only) ------------- */

static int relay_push(struct pv_relay *r, struct relay_req *q)
{
	cvmbus_mutex_lock(&r->lock);
	if (r->stop_requested || r->state == RELAY_DONE || r->state == RELAY_IDLE) {
		cvmbus_mutex_unlock(&r->lock);
		free(q->values);
		free(q);
		return -ESHUTDOWN;
	}
	if (r->req_tail)
		r->req_tail->next = q;
	else
		r->req_head = q;
	r->req_tail = q;
	cvmbus_mutex_unlock(&r->lock);
	cvmbus_doorbell_ring(&r->bell, RELAY_BELL_REQ);
	return 0;
}

static struct relay_req *relay_req_new(const struct relay_chan *c, enum relay_req_kind kind,
				       uint32_t client, uint32_t guest_relid)
{
	struct relay_req *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->kind = kind;
	q->cookie = c->cookie;
	q->client = client;
	q->guest_relid = guest_relid;
	return q;
}

static int relay_open_request(void *ctx, const struct cvmbus_server_open_request *req)
{
	struct relay_chan *c = ctx;
	struct relay_req *q = relay_req_new(c, RELAY_RQ_OPEN, req->client, req->relid);

	if (!q)
		return -ENOMEM;
	q->open = *req;
	return relay_push(c->relay, q);
}

static int relay_close_request(void *ctx, uint32_t client, uint32_t relid)
{
	struct relay_chan *c = ctx;
	struct relay_req *q = relay_req_new(c, RELAY_RQ_CLOSE, client, relid);

	if (!q)
		return -ENOMEM;
	return relay_push(c->relay, q);
}

static int relay_gpadl_request(void *ctx, const struct cvmbus_server_gpadl *gpadl)
{
	struct relay_chan *c = ctx;
	struct relay_req *q;

	if (gpadl->nvalues == 0 || !gpadl->values)
		return -EINVAL;
	q = relay_req_new(c, RELAY_RQ_GPADL, gpadl->client, gpadl->relid);
	if (!q)
		return -ENOMEM;
	/* The values live only during this callback. */
	q->values = malloc(gpadl->nvalues * sizeof(*q->values));
	if (!q->values) {
		free(q);
		return -ENOMEM;
	}
	memcpy(q->values, gpadl->values, gpadl->nvalues * sizeof(*q->values));
	q->nvalues = gpadl->nvalues;
	q->range_count = gpadl->range_count;
	q->gpadl_id = gpadl->gpadl_id;
	return relay_push(c->relay, q);
}

static int relay_teardown_request(void *ctx, uint32_t client, uint32_t relid, uint32_t gpadl_id)
{
	struct relay_chan *c = ctx;
	struct relay_req *q = relay_req_new(c, RELAY_RQ_TEARDOWN, client, relid);

	if (!q)
		return -ENOMEM;
	q->gpadl_id = gpadl_id;
	return relay_push(c->relay, q);
}

/* ModifyChannel is not forwarded (the client state machine has no
 * ModifyChannel yet): the glue answers it at once, and the host keeps
 * signalling the vCPU of the open. See docs/PARAVISOR.md. */
static const struct cvmbus_relayed_ops relay_ops = {
	.open_request = relay_open_request,
	.close_request = relay_close_request,
	.gpadl_request = relay_gpadl_request,
	.gpadl_teardown_request = relay_teardown_request,
	.modify_request = NULL,
};

/* ---- guest requests, on the relay thread ----------------------------------- */

static void relay_do_open(struct pv_relay *r, const struct relay_req *q)
{
	struct relay_chan *c = relay_by_request(r, q);
	struct cvmbus_client_open_foreign_params p;
	int rc = -ENOENT;

	if (c && !c->open && !c->open_pending) {
		memset(&p, 0, sizeof(p));
		p.ring_gpadl = q->open.ring_gpadl_id;
		p.downstream_page_offset = q->open.downstream_page_offset;
		p.target_vp = q->open.target_vp;
		p.user_data = q->open.user_data;
		p.user_data_len = sizeof(q->open.user_data);
		/* Where the guest signals and is signalled, as its own server
		 * told it: the host takes over both ends. */
		p.connection_id = q->open.connection_id;
		p.event_flag = q->open.event_flag;
		p.open_flags = q->open.redirect_interrupt ? CVMBUS_OPEN_FLAG_REDIRECT_INTERRUPT : 0;
		rc = cvmbus_client_open_foreign(r->cli, c->host_relid, &p);
		if (rc == 0) {
			cvmbus_mutex_lock(&r->lock);
			c->open_pending = true;
			cvmbus_mutex_unlock(&r->lock);
			return;
		}
	}
	CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "relay: open of relid %u not forwarded (%d)",
		      q->guest_relid, rc);
	(void)cvmbus_server_glue_open_complete(r->cfg.glue, q->guest_relid,
					       CVMBUS_SERVER_GLUE_STATUS_FAILED);
}

static void relay_do_close(struct pv_relay *r, const struct relay_req *q)
{
	struct relay_chan *c = relay_by_request(r, q);

	if (c && c->open && cvmbus_client_close(r->cli, c->host_relid) == 0) {
		c->closing = true; /* CLOSE_DONE completes it */
		return;
	}
	/* Nothing open on the host (or it cannot say): the guest's close
	 * stands on its own. */
	(void)cvmbus_server_glue_close_complete(r->cfg.glue, q->guest_relid);
}

static void relay_do_gpadl(struct pv_relay *r, const struct relay_req *q)
{
	struct relay_chan *c = relay_by_request(r, q);
	struct relay_gpadl *g = NULL;
	int rc = -ENOENT;

	if (c) {
		g = calloc(1, sizeof(*g));
		rc = g ? cvmbus_client_gpadl_create_foreign(r->cli, c->host_relid, q->gpadl_id,
							    q->range_count, q->values, q->nvalues)
		       : -ENOMEM;
	}
	if (rc == 0) {
		g->handle = q->gpadl_id;
		g->client = q->client;
		g->next = c->gpadls;
		c->gpadls = g;
		return;
	}
	free(g);
	CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "relay: gpadl 0x%x of relid %u not forwarded (%d)",
		      q->gpadl_id, q->guest_relid, rc);
	(void)cvmbus_server_glue_gpadl_complete(r->cfg.glue, q->client, q->guest_relid,
						q->gpadl_id, CVMBUS_SERVER_GLUE_STATUS_FAILED);
}

static void relay_do_teardown(struct pv_relay *r, const struct relay_req *q)
{
	struct relay_chan *c = relay_by_request(r, q);

	if (c && relay_gpadl_find(c, q->gpadl_id) &&
	    cvmbus_client_gpadl_teardown(r->cli, c->host_relid, q->gpadl_id) == 0)
		return; /* GPADL_TORNDOWN completes it */
	if (c)
		relay_gpadl_remove(c, q->gpadl_id);
	(void)cvmbus_server_glue_gpadl_teardown_complete(r->cfg.glue, q->client, q->guest_relid,
							 q->gpadl_id);
}

static void relay_requests(struct pv_relay *r)
{
	struct relay_req *q;

	cvmbus_mutex_lock(&r->lock);
	q = r->req_head;
	r->req_head = r->req_tail = NULL;
	cvmbus_mutex_unlock(&r->lock);
	while (q) {
		struct relay_req *next = q->next;

		/* The client times each request from the last tick: after the
		 * relay slept (an idle channel, seconds or hours), a stale clock
		 * would put the host's deadline in the past and fail the request
		 * at the very next tick. */
		cvmbus_client_tick(r->cli, cvmbus_exec_now_ns(r->exec));
		switch (q->kind) {
		case RELAY_RQ_OPEN:
			relay_do_open(r, q);
			break;
		case RELAY_RQ_CLOSE:
			relay_do_close(r, q);
			break;
		case RELAY_RQ_GPADL:
			relay_do_gpadl(r, q);
			break;
		case RELAY_RQ_TEARDOWN:
			relay_do_teardown(r, q);
			break;
		}
		free(q->values);
		free(q);
		q = next;
	}
}

/* ---- host events, on the relay thread -------------------------------------- */

static void relay_offer(struct pv_relay *r, uint32_t host_relid)
{
	struct cvmbus_client_channel_info ci;
	struct cvmbus_client_stats st;
	struct cvmbus_offer_params p;
	struct relay_chan *c;
	uint32_t guest = 0;
	int rc;

	if (cvmbus_client_channel_info(r->cli, host_relid, &ci) || relay_by_host(r, host_relid))
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		relay_count(r, &r->info.offers_refused);
		return;
	}
	c->relay = r;
	c->host_relid = host_relid;
	c->if_type = ci.offer.if_type;
	c->if_instance = ci.offer.if_instance;
	/* The client already cleared the confidential bits; unknown bits
	 * would make the paravisor's server refuse the whole offer. */
	c->flags = ci.offer.flags & CVMBUS_OFFER_KNOWN_FLAGS & (uint16_t)~RELAY_CLEARED_FLAGS;

	memset(&p, 0, sizeof(p));
	p.interface_id = ci.offer.if_type;
	p.instance_id = ci.offer.if_instance;
	p.flags = c->flags;
	p.keep_flags = true;
	p.mmio_megabytes = ci.offer.mmio_megabytes;
	p.mmio_megabytes_optional = ci.offer.mmio_megabytes_optional;
	p.subchannel_index = ci.offer.sub_channel_index;
	/* The host's relid keeps the host's enumeration order among offers
	 * of one interface (OpenVMM's relay passes it the same way). */
	p.offer_order = host_relid;
	memcpy(p.user_defined, ci.offer.user_defined, sizeof(p.user_defined));

	cvmbus_client_get_stats(r->cli, &st);
	cvmbus_mutex_lock(&r->lock);
	c->cookie = ++r->next_cookie;
	r->by_host[host_relid] = c;
	r->info.flags_cleared = st.offers_flags_cleared;
	cvmbus_mutex_unlock(&r->lock);

	/* Requests for the new relid may be queued before guest_relid is
	 * set below; they are handled on this thread, after it. */
	rc = cvmbus_server_glue_add_relayed(r->cfg.glue, &p, &relay_ops, c, &guest);
	cvmbus_mutex_lock(&r->lock);
	if (rc == 0 && guest > 0 && guest < RELAY_RELIDS) {
		c->guest_relid = guest;
		r->host_of_guest[guest] = host_relid;
		r->info.channels++;
	} else {
		r->info.offers_refused++;
	}
	cvmbus_mutex_unlock(&r->lock);
	if (rc)
		cvmbus_log_warn("relay: host relid %u not re-offered (%d)", host_relid, rc);
}

/* Mark c rescinded and tell the guest: from here the paravisor's server
 * settles the guest's side alone (close, teardowns, RelIdReleased) and
 * asks the relay nothing more about it. */
static void relay_rescind_to_guest(struct pv_relay *r, struct relay_chan *c)
{
	uint32_t guest;
	int rc;

	cvmbus_mutex_lock(&r->lock);
	c->rescinded = true;
	guest = c->guest_relid;
	if (guest)
		r->host_of_guest[guest] = 0;
	r->info.rescinds++;
	if (r->info.channels && guest)
		r->info.channels--;
	cvmbus_mutex_unlock(&r->lock);
	if (!guest)
		return;
	rc = cvmbus_server_glue_rescind(r->cfg.glue, guest);
	if (rc && rc != -ESHUTDOWN) {
		/* The glue may still hold c as a ctx: keep it. */
		cvmbus_log_warn("relay: rescind of relid %u not passed on (%d)", guest, rc);
		c->retired = true;
	}
}

static void relay_rescind(struct pv_relay *r, uint32_t host_relid)
{
	struct relay_chan *c = relay_by_host(r, host_relid);
	int rc;

	if (!c || c->rescinded)
		return;
	relay_rescind_to_guest(r, c);
	/* The host's side: close if open, tear the forwarded GPADLs down,
	 * then RelIdReleased (RELEASED). */
	rc = cvmbus_client_release(r->cli, host_relid);
	if (rc)
		cvmbus_log_warn("relay: release of host relid %u failed (%d)", host_relid, rc);
}

static void relay_released(struct pv_relay *r, uint32_t host_relid)
{
	struct relay_chan *c = relay_by_host(r, host_relid);

	if (!c)
		return;
	cvmbus_mutex_lock(&r->lock);
	r->by_host[host_relid] = NULL;
	if (c->retired) {
		c->next_retired = r->retired;
		r->retired = c;
		c = NULL;
	}
	cvmbus_mutex_unlock(&r->lock);
	if (c)
		relay_chan_free(c);
}

static void relay_open_done(struct pv_relay *r, const struct cvmbus_client_event *ev)
{
	struct relay_chan *c = relay_by_host(r, ev->relid);
	int rc;

	if (!c || !c->open_pending)
		return;
	cvmbus_mutex_lock(&r->lock);
	c->open_pending = false;
	c->open = ev->status == 0;
	if (c->open)
		r->info.opens++;
	cvmbus_mutex_unlock(&r->lock);
	if (c->rescinded)
		return; /* the glue forgot the relid with the rescind */
	rc = cvmbus_server_glue_open_complete(r->cfg.glue, c->guest_relid, relay_status(ev->status));
	if (rc && c->open) {
		/* The guest will never use it: do not leave it open on the
		 * host, where it would point at the guest's pages. */
		cvmbus_log_warn("relay: open of relid %u refused by the server (%d)", c->guest_relid,
				rc);
		if (cvmbus_client_close(r->cli, c->host_relid) == 0)
			c->closing = false;
	}
}

static void relay_close_done(struct pv_relay *r, const struct cvmbus_client_event *ev)
{
	struct relay_chan *c = relay_by_host(r, ev->relid);
	bool answer;

	if (!c)
		return;
	cvmbus_mutex_lock(&r->lock);
	if (c->open)
		r->info.closes++;
	c->open = false;
	answer = c->closing && !c->rescinded;
	c->closing = false;
	cvmbus_mutex_unlock(&r->lock);
	if (answer)
		(void)cvmbus_server_glue_close_complete(r->cfg.glue, c->guest_relid);
}

static void relay_gpadl_done(struct pv_relay *r, const struct cvmbus_client_event *ev)
{
	struct relay_chan *c = relay_by_host(r, ev->relid);
	struct relay_gpadl *g = c ? relay_gpadl_find(c, ev->gpadl) : NULL;
	uint32_t client;

	if (!g)
		return;
	client = g->client;
	if (ev->status == 0)
		relay_count(r, &r->info.gpadls);
	else
		relay_gpadl_remove(c, ev->gpadl);
	if (!c->rescinded)
		(void)cvmbus_server_glue_gpadl_complete(r->cfg.glue, client, c->guest_relid,
							ev->gpadl, relay_status(ev->status));
}

static void relay_gpadl_torndown(struct pv_relay *r, const struct cvmbus_client_event *ev)
{
	struct relay_chan *c = relay_by_host(r, ev->relid);
	struct relay_gpadl *g = c ? relay_gpadl_find(c, ev->gpadl) : NULL;
	uint32_t client;

	if (!g)
		return;
	client = g->client;
	relay_gpadl_remove(c, ev->gpadl);
	if (ev->status)
		/* The host never confirmed: the guest still gets its answer
		 * (its pages go private, which the host cannot undo). */
		cvmbus_log_warn("relay: teardown of gpadl 0x%x not confirmed by the host (%d)",
				ev->gpadl, ev->status);
	if (!c->rescinded)
		(void)cvmbus_server_glue_gpadl_teardown_complete(r->cfg.glue, client,
								 c->guest_relid, ev->gpadl);
}

static void relay_connected(struct pv_relay *r, const struct cvmbus_client_event *ev)
{
	int rc;

	/* The relay cannot work without guest-specified signal parameters:
	 * the host must signal the guest's relid and take the guest's
	 * signals, not the relay's. OpenVMM also demands interrupt
	 * redirection and ModifyConnection; this relay uses neither. */
	if (ev->version < CVMBUS_VERSION_6_0 ||
	    !(ev->features & CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS)) {
		cvmbus_log_error("relay: host offers version 0x%x features 0x%x: need 6.0 with "
				 "signal parameters", ev->version, ev->features);
		relay_start_done(r, -EPROTONOSUPPORT);
		if (cvmbus_client_unload(r->cli) == 0)
			relay_set_state(r, RELAY_UNLOADING);
		else
			relay_set_state(r, RELAY_DONE);
		return;
	}
	cvmbus_mutex_lock(&r->lock);
	r->info.connected = true;
	r->info.host_version = ev->version;
	r->info.host_features = ev->features;
	cvmbus_mutex_unlock(&r->lock);
	rc = cvmbus_client_request_offers(r->cli);
	if (rc) {
		relay_start_done(r, rc);
		relay_set_state(r, cvmbus_client_unload(r->cli) == 0 ? RELAY_UNLOADING : RELAY_DONE);
		return;
	}
	relay_set_state(r, RELAY_OFFERS);
}

static void relay_event(struct pv_relay *r, const struct cvmbus_client_event *ev)
{
	switch (ev->type) {
	case CVMBUS_CLIENT_EV_CONNECTED:
		relay_connected(r, ev);
		break;
	case CVMBUS_CLIENT_EV_CONNECT_FAILED:
		relay_start_done(r, ev->status ? ev->status : -ECONNREFUSED);
		relay_set_state(r, RELAY_DONE);
		break;
	case CVMBUS_CLIENT_EV_OFFER:
		relay_offer(r, ev->relid);
		break;
	case CVMBUS_CLIENT_EV_ALL_OFFERS:
		if (ev->status == 0) {
			relay_set_state(r, RELAY_READY);
			relay_start_done(r, 0);
		} else {
			relay_start_done(r, ev->status);
		}
		break;
	case CVMBUS_CLIENT_EV_OPEN_DONE:
		relay_open_done(r, ev);
		break;
	case CVMBUS_CLIENT_EV_CLOSE_DONE:
		relay_close_done(r, ev);
		break;
	case CVMBUS_CLIENT_EV_GPADL_DONE:
		relay_gpadl_done(r, ev);
		break;
	case CVMBUS_CLIENT_EV_GPADL_TORNDOWN:
		relay_gpadl_torndown(r, ev);
		break;
	case CVMBUS_CLIENT_EV_RESCIND:
		relay_rescind(r, ev->relid);
		break;
	case CVMBUS_CLIENT_EV_RELEASED:
		relay_released(r, ev->relid);
		break;
	case CVMBUS_CLIENT_EV_UNLOADED:
		cvmbus_mutex_lock(&r->lock);
		r->info.connected = false;
		cvmbus_mutex_unlock(&r->lock);
		relay_start_done(r, -ESHUTDOWN);
		relay_set_state(r, RELAY_DONE);
		break;
	case CVMBUS_CLIENT_EV_OFFER_REFUSED:
	case CVMBUS_CLIENT_EV_PROTOCOL_ERROR:
		relay_count(r, &r->info.refused);
		break;
	default:
		break;
	}
}

static void relay_events(struct pv_relay *r)
{
	struct cvmbus_client_event ev;

	while (cvmbus_client_next_event(r->cli, &ev))
		relay_event(r, &ev);
}

/* ---- the relay thread -------------------------------------------------------- */

static void relay_inbox(struct pv_relay *r)
{
	struct relay_msg batch[8];
	unsigned int n;

	do {
		n = 0;
		cvmbus_mutex_lock(&r->lock);
		while (r->in_count && n < sizeof(batch) / sizeof(batch[0])) {
			batch[n++] = r->inbox[r->in_head];
			r->in_head = (r->in_head + 1) % RELAY_INBOX_CAP;
			r->in_count--;
		}
		if (n)
			cvmbus_cond_broadcast(&r->cond); /* room for the port's handler */
		cvmbus_mutex_unlock(&r->lock);
		for (unsigned int i = 0; i < n; i++) {
			cvmbus_client_tick(r->cli, cvmbus_exec_now_ns(r->exec));
			(void)cvmbus_client_handle_message(r->cli, batch[i].bytes, batch[i].len,
							   CVMBUS_CLIENT_PATH_HYPERVISOR);
			/* Events in message order: a GPADL's completion before
			 * the open that names it. */
			relay_events(r);
		}
	} while (n);
}

/* The host is gone: no message will come from it and none can reach it.
 * Every relayed channel is rescinded to the guest here, as if the host had
 * rescinded each one, but nothing is released on the host; then the relay
 * ends, and what the guest still asks gets failures (relay_requests after
 * the loop). */
static void relay_host_gone(struct pv_relay *r)
{
	relay_start_done(r, -ECONNRESET);
	for (uint32_t i = 1; i < RELAY_RELIDS; i++) {
		struct relay_chan *c = r->by_host[i];

		if (c && !c->rescinded)
			relay_rescind_to_guest(r, c);
	}
	cvmbus_mutex_lock(&r->lock);
	r->info.connected = false;
	cvmbus_mutex_unlock(&r->lock);
	relay_set_state(r, RELAY_DONE);
}

void pv_relay_host_lost(struct pv_relay *r)
{
	if (!r)
		return;
	cvmbus_mutex_lock(&r->lock);
	r->host_lost = true;
	cvmbus_cond_broadcast(&r->cond);
	cvmbus_mutex_unlock(&r->lock);
	cvmbus_doorbell_ring(&r->bell, RELAY_BELL_LOST);
}

/* On stop: unload if connected (the host closes what the relay had open
 * and forgets its GPADLs), otherwise just end. */
static void relay_begin_stop(struct pv_relay *r)
{
	enum cvmbus_client_conn_state st = cvmbus_client_state(r->cli);

	relay_start_done(r, -ESHUTDOWN);
	if (st == CVMBUS_CLIENT_CONNECTED && cvmbus_client_unload(r->cli) == 0) {
		relay_set_state(r, RELAY_UNLOADING);
		return;
	}
	if (st != CVMBUS_CLIENT_UNLOADING)
		relay_set_state(r, RELAY_DONE);
}

static int relay_main(void *arg)
{
	struct pv_relay *r = arg;
	struct cvmbus_client_transport t = {
		.post_message = relay_post,
		.ctx = r,
		.path = CVMBUS_CLIENT_PATH_HYPERVISOR,
	};
	bool stopping = false;
	int rc;

	cvmbus_client_tick(r->cli, cvmbus_exec_now_ns(r->exec));
	/* Not confidential: nothing the host serves can be. */
	rc = cvmbus_client_connect(r->cli, &t, false);
	if (rc) {
		relay_start_done(r, rc);
		relay_set_state(r, RELAY_DONE);
		return 0;
	}
	relay_set_state(r, RELAY_CONNECTING);
	relay_events(r);

	for (;;) {
		enum relay_state st;
		uint64_t now, next, timeout;
		bool stop, lost;

		cvmbus_mutex_lock(&r->lock);
		lost = r->host_lost;
		cvmbus_mutex_unlock(&r->lock);
		if (lost) {
			relay_host_gone(r);
			break;
		}
		relay_inbox(r);
		relay_requests(r);
		cvmbus_client_tick(r->cli, cvmbus_exec_now_ns(r->exec));
		relay_events(r);

		cvmbus_mutex_lock(&r->lock);
		stop = r->stop_requested;
		st = r->state;
		cvmbus_mutex_unlock(&r->lock);
		if (stop && !stopping) {
			stopping = true;
			if (st != RELAY_DONE && st != RELAY_UNLOADING)
				relay_begin_stop(r);
			relay_events(r);
			cvmbus_mutex_lock(&r->lock);
			st = r->state;
			cvmbus_mutex_unlock(&r->lock);
		}
		if (st == RELAY_DONE)
			break;

		now = cvmbus_exec_now_ns(r->exec);
		next = cvmbus_client_next_deadline(r->cli);
		if (next == UINT64_MAX)
			timeout = CVMBUS_EXEC_FOREVER;
		else
			timeout = next > now ? next - now : 0;
		if (timeout)
			(void)cvmbus_doorbell_wait(&r->bell,
						   RELAY_BELL_INBOX | RELAY_BELL_REQ | RELAY_BELL_STOP |
							   RELAY_BELL_LOST,
						   timeout, NULL);
	}
	/* Requests that raced with the end get their answers: failures. */
	relay_requests(r);
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------------ */

int pv_relay_create(const struct pv_relay_config *cfg, struct pv_relay **out)
{
	struct pv_relay *r;
	int rc;

	if (!cfg || !out || !cfg->platform || !cfg->glue || !cfg->host_connection_id ||
	    !cfg->inbound_connection_id || !cfg->timeout_ns ||
	    (cfg->host_connection_id & ~HV_CONNECTION_ID_MASK) ||
	    (cfg->inbound_connection_id & ~HV_CONNECTION_ID_MASK))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->exec = cvmbus_platform_exec(cfg->platform);

	memset(&r->cc, 0, sizeof(r->cc));
	r->cc.mem = cvmbus_platform_mem(cfg->platform);
	r->cc.max_version = CVMBUS_VERSION_6_0;
	/* The relay lives in VTL2 (OpenVMM's redirect targets VTL2 too). */
	r->cc.vtl = 2;
	r->cc.target_vcpu = 0;
	r->cc.extra_features = CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS |
			    CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION;
	r->cc.contact_timeout_ns = cfg->timeout_ns;
	r->cc.offers_timeout_ns = cfg->timeout_ns;
	r->cc.reply_timeout_ns = cfg->timeout_ns;
	r->cc.trace = relay_trace;
	r->cc.trace_ctx = r;
	/* The relay owns no guest RAM and must not touch any. */
	r->cc.no_monitor_pages = true;
	r->cc.clear_confidential_offers = true;
	rc = cvmbus_client_create(&r->cc, &r->cli);
	if (rc) {
		free(r);
		return rc;
	}
	cvmbus_mutex_init(&r->lock, r->exec, "relay");
	cvmbus_cond_init(&r->cond, r->exec, "relay");
	cvmbus_doorbell_init(&r->bell, r->exec, "relay");
	r->state = RELAY_IDLE;
	r->start_status = RELAY_PENDING;
	*out = r;
	return 0;
}

static int relay_run(struct pv_relay *r);

int pv_relay_start(struct pv_relay *r)
{
	struct cvmbus_port_config pc;
	int rc;

	if (!r)
		return -EINVAL;
	if (r->thread || r->port_added)
		return -EALREADY;
	memset(&pc, 0, sizeof(pc));
	pc.connection_id = r->cfg.inbound_connection_id;
	pc.kind = CVMBUS_PORT_MESSAGE;
	pc.owner = CVMBUS_MEM_PARTY_PARAVISOR;
	pc.on_message = relay_on_message;
	pc.ctx = r;
	rc = cvmbus_port_add(r->cfg.platform, &pc);
	if (rc)
		return rc;
	cvmbus_mutex_lock(&r->lock);
	r->port_added = true;
	cvmbus_mutex_unlock(&r->lock);

	return relay_run(r);
}

/* Start the relay thread and wait until the host's offers are re-offered
 * (or the start failed): pv_relay_start, and again after a restart. */
static int relay_run(struct pv_relay *r)
{
	uint64_t deadline;
	int rc;

	rc = cvmbus_thread_spawn(r->exec, &r->thread, "vmbus-relay", relay_main, r);
	if (rc) {
		r->thread = NULL;
		pv_relay_stop(r);
		return rc;
	}
	/* Contact, then the offers, each bounded by the client's own
	 * timeouts; the margin only guards against a relay that hangs. */
	deadline = cvmbus_exec_deadline(r->exec, 3 * r->cfg.timeout_ns);
	cvmbus_mutex_lock(&r->lock);
	while (r->start_status == RELAY_PENDING) {
		if (cvmbus_cond_wait_until(&r->cond, &r->lock, deadline) == -ETIMEDOUT) {
			r->start_status = -ETIMEDOUT;
			break;
		}
	}
	rc = r->start_status;
	cvmbus_mutex_unlock(&r->lock);
	if (rc) {
		cvmbus_log_error("relay: start failed (%d)", rc);
		pv_relay_stop(r);
	}
	return rc;
}

int pv_relay_restart(struct pv_relay *r)
{
	struct cvmbus_client *cli;
	int rc;

	if (!r || !r->port_added)
		return -EINVAL;
	cvmbus_mutex_lock(&r->lock);
	if (!r->host_lost || r->stop_requested) {
		cvmbus_mutex_unlock(&r->lock);
		return -EBUSY; /* only a relay whose host is gone starts over */
	}
	cvmbus_mutex_unlock(&r->lock);
	/* The thread ended after it rescinded everything (relay_host_gone). */
	if (r->thread) {
		cvmbus_thread_join(r->thread, NULL);
		r->thread = NULL;
	}
	rc = cvmbus_client_create(&r->cc, &cli);
	if (rc)
		return rc;
	/* The old host's client and channels: the glue may still hold a
	 * rescinded channel as the ctx of its offer until the guest has
	 * settled it, so they are retired (freed at destroy), not freed. */
	cvmbus_client_destroy(r->cli);
	r->cli = cli;
	cvmbus_mutex_lock(&r->lock);
	for (uint32_t i = 0; i < RELAY_RELIDS; i++) {
		struct relay_chan *c = r->by_host[i];

		if (!c)
			continue;
		c->next_retired = r->retired;
		r->retired = c;
		r->by_host[i] = NULL;
	}
	memset(r->host_of_guest, 0, sizeof(r->host_of_guest));
	r->in_head = r->in_count = 0;
	r->host_lost = false;
	r->state = RELAY_IDLE;
	r->start_status = RELAY_PENDING;
	r->info.connected = false;
	r->info.channels = 0;
	r->info.restarts++;
	cvmbus_mutex_unlock(&r->lock);
	(void)cvmbus_doorbell_take(&r->bell, RELAY_BELL_LOST | RELAY_BELL_INBOX);
	return relay_run(r);
}

void pv_relay_stop(struct pv_relay *r)
{
	bool remove;

	if (!r)
		return;
	if (r->thread) {
		cvmbus_mutex_lock(&r->lock);
		r->stop_requested = true;
		cvmbus_mutex_unlock(&r->lock);
		cvmbus_doorbell_ring(&r->bell, RELAY_BELL_STOP);
		cvmbus_thread_join(r->thread, NULL);
		r->thread = NULL;
	}
	/* The port stays until the thread is gone: the unload's answer comes
	 * through it. */
	cvmbus_mutex_lock(&r->lock);
	r->stop_requested = true;
	r->port_closing = true;
	cvmbus_cond_broadcast(&r->cond);
	remove = r->port_added;
	r->port_added = false;
	cvmbus_mutex_unlock(&r->lock);
	if (remove)
		(void)cvmbus_port_remove(r->cfg.platform, r->cfg.inbound_connection_id);
}

void pv_relay_destroy(struct pv_relay *r)
{
	if (!r)
		return;
	pv_relay_stop(r);
	while (r->req_head) {
		struct relay_req *q = r->req_head;

		r->req_head = q->next;
		free(q->values);
		free(q);
	}
	for (uint32_t i = 0; i < RELAY_RELIDS; i++)
		if (r->by_host[i])
			relay_chan_free(r->by_host[i]);
	while (r->retired) {
		struct relay_chan *c = r->retired;

		r->retired = c->next_retired;
		relay_chan_free(c);
	}
	/* The relay never allocated or shared a page, so the client's
	 * destroy frees records only. */
	cvmbus_client_destroy(r->cli);
	cvmbus_doorbell_destroy(&r->bell);
	cvmbus_cond_destroy(&r->cond);
	cvmbus_mutex_destroy(&r->lock);
	free(r);
}

/* ---- queries ------------------------------------------------------------------- */

void pv_relay_info(struct pv_relay *r, struct cvmbus_relay_info *out)
{
	cvmbus_mutex_lock(&r->lock);
	*out = r->info;
	cvmbus_mutex_unlock(&r->lock);
}

size_t pv_relay_channels(struct pv_relay *r, struct cvmbus_relay_channel *out, size_t cap)
{
	size_t n = 0;

	cvmbus_mutex_lock(&r->lock);
	for (uint32_t i = 1; i < RELAY_RELIDS; i++) {
		const struct relay_chan *c = r->by_host[i];

		if (!c)
			continue;
		if (out && n < cap) {
			struct cvmbus_relay_channel *o = &out[n];

			memset(o, 0, sizeof(*o));
			o->guest_relid = c->guest_relid;
			o->host_relid = c->host_relid;
			o->if_type = c->if_type;
			o->if_instance = c->if_instance;
			o->flags = c->flags;
			o->open = c->open;
			o->rescinded = c->rescinded;
		}
		n++;
	}
	cvmbus_mutex_unlock(&r->lock);
	return n;
}
