/* SPDX-License-Identifier: MIT */
/*
 * The host's view of partition memory (src/hw, platform model). It is built
 * from the shared memfd alone, so the host can run in another process that
 * only ever receives that one fd: a window of the partition's size that is
 * PROT_NONE anonymous memory (no backing at all) except where a page is
 * host-visible, where the shared memfd is mapped at the page's offset. The
 * mappings change only when a visibility change is applied (by the built-in
 * HvCallModifySparseGpaPageHostVisibility handler here, or by the hypervisor
 * model). Accessors take shared-GPA aliases and fail, counting, when any
 * byte is not in a visible page, as an RMP or TDX check would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/memory_internal.h"

/* Host-view page states (the low bits of the page word). */
#define HOST_PG_HIDDEN  0u
#define HOST_PG_VISIBLE 1u

struct cvmbus_mem_host_view {
	int fd; /* the only fd held: a dup of the shared memfd */
	uint8_t *base;
	uint64_t pages;
	uint64_t boundary; /* 0: aliases are GPAs */
	mem_pg_t *pg;
	/* Serialises apply() so that two changes of one page cannot leave a
	 * state that disagrees with the mapping. Accessors never take it. */
	pthread_mutex_t lock;
	_Atomic uint64_t faults;
	_Atomic uint64_t last_fault;
};

int cvmbus_mem_host_view_open(int shared_fd, uint64_t boundary,
			      struct cvmbus_mem_host_view **out)
{
	struct cvmbus_mem_host_view *hv = NULL;
	struct stat st;
	int seals, rc;

	if (!out || shared_fd < 0)
		return -EINVAL;
	if (fstat(shared_fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size % CVMBUS_MEM_PAGE_SIZE ||
	    (uint64_t)st.st_size > CVMBUS_MEM_MAX_PAGES * CVMBUS_MEM_PAGE_SIZE)
		return -EINVAL;
	/* The guest side could otherwise shrink the file under our mappings
	 * and turn a host read into SIGBUS: insist that size is sealed. */
	seals = fcntl(shared_fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return -EINVAL;
	if (boundary && ((boundary & (boundary - 1)) || boundary < (uint64_t)st.st_size))
		return -EINVAL;

	hv = calloc(1, sizeof(*hv));
	if (!hv)
		return -ENOMEM;
	hv->fd = -1;
	hv->base = MAP_FAILED;
	hv->pages = (uint64_t)st.st_size / CVMBUS_MEM_PAGE_SIZE;
	hv->boundary = boundary;

	hv->fd = fcntl(shared_fd, F_DUPFD_CLOEXEC, 0);
	if (hv->fd < 0) {
		rc = -errno;
		goto fail;
	}
	/* Reserve the window with no backing; visible pages are mapped into it
	 * with MAP_FIXED, hidden ones are put back to this. */
	hv->base = mmap(NULL, (size_t)st.st_size, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hv->base == MAP_FAILED) {
		rc = -ENOMEM;
		goto fail;
	}
	hv->pg = calloc(hv->pages, sizeof(*hv->pg));
	if (!hv->pg) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = -pthread_mutex_init(&hv->lock, NULL);
	if (rc)
		goto fail;
	*out = hv;
	return 0;

fail:
	free(hv->pg);
	if (hv->base != MAP_FAILED)
		munmap(hv->base, hv->pages * CVMBUS_MEM_PAGE_SIZE);
	if (hv->fd >= 0)
		close(hv->fd);
	free(hv);
	return rc;
}

void cvmbus_mem_host_view_close(struct cvmbus_mem_host_view *hv)
{
	if (!hv)
		return;
	pthread_mutex_destroy(&hv->lock);
	munmap(hv->base, hv->pages * CVMBUS_MEM_PAGE_SIZE);
	close(hv->fd);
	free(hv->pg);
	free(hv);
}

/* Apply one contiguous run; hv->lock held. */
static int host_apply_run(struct cvmbus_mem_host_view *hv, uint64_t first, uint64_t n,
			  bool visible)
{
	uint8_t *addr = hv->base + first * CVMBUS_MEM_PAGE_SIZE;
	size_t len = (size_t)(n * CVMBUS_MEM_PAGE_SIZE);
	void *m;

	if (visible) {
		m = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, hv->fd,
			 (off_t)(first * CVMBUS_MEM_PAGE_SIZE));
		if (m == MAP_FAILED)
			return -ENOMEM;
		/* Publish only after the mapping exists (release in set_state). */
		for (uint64_t p = first; p < first + n; p++)
			mem_pg_set_state(hv->pg, p, HOST_PG_VISIBLE);
		return 0;
	}
	/* Hide first, then wait for accessors already inside, then drop the
	 * backing: no access can race with the unmap. */
	for (uint64_t p = first; p < first + n; p++) {
		mem_pg_set_state(hv->pg, p, HOST_PG_HIDDEN);
		mem_pg_wait_idle(hv->pg, p);
	}
	m = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		 -1, 0);
	return m == MAP_FAILED ? -ENOMEM : 0;
}

int mem_host_apply_range(struct cvmbus_mem_host_view *hv, uint64_t first, uint64_t n,
			 bool visible)
{
	int rc;

	if (!hv || first > hv->pages || n > hv->pages - first)
		return -EINVAL;
	if (!n)
		return 0;
	pthread_mutex_lock(&hv->lock);
	rc = host_apply_run(hv, first, n, visible);
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

int cvmbus_mem_host_view_apply(struct cvmbus_mem_host_view *hv, const uint64_t *pfns,
			       size_t count, bool visible)
{
	int rc = 0;

	if (!hv || (count && !pfns))
		return -EINVAL;
	for (size_t i = 0; i < count; i++)
		if (pfns[i] >= hv->pages)
			return -EINVAL;
	pthread_mutex_lock(&hv->lock);
	/* Coalesce ascending neighbours so a contiguous list costs one mmap. */
	for (size_t i = 0; i < count && !rc;) {
		size_t j = i + 1;
		while (j < count && pfns[j] == pfns[j - 1] + 1)
			j++;
		rc = host_apply_run(hv, pfns[i], j - i, visible);
		i = j;
	}
	pthread_mutex_unlock(&hv->lock);
	return rc;
}

uint16_t cvmbus_mem_visibility_default(
	void *ctx, const struct hv_input_modify_sparse_gpa_page_host_visibility *input,
	uint32_t rep_count)
{
	struct cvmbus_mem_host_view *hv = ctx;
	uint64_t pfns[HV_MAX_MODIFY_GPA_REP_COUNT];
	uint64_t partition_id;
	uint32_t visibility, reserved;
	int rc;

	if (!hv || !input)
		return HV_STATUS_INVALID_PARAMETER;
	if (rep_count == 0 || rep_count > HV_MAX_MODIFY_GPA_REP_COUNT)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	/* The input page is the caller's memory: copy, then validate. */
	memcpy(&partition_id, &input->partition_id, sizeof(partition_id));
	memcpy(&visibility, &input->host_visibility, sizeof(visibility));
	memcpy(&reserved, &input->reserved, sizeof(reserved));
	memcpy(pfns, input->gpa_page_list, rep_count * sizeof(uint64_t));
	if (partition_id != HV_PARTITION_ID_SELF)
		return HV_STATUS_INVALID_PARTITION_ID;
	if (reserved)
		return HV_STATUS_INVALID_PARAMETER;
	/* Linux only ever asks for these two; read-only sharing is not
	 * modelled. */
	if (visibility != HV_MAP_GPA_NOT_VISIBLE && visibility != HV_MAP_GPA_READ_WRITE)
		return HV_STATUS_INVALID_PARAMETER;
	rc = cvmbus_mem_host_view_apply(hv, pfns, rep_count,
					visibility == HV_MAP_GPA_READ_WRITE);
	if (rc == -EINVAL)
		return HV_STATUS_INVALID_PARAMETER;
	return rc ? HV_STATUS_INSUFFICIENT_MEMORY : HV_STATUS_SUCCESS;
}

static int host_fault(struct cvmbus_mem_host_view *hv, uint64_t alias)
{
	atomic_fetch_add_explicit(&hv->faults, 1, memory_order_relaxed);
	atomic_store_explicit(&hv->last_fault, alias, memory_order_relaxed);
	return -EFAULT;
}

/* Translate [alias, alias+len) to a byte offset in the window and the run
 * of pages it touches, or fail (counted). */
static int host_resolve(struct cvmbus_mem_host_view *hv, uint64_t alias, size_t len,
			uint64_t *off, uint64_t *first, uint64_t *n)
{
	uint64_t bytes, gpa = alias;

	if (!hv || !len)
		return -EINVAL;
	bytes = hv->pages * CVMBUS_MEM_PAGE_SIZE;
	if (hv->boundary) {
		/* A host address without the shared bit names the private
		 * alias: what the RMP / TDX check refuses. */
		if (!(alias & hv->boundary))
			return host_fault(hv, alias);
		gpa = alias & ~hv->boundary;
	}
	/* Any bit above the boundary leaves gpa beyond the partition. */
	if (gpa >= bytes || len > bytes - gpa)
		return host_fault(hv, alias);
	*off = gpa;
	*first = gpa / CVMBUS_MEM_PAGE_SIZE;
	*n = (gpa + len - 1) / CVMBUS_MEM_PAGE_SIZE - *first + 1;
	return 0;
}

static int host_copy(struct cvmbus_mem_host_view *hv, uint64_t alias, void *dst,
		     const void *src, size_t len)
{
	uint64_t off, first, n;
	int rc;

	if (!dst && !src)
		return -EINVAL;
	rc = host_resolve(hv, alias, len, &off, &first, &n);
	if (rc)
		return rc;
	if (!mem_pg_enter(hv->pg, first, n, 1u << HOST_PG_VISIBLE))
		return host_fault(hv, alias);
	if (dst)
		memcpy(dst, hv->base + off, len);
	else
		memcpy(hv->base + off, src, len);
	mem_pg_leave(hv->pg, first, n);
	return 0;
}

int cvmbus_mem_host_read(struct cvmbus_mem_host_view *hv, uint64_t alias, void *dst,
			 size_t len)
{
	if (!dst)
		return -EINVAL;
	return host_copy(hv, alias, dst, NULL, len);
}

int cvmbus_mem_host_write(struct cvmbus_mem_host_view *hv, uint64_t alias, const void *src,
			  size_t len)
{
	if (!src)
		return -EINVAL;
	return host_copy(hv, alias, NULL, src, len);
}

/* A pointer to [alias, alias+len) if every page of it is visible now;
 * with `hold`, entered as host_copy enters them, so that they stay so until
 * cvmbus_mem_host_release() leaves them. */
static int host_pointer(struct cvmbus_mem_host_view *hv, uint64_t alias, size_t len,
			void **out, bool hold)
{
	uint64_t off, first, n;
	int rc;

	if (!out)
		return -EINVAL;
	rc = host_resolve(hv, alias, len, &off, &first, &n);
	if (rc)
		return rc;
	if (hold) {
		if (!mem_pg_enter(hv->pg, first, n, 1u << HOST_PG_VISIBLE))
			return host_fault(hv, alias);
	} else {
		for (uint64_t p = first; p < first + n; p++)
			if (mem_pg_state(hv->pg, p) != HOST_PG_VISIBLE)
				return host_fault(hv, alias);
	}
	*out = hv->base + off;
	return 0;
}

int cvmbus_mem_host_hold(struct cvmbus_mem_host_view *hv, uint64_t alias, size_t len,
			 void **out)
{
	return host_pointer(hv, alias, len, out, true);
}

void cvmbus_mem_host_release(struct cvmbus_mem_host_view *hv, uint64_t alias, size_t len)
{
	uint64_t off, first, n;

	/* The hold resolved the same alias and length: this cannot fail. */
	if (host_resolve(hv, alias, len, &off, &first, &n))
		return;
	mem_pg_leave(hv->pg, first, n);
}

int cvmbus_mem_host_ptr(struct cvmbus_mem_host_view *hv, uint64_t alias, size_t len,
			void **out)
{
	return host_pointer(hv, alias, len, out, false);
}

void *cvmbus_mem_host_view_base(const struct cvmbus_mem_host_view *hv)
{
	return hv ? hv->base : NULL;
}

bool cvmbus_mem_host_view_visible(const struct cvmbus_mem_host_view *hv, uint64_t gpa)
{
	uint64_t p = gpa / CVMBUS_MEM_PAGE_SIZE;

	return hv && p < hv->pages && mem_pg_state(hv->pg, p) == HOST_PG_VISIBLE;
}

void cvmbus_mem_host_view_faults(const struct cvmbus_mem_host_view *hv, uint64_t *count,
				 uint64_t *last_alias)
{
	if (count)
		*count = hv ? atomic_load_explicit(&hv->faults, memory_order_relaxed) : 0;
	if (last_alias)
		*last_alias = hv ? atomic_load_explicit(&hv->last_fault, memory_order_relaxed) : 0;
}

size_t cvmbus_mem_host_view_fds(const struct cvmbus_mem_host_view *hv, int *fds, size_t max)
{
	if (!hv)
		return 0;
	if (fds && max >= 1)
		fds[0] = hv->fd;
	return 1;
}

uint64_t cvmbus_mem_host_view_pages(const struct cvmbus_mem_host_view *hv)
{
	return hv ? hv->pages : 0;
}
