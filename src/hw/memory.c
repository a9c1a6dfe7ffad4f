/* SPDX-License-Identifier: MIT */
/*
 * Partition memory of the simulated confidential VM (src/hw, the bottom of
 * the platform model): the two memfd backings, the guest and paravisor views,
 * shared-GPA aliases and host-visibility transitions. The host view lives in
 * memory_host.c (it must not need anything but the shared memfd) and the
 * exposure account and page allocator in memory_account.c.
 *
 * Invariant that carries the security claim: the shared memfd holds bytes
 * only at the offsets of pages that are SHARED now. A private page's bytes
 * live in the private memfd only, and a page leaving SHARED has its shared
 * backing punched out. So whatever the host does with the shared fd (map all
 * of it, in another process), no private byte can appear there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hw/memory_internal.h"

#define PAGE CVMBUS_MEM_PAGE_SIZE

/* Model defaults, not platform facts: vTOM at 2^46 for VBS/SNP, and the
 * shared bit of a 48-bit guest physical address width for TDX. */
#define MEM_DEFAULT_VTOM_BITS 46u
#define MEM_DEFAULT_TDX_BITS  47u

static const uint8_t mem_zero_page[CVMBUS_MEM_PAGE_SIZE];

/* ---- mappings ----------------------------------------------------------- */

/* Map pages [first, first+n) of one window from `fd` at the same offset, or
 * with no backing at all (PROT_NONE anonymous) when fd < 0. MAP_FIXED
 * replaces whatever was there in one step. */
static int window_map(uint8_t *base, uint64_t first, uint64_t n, int fd)
{
	uint8_t *addr = base + first * PAGE;
	size_t len = (size_t)(n * PAGE);
	void *m;

	if (fd < 0)
		m = mmap(addr, len, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	else
		m = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
			 (off_t)(first * PAGE));
	return m == MAP_FAILED ? -ENOMEM : 0;
}

static int state_fd(const struct cvmbus_mem *mem, uint32_t state)
{
	switch (state) {
	case CVMBUS_MEM_PAGE_PRIVATE:
		return mem->private_fd;
	case CVMBUS_MEM_PAGE_SHARED:
		return mem->shared_fd;
	default:
		return -1;
	}
}

/* Map a run in the views that can see it: the paravisor view always, the
 * guest view only for its VTL0 part (its VTL2 range stays unbacked forever). */
static int views_map(struct cvmbus_mem *mem, uint64_t first, uint64_t n, uint32_t state)
{
	uint64_t vtl0_end = mem->region_pages[CVMBUS_MEM_REGION_VTL0];
	int fd = state_fd(mem, state);
	int rc;

	rc = window_map(mem->view[CVMBUS_MEM_VIEW_PARAVISOR], first, n, fd);
	if (!rc && first < vtl0_end) {
		uint64_t gn = first + n > vtl0_end ? vtl0_end - first : n;
		rc = window_map(mem->view[CVMBUS_MEM_VIEW_GUEST], first, gn, fd);
	}
	return rc;
}

/* Zero a run of one backing by punching it out: the next touch gets a fresh
 * zero page, and any other mapping of those offsets (a host process's) loses
 * the old bytes too. */
static int backing_zero(int fd, uint64_t first, uint64_t n)
{
	off_t off = (off_t)(first * PAGE);

	if (!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, (off_t)(n * PAGE)))
		return 0;
	/* A filesystem without hole punching: write zeros instead. */
	for (uint64_t i = 0; i < n; i++)
		if (pwrite(fd, mem_zero_page, PAGE, off + (off_t)(i * PAGE)) != (ssize_t)PAGE)
			return -EIO;
	return 0;
}

static size_t run_length(const uint64_t *pages, size_t i, size_t n)
{
	size_t j = i + 1;

	while (j < n && pages[j] == pages[j - 1] + 1)
		j++;
	return j - i;
}

/* ---- creation ----------------------------------------------------------- */

static int memfd_sized(const char *name, uint64_t bytes)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int rc;

	if (fd < 0)
		return -errno;
	/* Sealed size: whoever holds the fd (the host, later) cannot shrink it
	 * under the other side's mappings and turn accesses into SIGBUS. */
	if (ftruncate(fd, (off_t)bytes) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int config_check(const struct cvmbus_mem_config *cfg, unsigned int *bits)
{
	uint64_t total;

	if (cfg->isolation > HV_ISOLATION_TYPE_TDX)
		return -EINVAL;
	if (!cfg->vtl0_bytes || cfg->vtl0_bytes % PAGE || cfg->vtl2_bytes % PAGE)
		return -EINVAL;
	if (cfg->vtl0_bytes > CVMBUS_MEM_MAX_PAGES * PAGE ||
	    cfg->vtl2_bytes > CVMBUS_MEM_MAX_PAGES * PAGE - cfg->vtl0_bytes)
		return -EINVAL;
	total = cfg->vtl0_bytes + cfg->vtl2_bytes;
	*bits = 0;
	if (cfg->isolation == HV_ISOLATION_TYPE_NONE)
		return 0;
	*bits = cfg->shared_gpa_bits;
	if (!*bits)
		*bits = cfg->isolation == HV_ISOLATION_TYPE_TDX ? MEM_DEFAULT_TDX_BITS
								 : MEM_DEFAULT_VTOM_BITS;
	/* The CPUID field is 6 bits; the partition must sit below the boundary
	 * or a GPA and its alias would collide. */
	if (*bits < CVMBUS_MEM_PAGE_SHIFT || *bits > 63 || (1ull << *bits) < total)
		return -EINVAL;
	return 0;
}

int cvmbus_mem_create(const struct cvmbus_mem_config *cfg, struct cvmbus_mem **out)
{
	struct cvmbus_mem *mem = NULL;
	uint32_t initial;
	unsigned int bits;
	uint64_t bytes;
	int rc;

	if (!cfg || !out)
		return -EINVAL;
	rc = config_check(cfg, &bits);
	if (rc)
		return rc;

	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	mem->private_fd = -1;
	mem->shared_fd = -1;
	mem->view[0] = mem->view[1] = MAP_FAILED;
	mem->isolation = cfg->isolation;
	mem->region_first[CVMBUS_MEM_REGION_VTL0] = 0;
	mem->region_pages[CVMBUS_MEM_REGION_VTL0] = cfg->vtl0_bytes / PAGE;
	mem->region_first[CVMBUS_MEM_REGION_VTL2] = cfg->vtl0_bytes / PAGE;
	mem->region_pages[CVMBUS_MEM_REGION_VTL2] = cfg->vtl2_bytes / PAGE;
	mem->pages = (cfg->vtl0_bytes + cfg->vtl2_bytes) / PAGE;
	mem->shared_gpa_bits = bits;
	mem->boundary = bits ? 1ull << bits : 0;
	mem->visibility_fn = cfg->visibility_fn;
	mem->visibility_ctx = cfg->visibility_ctx;
	bytes = mem->pages * PAGE;

	rc = memfd_sized("cvmbus-private", bytes);
	if (rc < 0)
		goto fail;
	mem->private_fd = rc;
	rc = memfd_sized("cvmbus-shared", bytes);
	if (rc < 0)
		goto fail;
	mem->shared_fd = rc;

	mem->pg = calloc(mem->pages, sizeof(*mem->pg));
	mem->expo = calloc(mem->pages, sizeof(*mem->expo));
	mem->alloc_bitmap = calloc((mem->pages + 63) / 64, sizeof(uint64_t));
	mem->pins = calloc(mem->pages, sizeof(*mem->pins));
	if (!mem->pg || !mem->expo || !mem->alloc_bitmap || !mem->pins) {
		rc = -ENOMEM;
		goto fail;
	}

	/* Each view reserves the whole GPA space unbacked, then gets its
	 * reachable part mapped; the guest's VTL2 range is never mapped. */
	for (int v = 0; v < 2; v++) {
		mem->view[v] = mmap(NULL, (size_t)bytes, PROT_NONE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (mem->view[v] == MAP_FAILED) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	/* With no isolation there is nothing to hide from the host: every page
	 * starts shared, as the host of an ordinary VM sees all of its RAM. */
	initial = cfg->isolation == HV_ISOLATION_TYPE_NONE ? CVMBUS_MEM_PAGE_SHARED
							   : CVMBUS_MEM_PAGE_PRIVATE;
	rc = views_map(mem, 0, mem->pages, initial);
	if (rc)
		goto fail;
	for (uint64_t p = 0; p < mem->pages; p++)
		atomic_init(&mem->pg[p], initial);

	rc = cvmbus_mem_host_view_open(mem->shared_fd, mem->boundary, &mem->host);
	if (rc)
		goto fail;
	rc = -pthread_mutex_init(&mem->lock, NULL);
	if (rc)
		goto fail;

	/* Reason 0 is the tag of untagged requests; under NONE the platform
	 * (the hypervisor party) exposed everything, and says so. */
	strcpy(mem->reasons[0], CVMBUS_MEM_REASON_UNTAGGED);
	mem->reason_count = 1;
	if (initial == CVMBUS_MEM_PAGE_SHARED) {
		int rid = mem_reason_intern(mem, CVMBUS_MEM_REASON_NO_ISOLATION);

		rc = mem_host_apply_range(mem->host, 0, mem->pages, true);
		if (rc || rid < 0) {
			rc = rc ? rc : rid;
			pthread_mutex_destroy(&mem->lock);
			goto fail;
		}
		for (uint64_t p = 0; p < mem->pages; p++)
			mem_expo_mark_visible(mem, p, CVMBUS_MEM_PARTY_HYPERVISOR,
					      (unsigned int)rid, false);
	}
	*out = mem;
	return 0;

fail:
	cvmbus_mem_host_view_close(mem->host);
	for (int v = 0; v < 2; v++)
		if (mem->view[v] != MAP_FAILED)
			munmap(mem->view[v], (size_t)bytes);
	if (mem->shared_fd >= 0)
		close(mem->shared_fd);
	if (mem->private_fd >= 0)
		close(mem->private_fd);
	free(mem->pins);
	free(mem->alloc_bitmap);
	free(mem->expo);
	free(mem->pg);
	free(mem);
	return rc;
}

int cvmbus_mem_create_remote(int shared_fd, const struct cvmbus_mem_remote_layout *layout,
			     cvmbus_mem_pin_fn pin_fn, void *pin_ctx, struct cvmbus_mem **out)
{
	struct cvmbus_mem *mem;
	uint64_t bytes;
	int rc;

	if (!layout || !out || shared_fd < 0 || layout->vtl0_base % PAGE ||
	    layout->vtl0_bytes % PAGE || layout->vtl2_base % PAGE || layout->vtl2_bytes % PAGE)
		return -EINVAL;
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	mem->remote = true;
	mem->pin_fn = pin_fn;
	mem->pin_ctx = pin_ctx;
	mem->private_fd = -1;
	mem->shared_fd = -1;
	mem->view[0] = mem->view[1] = MAP_FAILED;
	mem->isolation = layout->isolation;
	mem->shared_gpa_bits = layout->shared_gpa_bits;
	mem->boundary = layout->boundary;
	rc = cvmbus_mem_host_view_open(shared_fd, mem->boundary, &mem->host);
	if (rc)
		goto fail;
	/* The memfd says how big the partition is; the regions must lie in
	 * it (the host view has already checked the memfd itself). */
	bytes = (uint64_t)cvmbus_mem_host_view_pages(mem->host) * PAGE;
	if (layout->vtl0_bytes > bytes || layout->vtl0_base > bytes - layout->vtl0_bytes ||
	    layout->vtl2_bytes > bytes || layout->vtl2_base > bytes - layout->vtl2_bytes) {
		rc = -EINVAL;
		goto fail;
	}
	mem->pages = bytes / PAGE;
	mem->region_first[CVMBUS_MEM_REGION_VTL0] = layout->vtl0_base / PAGE;
	mem->region_pages[CVMBUS_MEM_REGION_VTL0] = layout->vtl0_bytes / PAGE;
	mem->region_first[CVMBUS_MEM_REGION_VTL2] = layout->vtl2_base / PAGE;
	mem->region_pages[CVMBUS_MEM_REGION_VTL2] = layout->vtl2_bytes / PAGE;
	rc = -pthread_mutex_init(&mem->lock, NULL);
	if (rc)
		goto fail;
	*out = mem;
	return 0;

fail:
	cvmbus_mem_host_view_close(mem->host);
	free(mem);
	return rc;
}

bool cvmbus_mem_is_remote(const struct cvmbus_mem *mem)
{
	return mem && mem->remote;
}

void cvmbus_mem_destroy(struct cvmbus_mem *mem)
{
	if (!mem)
		return;
	if (mem->remote) {
		cvmbus_mem_host_view_close(mem->host);
		pthread_mutex_destroy(&mem->lock);
		free(mem);
		return;
	}
	cvmbus_mem_host_view_close(mem->host);
	for (int v = 0; v < 2; v++)
		munmap(mem->view[v], (size_t)(mem->pages * PAGE));
	close(mem->shared_fd);
	close(mem->private_fd);
	pthread_mutex_destroy(&mem->lock);
	free(mem->pins);
	free(mem->alloc_bitmap);
	free(mem->expo);
	free((void *)mem->pg);
	free(mem);
}

void cvmbus_mem_set_visibility_handler(struct cvmbus_mem *mem, cvmbus_mem_visibility_fn fn,
				       void *ctx)
{
	if (!mem)
		return;
	pthread_mutex_lock(&mem->lock);
	mem->visibility_fn = fn;
	mem->visibility_ctx = ctx;
	pthread_mutex_unlock(&mem->lock);
}

/* ---- queries ------------------------------------------------------------ */

enum hv_isolation_type cvmbus_mem_isolation(const struct cvmbus_mem *mem)
{
	return mem ? mem->isolation : HV_ISOLATION_TYPE_NONE;
}

uint64_t cvmbus_mem_bytes(const struct cvmbus_mem *mem)
{
	return mem ? mem->pages * PAGE : 0;
}

int cvmbus_mem_region(const struct cvmbus_mem *mem, enum cvmbus_mem_region region,
		      uint64_t *base, uint64_t *bytes)
{
	if (!mem || (unsigned int)region >= CVMBUS_MEM_REGION_COUNT)
		return -EINVAL;
	if (base)
		*base = mem->region_first[region] * PAGE;
	if (bytes)
		*bytes = mem->region_pages[region] * PAGE;
	return 0;
}

int cvmbus_mem_shared_fd(const struct cvmbus_mem *mem)
{
	return mem ? mem->shared_fd : -EINVAL;
}

struct cvmbus_mem_host_view *cvmbus_mem_host(struct cvmbus_mem *mem)
{
	return mem ? mem->host : NULL;
}

int cvmbus_mem_page_state(const struct cvmbus_mem *mem, uint64_t gpa)
{
	if (!mem || mem->remote || gpa / PAGE >= mem->pages)
		return -EINVAL;
	return (int)mem_pg_state(mem->pg, gpa / PAGE);
}

void cvmbus_mem_get_stats(const struct cvmbus_mem *mem, struct cvmbus_mem_stats *out)
{
	if (!mem || !out)
		return;
	memset(out, 0, sizeof(*out));
	out->visibility_calls = atomic_load(&mem->visibility_calls);
	out->visibility_pages = atomic_load(&mem->visibility_pages);
	out->visibility_failures = atomic_load(&mem->visibility_failures);
	out->pages_made_shared = atomic_load(&mem->pages_made_shared);
	out->pages_made_private = atomic_load(&mem->pages_made_private);
	out->vtl_faults = atomic_load(&mem->vtl_faults);
	out->vtl_last_fault = atomic_load(&mem->vtl_last_fault);
	cvmbus_mem_host_view_faults(mem->host, &out->host_faults, &out->host_last_fault);
}

/* ---- aliases ------------------------------------------------------------ */

uint64_t cvmbus_mem_boundary_from_cpuid_ebx(uint32_t ebx)
{
	if (!(ebx & HV_SHARED_GPA_BOUNDARY_ACTIVE))
		return 0;
	return 1ull << ((ebx & HV_SHARED_GPA_BOUNDARY_BITS_MASK) >>
			HV_SHARED_GPA_BOUNDARY_BITS_SHIFT);
}

uint64_t cvmbus_mem_shared_gpa_boundary(const struct cvmbus_mem *mem)
{
	return mem ? mem->boundary : 0;
}

uint64_t cvmbus_mem_gpa_to_alias(const struct cvmbus_mem *mem, uint64_t gpa)
{
	/* vTOM and the TDX shared bit are the same arithmetic: one high bit. */
	return gpa | mem->boundary;
}

int cvmbus_mem_alias_to_gpa(const struct cvmbus_mem *mem, uint64_t alias, uint64_t *gpa)
{
	uint64_t g = alias;

	if (!mem || !gpa)
		return -EINVAL;
	if (mem->boundary) {
		if (!(alias & mem->boundary))
			return -EFAULT;
		g = alias & ~mem->boundary;
	}
	if (g >= mem->pages * PAGE)
		return -EFAULT;
	*gpa = g;
	return 0;
}

/* ---- guest and paravisor accessors ------------------------------------- */

void *cvmbus_mem_view_base(const struct cvmbus_mem *mem, enum cvmbus_mem_view view)
{
	if (!mem || mem->remote || (view != CVMBUS_MEM_VIEW_GUEST && view != CVMBUS_MEM_VIEW_PARAVISOR))
		return NULL;
	return mem->view[view];
}

/* Check that [gpa, gpa+len) lies inside what `view` may reach and return
 * its pages. A guest range that touches VTL2 is counted: that is the access
 * the VTL protection exists to stop. */
static int view_range(struct cvmbus_mem *mem, enum cvmbus_mem_view view, uint64_t gpa,
		      size_t len, uint64_t *first, uint64_t *n)
{
	uint64_t bytes, limit;

	if (!mem || mem->remote || !len ||
	    (view != CVMBUS_MEM_VIEW_GUEST && view != CVMBUS_MEM_VIEW_PARAVISOR))
		return -EINVAL;
	bytes = mem->pages * PAGE;
	limit = view == CVMBUS_MEM_VIEW_GUEST ? mem->region_pages[CVMBUS_MEM_REGION_VTL0] * PAGE
					      : bytes;
	if (gpa >= limit || len > limit - gpa) {
		if (limit < bytes && gpa < bytes) {
			atomic_fetch_add_explicit(&mem->vtl_faults, 1, memory_order_relaxed);
			atomic_store_explicit(&mem->vtl_last_fault, gpa, memory_order_relaxed);
		}
		return -EFAULT;
	}
	*first = gpa / PAGE;
	*n = (gpa + len - 1) / PAGE - *first + 1;
	return 0;
}

#define VIEW_ACCEPT ((1u << CVMBUS_MEM_PAGE_PRIVATE) | (1u << CVMBUS_MEM_PAGE_SHARED))

static int view_copy(struct cvmbus_mem *mem, enum cvmbus_mem_view view, uint64_t gpa,
		     void *dst, const void *src, size_t len)
{
	uint64_t first, n;
	int rc;

	rc = view_range(mem, view, gpa, len, &first, &n);
	if (rc)
		return rc;
	/* A page mid-transition is not present: the access faults, as a
	 * guest touching it during set_memory_decrypted() would. */
	if (!mem_pg_enter(mem->pg, first, n, VIEW_ACCEPT))
		return -EFAULT;
	if (dst)
		memcpy(dst, mem->view[view] + gpa, len);
	else
		memcpy(mem->view[view] + gpa, src, len);
	mem_pg_leave(mem->pg, first, n);
	return 0;
}

int cvmbus_mem_read(struct cvmbus_mem *mem, enum cvmbus_mem_view view, uint64_t gpa,
		    void *dst, size_t len)
{
	if (!dst)
		return -EINVAL;
	return view_copy(mem, view, gpa, dst, NULL, len);
}

int cvmbus_mem_write(struct cvmbus_mem *mem, enum cvmbus_mem_view view, uint64_t gpa,
		     const void *src, size_t len)
{
	if (!src)
		return -EINVAL;
	return view_copy(mem, view, gpa, NULL, src, len);
}

int cvmbus_mem_hold(struct cvmbus_mem *mem, enum cvmbus_mem_view view, uint64_t gpa,
		    size_t len, void **out)
{
	uint64_t first, n;
	int rc;

	if (!out || !len)
		return -EINVAL;
	rc = view_range(mem, view, gpa, len, &first, &n);
	if (rc)
		return rc;
	/* The reader count a copy takes, kept until the release: a
	 * transition of any of these pages waits for it (mem_pg_wait_idle). */
	if (!mem_pg_enter(mem->pg, first, n, VIEW_ACCEPT))
		return -EFAULT;
	*out = mem->view[view] + gpa;
	return 0;
}

void cvmbus_mem_release(struct cvmbus_mem *mem, uint64_t gpa, size_t len)
{
	if (!mem || !len)
		return;
	mem_pg_leave(mem->pg, gpa / CVMBUS_MEM_PAGE_SIZE,
		     (gpa + len - 1) / CVMBUS_MEM_PAGE_SIZE - gpa / CVMBUS_MEM_PAGE_SIZE + 1);
}

int cvmbus_mem_ptr(struct cvmbus_mem *mem, enum cvmbus_mem_view view, uint64_t gpa,
		   size_t len, void **out)
{
	uint64_t first, n;
	int rc;

	if (!out)
		return -EINVAL;
	rc = view_range(mem, view, gpa, len, &first, &n);
	if (rc)
		return rc;
	for (uint64_t p = first; p < first + n; p++)
		if (mem_pg_state(mem->pg, p) == CVMBUS_MEM_PAGE_NOT_PRESENT)
			return -EFAULT;
	*out = mem->view[view] + gpa;
	return 0;
}

/* ---- transitions -------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Validate the request and turn it into a sorted list of page indices. */
static int transition_pages(const struct cvmbus_mem *mem, enum cvmbus_mem_party party,
			    const uint64_t *gpas, size_t count, uint64_t **pages_out)
{
	uint64_t vtl0 = mem->region_pages[CVMBUS_MEM_REGION_VTL0];
	uint64_t *pages;

	/* More pages than exist can only mean duplicates. */
	if (count > mem->pages)
		return -EINVAL;
	pages = malloc(count * sizeof(*pages));
	if (!pages)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		if (gpas[i] % PAGE || gpas[i] / PAGE >= mem->pages)
			goto inval;
		pages[i] = gpas[i] / PAGE;
	}
	/* Sorted so that runs coalesce into single mmap/fallocate calls and
	 * the hypercall lists pages in ascending order, as Linux does. */
	qsort(pages, count, sizeof(*pages), cmp_u64);
	for (size_t i = 1; i < count; i++)
		if (pages[i] == pages[i - 1])
			goto inval;
	/* The guest decides only about its own RAM; VTL2 is not its to expose. */
	if (party == CVMBUS_MEM_PARTY_GUEST && pages[count - 1] >= vtl0) {
		free(pages);
		return -EPERM;
	}
	*pages_out = pages;
	return 0;
inval:
	free(pages);
	return -EINVAL;
}

/* Issue the visibility hypercalls for pages[0..n), at most 510 a call.
 * Returns how many pages the host side accepted (whole batches). */
static size_t transition_calls(struct cvmbus_mem *mem, const uint64_t *pages, size_t n,
			       bool shared, struct hv_input_modify_sparse_gpa_page_host_visibility *in)
{
	cvmbus_mem_visibility_fn fn;
	void *ctx;
	size_t done = 0;

	pthread_mutex_lock(&mem->lock);
	fn = mem->visibility_fn;
	ctx = mem->visibility_ctx;
	pthread_mutex_unlock(&mem->lock);
	if (!fn) {
		fn = cvmbus_mem_visibility_default;
		ctx = mem->host;
	}
	while (done < n) {
		uint32_t reps = (uint32_t)(n - done < HV_MAX_MODIFY_GPA_REP_COUNT
						   ? n - done
						   : HV_MAX_MODIFY_GPA_REP_COUNT);
		uint16_t status;

		memset(in, 0, PAGE);
		in->partition_id = HV_PARTITION_ID_SELF;
		in->host_visibility = shared ? HV_MAP_GPA_READ_WRITE : HV_MAP_GPA_NOT_VISIBLE;
		/* GPA page numbers of the private alias, as Linux passes them. */
		memcpy(in->gpa_page_list, pages + done, reps * sizeof(uint64_t));
		atomic_fetch_add(&mem->visibility_calls, 1);
		atomic_fetch_add(&mem->visibility_pages, reps);
		status = fn(ctx, in, reps);
		if (status != HV_STATUS_SUCCESS) {
			atomic_fetch_add(&mem->visibility_failures, 1);
			break;
		}
		done += reps;
	}
	return done;
}

/* Step 1, not present: wait out accessors already inside the pages, then
 * take them out of both views (Linux: hv_vtom_clear_present). A mapping
 * failure leaves the old backing mapped, but the NOT_PRESENT state still
 * keeps accessors out and step 3 replaces the mapping. */
static int transition_unmap(struct cvmbus_mem *mem, const uint64_t *pages, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		mem_pg_wait_idle(mem->pg, pages[i]);
	for (size_t i = 0; i < n;) {
		size_t r = run_length(pages, i, n);

		if (views_map(mem, pages[i], r, CVMBUS_MEM_PAGE_NOT_PRESENT))
			rc = -ENOMEM;
		i += r;
	}
	return rc;
}

/* Step 3: the first `done` pages were changed by the host side. They get a
 * zeroed new backing (and the old one scrubbed, which keeps the shared memfd
 * free of non-shared bytes), then are mapped present again. The rest were
 * not changed: they come back as they were, contents intact. */
static int transition_finish(struct cvmbus_mem *mem, const uint64_t *pages, size_t n,
			     size_t done, uint32_t source, uint32_t target)
{
	int rc = 0;

	for (size_t i = 0; i < n;) {
		size_t r = run_length(pages, i, i < done ? done : n);
		uint32_t state = i < done ? target : source;
		int err = 0;

		if (i < done) {
			err = backing_zero(state_fd(mem, source), pages[i], r);
			if (!err)
				err = backing_zero(state_fd(mem, target), pages[i], r);
		}
		if (!err)
			err = views_map(mem, pages[i], r, state);
		if (err) {
			/* Leave the run not present: poisoned, never half-mapped. */
			rc = err;
		} else {
			for (size_t k = i; k < i + r; k++)
				mem_pg_set_state(mem->pg, pages[k], state);
		}
		i += r;
	}
	return rc;
}

int cvmbus_mem_set_visibility(struct cvmbus_mem *mem, enum cvmbus_mem_party party,
			      const uint64_t *gpas, size_t count, bool shared,
			      const char *reason)
{
	struct hv_input_modify_sparse_gpa_page_host_visibility *in = NULL;
	uint32_t target = shared ? CVMBUS_MEM_PAGE_SHARED : CVMBUS_MEM_PAGE_PRIVATE;
	uint32_t source = shared ? CVMBUS_MEM_PAGE_PRIVATE : CVMBUS_MEM_PAGE_SHARED;
	uint64_t *pages = NULL;
	size_t nchg = 0, done;
	int rid, rc, err;

	if (!mem || mem->remote || (count && !gpas) ||
	    (unsigned int)party >= CVMBUS_MEM_PARTY_COUNT)
		return -EINVAL;
	/* Only the partition decides what of it the host sees. */
	if (party == CVMBUS_MEM_PARTY_HYPERVISOR || party == CVMBUS_MEM_PARTY_HOST)
		return -EPERM;
	if (!count)
		return 0;
	rc = transition_pages(mem, party, gpas, count, &pages);
	if (rc)
		return rc;

	/* Claim: under the lock, check no page is in another transition and
	 * mark the changing ones not present, which keeps every accessor and
	 * every other transition away from them until we publish a state. */
	pthread_mutex_lock(&mem->lock);
	rid = mem_reason_intern(mem, reason);
	if (rid < 0) {
		rc = rid;
		goto unlock;
	}
	if (mem->isolation == HV_ISOLATION_TYPE_NONE) {
		/* Nothing to change: Linux's set_memory_{de,en}crypted are
		 * no-ops without isolation. Only the tag follows the request. */
		int none = mem_reason_intern(mem, CVMBUS_MEM_REASON_NO_ISOLATION);

		for (size_t i = 0; i < count; i++)
			mem_expo_mark_visible(mem, pages[i],
					      shared ? party : CVMBUS_MEM_PARTY_HYPERVISOR,
					      shared ? (unsigned int)rid : (unsigned int)none,
					      false);
		goto unlock;
	}
	for (size_t i = 0; i < count; i++) {
		uint32_t st = mem_pg_state(mem->pg, pages[i]);

		if (st == CVMBUS_MEM_PAGE_NOT_PRESENT || (st != target && mem->pins[pages[i]])) {
			rc = -EBUSY;
			goto unlock;
		}
	}
	for (size_t i = 0; i < count; i++) {
		if (mem_pg_state(mem->pg, pages[i]) == target) {
			/* Already there: keep contents, update the tag only. */
			if (shared)
				mem_expo_mark_visible(mem, pages[i], party, (unsigned int)rid,
						      false);
			continue;
		}
		pages[nchg++] = pages[i]; /* stays sorted */
		mem_pg_set_state(mem->pg, pages[i], CVMBUS_MEM_PAGE_NOT_PRESENT);
	}
	pthread_mutex_unlock(&mem->lock);
	if (!nchg)
		goto out;

	/* A hypercall input is one page, page-aligned, as the hypervisor wants. */
	in = aligned_alloc(PAGE, PAGE);
	if (!in) {
		/* Nothing happened yet: publish the old state again. */
		for (size_t i = 0; i < nchg; i++)
			mem_pg_set_state(mem->pg, pages[i], source);
		rc = -ENOMEM;
		goto out;
	}

	rc = transition_unmap(mem, pages, nchg);
	/* Step 2: ask the hypervisor, batch by batch. */
	done = transition_calls(mem, pages, nchg, shared, in);
	err = transition_finish(mem, pages, nchg, done, source, target);
	if (err)
		rc = err;

	pthread_mutex_lock(&mem->lock);
	for (size_t i = 0; i < done; i++) {
		if (shared)
			mem_expo_mark_visible(mem, pages[i], party, (unsigned int)rid, true);
		else
			mem_expo_mark_hidden(mem, pages[i]);
	}
	if (shared)
		atomic_fetch_add(&mem->pages_made_shared, done);
	else
		atomic_fetch_add(&mem->pages_made_private, done);
	if (done < nchg && !rc)
		rc = -EIO;
unlock:
	pthread_mutex_unlock(&mem->lock);
out:
	free(in);
	free(pages);
	return rc;
}

/* ---- pins ------------------------------------------------------------------ */

static int pin_range(struct cvmbus_mem *mem, uint64_t gpa, uint64_t npages, int delta)
{
	uint64_t first;
	int rc = 0;

	if (!mem || gpa % PAGE || !npages || gpa / PAGE >= mem->pages ||
	    npages > mem->pages - gpa / PAGE)
		return -EINVAL;
	/* The host's process: the partition keeps the count (and refuses the
	 * transitions); here there is nothing to count. */
	if (mem->remote)
		return mem->pin_fn ? mem->pin_fn(mem->pin_ctx, gpa, npages, delta) : 0;
	first = gpa / PAGE;
	pthread_mutex_lock(&mem->lock);
	/* Check the whole range first so that a failure changes nothing. */
	for (uint64_t i = 0; i < npages; i++) {
		uint16_t n = mem->pins[first + i];

		if (delta < 0 && n == 0) {
			rc = -EINVAL;
			goto out;
		}
		if (delta > 0 && n == UINT16_MAX) {
			rc = -EOVERFLOW;
			goto out;
		}
	}
	for (uint64_t i = 0; i < npages; i++)
		mem->pins[first + i] = (uint16_t)(mem->pins[first + i] + delta);
out:
	pthread_mutex_unlock(&mem->lock);
	return rc;
}

int cvmbus_mem_pin(struct cvmbus_mem *mem, uint64_t gpa, uint64_t npages)
{
	return pin_range(mem, gpa, npages, 1);
}

int cvmbus_mem_unpin(struct cvmbus_mem *mem, uint64_t gpa, uint64_t npages)
{
	return pin_range(mem, gpa, npages, -1);
}

static int visibility_range(struct cvmbus_mem *mem, enum cvmbus_mem_party party,
			    uint64_t gpa, uint64_t npages, bool shared, const char *reason)
{
	uint64_t *gpas;
	int rc;

	if (!mem || !npages || npages > mem->pages || gpa % PAGE)
		return -EINVAL;
	gpas = malloc(npages * sizeof(*gpas));
	if (!gpas)
		return -ENOMEM;
	for (uint64_t i = 0; i < npages; i++)
		gpas[i] = gpa + i * PAGE;
	rc = cvmbus_mem_set_visibility(mem, party, gpas, npages, shared, reason);
	free(gpas);
	return rc;
}

int cvmbus_mem_make_shared(struct cvmbus_mem *mem, enum cvmbus_mem_party party,
			   uint64_t gpa, uint64_t npages, const char *reason)
{
	return visibility_range(mem, party, gpa, npages, true, reason);
}

int cvmbus_mem_make_private(struct cvmbus_mem *mem, enum cvmbus_mem_party party,
			    uint64_t gpa, uint64_t npages)
{
	return visibility_range(mem, party, gpa, npages, false, NULL);
}
