/* SPDX-License-Identifier: MIT */
/*
 * Internal state of the guest VMBus client (src/client): the connection,
 * the channel table, the GPADL list, the outbox of channel messages waiting
 * for HvPostMessage, and the event queue. Shared by the four sources of the
 * layer: client.c (lifecycle, dispatch, outbox, events), client_connect.c
 * (negotiation, offers request, unload), client_channel.c (offers, rescind,
 * open, close, release), client_gpadl.c (GPADLs and the memory policy).
 *
 * One discipline keeps the state machine free of use-after-free: message
 * handlers and requests only change state and *enqueue* messages; nothing
 * is posted until client_run() at the very end of every public entry point.
 * client_run() posts (whose outcome handlers again only change state and
 * enqueue) and finishes releases of rescinded channels, until nothing moves.
 */
#ifndef CVMBUS_CLIENT_INTERNAL_H
#define CVMBUS_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "cvmbus/client.h"
#include "cvmbus/memory.h"
#include "cvmbus/wire.h"

#define CLIENT_NEVER UINT64_MAX

/* Defaults of the configuration (see cvmbus_client_config). */
#define CLIENT_DEFAULT_CONTACT_TIMEOUT_NS (5ull * 1000000000ull)
#define CLIENT_DEFAULT_OFFERS_TIMEOUT_NS  (10ull * 1000000000ull)
#define CLIENT_DEFAULT_REPLY_TIMEOUT_NS   (5ull * 1000000000ull)
#define CLIENT_DEFAULT_RETRY_BASE_NS      1000ull /* Linux: usec = 1 */
#define CLIENT_DEFAULT_RETRY_DOUBLINGS    21u     /* Linux: doubles while retries < 22 */

/* Features the client knows how to use when asked for in extra_features. */
#define CLIENT_EXTRA_FEATURES_ALLOWED \
	(CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS | \
	 CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION)

/* The offer flags clear_confidential_offers removes: both confidential
 * bits, and pinned external memory, which only means something with the
 * gpa_pinning feature this client never asks for. */
#define CLIENT_CLEARED_OFFER_FLAGS                                                   \
	(CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER | CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY | \
	 CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY)

/* Largest ring or buffer: a one-range GPADL's range_buflen is a u16 holding
 * 8 bytes of range header and 8 per PFN. */
#define CLIENT_MAX_GPADL_PAGES ((0xFFFFu - 8u) / 8u) /* 8190 */

/* Channel states. The public enum folds these into four. */
enum client_chan_state {
	CHAN_CLOSED = 0,   /* offered, not open */
	CHAN_OPEN_GPADL,   /* ring GPADL being created */
	CHAN_OPENING,      /* OpenChannel queued or out, waiting for OpenResult */
	CHAN_OPEN,
	CHAN_OPEN_FAILING, /* open failed after its GPADL existed: tearing it down */
	CHAN_CLOSING,      /* CloseChannel queued or out, then the ring teardown */
};

/* Buckets of the GPADL hash, by the handle's low bits (handles count up). */
#define CLIENT_GPADL_BUCKETS 256u

struct client_gpadl {
	/* The client's list (doubly linked: unlinking is O(1) however many
	 * GPADLs there are) and its handle's hash chain. */
	struct client_gpadl *next, *prev;
	struct client_gpadl *hnext;
	uint32_t handle;
	uint32_t relid;
	bool ring;          /* the channel's ring rather than a device buffer */
	enum cvmbus_client_gpadl_state state;
	uint64_t gpa;
	uint64_t npages;
	bool shared;        /* made host-visible by us: private again before free */
	/* Pages described by another client (a relay forwarding them): never
	 * allocated, changed or freed by us. */
	bool foreign;
	/* Set when the message that starts the wait has been posted (the last
	 * GpadlBody, or the GpadlTeardown); until then answers are unexpected
	 * and no deadline runs. */
	bool posted;
	uint64_t deadline;
};

struct client_channel {
	uint32_t relid;
	struct cvmbus_msg_offer_channel offer;
	enum client_chan_state state;
	bool co_ring;           /* offer flag 0x2 on a connection that allows it */
	bool co_external;       /* offer flag 0x4 likewise */
	bool rescinded;
	bool release_requested; /* the driver called release: RelIdReleased when idle */
	struct client_gpadl *ring;
	uint32_t send_pages;
	uint32_t recv_pages;
	uint32_t target_vp;
	uint32_t signal_connection_id; /* OpenChannel2 only */
	uint16_t event_flag;
	uint16_t open_flags;
	uint8_t user_data[CVMBUS_USER_DEFINED_SIZE];
	/* Opened over another client's GPADL (cvmbus_client_open_foreign):
	 * ring stays NULL, the close sends CloseChannel only. */
	bool foreign;
	uint32_t foreign_gpadl;
	int open_status;        /* reported once the failed open is cleaned up */
	bool open_posted;       /* OpenChannel left the outbox */
	uint64_t deadline;      /* OpenResult */
};

/* One channel message waiting for (or between tries of) HvPostMessage. */
struct client_out {
	struct client_out *next;
	uint32_t conn_id;
	uint32_t msgtype;
	uint32_t relid;
	uint32_t tag;   /* GPADL messages: the handle; InitiateContact: the version */
	bool last;      /* the last message describing a GPADL */
	uint16_t len;
	uint8_t bytes[CVMBUS_WIRE_MAX_SIZE];
};

struct cvmbus_client {
	struct cvmbus_client_config cfg; /* defaults filled in */
	struct cvmbus_mem *mem;
	uint64_t now;

	/* Connection. */
	enum cvmbus_client_conn_state state;
	struct cvmbus_client_transport transport;
	bool confidential;
	uint32_t version;      /* negotiated, 0 if none */
	uint32_t features;     /* negotiated */
	uint32_t msg_conn_id;
	size_t version_index;  /* next entry of the version list to try */
	uint32_t req_version;  /* the InitiateContact in flight */
	uint32_t req_features;
	bool contact_posted;
	uint64_t conn_deadline; /* VersionResponse or UnloadResponse */
	enum cvmbus_client_offers_state offers;
	bool offers_posted;
	uint64_t offers_deadline;
	bool unload_posted;

	/* Pages named in InitiateContact, allocated at the first connect. */
	bool pages_ready;
	uint64_t int_page;
	uint64_t monitor[2];
	bool monitor_shared;

	uint32_t next_gpadl;

	/* Channels by relid, and how many of them wait to be released. */
	struct client_channel *chan[CVMBUS_CLIENT_MAX_RELID + 1];
	uint32_t nchan;
	uint32_t release_pending;
	struct client_gpadl *gpadls;
	struct client_gpadl *gpadl_hash[CLIENT_GPADL_BUCKETS]; /* by handle */
	/* How many channels and GPADLs have a deadline running: with none,
	 * a tick and the next deadline look at nothing (with 2047 channels
	 * open, walking them at every wake-up was most of an open's cost). */
	uint32_t chan_timed;
	uint32_t gpadl_timed;

	/* Outbox: FIFO, so a retried message keeps later ones behind it. */
	struct client_out *out_head;
	struct client_out *out_tail;
	uint32_t out_tries;      /* attempts made for the head */
	bool out_waiting;        /* the head waits for out_retry_at */
	uint64_t out_retry_at;
	uint64_t out_first_at;   /* when the head was first posted */
	bool in_post;            /* inside the transport: no re-entry */

	/* Events, a growable ring. */
	struct cvmbus_client_event *ev;
	size_t ev_cap;
	size_t ev_head;
	size_t ev_count;

	/* Why the message being handled was dropped, for its trace record. */
	enum cvmbus_client_drop last_drop;

	struct cvmbus_client_stats stats;
};

/* ---- client.c ----------------------------------------------------------- */

uint64_t client_deadline(const struct cvmbus_client *cli, uint64_t timeout_ns);
void client_emit(struct cvmbus_client *cli, const struct cvmbus_client_event *ev);
void client_emit_simple(struct cvmbus_client *cli, enum cvmbus_client_event_type type,
			int status, uint32_t relid, uint32_t gpadl);
/* Encodes msg and appends it to the outbox. 0, -ENOMEM, or the encoder's
 * error. Never posts: see client_run(). */
int client_send(struct cvmbus_client *cli, const struct cvmbus_wire_msg *msg, uint32_t conn_id,
		uint32_t relid, uint32_t tag, bool last);
/* Drops queued messages of one message type (0: any) for a relid
 * (UINT32_MAX: any) with a tag (UINT32_MAX: any). */
void client_outbox_cancel(struct cvmbus_client *cli, uint32_t msgtype, uint32_t relid,
			  uint32_t tag);
void client_outbox_clear(struct cvmbus_client *cli);
bool client_outbox_has(const struct cvmbus_client *cli, uint32_t msgtype, uint32_t relid);
void client_run(struct cvmbus_client *cli);
/* A received message that is not used: counters, log, event. Returns err. */
int client_drop(struct cvmbus_client *cli, uint32_t msgtype, enum cvmbus_client_drop reason,
		uint32_t relid, int err);

/* ---- client_connect.c --------------------------------------------------- */

void client_conn_posted(struct cvmbus_client *cli, const struct client_out *o);
void client_conn_post_failed(struct cvmbus_client *cli, const struct client_out *o, int err);
int client_on_version_response(struct cvmbus_client *cli, const struct cvmbus_wire_msg *m);
int client_on_all_offers(struct cvmbus_client *cli);
int client_on_unload_response(struct cvmbus_client *cli);
void client_conn_expire(struct cvmbus_client *cli);
void client_free_pages(struct cvmbus_client *cli);

/* ---- client_channel.c --------------------------------------------------- */

int client_on_offer(struct cvmbus_client *cli, const struct cvmbus_msg_offer_channel *o);
/* An offer the wire decoder refused; `copy` is the decoder's copy. */
int client_on_bad_offer(struct cvmbus_client *cli, const union cvmbus_wire_body *copy, size_t len,
			int err);
int client_on_rescind(struct cvmbus_client *cli, uint32_t relid);
int client_on_open_result(struct cvmbus_client *cli, const struct cvmbus_msg_open_result *r);
void client_chan_posted(struct cvmbus_client *cli, const struct client_out *o);
void client_chan_post_failed(struct cvmbus_client *cli, const struct client_out *o, int err);
void client_chan_expire(struct cvmbus_client *cli);
/* Ring GPADL outcomes, from client_gpadl.c. */
void client_chan_ring_created(struct cvmbus_client *cli, struct client_channel *ch);
void client_chan_ring_failed(struct cvmbus_client *cli, struct client_channel *ch, int status);
void client_chan_ring_gone(struct cvmbus_client *cli, struct client_channel *ch, int status);
/* Moves every channel waiting for release one step; true if any moved. */
bool client_chan_settle(struct cvmbus_client *cli);
/* Forgets every channel (after unload, at destroy). */
void client_chan_forget_all(struct cvmbus_client *cli);

/* ---- client_gpadl.c ----------------------------------------------------- */

/* Allocates npages of guest RAM, applies the visibility policy, zeroes it
 * and enqueues GpadlHeader + GpadlBody messages. NULL and *err on failure
 * (nothing left behind but counted leaks). */
struct client_gpadl *client_gpadl_start(struct cvmbus_client *cli, struct client_channel *ch,
					bool ring, uint64_t npages, int *err);
/* Enqueues GpadlTeardown. On -ENOMEM the GPADL is leaked and forgotten by
 * the caller's own path (the return value says so). */
int client_gpadl_teardown_start(struct cvmbus_client *cli, struct client_gpadl *g);
struct client_gpadl *client_gpadl_find(const struct cvmbus_client *cli, uint32_t handle);
/* Into the list and the hash (a new record, deadline CLIENT_NEVER). */
void client_gpadl_link(struct cvmbus_client *cli, struct client_gpadl *g);
/* Every deadline of a linked GPADL or channel is set through these, so the
 * counts of running ones stay true. */
void client_gpadl_set_deadline(struct cvmbus_client *cli, struct client_gpadl *g,
			       uint64_t deadline);
void client_chan_set_deadline(struct cvmbus_client *cli, struct client_channel *ch,
			      uint64_t deadline);
bool client_gpadl_any_for(const struct cvmbus_client *cli, uint32_t relid);
/* A CREATING GPADL fails: cancel its messages, release its memory, tell
 * its owner. */
void client_gpadl_fail(struct cvmbus_client *cli, struct client_gpadl *g, int status);
/* Forget a GPADL whose pages must stay out of the allocator. */
void client_gpadl_leak(struct cvmbus_client *cli, struct client_gpadl *g);
/* Unlink, release memory (private first if shared), free the record. */
void client_gpadl_reclaim(struct cvmbus_client *cli, struct client_gpadl *g);
int client_on_gpadl_created(struct cvmbus_client *cli, const struct cvmbus_msg_gpadl_created *c);
int client_on_gpadl_torndown(struct cvmbus_client *cli, uint32_t handle);
void client_gpadl_posted(struct cvmbus_client *cli, const struct client_out *o);
void client_gpadl_post_failed(struct cvmbus_client *cli, const struct client_out *o, int err);
void client_gpadl_expire(struct cvmbus_client *cli);
/* Every GPADL of a channel that is CREATING fails with status (rescind). */
void client_gpadl_fail_creating_for(struct cvmbus_client *cli, uint32_t relid, int status);
/* Starts the teardown of every CREATED buffer GPADL of a channel; true if
 * any started. */
bool client_gpadl_teardown_buffers_of(struct cvmbus_client *cli, uint32_t relid);
/* After an unload: reclaim (response) or leak (timeout) every GPADL. */
void client_gpadl_forget_all(struct cvmbus_client *cli, bool reclaim);

/* Memory helpers shared with client_connect.c (monitor pages). */
int client_mem_zero(struct cvmbus_client *cli, uint64_t gpa, uint64_t npages);
void client_mem_release(struct cvmbus_client *cli, uint64_t gpa, uint64_t npages, bool shared);

#endif /* CVMBUS_CLIENT_INTERNAL_H */
