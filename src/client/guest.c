/* SPDX-License-Identifier: MIT */
/*
 * The guest's VMBus glue, lifecycle and control thread (src/client, above
 * the pure client of client.h and the platform of platform.h): what Linux's
 * vmbus_bus_init() / vmbus_connect() and its work queues do. The control
 * thread "vmbus-guest" owns the client, which is not thread-safe: it feeds
 * it the messages the interrupt handler (guest_synic.c) queued, with their
 * source SynIC, ticks it with executor time at its next deadline, runs the
 * requests API callers queue, and turns the client's events into the
 * completions those callers wait on. The blocking API runs detection on
 * the caller's thread: for each attempt it sets the SynICs up for that
 * mode, then has the control thread connect. HvPostMessage goes out on the
 * paravisor trap (trusted) for a confidential attempt and on the platform's
 * hypervisor path (GHCB, tdcall, hypercall page, hvc) otherwise. With an
 * attestation policy, the caller's thread also attests the paravisor
 * (nonce, report over the trap into a private page, verification) before
 * the first confidential attempt, and the outcome decides whether that
 * attempt runs, the connect fails, or the guest falls back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cvmbus/log.h>

#include "client/guest_internal.h"

#define EVBIT(t) (1u << (unsigned int)(t))

/* ---- names ---------------------------------------------------------------- */

const char *cvmbus_guest_state_name(enum cvmbus_guest_state state)
{
	switch (state) {
	case CVMBUS_GUEST_CREATED:
		return "created";
	case CVMBUS_GUEST_STARTED:
		return "started";
	case CVMBUS_GUEST_CONNECTED:
		return "connected";
	case CVMBUS_GUEST_UNLOADED:
		return "unloaded";
	case CVMBUS_GUEST_STOPPED:
		return "stopped";
	}
	return "unknown";
}

/* ---- transport and trace for the client -------------------------------------- */

static enum cvmbus_path guest_post_path(const struct cvmbus_guest *g, enum cvmbus_client_path path)
{
	if (path == CVMBUS_CLIENT_PATH_PARAVISOR)
		return g->paravisor ? CVMBUS_PATH_PARAVISOR_TRAP : CVMBUS_PATH_NONE;
	if (g->hyp_call_path != CVMBUS_PATH_NONE)
		return g->hyp_call_path;
	/* A paravisor without GHCB/tdcall: the plain hypercall traps. */
	return g->paravisor ? CVMBUS_PATH_PARAVISOR_TRAP : CVMBUS_PATH_NONE;
}

/* The client's transport: control thread only. */
static uint16_t guest_post(void *ctx, uint32_t connection_id, const void *msg, size_t len)
{
	struct cvmbus_guest *g = ctx;
	uint16_t status = HV_STATUS_SUCCESS;
	int rc;

	atomic_fetch_add(&g->stats.posts, 1);
	rc = cvmbus_hv_post_message(g->p, g->cfg.msg_vp, g->post_path, connection_id, HVMSG_VMBUS,
				    msg, (uint32_t)len, &status);
	if (rc) {
		/* Nothing ran (no such path, platform going away): a final
		 * failure for the client, not one it should retry. */
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "guest: post on %s failed (%d)",
			      cvmbus_path_name(g->post_path), rc);
		status = HV_STATUS_ACCESS_DENIED;
	}
	if (status != HV_STATUS_SUCCESS)
		atomic_fetch_add(&g->stats.post_failures, 1);
	return status;
}

/* Every channel message in and every post out, as a "msg" event of the
 * platform's trace: the guest's own view of the control plane. */
static void guest_client_trace(void *ctx, const struct cvmbus_client_trace *t)
{
	struct cvmbus_guest *g = ctx;
	struct cvmbus_trace_event ev;
	/* The peer is the server that owns connection ids 4 and 1: the
	 * paravisor's when there is one, the host's otherwise
	 * (docs/CONTROL_PLANE.md). Which SynIC or path carried a message is
	 * in synic and path, not in from/to. */
	unsigned int peer = cvmbus_platform_config(g->p)->paravisor ? CVMBUS_MEM_PARTY_PARAVISOR
								     : CVMBUS_MEM_PARTY_HOST;

	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_MSG);
	ev.vp = g->cfg.msg_vp;
	ev.message_type = HVMSG_VMBUS;
	ev.bytes = t->bytes;
	ev.len = (uint32_t)t->len;
	if (t->dir == CVMBUS_CLIENT_TRACE_RX) {
		bool para = t->path == CVMBUS_CLIENT_PATH_PARAVISOR;

		ev.from = peer;
		ev.to = CVMBUS_MEM_PARTY_GUEST;
		ev.synic = para ? CVMBUS_SYNIC_PARAVISOR : CVMBUS_SYNIC_HYPERVISOR;
		ev.trusted = para && g->isolation != HV_ISOLATION_TYPE_NONE;
		if (t->drop != CVMBUS_CLIENT_DROP_NONE)
			ev.note = cvmbus_client_drop_name(t->drop);
	} else {
		bool trap = g->post_path == CVMBUS_PATH_PARAVISOR_TRAP;

		ev.from = CVMBUS_MEM_PARTY_GUEST;
		ev.to = peer;
		ev.path = g->post_path;
		ev.trusted = trap && cvmbus_platform_trap_trusted(g->p);
		ev.connection_id = t->connection_id;
		ev.status = t->hv_status;
		if (t->hv_status != HV_STATUS_SUCCESS)
			ev.note = "post failed";
	}
	cvmbus_trace_emit(g->trace, &ev);
}

/* ---- create ----------------------------------------------------------------- */

static int guest_check_config(const struct cvmbus_guest_config *cfg)
{
	if (!cfg || !cfg->platform)
		return -EINVAL;
	if (cfg->detect != CVMBUS_CLIENT_DETECT_CPUID && cfg->detect != CVMBUS_CLIENT_DETECT_PROBE)
		return -EINVAL;
	if (cfg->msg_vp >= cvmbus_platform_vcpus(cfg->platform))
		return -EINVAL;
	if (cfg->sint_vector && cfg->sint_vector < 16)
		return -EINVAL; /* CPU exception vectors */
	if (cfg->auto_eoi > CVMBUS_GUEST_AUTO_EOI_OFF)
		return -EINVAL;
	if (cfg->msg_queue_depth > CVMBUS_GUEST_MAX_MSG_QUEUE)
		return -EINVAL;
	if (cfg->max_version && !cvmbus_wire_version_known(cfg->max_version))
		return -EINVAL;
	if (cfg->attest_policy > CVMBUS_GUEST_ATTEST_FALLBACK)
		return -EINVAL;
	if (cfg->expected_count && !cfg->expected_measurements)
		return -EINVAL;
	/* A policy without something to check against would verify nothing:
	 * refuse it here rather than refuse every connect later. */
	if (cfg->attest_policy != CVMBUS_GUEST_ATTEST_NONE &&
	    (!cfg->expected_count || !cfg->attest_pubkey_pem))
		return -EINVAL;
	return 0;
}

/* The guest's own copies of the verifier's key and measurement list. */
static int guest_attest_config(struct cvmbus_guest *g, const struct cvmbus_guest_config *cfg)
{
	char err[96];
	size_t len;
	int rc;

	if (cfg->expected_count) {
		g->attest_expect = calloc(cfg->expected_count, sizeof(*g->attest_expect));
		if (!g->attest_expect)
			return -ENOMEM;
		memcpy(g->attest_expect, cfg->expected_measurements,
		       cfg->expected_count * sizeof(*g->attest_expect));
		g->attest_expect_count = cfg->expected_count;
	}
	if (cfg->attest_pubkey_pem) {
		len = cfg->attest_pubkey_pem_len ? cfg->attest_pubkey_pem_len
						 : strlen(cfg->attest_pubkey_pem);
		rc = cvmbus_attest_pubkey_from_pem(cfg->attest_pubkey_pem, len, &g->attest_key, err,
						   sizeof(err));
		if (rc) {
			cvmbus_log_error("guest: attestation key: %s", err);
			return rc;
		}
	}
	/* The config copy must not point at the caller's memory. */
	g->cfg.expected_measurements = (const uint8_t (*)[CVMBUS_ATTEST_DIGEST_SIZE])g->attest_expect;
	g->cfg.attest_pubkey_pem = NULL;
	g->cfg.attest_pubkey_pem_len = 0;
	return 0;
}

int cvmbus_guest_create(const struct cvmbus_guest_config *cfg, struct cvmbus_guest **out)
{
	struct cvmbus_guest *g;
	int rc;

	if (!out)
		return -EINVAL;
	rc = guest_check_config(cfg);
	if (rc)
		return rc;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->cfg = *cfg;
	g->p = cfg->platform;
	g->exec = cvmbus_platform_exec(g->p);
	g->mem = cvmbus_platform_mem(g->p);
	g->trace = cvmbus_platform_trace(g->p);
	g->arch = cvmbus_platform_config(g->p)->arch;
	g->nvp = cvmbus_platform_vcpus(g->p);
	g->vector = cfg->sint_vector ? cfg->sint_vector : CVMBUS_GUEST_DEFAULT_VECTOR;
	/* hv_recommend_using_aeoi(): x86 yes, arm64 no. */
	if (cfg->auto_eoi == CVMBUS_GUEST_AUTO_EOI_DEFAULT)
		g->auto_eoi = g->arch == CVMBUS_ARCH_X86_64;
	else
		g->auto_eoi = cfg->auto_eoi == CVMBUS_GUEST_AUTO_EOI_ON;
	g->q_cap = cfg->msg_queue_depth ? cfg->msg_queue_depth : CVMBUS_GUEST_DEFAULT_MSG_QUEUE;

	g->vp = calloc(g->nvp, sizeof(*g->vp));
	g->offers = calloc(GUEST_NRELIDS, sizeof(*g->offers));
	g->chans = calloc(GUEST_NRELIDS, sizeof(*g->chans));
	g->q = calloc(g->q_cap, sizeof(*g->q));
	rc = -ENOMEM;
	if (!g->vp || !g->offers || !g->chans || !g->q)
		goto fail;
	rc = guest_attest_config(g, cfg);
	if (rc)
		goto fail;
	for (uint32_t vp = 0; vp < g->nvp; vp++) {
		g->vp[vp].index = vp;
		g->vp[vp].rep.vp = vp;
		atomic_init(&g->vp[vp].stalled, false);
	}
	atomic_init(&g->synic_confidential, false);
	g->req_closed = true; /* until the control thread runs */
	cvmbus_mutex_init(&g->q_lock, g->exec, "guest-msgq");
	cvmbus_mutex_init(&g->req_lock, g->exec, "guest-requests");
	cvmbus_mutex_init(&g->chan_lock, g->exec, "guest-channels");
	cvmbus_mutex_init(&g->info_lock, g->exec, "guest-info");
	cvmbus_doorbell_init(&g->bell, g->exec, "guest-control");
	g->state = CVMBUS_GUEST_CREATED;
	g->info.arch = g->arch;
	g->info.detection.strategy = cfg->detect;
	g->info.detection.winner = -1;
	g->info.attestation.policy = cfg->attest_policy;
	*out = g;
	return 0;

fail:
	cvmbus_attest_pubkey_free(g->attest_key);
	free(g->attest_expect);
	free(g->vp);
	free(g->offers);
	free(g->chans);
	free(g->q);
	free(g);
	return rc;
}

/* ---- the control thread: events ----------------------------------------------- */


/* The channel object of relid leaves the table and is destroyed: after a
 * close or a release the client no longer knows the channel, so neither do
 * the interrupt handler and the drivers. */
static void guest_chan_forget(struct cvmbus_guest *g, uint32_t relid)
{
	struct guest_chan *gc;

	cvmbus_mutex_lock(&g->chan_lock);
	gc = client_guest_chan_get_locked(g, relid);
	cvmbus_mutex_unlock(&g->chan_lock);
	client_guest_chan_destroy(g, gc);
}

static bool guest_req_matches(const struct guest_req *r, const struct cvmbus_client_event *ev)
{
	if (!(r->ev_mask & EVBIT(ev->type)))
		return false;
	switch (r->kind) {
	case GUEST_REQ_OPEN:
	case GUEST_REQ_CLOSE:
	case GUEST_REQ_RELEASE:
		return ev->relid == r->relid;
	case GUEST_REQ_GPADL_CREATE:
	case GUEST_REQ_GPADL_TEARDOWN:
		return ev->relid == r->relid && ev->gpadl == r->gpadl;
	default:
		return true;
	}
}

static void guest_complete(struct guest_req *r, int status)
{
	r->status = status;
	/* The request lives on the caller's stack: not touched after this. */
	cvmbus_completion_complete(&r->done);
}

/* The outcome of a request that waited for an event. */
static void guest_finish(struct cvmbus_guest *g, struct guest_req *r,
			 const struct cvmbus_client_event *ev)
{
	int status = ev->status;

	if (r->kind == GUEST_REQ_OPEN) {
		struct guest_chan *gc = r->chan;

		if (!status && r->deferred) {
			/* Open on the wire, but no channel object to hand out:
			 * close it again; the close completes on its own. */
			(void)cvmbus_client_close(g->cli, r->relid);
			status = r->deferred;
		}
		if (status) {
			client_guest_chan_destroy(g, gc);
			r->chan = NULL;
		} else {
			gc->ready = true;
			cvmbus_mutex_lock(&g->info_lock);
			g->offers[r->relid].offer.open = true;
			cvmbus_mutex_unlock(&g->info_lock);
		}
	}
	guest_complete(r, status);
}

static void guest_record_offer(struct cvmbus_guest *g, uint32_t relid)
{
	struct cvmbus_client_channel_info ci;
	struct guest_offer_rec *rec;

	if (relid == 0 || relid >= GUEST_NRELIDS || cvmbus_client_channel_info(g->cli, relid, &ci))
		return;
	cvmbus_mutex_lock(&g->info_lock);
	rec = &g->offers[relid];
	rec->present = true;
	memset(&rec->offer, 0, sizeof(rec->offer));
	rec->offer.relid = relid;
	rec->offer.if_type = ci.offer.if_type;
	rec->offer.if_instance = ci.offer.if_instance;
	rec->offer.flags = ci.offer.flags;
	rec->offer.sub_channel_index = ci.offer.sub_channel_index;
	rec->offer.connection_id = ci.offer.connection_id;
	rec->offer.confidential_ring = ci.confidential_ring;
	rec->offer.confidential_external = ci.confidential_external;
	rec->signal_path = CVMBUS_PATH_NONE;
	rec->ring_gpa = 0;
	rec->send_bytes = rec->recv_bytes = 0;
	for (int i = 0; i < CVMBUS_CLIENT_PATH_COUNT; i++)
		atomic_store(&rec->events[i], 0);
	atomic_store(&rec->signals, 0);
	atomic_store(&rec->signal_failures, 0);
	cvmbus_mutex_unlock(&g->info_lock);
}

static void guest_forget_offer(struct cvmbus_guest *g, uint32_t relid)
{
	if (relid == 0 || relid >= GUEST_NRELIDS)
		return;
	cvmbus_mutex_lock(&g->info_lock);
	g->offers[relid].present = false;
	g->offers[relid].offer.open = false;
	cvmbus_mutex_unlock(&g->info_lock);
}

static void guest_destroy_all_channels(struct cvmbus_guest *g)
{
	for (uint32_t relid = 1; relid < GUEST_NRELIDS; relid++) {
		struct guest_chan *gc;

		cvmbus_mutex_lock(&g->chan_lock);
		gc = g->chans[relid];
		cvmbus_mutex_unlock(&g->chan_lock);
		client_guest_chan_destroy(g, gc);
	}
}

static void guest_on_event(struct cvmbus_guest *g, const struct cvmbus_client_event *ev)
{
	struct guest_req **pp;

	switch (ev->type) {
	case CVMBUS_CLIENT_EV_CONNECTED:
		cvmbus_mutex_lock(&g->info_lock);
		g->info.version = ev->version;
		g->info.features = ev->features;
		g->info.msg_conn_id = cvmbus_client_msg_conn_id(g->cli);
		g->info.confidential = cvmbus_client_confidential(g->cli);
		g->info.post_path = g->post_path;
		g->info.signal_path = client_guest_signal_path(g, g->info.confidential);
		cvmbus_mutex_unlock(&g->info_lock);
		cvmbus_log_info("guest: connected, version %u.%u%s over %s",
				CVMBUS_VERSION_MAJOR(ev->version), CVMBUS_VERSION_MINOR(ev->version),
				cvmbus_client_confidential(g->cli) ? ", confidential" : "",
				cvmbus_path_name(g->post_path));
		break;
	case CVMBUS_CLIENT_EV_OFFER:
		guest_record_offer(g, ev->relid);
		break;
	case CVMBUS_CLIENT_EV_RESCIND:
		if (ev->relid > 0 && ev->relid < GUEST_NRELIDS) {
			struct guest_chan *gc;

			cvmbus_mutex_lock(&g->info_lock);
			g->offers[ev->relid].offer.rescinded = true;
			cvmbus_mutex_unlock(&g->info_lock);
			/* Wake the driver: its waits end with -ESHUTDOWN, then
			 * it releases (Linux calls the driver's remove). */
			cvmbus_mutex_lock(&g->chan_lock);
			gc = client_guest_chan_get_locked(g, ev->relid);
			if (gc)
				cvmbus_channel_close(&gc->ch);
			cvmbus_mutex_unlock(&g->chan_lock);
		}
		break;
	case CVMBUS_CLIENT_EV_CLOSE_DONE:
		if (ev->relid > 0 && ev->relid < GUEST_NRELIDS) {
			cvmbus_mutex_lock(&g->info_lock);
			g->offers[ev->relid].offer.open = false;
			cvmbus_mutex_unlock(&g->info_lock);
		}
		break;
	case CVMBUS_CLIENT_EV_RELEASED:
		guest_forget_offer(g, ev->relid);
		break;
	case CVMBUS_CLIENT_EV_UNLOADED:
		/* A pending open's channel object is in the table as well
		 * (it went in when the ring was formatted): destroy it once,
		 * here, so that failing the request below finds no object
		 * left to destroy a second time. */
		for (struct guest_req *r = g->pending; r; r = r->next) {
			if (r->kind == GUEST_REQ_OPEN && r->chan) {
				client_guest_chan_destroy(g, r->chan);
				r->chan = NULL;
			}
		}
		/* Every channel is forgotten by the client: so here. */
		guest_destroy_all_channels(g);
		for (uint32_t relid = 1; relid < GUEST_NRELIDS; relid++)
			guest_forget_offer(g, relid);
		break;
	default:
		break;
	}

	for (pp = &g->pending; *pp; pp = &(*pp)->next) {
		struct guest_req *r = *pp;

		if (!guest_req_matches(r, ev))
			continue;
		*pp = r->next;
		guest_finish(g, r, ev);
		break;
	}
	if (ev->type == CVMBUS_CLIENT_EV_UNLOADED) {
		/* Nothing the client forgot will ever answer. */
		while (g->pending) {
			struct guest_req *r = g->pending;

			g->pending = r->next;
			if (r->kind == GUEST_REQ_OPEN) {
				client_guest_chan_destroy(g, r->chan);
				r->chan = NULL;
			}
			guest_complete(r, -ENOTCONN);
		}
	}
	if (g->cfg.on_event)
		g->cfg.on_event(g->cfg.event_ctx, ev);
}

static void guest_drain_events(struct cvmbus_guest *g)
{
	struct cvmbus_client_event ev;

	while (cvmbus_client_next_event(g->cli, &ev) == 1)
		guest_on_event(g, &ev);
}

/* The client's clock is executor time: virtual under det. */
static void guest_tick(struct cvmbus_guest *g)
{
	cvmbus_client_tick(g->cli, cvmbus_exec_now_ns(g->exec));
	guest_drain_events(g);
}

/* ---- the control thread: requests --------------------------------------------- */

static void guest_run_req(struct cvmbus_guest *g, struct guest_req *r)
{
	struct cvmbus_client_transport t;
	int rc = 0;

	r->ev_mask = 0;
	switch (r->kind) {
	case GUEST_REQ_CONNECT:
		g->post_path = guest_post_path(g, r->attempt.path);
		t.post_message = guest_post;
		t.ctx = g;
		t.path = r->attempt.path;
		rc = cvmbus_client_connect(g->cli, &t, r->attempt.confidential);
		r->ev_mask = EVBIT(CVMBUS_CLIENT_EV_CONNECTED) | EVBIT(CVMBUS_CLIENT_EV_CONNECT_FAILED);
		break;
	case GUEST_REQ_OFFERS:
		rc = cvmbus_client_request_offers(g->cli);
		r->ev_mask = EVBIT(CVMBUS_CLIENT_EV_ALL_OFFERS);
		break;
	case GUEST_REQ_OPEN: {
		const struct cvmbus_guest_open_params *op = r->open;
		struct cvmbus_client_open_params cp;

		memset(&cp, 0, sizeof(cp));
		cp.send_bytes = op->send_bytes;
		cp.recv_bytes = op->recv_bytes;
		cp.user_data = op->user_data;
		cp.user_data_len = op->user_data_len;
		cp.target_vp = op->target_vp;
		cvmbus_mutex_lock(&g->chan_lock);
		rc = client_guest_chan_get_locked(g, r->relid) ? -EBUSY : 0;
		cvmbus_mutex_unlock(&g->chan_lock);
		if (!rc)
			rc = cvmbus_client_open(g->cli, r->relid, &cp);
		if (!rc) {
			/* The ring exists now and no server can attach before
			 * OpenChannel: format it here (guest_channel.c). */
			r->deferred = client_guest_chan_create(g, r->relid, op, &r->chan);
			r->ev_mask = EVBIT(CVMBUS_CLIENT_EV_OPEN_DONE);
		}
		break;
	}
	case GUEST_REQ_CLOSE:
		rc = cvmbus_client_close(g->cli, r->relid);
		if (!rc) {
			guest_chan_forget(g, r->relid);
			r->ev_mask = EVBIT(CVMBUS_CLIENT_EV_CLOSE_DONE);
		}
		break;
	case GUEST_REQ_GPADL_CREATE:
		rc = cvmbus_client_gpadl_create(g->cli, r->relid, r->bytes, &r->gpadl, &r->gpa);
		r->ev_mask = EVBIT(CVMBUS_CLIENT_EV_GPADL_DONE);
		break;
	case GUEST_REQ_GPADL_TEARDOWN:
		rc = cvmbus_client_gpadl_teardown(g->cli, r->relid, r->gpadl);
		r->ev_mask = EVBIT(CVMBUS_CLIENT_EV_GPADL_TORNDOWN);
		break;
	case GUEST_REQ_RELEASE:
		rc = cvmbus_client_release(g->cli, r->relid);
		if (!rc) {
			guest_chan_forget(g, r->relid);
			r->ev_mask = EVBIT(CVMBUS_CLIENT_EV_RELEASED);
		}
		break;
	case GUEST_REQ_UNLOAD:
		rc = cvmbus_client_unload(g->cli);
		r->ev_mask = EVBIT(CVMBUS_CLIENT_EV_UNLOADED);
		break;
	case GUEST_REQ_CALL:
		r->call(g, r->arg);
		break;
	}
	if (rc < 0 || !r->ev_mask) {
		guest_complete(r, rc);
		return;
	}
	/* Parked before the events are drained: an outcome the call already
	 * produced (a post that failed at once) finds it. */
	r->next = g->pending;
	g->pending = r;
	guest_drain_events(g);
}

static void guest_drain_requests(struct cvmbus_guest *g)
{
	for (;;) {
		struct guest_req *r;

		cvmbus_mutex_lock(&g->req_lock);
		r = g->req_head;
		if (r) {
			g->req_head = r->next;
			if (!g->req_head)
				g->req_tail = NULL;
			r->next = NULL;
		}
		cvmbus_mutex_unlock(&g->req_lock);
		if (!r)
			return;
		guest_tick(g);
		guest_run_req(g, r);
	}
}

static void guest_drain_messages(struct cvmbus_guest *g)
{
	for (;;) {
		struct guest_msg m;
		bool got = false;

		cvmbus_mutex_lock(&g->q_lock);
		if (g->q_count) {
			m = g->q[g->q_head];
			g->q_head = (g->q_head + 1) % g->q_cap;
			g->q_count--;
			got = true;
		}
		cvmbus_mutex_unlock(&g->q_lock);
		if (!got)
			return;
		guest_tick(g);
		/* The client copies, validates, then uses; a dropped message
		 * shows up as an event and a counter. */
		(void)cvmbus_client_handle_hv_message(g->cli, &m.msg, m.source);
		guest_drain_events(g);
	}
}

static int guest_thread(void *arg)
{
	struct cvmbus_guest *g = arg;
	const uint64_t mask = GUEST_BELL_MSG | GUEST_BELL_REQ | GUEST_BELL_STOP;

	for (;;) {
		uint64_t now = cvmbus_exec_now_ns(g->exec);
		uint64_t deadline = cvmbus_client_next_deadline(g->cli);
		uint64_t fired = 0;

		if (deadline == UINT64_MAX)
			(void)cvmbus_doorbell_wait(&g->bell, mask, CVMBUS_EXEC_FOREVER, &fired);
		else if (deadline > now)
			(void)cvmbus_doorbell_wait(&g->bell, mask, deadline - now, &fired);
		else
			fired = cvmbus_doorbell_take(&g->bell, mask);
		guest_tick(g);
		if (fired & GUEST_BELL_STOP)
			break;
		guest_drain_messages(g);
		guest_drain_requests(g);
		/* After the queue made room: what the handler left behind. */
		client_guest_rescan(g);
		guest_drain_messages(g);
	}

	/* Nobody waits forever: queued and parked requests fail. req_closed
	 * was set before STOP rang, so no request arrives after this. */
	for (;;) {
		struct guest_req *r;

		cvmbus_mutex_lock(&g->req_lock);
		r = g->req_head;
		if (r) {
			g->req_head = r->next;
			if (!g->req_head)
				g->req_tail = NULL;
		}
		cvmbus_mutex_unlock(&g->req_lock);
		if (!r)
			break;
		guest_complete(r, -ESHUTDOWN);
	}
	while (g->pending) {
		struct guest_req *r = g->pending;

		g->pending = r->next;
		if (r->kind == GUEST_REQ_OPEN) {
			client_guest_chan_destroy(g, r->chan);
			r->chan = NULL;
		}
		guest_complete(r, -ESHUTDOWN);
	}
	return 0;
}

/* Queue a request and wait for its outcome (any executor thread but the
 * control thread and the vCPUs, which the outcome needs). */
static int guest_submit(struct cvmbus_guest *g, struct guest_req *r)
{
	int rc;

	if (cvmbus_vcpu_self(g->p) != CVMBUS_TRACE_NO_VP)
		return -EDEADLK;
	cvmbus_completion_init(&r->done, g->exec, "guest-request");
	r->next = NULL;
	cvmbus_mutex_lock(&g->req_lock);
	rc = g->req_closed ? -ESHUTDOWN : cvmbus_thread_self() == g->thread ? -EDEADLK : 0;
	if (rc) {
		cvmbus_mutex_unlock(&g->req_lock);
		cvmbus_completion_destroy(&r->done);
		return rc;
	}
	if (g->req_tail)
		g->req_tail->next = r;
	else
		g->req_head = r;
	g->req_tail = r;
	cvmbus_mutex_unlock(&g->req_lock);
	cvmbus_doorbell_ring(&g->bell, GUEST_BELL_REQ);
	rc = cvmbus_completion_wait(&r->done, CVMBUS_EXEC_FOREVER);
	cvmbus_completion_destroy(&r->done);
	return rc ? rc : r->status;
}

static enum cvmbus_guest_state guest_state_get(struct cvmbus_guest *g)
{
	enum cvmbus_guest_state s;

	cvmbus_mutex_lock(&g->info_lock);
	s = g->state;
	cvmbus_mutex_unlock(&g->info_lock);
	return s;
}

/* ---- start / stop ---------------------------------------------------------------- */

int cvmbus_guest_start(struct cvmbus_guest *g)
{
	struct hv_cpuid_result iso, vs;
	struct cvmbus_client_platform plat;
	struct cvmbus_client_config cc;
	struct cvmbus_client_detect peek;
	struct cvmbus_client_attempt first;
	struct cvmbus_thread *thread;
	int rc;

	if (!g)
		return -EINVAL;
	cvmbus_mutex_lock(&g->info_lock);
	rc = g->state == CVMBUS_GUEST_CREATED && !g->busy ? 0 : -EBUSY;
	if (!rc)
		g->busy = true;
	cvmbus_mutex_unlock(&g->info_lock);
	if (rc)
		return rc;

	/* What the partition is, as Linux learns it (ms_hyperv_init_platform):
	 * the isolation leaf from the hypervisor, the virtualization-stack
	 * leaf from the paravisor. */
	rc = cvmbus_cpuid(g->p, g->cfg.msg_vp, HYPERV_CPUID_ISOLATION_CONFIG, &iso);
	if (!rc)
		rc = cvmbus_cpuid(g->p, g->cfg.msg_vp, HYPERV_CPUID_VIRT_STACK_PROPERTIES, &vs);
	if (rc)
		goto out;
	cvmbus_client_platform_from_cpuid(&plat, &iso, &vs);
	g->paravisor = plat.paravisor_present;
	g->isolation = plat.isolation;
	g->boundary = cvmbus_mem_boundary_from_cpuid_ebx(iso.ebx);
	g->hyp_reg_path = cvmbus_platform_reg_path(g->p, CVMBUS_SYNIC_HYPERVISOR);
	g->hyp_call_path = cvmbus_platform_hypercall_path(g->p, CVMBUS_SYNIC_HYPERVISOR);
	if (!g->paravisor &&
	    (g->hyp_reg_path == CVMBUS_PATH_NONE || g->hyp_call_path == CVMBUS_PATH_NONE)) {
		rc = -EOPNOTSUPP;
		goto out;
	}
	cvmbus_client_detect_init(&g->detect, g->cfg.detect, &plat);
	peek = g->detect;
	if (!cvmbus_client_detect_next(&peek, &first)) {
		rc = -EINVAL;
		goto out;
	}

	memset(&cc, 0, sizeof(cc));
	cc.mem = g->mem;
	cc.max_version = g->cfg.max_version;
	cc.vtl = g->cfg.msg_vtl;
	cc.target_vcpu = g->cfg.msg_vp;
	cc.isolated = g->isolation != HV_ISOLATION_TYPE_NONE;
	cc.shared_gpa_boundary = g->boundary;
	cc.contact_timeout_ns = g->cfg.contact_timeout_ns;
	cc.offers_timeout_ns = g->cfg.offers_timeout_ns;
	cc.reply_timeout_ns = g->cfg.reply_timeout_ns;
	cc.trace = guest_client_trace;
	cc.trace_ctx = g;
	rc = cvmbus_client_create(&cc, &g->cli);
	if (rc)
		goto out;

	/* The handler before the SynICs: an interrupt with no handler is
	 * forgotten by the platform. */
	cvmbus_platform_set_isr(g->p, client_guest_isr, g);
	g->isr_set = true;
	rc = client_guest_synic_setup(g, first.confidential);
	if (rc)
		goto fail_isr;
	rc = cvmbus_thread_spawn(g->exec, &thread, "vmbus-guest", guest_thread, g);
	if (rc)
		goto fail_synic;
	/* Requests are taken from here on. */
	cvmbus_mutex_lock(&g->req_lock);
	g->thread = thread;
	g->req_closed = false;
	cvmbus_mutex_unlock(&g->req_lock);

	cvmbus_mutex_lock(&g->info_lock);
	g->info.isolation = g->isolation;
	g->info.paravisor = g->paravisor;
	g->info.shared_gpa_boundary = g->boundary;
	g->info.detection.platform = plat;
	g->state = CVMBUS_GUEST_STARTED;
	g->busy = false;
	cvmbus_mutex_unlock(&g->info_lock);
	return 0;

fail_synic:
	client_guest_synic_teardown(g);
fail_isr:
	cvmbus_platform_set_isr(g->p, NULL, NULL);
	g->isr_set = false;
	cvmbus_client_destroy(g->cli);
	g->cli = NULL;
out:
	cvmbus_log_error("guest: start failed (%d)", rc);
	cvmbus_mutex_lock(&g->info_lock);
	g->busy = false;
	cvmbus_mutex_unlock(&g->info_lock);
	return rc;
}

void cvmbus_guest_stop(struct cvmbus_guest *g)
{
	struct cvmbus_thread *thread;
	enum cvmbus_guest_state s;

	if (!g)
		return;
	s = guest_state_get(g);
	if (s == CVMBUS_GUEST_CREATED || s == CVMBUS_GUEST_STOPPED)
		return;
	cvmbus_mutex_lock(&g->req_lock);
	thread = g->thread;
	g->req_closed = true;
	cvmbus_mutex_unlock(&g->req_lock);
	if (thread) {
		cvmbus_doorbell_ring(&g->bell, GUEST_BELL_STOP);
		(void)cvmbus_thread_join(thread, NULL);
		cvmbus_mutex_lock(&g->req_lock);
		g->thread = NULL;
		cvmbus_mutex_unlock(&g->req_lock);
	}
	/* From here this thread owns the client. Channels first (their
	 * pages are the client's), then the SynICs, then the handler. */
	guest_destroy_all_channels(g);
	if (g->synic_up)
		client_guest_synic_teardown(g);
	if (g->isr_set) {
		cvmbus_platform_set_isr(g->p, NULL, NULL);
		g->isr_set = false;
	}
	cvmbus_mutex_lock(&g->info_lock);
	g->state = CVMBUS_GUEST_STOPPED;
	cvmbus_mutex_unlock(&g->info_lock);
}

void cvmbus_guest_destroy(struct cvmbus_guest *g)
{
	if (!g)
		return;
	cvmbus_guest_stop(g);
	cvmbus_client_destroy(g->cli);
	cvmbus_doorbell_destroy(&g->bell);
	cvmbus_mutex_destroy(&g->info_lock);
	cvmbus_mutex_destroy(&g->chan_lock);
	cvmbus_mutex_destroy(&g->req_lock);
	cvmbus_mutex_destroy(&g->q_lock);
	cvmbus_attest_pubkey_free(g->attest_key);
	free(g->attest_expect);
	free(g->q);
	free(g->chans);
	free(g->offers);
	free(g->vp);
	free(g);
}

/* ---- attestation ------------------------------------------------------------------ */

const char *cvmbus_guest_attest_policy_name(enum cvmbus_guest_attest_policy policy)
{
	switch (policy) {
	case CVMBUS_GUEST_ATTEST_NONE:
		return "none";
	case CVMBUS_GUEST_ATTEST_REQUIRE:
		return "require";
	case CVMBUS_GUEST_ATTEST_FALLBACK:
		return "fallback";
	}
	return "unknown";
}

const char *cvmbus_guest_attest_decision_name(enum cvmbus_guest_attest_decision decision)
{
	switch (decision) {
	case CVMBUS_GUEST_ATTEST_NOT_RUN:
		return "not-run";
	case CVMBUS_GUEST_ATTEST_CHECK_ONLY:
		return "check-only";
	case CVMBUS_GUEST_ATTEST_CONFIDENTIAL:
		return "confidential";
	case CVMBUS_GUEST_ATTEST_REFUSED:
		return "refused";
	case CVMBUS_GUEST_ATTEST_FELL_BACK:
		return "fell-back";
	}
	return "unknown";
}

/* 64 bytes the host cannot predict: a nonce it could guess would let it
 * replay a report it saw before. */
static int guest_nonce(uint8_t nonce[CVMBUS_ATTEST_REPORT_DATA_SIZE])
{
	size_t got = 0;

	while (got < CVMBUS_ATTEST_REPORT_DATA_SIZE) {
		ssize_t n = getrandom(nonce + got, CVMBUS_ATTEST_REPORT_DATA_SIZE - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -EIO;
		}
		got += (size_t)n;
	}
	return 0;
}

static void guest_hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The request failed before there was a report to verify. */
static int guest_attest_request_failed(struct cvmbus_guest_attestation *a, int rc,
				       const char *what)
{
	a->status = rc;
	a->reason = CVMBUS_ATTEST_INTERNAL;
	snprintf(a->reason_text, sizeof(a->reason_text), "report request failed");
	snprintf(a->detail, sizeof(a->detail), "%s (error %d)", what, rc);
	return rc;
}

/*
 * Ask the platform for a report over the trusted path and verify it. The
 * report page is private guest RAM (made so if the allocator handed back a
 * shared one), zeroed before, read once through the guest's view, then
 * zeroed and freed: the report is never anywhere the host can see. Fills
 * *a; returns its status.
 */
static int guest_attest_run(struct cvmbus_guest *g, struct cvmbus_guest_attestation *a)
{
	uint8_t nonce[CVMBUS_ATTEST_REPORT_DATA_SIZE];
	uint8_t report[CVMBUS_ATTEST_REPORT_SIZE];
	static const uint8_t zero[GUEST_PAGE];
	struct cvmbus_attest_expect ex;
	struct cvmbus_attest_result res;
	uint64_t gpa;
	int rc;

	memset(a, 0, sizeof(*a));
	a->policy = g->cfg.attest_policy;
	rc = guest_nonce(nonce);
	if (rc)
		return guest_attest_request_failed(a, rc, "no randomness for the nonce");
	rc = cvmbus_mem_alloc(g->mem, CVMBUS_MEM_REGION_VTL0, 1, &gpa);
	if (rc)
		return guest_attest_request_failed(a, rc, "no page for the report");
	a->report_gpa = gpa;
	if (g->isolation != HV_ISOLATION_TYPE_NONE &&
	    cvmbus_mem_page_state(g->mem, gpa) != CVMBUS_MEM_PAGE_PRIVATE)
		rc = cvmbus_mem_make_private(g->mem, CVMBUS_MEM_PARTY_GUEST, gpa, 1);
	if (!rc)
		rc = cvmbus_mem_write(g->mem, CVMBUS_MEM_VIEW_GUEST, gpa, zero, sizeof(zero));
	if (rc) {
		(void)cvmbus_mem_free(g->mem, gpa, 1);
		return guest_attest_request_failed(a, rc, "report page not usable");
	}
	rc = cvmbus_attest_request(g->p, g->cfg.msg_vp, CVMBUS_PATH_PARAVISOR_TRAP, nonce, gpa);
	if (!rc)
		rc = cvmbus_mem_read(g->mem, CVMBUS_MEM_VIEW_GUEST, gpa, report, sizeof(report));
	(void)cvmbus_mem_write(g->mem, CVMBUS_MEM_VIEW_GUEST, gpa, zero, sizeof(zero));
	(void)cvmbus_mem_free(g->mem, gpa, 1);
	if (rc)
		return guest_attest_request_failed(a, rc, "the paravisor did not answer");

	memset(&ex, 0, sizeof(ex));
	ex.measurements = (const uint8_t (*)[CVMBUS_ATTEST_DIGEST_SIZE])g->attest_expect;
	ex.measurement_count = g->attest_expect_count;
	ex.nonce = nonce;
	/* The isolation type the hardware reported through CPUID: a report
	 * from a platform that is not what this guest runs on is foreign. */
	ex.check_isolation = true;
	ex.isolation = g->isolation;
	rc = cvmbus_attest_verify_ex(report, sizeof(report), g->attest_key, &ex, &res);
	a->status = rc;
	a->reason = res.reason;
	snprintf(a->reason_text, sizeof(a->reason_text), "%s", cvmbus_attest_reason_str(res.reason));
	snprintf(a->detail, sizeof(a->detail), "%s", res.detail);
	if (res.parsed) {
		a->measurement_known = true;
		memcpy(a->measurement, res.report.measurement, sizeof(a->measurement));
		guest_hex(a->measurement, sizeof(a->measurement), a->measurement_hex);
	}
	if (!rc)
		a->measurement_index = res.measurement_index;
	return rc;
}

/* The outcome, in the platform's trace (a "msg" event without bytes whose
 * note carries it, docs/ATTESTATION.md) and in the log, loudly when the
 * guest goes on without the confidentiality it asked for. */
static void guest_attest_report(struct cvmbus_guest *g, const struct cvmbus_guest_attestation *a)
{
	const char *dname = cvmbus_guest_attest_decision_name(a->decision);
	const char *m = a->measurement_known ? a->measurement_hex : "none";
	struct cvmbus_trace_event ev;
	char note[512];

	snprintf(note, sizeof(note), "attest decision=%s status=%d reason=%s measurement=%s detail=%s",
		 dname, a->status, a->reason_text, m, a->detail);
	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_MSG);
	ev.vp = g->cfg.msg_vp;
	ev.from = CVMBUS_MEM_PARTY_GUEST;
	ev.path = CVMBUS_PATH_PARAVISOR_TRAP;
	ev.trusted = cvmbus_platform_trap_trusted(g->p);
	ev.err = a->status;
	ev.note = note;
	cvmbus_trace_emit(g->trace, &ev);

	switch (a->decision) {
	case CVMBUS_GUEST_ATTEST_CONFIDENTIAL:
		cvmbus_log_info("guest: paravisor attested (measurement %.16s..., expected #%zu): "
				"enabling confidential vmbus",
				m, a->measurement_index);
		break;
	case CVMBUS_GUEST_ATTEST_REFUSED:
		cvmbus_log_error("guest: paravisor attestation failed: %s: %s; refusing the "
				 "confidential connection",
				 a->reason_text, a->detail);
		break;
	case CVMBUS_GUEST_ATTEST_FELL_BACK:
		cvmbus_log_warn("guest: WARNING: paravisor attestation failed: %s: %s; falling "
				"back to the host-visible vmbus path: NOTHING on it is confidential",
				a->reason_text, a->detail);
		break;
	default:
		cvmbus_log_info("guest: attestation check: %s%s%s", a->reason_text,
				a->status ? ": " : "", a->status ? a->detail : "");
		break;
	}
}

/* Before the first confidential attempt of a connect: attest, decide,
 * record. 0 when the confidential attempt may go on. */
static int guest_attest_for_connect(struct cvmbus_guest *g)
{
	struct cvmbus_guest_attestation a;
	int rc;

	rc = guest_attest_run(g, &a);
	if (!rc)
		a.decision = CVMBUS_GUEST_ATTEST_CONFIDENTIAL;
	else if (g->cfg.attest_policy == CVMBUS_GUEST_ATTEST_REQUIRE)
		a.decision = CVMBUS_GUEST_ATTEST_REFUSED;
	else
		a.decision = CVMBUS_GUEST_ATTEST_FELL_BACK;
	cvmbus_mutex_lock(&g->info_lock);
	g->info.attestation = a;
	cvmbus_mutex_unlock(&g->info_lock);
	guest_attest_report(g, &a);
	return rc;
}

int cvmbus_guest_attest(struct cvmbus_guest *g, struct cvmbus_guest_attestation *out)
{
	enum cvmbus_guest_state s;
	int rc;

	if (!g || !out || !g->attest_key || !g->attest_expect_count)
		return -EINVAL;
	/* CPUID was read at start; after stop the platform may be going. */
	s = guest_state_get(g);
	if (s == CVMBUS_GUEST_CREATED || s == CVMBUS_GUEST_STOPPED)
		return -EBUSY;
	rc = guest_attest_run(g, out);
	out->decision = CVMBUS_GUEST_ATTEST_CHECK_ONLY;
	guest_attest_report(g, out);
	return rc;
}

/* ---- connect, unload --------------------------------------------------------------- */

/* Take the connect/unload token: one at a time, and only in states that
 * allow it. */
static int guest_begin(struct cvmbus_guest *g, bool connect)
{
	int rc = 0;

	cvmbus_mutex_lock(&g->info_lock);
	if (g->busy)
		rc = -EBUSY;
	else if (connect && g->state != CVMBUS_GUEST_STARTED && g->state != CVMBUS_GUEST_UNLOADED)
		rc = g->state == CVMBUS_GUEST_CONNECTED ? -EALREADY : -EBUSY;
	else if (!connect && g->state != CVMBUS_GUEST_CONNECTED)
		rc = -ENOTCONN;
	if (!rc)
		g->busy = true;
	cvmbus_mutex_unlock(&g->info_lock);
	return rc;
}

static void guest_end(struct cvmbus_guest *g, enum cvmbus_guest_state on_success, int rc)
{
	cvmbus_mutex_lock(&g->info_lock);
	g->busy = false;
	if (!rc && g->state != CVMBUS_GUEST_STOPPED)
		g->state = on_success;
	cvmbus_mutex_unlock(&g->info_lock);
}

int cvmbus_guest_connect(struct cvmbus_guest *g)
{
	struct cvmbus_client_attempt a;
	struct guest_req r;
	unsigned int n = 0;
	bool attested = false, last = false;
	int rc, attest_rc = 0;

	if (!g)
		return -EINVAL;
	rc = guest_begin(g, true);
	if (rc)
		return rc;
	/* The detection starts over at each connect (after an unload too). */
	cvmbus_client_detect_init(&g->detect, g->cfg.detect, &g->info.detection.platform);
	cvmbus_mutex_lock(&g->info_lock);
	g->info.detection.attempts = 0;
	g->info.detection.winner = -1;
	memset(&g->info.attestation, 0, sizeof(g->info.attestation));
	g->info.attestation.policy = g->cfg.attest_policy;
	cvmbus_mutex_unlock(&g->info_lock);

	rc = -EDOM;
	while (n < CVMBUS_GUEST_MAX_ATTEMPTS && cvmbus_client_detect_next(&g->detect, &a)) {
		struct cvmbus_guest_attempt_record *rec;
		unsigned int idx;

		/* Attest before the paravisor is trusted with anything: before
		 * this attempt's SynIC setup and its InitiateContact. Once per
		 * connect, with a fresh nonce each connect. */
		if (a.confidential && g->cfg.attest_policy != CVMBUS_GUEST_ATTEST_NONE) {
			if (!attested) {
				attest_rc = guest_attest_for_connect(g);
				attested = true;
			}
			if (attest_rc && g->cfg.attest_policy == CVMBUS_GUEST_ATTEST_REQUIRE) {
				rc = -EACCES;
				break;
			}
			if (attest_rc) {
				/* FALLBACK: what the probe falls back to, the
				 * hypervisor SynIC with the paravisor's SINT
				 * proxied; and nothing after it, since every
				 * later attempt would be the same or worse. */
				a.confidential = false;
				a.path = CVMBUS_CLIENT_PATH_HYPERVISOR;
				last = true;
			}
		}
		idx = n++;

		if (g->cfg.on_attempt)
			g->cfg.on_attempt(g->cfg.attempt_ctx, idx, &a);
		cvmbus_log_info("guest: attempt %u: %s over the %s", idx,
				a.confidential ? "confidential" : "not confidential",
				cvmbus_client_path_name(a.path));
		/* The SynICs follow the attempt (v4: free and allocate again
		 * with is_confidential changed). */
		if (!g->synic_up || a.confidential != atomic_load(&g->synic_confidential)) {
			if (g->synic_up)
				client_guest_synic_teardown(g);
			rc = client_guest_synic_setup(g, a.confidential);
			if (rc)
				break;
		}
		memset(&r, 0, sizeof(r));
		r.kind = GUEST_REQ_CONNECT;
		r.attempt = a;
		rc = guest_submit(g, &r);

		cvmbus_mutex_lock(&g->info_lock);
		rec = &g->info.detection.attempt[idx];
		rec->attempt = a;
		rec->post_path = guest_post_path(g, a.path);
		rec->status = rc;
		g->info.detection.attempts = n;
		if (!rc)
			g->info.detection.winner = (int)idx;
		cvmbus_mutex_unlock(&g->info_lock);
		if (!rc || rc == -ESHUTDOWN || rc == -EDEADLK || last)
			break;
	}
	if (!rc) {
		memset(&r, 0, sizeof(r));
		r.kind = GUEST_REQ_OFFERS;
		rc = guest_submit(g, &r);
	}
	if (rc)
		cvmbus_log_warn("guest: connect failed (%d)", rc);
	guest_end(g, CVMBUS_GUEST_CONNECTED, rc);
	return rc;
}

int cvmbus_guest_unload(struct cvmbus_guest *g)
{
	struct guest_req r;
	int rc;

	if (!g)
		return -EINVAL;
	rc = guest_begin(g, false);
	if (rc)
		return rc;
	memset(&r, 0, sizeof(r));
	r.kind = GUEST_REQ_UNLOAD;
	rc = guest_submit(g, &r);
	/* Once Unload went out the connection is gone either way: a timeout
	 * leaves the pages out of the allocator, not the connection up. */
	guest_end(g, CVMBUS_GUEST_UNLOADED, rc == -ESHUTDOWN ? rc : 0);
	return rc;
}

/* ---- offers ------------------------------------------------------------------------ */

static void guest_offer_copy(struct cvmbus_guest *g, uint32_t relid, struct cvmbus_guest_offer *out)
{
	*out = g->offers[relid].offer;
}

int cvmbus_guest_offers(struct cvmbus_guest *g, struct cvmbus_guest_offer *out, size_t cap,
			size_t *count)
{
	size_t n = 0;

	if (!g || (cap && !out))
		return -EINVAL;
	cvmbus_mutex_lock(&g->info_lock);
	for (uint32_t relid = 1; relid < GUEST_NRELIDS; relid++) {
		if (!g->offers[relid].present)
			continue;
		if (n < cap)
			guest_offer_copy(g, relid, &out[n]);
		n++;
	}
	cvmbus_mutex_unlock(&g->info_lock);
	if (count)
		*count = n;
	return 0;
}

int cvmbus_guest_find_offer(struct cvmbus_guest *g, const struct cvmbus_guid *if_type,
			    struct cvmbus_guest_offer *out)
{
	int rc = -ENOENT;

	if (!g || !if_type || !out)
		return -EINVAL;
	cvmbus_mutex_lock(&g->info_lock);
	for (uint32_t relid = 1; relid < GUEST_NRELIDS; relid++) {
		const struct guest_offer_rec *rec = &g->offers[relid];

		if (!rec->present || rec->offer.rescinded ||
		    memcmp(&rec->offer.if_type, if_type, sizeof(*if_type)))
			continue;
		guest_offer_copy(g, relid, out);
		rc = 0;
		break;
	}
	cvmbus_mutex_unlock(&g->info_lock);
	return rc;
}

/* ---- channels ----------------------------------------------------------------------- */

static int guest_check_relid(struct cvmbus_guest *g, uint32_t relid)
{
	if (!g || relid == 0 || relid >= GUEST_NRELIDS)
		return -EINVAL;
	return 0;
}

int cvmbus_guest_open(struct cvmbus_guest *g, uint32_t relid,
		      const struct cvmbus_guest_open_params *p, struct cvmbus_channel **out)
{
	struct guest_req r;
	int rc;

	rc = guest_check_relid(g, relid);
	if (rc || !p || !out)
		return rc ? rc : -EINVAL;
	memset(&r, 0, sizeof(r));
	r.kind = GUEST_REQ_OPEN;
	r.relid = relid;
	r.open = p;
	rc = guest_submit(g, &r);
	if (rc)
		return rc;
	*out = &r.chan->ch;
	return 0;
}

int cvmbus_guest_close(struct cvmbus_guest *g, uint32_t relid)
{
	struct guest_req r;
	uint32_t *ids = NULL;
	size_t n;
	int rc;

	rc = guest_check_relid(g, relid);
	if (rc)
		return rc;
	/* The driver's buffers: out of the channel before it goes, torn down
	 * once CloseChannel is done (guest_channel.c says why). */
	n = client_guest_chan_take_gpadls(g, relid, &ids);
	memset(&r, 0, sizeof(r));
	r.kind = GUEST_REQ_CLOSE;
	r.relid = relid;
	rc = guest_submit(g, &r);
	for (size_t i = 0; i < n; i++) {
		int trc = cvmbus_guest_gpadl_teardown(g, relid, ids[i]);

		/* -ENOENT: a rescind's release already settled it. */
		if (trc && trc != -ENOENT)
			cvmbus_log_warn("guest: teardown of buffer gpadl %#x of relid %u failed (%d)",
					ids[i], relid, trc);
	}
	free(ids);
	return rc;
}

int cvmbus_guest_gpadl_create(struct cvmbus_guest *g, uint32_t relid, uint64_t bytes,
			      uint32_t *handle, uint64_t *gpa)
{
	struct guest_req r;
	int rc;

	rc = guest_check_relid(g, relid);
	if (rc || !handle || !gpa)
		return rc ? rc : -EINVAL;
	memset(&r, 0, sizeof(r));
	r.kind = GUEST_REQ_GPADL_CREATE;
	r.relid = relid;
	r.bytes = bytes;
	rc = guest_submit(g, &r);
	if (rc)
		return rc;
	*handle = r.gpadl;
	*gpa = r.gpa;
	return 0;
}

int cvmbus_guest_gpadl_teardown(struct cvmbus_guest *g, uint32_t relid, uint32_t handle)
{
	struct guest_req r;
	int rc;

	rc = guest_check_relid(g, relid);
	if (rc)
		return rc;
	memset(&r, 0, sizeof(r));
	r.kind = GUEST_REQ_GPADL_TEARDOWN;
	r.relid = relid;
	r.gpadl = handle;
	return guest_submit(g, &r);
}

int cvmbus_guest_release(struct cvmbus_guest *g, uint32_t relid)
{
	struct guest_req r;
	int rc;

	rc = guest_check_relid(g, relid);
	if (rc)
		return rc;
	memset(&r, 0, sizeof(r));
	r.kind = GUEST_REQ_RELEASE;
	r.relid = relid;
	return guest_submit(g, &r);
}

/* ---- reports ---------------------------------------------------------------------- */

enum cvmbus_guest_state cvmbus_guest_state(struct cvmbus_guest *g)
{
	return g ? guest_state_get(g) : CVMBUS_GUEST_STOPPED;
}

/* Pages the guest made host-visible, now, summed by reason. */
static void guest_exposure(struct cvmbus_guest *g, struct cvmbus_guest_info *out)
{
	struct cvmbus_mem_exposure_iter it;
	struct cvmbus_mem_exposure_range r;

	out->exposure_count = 0;
	cvmbus_mem_exposure_iter_init(&it, CVMBUS_MEM_EXPOSURE_NOW);
	while (cvmbus_mem_exposure_next(g->mem, &it, &r) == 1) {
		const char *reason = r.reason ? r.reason : CVMBUS_MEM_REASON_UNTAGGED;
		unsigned int i;

		if (!r.visible_now || r.party != CVMBUS_MEM_PARTY_GUEST)
			continue;
		for (i = 0; i < out->exposure_count; i++)
			if (!strcmp(out->exposure[i].reason, reason))
				break;
		if (i == out->exposure_count) {
			if (i == CVMBUS_GUEST_MAX_EXPOSURE)
				continue; /* more reasons than a report keeps */
			memset(&out->exposure[i], 0, sizeof(out->exposure[i]));
			strncpy(out->exposure[i].reason, reason, CVMBUS_MEM_REASON_MAX_LEN);
			out->exposure_count++;
		}
		out->exposure[i].pages += r.bytes / GUEST_PAGE;
	}
}

void cvmbus_guest_get_info(struct cvmbus_guest *g, struct cvmbus_guest_info *out)
{
	if (!g || !out)
		return;
	cvmbus_mutex_lock(&g->info_lock);
	*out = g->info;
	out->state = g->state;
	cvmbus_mutex_unlock(&g->info_lock);
	guest_exposure(g, out);
}

void cvmbus_guest_get_stats(struct cvmbus_guest *g, struct cvmbus_guest_stats *out)
{
	const struct guest_stats *s;

	if (!g || !out)
		return;
	s = &g->stats;
	memset(out, 0, sizeof(*out));
	out->interrupts = atomic_load(&s->interrupts);
	out->other_sint = atomic_load(&s->other_sint);
	for (int i = 0; i < CVMBUS_CLIENT_PATH_COUNT; i++) {
		out->messages[i] = atomic_load(&s->messages[i]);
		out->events[i] = atomic_load(&s->events[i]);
	}
	for (int i = 0; i < CVMBUS_PATH_COUNT; i++)
		out->eoms[i] = atomic_load(&s->eoms[i]);
	out->other_messages = atomic_load(&s->other_messages);
	out->eom_failures = atomic_load(&s->eom_failures);
	out->unknown_relid_events = atomic_load(&s->unknown_relid_events);
	out->queue_stalls = atomic_load(&s->queue_stalls);
	out->rescans = atomic_load(&s->rescans);
	out->posts = atomic_load(&s->posts);
	out->post_failures = atomic_load(&s->post_failures);
	out->pages_leaked = atomic_load(&s->pages_leaked);
}

int cvmbus_guest_synic_report(struct cvmbus_guest *g, uint32_t vp,
			      struct cvmbus_guest_synic_report *out)
{
	if (!g || !out || vp >= g->nvp)
		return -EINVAL;
	cvmbus_mutex_lock(&g->info_lock);
	*out = g->vp[vp].rep;
	cvmbus_mutex_unlock(&g->info_lock);
	return 0;
}

int cvmbus_guest_channel_report(struct cvmbus_guest *g, uint32_t relid,
				struct cvmbus_guest_channel_report *out)
{
	const struct guest_offer_rec *rec;
	int rc = 0;

	if (!g || !out || relid == 0 || relid >= GUEST_NRELIDS)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	cvmbus_mutex_lock(&g->info_lock);
	rec = &g->offers[relid];
	if (!rec->present) {
		rc = -ENOENT;
	} else {
		out->relid = relid;
		out->flags = rec->offer.flags;
		out->confidential_ring = rec->offer.confidential_ring;
		out->confidential_external = rec->offer.confidential_external;
		out->rescinded = rec->offer.rescinded;
		out->open = rec->offer.open;
		out->connection_id = rec->offer.connection_id;
		out->signal_path = rec->signal_path;
		out->target_vp = rec->target_vp;
		out->ring_gpa = rec->ring_gpa;
		out->send_bytes = rec->send_bytes;
		out->recv_bytes = rec->recv_bytes;
		for (int i = 0; i < CVMBUS_CLIENT_PATH_COUNT; i++)
			out->events[i] = atomic_load(&rec->events[i]);
		out->signals = atomic_load(&rec->signals);
		out->signal_failures = atomic_load(&rec->signal_failures);
	}
	cvmbus_mutex_unlock(&g->info_lock);
	if (!rc && out->send_bytes)
		out->ring_private = cvmbus_mem_page_state(g->mem, out->ring_gpa) ==
				    CVMBUS_MEM_PAGE_PRIVATE;
	return rc;
}

static void guest_copy_client_stats(struct cvmbus_guest *g, void *arg)
{
	cvmbus_client_get_stats(g->cli, arg);
}

int cvmbus_guest_client_stats(struct cvmbus_guest *g, struct cvmbus_client_stats *out)
{
	struct guest_req r;
	enum cvmbus_guest_state s;

	if (!g || !out)
		return -EINVAL;
	s = guest_state_get(g);
	if (!g->cli)
		return -ENOTCONN;
	if (s == CVMBUS_GUEST_STOPPED) {
		/* The thread is gone: the client is this caller's now. */
		cvmbus_client_get_stats(g->cli, out);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.kind = GUEST_REQ_CALL;
	r.call = guest_copy_client_stats;
	r.arg = out;
	return guest_submit(g, &r);
}
