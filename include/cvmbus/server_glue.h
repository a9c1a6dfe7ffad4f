/* SPDX-License-Identifier: MIT */
/*
 * The server glue: one pure VMBus server (server.h) bound to the simulated
 * platform (platform.h) for one role. As the HOST it listens on ports the
 * host owns, answers through the hypervisor's SynIC and reaches guest memory
 * only through the host view (shared aliases); as the PARAVISOR it listens
 * on ports the paravisor owns, answers through the paravisor's SynIC and
 * reaches guest memory through the paravisor view, keeping confidential
 * rings and buffers private. It owns the devices (VSPs) behind the offers:
 * it checks and records GPADLs, maps an open channel's ring as a pointer
 * into its view, builds the device-facing channel (channel.h) whose signal
 * and memory operations are the role's, registers the channel's event port
 * and hands the channel to the device. A VSP written against
 * struct cvmbus_vsp_ops runs unchanged in either role. A relay (the
 * paravisor's re-offer of host channels) plugs in through
 * struct cvmbus_relayed_ops instead: it sees requests before any mapping and
 * completes them asynchronously.
 *
 * Layer: src/server (the same library as the pure server), above it and
 * src/hw, src/channel and src/exec; the binding conventions (connection
 * ids, SynICs, flags, memory rules) are docs/CONTROL_PLANE.md.
 *
 * Threads: each message port runs its handler on its own platform thread;
 * one mutex serialises every call into the server. Work the server asks for
 * in a notifier callback (GPADL checks, opens, closes) is queued and done
 * right after the server call returns, on the same thread, because the
 * server refuses re-entry. A service thread retries replies that found a
 * SynIC queue (or the relay's port) full. Everything waits through
 * src/exec, so the glue runs under the deterministic executor.
 *
 * Errors are negative errno values: -EINVAL (bad argument or
 * configuration), -ENOMEM, -EEXIST (a connection id already has a port),
 * -ENOENT (no such relid / GPADL / client), -EALREADY (started twice),
 * -ESHUTDOWN (stopping or stopped), -EBUSY (from the server), and what
 * cvmbus_port_add or cvmbus_thread_spawn return.
 */
#ifndef CVMBUS_SERVER_GLUE_H
#define CVMBUS_SERVER_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/channel.h>
#include <cvmbus/platform.h>
#include <cvmbus/server.h>

struct cvmbus_server_glue;

/* Message ports a glue listens on from the start (the message connection id
 * a server returns in VersionResponse is added when a client negotiates). */
#define CVMBUS_SERVER_GLUE_MAX_LISTENERS 8u
/* The server's client keys: the guest is one client, the paravisor's relay
 * (a client of the host's server) another. */
#define CVMBUS_SERVER_GLUE_CLIENT_GUEST 0u
#define CVMBUS_SERVER_GLUE_CLIENT_RELAY 1u
/* The NTSTATUS the glue answers a refused GPADL or open with
 * (STATUS_UNSUCCESSFUL). */
#define CVMBUS_SERVER_GLUE_STATUS_FAILED 0xC0000001u
/* Replies held while a SynIC queue (or the relay's port) is full. */
#define CVMBUS_SERVER_GLUE_DEFAULT_OUT_QUEUE 64u
/* How long the service thread waits before retrying held replies. */
#define CVMBUS_SERVER_GLUE_DEFAULT_RETRY_NS 1000000ull

/* Who may post to a listener, and so which client key its messages get. */
enum cvmbus_server_glue_peer {
	/* The guest: any sender. On the host this includes a guest hypercall
	 * that a paravisor trapped and forwarded (it arrives from the
	 * paravisor, but it is still the guest's). */
	CVMBUS_SERVER_GLUE_PEER_GUEST = 0,
	/* The paravisor's relay contacting the host (0x800074): messages from
	 * any other party are dropped. Host role only. */
	CVMBUS_SERVER_GLUE_PEER_RELAY = 1,
};

struct cvmbus_server_glue_listener {
	uint32_t connection_id;
	enum cvmbus_server_glue_peer peer;
	unsigned int queue_depth; /* 0: the platform's default */
};

struct cvmbus_server_glue_config {
	struct cvmbus_platform *platform; /* required */
	/* The server's configuration; server.role is the glue's role. */
	struct cvmbus_server_config server;
	struct cvmbus_server_glue_listener listeners[CVMBUS_SERVER_GLUE_MAX_LISTENERS];
	unsigned int listener_count;
	/* Host role with a RELAY listener: the paravisor-owned message port
	 * where the relay receives the host's replies
	 * (CVMBUS_RELAY_INBOUND_CONNECTION_ID of the paravisor). Required
	 * then, ignored otherwise. */
	uint32_t relay_inbound_connection_id;
	unsigned int out_queue_depth; /* 0: CVMBUS_SERVER_GLUE_DEFAULT_OUT_QUEUE */
	uint64_t retry_ns;            /* 0: CVMBUS_SERVER_GLUE_DEFAULT_RETRY_NS */
};

/*
 * Defaults for role on platform p (docs/CONTROL_PLANE.md):
 *   PARAVISOR                     listen on 4 and 1 (guest);
 *   HOST, no paravisor            listen on 4 and 1 (guest);
 *   HOST, a paravisor present     listen on 0x800074 (relay) and return it as
 *                                 the message connection id, so the relay
 *                                 never posts to the paravisor's 1.
 * The server part is cvmbus_server_config_init(role).
 */
void cvmbus_server_glue_config_init(struct cvmbus_server_glue_config *cfg,
				    struct cvmbus_platform *p, enum cvmbus_server_role role);

/* ---- Devices (VSPs) ------------------------------------------------------ */

/* What a device gets for one open channel. Valid from open until close
 * returns; the glue owns it. */
struct cvmbus_vsp_channel {
	struct cvmbus_channel *channel; /* HOST endpoint, attached to the guest's ring */
	uint32_t relid;
	uint32_t client;
	enum cvmbus_server_role role;   /* whose server opened it (devices rarely care) */
	uint32_t target_vp;             /* as opened (ModifyChannel may change the glue's copy) */
	bool confidential_ring;         /* ring in private memory */
	bool confidential_external_memory; /* GPA ranges may name private pages */
	uint32_t version;               /* negotiated protocol version */
	uint8_t user_data[CVMBUS_USER_DEFINED_SIZE];
	void *device_data;              /* the device's own, set in open */
};

struct cvmbus_vsp_ops {
	/* Start serving vc->channel (typically: spawn a receive loop). 0 opens
	 * the channel; a negative errno fails the open (OpenResult carries
	 * CVMBUS_SERVER_GLUE_STATUS_FAILED). Runs on a glue thread with the
	 * glue's lock held: must not call into the glue. */
	int (*open)(void *ctx, struct cvmbus_vsp_channel *vc);
	/* The channel is already closed (every wait on it returns -ESHUTDOWN):
	 * stop using it, join what used it, and return only when nothing will
	 * touch vc->channel again. Also called on rescind and on stop. */
	void (*close)(void *ctx, struct cvmbus_vsp_channel *vc);
	/* Largest inbound packet the device accepts; 0: the channel default. */
	size_t max_packet;
};

/* Offer a local device. The server adds CONFIDENTIAL_RING_BUFFER unless
 * params->keep_flags (docs/SERVER.md); *relid gets the relid. Returns 0 or
 * what cvmbus_server_offer returns, -ENOMEM, -ESHUTDOWN. */
int cvmbus_server_glue_add_device(struct cvmbus_server_glue *glue,
				  const struct cvmbus_offer_params *params,
				  const struct cvmbus_vsp_ops *ops, void *ctx, uint32_t *relid);

/* The device is gone: RescindChannelOffer to clients that have it; if the
 * channel is open, the channel is closed and ops->close called before this
 * returns, and the glue forgets the relid's GPADLs. Works for relayed
 * offers too (no callback then: the relay drops what it holds). 0, -ENOENT
 * (unknown, or already rescinded), -ESHUTDOWN, or the server's error. Not
 * from a device's own thread. */
int cvmbus_server_glue_rescind(struct cvmbus_server_glue *glue, uint32_t relid);

/* ---- Relayed offers (the paravisor's relay) ------------------------------ */

/*
 * A relayed channel's data plane is between the guest and the host: the
 * glue maps nothing and registers no event port for it; it forwards the
 * guest's requests to the relay, which completes them later (from any
 * thread, or from inside the callback) with the completion calls below.
 * GPADLs are still checked against the memory rules before the relay sees
 * them (a relayed offer has no confidential flags, so its pages must be
 * host-visible). Every callback runs with the glue's lock held.
 */
struct cvmbus_relayed_ops {
	/* Required. The open as the guest asked it, before any mapping. 0:
	 * the relay will call cvmbus_server_glue_open_complete(); a negative
	 * errno fails the open now. */
	int (*open_request)(void *ctx, const struct cvmbus_server_open_request *req);
	/* 0: the relay calls cvmbus_server_glue_close_complete() later.
	 * NULL, or a negative errno: the glue completes at once. */
	int (*close_request)(void *ctx, uint32_t client, uint32_t relid);
	/* A GPADL that passed the memory check. 0: the relay calls
	 * cvmbus_server_glue_gpadl_complete() later (with the host's status);
	 * a negative errno fails it now. NULL: accepted at once. */
	int (*gpadl_request)(void *ctx, const struct cvmbus_server_gpadl *gpadl);
	/* 0: cvmbus_server_glue_gpadl_teardown_complete() follows. NULL or
	 * negative: completed at once. */
	int (*gpadl_teardown_request)(void *ctx, uint32_t client, uint32_t relid,
				      uint32_t gpadl_id);
	/* ModifyChannel. 0: cvmbus_server_glue_modify_complete() follows.
	 * NULL or negative: answered success at once. */
	int (*modify_request)(void *ctx, uint32_t client, uint32_t relid, uint32_t target_vp);
};

/* Offer a relayed channel: the flags are kept exactly as given
 * (keep_flags is forced), offer_order keeps the host's order. As
 * cvmbus_server_glue_add_device otherwise. */
int cvmbus_server_glue_add_relayed(struct cvmbus_server_glue *glue,
				   const struct cvmbus_offer_params *params,
				   const struct cvmbus_relayed_ops *ops, void *ctx,
				   uint32_t *relid);

/* The relay's answers. Each returns 0 or what the server's completion
 * returns (-ENOENT, -EINVAL for one out of state), -ESHUTDOWN after stop.
 * Safe from any thread, including from inside a relayed callback (the
 * completion is then queued and delivered when the callback returns). */
int cvmbus_server_glue_open_complete(struct cvmbus_server_glue *glue, uint32_t relid,
				     uint32_t status);
int cvmbus_server_glue_close_complete(struct cvmbus_server_glue *glue, uint32_t relid);
int cvmbus_server_glue_gpadl_complete(struct cvmbus_server_glue *glue, uint32_t client,
				      uint32_t relid, uint32_t gpadl_id, uint32_t status);
int cvmbus_server_glue_gpadl_teardown_complete(struct cvmbus_server_glue *glue,
					       uint32_t client, uint32_t relid,
					       uint32_t gpadl_id);
int cvmbus_server_glue_modify_complete(struct cvmbus_server_glue *glue, uint32_t relid,
				       uint32_t status);

/* ---- Lifecycle ----------------------------------------------------------- */

/* Builds the server; registers nothing yet. 0, -EINVAL, -ENOMEM. */
int cvmbus_server_glue_create(const struct cvmbus_server_glue_config *cfg,
			      struct cvmbus_server_glue **out);
/* Registers the listeners and starts the service thread (under the det
 * executor: from a thread of the run). 0, -EALREADY, -ESHUTDOWN, or the
 * port's error (nothing is left registered then). */
int cvmbus_server_glue_start(struct cvmbus_server_glue *glue);
/* Removes every port (joining their handlers), closes every open channel
 * through its device (joining device threads), stops the service thread.
 * Final: a stopped glue only answers queries and destroy. Idempotent. Not
 * from a port handler, a device thread or a glue callback. */
void cvmbus_server_glue_stop(struct cvmbus_server_glue *glue);
/* Stops if needed, then frees everything. NULL is a no-op. */
void cvmbus_server_glue_destroy(struct cvmbus_server_glue *glue);

/* ---- Queries and statistics (for reports and tests) ---------------------- */

struct cvmbus_server_glue_channel_info {
	uint32_t relid;
	bool relayed;
	enum cvmbus_server_role role;        /* the server that offered it */
	enum cvmbus_server_chan_state state; /* the server's view */
	uint32_t owner;                      /* client, or CVMBUS_SERVER_NO_CLIENT */
	bool open;                           /* ring mapped, device serving (or relay opened) */
	bool confidential_ring;              /* of the last open */
	bool confidential_external_memory;
	enum cvmbus_synic_kind synic;        /* that the glue signals the client on */
	uint32_t connection_id;              /* the event port (guest -> server signals) */
	uint16_t event_flag;                 /* the client's flag (server -> guest signals) */
	uint32_t target_vp;
	uint32_t ring_gpadl_id;
	uint32_t ring_pages;
	uint64_t ring_gpa;                   /* first page (a GPA, never an alias) */
	bool ring_private;                   /* the ring pages were private at open */
	uint64_t opens, open_failures, closes;
	uint64_t signals;                    /* to the client */
	uint64_t events;                     /* from the client, through the event port */
};

/* 0 or -ENOENT. Takes the glue's lock: not from a device's thread. */
int cvmbus_server_glue_channel_info(struct cvmbus_server_glue *glue, uint32_t relid,
				    struct cvmbus_server_glue_channel_info *out);

struct cvmbus_server_glue_gpadl_info {
	uint32_t client;
	uint32_t relid;
	uint32_t gpadl_id;
	uint16_t range_count;
	uint32_t npages;
	uint32_t private_pages;   /* as the check found them */
	uint32_t shared_pages;
	uint64_t first_gpa;       /* first page of the first range */
	bool contiguous;          /* one range, offset 0, consecutive pages */
	bool ring;                /* mapped as an open channel's ring */
};

/* A GPADL the glue accepted and still holds: 0 or -ENOENT. */
int cvmbus_server_glue_gpadl_info(struct cvmbus_server_glue *glue, uint32_t client,
				  uint32_t gpadl_id, struct cvmbus_server_glue_gpadl_info *out);

struct cvmbus_server_glue_stats {
	uint64_t messages_in;        /* handed to the server */
	uint64_t messages_refused;   /* the server refused (any reason) */
	uint64_t messages_dropped_in; /* from a party the listener does not take */
	uint64_t messages_out;       /* posted to a SynIC or the relay's port */
	uint64_t messages_held;      /* found a full queue and were held for retry */
	uint64_t messages_lost;      /* dropped: hold queue full, SIMP disabled, ... */
	uint64_t gpadls_accepted;
	uint64_t gpadls_refused;
	uint64_t opens;
	uint64_t open_failures;
	uint64_t closes;
	uint64_t rescinds;
	uint64_t ports_added;        /* message connection ids registered after contact */
};

void cvmbus_server_glue_get_stats(struct cvmbus_server_glue *glue,
				  struct cvmbus_server_glue_stats *out);

/* The server's view of a client / channel, under the glue's lock. */
int cvmbus_server_glue_connection(struct cvmbus_server_glue *glue, uint32_t client,
				  struct cvmbus_server_connection *out);
enum cvmbus_server_chan_state cvmbus_server_glue_chan_state(struct cvmbus_server_glue *glue,
							    uint32_t relid, uint32_t *owner);
/* The signalling connection id the server put in relid's offer. */
uint32_t cvmbus_server_glue_offer_connection_id(struct cvmbus_server_glue *glue,
						uint32_t relid);
enum cvmbus_server_role cvmbus_server_glue_role(const struct cvmbus_server_glue *glue);
/* The SynIC the glue posts and signals on: hypervisor (host), paravisor. */
enum cvmbus_synic_kind cvmbus_server_glue_synic(const struct cvmbus_server_glue *glue);
/* Runs cvmbus_server_check() under the lock: 0 or -EFAULT with *why. */
int cvmbus_server_glue_check(struct cvmbus_server_glue *glue, const char **why);

#endif /* CVMBUS_SERVER_GLUE_H */
