/* SPDX-License-Identifier: MIT */
/*
 * The paravisor's frame (src/paravisor, above src/server, src/client and
 * src/hw): the guest-facing VMBus server (the server glue in the PARAVISOR
 * role, listening on connection ids 4 and 1, answering through the
 * paravisor's SynIC), the paravisor's own devices behind it, and the relay
 * of host offers (relay.c). The guest talks only to this server; whether a
 * channel's bytes stay private is decided per offer: the paravisor's own
 * devices may keep rings and buffers private on a Confidential VMBus
 * connection, relayed host channels never can. docs/PARAVISOR.md has the
 * sequences.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>
#include <cvmbus/paravisor.h>

#include "paravisor/pv_internal.h"

#define PV_DEFAULT_TIMEOUT_NS (5ull * 1000000000ull)

enum pv_state {
	PV_CREATED = 0,
	PV_STARTED,
	PV_STOPPED,
};

struct cvmbus_paravisor {
	struct cvmbus_paravisor_config cfg; /* defaults resolved */
	struct cvmbus_platform *plat;
	struct cvmbus_server_glue *glue;
	struct pv_relay *relay; /* NULL without cfg.relay */
	enum pv_state state;
};

int cvmbus_paravisor_create(const struct cvmbus_paravisor_config *cfg,
			    struct cvmbus_paravisor **out)
{
	struct cvmbus_server_glue_config gc;
	struct pv_relay_config rc_cfg;
	struct cvmbus_paravisor *pv;
	int rc;

	if (!cfg || !out || !cfg->platform)
		return -EINVAL;
	if (!cvmbus_platform_config(cfg->platform)->paravisor)
		return -EINVAL;
	/* The guest finds Confidential VMBus through the platform's CPUID
	 * bit; a server that grants it where the bit is off (or refuses it
	 * where it is on) would contradict what the guest was told. */
	if (cfg->confidential_vmbus != cvmbus_platform_config(cfg->platform)->confidential_vmbus)
		return -EINVAL;

	pv = calloc(1, sizeof(*pv));
	if (!pv)
		return -ENOMEM;
	pv->cfg = *cfg;
	pv->plat = cfg->platform;
	if (!pv->cfg.max_version)
		pv->cfg.max_version = CVMBUS_VERSION_6_0;
	if (!pv->cfg.host_connection_id)
		pv->cfg.host_connection_id = VMBUS_MESSAGE_REDIRECT_CONNECTION_ID;
	if (!pv->cfg.relay_timeout_ns)
		pv->cfg.relay_timeout_ns = PV_DEFAULT_TIMEOUT_NS;

	cvmbus_server_glue_config_init(&gc, pv->plat, CVMBUS_SERVER_ROLE_PARAVISOR);
	gc.server.max_version = pv->cfg.max_version;
	/* Without Confidential VMBus the paravisor's server is an ordinary
	 * one that also relays (OpenHCL keeps serving untrusted guests). */
	if (!pv->cfg.confidential_vmbus)
		gc.server.features &= ~CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS;
	rc = cvmbus_server_glue_create(&gc, &pv->glue);
	if (rc)
		goto fail;

	if (pv->cfg.relay) {
		memset(&rc_cfg, 0, sizeof(rc_cfg));
		rc_cfg.platform = pv->plat;
		rc_cfg.glue = pv->glue;
		rc_cfg.host_connection_id = pv->cfg.host_connection_id;
		rc_cfg.inbound_connection_id = CVMBUS_RELAY_INBOUND_CONNECTION_ID;
		rc_cfg.timeout_ns = pv->cfg.relay_timeout_ns;
		rc = pv_relay_create(&rc_cfg, &pv->relay);
		if (rc)
			goto fail_glue;
	}
	pv->state = PV_CREATED;
	*out = pv;
	return 0;

fail_glue:
	cvmbus_server_glue_destroy(pv->glue);
fail:
	free(pv);
	return rc;
}

int cvmbus_paravisor_add_device(struct cvmbus_paravisor *pv,
				const struct cvmbus_offer_params *offer,
				const struct cvmbus_vsp_ops *ops, void *ctx, uint32_t *relid)
{
	struct cvmbus_offer_params p;

	if (!pv || !offer || !ops)
		return -EINVAL;
	p = *offer;
	if (!pv->cfg.confidential_vmbus) {
		/* No connection to this server can be confidential: offer
		 * exactly the non-confidential channel (the server would add
		 * the ring bit otherwise and strip it again per connection). */
		p.flags &= (uint16_t)~(CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER |
				       CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY);
		p.keep_flags = true;
	}
	return cvmbus_server_glue_add_device(pv->glue, &p, ops, ctx, relid);
}

int cvmbus_paravisor_start(struct cvmbus_paravisor *pv)
{
	int rc;

	if (!pv)
		return -EINVAL;
	if (pv->state != PV_CREATED)
		return pv->state == PV_STARTED ? -EALREADY : -ESHUTDOWN;
	rc = cvmbus_server_glue_start(pv->glue);
	if (rc)
		return rc;
	if (pv->relay) {
		rc = pv_relay_start(pv->relay);
		if (rc) {
			cvmbus_log_error("paravisor: relay to the host did not start (%d)", rc);
			cvmbus_server_glue_stop(pv->glue);
			pv->state = PV_STOPPED;
			return rc;
		}
	}
	pv->state = PV_STARTED;
	return 0;
}

void cvmbus_paravisor_stop(struct cvmbus_paravisor *pv)
{
	if (!pv || pv->state == PV_STOPPED)
		return;
	/* The guest's server first: from then on no guest request reaches
	 * the relay. The relay's unload then closes on the host whatever it
	 * had open there; completions it still makes towards the stopped glue
	 * are refused (-ESHUTDOWN) and ignored. */
	cvmbus_server_glue_stop(pv->glue);
	if (pv->relay)
		pv_relay_stop(pv->relay);
	pv->state = PV_STOPPED;
}

void cvmbus_paravisor_destroy(struct cvmbus_paravisor *pv)
{
	if (!pv)
		return;
	if (pv->state == PV_STARTED)
		cvmbus_paravisor_stop(pv);
	/* The glue keeps the relay's offers (their ctx is the relay's), so
	 * it goes first. */
	cvmbus_server_glue_destroy(pv->glue);
	pv_relay_destroy(pv->relay);
	free(pv);
}

struct cvmbus_server_glue *cvmbus_paravisor_server(struct cvmbus_paravisor *pv)
{
	return pv ? pv->glue : NULL;
}

void cvmbus_paravisor_host_lost(struct cvmbus_paravisor *pv)
{
	if (pv && pv->relay)
		pv_relay_host_lost(pv->relay);
}

int cvmbus_paravisor_host_restarted(struct cvmbus_paravisor *pv)
{
	return pv && pv->relay ? pv_relay_restart(pv->relay) : -EINVAL;
}

void cvmbus_paravisor_relay_info(struct cvmbus_paravisor *pv, struct cvmbus_relay_info *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (pv && pv->relay)
		pv_relay_info(pv->relay, out);
}

size_t cvmbus_paravisor_relay_channels(struct cvmbus_paravisor *pv,
				       struct cvmbus_relay_channel *out, size_t cap)
{
	if (!pv || !pv->relay)
		return 0;
	return pv_relay_channels(pv->relay, out, cap);
}
