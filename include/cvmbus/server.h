/* SPDX-License-Identifier: MIT */
/*
 * The VMBus server's control plane as a pure state machine: it takes the raw
 * channel-message bytes a client posted (the guest, or on the host also the
 * paravisor's relay client), decodes them with that client's negotiated
 * version and features, and reports everything it decides through a small
 * notifier vtable: replies to send, and open / close / GPADL / modify
 * requests for the device behind a channel. It has no threads, no clock and
 * no I/O; the glue that moves bytes through SynICs and owns the devices is a
 * separate layer (src/paravisor for the paravisor, src/vm for the host). The
 * same server runs in both roles; only the paravisor role may ever grant
 * confidential channels. Layer: src/server, above src/wire.
 *
 * Model: OpenVMM's vmbus_server/src/channels.rs (facts only). A device
 * (VSP) is written against the "device API" below and does not know which
 * role its server plays.
 *
 * Threading: none. Every entry point runs to completion; the caller
 * serialises calls. A notifier callback must not call back into the server
 * that is calling it: mutating entry points return -EBUSY if it does.
 * Completions that a device produces while handling a notification are
 * queued by the glue and delivered after the callback returns.
 */
#ifndef CVMBUS_SERVER_H
#define CVMBUS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmbus/wire.h"

struct cvmbus_server;

/* ---- Limits -------------------------------------------------------------- */

/* Client slots a server can hold at once (the guest, a relay client, ...). */
#define CVMBUS_SERVER_MAX_CLIENTS 16u
/* Relids are 1..2047: 2048 event flags per SINT, bit 0 is the legacy
 * interrupt-page multiplexer and never a channel. */
#define CVMBUS_SERVER_MAX_RELID 2047u
/* "No client" in notifications and log lines that concern none. */
#define CVMBUS_SERVER_NO_CLIENT 0xFFFFFFFFu
/* An offer without an ordering key sorts after every keyed offer of the
 * same interface (OpenVMM uses u32::MAX the same way). */
#define CVMBUS_OFFER_ORDER_NONE 0xFFFFFFFFu
/* The default per-channel signalling connection id base: SINT 2 << 12, so
 * relid 1 signals on connection 0x2001, as OpenVMM assigns them. */
#define CVMBUS_SERVER_DEFAULT_CHANNEL_CONNECTION_BASE 0x2000u

/* ---- Configuration ------------------------------------------------------- */

enum cvmbus_server_role {
	/* The untrusted host's server: never grants confidential_channels. */
	CVMBUS_SERVER_ROLE_HOST = 0,
	/* The paravisor's server: grants confidential_channels to a trusted
	 * InitiateContact if configured to. */
	CVMBUS_SERVER_ROLE_PARAVISOR = 1,
};

/* Feature flags this implementation can honour: OpenChannel2's signal
 * parameters and interrupt redirection, ModifyConnection, the client id and
 * confidential channels. Pause/resume, server-specified monitor pages
 * (VersionResponse3) and GPA pinning are not implemented and never granted. */
#define CVMBUS_SERVER_IMPLEMENTED_FEATURES                                                  \
	(CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS |                                  \
	 CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION | CVMBUS_FEATURE_MODIFY_CONNECTION |   \
	 CVMBUS_FEATURE_CLIENT_ID | CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS)

struct cvmbus_server_config {
	enum cvmbus_server_role role;
	/* Highest version accepted, 2.4 .. 6.0 (default 6.0). InitiateContact
	 * for any other version, or above this one, gets version_supported = 0
	 * so that the client falls back to an older one. */
	uint32_t max_version;
	/* Features granted to a client that asks for them at 6.0, within
	 * CVMBUS_SERVER_IMPLEMENTED_FEATURES. confidential_channels is refused
	 * (-EINVAL from create) in the host role, and even in the paravisor role
	 * it is granted only to a trusted InitiateContact. */
	uint32_t features;
	/* Returned in VersionResponse from 5.0 on; the client posts every later
	 * message there. The glue registers it. Default: 1. */
	uint32_t message_connection_id;
	/* A channel's signalling connection id is base + relid. The low 12 bits
	 * must be zero and the sum must fit in 24 bits. */
	uint32_t channel_connection_base;
	/* The relid range handed out, within 1..2047 (default the whole range). */
	uint16_t relid_min;
	uint16_t relid_max;
	/* Client slots, 1..CVMBUS_SERVER_MAX_CLIENTS (default 4). */
	uint16_t max_clients;
	/* Hostile-guest bounds: GPADLs a client may hold (default 4096), and
	 * those it may have half-described at once (default 64; each holds up to
	 * 64 KiB of page list until its last body arrives). */
	uint32_t max_gpadls_per_client;
	uint32_t max_building_gpadls_per_client;
	/* Log lines per rejection reason before rate limiting (default 10):
	 * after that, only the 2^k-th occurrence is logged. */
	uint32_t log_burst;
	/* OpenVMM accepts a GpadlBody longer than the PFNs still expected (UEFI
	 * clients send full-size messages) and ignores the tail. false (the
	 * default) refuses such a GPADL instead. */
	bool gpadl_ignore_excess_pfns;
};

/* Fills cfg with the defaults above for role. The paravisor default grants
 * confidential_channels (to trusted clients); the host default does not. */
void cvmbus_server_config_init(struct cvmbus_server_config *cfg, enum cvmbus_server_role role);

/* ---- States -------------------------------------------------------------- */

/* One client's connection. */
enum cvmbus_server_conn_state {
	CVMBUS_SERVER_CONN_DISCONNECTED = 0,
	/* Version agreed (VersionResponse sent); offers not requested yet. */
	CVMBUS_SERVER_CONN_NEGOTIATED,
	/* RequestOffers answered; new offers reach it at once. */
	CVMBUS_SERVER_CONN_CONNECTED,
	/* Unload or a new InitiateContact: waiting for the devices to close its
	 * channels and drop its GPADLs, then UnloadResponse or the reconnect. */
	CVMBUS_SERVER_CONN_DISCONNECTING,
};

/* What one client knows of one channel. */
enum cvmbus_server_offer_state {
	CVMBUS_SERVER_OFFER_NONE = 0,  /* never sent to it, or released by it */
	CVMBUS_SERVER_OFFER_SENT,      /* OfferChannel sent: the relid is valid */
	CVMBUS_SERVER_OFFER_RESCINDED, /* RescindChannelOffer sent, RelIdReleased awaited */
};

/* A channel's device-side state. At most one client owns a channel while it
 * is not CLOSED. */
enum cvmbus_server_chan_state {
	CVMBUS_SERVER_CHAN_CLOSED = 0,
	CVMBUS_SERVER_CHAN_OPENING,        /* device told to open, open_complete awaited */
	CVMBUS_SERVER_CHAN_OPEN,
	CVMBUS_SERVER_CHAN_CLOSING,        /* device told to close, close_complete awaited */
	CVMBUS_SERVER_CHAN_CLOSING_REOPEN, /* ... and the client already asked to open again */
	/* The owner released the channel (unload, RelIdReleased) while the
	 * device was opening / closing: finish without telling the client. */
	CVMBUS_SERVER_CHAN_OPENING_RELEASED,
	CVMBUS_SERVER_CHAN_CLOSING_RELEASED,
	CVMBUS_SERVER_CHAN_NONE,           /* query result: no such relid */
};

/* One GPADL of one client. */
enum cvmbus_server_gpadl_state {
	CVMBUS_SERVER_GPADL_NONE = 0,           /* query result: no such GPADL */
	CVMBUS_SERVER_GPADL_BUILDING,           /* header seen, bodies expected */
	CVMBUS_SERVER_GPADL_OFFERED,            /* device told, gpadl_complete awaited */
	CVMBUS_SERVER_GPADL_OFFERED_RELEASED,   /* ... and the client let go meanwhile */
	CVMBUS_SERVER_GPADL_ACCEPTED,           /* GpadlCreated(success) sent */
	CVMBUS_SERVER_GPADL_TEARING_DOWN,       /* client asked; GpadlTorndown follows */
	CVMBUS_SERVER_GPADL_TEARING_DOWN_RELEASED, /* server-initiated; no reply follows */
};

/* ---- Rejections ---------------------------------------------------------- */

/* Why a client message (or a device completion) was refused. Each reason is
 * counted, logged (rate-limited) and returned as one negative errno. */
enum cvmbus_server_reject {
	CVMBUS_SERVER_REJ_MALFORMED = 0,       /* -EBADMSG: wire decode failed */
	CVMBUS_SERVER_REJ_WRONG_DIRECTION,     /* -EBADMSG: a server-to-client type */
	CVMBUS_SERVER_REJ_NOT_CONNECTED,       /* -ENOTCONN: before InitiateContact */
	CVMBUS_SERVER_REJ_NOT_NEGOTIATED,      /* -EPROTO: needs a newer version / feature */
	CVMBUS_SERVER_REJ_UNTRUSTED,           /* -EPERM: untrusted once a trusted contact exists */
	CVMBUS_SERVER_REJ_TOO_MANY_CLIENTS,    /* -EUSERS */
	CVMBUS_SERVER_REJ_UNSUPPORTED_VERSION, /* -EPROTONOSUPPORT: version_supported = 0 sent */
	CVMBUS_SERVER_REJ_BAD_CONTACT,         /* -EINVAL: half monitor pages, missing client id */
	CVMBUS_SERVER_REJ_UNSUPPORTED_MESSAGE, /* -EOPNOTSUPP: reserved channels, hv_sock */
	CVMBUS_SERVER_REJ_OFFERS_ALREADY_SENT, /* -EALREADY */
	CVMBUS_SERVER_REJ_UNKNOWN_RELID,       /* -ENXIO: no such channel for this client */
	CVMBUS_SERVER_REJ_CHANNEL_RESCINDED,   /* -ENODEV: open / modify of a rescinded channel */
	CVMBUS_SERVER_REJ_CHANNEL_ALREADY_OPEN,/* -EISCONN */
	CVMBUS_SERVER_REJ_CHANNEL_NOT_OPEN,    /* -EBADFD */
	CVMBUS_SERVER_REJ_CHANNEL_BUSY,        /* -EBUSY: owned by another client */
	CVMBUS_SERVER_REJ_CHANNEL_STATE,       /* -EINVAL: wrong channel state for the request */
	CVMBUS_SERVER_REJ_BAD_RING_GPADL,      /* -EINVAL: OpenResult(failure) sent */
	CVMBUS_SERVER_REJ_MODIFY_BUSY,         /* -EBUSY: ModifyChannel while one is pending */
	CVMBUS_SERVER_REJ_DUPLICATE_GPADL,     /* -EEXIST */
	CVMBUS_SERVER_REJ_UNKNOWN_GPADL,       /* -ENOENT */
	CVMBUS_SERVER_REJ_GPADL_STATE,         /* -EINVAL: e.g. teardown of a GPADL not accepted */
	CVMBUS_SERVER_REJ_GPADL_WRONG_CHANNEL, /* -EINVAL: teardown names another relid */
	CVMBUS_SERVER_REJ_GPADL_IN_USE,        /* -EBUSY: teardown of an open channel's ring */
	CVMBUS_SERVER_REJ_GPADL_OVERFLOW,      /* -E2BIG: more PFNs than announced */
	CVMBUS_SERVER_REJ_GPADL_INVALID,       /* -EINVAL: ranges do not add up */
	CVMBUS_SERVER_REJ_GPADL_LIMIT,         /* -ENOSPC: per-client GPADL bounds */
	CVMBUS_SERVER_REJ_NO_MEMORY,           /* -ENOMEM */
	CVMBUS_SERVER_REJ_DEVICE,              /* -EINVAL: device completion out of state */
	CVMBUS_SERVER_REJ_COUNT,
};

/* "malformed", "untrusted", ... and the errno (positive) of a reason. */
const char *cvmbus_server_reject_name(enum cvmbus_server_reject reason);
int cvmbus_server_reject_errno(enum cvmbus_server_reject reason);

/* ---- What the glue and the devices are told ------------------------------ */

/* Where a reply goes: the VP and SINT the client named in InitiateContact
 * (VP 0 before 3.0, SINT 2 before 5.0) and its VTL (0 before 5.1). */
struct cvmbus_server_target {
	uint32_t vp;
	uint8_t sint;
	uint8_t vtl;
};

/* A client's connection, as reported by connection_changed and by
 * cvmbus_server_connection(). */
struct cvmbus_server_connection {
	uint32_t client;
	enum cvmbus_server_conn_state state;
	uint32_t version;   /* negotiated; 0 when disconnected */
	uint32_t features;  /* granted; 0 below 6.0 */
	bool trusted;       /* the InitiateContact came over a trusted path */
	/* Where the client posts from now on: the configured id from 5.0 on,
	 * VMBUS_MESSAGE_CONNECTION_ID (1) before. */
	uint32_t message_connection_id;
	/* The connection id the InitiateContact itself arrived on, if the glue
	 * said (cvmbus_server_msg_info), else 0. */
	uint32_t contact_connection_id;
	struct cvmbus_server_target target;
	uint64_t interrupt_page;  /* before 5.0; unused by this server */
	uint64_t parent_to_child_monitor_gpa;
	uint64_t child_to_parent_monitor_gpa;
	struct cvmbus_guid client_id; /* with the client_id feature, else zero */
};

/* An open request for the device: everything OpenChannel(2) carried, plus
 * the confidentiality decision (connection granted confidential_channels AND
 * the offer carries the flag, as OpenVMM's OpenRequest::new decides). */
struct cvmbus_server_open_request {
	uint32_t client;
	uint32_t relid;
	uint32_t open_id;
	uint32_t ring_gpadl_id;
	uint32_t ring_gpadl_pages;     /* pages the ring GPADL spans */
	uint32_t downstream_page_offset; /* first page of the host-to-guest ring */
	uint32_t target_vp;            /* CVMBUS_VP_INDEX_DISABLE_INTERRUPT: none */
	uint8_t user_data[CVMBUS_USER_DEFINED_SIZE];
	/* Where the device signals the client: the client's choice with
	 * OpenChannel2 and guest_specified_signal_parameters, else the offer's
	 * connection id and the relid as event flag. */
	uint32_t connection_id;
	uint16_t event_flag;
	bool guest_specified_signal;
	bool redirect_interrupt;       /* only with channel_interrupt_redirection */
	uint32_t version;
	uint32_t features;
	bool confidential_ring;            /* ring GPADL must be private memory */
	bool confidential_external_memory; /* other GPADLs must be private memory */
	struct cvmbus_server_target target;
};

/* A complete GPADL for the device (valid only during the callback). The
 * values are the GPA range list as the client sent it: for each range, one
 * value {byte_count | byte_offset << 32} then one PFN per page it spans. */
struct cvmbus_server_gpadl {
	uint32_t client;
	uint32_t relid;
	uint32_t gpadl_id;
	uint16_t range_count;
	uint32_t npages;          /* PFNs in all ranges */
	const uint64_t *values;
	uint32_t nvalues;
	/* The channel's confidentiality for this client's connection. The glue
	 * checks the pages before answering with cvmbus_server_gpadl_complete():
	 * with neither flag they must all be host-visible; with both, all
	 * private; with the ring flag only, a GPADL later used as the ring must
	 * be private and others host-visible, so that check waits for the open. */
	bool confidential_ring;
	bool confidential_external_memory;
};

/*
 * The glue's side. send_message is required; every other callback may be
 * NULL (the notification is then dropped, and whatever completion it asks
 * for never comes unless the device calls it anyway). ctx is passed back.
 *
 * Contract: a callback must not call a mutating server function (those
 * return -EBUSY); it records the request and the glue completes it later.
 */
struct cvmbus_server_notifier {
	void *ctx;
	/* Post msg (len bytes, a whole channel message) to client at target.
	 * The server never retries: if the SynIC slot is busy the glue queues. */
	void (*send_message)(void *ctx, uint32_t client, const struct cvmbus_server_target *target,
			     const void *msg, size_t len);
	/* Device: open the channel; answer with cvmbus_server_open_complete(). */
	void (*open_channel)(void *ctx, const struct cvmbus_server_open_request *req);
	/* Device: close it; answer with cvmbus_server_close_complete(). */
	void (*close_channel)(void *ctx, uint32_t client, uint32_t relid);
	/* Glue/device: check and map a GPADL; answer with
	 * cvmbus_server_gpadl_complete() (status 0 accepts it). */
	void (*gpadl_create)(void *ctx, const struct cvmbus_server_gpadl *gpadl);
	/* Device: stop using the GPADL; answer with
	 * cvmbus_server_gpadl_teardown_complete(). Until then the pages may
	 * still be in use, so the client is not told it is torn down. */
	void (*gpadl_teardown)(void *ctx, uint32_t client, uint32_t relid, uint32_t gpadl_id);
	/* Device: retarget interrupts; answer with cvmbus_server_modify_complete(). */
	void (*modify_channel)(void *ctx, uint32_t client, uint32_t relid, uint32_t target_vp);
	/* A client connected (before its VersionResponse is sent, so the glue
	 * can register conn->message_connection_id first), changed monitor pages
	 * (ModifyConnection), or finished disconnecting. */
	void (*connection_changed)(void *ctx, const struct cvmbus_server_connection *conn);
	/* Everything of client is closed; UnloadResponse follows. */
	void (*unload_complete)(void *ctx, uint32_t client);
	/* A refusal, rate-limited per reason: one line, no newline. */
	void (*log)(void *ctx, uint32_t client, enum cvmbus_server_reject reason, const char *line);
};

/* ---- Lifecycle ----------------------------------------------------------- */

/* Returns 0, or -EINVAL (bad config, notifier without send_message), or
 * -ENOMEM. The notifier is copied. */
int cvmbus_server_create(const struct cvmbus_server_config *cfg,
			 const struct cvmbus_server_notifier *notifier,
			 struct cvmbus_server **out);
/* Frees everything; sends and notifies nothing. NULL is a no-op. */
void cvmbus_server_destroy(struct cvmbus_server *srv);

/* ---- Client messages ----------------------------------------------------- */

/* What the glue knows about how a message arrived. */
struct cvmbus_server_msg_info {
	/* Posted by the client without a host-visible mechanism on a
	 * hardware-isolated VM (the paravisor intercepted the hypercall). */
	bool trusted;
	/* The connection id it was posted to, 0 if unknown. Recorded for
	 * InitiateContact only; which ids are valid is the glue's concern. */
	uint32_t connection_id;
};

/*
 * Handles one channel message (header included, len bytes) that client
 * posted. client is any key the glue chooses per connection (e.g. VTL and
 * SINT of the port it arrived on). Returns 0 if the message was acted on,
 * or the negative errno of the reason it was refused (it was then either
 * answered with a failure status or dropped, and in both cases counted and
 * logged); -EBUSY if called from a notifier callback. Never crashes on any
 * input.
 */
int cvmbus_server_handle_message(struct cvmbus_server *srv, uint32_t client, const void *bytes,
				 size_t len, bool trusted);
int cvmbus_server_handle_message_ex(struct cvmbus_server *srv, uint32_t client,
				    const void *bytes, size_t len,
				    const struct cvmbus_server_msg_info *info);

/* ---- Device API: what a VSP calls ---------------------------------------- */

struct cvmbus_offer_params {
	struct cvmbus_guid interface_id;
	struct cvmbus_guid instance_id;
	/* CVMBUS_OFFER_* flags. Unless keep_flags is set, the server adds
	 * CONFIDENTIAL_RING_BUFFER (every local device can use a private ring)
	 * and keeps CONFIDENTIAL_EXTERNAL_MEMORY only if set here (the device
	 * can do DMA to private memory), as OpenVMM does. */
	uint16_t flags;
	/* Relayed offers: use flags exactly as given. */
	bool keep_flags;
	uint16_t mmio_megabytes;
	uint16_t mmio_megabytes_optional;
	uint16_t subchannel_index;
	/* Sort key within an interface (the relay passes the host's relid so
	 * that host enumeration order survives); CVMBUS_OFFER_ORDER_NONE sorts
	 * last. */
	uint32_t offer_order;
	uint8_t user_defined[CVMBUS_USER_DEFINED_SIZE];
};

/*
 * Adds a channel and returns its relid (the lowest free one in the
 * configured range). Connected clients that already requested offers get
 * the OfferChannel at once. Returns 0, -EINVAL (unknown or contradictory
 * flags), -EEXIST (same interface, instance and sub-channel index as a live
 * offer), -ENOSPC (no relid left), -ENOMEM, -EBUSY.
 */
int cvmbus_server_offer(struct cvmbus_server *srv, const struct cvmbus_offer_params *params,
			uint32_t *relid);
/*
 * The device is gone. Clients that have the offer get RescindChannelOffer
 * and keep the relid until they send RelIdReleased; then it is reusable.
 * After this call the server sends the device nothing more for relid, and
 * the device must complete nothing more for it: whatever it had open or
 * mapped is its own to drop. Returns 0, -ENOENT, -EALREADY, -EBUSY.
 */
int cvmbus_server_rescind(struct cvmbus_server *srv, uint32_t relid);

/* Answers open_channel. status is an NTSTATUS sent verbatim in OpenResult;
 * NT_SUCCESS (high bit clear) opens the channel. Returns 0, -ENOENT,
 * -EINVAL (no open pending), -EBUSY. */
int cvmbus_server_open_complete(struct cvmbus_server *srv, uint32_t relid, uint32_t status);
/* Answers close_channel. Returns 0, -ENOENT, -EINVAL, -EBUSY. */
int cvmbus_server_close_complete(struct cvmbus_server *srv, uint32_t relid);
/* Answers gpadl_create with an NTSTATUS (sent in GpadlCreated; NT_SUCCESS
 * accepts). Returns 0, -ENOENT, -EINVAL, -EBUSY. */
int cvmbus_server_gpadl_complete(struct cvmbus_server *srv, uint32_t client, uint32_t relid,
				 uint32_t gpadl_id, uint32_t status);
/* Answers gpadl_teardown. Returns 0, -ENOENT, -EINVAL, -EBUSY. */
int cvmbus_server_gpadl_teardown_complete(struct cvmbus_server *srv, uint32_t client,
					  uint32_t relid, uint32_t gpadl_id);
/* Answers modify_channel (ModifyChannelResponse from 5.3 on). A completion
 * that arrives after the channel was closed is absorbed. Returns 0,
 * -ENOENT, -EINVAL, -EBUSY. */
int cvmbus_server_modify_complete(struct cvmbus_server *srv, uint32_t relid, uint32_t status);

/* VM reset: every client is disconnected without any message; open
 * channels are closed and GPADLs torn down through the device as for an
 * unload, and each client reports connection_changed(DISCONNECTED) when its
 * last one is gone. Returns 0 or -EBUSY. */
int cvmbus_server_reset(struct cvmbus_server *srv);

/* ---- Queries (any time, also from callbacks) ----------------------------- */

enum cvmbus_server_conn_state cvmbus_server_client_state(const struct cvmbus_server *srv,
							 uint32_t client);
/* Returns 0 or -ENOENT (unknown client). */
int cvmbus_server_connection(const struct cvmbus_server *srv, uint32_t client,
			     struct cvmbus_server_connection *out);
enum cvmbus_server_offer_state cvmbus_server_offer_state(const struct cvmbus_server *srv,
							 uint32_t client, uint32_t relid);
/* The device-side state of relid; *owner (if not NULL) gets the owning
 * client or CVMBUS_SERVER_NO_CLIENT. CHAN_NONE for an unknown relid. */
enum cvmbus_server_chan_state cvmbus_server_chan_state(const struct cvmbus_server *srv,
						       uint32_t relid, uint32_t *owner);
enum cvmbus_server_gpadl_state cvmbus_server_gpadl_state(const struct cvmbus_server *srv,
							 uint32_t client, uint32_t gpadl_id);
/* The signalling connection id of relid (base + relid). */
uint32_t cvmbus_server_channel_connection_id(const struct cvmbus_server *srv, uint32_t relid);
/* Live channels (offered and not yet freed). */
size_t cvmbus_server_channel_count(const struct cvmbus_server *srv);

uint64_t cvmbus_server_reject_count(const struct cvmbus_server *srv,
				    enum cvmbus_server_reject reason);
uint64_t cvmbus_server_reject_total(const struct cvmbus_server *srv);

const char *cvmbus_server_conn_state_name(enum cvmbus_server_conn_state state);
const char *cvmbus_server_offer_state_name(enum cvmbus_server_offer_state state);
const char *cvmbus_server_chan_state_name(enum cvmbus_server_chan_state state);
const char *cvmbus_server_gpadl_state_name(enum cvmbus_server_gpadl_state state);

/* Checks the server's internal invariants (owners, holders, GPADL
 * references, counters). Returns 0, or -EFAULT with a static description in
 * *why. For tests and fuzzers. */
int cvmbus_server_check(const struct cvmbus_server *srv, const char **why);

#endif /* CVMBUS_SERVER_H */
