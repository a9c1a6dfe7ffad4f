/* SPDX-License-Identifier: MIT */
/*
 * Internal interface between the two halves of the paravisor (src/paravisor):
 * paravisor.c owns the guest-facing server glue, the paravisor's own
 * devices and the lifecycle; relay.c owns the relay, a VMBus client of the
 * host (src/client's pure state machine) driven by one thread, and the
 * relayed offers it adds to that glue. The relay only ever calls the glue
 * through its public API (server_glue.h), never under its own lock.
 */
#ifndef CVMBUS_PV_INTERNAL_H
#define CVMBUS_PV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cvmbus/paravisor.h>

struct pv_relay;

/* What the relay needs from its paravisor. */
struct pv_relay_config {
	struct cvmbus_platform *platform;
	struct cvmbus_server_glue *glue; /* the guest-facing server */
	uint32_t host_connection_id;     /* where the host's server listens */
	uint32_t inbound_connection_id;  /* the relay's own message port */
	uint64_t timeout_ns;             /* each relay step */
};

/* 0, -EINVAL, -ENOMEM. Touches nothing of the platform. */
int pv_relay_create(const struct pv_relay_config *cfg, struct pv_relay **out);
/* Registers the inbound port, starts the relay thread, which connects to
 * the host (6.0 with signal parameters), requests its offers and re-offers
 * them; returns when AllOffersDelivered was handled. 0, -ETIMEDOUT, the
 * connection's failure (-EPROTONOSUPPORT: the host lacks 6.0 or signal
 * parameters), or the port's / thread's error. On failure everything
 * started is stopped again. */
int pv_relay_start(struct pv_relay *r);
/* Unloads the relay's connection (which closes what it had open on the
 * host), joins the thread, removes the port. Idempotent. */
void pv_relay_stop(struct pv_relay *r);
void pv_relay_destroy(struct pv_relay *r);
/* cvmbus_paravisor_host_lost: wake the relay thread to rescind everything. */
void pv_relay_host_lost(struct pv_relay *r);
/* cvmbus_paravisor_host_restarted: a new client, a new contact, the new
 * host's offers re-offered; blocks like pv_relay_start. */
int pv_relay_restart(struct pv_relay *r);

void pv_relay_info(struct pv_relay *r, struct cvmbus_relay_info *out);
size_t pv_relay_channels(struct pv_relay *r, struct cvmbus_relay_channel *out, size_t cap);

#endif /* CVMBUS_PV_INTERNAL_H */
