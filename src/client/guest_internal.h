/* SPDX-License-Identifier: MIT */
/*
 * Internals of the guest's VMBus glue (src/client: guest.c, guest_synic.c,
 * guest_channel.c): the guest record shared by the control thread, the
 * interrupt handler and the API callers, and the calls the three files
 * make into each other. The pure client (client_internal.h) is reached only
 * through cvmbus/client.h from here.
 *
 * Who touches what:
 *   control thread  the client (not thread-safe: nobody else calls it while
 *                   the thread runs), the pending-request list, post_path;
 *   vCPU k          its guest_vp pages (set up and torn down on vCPU k
 *                   itself with cvmbus_vcpu_call, read by its handler);
 *   anyone          the message queue (q_lock), the request queue
 *                   (req_lock), the relid -> channel table (chan_lock), the
 *                   records for reports (info_lock), atomic counters, the
 *                   attestation key and measurement list (read-only).
 * Lock order: info_lock -> chan_lock -> q_lock / req_lock; platform calls
 * (register writes, hypercalls) are never made with a guest lock held,
 * except chan_lock around cvmbus_channel_notify(), which only rings
 * doorbells.
 */
#ifndef CVMBUS_CLIENT_GUEST_INTERNAL_H
#define CVMBUS_CLIENT_GUEST_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cvmbus/attest.h>
#include <cvmbus/channel.h>
#include <cvmbus/client.h>
#include <cvmbus/exec.h>
#include <cvmbus/guest.h>
#include <cvmbus/platform.h>

#define GUEST_NRELIDS (CVMBUS_CLIENT_MAX_RELID + 1u)
#define GUEST_PAGE    HV_PAGE_SIZE

/* Control thread doorbell bits. */
#define GUEST_BELL_MSG  0x1ull /* the handler queued a message */
#define GUEST_BELL_REQ  0x2ull /* an API caller queued a request */
#define GUEST_BELL_STOP 0x4ull

/* A message the handler copied out of a SynIC slot. */
struct guest_msg {
	struct hv_message msg;
	enum cvmbus_client_path source;
};

/* One vCPU's SynIC state as the guest keeps it. Pages and allocation
 * records are written only on the vCPU's own thread (setup, teardown) and
 * read there by the handler, so they need no lock; the report copy is
 * published under info_lock. */
struct guest_vp {
	uint32_t index;
	struct hv_message_page *msg[CVMBUS_CLIENT_PATH_COUNT];
	struct hv_event_flags_page *evt[CVMBUS_CLIENT_PATH_COUNT];
	/* Pages the guest allocated (0 pages: none). */
	uint64_t hyp_alloc_gpa;
	bool hyp_alloc;
	bool hyp_alloc_shared; /* made host-visible: undo before freeing */
	uint64_t para_alloc_gpa;
	bool para_alloc;
	/* The handler left a message in a slot because the queue was full:
	 * the control thread rescans this vCPU once it made room. */
	_Atomic bool stalled;
	struct cvmbus_guest_synic_report rep; /* info_lock */
};

/* Per relid: what reports show. The counters are bumped without a lock. */
struct guest_offer_rec {
	bool present;
	struct cvmbus_guest_offer offer;
	enum cvmbus_path signal_path;
	uint32_t target_vp;
	uint64_t ring_gpa;
	uint32_t send_bytes, recv_bytes;
	_Atomic uint64_t events[CVMBUS_CLIENT_PATH_COUNT];
	_Atomic uint64_t signals, signal_failures;
};

/* A channel the guest opened: the device-facing channel and its ops. */
/* A device buffer the driver made through its channel's ops. */
struct guest_chan_gpadl {
	struct guest_chan_gpadl *next;
	uint32_t id;
	uint64_t *pfns; /* what cvmbus_gpadl_info.pfns points to */
};

struct guest_chan {
	struct cvmbus_channel ch; /* what the driver gets */
	struct cvmbus_guest *g;
	uint32_t relid;
	uint32_t connection_id;
	enum cvmbus_path signal_path;
	struct cvmbus_channel_ops ops;
	bool ready; /* OPEN_DONE(0) seen: handed to the driver */
	/* The driver's buffers (guest_channel.c). Their teardown waits for
	 * the channel's close: cvmbus_guest_close takes them and tears each
	 * down once CloseChannel is done. */
	struct cvmbus_mutex gpadl_lock;
	struct guest_chan_gpadl *gpadls;
};

/* guest_channel.c: take the ids of the driver's buffers of relid's channel
 * (the channel keeps no record of them after this). *ids is malloc'd (NULL
 * when none); returns how many. */
size_t client_guest_chan_take_gpadls(struct cvmbus_guest *g, uint32_t relid, uint32_t **ids);

enum guest_req_kind {
	GUEST_REQ_CONNECT = 1,
	GUEST_REQ_OFFERS,
	GUEST_REQ_OPEN,
	GUEST_REQ_CLOSE,
	GUEST_REQ_GPADL_CREATE,
	GUEST_REQ_GPADL_TEARDOWN,
	GUEST_REQ_RELEASE,
	GUEST_REQ_UNLOAD,
	GUEST_REQ_CALL, /* run a function on the control thread */
};

/* A request from an API caller, on the caller's stack: the control thread
 * runs it, parks it on the pending list when the outcome is an event, and
 * completes it; after the completion it never touches it again. */
struct guest_req {
	enum guest_req_kind kind;
	uint32_t relid;
	uint32_t gpadl;
	struct cvmbus_client_attempt attempt;
	const struct cvmbus_guest_open_params *open;
	uint64_t bytes;
	void (*call)(struct cvmbus_guest *g, void *arg);
	void *arg;
	/* An error found after the client accepted the request (the channel
	 * object could not be built): reported when the outcome arrives. */
	int deferred;
	/* Out. */
	int status;
	uint64_t gpa;
	struct guest_chan *chan;
	/* Event types (bit per enum cvmbus_client_event_type) that end it;
	 * relid and gpadl must match too when the kind names them. */
	uint32_t ev_mask;
	struct cvmbus_completion done;
	struct guest_req *next;
};

struct guest_stats {
	_Atomic uint64_t interrupts, other_sint;
	_Atomic uint64_t messages[CVMBUS_CLIENT_PATH_COUNT];
	_Atomic uint64_t other_messages;
	_Atomic uint64_t eoms[CVMBUS_PATH_COUNT];
	_Atomic uint64_t eom_failures;
	_Atomic uint64_t events[CVMBUS_CLIENT_PATH_COUNT];
	_Atomic uint64_t unknown_relid_events;
	_Atomic uint64_t queue_stalls, rescans;
	_Atomic uint64_t posts, post_failures;
	_Atomic uint64_t pages_leaked;
};

struct cvmbus_guest {
	struct cvmbus_guest_config cfg;
	struct cvmbus_platform *p;
	struct cvmbus_exec *exec;
	struct cvmbus_mem *mem;
	struct cvmbus_trace *trace;

	/* What the platform is, as CPUID and the configuration say. */
	enum cvmbus_arch arch;
	enum hv_isolation_type isolation;
	bool paravisor;
	uint64_t boundary;
	uint8_t vector;
	bool auto_eoi;
	enum cvmbus_path hyp_reg_path;  /* NONE: the hypervisor's registers are out of reach */
	enum cvmbus_path hyp_call_path; /* the hypervisor's hypercall path */
	unsigned int nvp;
	struct guest_vp *vp;

	struct cvmbus_client *cli;
	struct cvmbus_client_detect detect;

	/* Attestation (guest.c): the verifier's key and the accepted
	 * measurements, the guest's own copies made at create (NULL / 0 when
	 * not configured); read-only afterwards, so any thread may use them. */
	struct cvmbus_attest_pubkey *attest_key;
	uint8_t (*attest_expect)[CVMBUS_ATTEST_DIGEST_SIZE];
	size_t attest_expect_count;

	/* The mode the SynICs are set up for: read by the handler to route
	 * EOM, written (between setups) by the connecting thread. */
	_Atomic bool synic_confidential;
	bool synic_up;
	bool isr_set;
	/* HvPostMessage path of the current attempt: control thread only. */
	enum cvmbus_path post_path;

	/* Handler -> control thread. */
	struct cvmbus_mutex q_lock;
	struct guest_msg *q;
	unsigned int q_head, q_count, q_cap;
	struct cvmbus_doorbell bell;

	/* API callers -> control thread. */
	struct cvmbus_mutex req_lock;
	struct guest_req *req_head, *req_tail;
	bool req_closed;               /* the thread is stopping: refuse */
	struct guest_req *pending;     /* control thread only */
	struct cvmbus_thread *thread;

	/* relid -> open (or opening) channel: what the handler notifies. */
	struct cvmbus_mutex chan_lock;
	struct guest_chan **chans;

	/* Reports. */
	struct cvmbus_mutex info_lock;
	enum cvmbus_guest_state state;
	bool busy; /* a connect or unload runs (API callers serialise on it) */
	struct cvmbus_guest_info info;
	struct guest_offer_rec *offers; /* GUEST_NRELIDS */
	struct guest_stats stats;
};

/* ---- guest_synic.c ---------------------------------------------------- */

/* The register number of a SynIC register on this architecture. */
enum guest_reg { GUEST_REG_SCONTROL, GUEST_REG_SIMP, GUEST_REG_SIEFP, GUEST_REG_EOM, GUEST_REG_SINT2 };
uint32_t client_guest_reg(const struct cvmbus_guest *g, enum guest_reg r);
/* Set up (or tear down) both SynICs of every vCPU for a mode, each on its
 * own vCPU. Setup failing on one vCPU tears the others down again. */
int client_guest_synic_setup(struct cvmbus_guest *g, bool confidential);
void client_guest_synic_teardown(struct cvmbus_guest *g);
/* The platform interrupt handler. */
void client_guest_isr(void *ctx, struct cvmbus_platform *p, uint32_t vp,
		      enum cvmbus_synic_kind synic, uint32_t sint, uint32_t vector);
/* Control thread: rescan vCPUs whose handler left a message behind. */
void client_guest_rescan(struct cvmbus_guest *g);

/* ---- guest_channel.c -------------------------------------------------- */

/* Right after cvmbus_client_open() succeeded: build and FORMAT the channel
 * over the ring the client allocated, and make it reachable by the
 * handler. 0, -ENOMEM, or the view's / ring's error. */
int client_guest_chan_create(struct cvmbus_guest *g, uint32_t relid,
			     const struct cvmbus_guest_open_params *p, struct guest_chan **out);
/* Unreachable by the handler, closed, destroyed, freed. NULL-safe. */
void client_guest_chan_destroy(struct cvmbus_guest *g, struct guest_chan *gc);
/* The channel of relid, or NULL (chan_lock held by the caller). */
struct guest_chan *client_guest_chan_get_locked(struct cvmbus_guest *g, uint32_t relid);
/* The handler found event flag `relid` set in `source`'s page. */
bool client_guest_chan_notify(struct cvmbus_guest *g, uint32_t relid,
			      enum cvmbus_client_path source);
/* The HvSignalEvent path of a channel on a connection of that kind. */
enum cvmbus_path client_guest_signal_path(const struct cvmbus_guest *g, bool confidential);

#endif /* CVMBUS_CLIENT_GUEST_INTERNAL_H */
