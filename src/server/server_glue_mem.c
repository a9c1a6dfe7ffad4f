/* SPDX-License-Identifier: MIT */
/*
 * The server glue's memory side (include/cvmbus/server_glue.h; layer:
 * src/server, with the glue): GPADL records and the page rules of
 * docs/CONTROL_PLANE.md, the mapping of an open channel's ring as a pointer
 * into the role's view, and the channel operations a device reaches memory
 * and the client through. The host sees guest memory only through the host
 * view (shared aliases; a private page is simply not mapped there); the
 * paravisor sees everything through its own view, so here the rules are
 * enforced by checks: a confidential ring must be private, a channel without
 * confidential flags must use host-visible pages, and nothing a guest names
 * may leave guest RAM (VTL2 memory is the paravisor's own).
 *
 * Threat model: every PFN and every GPA comes from the guest. Page states
 * are looked up, never assumed; a page the guest flips after the check only
 * changes what the guest itself exposes, and the host view faults (counted)
 * instead of reading a page that turned private.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>

#include "server/server_glue_internal.h"

#define SG_PAGE CVMBUS_MEM_PAGE_SIZE

enum sg_kind {
	SG_PAGE_PRIVATE = 0,
	SG_PAGE_SHARED = 1,
	SG_PAGE_UNUSABLE = 2, /* outside guest RAM, mid-transition */
};

static const char *role_name(const struct cvmbus_server_glue *g)
{
	return g->role == CVMBUS_SERVER_ROLE_HOST ? "host" : "paravisor";
}

/* Whether [gpa, gpa + len) lies in guest (VTL0) RAM. A guest never owns
 * paravisor memory, so a range naming it is refused even where the
 * paravisor's view could reach it. */
static bool in_guest_ram(const struct cvmbus_server_glue *g, uint64_t gpa, uint64_t len)
{
	if (gpa < g->vtl0_base || len > g->vtl0_bytes)
		return false;
	return gpa - g->vtl0_base <= g->vtl0_bytes - len;
}

/* What the role knows of a guest page now. The host asks its own view
 * (what is mapped there is what it can touch); the paravisor asks the
 * partition, which it is part of. */
static enum sg_kind page_kind(struct cvmbus_server_glue *g, uint64_t pfn)
{
	uint64_t gpa;
	int st;

	if (pfn > (UINT64_MAX >> CVMBUS_MEM_PAGE_SHIFT))
		return SG_PAGE_UNUSABLE;
	gpa = pfn << CVMBUS_MEM_PAGE_SHIFT;
	if (!in_guest_ram(g, gpa, SG_PAGE))
		return SG_PAGE_UNUSABLE;
	if (g->role == CVMBUS_SERVER_ROLE_HOST)
		return cvmbus_mem_host_view_visible(g->hv, gpa) ? SG_PAGE_SHARED : SG_PAGE_PRIVATE;
	st = cvmbus_mem_page_state(g->mem, gpa);
	if (st == CVMBUS_MEM_PAGE_PRIVATE)
		return SG_PAGE_PRIVATE;
	if (st == CVMBUS_MEM_PAGE_SHARED)
		return SG_PAGE_SHARED;
	return SG_PAGE_UNUSABLE;
}

/* ---- GPADL records ------------------------------------------------------- */

struct sg_gpadl *sg_gpadl_find(struct cvmbus_server_glue *g, uint32_t client, uint32_t id)
{
	for (struct sg_gpadl *r = g->gpadls; r; r = r->next)
		if (r->client == client && r->gpadl_id == id)
			return r;
	return NULL;
}

static void gpadl_free(struct cvmbus_server_glue *g, struct sg_gpadl *r)
{
	for (uint32_t i = 0; i < r->pinned; i++)
		(void)cvmbus_mem_unpin(g->mem, r->pfns[i] << CVMBUS_MEM_PAGE_SHIFT, 1);
	free(r->pfns);
	free(r);
}

void sg_gpadl_remove(struct cvmbus_server_glue *g, struct sg_gpadl *rec)
{
	cvmbus_mutex_lock(&g->gpadl_lock);
	for (struct sg_gpadl **pp = &g->gpadls; *pp; pp = &(*pp)->next) {
		if (*pp == rec) {
			*pp = rec->next;
			break;
		}
	}
	cvmbus_mutex_unlock(&g->gpadl_lock);
	gpadl_free(g, rec);
}

void sg_gpadl_drop_relid(struct cvmbus_server_glue *g, uint32_t relid)
{
	struct sg_gpadl *dead = NULL;

	cvmbus_mutex_lock(&g->gpadl_lock);
	for (struct sg_gpadl **pp = &g->gpadls; *pp;) {
		struct sg_gpadl *r = *pp;

		if (r->relid == relid) {
			*pp = r->next;
			r->next = dead;
			dead = r;
		} else {
			pp = &r->next;
		}
	}
	cvmbus_mutex_unlock(&g->gpadl_lock);
	while (dead) {
		struct sg_gpadl *n = dead->next;

		gpadl_free(g, dead);
		dead = n;
	}
}

void sg_gpadl_drop_all(struct cvmbus_server_glue *g)
{
	struct sg_gpadl *r;

	cvmbus_mutex_lock(&g->gpadl_lock);
	r = g->gpadls;
	g->gpadls = NULL;
	cvmbus_mutex_unlock(&g->gpadl_lock);
	while (r) {
		struct sg_gpadl *n = r->next;

		gpadl_free(g, r);
		r = n;
	}
}

/* Flatten the server's range list into the record. The server already
 * checked that it adds up; it is walked with bounds anyway, because a
 * mistake here would index guest-chosen memory. */
static int gpadl_parse(const struct cvmbus_server_gpadl *gp, struct sg_gpadl *r)
{
	uint32_t vi = 0, pi = 0;

	r->contiguous = gp->range_count == 1;
	for (uint32_t ri = 0; ri < gp->range_count; ri++) {
		uint64_t v, pages;
		uint32_t count, offset;

		if (vi >= gp->nvalues)
			return -EINVAL;
		v = gp->values[vi++];
		count = (uint32_t)v;
		offset = (uint32_t)(v >> 32);
		if (!count || offset >= SG_PAGE)
			return -EINVAL;
		pages = ((uint64_t)offset + count + SG_PAGE - 1) / SG_PAGE;
		if (pages > gp->nvalues - vi || pages > (uint64_t)gp->npages - pi)
			return -EINVAL;
		if (ri == 0)
			r->first_offset = offset;
		if (offset || (uint64_t)count != pages * SG_PAGE)
			r->contiguous = false;
		for (uint64_t k = 0; k < pages; k++) {
			uint64_t pfn = gp->values[vi++];

			if (pi && pfn != r->pfns[pi - 1] + 1)
				r->contiguous = false;
			r->pfns[pi++] = pfn;
		}
		r->bytes += count;
	}
	if (pi != gp->npages || vi != gp->nvalues)
		return -EINVAL;
	return 0;
}

/* The rule for a GPADL at creation (server.h, struct cvmbus_server_gpadl):
 * host: every page host-visible; paravisor: host-visible without
 * confidential flags, private with both, and with only one flag a use we
 * cannot know yet, so one kind throughout (the open checks the ring). */
static const char *gpadl_rule(const struct cvmbus_server_glue *g,
			      const struct cvmbus_server_gpadl *gp, const struct sg_gpadl *r)
{
	if (g->role == CVMBUS_SERVER_ROLE_HOST)
		return r->private_pages ? "a page is not host-visible" : NULL;
	if (!gp->confidential_ring && !gp->confidential_external_memory)
		return r->private_pages ? "private page in a non-confidential channel's gpadl"
					: NULL;
	if (gp->confidential_ring && gp->confidential_external_memory)
		return r->shared_pages ? "host-visible page in a confidential channel's gpadl"
				       : NULL;
	return r->private_pages && r->shared_pages ? "gpadl mixes private and host-visible pages"
						   : NULL;
}

int sg_gpadl_accept(struct cvmbus_server_glue *g, const struct cvmbus_server_gpadl *gp,
		    struct sg_gpadl **out)
{
	struct sg_gpadl *r;
	const char *why;
	int rc;

	if (!gp->npages || gp->nvalues < gp->npages)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->pfns = calloc(gp->npages, sizeof(*r->pfns));
	if (!r->pfns) {
		rc = -ENOMEM;
		goto fail;
	}
	r->client = gp->client;
	r->relid = gp->relid;
	r->gpadl_id = gp->gpadl_id;
	r->range_count = gp->range_count;
	r->npages = gp->npages;
	rc = gpadl_parse(gp, r);
	if (rc) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "%s glue: gpadl %u of relid %u: bad range list",
			      role_name(g), gp->gpadl_id, gp->relid);
		goto fail;
	}
	for (uint32_t i = 0; i < r->npages; i++) {
		/* Pin before looking: a page the guest turns private after
		 * this check would otherwise fault under the server's mapping
		 * later. Pinned, its visibility change is refused instead. */
		if (in_guest_ram(g, r->pfns[i] << CVMBUS_MEM_PAGE_SHIFT, SG_PAGE) &&
		    cvmbus_mem_pin(g->mem, r->pfns[i] << CVMBUS_MEM_PAGE_SHIFT, 1) == 0)
			r->pinned = i + 1;
		switch (r->pinned == i + 1 ? page_kind(g, r->pfns[i]) : SG_PAGE_UNUSABLE) {
		case SG_PAGE_PRIVATE:
			r->private_pages++;
			break;
		case SG_PAGE_SHARED:
			r->shared_pages++;
			break;
		default:
			CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
				      "%s glue: gpadl %u of relid %u: pfn 0x%llx is not usable guest ram",
				      role_name(g), gp->gpadl_id, gp->relid,
				      (unsigned long long)r->pfns[i]);
			rc = -EPERM;
			goto fail;
		}
	}
	why = gpadl_rule(g, gp, r);
	if (why) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
			      "%s glue: gpadl %u of relid %u refused: %s (%u private, %u shared)",
			      role_name(g), gp->gpadl_id, gp->relid, why, r->private_pages,
			      r->shared_pages);
		rc = -EPERM;
		goto fail;
	}
	cvmbus_mutex_lock(&g->gpadl_lock);
	r->next = g->gpadls;
	g->gpadls = r;
	cvmbus_mutex_unlock(&g->gpadl_lock);
	*out = r;
	return 0;

fail:
	gpadl_free(g, r);
	return rc;
}

/* ---- ring mapping -------------------------------------------------------- */

int sg_ring_map(struct cvmbus_server_glue *g, struct sg_chan *c,
		const struct cvmbus_server_open_request *req, struct cvmbus_ring_mem *up,
		struct cvmbus_ring_mem *down)
{
	/* The paravisor keeps a confidential ring private; everything else
	 * (every ring on the host) must be host-visible right now. */
	bool want_private = g->role == CVMBUS_SERVER_ROLE_PARAVISOR && req->confidential_ring;
	struct sg_gpadl *r = sg_gpadl_find(g, req->client, req->ring_gpadl_id);
	uint64_t gpa, len;
	void *base;
	int rc;

	if (!r || r->relid != req->relid) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "%s glue: open of relid %u: ring gpadl %u unknown",
			      role_name(g), req->relid, req->ring_gpadl_id);
		return -ENOENT;
	}
	if (!r->contiguous || r->npages != req->ring_gpadl_pages) {
		/* The client allocates rings contiguous; mapping scattered
		 * pages would need a remap this glue does not do. */
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
			      "%s glue: open of relid %u refused: ring gpadl %u is not one contiguous range",
			      role_name(g), req->relid, req->ring_gpadl_id);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < r->npages; i++) {
		enum sg_kind k = page_kind(g, r->pfns[i]);

		if (k != (want_private ? SG_PAGE_PRIVATE : SG_PAGE_SHARED)) {
			CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
				      "%s glue: open of relid %u refused: ring page 0x%llx is %s, needs %s",
				      role_name(g), req->relid, (unsigned long long)r->pfns[i],
				      k == SG_PAGE_PRIVATE ? "private"
				      : k == SG_PAGE_SHARED ? "host-visible"
							    : "unusable",
				      want_private ? "private" : "host-visible");
			return -EPERM;
		}
	}
	gpa = r->pfns[0] << CVMBUS_MEM_PAGE_SHIFT;
	len = (uint64_t)r->npages * SG_PAGE;
	if (g->role == CVMBUS_SERVER_ROLE_HOST)
		rc = cvmbus_mem_host_ptr(g->hv, cvmbus_mem_gpa_to_alias(g->mem, gpa), (size_t)len,
					 &base);
	else
		rc = cvmbus_mem_ptr(g->mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa, (size_t)len, &base);
	if (rc) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "%s glue: open of relid %u: ring not mappable (%d)",
			      role_name(g), req->relid, rc);
		return rc;
	}
	rc = cvmbus_ring_split(base, (size_t)len, req->downstream_page_offset, up, down);
	if (rc) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
			      "%s glue: open of relid %u: bad ring split (offset %u of %u pages)",
			      role_name(g), req->relid, req->downstream_page_offset, r->npages);
		return rc;
	}
	c->ring = r;
	c->ring_gpa = gpa;
	c->ring_pages = r->npages;
	c->ring_gpadl_id = r->gpadl_id;
	c->ring_private = want_private;
	return 0;
}

/* ---- channel operations -------------------------------------------------- */

static void chan_signal(void *ctx)
{
	struct sg_chan *c = ctx;
	struct cvmbus_server_glue *g = c->glue;
	uint32_t vp = atomic_load_explicit(&c->target_vp, memory_order_relaxed);
	int rc;

	/* OpenChannel's "interrupts off" target: the client polls. */
	if (vp == CVMBUS_VP_INDEX_DISABLE_INTERRUPT)
		return;
	/* Counted first: whoever sees the flag may look at the count. */
	atomic_fetch_add_explicit(&c->signals, 1, memory_order_relaxed);
	rc = cvmbus_synic_signal(g->plat, g->synic, vp, VMBUS_MESSAGE_SINT, c->event_flag);
	if (rc < 0)
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "%s glue: signal of relid %u on vp %u failed (%d)",
			      role_name(g), c->relid, vp, rc);
}

/* The GPA under an address a packet carried: an alias (gpa | boundary) or
 * a plain GPA. -EFAULT if it is neither, or the range leaves guest RAM. */
static int guest_addr(struct cvmbus_server_glue *g, uint64_t addr, size_t len, uint64_t *gpa,
		      bool *alias)
{
	*alias = g->boundary && addr >= g->boundary;
	if (*alias) {
		if (cvmbus_mem_alias_to_gpa(g->mem, addr, gpa))
			return -EFAULT;
	} else {
		*gpa = addr;
	}
	return in_guest_ram(g, *gpa, len) ? 0 : -EFAULT;
}

/* What a device asks of guest memory: a copy either way, or a hold (a
 * pointer valid until the release, for a direct read or write). */
enum sg_access { SG_READ, SG_WRITE, SG_HOLD };

/* buf: the caller's buffer, or for SG_HOLD the void * to set. */
static int view_access(struct cvmbus_server_glue *g, bool host, uint64_t gpa, void *buf,
		       size_t len, enum sg_access how)
{
	if (host) {
		uint64_t alias = cvmbus_mem_gpa_to_alias(g->mem, gpa);

		return how == SG_HOLD	 ? cvmbus_mem_host_hold(g->hv, alias, len, buf)
		       : how == SG_WRITE ? cvmbus_mem_host_write(g->hv, alias, buf, len)
					 : cvmbus_mem_host_read(g->hv, alias, buf, len);
	}
	return how == SG_HOLD	 ? cvmbus_mem_hold(g->mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa, len, buf)
	       : how == SG_WRITE ? cvmbus_mem_write(g->mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa, buf, len)
				 : cvmbus_mem_read(g->mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa, buf, len);
}

/* The host: whatever address the guest named (a GPA or, in an isolated
 * partition, the shared alias) is resolved to the page's shared alias; the
 * host view then refuses (and counts) whatever is not host-visible now. */
static int host_access(struct sg_chan *c, uint64_t addr, void *buf, size_t len,
		       enum sg_access how)
{
	struct cvmbus_server_glue *g = c->glue;
	uint64_t gpa;
	bool alias;

	if (guest_addr(g, addr, len, &gpa, &alias))
		return -EFAULT;
	return view_access(g, true, gpa, buf, len, how);
}

/* The paravisor: a shared alias must name a host-visible page; a plain
 * GPA may name a private page only on a channel with confidential external
 * memory, otherwise it too must be host-visible (the host's rule, so a
 * non-confidential device never comes to depend on private memory). */
static int paravisor_access(struct sg_chan *c, uint64_t addr, void *buf, size_t len,
			    enum sg_access how)
{
	struct cvmbus_server_glue *g = c->glue;
	uint64_t gpa, first, last;
	bool alias;

	if (!len)
		return 0;
	if (guest_addr(g, addr, len, &gpa, &alias))
		return -EFAULT;
	first = gpa >> CVMBUS_MEM_PAGE_SHIFT;
	last = (gpa + len - 1) >> CVMBUS_MEM_PAGE_SHIFT;
	for (uint64_t pfn = first; pfn <= last; pfn++) {
		enum sg_kind k = page_kind(g, pfn);

		if (k == SG_PAGE_UNUSABLE)
			return -EFAULT;
		if (k == SG_PAGE_PRIVATE && (alias || !c->confidential_external_memory))
			return -EFAULT;
	}
	return view_access(g, false, gpa, buf, len, how);
}

static int chan_access(struct sg_chan *c, uint64_t gpa, void *buf, size_t len,
		       enum sg_access how)
{
	if (c->glue->role == CVMBUS_SERVER_ROLE_HOST)
		return host_access(c, gpa, buf, len, how);
	return paravisor_access(c, gpa, buf, len, how);
}

static int chan_mem_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	return chan_access(ctx, gpa, dst, len, SG_READ);
}

static int chan_mem_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	/* The accessors take a non-const buffer for both directions; a write
	 * only reads it. */
	return chan_access(ctx, gpa, (void *)(uintptr_t)src, len, SG_WRITE);
}

static int chan_mem_hold(void *ctx, uint64_t gpa, size_t len, void **ptr)
{
	return chan_access(ctx, gpa, ptr, len, SG_HOLD);
}

/* The hold passed every check for this very range: resolve it the same
 * way and let the pages go. */
static void chan_mem_release(void *ctx, uint64_t addr, size_t len)
{
	struct sg_chan *c = ctx;
	struct cvmbus_server_glue *g = c->glue;
	uint64_t gpa;
	bool alias;

	if (!len || guest_addr(g, addr, len, &gpa, &alias))
		return;
	if (g->role == CVMBUS_SERVER_ROLE_HOST)
		cvmbus_mem_host_release(g->hv, cvmbus_mem_gpa_to_alias(g->mem, gpa), len);
	else
		cvmbus_mem_release(g->mem, gpa, len);
}

/* A device asks for a GPADL the guest named in its device protocol: only
 * one of this channel's, never its ring. The PFN array stays valid until
 * the teardown, which the glue defers while the channel is open. */
static int chan_gpadl_lookup(void *ctx, uint32_t id, struct cvmbus_gpadl_info *out)
{
	struct sg_chan *c = ctx;
	struct cvmbus_server_glue *g = c->glue;
	struct sg_gpadl *r;
	int rc = -ENOENT;

	cvmbus_mutex_lock(&g->gpadl_lock);
	r = sg_gpadl_find(g, c->client, id);
	if (r && r->relid == c->relid && !r->ring) {
		memset(out, 0, sizeof(*out));
		out->id = id;
		out->gpa = (r->pfns[0] << CVMBUS_MEM_PAGE_SHIFT) + r->first_offset;
		out->bytes = r->bytes;
		out->pfns = r->pfns;
		out->pfn_count = r->npages;
		out->shared = r->private_pages == 0;
		r->looked_up = true;
		rc = 0;
	}
	cvmbus_mutex_unlock(&g->gpadl_lock);
	return rc;
}

void sg_chan_ops_init(struct sg_chan *c)
{
	memset(&c->ch_ops, 0, sizeof(c->ch_ops));
	c->ch_ops.signal = chan_signal;
	c->ch_ops.mem_read = chan_mem_read;
	c->ch_ops.mem_write = chan_mem_write;
	c->ch_ops.mem_hold = chan_mem_hold;
	c->ch_ops.mem_release = chan_mem_release;
	c->ch_ops.gpadl_lookup = chan_gpadl_lookup;
}

void sg_chan_event(void *ctx, const struct cvmbus_port_event *ev)
{
	struct sg_chan *c = ctx;

	/* Runs on the signaller's thread, inside its hypercall (its carrier
	 * held): only ring the channel's doorbells. */
	atomic_fetch_add_explicit(&c->events, 1, memory_order_relaxed);
	/* A VTL switch: the same vCPU runs the device's pass right after
	 * the hypercall (sg_chan_vtl_return), which wakes whoever it does
	 * not do the work of; waking the receive thread here as well would
	 * spend the very context switch the pass saves. */
	if (!ev->vtl_return)
		cvmbus_channel_notify(&c->ch);
}

void sg_chan_vtl_return(void *ctx, const struct cvmbus_port_event *ev)
{
	struct sg_chan *c = ctx;

	(void)ev;
	/* The guest's vCPU, now in VTL2: the paravisor's device (if it
	 * registered a pass on its channel) reads its ring here, on this
	 * thread; otherwise its receive thread is woken as for any signal.
	 * The channel outlives the call: the glue removes the port (which
	 * waits for this call) before it closes the device and destroys
	 * the channel. */
	cvmbus_channel_notify_inline(&c->ch);
}
