/* SPDX-License-Identifier: MIT */
/*
 * The guest VMBus client, control-plane half (layer src/client, above the
 * wire layer and the platform's partition memory). It is a pure state
 * machine in the way OpenVMM's server is: channel messages come in through
 * cvmbus_client_handle_message(), time comes in through
 * cvmbus_client_tick(), requests come in from device drivers (open, close,
 * GPADLs, release, unload); what goes out is HvPostMessage calls through a
 * transport vtable the glue provides, page visibility changes on the guest's
 * memory, and events the caller drains with cvmbus_client_next_event(). It
 * never sleeps, never waits and owns no thread, so scripted peers can drive
 * every path of it.
 *
 * Its behaviour is the Linux guest's (drivers/hv/connection.c, channel.c,
 * channel_mgmt.c, vmbus_drv.c) with the Confidential VMBus series: version
 * negotiation from 6.0 down, connection id 4 and SINT 2 from 5.0 on, feature
 * flag 0x10 only on a confidential connection at 6.0, offers validated
 * against the connection, rings made host-visible before their GPADL is
 * sent unless the offer asks for a confidential ring, GPADL handles from
 * 0xE1E10. Where Linux blocks, this client records a deadline; where Linux
 * sleeps between retries, it records when to retry. See docs/CLIENT.md.
 *
 * Errors are negative errno values: -EINVAL (bad argument or a request that
 * the channel's state does not allow), -ENOENT (no such relid or GPADL),
 * -ENOTCONN (not connected), -EBUSY (an operation is already running),
 * -ENODEV (the channel was rescinded), -ENOMEM, -ENOSPC (no guest RAM for a
 * ring or buffer), -EIO (a host-visibility change failed), -EALREADY.
 * Operation outcomes arrive as events with these status codes:
 * -ETIMEDOUT (a wait expired), -EDOM (no protocol version accepted),
 * -EAGAIN (OpenResult with a failure status, or HvPostMessage kept
 * returning INVALID_CONNECTION_ID), -EDQUOT (GpadlCreated with a failure
 * status), -ENOBUFS (HvPostMessage kept failing for lack of buffers or
 * memory), -EINVAL (HvPostMessage failed with a status that is not retried,
 * as Linux's vmbus_post_msg() reports it), -ENODEV (rescinded meanwhile).
 */
#ifndef CVMBUS_CLIENT_H
#define CVMBUS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmbus/hv.h"
#include "cvmbus/wire.h"

struct cvmbus_mem;
struct cvmbus_client;

/* Relids are 1..2047: one event flag bit each in the SINT's 2048-bit area
 * (Linux MAX_CHANNEL_RELIDS), and 0 is never assigned. */
#define CVMBUS_CLIENT_MAX_RELID    2047u
/* Linux's next_gpadl_handle starts here and the first handle is this one. */
#define CVMBUS_CLIENT_FIRST_GPADL  0xE1E10u
/* Linux's vmbus_post_msg() tries HvPostMessage at most this many times. */
#define CVMBUS_CLIENT_POST_TRIES   100u
/* Unread events kept; further events are dropped (and counted) so that
 * what was kept stays in causal order. */
#define CVMBUS_CLIENT_EVENT_CAP    4096u

/* Which SynIC a message came in on, and which path a post goes out on.
 * HYPERVISOR: the hypervisor's SynIC; with a paravisor present the glue
 * reaches it through GHCB (SNP) or tdcall (TDX), which the host can see.
 * PARAVISOR: the paravisor's SynIC, reached by plain MSR accesses and
 * hypercalls that the paravisor intercepts (the confidential path). */
enum cvmbus_client_path {
	CVMBUS_CLIENT_PATH_HYPERVISOR = 0,
	CVMBUS_CLIENT_PATH_PARAVISOR = 1,
	CVMBUS_CLIENT_PATH_COUNT
};

/* What the glue provides to send a channel message. */
struct cvmbus_client_transport {
	/* One HvPostMessage: message type 1 (VMBus), `len` payload bytes (a
	 * whole channel message, header included, <= 240) on connection_id.
	 * Returns the HV_STATUS_* the hypercall returned, unchanged, so that the
	 * client can tell INVALID_CONNECTION_ID from INSUFFICIENT_BUFFERS. */
	uint16_t (*post_message)(void *ctx, uint32_t connection_id, const void *msg,
				 size_t len);
	void *ctx;
	/* The path this transport posts on: for the trace and the report. */
	enum cvmbus_client_path path;
};

/* ---- Trace ---------------------------------------------------------------- */

enum cvmbus_client_trace_dir {
	CVMBUS_CLIENT_TRACE_RX = 0, /* a message handed to the client */
	CVMBUS_CLIENT_TRACE_TX = 1, /* one HvPostMessage attempt */
};

/* Why a received message was dropped (or an offer refused). */
enum cvmbus_client_drop {
	CVMBUS_CLIENT_DROP_NONE = 0,
	CVMBUS_CLIENT_DROP_MALFORMED,           /* the wire decoder refused it */
	CVMBUS_CLIENT_DROP_UNEXPECTED,          /* valid, but not in this state */
	CVMBUS_CLIENT_DROP_UNKNOWN_RELID,       /* no channel has that relid */
	CVMBUS_CLIENT_DROP_UNKNOWN_GPADL,       /* no GPADL waits for that answer */
	CVMBUS_CLIENT_DROP_BAD_RELID,           /* offer with relid 0 or > 2047 */
	CVMBUS_CLIENT_DROP_DUPLICATE_RELID,     /* offer for a relid in use */
	CVMBUS_CLIENT_DROP_CONFIDENTIAL_UNSUPPORTED, /* 0x2/0x4 without 6.0 + confidential */
	CVMBUS_CLIENT_DROP_EXTERNAL_WITHOUT_RING,    /* 0x4 without 0x2 */
	CVMBUS_CLIENT_DROP_NO_MEMORY,           /* no room to record the offer */
	CVMBUS_CLIENT_DROP_COUNT
};

struct cvmbus_client_trace {
	enum cvmbus_client_trace_dir dir;
	enum cvmbus_client_path path; /* RX: the source SynIC; TX: the transport's */
	uint64_t now_ns;
	uint32_t msgtype;             /* from the header, 0 if too short */
	uint32_t connection_id;       /* TX only */
	uint16_t hv_status;           /* TX only: what HvPostMessage returned */
	enum cvmbus_client_drop drop; /* RX only: NONE if the message was used */
	const uint8_t *bytes;         /* valid during the call only */
	size_t len;
};

typedef void (*cvmbus_client_trace_fn)(void *ctx, const struct cvmbus_client_trace *t);

struct cvmbus_client_event;
/* Called as each event is queued (it stays queued too): lets the glue wake
 * a driver or a waiting thread. It must not call into the client. */
typedef void (*cvmbus_client_event_fn)(void *ctx, const struct cvmbus_client_event *ev);

/* ---- Configuration -------------------------------------------------------- */

struct cvmbus_client_config {
	/* The partition's memory: rings, buffers and monitor pages come from
	 * its VTL0 region and change visibility as the guest party. Required. */
	struct cvmbus_mem *mem;
	/* Highest version to try (Linux's max_version); 0 means 6.0. */
	uint32_t max_version;
	/* InitiateContact.msg_vtl from 5.0 on (Linux: ms_hyperv.vtl). */
	uint8_t vtl;
	/* InitiateContact.target_vcpu: the VP that gets control messages. */
	uint32_t target_vcpu;
	/* The guest runs isolated (Linux hv_is_isolation_supported()): a
	 * negotiated version below 5.2 is then refused. */
	bool isolated;
	/* ORed into the monitor page GPAs (CPUID 0x4000000C; 0 outside vTOM). */
	uint64_t shared_gpa_boundary;
	/* Features asked for from 6.0 on, besides confidential_channels: only
	 * GUEST_SPECIFIED_SIGNAL_PARAMETERS and CHANNEL_INTERRUPT_REDIRECTION
	 * (they select OpenChannel2). Linux asks for none. */
	uint32_t extra_features;
	/* Waits. 0 picks the default in brackets. */
	uint64_t contact_timeout_ns;  /* VersionResponse [5 s] */
	uint64_t offers_timeout_ns;   /* AllOffersDelivered [10 s] */
	uint64_t reply_timeout_ns;    /* GpadlCreated, OpenResult, GpadlTorndown,
				       * UnloadResponse [5 s] */
	/* HvPostMessage retries, as vmbus_post_msg(): at most post_tries
	 * attempts [100]; the k-th retry comes retry_base_ns << min(k-1,
	 * retry_doublings) after the failure [1 us, 21]. */
	uint32_t post_tries;
	uint64_t retry_base_ns;
	uint32_t retry_doublings;
	/* Optional: every message in and every post attempt out. */
	cvmbus_client_trace_fn trace;
	void *trace_ctx;
	/* Optional: each event as it is queued. */
	cvmbus_client_event_fn on_event;
	void *event_ctx;
	/* For a client that owns no guest RAM (the paravisor's relay, which
	 * talks to the host from VTL2): InitiateContact names no monitor
	 * pages (both zero, which servers accept as "none") and none are
	 * allocated. Such a client uses only the foreign GPADL and open calls
	 * below, never cvmbus_client_open() or cvmbus_client_gpadl_create(). */
	bool no_monitor_pages;
	/* Offers with confidential flags (0x2, 0x4) are accepted with those
	 * bits cleared instead of refused, and counted in
	 * offers_flags_cleared; 0x8 (pinned external memory, meaningless
	 * without gpa_pinning, never asked for) goes with them. For a relay
	 * facing the untrusted host, which can never provide a confidential
	 * channel: OpenVMM's relay clears the bits of host offers the same way. */
	bool clear_confidential_offers;
};

/* ---- Events ---------------------------------------------------------------- */

enum cvmbus_client_event_type {
	CVMBUS_CLIENT_EV_NONE = 0,
	CVMBUS_CLIENT_EV_CONNECTED,      /* version, features */
	CVMBUS_CLIENT_EV_CONNECT_FAILED, /* status */
	CVMBUS_CLIENT_EV_OFFER,          /* relid: a new channel to bind a driver to */
	CVMBUS_CLIENT_EV_OFFER_REFUSED,  /* relid as sent, reason */
	CVMBUS_CLIENT_EV_ALL_OFFERS,     /* status: 0 or -ETIMEDOUT, -ENOBUFS ... */
	CVMBUS_CLIENT_EV_OPEN_DONE,      /* relid, status */
	CVMBUS_CLIENT_EV_CLOSE_DONE,     /* relid, status */
	CVMBUS_CLIENT_EV_GPADL_DONE,     /* relid, gpadl, status */
	CVMBUS_CLIENT_EV_GPADL_TORNDOWN, /* relid, gpadl, status */
	CVMBUS_CLIENT_EV_RESCIND,        /* relid: the driver must close, then release */
	CVMBUS_CLIENT_EV_RELEASED,       /* relid: RelIdReleased sent, the relid is gone */
	CVMBUS_CLIENT_EV_UNLOADED,       /* status */
	CVMBUS_CLIENT_EV_PROTOCOL_ERROR, /* msgtype, reason: a message was dropped */
	CVMBUS_CLIENT_EV_COUNT
};

struct cvmbus_client_event {
	enum cvmbus_client_event_type type;
	int status;        /* 0 or a negative errno */
	uint32_t relid;
	uint32_t gpadl;
	uint32_t version;  /* CONNECTED */
	uint32_t features; /* CONNECTED: the negotiated feature flags */
	uint32_t msgtype;  /* PROTOCOL_ERROR, OFFER_REFUSED */
	enum cvmbus_client_drop reason; /* PROTOCOL_ERROR, OFFER_REFUSED */
};

/* ---- States and introspection --------------------------------------------- */

enum cvmbus_client_conn_state {
	CVMBUS_CLIENT_IDLE = 0,   /* never connected */
	CVMBUS_CLIENT_CONTACTING, /* InitiateContact out, waiting for VersionResponse */
	CVMBUS_CLIENT_CONNECTED,
	CVMBUS_CLIENT_UNLOADING,  /* Unload out, waiting for UnloadResponse */
	CVMBUS_CLIENT_UNLOADED,
	CVMBUS_CLIENT_FAILED,     /* the last connect failed; connect may be retried */
};

enum cvmbus_client_offers_state {
	CVMBUS_CLIENT_OFFERS_NONE = 0,  /* RequestOffers not sent */
	CVMBUS_CLIENT_OFFERS_REQUESTED,
	CVMBUS_CLIENT_OFFERS_DELIVERED, /* AllOffersDelivered seen */
	CVMBUS_CLIENT_OFFERS_FAILED,    /* timeout or post failure */
};

enum cvmbus_client_channel_state {
	CVMBUS_CLIENT_CHAN_CLOSED = 0, /* offered, not open */
	CVMBUS_CLIENT_CHAN_OPENING,    /* ring GPADL or OpenChannel in flight */
	CVMBUS_CLIENT_CHAN_OPEN,
	CVMBUS_CLIENT_CHAN_CLOSING,    /* close or failed-open cleanup in flight */
};

struct cvmbus_client_channel_info {
	uint32_t relid;
	struct cvmbus_msg_offer_channel offer; /* the validated copy */
	enum cvmbus_client_channel_state state;
	bool rescinded;
	bool confidential_ring;     /* offer flag 0x2: the ring stays private */
	bool confidential_external; /* offer flag 0x4: buffer GPADLs stay private */
	/* The ring, while OPENING/OPEN/CLOSING: send ring at ring_gpa, receive
	 * ring right after it; each starts with its 4 KiB control page. */
	uint32_t ring_gpadl;        /* 0 if none */
	uint64_t ring_gpa;
	uint32_t send_bytes;
	uint32_t recv_bytes;
	bool ring_shared;           /* the ring pages are host-visible */
	uint32_t target_vp;
	/* Opened with cvmbus_client_open_foreign(): ring_gpadl is the foreign
	 * GPADL, ring_gpa its first page, send_bytes the downstream offset;
	 * ring_shared says nothing (the pages are not this client's). */
	bool foreign_ring;
};

enum cvmbus_client_gpadl_state {
	CVMBUS_CLIENT_GPADL_CREATING = 0,
	CVMBUS_CLIENT_GPADL_CREATED,
	CVMBUS_CLIENT_GPADL_TEARING_DOWN,
};

struct cvmbus_client_gpadl_info {
	uint32_t handle;
	uint32_t relid;
	bool ring;      /* the channel's ring, not a device buffer */
	uint64_t gpa;
	uint64_t npages;
	bool shared;    /* made host-visible for this GPADL */
	enum cvmbus_client_gpadl_state state;
	bool foreign;   /* cvmbus_client_gpadl_create_foreign(): pages not ours */
};

struct cvmbus_client_stats {
	uint64_t rx_messages;
	uint64_t rx_by_path[CVMBUS_CLIENT_PATH_COUNT];
	uint64_t rx_dropped;
	uint64_t drops[CVMBUS_CLIENT_DROP_COUNT];
	uint64_t tx_posts;       /* HvPostMessage attempts */
	uint64_t tx_retries;     /* attempts that were retries */
	uint64_t tx_failures;    /* messages given up on */
	uint64_t versions_tried; /* InitiateContact messages built */
	/* offers_received == offers_accepted + offers_refused, always. */
	uint64_t offers_received;
	uint64_t offers_accepted;
	uint64_t offers_refused;
	uint64_t timeouts;
	uint64_t pages_leaked;   /* kept out of the allocator: state unknown */
	uint64_t events_dropped;
	uint64_t offers_flags_cleared; /* clear_confidential_offers at work */
};

/* ---- Lifecycle -------------------------------------------------------------- */

/* 0, -EINVAL (no mem, bad extra_features, max_version not known), -ENOMEM. */
int cvmbus_client_create(const struct cvmbus_client_config *cfg, struct cvmbus_client **out);
/* Frees everything. Pages still host-visible are made private first, so no
 * host-visible page goes back to the allocator. Safe on NULL. */
void cvmbus_client_destroy(struct cvmbus_client *cli);

/* The client's clock. Expires waits whose deadline is <= now_ns and sends
 * posts whose retry time has come. Time never goes backwards (an earlier
 * now_ns is ignored). */
void cvmbus_client_tick(struct cvmbus_client *cli, uint64_t now_ns);
/* The earliest deadline or retry time, UINT64_MAX if none: when to tick. */
uint64_t cvmbus_client_next_deadline(const struct cvmbus_client *cli);

/* ---- Connection ------------------------------------------------------------- */

/*
 * Starts version negotiation over `t` (copied), newest version first. The
 * outcome is a CONNECTED or CONNECT_FAILED event. `confidential` says the
 * caller decided this is a Confidential VMBus connection (by CPUID or
 * because this is the probe over the paravisor; see cvmbus_client_detect_*):
 * it adds feature flag 0x10 at 6.0 and lets offers keep their confidential
 * flags. Allowed when IDLE, FAILED or UNLOADED; -EBUSY otherwise.
 */
int cvmbus_client_connect(struct cvmbus_client *cli, const struct cvmbus_client_transport *t,
			  bool confidential);
/* Sends RequestOffers; offers then arrive as OFFER events until ALL_OFFERS.
 * -ENOTCONN unless CONNECTED, -EALREADY if already requested. */
int cvmbus_client_request_offers(struct cvmbus_client *cli);
/* Sends Unload (nothing below 3.0, as Linux) and reports UNLOADED. On the
 * response every GPADL's pages are made private and freed and every channel
 * is forgotten; on a timeout they are kept out of the allocator. */
int cvmbus_client_unload(struct cvmbus_client *cli);

enum cvmbus_client_conn_state cvmbus_client_state(const struct cvmbus_client *cli);
enum cvmbus_client_offers_state cvmbus_client_offers_state(const struct cvmbus_client *cli);
/* Negotiated version (0 if none), features, connection id for messages. */
uint32_t cvmbus_client_version(const struct cvmbus_client *cli);
uint32_t cvmbus_client_features(const struct cvmbus_client *cli);
uint32_t cvmbus_client_msg_conn_id(const struct cvmbus_client *cli);
bool cvmbus_client_confidential(const struct cvmbus_client *cli);
/* The pages InitiateContact named (GPAs, before the boundary is ORed in);
 * 0 before the first connect. */
void cvmbus_client_monitor_pages(const struct cvmbus_client *cli, uint64_t *int_page,
				 uint64_t *monitor1, uint64_t *monitor2);

/* ---- Messages in --------------------------------------------------------------- */

/*
 * A channel message (header included) that the glue copied out of a SynIC
 * message slot of `source`. The bytes are copied once, then validated
 * against the negotiated version, then used. Returns 0 if the message was
 * used, or the negative errno of why it was dropped (the wire decoder's, or
 * -EPROTO for a valid message the client did not expect, -ENOENT for an
 * unknown relid or GPADL, -EINVAL (relid out of range), -EPERM
 * (confidential flags not allowed), -EEXIST (relid in use) or -ENOMEM for a
 * refused offer, -EDEADLK if called from inside post_message()). A dropped
 * message changes nothing but counters, the trace and a PROTOCOL_ERROR or
 * OFFER_REFUSED event.
 */
int cvmbus_client_handle_message(struct cvmbus_client *cli, const void *bytes, size_t len,
				 enum cvmbus_client_path source);
/* The same for a whole SynIC message the glue copied: the envelope (type
 * HVMSG_VMBUS, payload size 8..240) is checked first. */
int cvmbus_client_handle_hv_message(struct cvmbus_client *cli, const struct hv_message *copy,
				    enum cvmbus_client_path source);

/* 1 and *ev filled with the oldest event, or 0 if there is none. */
int cvmbus_client_next_event(struct cvmbus_client *cli, struct cvmbus_client_event *ev);

/* ---- Channels (for device drivers) ------------------------------------------- */

struct cvmbus_client_open_params {
	/* Ring sizes in bytes, control page included: multiples of 4096,
	 * at least 8192 each. */
	uint32_t send_bytes;
	uint32_t recv_bytes;
	const void *user_data;   /* copied into OpenChannel.user_data */
	size_t user_data_len;    /* <= 120 */
	uint32_t target_vp;      /* CVMBUS_VP_INDEX_DISABLE_INTERRUPT for none */
	/* Used only when OpenChannel2 is negotiated. */
	uint32_t connection_id;
	uint16_t event_flag;
	uint16_t open_flags;     /* CVMBUS_OPEN_FLAG_* */
};

/*
 * Allocates the ring in guest RAM, makes it host-visible unless the offer
 * has a confidential ring, creates its GPADL, sends OpenChannel (or
 * OpenChannel2) and reports OPEN_DONE. 0 when started.
 */
int cvmbus_client_open(struct cvmbus_client *cli, uint32_t relid,
		       const struct cvmbus_client_open_params *p);
/* CloseChannel, then the ring GPADL's teardown; CLOSE_DONE when the ring is
 * private again and freed. -EINVAL unless OPEN. */
int cvmbus_client_close(struct cvmbus_client *cli, uint32_t relid);
/*
 * A device buffer of `bytes` (a multiple of 4096) in guest RAM and a GPADL
 * over it: host-visible unless the offer has confidential external memory.
 * *handle and *gpa are set at once; GPADL_DONE reports the outcome.
 */
int cvmbus_client_gpadl_create(struct cvmbus_client *cli, uint32_t relid, uint64_t bytes,
			       uint32_t *handle, uint64_t *gpa);
/* GpadlTeardown; GPADL_TORNDOWN when its pages are private again and freed. */
int cvmbus_client_gpadl_teardown(struct cvmbus_client *cli, uint32_t relid, uint32_t handle);
/* After RESCIND: closes the channel if open, tears down its GPADLs, then
 * sends RelIdReleased (RELEASED event). -EINVAL if not rescinded. */
int cvmbus_client_release(struct cvmbus_client *cli, uint32_t relid);

/* ---- Relaying another client's channels (the paravisor's relay) ----------- */

/*
 * A relay forwards GPADLs and opens that another client (the guest) made
 * with the relay's own server, so the pages belong to that client, not to
 * this one: nothing is allocated, zeroed, made visible or freed here, and
 * the GPADL id is the one the other client chose (OpenVMM passes the
 * guest's GPADL ids to the host unchanged). The relay's server already
 * checked the pages against its memory rules.
 */

/*
 * A GPADL over the range list `values` exactly as the other client sent it
 * (per range: {byte_count | byte_offset << 32}, then one PFN per page it
 * spans; range_count ranges), under `handle`. The list goes out as
 * GpadlHeader (27 values) and GpadlBody messages (28 each); GPADL_DONE
 * reports the outcome and cvmbus_client_gpadl_teardown() takes it down
 * (GPADL_TORNDOWN), as for a GPADL of our own. 0 when started; -EINVAL
 * (handle 0, a range list that does not add up), -E2BIG (more than the
 * 16-bit range_buflen holds), -EEXIST (handle in use), -ENOENT, -ENODEV,
 * -ENOTCONN, -ENOMEM.
 */
int cvmbus_client_gpadl_create_foreign(struct cvmbus_client *cli, uint32_t relid,
				       uint32_t handle, uint16_t range_count,
				       const uint64_t *values, size_t nvalues);

struct cvmbus_client_open_foreign_params {
	uint32_t ring_gpadl;             /* a CREATED foreign GPADL of this channel */
	uint32_t downstream_page_offset; /* first page of the server-to-client ring */
	uint32_t target_vp;              /* CVMBUS_VP_INDEX_DISABLE_INTERRUPT for none */
	const void *user_data;
	size_t user_data_len;            /* <= 120 */
	/* OpenChannel2's signal parameters: the connection id the server
	 * registers for the other client's signals, and the event flag it
	 * sets to signal that client. */
	uint32_t connection_id;
	uint16_t event_flag;
	uint16_t open_flags;             /* CVMBUS_OPEN_FLAG_* */
};

/*
 * Opens relid over an existing foreign ring GPADL with OpenChannel2 and the
 * caller's signal parameters; OPEN_DONE reports the outcome. Needs 6.0 with
 * guest_specified_signal_parameters negotiated (-EOPNOTSUPP otherwise:
 * without them the server would signal this client, not the other one).
 * cvmbus_client_close() of such a channel sends CloseChannel only and
 * reports CLOSE_DONE once it went out: the ring GPADL stays, for its owner
 * to tear down. 0 when started; -EINVAL, -ENOENT (no such channel or
 * foreign GPADL of it), -EBUSY (channel not closed, GPADL not created),
 * -ENODEV, -ENOTCONN, -ENOMEM.
 */
int cvmbus_client_open_foreign(struct cvmbus_client *cli, uint32_t relid,
			       const struct cvmbus_client_open_foreign_params *p);

int cvmbus_client_channel_info(const struct cvmbus_client *cli, uint32_t relid,
			       struct cvmbus_client_channel_info *out);
int cvmbus_client_gpadl_info(const struct cvmbus_client *cli, uint32_t handle,
			     struct cvmbus_client_gpadl_info *out);
void cvmbus_client_get_stats(const struct cvmbus_client *cli, struct cvmbus_client_stats *out);

/* ---- Names ----------------------------------------------------------------- */

const char *cvmbus_client_drop_name(enum cvmbus_client_drop reason);
const char *cvmbus_client_event_name(enum cvmbus_client_event_type type);
const char *cvmbus_client_state_name(enum cvmbus_client_conn_state state);
const char *cvmbus_client_path_name(enum cvmbus_client_path path);

/* ---- Confidential VMBus detection ----------------------------------------- */

/*
 * Two ways to decide whether the connection is confidential, as pure logic
 * the glue iterates: ask for an attempt, run cvmbus_client_connect() with
 * it, and on CONNECT_FAILED ask for the next one.
 *
 * CPUID (the merged Linux series): one attempt. Confidential, over the
 * paravisor, iff CPUID 0x40000082 EAX bit 3 says Confidential VMBus is
 * available; otherwise plain, over the hypervisor.
 *
 * PROBE (the v4 series and the seed's documentation text): with a paravisor
 * on SNP or TDX, first a confidential attempt over the paravisor (a
 * non-isolated HvPostMessage the paravisor intercepts); if it fails, a plain
 * attempt over the hypervisor SynIC (GHCB or tdcall). Without a paravisor
 * or without hardware isolation, only the plain attempt.
 */
enum cvmbus_client_detect_strategy {
	CVMBUS_CLIENT_DETECT_CPUID = 0,
	CVMBUS_CLIENT_DETECT_PROBE = 1,
};

/* What the glue read from the platform. */
struct cvmbus_client_platform {
	bool paravisor_present;            /* CPUID 0x4000000C EAX bit 0 */
	enum hv_isolation_type isolation;  /* CPUID 0x4000000C EBX 3:0 */
	bool confidential_vmbus_available; /* CPUID 0x40000082 EAX bit 3 */
};

struct cvmbus_client_attempt {
	enum cvmbus_client_path path;
	bool confidential;
};

struct cvmbus_client_detect {
	enum cvmbus_client_detect_strategy strategy;
	struct cvmbus_client_platform platform;
	unsigned int next; /* attempts handed out so far */
};

void cvmbus_client_detect_init(struct cvmbus_client_detect *d,
			       enum cvmbus_client_detect_strategy strategy,
			       const struct cvmbus_client_platform *platform);
/* 1 and *out set to the next attempt, or 0 when every attempt was used. */
int cvmbus_client_detect_next(struct cvmbus_client_detect *d, struct cvmbus_client_attempt *out);
/* The leaf values as the CPUID instruction returns them. */
void cvmbus_client_platform_from_cpuid(struct cvmbus_client_platform *p,
				       const struct hv_cpuid_result *isolation_config,
				       const struct hv_cpuid_result *virt_stack_properties);

#endif /* CVMBUS_CLIENT_H */
