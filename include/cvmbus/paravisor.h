/* SPDX-License-Identifier: MIT */
/*
 * The paravisor (OpenHCL-style, VTL2): the trusted party inside the guest's
 * partition. It runs the VMBus server the guest talks to (src/server through
 * its glue, role PARAVISOR), its own devices (VSPs whose channels can be
 * confidential), and the relay: a VMBus client of its own that connects to
 * the host's server, takes the host's offers and re-offers them to the guest
 * with the confidential bits cleared, relids assigned by the paravisor's
 * server, and the data plane left between guest and host.
 *
 * Layer: src/paravisor, above src/server and src/client (whose pure state
 * machines it drives) and src/hw. docs/CONTROL_PLANE.md fixes the connection
 * ids and the signalling conventions it follows; docs/PARAVISOR.md has the
 * relay's sequences.
 *
 * Threads: the server glue's (ports, service thread, device loops) and one
 * relay thread ("vmbus-relay") that alone drives the relay's client. Every
 * wait goes through src/exec, so the paravisor runs under the
 * deterministic executor; start, stop and destroy come from one thread of
 * the run, and stop joins everything the paravisor started.
 *
 * Errors are negative errno values: -EINVAL (bad argument; a platform
 * without a paravisor; confidential_vmbus that differs from the platform's
 * CPUID bit), -ENOMEM, -EALREADY (started twice), -ESHUTDOWN (stopped), and
 * from the relay's start: -ETIMEDOUT, -EDOM (the host accepted no version),
 * -EPROTONOSUPPORT (the host lacks 6.0 with guest-specified signal
 * parameters), or what the server glue and cvmbus_port_add return.
 */
#ifndef CVMBUS_PARAVISOR_H
#define CVMBUS_PARAVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/platform.h>
#include <cvmbus/server.h>
#include <cvmbus/server_glue.h>

struct cvmbus_paravisor;

/* Where the host's replies to the relay arrive: a message port the
 * paravisor owns (see docs/CONTROL_PLANE.md). */
#define CVMBUS_RELAY_INBOUND_CONNECTION_ID 0x800075u

struct cvmbus_paravisor_config {
	struct cvmbus_platform *platform; /* required; must have a paravisor */
	/* Grant confidential channels to a trusted InitiateContact (and so
	 * offer the 0x2/0x4 flags on the paravisor's own devices). The platform
	 * sets the CPUID bit from its own configuration; keep them equal. */
	bool confidential_vmbus;
	/* Relay the host's offers to the guest. */
	bool relay;
	uint32_t max_version;         /* of the guest-facing server; 0: 6.0 */
	uint32_t host_connection_id;  /* 0: VMBUS_MESSAGE_REDIRECT_CONNECTION_ID */
	uint64_t relay_timeout_ns;    /* each relay step; 0: 5 s */
};

int cvmbus_paravisor_create(const struct cvmbus_paravisor_config *cfg,
			    struct cvmbus_paravisor **out);
/* A device of the paravisor itself. The offer's confidential flags are kept
 * as given when confidential_vmbus is on (the server strips them for a
 * connection without the feature) and cleared otherwise. */
int cvmbus_paravisor_add_device(struct cvmbus_paravisor *pv,
				const struct cvmbus_offer_params *offer,
				const struct cvmbus_vsp_ops *ops, void *ctx, uint32_t *relid);
/* Start the guest-facing server; with relay, connect to the host, wait for
 * its offers and re-offer them (blocks until that is done or timed out).
 * On failure the server is stopped again (the paravisor is then stopped). */
int cvmbus_paravisor_start(struct cvmbus_paravisor *pv);
/* Stop: close relayed channels on the host, unload the relay, stop the
 * server; every thread joined. */
void cvmbus_paravisor_stop(struct cvmbus_paravisor *pv);
void cvmbus_paravisor_destroy(struct cvmbus_paravisor *pv);
/* The host is gone (its process died, its link broke): the relay rescinds
 * every relayed channel to the guest, answers what the guest has pending
 * with failures, and never talks to the host again. From any thread; does
 * not wait. The paravisor's own channels are untouched. */
void cvmbus_paravisor_host_lost(struct cvmbus_paravisor *pv);
/* A new host is up where a lost one was: the relay contacts it afresh and
 * re-offers its channels to the guest under new relids (the guest sees
 * them as new offers and may open them). Blocks until they are offered or
 * the start failed, like cvmbus_paravisor_start: 0, -EINVAL (no relay),
 * -EBUSY (the host was not lost), or the start's error. */
int cvmbus_paravisor_host_restarted(struct cvmbus_paravisor *pv);

struct cvmbus_server_glue *cvmbus_paravisor_server(struct cvmbus_paravisor *pv);

/* One relayed channel: the relid the guest sees (assigned by the
 * paravisor's server) and the host's own. */
struct cvmbus_relay_channel {
	uint32_t guest_relid;  /* 0: the paravisor's server refused the offer */
	uint32_t host_relid;
	struct cvmbus_guid if_type;
	struct cvmbus_guid if_instance;
	uint16_t flags;        /* as re-offered (confidential bits cleared) */
	bool open;             /* open on the host for the guest */
	bool rescinded;        /* by the host; the relay is releasing it */
};

struct cvmbus_relay_info {
	bool connected;        /* the relay's client negotiated with the host */
	uint32_t host_version; /* what it negotiated */
	uint32_t host_features;
	size_t channels;       /* relayed offers */
	uint64_t opens, closes, gpadls, rescinds;
	uint64_t refused;      /* host messages the relay refused */
	/* Host offers whose confidential bits (0x2/0x4/0x8) the relay cleared. */
	uint64_t flags_cleared;
	/* Messages on the relay's inbound port from anyone but the host. */
	uint64_t dropped;
	/* Host offers the paravisor's server would not take (e.g. the same
	 * instance as a device of the paravisor's own). */
	uint64_t offers_refused;
	/* Times the relay started over with a new host. */
	uint64_t restarts;
};

void cvmbus_paravisor_relay_info(struct cvmbus_paravisor *pv, struct cvmbus_relay_info *out);
/* The relayed channels, at most cap; returns how many there are. */
size_t cvmbus_paravisor_relay_channels(struct cvmbus_paravisor *pv,
				       struct cvmbus_relay_channel *out, size_t cap);

#endif /* CVMBUS_PARAVISOR_H */
