/* SPDX-License-Identifier: MIT */
/*
 * The guest's VMBus glue (layer src/client, above the pure client state
 * machine in client.h, the platform model in platform.h and the channel in
 * channel.h): what the Linux guest's vmbus_drv.c, hv.c and connection.c do
 * with the Confidential VMBus series, over the simulated platform. It sets
 * up both SynICs on every vCPU (private paravisor pages and SINT2 without
 * the proxy bit when the connection is confidential; host-visible
 * hypervisor pages; SINT2 on both SynICs when a paravisor is present),
 * takes SINT2 interrupts (both event pages, then both message pages; EOM to
 * the paravisor when confidential), runs the client on its own control
 * thread ("vmbus-guest") fed by the interrupt handler, detects Confidential
 * VMBus by CPUID (merged series) or by probing (v4 text), optionally
 * attests the paravisor (a signed report of its launch measurement) before
 * trusting it with the confidential connection, and gives VSC
 * drivers and tests a blocking API: connect, offers, open (a ready
 * cvmbus_channel over the ring pages), close, GPADLs, release, unload.
 * docs/CONTROL_PLANE.md fixes the conventions it shares with the servers
 * (connection ids, which SynIC, which path).
 *
 * Threads: every blocking call waits through src/exec, so the guest runs
 * unchanged under the deterministic executor. Calls may come from any
 * executor thread but not from the control thread itself (event callbacks)
 * nor from a vCPU thread (both get -EDEADLK). start, connect, unload, stop
 * and destroy change the SynICs: call them from one thread, with no other
 * call of the guest in progress when stopping.
 *
 * Errors are negative errno values: -EINVAL (bad argument or config),
 * -EBUSY (the state does not allow it now, or another connect is running),
 * -ENOTCONN (not connected), -ENOENT (no such relid or offer), -ENOMEM,
 * -EOPNOTSUPP (the platform has no path this configuration needs),
 * -ESHUTDOWN (the guest is stopping), -EALREADY, -EACCES (the paravisor
 * failed attestation under CVMBUS_GUEST_ATTEST_REQUIRE); and, from the client's
 * outcome events (client.h): -ETIMEDOUT, -EDOM, -EAGAIN, -EDQUOT, -ENOBUFS,
 * -ENODEV.
 */
#ifndef CVMBUS_GUEST_H
#define CVMBUS_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/attest.h>
#include <cvmbus/channel.h>
#include <cvmbus/client.h>
#include <cvmbus/hv.h>
#include <cvmbus/platform.h>
#include <cvmbus/trace.h>
#include <cvmbus/wire.h>

struct cvmbus_guest;

/* Linux's HYPERVISOR_CALLBACK_VECTOR on x86: the SINT2 vector by default. */
#define CVMBUS_GUEST_DEFAULT_VECTOR 0xF3u
/* Messages the interrupt handler may hand to the control thread before it
 * leaves further ones in their SynIC slot (back-pressure, not loss). */
#define CVMBUS_GUEST_DEFAULT_MSG_QUEUE 64u
#define CVMBUS_GUEST_MAX_MSG_QUEUE     4096u
/* Detection makes at most this many connect attempts (PROBE: two). */
#define CVMBUS_GUEST_MAX_ATTEMPTS 2u
/* Reasons kept in cvmbus_guest_info.exposure. */
#define CVMBUS_GUEST_MAX_EXPOSURE 16u

/* Whether SINT2 is programmed auto-EOI. Linux follows the hypervisor's
 * recommendation: auto-EOI on x86, not on arm64 (where the handler ends
 * the interrupt itself). */
enum cvmbus_guest_auto_eoi {
	CVMBUS_GUEST_AUTO_EOI_DEFAULT = 0, /* per architecture, as above */
	CVMBUS_GUEST_AUTO_EOI_ON = 1,
	CVMBUS_GUEST_AUTO_EOI_OFF = 2,
};

/* A connect attempt of the detection is about to start: index 0.., what it
 * tries. Runs on the thread that called cvmbus_guest_connect(), before the
 * SynICs are set up for it; for tools and tests (a scripted paravisor that
 * goes away). */
typedef void (*cvmbus_guest_attempt_fn)(void *ctx, unsigned int index,
					const struct cvmbus_client_attempt *attempt);
/* Each client event (offer, rescind, ...), after the guest processed it.
 * Runs on the control thread: it must not call the guest's blocking API
 * (ring a doorbell instead). On RESCIND the channel is already closed
 * (its waits return -ESHUTDOWN); the driver then calls
 * cvmbus_guest_release(). */
typedef void (*cvmbus_guest_event_fn)(void *ctx, const struct cvmbus_client_event *ev);

/* Whether the guest attests the paravisor before it trusts it with
 * Confidential VMBus (docs/ATTESTATION.md, "The guest's decision"). */
enum cvmbus_guest_attest_policy {
	CVMBUS_GUEST_ATTEST_NONE = 0,     /* do not attest (the CPUID bit decides) */
	CVMBUS_GUEST_ATTEST_REQUIRE = 1,  /* not verified: connect fails with -EACCES */
	CVMBUS_GUEST_ATTEST_FALLBACK = 2, /* not verified: warn, connect over the
					   * host-visible path, not confidential */
};

struct cvmbus_guest_config {
	struct cvmbus_platform *platform; /* required; the guest uses its vCPUs */
	/* Highest protocol version to try; 0: 6.0. */
	uint32_t max_version;
	enum cvmbus_client_detect_strategy detect;
	/* InitiateContact.msg_vtl (Linux: ms_hyperv.vtl, 0 for VTL0). */
	uint8_t msg_vtl;
	/* The vCPU whose SynIC gets control messages (InitiateContact
	 * target_vcpu) and whose carrier pages the control thread posts on. */
	uint32_t msg_vp;
	/* SINT2 vector, >= 16; 0: CVMBUS_GUEST_DEFAULT_VECTOR. */
	uint8_t sint_vector;
	enum cvmbus_guest_auto_eoi auto_eoi;
	/* Client waits (0: the client's defaults, client.h). */
	uint64_t contact_timeout_ns;
	uint64_t offers_timeout_ns;
	uint64_t reply_timeout_ns;
	/* ISR -> control thread queue; 0: CVMBUS_GUEST_DEFAULT_MSG_QUEUE. */
	unsigned int msg_queue_depth;
	cvmbus_guest_attempt_fn on_attempt;
	void *attempt_ctx;
	cvmbus_guest_event_fn on_event;
	void *event_ctx;
	/* Attestation of the paravisor before the confidential attempt. With
	 * a policy other than NONE, both the measurements (count >= 1) and
	 * the key are required; cvmbus_guest_create() copies the list and
	 * parses the key (EC P-384, SubjectPublicKeyInfo PEM; -EINVAL if it is
	 * not one), so neither needs to outlive it. pem_len 0: strlen. */
	enum cvmbus_guest_attest_policy attest_policy;
	const uint8_t (*expected_measurements)[CVMBUS_ATTEST_DIGEST_SIZE];
	size_t expected_count;
	const char *attest_pubkey_pem;
	size_t attest_pubkey_pem_len;
};

enum cvmbus_guest_state {
	CVMBUS_GUEST_CREATED = 0, /* configured, nothing touched */
	CVMBUS_GUEST_STARTED,     /* SynICs set up, handler and thread running */
	CVMBUS_GUEST_CONNECTED,   /* negotiated, offers delivered */
	CVMBUS_GUEST_UNLOADED,    /* Unload answered (or timed out) */
	CVMBUS_GUEST_STOPPED,     /* thread joined, SynICs torn down */
};

/* ---- Lifecycle --------------------------------------------------------- */

/* Checks the config, allocates; touches nothing of the platform.
 * 0, -EINVAL, -ENOMEM. */
int cvmbus_guest_create(const struct cvmbus_guest_config *cfg, struct cvmbus_guest **out);
/*
 * Reads CPUID (0x4000000C, 0x40000082), creates the client, installs the
 * interrupt handler, sets up the SynICs of every vCPU for the first
 * detection attempt (on each vCPU, with cvmbus_vcpu_call) and starts the
 * control thread. 0, -EBUSY (not CREATED), -EOPNOTSUPP, -ENOMEM, or the
 * register access's error; on failure everything is undone.
 */
int cvmbus_guest_start(struct cvmbus_guest *g);
/*
 * Detection and negotiation: for each attempt of the strategy, the SynICs
 * are set up for it (re-done when an attempt changes confidentiality, as
 * the v4 series re-allocates them), then InitiateContact goes out on the
 * attempt's path; the first CONNECTED wins. Then RequestOffers; returns
 * once AllOffersDelivered arrived. 0 or the last attempt's status.
 */
int cvmbus_guest_connect(struct cvmbus_guest *g);
/*
 * With an attestation policy, before the first confidential attempt of each
 * connect: a fresh random 64-byte nonce, a report requested over the
 * paravisor trap into a private guest page (cvmbus_attest_request),
 * verified with cvmbus_attest_verify_ex() against the configured key, the
 * expected measurements, the nonce and the isolation type CPUID reported.
 * Verified: the attempt goes on. Not verified: REQUIRE returns -EACCES
 * before any InitiateContact; FALLBACK logs a warning and connects over the
 * hypervisor SynIC instead (proxy bit set, nothing confidential). The
 * outcome is in cvmbus_guest_info.attestation and in the trace; the check
 * alone is cvmbus_guest_attest() below.
 */

/* Unload (UnloadResponse); every channel object is destroyed, so drivers
 * must have stopped using them. */
int cvmbus_guest_unload(struct cvmbus_guest *g);
/* Stops and joins the control thread (waiting callers get -ESHUTDOWN),
 * tears the SynICs of every vCPU down and removes the handler. Channels
 * still open are closed and destroyed (no CloseChannel is sent). The
 * client stays, for reports, until destroy. Idempotent. */
void cvmbus_guest_stop(struct cvmbus_guest *g);
/* Stops if needed, then frees the client (its pages made private first)
 * and everything else. Safe on NULL. */
void cvmbus_guest_destroy(struct cvmbus_guest *g);

/* ---- Offers ---------------------------------------------------------------- */

struct cvmbus_guest_offer {
	uint32_t relid;
	struct cvmbus_guid if_type;     /* device class */
	struct cvmbus_guid if_instance; /* this device */
	uint16_t flags;                 /* offer chn_flags */
	uint16_t sub_channel_index;
	uint32_t connection_id;         /* HvSignalEvent target */
	bool confidential_ring;         /* 0x2 */
	bool confidential_external;     /* 0x4 */
	bool rescinded;
	bool open;
};

/* Up to cap offers in relid order; *count gets how many exist. */
int cvmbus_guest_offers(struct cvmbus_guest *g, struct cvmbus_guest_offer *out, size_t cap,
			size_t *count);
/* The first (lowest relid) offer of that class that is not rescinded. */
int cvmbus_guest_find_offer(struct cvmbus_guest *g, const struct cvmbus_guid *if_type,
			    struct cvmbus_guest_offer *out);

/* ---- Channels --------------------------------------------------------------- */

struct cvmbus_guest_open_params {
	/* Ring sizes, control page included: multiples of 4096, >= 8192. */
	uint32_t send_bytes;
	uint32_t recv_bytes;
	const void *user_data; /* OpenChannel user data, <= 120 bytes */
	size_t user_data_len;
	/* Largest inbound packet; 0: CVMBUS_CHANNEL_DEFAULT_MAX_PACKET. */
	size_t max_packet;
	/* vCPU that takes the channel's interrupts (OpenChannel target_vp). */
	uint32_t target_vp;
};

/*
 * Opens channel relid: the client allocates the ring (host-visible unless
 * the offer asks for a confidential ring), the guest formats both rings at
 * once (before the GPADL can be answered, so before any server can attach),
 * then GPADL and OpenChannel go out. On OpenResult success *out is a
 * channel (GUEST endpoint over the guest's view of the ring pages) whose
 * signal is an HvSignalEvent on the offer's connection id: over the
 * paravisor trap when the connection is confidential, else over the
 * hypervisor's path. The guest owns it: release it with
 * cvmbus_guest_close() or cvmbus_guest_release().
 */
int cvmbus_guest_open(struct cvmbus_guest *g, uint32_t relid,
		      const struct cvmbus_guest_open_params *p, struct cvmbus_channel **out);
/* Closes the channel object at once (its waits return -ESHUTDOWN; nobody
 * may still be inside it when this returns), then CloseChannel and the
 * ring's teardown; returns when the ring pages are private and freed. */
int cvmbus_guest_close(struct cvmbus_guest *g, uint32_t relid);
/* A device buffer GPADL of `bytes` (multiple of 4096) in guest RAM:
 * host-visible unless the offer has confidential external memory. Returns
 * once GpadlCreated arrived; *handle and *gpa describe it. */
int cvmbus_guest_gpadl_create(struct cvmbus_guest *g, uint32_t relid, uint64_t bytes,
			      uint32_t *handle, uint64_t *gpa);
int cvmbus_guest_gpadl_teardown(struct cvmbus_guest *g, uint32_t relid, uint32_t handle);
/* After a rescind: close if open, tear GPADLs down, RelIdReleased. */
int cvmbus_guest_release(struct cvmbus_guest *g, uint32_t relid);

/* ---- Reports ----------------------------------------------------------------- */

/* How one SynIC of one vCPU was set up, and why. Pages: 0 when absent. */
struct cvmbus_guest_synic_side {
	bool used;                /* this SynIC's pages are scanned */
	uint64_t simp_gpa;        /* plain GPA (boundary masked off) */
	uint64_t siefp_gpa;
	bool pages_private;       /* the host cannot see them */
	bool pages_supplied;      /* not the guest's: supplied, read from SIMP/SIEFP */
	const char *pages_why;    /* one short sentence */
	enum cvmbus_path reg_path; /* how the guest reached its registers */
	bool sint2_written;
	uint64_t sint2;           /* the value written (proxy bit included) */
	bool scontrol_enabled;    /* enabled by the guest */
};

struct cvmbus_guest_synic_report {
	uint32_t vp;
	bool confidential; /* the mode the SynICs were set up for */
	struct cvmbus_guest_synic_side hypervisor;
	struct cvmbus_guest_synic_side paravisor;
	enum cvmbus_path eom_path; /* where EOM goes in this mode */
	uint32_t eom_reg;          /* EOM register number written */
};

struct cvmbus_guest_attempt_record {
	struct cvmbus_client_attempt attempt;
	enum cvmbus_path post_path; /* the HvPostMessage path it used */
	int status;                 /* 0: connected */
};

struct cvmbus_guest_detection {
	enum cvmbus_client_detect_strategy strategy;
	struct cvmbus_client_platform platform; /* as CPUID said */
	unsigned int attempts;
	struct cvmbus_guest_attempt_record attempt[CVMBUS_GUEST_MAX_ATTEMPTS];
	int winner; /* index of the attempt that connected, -1 if none */
};

struct cvmbus_guest_exposure {
	char reason[CVMBUS_MEM_REASON_MAX_LEN + 1];
	uint64_t pages; /* host-visible now, made so by the guest */
};

/* What an attestation decided. */
enum cvmbus_guest_attest_decision {
	CVMBUS_GUEST_ATTEST_NOT_RUN = 0,      /* no attestation (policy NONE, or no
					       * confidential attempt to guard) */
	CVMBUS_GUEST_ATTEST_CHECK_ONLY,       /* cvmbus_guest_attest(): nothing decided */
	CVMBUS_GUEST_ATTEST_CONFIDENTIAL,     /* verified: the confidential attempt went on */
	CVMBUS_GUEST_ATTEST_REFUSED,          /* REQUIRE, not verified: connect refused */
	CVMBUS_GUEST_ATTEST_FELL_BACK,        /* FALLBACK, not verified: not confidential */
};

/* One attestation: what the report said and what the guest made of it. */
struct cvmbus_guest_attestation {
	enum cvmbus_guest_attest_policy policy;
	enum cvmbus_guest_attest_decision decision;
	/* 0: verified. -EACCES: the verifier refused the report (reason,
	 * detail). Otherwise the request or the verifier failed (-EPERM,
	 * -EOPNOTSUPP, -EFAULT, -EIO, -ENOMEM): reason INTERNAL. */
	int status;
	enum cvmbus_attest_reason reason;
	char reason_text[48]; /* cvmbus_attest_reason_str(), or "report request failed" */
	char detail[160];     /* one line, lowercase */
	/* The measurement the report claimed (whenever it could be parsed);
	 * it is the paravisor's only when status is 0. */
	bool measurement_known;
	uint8_t measurement[CVMBUS_ATTEST_DIGEST_SIZE];
	char measurement_hex[2 * CVMBUS_ATTEST_DIGEST_SIZE + 1];
	size_t measurement_index; /* status 0: which expected one matched */
	uint64_t report_gpa;      /* the private page the report was written to */
};

struct cvmbus_guest_info {
	enum cvmbus_guest_state state;
	enum cvmbus_arch arch;
	enum hv_isolation_type isolation;
	bool paravisor;
	uint64_t shared_gpa_boundary; /* from CPUID */
	uint32_t version;             /* 0 until connected */
	uint32_t features;
	uint32_t msg_conn_id;
	bool confidential;            /* the connection (client) is confidential */
	enum cvmbus_path post_path;   /* HvPostMessage path of the connection */
	enum cvmbus_path signal_path; /* HvSignalEvent path of its channels */
	struct cvmbus_guest_detection detection;
	unsigned int exposure_count;
	struct cvmbus_guest_exposure exposure[CVMBUS_GUEST_MAX_EXPOSURE];
	/* The attestation of the last connect (decision NOT_RUN if none). */
	struct cvmbus_guest_attestation attestation;
};

struct cvmbus_guest_channel_report {
	uint32_t relid;
	uint16_t flags;
	bool confidential_ring;
	bool confidential_external;
	bool rescinded;
	bool open;
	uint32_t connection_id;
	enum cvmbus_path signal_path;
	uint32_t target_vp;
	uint64_t ring_gpa;
	uint32_t send_bytes, recv_bytes;
	bool ring_private; /* the ring pages' state now */
	/* Which SynIC its interrupts came from: event flags found per page. */
	uint64_t events[CVMBUS_CLIENT_PATH_COUNT];
	uint64_t signals, signal_failures;
};

struct cvmbus_guest_stats {
	uint64_t interrupts;           /* handler runs */
	uint64_t other_sint;           /* interrupts of a SINT other than 2 */
	uint64_t messages[CVMBUS_CLIENT_PATH_COUNT]; /* taken per SynIC */
	uint64_t other_messages;       /* not HVMSG_VMBUS: released, not used */
	uint64_t eoms[CVMBUS_PATH_COUNT]; /* EOM writes per path */
	uint64_t eom_failures;
	uint64_t events[CVMBUS_CLIENT_PATH_COUNT]; /* event flags found per SynIC */
	uint64_t unknown_relid_events; /* a flag with no channel behind it */
	uint64_t queue_stalls;         /* messages left in a slot: queue full */
	uint64_t rescans;
	uint64_t posts, post_failures; /* HvPostMessage calls, non-SUCCESS */
	uint64_t pages_leaked;         /* SynIC pages whose state is unknown */
};

void cvmbus_guest_get_info(struct cvmbus_guest *g, struct cvmbus_guest_info *out);
void cvmbus_guest_get_stats(struct cvmbus_guest *g, struct cvmbus_guest_stats *out);
/* -EINVAL for a vCPU out of range. */
int cvmbus_guest_synic_report(struct cvmbus_guest *g, uint32_t vp,
			      struct cvmbus_guest_synic_report *out);
/* -ENOENT if relid was never offered (or was released). */
int cvmbus_guest_channel_report(struct cvmbus_guest *g, uint32_t relid,
				struct cvmbus_guest_channel_report *out);
/* The client's counters, copied on the control thread (or directly once
 * stopped). */
int cvmbus_guest_client_stats(struct cvmbus_guest *g, struct cvmbus_client_stats *out);
enum cvmbus_guest_state cvmbus_guest_state(struct cvmbus_guest *g);
const char *cvmbus_guest_state_name(enum cvmbus_guest_state state);

/* ---- Attestation ---------------------------------------------------------------- */

/* The check connect makes, on its own and deciding nothing (decision
 * CHECK_ONLY; the info's record is left alone): for tools and tests. Needs
 * a started guest, the key and the measurements. 0 verified, -EACCES
 * refused (out says why), -EINVAL (no key or measurements configured),
 * -EBUSY (not started, or stopped), or the request's error; out is filled
 * in every case but -EINVAL and -EBUSY. Any thread; several at once are
 * fine. */
int cvmbus_guest_attest(struct cvmbus_guest *g, struct cvmbus_guest_attestation *out);
/* "none", "require", "fallback"; "not-run", "check-only", "confidential",
 * "refused", "fell-back". */
const char *cvmbus_guest_attest_policy_name(enum cvmbus_guest_attest_policy policy);
const char *cvmbus_guest_attest_decision_name(enum cvmbus_guest_attest_decision decision);

#endif /* CVMBUS_GUEST_H */
