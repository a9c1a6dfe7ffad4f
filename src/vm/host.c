/* SPDX-License-Identifier: MIT */
/*
 * The host party of a VM (src/vm): the host's VMBus server bound to the
 * platform by the server glue in the HOST role, and one echo VSP offered on
 * it, "the host's device". Without a paravisor the glue listens on 4 and 1
 * and the guest is its client; behind a paravisor it listens on 0x800074 for
 * the relay only, and answers the relay on the paravisor's inbound port
 * (docs/CONTROL_PLANE.md). Everything else about the host is the platform's
 * (its hypervisor SynIC, its view of memory).
 */
#include <errno.h>
#include <string.h>

#include "vm/vm_internal.h"

static int host_add_device(void *party, const struct cvmbus_offer_params *offer,
			   const struct cvmbus_vsp_ops *ops, void *ctx, uint32_t *relid)
{
	return cvmbus_server_glue_add_device(party, offer, ops, ctx, relid);
}

int vm_host_start(struct cvmbus_vm *vm)
{
	struct vm_host *h = &vm->host;
	struct cvmbus_server_glue_config gc;
	struct cvmbus_echo_config ec = { .exec = vm->exec };
	struct cvmbus_offer_params op;
	int rc;

	h->ctl = -1;
	if (vm->cfg.processes)
		return vm_hostproc_start(vm);
	cvmbus_server_glue_config_init(&gc, vm->p, CVMBUS_SERVER_ROLE_HOST);
	if (vm->cfg.paravisor)
		gc.relay_inbound_connection_id = CVMBUS_RELAY_INBOUND_CONNECTION_ID;
	rc = cvmbus_server_glue_create(&gc, &h->glue);
	if (rc) {
		vm_fail(vm, rc, "host server: create failed (%d)", rc);
		return rc;
	}
	rc = cvmbus_echo_create(&ec, &h->echo);
	if (rc) {
		vm_fail(vm, rc, "host echo device: create failed (%d)", rc);
		return rc;
	}
	/* The host's device never claims confidential external memory: the
	 * host cannot read private pages, and the host's server (or the
	 * relay) strips the confidential bits anyway. */
	cvmbus_echo_offer_params(&op, VM_HOST_ECHO_INSTANCE, false);
	rc = cvmbus_server_glue_add_device(h->glue, &op, cvmbus_echo_vsp_ops(), h->echo, &h->relid);
	if (rc) {
		vm_fail(vm, rc, "host echo device: offer failed (%d)", rc);
		return rc;
	}
	rc = vm_offer_devices(vm, CVMBUS_VM_OWNER_HOST, host_add_device, h->glue);
	if (rc)
		return rc;
	rc = cvmbus_server_glue_start(h->glue);
	if (rc)
		vm_fail(vm, rc, "host server: start failed (%d)", rc);
	return rc;
}

void vm_host_stop(struct cvmbus_vm *vm)
{
	if (vm->cfg.processes) {
		vm_hostproc_stop(vm);
		return;
	}
	/* Stopping the glue closes every open channel through the device,
	 * which joins its receive loops. */
	if (vm->host.glue)
		cvmbus_server_glue_stop(vm->host.glue);
}

void vm_host_destroy(struct cvmbus_vm *vm)
{
	cvmbus_server_glue_destroy(vm->host.glue);
	cvmbus_echo_destroy(vm->host.echo);
	memset(&vm->host, 0, sizeof(vm->host));
}
