/* SPDX-License-Identifier: MIT */
/*
 * The bounce pool (include/cvmbus/storage.h, layer src/dev): what Linux's
 * swiotlb is to a confidential guest. A device whose VSP runs on the host
 * can only reach host-visible pages, so the guest keeps one pool of pages
 * made shared ONCE, at creation (party guest, reason "bounce"), and copies
 * each request's data through it: private buffer -> pool before a write,
 * pool -> private buffer after a read. The pages never change visibility
 * again, so the exposure account shows exactly the pool and nothing per I/O,
 * and the host sees only bytes the guest chose to send it.
 *
 * Allocation is first-fit over a bitmap of pages, contiguous runs only (one
 * GPA range per request, and copies stay one memcpy per request); a request
 * that finds no room waits on a condition variable until pages are freed or
 * its timeout passes, as swiotlb callers back off when the pool is full.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/storage.h>

#define PAGE CVMBUS_MEM_PAGE_SIZE

struct cvmbus_bounce_pool {
	struct cvmbus_exec *exec;
	struct cvmbus_mem *mem;
	uint64_t gpa;   /* first page */
	uint64_t pages;
	uint64_t boundary; /* shared-GPA boundary: alias = gpa | boundary */
	struct cvmbus_mutex lock;
	struct cvmbus_cond freed;
	uint8_t *used;  /* one byte per page: simple and the pool is small */
	uint64_t hint;  /* where the next search starts */
	struct cvmbus_bounce_stats stats;
};

int cvmbus_bounce_pool_create(const struct cvmbus_bounce_pool_config *cfg,
			      struct cvmbus_bounce_pool **out)
{
	struct cvmbus_bounce_pool *pool;
	int rc;

	if (!cfg || !cfg->exec || !cfg->mem || !cfg->pages || !out)
		return -EINVAL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	pool->used = calloc(cfg->pages, 1);
	if (!pool->used) {
		rc = -ENOMEM;
		goto fail;
	}
	pool->exec = cfg->exec;
	pool->mem = cfg->mem;
	pool->pages = cfg->pages;
	pool->boundary = cvmbus_mem_shared_gpa_boundary(cfg->mem);
	rc = cvmbus_mem_alloc(cfg->mem, CVMBUS_MEM_REGION_VTL0, cfg->pages, &pool->gpa);
	if (rc < 0)
		goto fail_used;
	/* The one visibility change of the pool's life. */
	rc = cvmbus_mem_make_shared(cfg->mem, CVMBUS_MEM_PARTY_GUEST, pool->gpa, cfg->pages,
				    CVMBUS_BOUNCE_REASON);
	if (rc < 0)
		goto fail_alloc;
	cvmbus_mutex_init(&pool->lock, cfg->exec, "bounce-pool");
	cvmbus_cond_init(&pool->freed, cfg->exec, "bounce-freed");
	pool->stats.pages = cfg->pages;
	*out = pool;
	return 0;

fail_alloc:
	(void)cvmbus_mem_free(cfg->mem, pool->gpa, cfg->pages);
fail_used:
	free(pool->used);
fail:
	free(pool);
	return rc;
}

void cvmbus_bounce_pool_destroy(struct cvmbus_bounce_pool *pool)
{
	if (!pool)
		return;
	/* Private again before the pages go back to the allocator, so that
	 * the next owner does not inherit host-visible memory by surprise. */
	(void)cvmbus_mem_make_private(pool->mem, CVMBUS_MEM_PARTY_GUEST, pool->gpa, pool->pages);
	(void)cvmbus_mem_free(pool->mem, pool->gpa, pool->pages);
	cvmbus_cond_destroy(&pool->freed);
	cvmbus_mutex_destroy(&pool->lock);
	free(pool->used);
	free(pool);
}

uint64_t cvmbus_bounce_pool_gpa(const struct cvmbus_bounce_pool *pool)
{
	return pool->gpa;
}

uint64_t cvmbus_bounce_pool_pages(const struct cvmbus_bounce_pool *pool)
{
	return pool->pages;
}

/* First fit of n free pages, starting at the hint and wrapping once.
 * Called with the lock held; UINT64_MAX if there is no run. */
static uint64_t find_run(struct cvmbus_bounce_pool *pool, uint64_t n)
{
	for (int pass = 0; pass < 2; pass++) {
		uint64_t start = pass == 0 ? pool->hint : 0;
		uint64_t end = pass == 0 ? pool->pages : pool->hint + n;
		uint64_t run = 0;

		if (end > pool->pages)
			end = pool->pages;
		for (uint64_t i = start; i < end; i++) {
			run = pool->used[i] ? 0 : run + 1;
			if (run == n)
				return i + 1 - n;
		}
	}
	return UINT64_MAX;
}

int cvmbus_bounce_alloc(struct cvmbus_bounce_pool *pool, size_t bytes, uint64_t timeout_ns,
			struct cvmbus_bounce_buf *out)
{
	uint64_t n = (bytes + PAGE - 1) / PAGE;
	uint64_t deadline = cvmbus_exec_deadline(pool->exec, timeout_ns);
	bool waited = false;
	uint64_t at;
	int rc = 0;

	cvmbus_mutex_lock(&pool->lock);
	if (bytes == 0 || n > pool->pages) {
		pool->stats.alloc_failures++;
		cvmbus_mutex_unlock(&pool->lock);
		return -EMSGSIZE;
	}
	while ((at = find_run(pool, n)) == UINT64_MAX) {
		if (!waited) {
			waited = true;
			pool->stats.alloc_waits++;
		}
		rc = cvmbus_cond_wait_until(&pool->freed, &pool->lock, deadline);
		if (rc < 0) {
			/* One last look: pages freed right at the deadline. */
			at = find_run(pool, n);
			break;
		}
	}
	if (at == UINT64_MAX) {
		pool->stats.alloc_failures++;
		cvmbus_mutex_unlock(&pool->lock);
		return -ETIMEDOUT;
	}
	memset(pool->used + at, 1, n);
	pool->hint = at + n < pool->pages ? at + n : 0;
	pool->stats.allocs++;
	pool->stats.pages_in_use += n;
	if (pool->stats.pages_in_use > pool->stats.pages_peak)
		pool->stats.pages_peak = pool->stats.pages_in_use;
	cvmbus_mutex_unlock(&pool->lock);
	out->gpa = pool->gpa + at * PAGE;
	out->pages = n;
	return 0;
}

void cvmbus_bounce_free(struct cvmbus_bounce_pool *pool, const struct cvmbus_bounce_buf *buf)
{
	uint64_t at;

	if (!pool || !buf || !buf->pages)
		return;
	at = (buf->gpa - pool->gpa) / PAGE;
	cvmbus_mutex_lock(&pool->lock);
	memset(pool->used + at, 0, buf->pages);
	pool->stats.pages_in_use -= buf->pages;
	cvmbus_mutex_unlock(&pool->lock);
	/* Every waiter re-checks: a freed run may fit several small ones. */
	cvmbus_cond_broadcast(&pool->freed);
}

/* Both copies go through the guest view: the caller's buffer is private
 * guest memory and the pool is shared guest memory, and the guest reaches
 * both. Only the pool is in the host's view. */
static int bounce_copy(struct cvmbus_bounce_pool *pool, const struct cvmbus_bounce_buf *buf,
		       uint64_t other_gpa, size_t len, bool to_device)
{
	void *pool_p, *other_p;
	int rc;

	if (len > buf->pages * PAGE)
		return -EINVAL;
	if (len == 0)
		return 0;
	rc = cvmbus_mem_ptr(pool->mem, CVMBUS_MEM_VIEW_GUEST, buf->gpa, len, &pool_p);
	if (rc < 0)
		return rc;
	rc = cvmbus_mem_ptr(pool->mem, CVMBUS_MEM_VIEW_GUEST, other_gpa, len, &other_p);
	if (rc < 0)
		return rc;
	if (to_device)
		memcpy(pool_p, other_p, len);
	else
		memcpy(other_p, pool_p, len);
	cvmbus_mutex_lock(&pool->lock);
	if (to_device)
		pool->stats.bytes_to_device += len;
	else
		pool->stats.bytes_from_device += len;
	cvmbus_mutex_unlock(&pool->lock);
	return 0;
}

int cvmbus_bounce_to_device(struct cvmbus_bounce_pool *pool, const struct cvmbus_bounce_buf *buf,
			    uint64_t src_gpa, size_t len)
{
	return bounce_copy(pool, buf, src_gpa, len, true);
}

int cvmbus_bounce_from_device(struct cvmbus_bounce_pool *pool,
			      const struct cvmbus_bounce_buf *buf, uint64_t dst_gpa, size_t len)
{
	return bounce_copy(pool, buf, dst_gpa, len, false);
}

uint64_t cvmbus_bounce_alias_pfn(const struct cvmbus_bounce_pool *pool,
				 const struct cvmbus_bounce_buf *buf, uint64_t i)
{
	return ((buf->gpa + i * PAGE) | pool->boundary) / PAGE;
}

void cvmbus_bounce_get_stats(struct cvmbus_bounce_pool *pool, struct cvmbus_bounce_stats *out)
{
	cvmbus_mutex_lock(&pool->lock);
	*out = pool->stats;
	cvmbus_mutex_unlock(&pool->lock);
}
