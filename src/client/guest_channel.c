/* SPDX-License-Identifier: MIT */
/*
 * The guest's channel objects (src/client, between the pure client, which
 * allocates a ring and runs the open, and src/channel, which moves packets):
 * a cvmbus_channel (GUEST endpoint) laid over the guest's view of the ring
 * pages the client allocated, with ops that reach the world the way the
 * Linux guest does: signal = HvSignalEvent on the offer's connection id
 * (vmbus_set_event), over the paravisor trap when the connection is
 * confidential and the hypervisor's path otherwise (docs/CONTROL_PLANE.md);
 * external memory = the guest's own view (boundary bit stripped from shared
 * aliases). It also keeps the relid -> channel table the interrupt handler
 * uses to wake a channel whose event flag it found. Device buffers a driver
 * asks its channel for (netvsc's receive and send buffers) are the guest's
 * GPADLs of that relid; asking to tear one down while the channel is open
 * only lets go of it, and cvmbus_guest_close tears them down after the
 * close, Linux's order (netvsc frees its buffers after vmbus_close),
 * because a server keeps a buffer its device looked up until the channel
 * closes.
 *
 * Order at open (why the ring is formatted here): cvmbus_client_open()
 * allocates the ring, zeroes it, sets its visibility and posts the GPADL
 * header before it returns; OpenChannel goes out only after GpadlCreated,
 * which the control thread cannot handle before this returns. So FORMAT
 * right after the open call happens strictly before any server can attach
 * (it attaches at OpenChannel), and before the host even learned the
 * GPADL's use. Linux formats later (hv_ringbuffer_init after the GPADL),
 * which gives the same guarantee; formatting first also means a failed
 * GPADL never leaves a half-initialised channel behind. The channel is in
 * the table from then on, so a signal that races OpenResult is not lost
 * (its doorbell latches).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>
#include <cvmbus/memory.h>
#include <cvmbus/ring.h>

#include "client/guest_internal.h"

enum cvmbus_path client_guest_signal_path(const struct cvmbus_guest *g, bool confidential)
{
	/* A partition with a paravisor but no GHCB/tdcall reaches the
	 * hypervisor only through the trap, as its plain hypercall would. */
	if (g->paravisor && (confidential || g->hyp_call_path == CVMBUS_PATH_NONE))
		return CVMBUS_PATH_PARAVISOR_TRAP;
	return g->hyp_call_path;
}

static void guest_chan_signal(void *ctx)
{
	struct guest_chan *gc = ctx;
	struct cvmbus_guest *g = gc->g;
	struct guest_offer_rec *rec = &g->offers[gc->relid];
	uint32_t vp = cvmbus_vcpu_self(g->p);
	uint16_t status = HV_STATUS_SUCCESS;
	int rc;

	/* A vCPU signals on itself; any other thread borrows the message
	 * vCPU's carrier (one hypercall at a time per carrier). */
	if (vp == CVMBUS_TRACE_NO_VP)
		vp = g->cfg.msg_vp;
	rc = cvmbus_hv_signal_event(g->p, vp, gc->signal_path, gc->connection_id, 0, &status);
	atomic_fetch_add(&rec->signals, 1);
	if (rc || status != HV_STATUS_SUCCESS) {
		atomic_fetch_add(&rec->signal_failures, 1);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
			      "guest: signal of relid %u failed (error %d, status 0x%x)", gc->relid,
			      rc, status);
	}
}

/* A GPA in a packet may be a shared alias (gpa | boundary, what a bounce
 * buffer looks like): the guest's view is indexed by plain GPA. */
static uint64_t guest_plain_gpa(const struct cvmbus_guest *g, uint64_t gpa)
{
	return gpa & ~g->boundary;
}

static int guest_chan_mem_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct guest_chan *gc = ctx;

	return cvmbus_mem_read(gc->g->mem, CVMBUS_MEM_VIEW_GUEST, guest_plain_gpa(gc->g, gpa), dst,
			       len);
}

static int guest_chan_mem_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct guest_chan *gc = ctx;

	return cvmbus_mem_write(gc->g->mem, CVMBUS_MEM_VIEW_GUEST, guest_plain_gpa(gc->g, gpa),
				src, len);
}

static int guest_chan_gpadl_create(void *ctx, uint64_t bytes, struct cvmbus_gpadl_info *out)
{
	struct guest_chan *gc = ctx;
	struct guest_chan_gpadl *rec;
	uint64_t gpa, npages;
	uint32_t id;
	int rc;

	if (!bytes || bytes % GUEST_PAGE || !out)
		return -EINVAL;
	npages = bytes / GUEST_PAGE;
	rec = calloc(1, sizeof(*rec));
	if (rec)
		rec->pfns = calloc(npages, sizeof(*rec->pfns));
	if (!rec || !rec->pfns) {
		free(rec);
		return -ENOMEM;
	}
	/* The public call: the control thread makes it, visibility included
	 * (shared unless the offer has confidential external memory). */
	rc = cvmbus_guest_gpadl_create(gc->g, gc->relid, bytes, &id, &gpa);
	if (rc) {
		free(rec->pfns);
		free(rec);
		return rc;
	}
	/* The guest allocates a buffer as one contiguous run. */
	for (uint64_t i = 0; i < npages; i++)
		rec->pfns[i] = gpa / GUEST_PAGE + i;
	rec->id = id;
	cvmbus_mutex_lock(&gc->gpadl_lock);
	rec->next = gc->gpadls;
	gc->gpadls = rec;
	cvmbus_mutex_unlock(&gc->gpadl_lock);
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->gpa = gpa;
	out->bytes = bytes;
	out->pfns = rec->pfns;
	out->pfn_count = (uint32_t)npages;
	/* What the guest did with the pages, as partition memory says. */
	out->shared = cvmbus_mem_page_state(gc->g->mem, gpa) == CVMBUS_MEM_PAGE_SHARED;
	return 0;
}

static int guest_chan_gpadl_teardown(void *ctx, uint32_t id)
{
	struct guest_chan *gc = ctx;
	int rc = -ENOENT;

	/* The driver lets go; the buffer itself goes after the close. */
	cvmbus_mutex_lock(&gc->gpadl_lock);
	for (struct guest_chan_gpadl *r = gc->gpadls; r; r = r->next)
		if (r->id == id)
			rc = 0;
	cvmbus_mutex_unlock(&gc->gpadl_lock);
	return rc;
}

size_t client_guest_chan_take_gpadls(struct cvmbus_guest *g, uint32_t relid, uint32_t **ids)
{
	struct guest_chan_gpadl *list = NULL;
	struct guest_chan *gc;
	size_t n = 0;

	*ids = NULL;
	cvmbus_mutex_lock(&g->chan_lock);
	gc = client_guest_chan_get_locked(g, relid);
	if (gc) {
		cvmbus_mutex_lock(&gc->gpadl_lock);
		list = gc->gpadls;
		gc->gpadls = NULL;
		cvmbus_mutex_unlock(&gc->gpadl_lock);
	}
	cvmbus_mutex_unlock(&g->chan_lock);
	for (struct guest_chan_gpadl *r = list; r; r = r->next)
		n++;
	if (n)
		*ids = calloc(n, sizeof(**ids));
	n = 0;
	while (list) {
		struct guest_chan_gpadl *r = list;

		list = r->next;
		if (*ids)
			(*ids)[n++] = r->id;
		free(r->pfns);
		free(r);
	}
	return n;
}

int client_guest_chan_create(struct cvmbus_guest *g, uint32_t relid,
			     const struct cvmbus_guest_open_params *p, struct guest_chan **out)
{
	struct cvmbus_client_channel_info ci;
	struct cvmbus_channel_config cfg;
	struct cvmbus_ring_mem up, down;
	struct guest_chan *gc;
	size_t len;
	void *region;
	int rc;

	if (relid == 0 || relid >= GUEST_NRELIDS)
		return -EINVAL;
	rc = cvmbus_client_channel_info(g->cli, relid, &ci);
	if (rc)
		return rc;
	len = (size_t)ci.send_bytes + ci.recv_bytes;
	/* The client allocated one contiguous run and already set its final
	 * visibility, so this pointer stays valid until the ring is torn down. */
	rc = cvmbus_mem_ptr(g->mem, CVMBUS_MEM_VIEW_GUEST, ci.ring_gpa, len, &region);
	if (rc)
		return rc;
	rc = cvmbus_ring_split(region, len, ci.send_bytes / GUEST_PAGE, &up, &down);
	if (rc)
		return rc;

	gc = calloc(1, sizeof(*gc));
	if (!gc)
		return -ENOMEM;
	gc->g = g;
	gc->relid = relid;
	/* Copied once from the client's validated copy of the offer. */
	gc->connection_id = ci.offer.connection_id;
	gc->signal_path = client_guest_signal_path(g, cvmbus_client_confidential(g->cli));
	gc->ops.signal = guest_chan_signal;
	gc->ops.mem_read = guest_chan_mem_read;
	gc->ops.mem_write = guest_chan_mem_write;
	gc->ops.gpadl_create = guest_chan_gpadl_create;
	gc->ops.gpadl_teardown = guest_chan_gpadl_teardown;
	cvmbus_mutex_init(&gc->gpadl_lock, g->exec, "guest-chan-gpadl");

	memset(&cfg, 0, sizeof(cfg));
	cfg.exec = g->exec;
	cfg.endpoint = CVMBUS_RING_ENDPOINT_GUEST;
	cfg.mode = CVMBUS_RING_FORMAT; /* the guest owns the ring memory */
	cfg.upstream = up;
	cfg.downstream = down;
	cfg.ops = &gc->ops;
	cfg.ctx = gc;
	cfg.max_packet = p->max_packet;
	rc = cvmbus_channel_init(&gc->ch, &cfg);
	if (rc)
		goto fail_free;

	cvmbus_mutex_lock(&g->chan_lock);
	rc = g->chans[relid] ? -EBUSY : 0;
	if (!rc)
		g->chans[relid] = gc;
	cvmbus_mutex_unlock(&g->chan_lock);
	if (rc)
		goto fail_channel;

	cvmbus_mutex_lock(&g->info_lock);
	g->offers[relid].signal_path = gc->signal_path;
	g->offers[relid].target_vp = p->target_vp;
	g->offers[relid].ring_gpa = ci.ring_gpa;
	g->offers[relid].send_bytes = ci.send_bytes;
	g->offers[relid].recv_bytes = ci.recv_bytes;
	cvmbus_mutex_unlock(&g->info_lock);
	*out = gc;
	return 0;

fail_channel:
	cvmbus_channel_destroy(&gc->ch);
fail_free:
	cvmbus_mutex_destroy(&gc->gpadl_lock);
	free(gc);
	return rc;
}

struct guest_chan *client_guest_chan_get_locked(struct cvmbus_guest *g, uint32_t relid)
{
	if (relid == 0 || relid >= GUEST_NRELIDS)
		return NULL;
	return g->chans[relid];
}

void client_guest_chan_destroy(struct cvmbus_guest *g, struct guest_chan *gc)
{
	if (!gc)
		return;
	/* Out of the table first: once chan_lock is released no handler is
	 * inside cvmbus_channel_notify() on it, and none will be. */
	cvmbus_mutex_lock(&g->chan_lock);
	if (g->chans[gc->relid] == gc)
		g->chans[gc->relid] = NULL;
	cvmbus_mutex_unlock(&g->chan_lock);
	cvmbus_channel_close(&gc->ch);
	cvmbus_channel_destroy(&gc->ch);
	/* Records only: a close took the buffers first; a rescind or an
	 * unload settles them in the client. */
	while (gc->gpadls) {
		struct guest_chan_gpadl *r = gc->gpadls;

		gc->gpadls = r->next;
		free(r->pfns);
		free(r);
	}
	cvmbus_mutex_destroy(&gc->gpadl_lock);
	free(gc);
}

bool client_guest_chan_notify(struct cvmbus_guest *g, uint32_t relid,
			      enum cvmbus_client_path source)
{
	struct guest_chan *gc;

	cvmbus_mutex_lock(&g->chan_lock);
	gc = client_guest_chan_get_locked(g, relid);
	if (gc) {
		/* Only doorbells ring here: safe under the table lock, and the
		 * lock is what keeps the channel alive meanwhile. */
		cvmbus_channel_notify(&gc->ch);
		atomic_fetch_add(&g->offers[relid].events[source], 1);
	}
	cvmbus_mutex_unlock(&g->chan_lock);
	return gc != NULL;
}
