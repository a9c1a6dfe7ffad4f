/* SPDX-License-Identifier: MIT */
/*
 * Internal state of the server glue (include/cvmbus/server_glue.h), shared
 * by its two files: server_glue.c (ports, replies, the work queue, devices,
 * lifecycle) and server_glue_mem.c (GPADL records, the memory rules of
 * docs/CONTROL_PLANE.md, ring mapping, and the channel's signal and memory
 * operations). Layer: src/server.
 *
 * Locks, outermost first:
 *   lock        serialises every call into the server and everything the
 *               glue decides (channel table, work queue, held replies,
 *               statistics). Held while devices open and close, so a device
 *               thread must never take it (a close joins that thread).
 *   gpadl_lock  the GPADL records, so that a device thread can look a
 *               GPADL up (cvmbus_channel_gpadl_lookup) without the big lock.
 *               Never held while waiting for anything.
 */
#ifndef CVMBUS_SERVER_GLUE_INTERNAL_H
#define CVMBUS_SERVER_GLUE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cvmbus/server_glue.h>

/* Listeners from the config plus message connection ids added after
 * contact. */
#define SG_MAX_PORTS (2u * CVMBUS_SERVER_GLUE_MAX_LISTENERS)
/* Relid table size: relids are 1..CVMBUS_SERVER_MAX_RELID. */
#define SG_RELIDS (CVMBUS_SERVER_MAX_RELID + 1u)
/* Service thread doorbell bits. */
#define SG_BELL_KICK 0x1u
#define SG_BELL_STOP 0x2u

struct cvmbus_server_glue;

/* One message port the glue owns. */
struct sg_port {
	struct cvmbus_server_glue *glue;
	uint32_t connection_id;
	enum cvmbus_server_glue_peer peer;
	unsigned int queue_depth;
	bool registered;
};

/* A GPADL the glue checked and accepted (or is waiting on the relay for). */
struct sg_gpadl {
	struct sg_gpadl *next;
	uint32_t client;
	uint32_t relid;
	uint32_t gpadl_id;
	uint16_t range_count;
	uint32_t npages;
	uint64_t *pfns;      /* npages PFNs, all ranges flattened */
	uint64_t bytes;      /* sum of the ranges' byte counts */
	uint32_t first_offset; /* byte offset of the first range */
	uint32_t private_pages;
	uint32_t shared_pages;
	bool contiguous;     /* one range, offset 0, full pages, consecutive PFNs */
	bool ring;           /* mapped as the ring of an open channel */
	bool looked_up;      /* handed to a device (pfns must stay valid) */
	bool teardown_pending; /* deferred until its channel closes */
	/* PFNs [0, pinned) are pinned in partition memory: while this record
	 * lives their visibility cannot change under the server. */
	uint32_t pinned;
};

enum sg_chan_kind {
	SG_CHAN_DEVICE = 1,
	SG_CHAN_RELAYED = 2,
};

/* One offered channel. */
struct sg_chan {
	struct cvmbus_server_glue *glue;
	uint32_t relid;
	enum sg_chan_kind kind;
	const struct cvmbus_vsp_ops *vsp;
	const struct cvmbus_relayed_ops *relay;
	void *ctx;
	uint16_t offer_flags;

	/* The current (or last) open. */
	bool open;          /* device serving, or relayed open completed */
	bool relay_opening; /* relayed: open forwarded, completion awaited */
	bool port_added;
	uint32_t client;
	uint32_t connection_id;
	uint16_t event_flag;
	_Atomic uint32_t target_vp; /* ModifyChannel retargets it under the device */
	bool confidential_ring;
	bool confidential_external_memory;
	struct sg_gpadl *ring; /* the ring's record while open */
	uint64_t ring_gpa;
	uint32_t ring_pages;
	uint32_t ring_gpadl_id;
	bool ring_private;
	struct cvmbus_channel ch;
	struct cvmbus_channel_ops ch_ops;
	struct cvmbus_vsp_channel vc;

	uint64_t opens, open_failures, closes;
	_Atomic uint64_t signals; /* device thread */
	_Atomic uint64_t events;  /* signaller's thread (event port) */
};

enum sg_work_kind {
	/* Requests the server made in a notifier callback. */
	SG_W_GPADL = 1,
	SG_W_OPEN,
	SG_W_CLOSE,
	SG_W_TEARDOWN,
	SG_W_MODIFY,
	/* Relay completions made from inside a relay callback. */
	SG_W_OPEN_DONE,
	SG_W_CLOSE_DONE,
	SG_W_GPADL_DONE,
	SG_W_TEARDOWN_DONE,
	SG_W_MODIFY_DONE,
};

struct sg_work {
	struct sg_work *next;
	enum sg_work_kind kind;
	uint32_t client;
	uint32_t relid;
	uint32_t gpadl_id;
	uint32_t vp;
	uint32_t status;
	struct cvmbus_server_open_request open;
	struct cvmbus_server_gpadl gpadl; /* .values points to values below */
	uint64_t *values;
};

/* A reply held because its queue was full. */
struct sg_held {
	uint32_t client;
	struct cvmbus_server_target target;
	uint32_t len;
	uint8_t bytes[HV_MESSAGE_PAYLOAD_SIZE];
};

struct cvmbus_server_glue {
	struct cvmbus_server_glue_config cfg;
	struct cvmbus_platform *plat;
	struct cvmbus_exec *exec;
	struct cvmbus_mem *mem;
	struct cvmbus_mem_host_view *hv;
	enum cvmbus_server_role role;
	enum cvmbus_mem_party party;   /* HOST or PARAVISOR: owner of ports */
	enum cvmbus_synic_kind synic;  /* where replies and signals go */
	uint64_t boundary;             /* shared-GPA boundary, 0 without isolation */
	uint64_t vtl0_base, vtl0_bytes;

	struct cvmbus_server *srv;
	struct cvmbus_mutex lock;
	/* Identity of the thread holding lock: the address of a thread-local
	 * byte, so that completions made from inside a glue callback are
	 * queued instead of deadlocking. */
	_Atomic(uintptr_t) holder;

	struct cvmbus_mutex gpadl_lock;
	struct sg_gpadl *gpadls;

	struct sg_port ports[SG_MAX_PORTS];
	unsigned int nports;

	struct sg_chan *chans[SG_RELIDS];

	struct sg_work *work_head, *work_tail;

	struct sg_held *held;
	unsigned int held_cap, held_head, held_count;

	struct cvmbus_doorbell bell;
	struct cvmbus_thread *svc;

	bool started;
	bool stopping;
	bool stopped;
	struct cvmbus_server_glue_stats stats;
};

/* ---- server_glue_mem.c ---------------------------------------------------- */

/* Check a complete GPADL against the role's memory rules and record it.
 * 0 and *out, or a negative errno (-EPERM: a page of the wrong kind or
 * outside guest RAM; -ENOMEM) with a log line saying why. lock held. */
int sg_gpadl_accept(struct cvmbus_server_glue *g, const struct cvmbus_server_gpadl *gp,
		    struct sg_gpadl **out);
struct sg_gpadl *sg_gpadl_find(struct cvmbus_server_glue *g, uint32_t client, uint32_t id);
/* Unlink and free (gpadl_lock taken inside). */
void sg_gpadl_remove(struct cvmbus_server_glue *g, struct sg_gpadl *rec);
/* Free every record of relid (rescind), or of every relid. */
void sg_gpadl_drop_relid(struct cvmbus_server_glue *g, uint32_t relid);
void sg_gpadl_drop_all(struct cvmbus_server_glue *g);

/* Map the ring of an open request: the record, contiguity, the page kinds
 * the open requires now, a pointer into the role's view, split into the two
 * rings. 0 or a negative errno with a log line. lock held. */
int sg_ring_map(struct cvmbus_server_glue *g, struct sg_chan *c,
		const struct cvmbus_server_open_request *req, struct cvmbus_ring_mem *up,
		struct cvmbus_ring_mem *down);

/* The channel operations of the role (signal, memory, GPADL lookup). */
void sg_chan_ops_init(struct sg_chan *c);

/* The event port's handler: the client signalled the channel. */
void sg_chan_event(void *ctx, const struct cvmbus_port_event *ev);
/* The same signal, after the hypercall, on the guest vCPU that now runs
 * VTL2 (paravisor only): the device's inline pass. */
void sg_chan_vtl_return(void *ctx, const struct cvmbus_port_event *ev);

#endif /* CVMBUS_SERVER_GLUE_INTERNAL_H */
