/* SPDX-License-Identifier: MIT */
/*
 * Bookkeeping of partition memory (src/hw, platform model): the exposure
 * account, which for every page records whether the host can see it now,
 * whether it ever could, who made it so and why, with running totals by
 * reason and by party and an iterator over visible ranges for reports; and
 * a first-fit page allocator per region. The mappings in memory.c and
 * memory_host.c are what enforces visibility; this file only records it.
 * Everything here runs under cvmbus_mem.lock.
 */
#include <errno.h>
#include <string.h>

#include "hw/memory_internal.h"

#define PAGE CVMBUS_MEM_PAGE_SIZE

static const char *const party_names[CVMBUS_MEM_PARTY_COUNT] = {
	[CVMBUS_MEM_PARTY_GUEST] = "guest",
	[CVMBUS_MEM_PARTY_PARAVISOR] = "paravisor",
	[CVMBUS_MEM_PARTY_HYPERVISOR] = "hypervisor",
	[CVMBUS_MEM_PARTY_HOST] = "host",
};

const char *cvmbus_mem_party_name(enum cvmbus_mem_party party)
{
	if ((unsigned int)party >= CVMBUS_MEM_PARTY_COUNT)
		return "unknown";
	return party_names[party];
}

/* ---- reasons ------------------------------------------------------------ */

/* A tag is printable ASCII without spaces, so reports can print it raw. */
static bool reason_valid(const char *reason, size_t *len)
{
	size_t n = strnlen(reason, CVMBUS_MEM_REASON_MAX_LEN + 1);

	if (!n || n > CVMBUS_MEM_REASON_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (reason[i] <= 0x20 || reason[i] >= 0x7f)
			return false;
	*len = n;
	return true;
}

static int reason_find(const struct cvmbus_mem *mem, const char *reason)
{
	for (unsigned int i = 0; i < mem->reason_count; i++)
		if (!strcmp(mem->reasons[i], reason))
			return (int)i;
	return -ENOENT;
}

/* Index of `reason`, added on first use. Tags are copied, so callers may
 * pass any string; they are never removed, so pointers handed out by the
 * queries stay valid until the partition is destroyed. */
int mem_reason_intern(struct cvmbus_mem *mem, const char *reason)
{
	size_t len;
	int idx;

	if (!reason)
		return 0;
	if (!reason_valid(reason, &len))
		return -EINVAL;
	idx = reason_find(mem, reason);
	if (idx >= 0)
		return idx;
	if (mem->reason_count >= CVMBUS_MEM_MAX_REASONS)
		return -ENOSPC;
	memcpy(mem->reasons[mem->reason_count], reason, len);
	mem->reasons[mem->reason_count][len] = '\0';
	return (int)mem->reason_count++;
}

/* ---- per-page records --------------------------------------------------- */

void mem_expo_mark_visible(struct cvmbus_mem *mem, uint64_t page, enum cvmbus_mem_party party,
			   unsigned int reason, bool transition)
{
	struct mem_expo *e = &mem->expo[page];

	if (e->flags & MEM_EXPO_NOW) {
		/* A retag moves the page from its old tag's "now" to the new. */
		mem->by_reason[e->reason].pages_now--;
		mem->by_party[e->party].pages_now--;
	} else {
		mem->total.pages_now++;
	}
	if (!(e->flags & MEM_EXPO_EVER))
		mem->total.pages_ever++;
	if (!(e->reasons_ever & (1u << reason))) {
		e->reasons_ever |= 1u << reason;
		mem->by_reason[reason].pages_ever++;
	}
	if (!(e->parties_ever & (1u << party))) {
		e->parties_ever |= (uint8_t)(1u << party);
		mem->by_party[party].pages_ever++;
	}
	mem->by_reason[reason].pages_now++;
	mem->by_party[party].pages_now++;
	if (transition) {
		mem->by_reason[reason].transitions++;
		mem->by_party[party].transitions++;
		mem->total.transitions++;
	}
	e->party = (uint8_t)party;
	e->reason = (uint8_t)reason;
	e->flags |= MEM_EXPO_NOW | MEM_EXPO_EVER;
}

void mem_expo_mark_hidden(struct cvmbus_mem *mem, uint64_t page)
{
	struct mem_expo *e = &mem->expo[page];

	if (!(e->flags & MEM_EXPO_NOW))
		return;
	mem->by_reason[e->reason].pages_now--;
	mem->by_party[e->party].pages_now--;
	mem->total.pages_now--;
	/* party and reason stay: they say who exposed it last, and why. */
	e->flags &= (uint8_t)~MEM_EXPO_NOW;
}

/* ---- queries ------------------------------------------------------------ */

static void totals_out(const struct mem_totals *t, struct cvmbus_mem_exposure_totals *out)
{
	out->pages_now = t->pages_now;
	out->pages_ever = t->pages_ever;
	out->bytes_now = t->pages_now * PAGE;
	out->bytes_ever = t->pages_ever * PAGE;
	out->transitions = t->transitions;
}

int cvmbus_mem_exposure_page(struct cvmbus_mem *mem, uint64_t gpa,
			     struct cvmbus_mem_exposure_page *out)
{
	const struct mem_expo *e;

	if (!mem || mem->remote || !out || gpa / PAGE >= mem->pages)
		return -EINVAL;
	pthread_mutex_lock(&mem->lock);
	e = &mem->expo[gpa / PAGE];
	out->visible_now = e->flags & MEM_EXPO_NOW;
	out->visible_ever = e->flags & MEM_EXPO_EVER;
	out->party = (enum cvmbus_mem_party)e->party;
	out->reason = (e->flags & MEM_EXPO_EVER) ? mem->reasons[e->reason] : NULL;
	pthread_mutex_unlock(&mem->lock);
	return 0;
}

int cvmbus_mem_exposure_by_reason(struct cvmbus_mem *mem, const char *reason,
				  struct cvmbus_mem_exposure_totals *out)
{
	int idx;

	if (!mem || !out)
		return -EINVAL;
	pthread_mutex_lock(&mem->lock);
	idx = reason_find(mem, reason ? reason : CVMBUS_MEM_REASON_UNTAGGED);
	if (idx >= 0)
		totals_out(&mem->by_reason[idx], out);
	pthread_mutex_unlock(&mem->lock);
	return idx < 0 ? idx : 0;
}

int cvmbus_mem_exposure_by_party(struct cvmbus_mem *mem, enum cvmbus_mem_party party,
				 struct cvmbus_mem_exposure_totals *out)
{
	if (!mem || !out || (unsigned int)party >= CVMBUS_MEM_PARTY_COUNT)
		return -EINVAL;
	pthread_mutex_lock(&mem->lock);
	totals_out(&mem->by_party[party], out);
	pthread_mutex_unlock(&mem->lock);
	return 0;
}

void cvmbus_mem_exposure_total(struct cvmbus_mem *mem, struct cvmbus_mem_exposure_totals *out)
{
	if (!mem || !out)
		return;
	if (mem->remote) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&mem->lock);
	totals_out(&mem->total, out);
	pthread_mutex_unlock(&mem->lock);
}

void cvmbus_mem_exposure_iter_init(struct cvmbus_mem_exposure_iter *it,
				   enum cvmbus_mem_exposure_filter filter)
{
	it->next_page = 0;
	it->filter = filter;
}

static bool expo_selected(const struct mem_expo *e, enum cvmbus_mem_exposure_filter filter)
{
	return e->flags & (filter == CVMBUS_MEM_EXPOSURE_NOW ? MEM_EXPO_NOW : MEM_EXPO_EVER);
}

int cvmbus_mem_exposure_next(struct cvmbus_mem *mem, struct cvmbus_mem_exposure_iter *it,
			     struct cvmbus_mem_exposure_range *out)
{
	const struct mem_expo *e;
	uint64_t p, end;

	if (!mem || mem->remote || !it || !out)
		return -EINVAL;
	pthread_mutex_lock(&mem->lock);
	p = it->next_page;
	while (p < mem->pages && !expo_selected(&mem->expo[p], it->filter))
		p++;
	if (p >= mem->pages) {
		it->next_page = mem->pages;
		pthread_mutex_unlock(&mem->lock);
		return 0;
	}
	e = &mem->expo[p];
	/* A range is a run with one answer to "visible now, by whom, why". */
	for (end = p + 1; end < mem->pages; end++) {
		const struct mem_expo *f = &mem->expo[end];

		if (!expo_selected(f, it->filter) ||
		    (f->flags & MEM_EXPO_NOW) != (e->flags & MEM_EXPO_NOW) ||
		    f->party != e->party || f->reason != e->reason)
			break;
	}
	out->gpa = p * PAGE;
	out->bytes = (end - p) * PAGE;
	out->visible_now = e->flags & MEM_EXPO_NOW;
	out->party = (enum cvmbus_mem_party)e->party;
	out->reason = mem->reasons[e->reason];
	it->next_page = end;
	pthread_mutex_unlock(&mem->lock);
	return 1;
}

/* ---- page allocator ----------------------------------------------------- */

static bool bit_get(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] & (1ull << (i % 64));
}

static void bit_put(uint64_t *bm, uint64_t i, bool v)
{
	if (v)
		bm[i / 64] |= 1ull << (i % 64);
	else
		bm[i / 64] &= ~(1ull << (i % 64));
}

int cvmbus_mem_alloc(struct cvmbus_mem *mem, enum cvmbus_mem_region region, uint64_t npages,
		     uint64_t *gpa)
{
	uint64_t first, end, run = 0;
	int rc = -ENOMEM;

	if (!mem || mem->remote || !gpa || !npages || (unsigned int)region >= CVMBUS_MEM_REGION_COUNT)
		return -EINVAL;
	first = mem->region_first[region];
	end = first + mem->region_pages[region];
	pthread_mutex_lock(&mem->lock);
	/* First fit: small, predictable, and good enough for a model whose
	 * allocations are rings and message pages. */
	for (uint64_t p = first; p < end; p++) {
		if (bit_get(mem->alloc_bitmap, p)) {
			run = 0;
			continue;
		}
		if (++run == npages) {
			uint64_t start = p + 1 - npages;

			for (uint64_t q = start; q <= p; q++)
				bit_put(mem->alloc_bitmap, q, true);
			*gpa = start * PAGE;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&mem->lock);
	return rc;
}

int cvmbus_mem_free(struct cvmbus_mem *mem, uint64_t gpa, uint64_t npages)
{
	uint64_t first;
	int rc = 0;

	if (!mem || mem->remote || !npages || gpa % PAGE || gpa / PAGE >= mem->pages ||
	    npages > mem->pages - gpa / PAGE)
		return -EINVAL;
	first = gpa / PAGE;
	/* One region per run: an allocation never straddles VTL0 and VTL2. */
	if (first < mem->region_pages[CVMBUS_MEM_REGION_VTL0] &&
	    first + npages > mem->region_pages[CVMBUS_MEM_REGION_VTL0])
		return -EINVAL;
	pthread_mutex_lock(&mem->lock);
	for (uint64_t p = first; p < first + npages; p++)
		if (!bit_get(mem->alloc_bitmap, p))
			rc = -EINVAL;
	if (!rc)
		for (uint64_t p = first; p < first + npages; p++)
			bit_put(mem->alloc_bitmap, p, false);
	pthread_mutex_unlock(&mem->lock);
	return rc;
}
