/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the partition-memory files of src/hw (memory.c: the
 * partition, its views and transitions; memory_host.c: the host view;
 * memory_account.c: exposure account and page allocator). Holds the per-page
 * word that lets accessors run against concurrent transitions of other pages
 * without a lock, and the partition struct itself.
 */
#ifndef CVMBUS_HW_MEMORY_INTERNAL_H
#define CVMBUS_HW_MEMORY_INTERNAL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cvmbus/hostlink.h>
#include <cvmbus/memory.h>

/*
 * The per-page word: state in bits 1:0, number of accessors currently
 * copying through the page in the bits above (one unit = MEM_PG_READER).
 *
 * An accessor adds a reader unit and then looks at the state in the value
 * it got back; a transition swaps the state to "not present" and then waits
 * for the reader count to reach zero before it touches the mapping. Both are
 * read-modify-writes of one atomic, so they are totally ordered: a reader
 * that came after the swap sees "not present" and backs off, and one that
 * came before is waited for. Its memcpy happens-before its release
 * decrement, which pairs with the acquire load in mem_pg_wait_idle(), so no
 * access can hit a mapping being replaced.
 */
#define MEM_PG_STATE_MASK 3u
#define MEM_PG_READER     4u

typedef _Atomic uint32_t mem_pg_t;

/* Enter pages [first, first+n) if each one's state is in accept_mask
 * (a mask of 1u << state). On failure nothing stays entered. */
static inline bool mem_pg_enter(mem_pg_t *pg, uint64_t first, uint64_t n, uint32_t accept_mask)
{
	for (uint64_t i = 0; i < n; i++) {
		uint32_t old = atomic_fetch_add_explicit(&pg[first + i], MEM_PG_READER,
							 memory_order_acquire);
		if (!(accept_mask & (1u << (old & MEM_PG_STATE_MASK)))) {
			/* Undo this page and every one before it. */
			for (uint64_t j = 0; j <= i; j++)
				atomic_fetch_sub_explicit(&pg[first + j], MEM_PG_READER,
							  memory_order_release);
			return false;
		}
	}
	return true;
}

static inline void mem_pg_leave(mem_pg_t *pg, uint64_t first, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		/* Pairs with the acquire load in mem_pg_wait_idle(). */
		atomic_fetch_sub_explicit(&pg[first + i], MEM_PG_READER, memory_order_release);
}

static inline uint32_t mem_pg_state(const mem_pg_t *pg, uint64_t p)
{
	return atomic_load_explicit(&pg[p], memory_order_acquire) & MEM_PG_STATE_MASK;
}

/* Set the state bits, keeping the reader count; returns the old state. */
static inline uint32_t mem_pg_set_state(mem_pg_t *pg, uint64_t p, uint32_t state)
{
	uint32_t old = atomic_load_explicit(&pg[p], memory_order_relaxed);
	/* Release: the mapping installed before this store is what a reader
	 * that sees the new state will touch. */
	while (!atomic_compare_exchange_weak_explicit(&pg[p], &old,
						      (old & ~MEM_PG_STATE_MASK) | state,
						      memory_order_acq_rel, memory_order_relaxed))
		;
	return old & MEM_PG_STATE_MASK;
}

/* Wait for accessors already inside page p to leave. They only copy bytes
 * and never block while inside, so this is short; yielding keeps it polite
 * on an overcommitted machine and correct on a one-thread-at-a-time
 * scheduler, where no reader can be inside at all. */
static inline void mem_pg_wait_idle(const mem_pg_t *pg, uint64_t p)
{
	while (atomic_load_explicit(&pg[p], memory_order_acquire) >= MEM_PG_READER)
		sched_yield();
}

/* Per-page exposure record, guarded by cvmbus_mem.lock. */
struct mem_expo {
	uint32_t reasons_ever; /* bit per reason index */
	uint8_t parties_ever;  /* bit per party */
	uint8_t party;         /* who made it visible last */
	uint8_t reason;        /* index into the reason table */
	uint8_t flags;         /* MEM_EXPO_NOW | MEM_EXPO_EVER */
};
#define MEM_EXPO_NOW  0x01u
#define MEM_EXPO_EVER 0x02u

struct mem_totals {
	uint64_t pages_now, pages_ever, transitions;
};

struct cvmbus_mem {
	/* A host-only partition memory (cvmbus_mem_create_remote, the host's
	 * process): the host view and the layout, no private memfd, no guest
	 * or paravisor view, no page states; pins travel through pin_fn to
	 * the partition that enforces them. */
	bool remote;
	cvmbus_mem_pin_fn pin_fn;
	void *pin_ctx;
	enum hv_isolation_type isolation;
	uint64_t pages;                                   /* whole GPA space */
	uint64_t region_first[CVMBUS_MEM_REGION_COUNT];   /* page index */
	uint64_t region_pages[CVMBUS_MEM_REGION_COUNT];
	unsigned int shared_gpa_bits;
	uint64_t boundary; /* 0 under NONE */

	int private_fd;
	int shared_fd;
	uint8_t *view[2]; /* guest, paravisor windows, each pages * 4 KiB */
	struct cvmbus_mem_host_view *host;

	mem_pg_t *pg; /* page states and accessor counts */

	cvmbus_mem_visibility_fn visibility_fn;
	void *visibility_ctx;

	/* Guards everything below, the reason table and the state changes
	 * that claim pages for a transition. Never held across the visibility
	 * hook, so the hook may use any accessor or query. */
	pthread_mutex_t lock;
	struct mem_expo *expo;
	char reasons[CVMBUS_MEM_MAX_REASONS][CVMBUS_MEM_REASON_MAX_LEN + 1];
	unsigned int reason_count;
	struct mem_totals by_reason[CVMBUS_MEM_MAX_REASONS];
	struct mem_totals by_party[CVMBUS_MEM_PARTY_COUNT];
	struct mem_totals total;
	uint64_t *alloc_bitmap; /* one bit per page, set = allocated */
	/* Pages a server has mapped (a ring, a GPADL in use): a transition of
	 * a pinned page is refused (-EBUSY), as a host that holds a page
	 * would refuse to let it change under a live mapping. */
	uint16_t *pins;

	/* Statistics read without the lock. */
	_Atomic uint64_t visibility_calls;
	_Atomic uint64_t visibility_pages;
	_Atomic uint64_t visibility_failures;
	_Atomic uint64_t pages_made_shared;
	_Atomic uint64_t pages_made_private;
	_Atomic uint64_t vtl_faults;
	_Atomic uint64_t vtl_last_fault;
};

/* memory_host.c: map or hide pages [first, first+n) of a host view. */
int mem_host_apply_range(struct cvmbus_mem_host_view *hv, uint64_t first, uint64_t n,
			 bool visible);

/* memory_account.c; all with mem->lock held. */
int mem_reason_intern(struct cvmbus_mem *mem, const char *reason);
void mem_expo_mark_visible(struct cvmbus_mem *mem, uint64_t page, enum cvmbus_mem_party party,
			   unsigned int reason, bool transition);
void mem_expo_mark_hidden(struct cvmbus_mem *mem, uint64_t page);

#endif /* CVMBUS_HW_MEMORY_INTERNAL_H */
