/* SPDX-License-Identifier: MIT */
/*
 * GPADLs of the guest VMBus client (src/client) and the memory policy that
 * is the point of Confidential VMBus: which guest pages the host may see.
 * As Linux's __vmbus_establish_gpadl(): a ring GPADL's pages are made
 * host-visible unless the channel has a confidential ring buffer, a device
 * buffer's unless it has confidential external memory; the visibility change
 * happens before the GpadlHeader is posted, so the host never gets a PFN it
 * cannot map; the PFN list goes 26 in the header and 28 per GpadlBody; the
 * handle counts up from 0xE1E10. On teardown the pages are made private
 * again (if we had shared them) before they go back to the allocator; when
 * that cannot be known to be safe, they are leaked and counted instead.
 * A relay's foreign GPADLs (another client's range list, forwarded under
 * that client's handle) go through the same states but never touch memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "cvmbus/log.h"

/* ---- Memory ------------------------------------------------------------------- */

int client_mem_zero(struct cvmbus_client *cli, uint64_t gpa, uint64_t npages)
{
	static const uint8_t zero[HV_PAGE_SIZE];

	for (uint64_t i = 0; i < npages; i++) {
		int rc = cvmbus_mem_write(cli->mem, CVMBUS_MEM_VIEW_GUEST, gpa + i * HV_PAGE_SIZE,
					  zero, sizeof(zero));
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Gives pages back to the allocator: private first if we shared them. If
 * the transition fails, the pages' state is unknown and they are leaked,
 * as Linux does when set_memory_encrypted() fails.
 */
void client_mem_release(struct cvmbus_client *cli, uint64_t gpa, uint64_t npages, bool shared)
{
	int rc;

	if (shared) {
		rc = cvmbus_mem_make_private(cli->mem, CVMBUS_MEM_PARTY_GUEST, gpa, npages);
		if (rc < 0) {
			cvmbus_log_error("client: pages at 0x%llx not made private (%d): leaked",
					 (unsigned long long)gpa, rc);
			cli->stats.pages_leaked += npages;
			return;
		}
	}
	rc = cvmbus_mem_free(cli->mem, gpa, npages);
	if (rc < 0)
		cvmbus_log_error("client: free of 0x%llx failed (%d)", (unsigned long long)gpa, rc);
}

/* ---- The list --------------------------------------------------------------------- */

static struct client_gpadl **client_gpadl_bucket(struct cvmbus_client *cli, uint32_t handle)
{
	return &cli->gpadl_hash[handle % CLIENT_GPADL_BUCKETS];
}

struct client_gpadl *client_gpadl_find(const struct cvmbus_client *cli, uint32_t handle)
{
	for (struct client_gpadl *g = cli->gpadl_hash[handle % CLIENT_GPADL_BUCKETS]; g;
	     g = g->hnext)
		if (g->handle == handle)
			return g;
	return NULL;
}

void client_gpadl_link(struct cvmbus_client *cli, struct client_gpadl *g)
{
	struct client_gpadl **b = client_gpadl_bucket(cli, g->handle);

	g->prev = NULL;
	g->next = cli->gpadls;
	if (g->next)
		g->next->prev = g;
	cli->gpadls = g;
	g->hnext = *b;
	*b = g;
}

void client_gpadl_set_deadline(struct cvmbus_client *cli, struct client_gpadl *g,
			       uint64_t deadline)
{
	bool was = g->deadline != CLIENT_NEVER, is = deadline != CLIENT_NEVER;

	cli->gpadl_timed += (uint32_t)is - (uint32_t)was;
	g->deadline = deadline;
	/* A wait that starts moves its record to the head of the list, so the
	 * walks that look for running deadlines (which stop once they saw
	 * gpadl_timed of them) stay near the head: a teardown of the oldest
	 * of 2047 GPADLs would otherwise be found at the tail. */
	if (is && !was && g->prev) {
		g->prev->next = g->next;
		if (g->next)
			g->next->prev = g->prev;
		g->prev = NULL;
		g->next = cli->gpadls;
		cli->gpadls->prev = g;
		cli->gpadls = g;
	}
}

bool client_gpadl_any_for(const struct cvmbus_client *cli, uint32_t relid)
{
	for (const struct client_gpadl *g = cli->gpadls; g; g = g->next)
		if (g->relid == relid)
			return true;
	return false;
}

static void client_gpadl_unlink(struct cvmbus_client *cli, struct client_gpadl *g)
{
	client_gpadl_set_deadline(cli, g, CLIENT_NEVER);
	if (g->prev)
		g->prev->next = g->next;
	else
		cli->gpadls = g->next;
	if (g->next)
		g->next->prev = g->prev;
	for (struct client_gpadl **pp = client_gpadl_bucket(cli, g->handle); *pp;
	     pp = &(*pp)->hnext) {
		if (*pp == g) {
			*pp = g->hnext;
			break;
		}
	}
	g->next = g->prev = g->hnext = NULL;
}

void client_gpadl_reclaim(struct cvmbus_client *cli, struct client_gpadl *g)
{
	client_outbox_cancel(cli, 0, UINT32_MAX, g->handle);
	client_gpadl_unlink(cli, g);
	/* A foreign GPADL's pages belong to another client: only the record
	 * is ours to drop. */
	if (!g->foreign)
		client_mem_release(cli, g->gpa, g->npages, g->shared);
	free(g);
}

void client_gpadl_leak(struct cvmbus_client *cli, struct client_gpadl *g)
{
	if (g->foreign) {
		/* Not our pages, so not our leak: the event's status tells
		 * the relay that the server may still hold them. */
		cvmbus_log_warn("client: foreign gpadl 0x%x of relid %u: fate unknown", g->handle,
				g->relid);
	} else {
		cvmbus_log_warn("client: gpadl 0x%x of relid %u: %llu pages leaked", g->handle,
				g->relid, (unsigned long long)g->npages);
		cli->stats.pages_leaked += g->npages;
	}
	client_outbox_cancel(cli, 0, UINT32_MAX, g->handle);
	client_gpadl_unlink(cli, g);
	free(g);
}

/* ---- Establish ------------------------------------------------------------------- */

/* range_buflen is a u16 holding whole 8-byte values. */
#define CLIENT_MAX_GPADL_VALUES (0xFFF8u / 8u)

/*
 * Enqueues a GPADL's range list: the header carries range_count, the whole
 * list's length and its first 27 values, each GpadlBody the next 28 (a body
 * is a plain continuation of the values, whatever they are).
 */
static int client_gpadl_send_values(struct cvmbus_client *cli, uint32_t relid, uint32_t handle,
				    uint16_t range_count, const uint64_t *values,
				    size_t nvalues)
{
	struct cvmbus_wire_msg m;
	size_t done, take;
	int rc;

	if (nvalues == 0 || nvalues > CLIENT_MAX_GPADL_VALUES)
		return -E2BIG;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_GPADL_HEADER);
	m.u.gpadl_header.child_relid = relid;
	m.u.gpadl_header.gpadl = handle;
	m.u.gpadl_header.range_buflen = (uint16_t)(8u * nvalues);
	m.u.gpadl_header.rangecount = range_count;
	take = nvalues < CVMBUS_GPADL_HEADER_MAX_VALUES ? nvalues : CVMBUS_GPADL_HEADER_MAX_VALUES;
	for (size_t i = 0; i < take; i++)
		cvmbus_wire_gpadl_set_value(&m, i, values[i]);
	m.data_count = (uint16_t)take;
	done = take;
	rc = client_send(cli, &m, cli->msg_conn_id, relid, handle, done == nvalues);
	while (rc >= 0 && done < nvalues) {
		/* msgnumber stays 0, as Linux leaves it. */
		rc = cvmbus_wire_gpadl_body_init(&m, 0, handle, values + done, nvalues - done);
		if (rc < 0)
			break;
		done += (size_t)rc;
		rc = client_send(cli, &m, cli->msg_conn_id, relid, handle, done == nvalues);
	}
	if (rc < 0)
		client_outbox_cancel(cli, 0, UINT32_MAX, handle);
	return rc < 0 ? rc : 0;
}

/* Enqueues the header and the bodies that describe g (one range, as Linux
 * describes a contiguous allocation). */
static int client_gpadl_send(struct cvmbus_client *cli, const struct client_gpadl *g)
{
	uint64_t *values;
	int rc;

	if (g->npages * HV_PAGE_SIZE > UINT32_MAX)
		return -E2BIG;
	values = malloc((g->npages + 1) * sizeof(*values));
	if (!values)
		return -ENOMEM;
	values[0] = cvmbus_gpa_range_value((uint32_t)(g->npages * HV_PAGE_SIZE), 0);
	for (uint64_t i = 0; i < g->npages; i++)
		values[1 + i] = (g->gpa >> HV_PAGE_SHIFT) + i;
	rc = client_gpadl_send_values(cli, g->relid, g->handle, 1, values, g->npages + 1);
	free(values);
	return rc;
}

/*
 * Walks a range list as a server would before trusting it: each range has
 * a non-zero byte count, an offset inside its first page and exactly the
 * PFNs it spans, and the ranges use the list up. *npages gets the PFN
 * count, *first_pfn the first one.
 */
static int client_ranges_check(uint16_t range_count, const uint64_t *values, size_t nvalues,
			       uint64_t *npages, uint64_t *first_pfn)
{
	size_t i = 0;
	uint64_t pages = 0;

	if (range_count == 0)
		return -EINVAL;
	for (uint16_t r = 0; r < range_count; r++) {
		uint32_t count, offset;
		uint64_t span;

		if (i >= nvalues)
			return -EINVAL;
		count = (uint32_t)values[i];
		offset = (uint32_t)(values[i] >> 32);
		if (count == 0 || offset >= HV_PAGE_SIZE)
			return -EINVAL;
		span = cvmbus_gpa_range_pages(count, offset);
		if (span > nvalues - i - 1)
			return -EINVAL;
		if (r == 0)
			*first_pfn = values[i + 1];
		pages += span;
		i += 1 + span;
	}
	if (i != nvalues)
		return -EINVAL;
	*npages = pages;
	return 0;
}

struct client_gpadl *client_gpadl_start(struct cvmbus_client *cli, struct client_channel *ch,
					bool ring, uint64_t npages, int *err)
{
	struct client_gpadl *g;
	uint64_t gpa;
	int rc;

	g = calloc(1, sizeof(*g));
	if (!g) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = cvmbus_mem_alloc(cli->mem, CVMBUS_MEM_REGION_VTL0, npages, &gpa);
	if (rc < 0) {
		if (rc == -ENOMEM)
			rc = -ENOSPC; /* out of guest RAM, not of host memory */
		goto fail_free;
	}
	g->handle = cli->next_gpadl++;
	g->relid = ch->relid;
	g->ring = ring;
	g->gpa = gpa;
	g->npages = npages;
	g->state = CVMBUS_CLIENT_GPADL_CREATING;
	g->deadline = CLIENT_NEVER;
	/* The one decision of Confidential VMBus for memory. */
	g->shared = ring ? !ch->co_ring : !ch->co_external;

	if (g->shared) {
		rc = cvmbus_mem_make_shared(cli->mem, CVMBUS_MEM_PARTY_GUEST, gpa, npages,
					    ring ? "vmbus-ring" : "vmbus-buffer");
		if (rc < 0) {
			/* Linux leaks pages whose decryption failed: their
			 * state is unknown, so they are not released. */
			cvmbus_log_error("client: ring/buffer pages not made host-visible (%d)", rc);
			cli->stats.pages_leaked += npages;
			goto fail_free;
		}
	}
	/* Private pages keep whatever was there before; shared ones read as
	 * zeros after the transition. Zero both: the ring control pages must
	 * start at zero and the host must not get old private data. */
	rc = client_mem_zero(cli, gpa, npages);
	if (rc < 0)
		goto fail_release;
	/* Only now, with the pages in their final state, may the host learn
	 * their PFNs. */
	rc = client_gpadl_send(cli, g);
	if (rc < 0)
		goto fail_release;
	client_gpadl_link(cli, g);
	return g;

fail_release:
	client_mem_release(cli, gpa, npages, g->shared);
fail_free:
	free(g);
fail:
	*err = rc;
	return NULL;
}

int cvmbus_client_gpadl_create(struct cvmbus_client *cli, uint32_t relid, uint64_t bytes,
			       uint32_t *handle, uint64_t *gpa)
{
	struct client_channel *ch;
	struct client_gpadl *g;
	int rc;

	if (!cli || !handle)
		return -EINVAL;
	if (cli->state != CVMBUS_CLIENT_CONNECTED)
		return -ENOTCONN;
	ch = relid >= 1 && relid <= CVMBUS_CLIENT_MAX_RELID ? cli->chan[relid] : NULL;
	if (!ch)
		return -ENOENT;
	if (ch->rescinded)
		return -ENODEV;
	if (bytes == 0 || bytes % HV_PAGE_SIZE)
		return -EINVAL;
	if (bytes / HV_PAGE_SIZE > CLIENT_MAX_GPADL_PAGES)
		return -E2BIG;
	g = client_gpadl_start(cli, ch, false, bytes / HV_PAGE_SIZE, &rc);
	if (!g)
		return rc;
	*handle = g->handle;
	if (gpa)
		*gpa = g->gpa;
	client_run(cli);
	return 0;
}

int cvmbus_client_gpadl_create_foreign(struct cvmbus_client *cli, uint32_t relid,
				       uint32_t handle, uint16_t range_count,
				       const uint64_t *values, size_t nvalues)
{
	struct client_channel *ch;
	struct client_gpadl *g;
	uint64_t npages = 0, first_pfn = 0;
	int rc;

	if (!cli || !values || handle == 0)
		return -EINVAL;
	if (cli->state != CVMBUS_CLIENT_CONNECTED)
		return -ENOTCONN;
	ch = relid >= 1 && relid <= CVMBUS_CLIENT_MAX_RELID ? cli->chan[relid] : NULL;
	if (!ch)
		return -ENOENT;
	if (ch->rescinded)
		return -ENODEV;
	if (nvalues > CLIENT_MAX_GPADL_VALUES)
		return -E2BIG;
	rc = client_ranges_check(range_count, values, nvalues, &npages, &first_pfn);
	if (rc < 0)
		return rc;
	/* GpadlTorndown names the handle alone: two GPADLs under one handle
	 * could not be told apart. */
	if (client_gpadl_find(cli, handle))
		return -EEXIST;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->handle = handle;
	g->relid = relid;
	g->ring = false; /* an open names it; its own outcomes are GPADL events */
	g->foreign = true;
	g->gpa = first_pfn << HV_PAGE_SHIFT;
	g->npages = npages;
	g->state = CVMBUS_CLIENT_GPADL_CREATING;
	g->deadline = CLIENT_NEVER;
	rc = client_gpadl_send_values(cli, relid, handle, range_count, values, nvalues);
	if (rc < 0) {
		free(g);
		return rc;
	}
	client_gpadl_link(cli, g);
	client_run(cli);
	return 0;
}

/* ---- Outcomes ---------------------------------------------------------------------- */

static struct client_channel *client_gpadl_owner(struct cvmbus_client *cli,
						 const struct client_gpadl *g)
{
	if (!g->ring || g->relid == 0 || g->relid > CVMBUS_CLIENT_MAX_RELID)
		return NULL;
	return cli->chan[g->relid];
}

void client_gpadl_fail(struct cvmbus_client *cli, struct client_gpadl *g, int status)
{
	struct client_channel *owner = client_gpadl_owner(cli, g);
	uint32_t relid = g->relid, handle = g->handle;
	bool ring = g->ring;

	/* The host never confirmed it, so it cannot be using it; once private
	 * it could not anyway. */
	client_gpadl_reclaim(cli, g);
	if (ring) {
		if (owner && owner->ring == g)
			client_chan_ring_failed(cli, owner, status);
	} else {
		client_emit_simple(cli, CVMBUS_CLIENT_EV_GPADL_DONE, status, relid, handle);
	}
}

/* The GPADL is gone for the host (or we give up waiting): reclaim or leak
 * its pages and tell its owner. */
static void client_gpadl_gone(struct cvmbus_client *cli, struct client_gpadl *g, int status,
			      bool reclaim)
{
	struct client_channel *owner = client_gpadl_owner(cli, g);
	uint32_t relid = g->relid, handle = g->handle;
	bool ring = g->ring;

	if (reclaim)
		client_gpadl_reclaim(cli, g);
	else
		client_gpadl_leak(cli, g);
	if (ring) {
		if (owner && owner->ring == g)
			client_chan_ring_gone(cli, owner, status);
	} else {
		client_emit_simple(cli, CVMBUS_CLIENT_EV_GPADL_TORNDOWN, status, relid, handle);
	}
}

int client_on_gpadl_created(struct cvmbus_client *cli, const struct cvmbus_msg_gpadl_created *c)
{
	struct client_gpadl *g = client_gpadl_find(cli, c->gpadl);
	struct client_channel *owner;

	/* Linux matches on both relid and handle of a header in flight. */
	if (!g || g->relid != c->child_relid)
		return client_drop(cli, CVMBUS_MSG_GPADL_CREATED, CVMBUS_CLIENT_DROP_UNKNOWN_GPADL,
				   c->child_relid, -ENOENT);
	if (g->state != CVMBUS_CLIENT_GPADL_CREATING || !g->posted)
		return client_drop(cli, CVMBUS_MSG_GPADL_CREATED, CVMBUS_CLIENT_DROP_UNEXPECTED,
				   c->child_relid, -EPROTO);
	if (c->creation_status != CVMBUS_STATUS_SUCCESS) {
		cvmbus_log_warn("client: failed to establish gpadl 0x%x: status 0x%x", g->handle,
				c->creation_status);
		client_gpadl_fail(cli, g, -EDQUOT);
		return 0;
	}
	g->state = CVMBUS_CLIENT_GPADL_CREATED;
	client_gpadl_set_deadline(cli, g, CLIENT_NEVER);
	if (g->ring) {
		owner = client_gpadl_owner(cli, g);
		if (owner && owner->ring == g)
			client_chan_ring_created(cli, owner);
	} else {
		client_emit_simple(cli, CVMBUS_CLIENT_EV_GPADL_DONE, 0, g->relid, g->handle);
	}
	return 0;
}

/* ---- Teardown ---------------------------------------------------------------------- */

int client_gpadl_teardown_start(struct cvmbus_client *cli, struct client_gpadl *g)
{
	struct cvmbus_wire_msg m;
	int rc;

	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_GPADL_TEARDOWN);
	m.u.gpadl_teardown.child_relid = g->relid;
	m.u.gpadl_teardown.gpadl = g->handle;
	rc = client_send(cli, &m, cli->msg_conn_id, g->relid, g->handle, true);
	if (rc < 0)
		return rc;
	g->state = CVMBUS_CLIENT_GPADL_TEARING_DOWN;
	g->posted = false;
	client_gpadl_set_deadline(cli, g, CLIENT_NEVER);
	return 0;
}

int cvmbus_client_gpadl_teardown(struct cvmbus_client *cli, uint32_t relid, uint32_t handle)
{
	struct client_gpadl *g;
	int rc;

	if (!cli)
		return -EINVAL;
	if (cli->state != CVMBUS_CLIENT_CONNECTED)
		return -ENOTCONN;
	g = client_gpadl_find(cli, handle);
	/* The ring's GPADL belongs to open and close, not to the driver. */
	if (!g || g->relid != relid || g->ring)
		return -ENOENT;
	if (g->state != CVMBUS_CLIENT_GPADL_CREATED)
		return -EBUSY;
	rc = client_gpadl_teardown_start(cli, g);
	if (rc < 0)
		return rc;
	client_run(cli);
	return 0;
}

int client_on_gpadl_torndown(struct cvmbus_client *cli, uint32_t handle)
{
	struct client_gpadl *g = client_gpadl_find(cli, handle);

	if (!g)
		return client_drop(cli, CVMBUS_MSG_GPADL_TORNDOWN, CVMBUS_CLIENT_DROP_UNKNOWN_GPADL, 0,
				   -ENOENT);
	if (g->state != CVMBUS_CLIENT_GPADL_TEARING_DOWN || !g->posted)
		return client_drop(cli, CVMBUS_MSG_GPADL_TORNDOWN, CVMBUS_CLIENT_DROP_UNEXPECTED,
				   g->relid, -EPROTO);
	client_gpadl_gone(cli, g, 0, true);
	return 0;
}

bool client_gpadl_teardown_buffers_of(struct cvmbus_client *cli, uint32_t relid)
{
	bool started = false;

	for (struct client_gpadl *g = cli->gpadls; g; g = g->next) {
		if (g->relid != relid || g->ring || g->state != CVMBUS_CLIENT_GPADL_CREATED)
			continue;
		if (client_gpadl_teardown_start(cli, g) == 0)
			started = true;
	}
	return started;
}

void client_gpadl_fail_creating_for(struct cvmbus_client *cli, uint32_t relid, int status)
{
	struct client_gpadl *g = cli->gpadls, *next;

	for (; g; g = next) {
		next = g->next;
		if (g->relid == relid && g->state == CVMBUS_CLIENT_GPADL_CREATING)
			client_gpadl_fail(cli, g, status);
	}
}

void client_gpadl_forget_all(struct cvmbus_client *cli, bool reclaim)
{
	while (cli->gpadls) {
		struct client_gpadl *g = cli->gpadls;

		if (reclaim)
			client_gpadl_reclaim(cli, g);
		else
			client_gpadl_leak(cli, g);
	}
}

/* ---- Outbox outcomes and deadlines -------------------------------------------- */

void client_gpadl_posted(struct cvmbus_client *cli, const struct client_out *o)
{
	struct client_gpadl *g = client_gpadl_find(cli, o->tag);

	if (!g || !o->last)
		return;
	/* The wait starts with the last message that describes the GPADL, or
	 * with the teardown. */
	if ((o->msgtype == CVMBUS_MSG_GPADL_TEARDOWN) ==
	    (g->state == CVMBUS_CLIENT_GPADL_TEARING_DOWN)) {
		g->posted = true;
		client_gpadl_set_deadline(cli, g, client_deadline(cli, cli->cfg.reply_timeout_ns));
	}
}

void client_gpadl_post_failed(struct cvmbus_client *cli, const struct client_out *o, int err)
{
	struct client_gpadl *g = client_gpadl_find(cli, o->tag);

	if (!g)
		return;
	if (o->msgtype == CVMBUS_MSG_GPADL_TEARDOWN) {
		/* The host may still have it mapped: leak, as Linux does. */
		if (g->state == CVMBUS_CLIENT_GPADL_TEARING_DOWN)
			client_gpadl_gone(cli, g, err, false);
	} else if (g->state == CVMBUS_CLIENT_GPADL_CREATING) {
		client_gpadl_fail(cli, g, err);
	}
}

static bool client_gpadl_channel_gone(const struct cvmbus_client *cli, uint32_t relid)
{
	const struct client_channel *ch =
		relid >= 1 && relid <= CVMBUS_CLIENT_MAX_RELID ? cli->chan[relid] : NULL;

	return !ch || ch->rescinded;
}

void client_gpadl_expire(struct cvmbus_client *cli)
{
	struct client_gpadl *g = cli->gpadls, *next;
	uint32_t left = cli->gpadl_timed;

	/* New GPADLs go at the head, so the ones waiting are near it: stop
	 * once every running deadline has been looked at. */
	for (; g && left; g = next) {
		next = g->next;
		if (g->deadline == CLIENT_NEVER)
			continue;
		left--;
		if (cli->now < g->deadline)
			continue;
		cli->stats.timeouts++;
		if (g->state == CVMBUS_CLIENT_GPADL_CREATING) {
			cvmbus_log_warn("client: no gpadl_created for 0x%x", g->handle);
			client_gpadl_fail(cli, g, -ETIMEDOUT);
		} else if (g->state == CVMBUS_CLIENT_GPADL_TEARING_DOWN) {
			/* After a rescind the host has let go of the channel's
			 * GPADLs (Linux wakes the teardown and frees); otherwise
			 * silence leaves the pages in doubt: leak them. */
			bool gone = client_gpadl_channel_gone(cli, g->relid);

			cvmbus_log_warn("client: no gpadl_torndown for 0x%x%s", g->handle,
					gone ? " (channel rescinded)" : "");
			client_gpadl_gone(cli, g, gone ? 0 : -ETIMEDOUT, gone);
		} else {
			client_gpadl_set_deadline(cli, g, CLIENT_NEVER);
		}
	}
}

int cvmbus_client_gpadl_info(const struct cvmbus_client *cli, uint32_t handle,
			     struct cvmbus_client_gpadl_info *out)
{
	const struct client_gpadl *g;

	if (!cli || !out)
		return -EINVAL;
	g = client_gpadl_find(cli, handle);
	if (!g)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->handle = g->handle;
	out->relid = g->relid;
	out->ring = g->ring;
	out->gpa = g->gpa;
	out->npages = g->npages;
	out->shared = g->shared;
	out->state = g->state;
	out->foreign = g->foreign;
	return 0;
}
