/* SPDX-License-Identifier: MIT */
/*
 * The paravisor party of a VM (src/vm): the paravisor of src/paravisor with
 * its relay on (it connects to the host's server and re-offers the host's
 * device to the guest) and one echo VSP of its own, "the paravisor's
 * device", offered with confidential external memory so that, on a
 * Confidential VMBus connection, both confidential bits show up on it.
 */
#include <errno.h>
#include <string.h>

#include "vm/vm_internal.h"

#include <cvmbus/paravisor.h>

static int para_add_device(void *party, const struct cvmbus_offer_params *offer,
			   const struct cvmbus_vsp_ops *ops, void *ctx, uint32_t *relid)
{
	return cvmbus_paravisor_add_device(party, offer, ops, ctx, relid);
}

int vm_para_start(struct cvmbus_vm *vm)
{
	struct vm_para *pa = &vm->para;
	struct cvmbus_paravisor_config pc;
	struct cvmbus_echo_config ec = { .exec = vm->exec };
	struct cvmbus_offer_params op;
	int rc;

	memset(&pc, 0, sizeof(pc));
	pc.platform = vm->p;
	/* Kept equal to the platform's CPUID bit, as paravisor.h asks. */
	pc.confidential_vmbus = vm->cfg.confidential_vmbus;
	pc.relay = true;
	rc = cvmbus_paravisor_create(&pc, &pa->pv);
	if (rc) {
		vm_fail(vm, rc, "paravisor: create failed (%d)", rc);
		return rc;
	}
	rc = cvmbus_echo_create(&ec, &pa->echo);
	if (rc) {
		vm_fail(vm, rc, "paravisor echo device: create failed (%d)", rc);
		return rc;
	}
	cvmbus_echo_offer_params(&op, VM_PARA_ECHO_INSTANCE, true);
	rc = cvmbus_paravisor_add_device(pa->pv, &op, cvmbus_echo_vsp_ops(), pa->echo, &pa->relid);
	if (rc) {
		vm_fail(vm, rc, "paravisor echo device: offer failed (%d)", rc);
		return rc;
	}
	rc = vm_offer_devices(vm, CVMBUS_VM_OWNER_PARAVISOR, para_add_device, pa->pv);
	if (rc)
		return rc;
	/* Blocks until the relay has the host's offers re-offered. */
	rc = cvmbus_paravisor_start(pa->pv);
	if (rc)
		vm_fail(vm, rc, "paravisor: start failed (%d)", rc);
	return rc;
}

void vm_para_stop(struct cvmbus_vm *vm)
{
	if (vm->para.pv)
		cvmbus_paravisor_stop(vm->para.pv);
}

void vm_para_destroy(struct cvmbus_vm *vm)
{
	cvmbus_paravisor_destroy(vm->para.pv);
	cvmbus_echo_destroy(vm->para.echo);
	memset(&vm->para, 0, sizeof(vm->para));
}

uint32_t vm_para_host_relid(struct cvmbus_vm *vm, uint32_t guest_relid)
{
	struct cvmbus_relay_channel rc[CVMBUS_VM_MAX_CHANNELS * 2];
	size_t n;

	if (!vm->para.pv)
		return 0;
	n = cvmbus_paravisor_relay_channels(vm->para.pv, rc, sizeof(rc) / sizeof(rc[0]));
	if (n > sizeof(rc) / sizeof(rc[0]))
		n = sizeof(rc) / sizeof(rc[0]);
	for (size_t i = 0; i < n; i++)
		if (rc[i].guest_relid == guest_relid)
			return rc[i].host_relid;
	return 0;
}

void vm_para_relay_info(struct cvmbus_vm *vm, struct cvmbus_vm_report *r)
{
	struct cvmbus_relay_info ri;

	if (!vm->para.pv)
		return;
	cvmbus_paravisor_relay_info(vm->para.pv, &ri);
	r->relay = true;
	r->relay_connected = ri.connected;
	r->relay_version = ri.host_version;
	r->relay_features = ri.host_features;
}

struct cvmbus_paravisor *cvmbus_vm_paravisor(struct cvmbus_vm *vm)
{
	return vm->running ? vm->para.pv : NULL;
}
