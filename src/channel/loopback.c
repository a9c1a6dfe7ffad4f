/* SPDX-License-Identifier: MIT */
/*
 * A channel with both endpoints in this process (include/cvmbus/channel.h,
 * cvmbus_channel_pair_*): one ring region in a memfd, mapped twice, once for
 * each endpoint, as the guest and the host map the same GPADL pages each in
 * their own address space. Each endpoint's signal notifies the other. Device
 * tests and benchmarks use it to run a VSC against a VSP over real rings
 * before (or without) a control plane.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cvmbus/channel.h>
#include <cvmbus/memory.h>

#define PAIR_GPADL_BASE 0xE1E10u /* where Linux starts its GPADL handles */

static void pair_signal_host(void *ctx)
{
	struct cvmbus_channel_pair *p = ctx;

	cvmbus_channel_notify(&p->host);
}

static void pair_signal_guest(void *ctx)
{
	struct cvmbus_channel_pair *p = ctx;

	cvmbus_channel_notify(&p->guest);
}

static int pair_guest_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct cvmbus_channel_pair *p = ctx;

	if (!p->guest_mem_ops || !p->guest_mem_ops->mem_read)
		return -EFAULT;
	return p->guest_mem_ops->mem_read(p->guest_mem_ctx, gpa, dst, len);
}

static int pair_guest_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct cvmbus_channel_pair *p = ctx;

	if (!p->guest_mem_ops || !p->guest_mem_ops->mem_write)
		return -EFAULT;
	return p->guest_mem_ops->mem_write(p->guest_mem_ctx, gpa, src, len);
}

static int pair_host_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct cvmbus_channel_pair *p = ctx;

	if (!p->host_mem_ops || !p->host_mem_ops->mem_read)
		return -EFAULT;
	return p->host_mem_ops->mem_read(p->host_mem_ctx, gpa, dst, len);
}

static int pair_host_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct cvmbus_channel_pair *p = ctx;

	if (!p->host_mem_ops || !p->host_mem_ops->mem_write)
		return -EFAULT;
	return p->host_mem_ops->mem_write(p->host_mem_ctx, gpa, src, len);
}

/* The device side may hold guest memory if its ops can (-EOPNOTSUPP
 * otherwise: the device copies instead). */
static int pair_host_hold(void *ctx, uint64_t gpa, size_t len, void **ptr)
{
	struct cvmbus_channel_pair *p = ctx;

	if (!p->host_mem_ops || !p->host_mem_ops->mem_hold || !p->host_mem_ops->mem_release)
		return -EOPNOTSUPP;
	return p->host_mem_ops->mem_hold(p->host_mem_ctx, gpa, len, ptr);
}

static void pair_host_release(void *ctx, uint64_t gpa, size_t len)
{
	struct cvmbus_channel_pair *p = ctx;

	/* Only reached after a hold, which needed both ops. */
	p->host_mem_ops->mem_release(p->host_mem_ctx, gpa, len);
}

/* The guest side of a device-buffer GPADL: contiguous guest pages, made
 * host-visible unless the pair models confidential external memory. */
static int pair_gpadl_create(void *ctx, uint64_t bytes, struct cvmbus_gpadl_info *out)
{
	struct cvmbus_channel_pair *p = ctx;
	struct cvmbus_channel_pair_gpadl *g = NULL;
	uint64_t npages, gpa;
	int rc;

	if (!p->mem)
		return -EOPNOTSUPP;
	if (!bytes || bytes > (1ull << 30))
		return -EINVAL;
	npages = (bytes + CVMBUS_RING_PAGE_SIZE - 1) / CVMBUS_RING_PAGE_SIZE;
	cvmbus_mutex_lock(&p->gpadl_lock);
	for (size_t i = 0; i < CVMBUS_CHANNEL_PAIR_GPADLS; i++)
		if (!p->gpadls[i].used) {
			g = &p->gpadls[i];
			break;
		}
	if (!g) {
		rc = -ENOSPC;
		goto out;
	}
	g->pfns = calloc(npages, sizeof(*g->pfns));
	if (!g->pfns) {
		rc = -ENOMEM;
		goto out;
	}
	rc = cvmbus_mem_alloc(p->mem, CVMBUS_MEM_REGION_VTL0, npages, &gpa);
	if (rc < 0)
		goto fail_pfns;
	if (!p->gpadl_private) {
		rc = cvmbus_mem_make_shared(p->mem, CVMBUS_MEM_PARTY_GUEST, gpa, npages, "gpadl");
		if (rc < 0)
			goto fail_alloc;
	}
	for (uint64_t i = 0; i < npages; i++)
		g->pfns[i] = gpa / CVMBUS_RING_PAGE_SIZE + i;
	g->used = true;
	g->info = (struct cvmbus_gpadl_info){
		.id = PAIR_GPADL_BASE + p->next_gpadl++,
		.gpa = gpa,
		.bytes = npages * CVMBUS_RING_PAGE_SIZE,
		.pfns = g->pfns,
		.pfn_count = (uint32_t)npages,
		.shared = !p->gpadl_private,
	};
	*out = g->info;
	rc = 0;
	goto out;

fail_alloc:
	cvmbus_mem_free(p->mem, gpa, npages);
fail_pfns:
	free(g->pfns);
	g->pfns = NULL;
out:
	cvmbus_mutex_unlock(&p->gpadl_lock);
	return rc;
}

static struct cvmbus_channel_pair_gpadl *pair_gpadl_find(struct cvmbus_channel_pair *p,
							  uint32_t id)
{
	for (size_t i = 0; i < CVMBUS_CHANNEL_PAIR_GPADLS; i++)
		if (p->gpadls[i].used && p->gpadls[i].info.id == id)
			return &p->gpadls[i];
	return NULL;
}

static void pair_gpadl_release(struct cvmbus_channel_pair *p, struct cvmbus_channel_pair_gpadl *g)
{
	/* Private again before the pages go back to the allocator, as Linux
	 * re-encrypts a buffer before freeing it. */
	if (g->info.shared)
		(void)cvmbus_mem_make_private(p->mem, CVMBUS_MEM_PARTY_GUEST, g->info.gpa,
					      g->info.pfn_count);
	(void)cvmbus_mem_free(p->mem, g->info.gpa, g->info.pfn_count);
	free(g->pfns);
	memset(g, 0, sizeof(*g));
}

static int pair_gpadl_teardown(void *ctx, uint32_t id)
{
	struct cvmbus_channel_pair *p = ctx;
	struct cvmbus_channel_pair_gpadl *g;
	int rc = -ENOENT;

	cvmbus_mutex_lock(&p->gpadl_lock);
	g = pair_gpadl_find(p, id);
	if (g) {
		pair_gpadl_release(p, g);
		rc = 0;
	}
	cvmbus_mutex_unlock(&p->gpadl_lock);
	return rc;
}

static int pair_gpadl_lookup(void *ctx, uint32_t id, struct cvmbus_gpadl_info *out)
{
	struct cvmbus_channel_pair *p = ctx;
	struct cvmbus_channel_pair_gpadl *g;
	int rc = -ENOENT;

	cvmbus_mutex_lock(&p->gpadl_lock);
	g = pair_gpadl_find(p, id);
	if (g) {
		*out = g->info;
		rc = 0;
	}
	cvmbus_mutex_unlock(&p->gpadl_lock);
	return rc;
}

int cvmbus_channel_pair_create(struct cvmbus_channel_pair *p,
			       const struct cvmbus_channel_pair_config *cfg)
{
	struct cvmbus_channel_config cc;
	uint32_t region;
	int rc;

	if (!p || !cfg || !cfg->exec || !cfg->upstream_bytes || !cfg->downstream_bytes ||
	    cfg->upstream_bytes % CVMBUS_RING_PAGE_SIZE ||
	    cfg->downstream_bytes % CVMBUS_RING_PAGE_SIZE ||
	    cfg->upstream_bytes > CVMBUS_RING_MAX_DATA_SIZE ||
	    cfg->downstream_bytes > CVMBUS_RING_MAX_DATA_SIZE)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->guest_mem_ops = cfg->guest_mem_ops;
	p->guest_mem_ctx = cfg->guest_mem_ctx;
	p->host_mem_ops = cfg->host_mem_ops;
	p->host_mem_ctx = cfg->host_mem_ctx;
	p->mem = cfg->mem;
	p->gpadl_private = cfg->gpadl_private;
	p->guest_ops = (struct cvmbus_channel_ops){
		.signal = pair_signal_host, .mem_read = pair_guest_read, .mem_write = pair_guest_write,
		.gpadl_create = pair_gpadl_create, .gpadl_teardown = pair_gpadl_teardown,
	};
	p->host_ops = (struct cvmbus_channel_ops){
		.signal = pair_signal_guest, .mem_read = pair_host_read, .mem_write = pair_host_write,
		.mem_hold = pair_host_hold, .mem_release = pair_host_release,
		.gpadl_lookup = pair_gpadl_lookup,
	};
	cvmbus_mutex_init(&p->gpadl_lock, cfg->exec, "pair-gpadl");

	region = cfg->upstream_bytes + cfg->downstream_bytes;
	p->fd = memfd_create("cvmbus-channel-pair", MFD_CLOEXEC);
	if (p->fd < 0)
		return -errno;
	if (ftruncate(p->fd, region) < 0) {
		rc = -errno;
		goto fail_fd;
	}
	rc = cvmbus_ring_channel_map_fd(&p->guest_map, p->fd, 0, region,
					cfg->upstream_bytes / CVMBUS_RING_PAGE_SIZE,
					CVMBUS_RING_MAP_DOUBLE);
	if (rc < 0)
		goto fail_fd;
	rc = cvmbus_ring_channel_map_fd(&p->host_map, p->fd, 0, region,
					cfg->upstream_bytes / CVMBUS_RING_PAGE_SIZE,
					CVMBUS_RING_MAP_DOUBLE);
	if (rc < 0)
		goto fail_guest_map;

	/* The guest owns ring memory in VMBus, so it formats the control
	 * pages; the host attaches to what it finds, as a VSP does. */
	cc = (struct cvmbus_channel_config){
		.exec = cfg->exec,
		.endpoint = CVMBUS_RING_ENDPOINT_GUEST,
		.mode = CVMBUS_RING_FORMAT,
		.upstream = p->guest_map.upstream.mem,
		.downstream = p->guest_map.downstream.mem,
		.ops = &p->guest_ops,
		.ctx = p,
		.max_packet = cfg->max_packet,
	};
	rc = cvmbus_channel_init(&p->guest, &cc);
	if (rc < 0)
		goto fail_host_map;
	cc.endpoint = CVMBUS_RING_ENDPOINT_HOST;
	cc.mode = CVMBUS_RING_ATTACH;
	cc.upstream = p->host_map.upstream.mem;
	cc.downstream = p->host_map.downstream.mem;
	cc.ops = &p->host_ops;
	rc = cvmbus_channel_init(&p->host, &cc);
	if (rc < 0)
		goto fail_guest;
	return 0;

fail_guest:
	cvmbus_channel_destroy(&p->guest);
fail_host_map:
	cvmbus_ring_channel_unmap(&p->host_map);
fail_guest_map:
	cvmbus_ring_channel_unmap(&p->guest_map);
fail_fd:
	close(p->fd);
	p->fd = -1;
	cvmbus_mutex_destroy(&p->gpadl_lock);
	return rc;
}

void cvmbus_channel_pair_destroy(struct cvmbus_channel_pair *p)
{
	if (!p || p->fd < 0)
		return;
	cvmbus_channel_destroy(&p->host);
	cvmbus_channel_destroy(&p->guest);
	cvmbus_ring_channel_unmap(&p->host_map);
	cvmbus_ring_channel_unmap(&p->guest_map);
	close(p->fd);
	p->fd = -1;
	for (size_t i = 0; i < CVMBUS_CHANNEL_PAIR_GPADLS; i++)
		if (p->gpadls[i].used)
			pair_gpadl_release(p, &p->gpadls[i]);
	cvmbus_mutex_destroy(&p->gpadl_lock);
}
