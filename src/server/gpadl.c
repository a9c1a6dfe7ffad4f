/* SPDX-License-Identifier: MIT */
/*
 * GPADLs of the VMBus server (src/server): a client describes guest pages
 * with a GpadlHeader and as many GpadlBody messages as the page list needs;
 * once the announced range_buflen is filled the list is validated and handed
 * to the glue/device, whose answer becomes GpadlCreated. GpadlTeardown goes
 * through the device too, because until it answers the pages may still be
 * in use (a ring being drained), and the client frees or re-encrypts them
 * as soon as it sees GpadlTorndown. Per client:
 *
 *   (header) BUILDING --last body--> OFFERED --complete(ok)--> ACCEPTED
 *   OFFERED --complete(fail)--> gone (GpadlCreated carries the failure)
 *   ACCEPTED --teardown--> TEARING_DOWN --teardown_complete--> gone (GpadlTorndown)
 *   client lets go (RelIdReleased, unload): BUILDING -> gone,
 *   OFFERED -> OFFERED_RELEASED, ACCEPTED/TEARING_DOWN -> TEARING_DOWN_RELEASED,
 *   which end through the device without a word to the client.
 *
 * Threat model: ids, counts and PFNs are the client's. range_buflen bounds
 * the buffer (at most 64 KiB, a u16), nothing is written past what was
 * announced, the per-client counts are bounded by the configuration, and
 * the ranges are checked to add up exactly before anyone sees them. Whether
 * the PFNs are the client's own memory, and private or host-visible as the
 * channel requires, is the glue's check (it owns the memory map).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

/* ---- The per-client table ------------------------------------------------ */

struct srv_gpadl *srv_gpadl_find(const struct srv_client *cl, uint32_t id)
{
	for (uint32_t i = 0; i < cl->ngpadls; i++) {
		if (cl->gpadls[i]->id == id)
			return cl->gpadls[i];
	}
	return NULL;
}

static void srv_gpadl_set_state(struct srv_client *cl, struct srv_gpadl *g,
				enum cvmbus_server_gpadl_state state)
{
	if (g->state == CVMBUS_SERVER_GPADL_BUILDING && state != CVMBUS_SERVER_GPADL_BUILDING) {
		cl->nbuilding--;
		/* The page list is the device's once it has been told. */
		free(g->values);
		g->values = NULL;
	}
	g->state = state;
}

void srv_gpadl_remove(struct srv_client *cl, struct srv_gpadl *g)
{
	for (uint32_t i = 0; i < cl->ngpadls; i++) {
		if (cl->gpadls[i] != g)
			continue;
		cl->gpadls[i] = cl->gpadls[cl->ngpadls - 1];
		cl->ngpadls--;
		break;
	}
	if (g->state == CVMBUS_SERVER_GPADL_BUILDING)
		cl->nbuilding--;
	free(g->values);
	free(g);
}

void srv_gpadls_free_all(struct srv_client *cl)
{
	for (uint32_t i = 0; i < cl->ngpadls; i++) {
		free(cl->gpadls[i]->values);
		free(cl->gpadls[i]);
	}
	cl->ngpadls = 0;
	cl->nbuilding = 0;
}

static int srv_gpadl_insert(struct srv_client *cl, struct srv_gpadl *g)
{
	if (cl->ngpadls == cl->cap_gpadls) {
		uint32_t cap = cl->cap_gpadls ? cl->cap_gpadls * 2 : 8;
		struct srv_gpadl **p = realloc(cl->gpadls, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		cl->gpadls = p;
		cl->cap_gpadls = cap;
	}
	cl->gpadls[cl->ngpadls++] = g;
	if (g->state == CVMBUS_SERVER_GPADL_BUILDING)
		cl->nbuilding++;
	return 0;
}

/* ---- Messages to the client ---------------------------------------------- */

static void srv_send_gpadl_created(struct cvmbus_server *srv, const struct srv_client *cl,
				   uint32_t relid, uint32_t id, uint32_t status)
{
	struct cvmbus_wire_msg m;

	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_GPADL_CREATED);
	m.u.gpadl_created.child_relid = relid;
	m.u.gpadl_created.gpadl = id;
	m.u.gpadl_created.creation_status = status;
	srv_send(srv, cl, &m);
}

static void srv_send_gpadl_torndown(struct cvmbus_server *srv, const struct srv_client *cl,
				    uint32_t id)
{
	struct cvmbus_wire_msg m;

	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_GPADL_TORNDOWN);
	m.u.gpadl_torndown.gpadl = id;
	srv_send(srv, cl, &m);
}

/* A GPADL the client described wrongly: tell it (so it does not wait
 * forever), forget it, and count why. */
static int srv_gpadl_fail(struct cvmbus_server *srv, struct srv_client *cl, struct srv_gpadl *g,
			  enum cvmbus_server_reject why, const char *what, const char *detail)
{
	uint32_t relid = g->relid, id = g->id;

	srv_send_gpadl_created(srv, cl, relid, id, CVMBUS_STATUS_UNSUCCESSFUL);
	srv_gpadl_remove(cl, g);
	return srv_reject(srv, cl->key, why, what, "gpadl %#x relid %u: %s", id, relid, detail);
}

/* ---- Building ------------------------------------------------------------ */

/* Walks the complete range list: exactly range_count ranges, each
 * {byte_count > 0, byte_offset < 4096} followed by one PFN per page it
 * spans, filling the buffer exactly. Returns the page count, or 0. */
static uint32_t srv_gpadl_validate(const struct srv_gpadl *g, const char **why)
{
	uint64_t pos = 0, npages = 0;

	for (uint32_t k = 0; k < g->range_count; k++) {
		uint64_t v, pages;
		uint32_t byte_count, byte_offset;

		if (pos >= g->nvalues) {
			*why = "fewer ranges than rangecount";
			return 0;
		}
		v = g->values[pos];
		byte_count = (uint32_t)v;
		byte_offset = (uint32_t)(v >> 32);
		if (byte_count == 0 || byte_offset >= HV_PAGE_SIZE) {
			*why = "empty range or offset past the first page";
			return 0;
		}
		pages = cvmbus_gpa_range_pages(byte_count, byte_offset);
		if (pages > g->nvalues - pos - 1) {
			*why = "range has more pages than pfns";
			return 0;
		}
		npages += pages;
		pos += 1 + pages;
	}
	if (pos != g->nvalues) {
		*why = "range_buflen larger than the ranges";
		return 0;
	}
	return (uint32_t)npages;
}

/* BUILDING -> OFFERED (or refused): the last value has arrived. */
static int srv_gpadl_finish(struct cvmbus_server *srv, struct srv_client *cl,
			    struct srv_gpadl *g, const char *what)
{
	struct srv_channel *ch = srv->chan[g->relid];
	struct cvmbus_server_gpadl n;
	const char *why = NULL;
	uint32_t npages = srv_gpadl_validate(g, &why);

	if (npages == 0)
		return srv_gpadl_fail(srv, cl, g, CVMBUS_SERVER_REJ_GPADL_INVALID, what, why);
	/* The device is gone; OpenVMM answers such a GPADL with a failure. */
	if (ch->offer_state[cl->index] == CVMBUS_SERVER_OFFER_RESCINDED)
		return srv_gpadl_fail(srv, cl, g, CVMBUS_SERVER_REJ_CHANNEL_RESCINDED, what,
				      "channel rescinded");
	g->npages = npages;
	memset(&n, 0, sizeof(n));
	n.client = cl->key;
	n.relid = g->relid;
	n.gpadl_id = g->id;
	n.range_count = g->range_count;
	n.npages = npages;
	n.values = g->values;
	n.nvalues = g->nvalues;
	n.confidential_ring = srv_channel_confidential_ring(ch, cl);
	n.confidential_external_memory = srv_channel_confidential_ext(ch, cl);
	/* The state changes first (the callback may query it); the buffer is
	 * freed after the callback, which only borrows it. */
	g->state = CVMBUS_SERVER_GPADL_OFFERED;
	cl->nbuilding--;
	if (srv->n.gpadl_create)
		srv->n.gpadl_create(srv->n.ctx, &n);
	free(g->values);
	g->values = NULL;
	return 0;
}

int srv_handle_gpadl_header(struct cvmbus_server *srv, struct srv_client *cl,
			    const struct cvmbus_wire_msg *m)
{
	const struct cvmbus_msg_gpadl_header *h = &m->u.gpadl_header;
	uint32_t relid = h->child_relid, id = h->gpadl;
	uint32_t nvalues = h->range_buflen / 8u;
	struct srv_channel *ch = srv_channel_of(srv, cl, relid);
	struct srv_gpadl *g = NULL;
	enum cvmbus_server_reject why;

	if (!ch)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_UNKNOWN_RELID, "gpadl_header",
				  "relid %u gpadl %#x", relid, id);
	/* The id names the existing GPADL: answering would be about that one. */
	if (srv_gpadl_find(cl, id))
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_DUPLICATE_GPADL, "gpadl_header",
				  "gpadl %#x", id);
	/* The decoder checked range_buflen against rangecount and the data
	 * carried here: nvalues >= 2 and m->data_count <= nvalues. */
	if (cl->ngpadls >= srv->cfg.max_gpadls_per_client ||
	    (m->data_count < nvalues &&
	     cl->nbuilding >= srv->cfg.max_building_gpadls_per_client)) {
		why = CVMBUS_SERVER_REJ_GPADL_LIMIT;
		goto refuse;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		goto no_memory;
	g->values = malloc((size_t)nvalues * sizeof(uint64_t));
	if (!g->values)
		goto no_memory;
	g->id = id;
	g->relid = relid;
	g->state = CVMBUS_SERVER_GPADL_BUILDING;
	g->range_count = h->rangecount;
	g->nvalues = nvalues;
	for (uint32_t i = 0; i < m->data_count; i++)
		g->values[i] = cvmbus_wire_gpadl_value(m, i);
	g->filled = m->data_count;
	if (srv_gpadl_insert(cl, g) < 0)
		goto no_memory;
	if (g->filled == g->nvalues)
		return srv_gpadl_finish(srv, cl, g, "gpadl_header");
	return 0;

no_memory:
	if (g)
		free(g->values);
	free(g);
	why = CVMBUS_SERVER_REJ_NO_MEMORY;
refuse:
	srv_send_gpadl_created(srv, cl, relid, id, CVMBUS_STATUS_UNSUCCESSFUL);
	return srv_reject(srv, cl->key, why, "gpadl_header", "gpadl %#x relid %u (%u held)", id,
			  relid, cl->ngpadls);
}

int srv_handle_gpadl_body(struct cvmbus_server *srv, struct srv_client *cl,
			  const struct cvmbus_wire_msg *m)
{
	const struct cvmbus_msg_gpadl_body *b = &m->u.gpadl_body;
	struct srv_gpadl *g = srv_gpadl_find(cl, b->gpadl);
	uint32_t n = m->data_count;

	if (!g)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_UNKNOWN_GPADL, "gpadl_body",
				  "gpadl %#x", b->gpadl);
	if (g->state != CVMBUS_SERVER_GPADL_BUILDING)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_GPADL_STATE, "gpadl_body",
				  "gpadl %#x is %s", g->id, cvmbus_server_gpadl_state_name(g->state));
	/* msgnumber is not checked: Linux leaves it 0 and OpenVMM ignores it;
	 * bodies are taken in arrival order, which SynIC delivery preserves. */
	if (n > g->nvalues - g->filled) {
		if (!srv->cfg.gpadl_ignore_excess_pfns)
			return srv_gpadl_fail(srv, cl, g, CVMBUS_SERVER_REJ_GPADL_OVERFLOW,
					      "gpadl_body", "more pfns than range_buflen");
		n = g->nvalues - g->filled;
	}
	for (uint32_t i = 0; i < n; i++)
		g->values[g->filled + i] = cvmbus_wire_gpadl_value(m, i);
	g->filled += n;
	if (g->filled == g->nvalues)
		return srv_gpadl_finish(srv, cl, g, "gpadl_body");
	return 0;
}

/* ---- Teardown ------------------------------------------------------------ */

int srv_handle_gpadl_teardown(struct cvmbus_server *srv, struct srv_client *cl,
			      const struct cvmbus_wire_msg *m)
{
	const struct cvmbus_msg_gpadl_teardown *t = &m->u.gpadl_teardown;
	struct srv_gpadl *g = srv_gpadl_find(cl, t->gpadl);
	struct srv_channel *ch;

	if (!g)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_UNKNOWN_GPADL, "gpadl_teardown",
				  "gpadl %#x", t->gpadl);
	if (g->relid != t->child_relid)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_GPADL_WRONG_CHANNEL,
				  "gpadl_teardown", "gpadl %#x is on relid %u, not %u", g->id,
				  g->relid, t->child_relid);
	if (g->state != CVMBUS_SERVER_GPADL_ACCEPTED)
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_GPADL_STATE, "gpadl_teardown",
				  "gpadl %#x is %s", g->id, cvmbus_server_gpadl_state_name(g->state));
	ch = srv->chan[g->relid];
	/* The ring of a channel the device is opening or running stays until
	 * the client closes it: a device whose ring vanished under it is the
	 * device's problem only if we let it happen. */
	if (ch->owner == (int)cl->index && ch->open.ring_gpadl_id == g->id &&
	    (ch->state == CVMBUS_SERVER_CHAN_OPENING || ch->state == CVMBUS_SERVER_CHAN_OPEN))
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_GPADL_IN_USE, "gpadl_teardown",
				  "gpadl %#x relid %u", g->id, g->relid);
	if (ch->offer_state[cl->index] == CVMBUS_SERVER_OFFER_RESCINDED) {
		/* No device to ask: the GPADL is already unused. */
		uint32_t id = g->id;

		srv_gpadl_remove(cl, g);
		srv_send_gpadl_torndown(srv, cl, id);
		return 0;
	}
	srv_gpadl_set_state(cl, g, CVMBUS_SERVER_GPADL_TEARING_DOWN);
	if (srv->n.gpadl_teardown)
		srv->n.gpadl_teardown(srv->n.ctx, cl->key, g->relid, g->id);
	return 0;
}

/* ---- Release and rescind ------------------------------------------------- */

void srv_gpadls_release(struct cvmbus_server *srv, struct srv_client *cl,
			const struct srv_channel *ch)
{
	uint32_t i = 0;

	/* Removal swaps the last entry into slot i, so i only advances past
	 * entries that stay. Notifications name ids, never table slots. */
	while (i < cl->ngpadls) {
		struct srv_gpadl *g = cl->gpadls[i];

		if (g->relid != ch->relid) {
			i++;
			continue;
		}
		switch (g->state) {
		case CVMBUS_SERVER_GPADL_BUILDING:
			srv_gpadl_remove(cl, g);
			continue;
		case CVMBUS_SERVER_GPADL_OFFERED:
			srv_gpadl_set_state(cl, g, CVMBUS_SERVER_GPADL_OFFERED_RELEASED);
			break;
		case CVMBUS_SERVER_GPADL_ACCEPTED:
			if (ch->rescinded) {
				srv_gpadl_remove(cl, g);
				continue;
			}
			srv_gpadl_set_state(cl, g, CVMBUS_SERVER_GPADL_TEARING_DOWN_RELEASED);
			if (srv->n.gpadl_teardown)
				srv->n.gpadl_teardown(srv->n.ctx, cl->key, g->relid, g->id);
			break;
		case CVMBUS_SERVER_GPADL_TEARING_DOWN:
			srv_gpadl_set_state(cl, g, CVMBUS_SERVER_GPADL_TEARING_DOWN_RELEASED);
			break;
		default:
			break;
		}
		i++;
	}
}

void srv_gpadls_rescind(struct cvmbus_server *srv, const struct srv_channel *ch)
{
	for (unsigned c = 0; c < srv->cfg.max_clients; c++) {
		struct srv_client *cl = &srv->clients[c];
		uint32_t i = 0;

		if (!cl->used)
			continue;
		while (i < cl->ngpadls) {
			struct srv_gpadl *g = cl->gpadls[i];
			uint32_t id = g->id;

			if (g->relid != ch->relid) {
				i++;
				continue;
			}
			switch (g->state) {
			case CVMBUS_SERVER_GPADL_OFFERED:
				/* OpenVMM revoke(): the client still waits for it. */
				srv_gpadl_remove(cl, g);
				srv_send_gpadl_created(srv, cl, ch->relid, id,
						       CVMBUS_STATUS_UNSUCCESSFUL);
				continue;
			case CVMBUS_SERVER_GPADL_TEARING_DOWN:
				srv_gpadl_remove(cl, g);
				srv_send_gpadl_torndown(srv, cl, id);
				continue;
			case CVMBUS_SERVER_GPADL_OFFERED_RELEASED:
			case CVMBUS_SERVER_GPADL_TEARING_DOWN_RELEASED:
				srv_gpadl_remove(cl, g);
				continue;
			default:
				/* BUILDING fails when complete; ACCEPTED waits for the
				 * client's teardown or release. */
				break;
			}
			i++;
		}
	}
}

/* ---- Device completions -------------------------------------------------- */

static struct srv_gpadl *srv_device_gpadl(struct cvmbus_server *srv, uint32_t key,
					  uint32_t relid, uint32_t id,
					  struct srv_client **clp, const char *what, int *rc)
{
	struct srv_client *cl = srv_client_find(srv, key);
	struct srv_gpadl *g = cl ? srv_gpadl_find(cl, id) : NULL;

	if (!g) {
		srv_reject(srv, key, CVMBUS_SERVER_REJ_DEVICE, what, "no gpadl %#x", id);
		*rc = -ENOENT;
		return NULL;
	}
	if (g->relid != relid) {
		*rc = srv_reject(srv, key, CVMBUS_SERVER_REJ_DEVICE, what,
				 "gpadl %#x is on relid %u, not %u", id, g->relid, relid);
		return NULL;
	}
	*clp = cl;
	return g;
}

int srv_gpadl_complete(struct cvmbus_server *srv, uint32_t key, uint32_t relid,
		       uint32_t gpadl_id, uint32_t status)
{
	struct srv_client *cl = NULL;
	int rc = 0;
	struct srv_gpadl *g = srv_device_gpadl(srv, key, relid, gpadl_id, &cl, "gpadl_complete",
					       &rc);

	if (!g)
		return rc;
	switch (g->state) {
	case CVMBUS_SERVER_GPADL_OFFERED:
		srv_send_gpadl_created(srv, cl, relid, gpadl_id, status);
		if (srv_nt_success(status))
			srv_gpadl_set_state(cl, g, CVMBUS_SERVER_GPADL_ACCEPTED);
		else
			srv_gpadl_remove(cl, g);
		return 0;
	case CVMBUS_SERVER_GPADL_OFFERED_RELEASED:
		/* The client let go while the device was checking: if the device
		 * took it, it must give it back before the client is done. */
		if (srv_nt_success(status)) {
			srv_gpadl_set_state(cl, g, CVMBUS_SERVER_GPADL_TEARING_DOWN_RELEASED);
			if (srv->n.gpadl_teardown)
				srv->n.gpadl_teardown(srv->n.ctx, key, relid, gpadl_id);
			return 0;
		}
		srv_gpadl_remove(cl, g);
		(void)srv_check_disconnected(srv, cl);
		return 0;
	default:
		return srv_reject(srv, key, CVMBUS_SERVER_REJ_DEVICE, "gpadl_complete",
				  "gpadl %#x is %s", gpadl_id,
				  cvmbus_server_gpadl_state_name(g->state));
	}
}

int srv_gpadl_teardown_complete(struct cvmbus_server *srv, uint32_t key, uint32_t relid,
				uint32_t gpadl_id)
{
	struct srv_client *cl = NULL;
	int rc = 0;
	struct srv_gpadl *g = srv_device_gpadl(srv, key, relid, gpadl_id, &cl,
					       "gpadl_teardown_complete", &rc);

	if (!g)
		return rc;
	switch (g->state) {
	case CVMBUS_SERVER_GPADL_TEARING_DOWN:
		srv_gpadl_remove(cl, g);
		srv_send_gpadl_torndown(srv, cl, gpadl_id);
		return 0;
	case CVMBUS_SERVER_GPADL_TEARING_DOWN_RELEASED:
		srv_gpadl_remove(cl, g);
		(void)srv_check_disconnected(srv, cl);
		return 0;
	default:
		return srv_reject(srv, key, CVMBUS_SERVER_REJ_DEVICE, "gpadl_teardown_complete",
				  "gpadl %#x is %s", gpadl_id,
				  cvmbus_server_gpadl_state_name(g->state));
	}
}
