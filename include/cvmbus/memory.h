/* SPDX-License-Identifier: MIT */
/*
 * Partition memory of the simulated confidential VM, as the operating system
 * can enforce it (layer src/hw, the bottom of the platform model). Guest
 * physical memory is backed by two memfds: PRIVATE (guest and paravisor only)
 * and SHARED (host-visible). Each 4 KiB page of GPA space is backed by one of
 * them at the page's own offset. Three parties see it through three views,
 * each a real mmap'ed window plus checked accessors: the guest view (VTL0
 * RAM, never VTL2), the paravisor view (the whole partition) and the host
 * view, which is built from the shared memfd alone so that the host can later
 * live in another process that never receives the private fd. Host
 * visibility changes follow the Linux sequence (not present, hypercall in
 * batches of at most 510 pages, zero, present again) and every exposure is
 * accounted by party and reason. See docs/MEMORY.md.
 *
 * Errors are negative errno values: -EINVAL (bad argument), -EFAULT (the
 * address is not reachable by this view; host faults are counted), -EPERM
 * (this party may not do that), -EBUSY (a page is in another transition),
 * -ENOMEM / -ENOSPC (out of pages, mappings or reason slots), -EIO (the
 * visibility hypercall failed).
 */
#ifndef CVMBUS_MEMORY_H
#define CVMBUS_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/hv.h>

#define CVMBUS_MEM_PAGE_SIZE  HV_PAGE_SIZE
#define CVMBUS_MEM_PAGE_SHIFT HV_PAGE_SHIFT
/* Upper bound on partition size: the per-page tables stay small and every
 * view's address-space reservation stays far below the 47-bit user space. */
#define CVMBUS_MEM_MAX_PAGES  (1ull << 24) /* 64 GiB */
/* Distinct reason tags per partition (index 0 is "untagged"). */
#define CVMBUS_MEM_MAX_REASONS 32u
#define CVMBUS_MEM_REASON_MAX_LEN 23u
#define CVMBUS_MEM_REASON_UNTAGGED "untagged"
/* The tag of every page under isolation NONE until someone retags it. */
#define CVMBUS_MEM_REASON_NO_ISOLATION "no-isolation"

/* The parties of the system; who asked for a page to be host-visible. */
enum cvmbus_mem_party {
	CVMBUS_MEM_PARTY_GUEST = 0,
	CVMBUS_MEM_PARTY_PARAVISOR = 1,
	CVMBUS_MEM_PARTY_HYPERVISOR = 2,
	CVMBUS_MEM_PARTY_HOST = 3,
	CVMBUS_MEM_PARTY_COUNT
};

/* Regions of GPA space. VTL0 RAM starts at GPA 0; VTL2 RAM follows it. */
enum cvmbus_mem_region {
	CVMBUS_MEM_REGION_VTL0 = 0, /* guest RAM */
	CVMBUS_MEM_REGION_VTL2 = 1, /* paravisor-private RAM */
	CVMBUS_MEM_REGION_COUNT
};

enum cvmbus_mem_page_state {
	CVMBUS_MEM_PAGE_PRIVATE = 0,     /* backed by the private memfd */
	CVMBUS_MEM_PAGE_SHARED = 1,      /* backed by the shared memfd */
	CVMBUS_MEM_PAGE_NOT_PRESENT = 2, /* mid-transition, mapped in no view */
};

/* The two in-partition views. The host view is its own object below. */
enum cvmbus_mem_view {
	CVMBUS_MEM_VIEW_GUEST = 0,
	CVMBUS_MEM_VIEW_PARAVISOR = 1,
};

/*
 * The visibility hook: one HvCallModifySparseGpaPageHostVisibility call.
 * `input` is a page-sized buffer in the hypercall's layout (partition id,
 * host_visibility 0 = not visible or 3 = read/write, then rep_count GPA page
 * numbers, rep_count <= 510). Returns an HV_STATUS_* code; the call is
 * all-or-nothing. The hook runs with no partition lock held and may call any
 * cvmbus_mem_* function except a transition of the same pages. The hypervisor
 * model implements it; NULL selects cvmbus_mem_visibility_default() on the
 * partition's own host view.
 */
typedef uint16_t (*cvmbus_mem_visibility_fn)(
	void *ctx, const struct hv_input_modify_sparse_gpa_page_host_visibility *input,
	uint32_t rep_count);

struct cvmbus_mem_config {
	enum hv_isolation_type isolation;
	uint64_t vtl0_bytes; /* guest RAM: > 0, a multiple of 4 KiB */
	uint64_t vtl2_bytes; /* paravisor RAM: a multiple of 4 KiB, may be 0 */
	/* The shared-GPA boundary (vTOM, VBS/SNP) or shared bit (TDX) is
	 * 1 << shared_gpa_bits; 0 picks 46 for VBS/SNP and 47 for TDX. Ignored
	 * for isolation NONE. The whole partition must lie below it. */
	unsigned int shared_gpa_bits;
	cvmbus_mem_visibility_fn visibility_fn;
	void *visibility_ctx;
};

struct cvmbus_mem_stats {
	uint64_t visibility_calls;    /* hypercalls issued by transitions */
	uint64_t visibility_pages;    /* pages listed in them */
	uint64_t visibility_failures; /* calls that returned != SUCCESS */
	uint64_t pages_made_shared;   /* completed private -> shared */
	uint64_t pages_made_private;  /* completed shared -> private */
	uint64_t host_faults;         /* of the partition's own host view */
	uint64_t host_last_fault;     /* the address the host presented */
	uint64_t vtl_faults;          /* guest-view accesses that reached VTL2 */
	uint64_t vtl_last_fault;      /* the GPA the guest presented */
};

/* One page's exposure record. `reason` stays valid until destroy. */
struct cvmbus_mem_exposure_page {
	bool visible_now;
	bool visible_ever;
	enum cvmbus_mem_party party; /* who last made it visible (or retagged it) */
	const char *reason;          /* why, NULL if never visible */
};

/* Pages/bytes visible now and ever (each page counted once), and how many
 * private -> shared transitions carried this tag. */
struct cvmbus_mem_exposure_totals {
	uint64_t pages_now, pages_ever;
	uint64_t bytes_now, bytes_ever;
	uint64_t transitions;
};

/* A run of contiguous pages with the same (visible_now, party, reason). */
struct cvmbus_mem_exposure_range {
	uint64_t gpa;
	uint64_t bytes;
	bool visible_now;
	enum cvmbus_mem_party party;
	const char *reason;
};

enum cvmbus_mem_exposure_filter {
	CVMBUS_MEM_EXPOSURE_NOW = 0,  /* pages host-visible now */
	CVMBUS_MEM_EXPOSURE_EVER = 1, /* pages host-visible now or at any time before */
};

struct cvmbus_mem_exposure_iter {
	uint64_t next_page;
	enum cvmbus_mem_exposure_filter filter;
};

struct cvmbus_mem;           /* the partition's memory */
struct cvmbus_mem_host_view; /* the host's window: shared memfd only */

/* ---- partition -------------------------------------------------------- */

int cvmbus_mem_create(const struct cvmbus_mem_config *cfg, struct cvmbus_mem **out);
void cvmbus_mem_destroy(struct cvmbus_mem *mem);

/* Replace the visibility hook (NULL: the built-in one). A transition
 * already issuing its calls keeps the hook it started with. */
void cvmbus_mem_set_visibility_handler(struct cvmbus_mem *mem, cvmbus_mem_visibility_fn fn,
				       void *ctx);

enum hv_isolation_type cvmbus_mem_isolation(const struct cvmbus_mem *mem);
uint64_t cvmbus_mem_bytes(const struct cvmbus_mem *mem); /* whole GPA space */
int cvmbus_mem_region(const struct cvmbus_mem *mem, enum cvmbus_mem_region region,
		      uint64_t *base, uint64_t *bytes);
/* The fd to hand to a host party (e.g. over SCM_RIGHTS); owned by mem. */
int cvmbus_mem_shared_fd(const struct cvmbus_mem *mem);
/* The partition's in-process host view; owned by mem. */
struct cvmbus_mem_host_view *cvmbus_mem_host(struct cvmbus_mem *mem);
/* Page state of `gpa` (>= 0, an enum cvmbus_mem_page_state) or -EINVAL. */
int cvmbus_mem_page_state(const struct cvmbus_mem *mem, uint64_t gpa);
void cvmbus_mem_get_stats(const struct cvmbus_mem *mem, struct cvmbus_mem_stats *out);

/* ---- shared-GPA aliases ----------------------------------------------- */

/* 1 << bits from CPUID 0x4000000C EBX, or 0 if the boundary is inactive. */
uint64_t cvmbus_mem_boundary_from_cpuid_ebx(uint32_t ebx);
/* The partition's boundary / shared bit (0 under isolation NONE). */
uint64_t cvmbus_mem_shared_gpa_boundary(const struct cvmbus_mem *mem);
/* gpa | boundary (identity with no isolation). */
uint64_t cvmbus_mem_gpa_to_alias(const struct cvmbus_mem *mem, uint64_t gpa);
/* The GPA under a host alias; -EFAULT if it is not a shared alias of a GPA
 * inside the partition. Says nothing about the page's current state. */
int cvmbus_mem_alias_to_gpa(const struct cvmbus_mem *mem, uint64_t alias, uint64_t *gpa);

/* ---- guest and paravisor views ----------------------------------------- */

/* The base of the view's window (window + gpa = the page's mapping). For
 * probes and tests; use the accessors otherwise. */
void *cvmbus_mem_view_base(const struct cvmbus_mem *mem, enum cvmbus_mem_view view);
/* Copy between the view and a caller buffer. -EFAULT when any byte is
 * outside the view (VTL2 for the guest: counted), or mid-transition. */
int cvmbus_mem_read(struct cvmbus_mem *mem, enum cvmbus_mem_view view, uint64_t gpa,
		    void *dst, size_t len);
int cvmbus_mem_write(struct cvmbus_mem *mem, enum cvmbus_mem_view view, uint64_t gpa,
		     const void *src, size_t len);
/* Hold [gpa, gpa+len) in the view and give a pointer to it, for a device
 * that moves data straight into or out of guest memory (a pread into the
 * guest's buffer, as a DMA would): the same checks as read/write, and
 * until cvmbus_mem_release() no page of the range can change visibility
 * (a transition waits, as it waits for a copy in progress). Hold briefly
 * and never wait for another party while holding. -EFAULT as read/write. */
int cvmbus_mem_hold(struct cvmbus_mem *mem, enum cvmbus_mem_view view, uint64_t gpa,
		    size_t len, void **out);
void cvmbus_mem_release(struct cvmbus_mem *mem, uint64_t gpa, size_t len);
/* A pointer into the view for [gpa, gpa+len). Valid until a page of that
 * range changes visibility; touching it after that faults, as on hardware. */
int cvmbus_mem_ptr(struct cvmbus_mem *mem, enum cvmbus_mem_view view, uint64_t gpa,
		   size_t len, void **out);

/* ---- host visibility transitions --------------------------------------- */

/*
 * Make the pages at `gpas` (page-aligned, any order, no duplicates) shared
 * (host-visible) or private, on behalf of `party` (guest: VTL0 pages only;
 * paravisor: any; hypervisor and host: -EPERM), tagging visible pages with
 * `reason` (NULL: "untagged"). Pages whose state changes lose their contents
 * (they read as zeros after). Pages already in the target state are only
 * retagged. Under isolation NONE everything is already visible: shared is a
 * retag, private keeps the page visible (as Linux's no-op). -EIO if a
 * visibility call failed: pages of the earlier batches changed, the rest
 * kept their state and contents.
 */
int cvmbus_mem_set_visibility(struct cvmbus_mem *mem, enum cvmbus_mem_party party,
			      const uint64_t *gpas, size_t count, bool shared,
			      const char *reason);
/* Contiguous forms of the above. */
int cvmbus_mem_make_shared(struct cvmbus_mem *mem, enum cvmbus_mem_party party,
			   uint64_t gpa, uint64_t npages, const char *reason);
int cvmbus_mem_make_private(struct cvmbus_mem *mem, enum cvmbus_mem_party party,
			    uint64_t gpa, uint64_t npages);

/*
 * Pin pages a server has mapped (the rings and buffers of an open channel)
 * so that their visibility cannot change under the mapping: a transition
 * that would change a pinned page fails with -EBUSY and changes nothing. A
 * guest that tries to take back a page the host still uses gets an error,
 * not a host that faults. Pins count; unpin what you pinned. -EINVAL for a
 * range outside the partition or an unpin below zero, -EOVERFLOW past
 * 65535 pins of one page.
 */
int cvmbus_mem_pin(struct cvmbus_mem *mem, uint64_t gpa, uint64_t npages);
int cvmbus_mem_unpin(struct cvmbus_mem *mem, uint64_t gpa, uint64_t npages);

/* ---- exposure account -------------------------------------------------- */

int cvmbus_mem_exposure_page(struct cvmbus_mem *mem, uint64_t gpa,
			     struct cvmbus_mem_exposure_page *out);
/* Totals of one reason tag (-ENOENT if never used), one party, or all. */
int cvmbus_mem_exposure_by_reason(struct cvmbus_mem *mem, const char *reason,
				  struct cvmbus_mem_exposure_totals *out);
int cvmbus_mem_exposure_by_party(struct cvmbus_mem *mem, enum cvmbus_mem_party party,
				 struct cvmbus_mem_exposure_totals *out);
void cvmbus_mem_exposure_total(struct cvmbus_mem *mem, struct cvmbus_mem_exposure_totals *out);
void cvmbus_mem_exposure_iter_init(struct cvmbus_mem_exposure_iter *it,
				   enum cvmbus_mem_exposure_filter filter);
/* 1 and *out filled with the next range, 0 at the end. */
int cvmbus_mem_exposure_next(struct cvmbus_mem *mem, struct cvmbus_mem_exposure_iter *it,
			     struct cvmbus_mem_exposure_range *out);
const char *cvmbus_mem_party_name(enum cvmbus_mem_party party);

/* ---- page allocator ---------------------------------------------------- */

/* npages contiguous free pages of `region`; contents are whatever they were. */
int cvmbus_mem_alloc(struct cvmbus_mem *mem, enum cvmbus_mem_region region, uint64_t npages,
		     uint64_t *gpa);
/* -EINVAL unless every page was allocated and the run is in one region. */
int cvmbus_mem_free(struct cvmbus_mem *mem, uint64_t gpa, uint64_t npages);

/* ---- host view ---------------------------------------------------------- */

/*
 * Open a host view over a shared memfd (dup'ed; the caller keeps its fd).
 * The partition size comes from the fd itself; `boundary` is the platform's
 * shared-GPA boundary (0: aliases are GPAs). Nothing is visible until
 * cvmbus_mem_host_view_apply() says so.
 */
int cvmbus_mem_host_view_open(int shared_fd, uint64_t boundary,
			      struct cvmbus_mem_host_view **out);
void cvmbus_mem_host_view_close(struct cvmbus_mem_host_view *hv);
/* Map (visible) or unmap the listed GPA page numbers. All-or-nothing
 * validation; -EINVAL on a page outside the memfd. */
int cvmbus_mem_host_view_apply(struct cvmbus_mem_host_view *hv, const uint64_t *pfns,
			       size_t count, bool visible);
/* The built-in visibility hook: ctx is a host view. */
uint16_t cvmbus_mem_visibility_default(
	void *ctx, const struct hv_input_modify_sparse_gpa_page_host_visibility *input,
	uint32_t rep_count);

/* Host accessors take shared aliases. -EFAULT (counted, with the address)
 * when any byte is not in a page visible now. */
int cvmbus_mem_host_read(struct cvmbus_mem_host_view *hv, uint64_t alias, void *dst,
			 size_t len);
int cvmbus_mem_host_write(struct cvmbus_mem_host_view *hv, uint64_t alias, const void *src,
			  size_t len);
/* cvmbus_mem_hold()/release() through the host's window: every page of
 * the range visible now, and kept so until the release. */
int cvmbus_mem_host_hold(struct cvmbus_mem_host_view *hv, uint64_t alias, size_t len,
			 void **out);
void cvmbus_mem_host_release(struct cvmbus_mem_host_view *hv, uint64_t alias, size_t len);
int cvmbus_mem_host_ptr(struct cvmbus_mem_host_view *hv, uint64_t alias, size_t len,
			void **out);
void *cvmbus_mem_host_view_base(const struct cvmbus_mem_host_view *hv);
bool cvmbus_mem_host_view_visible(const struct cvmbus_mem_host_view *hv, uint64_t gpa);
void cvmbus_mem_host_view_faults(const struct cvmbus_mem_host_view *hv, uint64_t *count,
				 uint64_t *last_alias);
/* The fds the view holds (at most `max` written); returns how many. It holds
 * exactly one: its dup of the shared memfd. */
size_t cvmbus_mem_host_view_fds(const struct cvmbus_mem_host_view *hv, int *fds, size_t max);
/* How many pages the view's window spans (the memfd's size). */
uint64_t cvmbus_mem_host_view_pages(const struct cvmbus_mem_host_view *hv);

#endif /* CVMBUS_MEMORY_H */
