/* SPDX-License-Identifier: MIT */
/*
 * The whole VM from one configuration (src/vm, the top layer of libcvmbus):
 * the executor and the trace it owns across runs, and one run: inside
 * cvmbus_exec_run, build the platform, start the host, the paravisor (if
 * any) and the guest, connect, call the workload, unload, and stop every
 * party in the order that lets each join its threads. The parties
 * themselves are host.c and para.c; what the run saw is written into the
 * report by observe.c and scan.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>

#include "vm/vm_internal.h"

void vm_fail(struct cvmbus_vm *vm, int status, const char *fmt, ...)
{
	va_list ap;

	/* The first failure is the one worth reporting: later ones are
	 * usually its consequences (a channel that cannot close because the
	 * connection is gone). */
	if (vm->report.status)
		return;
	vm->report.status = status ? status : -EIO;
	va_start(ap, fmt);
	vsnprintf(vm->report.error, sizeof(vm->report.error), fmt, ap);
	va_end(ap);
}

int cvmbus_vm_create(const struct cvmbus_vm_config *cfg, struct cvmbus_vm **out, char *err,
		     size_t errlen)
{
	struct cvmbus_vm *vm;
	int rc;

	if (!cfg || !out)
		return -EINVAL;
	*out = NULL;
	rc = cvmbus_vm_config_check(cfg, err, errlen);
	if (rc)
		return rc;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->cfg = *cfg;
	if (cfg->deterministic) {
		/* Virtual time: generous, since a wait that never ends should
		 * surface as the client's own timeout, not as the executor's. */
		struct cvmbus_exec_det_opts o = {
			.seed = cfg->seed,
			.deadline_ns = 600ull * 1000000000ull,
			.max_steps = 50000000ull,
		};

		rc = cvmbus_exec_det_create(&vm->exec, &o);
	} else {
		rc = cvmbus_exec_native_create(&vm->exec);
	}
	if (rc)
		goto fail;
	rc = cvmbus_trace_create(vm->exec, &vm->trace);
	if (rc)
		goto fail_exec;
	*out = vm;
	return 0;

fail_exec:
	cvmbus_exec_destroy(vm->exec);
fail:
	free(vm);
	if (err && errlen)
		snprintf(err, errlen, "cannot make the executor (%d)", rc);
	return rc;
}

void cvmbus_vm_destroy(struct cvmbus_vm *vm)
{
	if (!vm)
		return;
	cvmbus_trace_destroy(vm->trace);
	cvmbus_exec_destroy(vm->exec);
	free(vm);
}

void cvmbus_vm_set_trace_jsonl(struct cvmbus_vm *vm, FILE *f)
{
	vm->jsonl = f;
}

struct cvmbus_trace *cvmbus_vm_trace(struct cvmbus_vm *vm)
{
	return vm->trace;
}

struct cvmbus_exec *cvmbus_vm_exec(struct cvmbus_vm *vm)
{
	return vm->exec;
}

const struct cvmbus_vm_report *cvmbus_vm_report(const struct cvmbus_vm *vm)
{
	return &vm->report;
}

struct cvmbus_platform *cvmbus_vm_platform(struct cvmbus_vm *vm)
{
	return vm->running ? vm->p : NULL;
}

struct cvmbus_guest *cvmbus_vm_guest(struct cvmbus_vm *vm)
{
	return vm->running ? vm->guest : NULL;
}

struct cvmbus_server_glue *cvmbus_vm_host_server(struct cvmbus_vm *vm)
{
	return vm->running ? vm->host.glue : NULL;
}

static int vm_start_guest(struct cvmbus_vm *vm)
{
	struct cvmbus_guest_config gc;
	char pem[1024];
	int rc;

	memset(&gc, 0, sizeof(gc));
	gc.platform = vm->p;
	gc.max_version = vm->cfg.max_version;
	gc.detect = vm->cfg.detect == CVMBUS_DETECT_PROBE ? CVMBUS_CLIENT_DETECT_PROBE
							   : CVMBUS_CLIENT_DETECT_CPUID;
	if (vm->cfg.attest != CVMBUS_VM_ATTEST_NONE) {
		/* The guest trusts the platform's key, as a real guest trusts
		 * the vendor's chain; what it pins is the paravisor. */
		size_t len = 0;

		rc = cvmbus_platform_attest_pubkey_pem(vm->p, pem, sizeof(pem), &len);
		if (rc) {
			vm_fail(vm, rc, "attestation: no platform key (%d)", rc);
			return rc;
		}
		gc.attest_policy = vm->cfg.attest == CVMBUS_VM_ATTEST_REQUIRE
					   ? CVMBUS_GUEST_ATTEST_REQUIRE
					   : CVMBUS_GUEST_ATTEST_FALLBACK;
		gc.expected_measurements = (const uint8_t(*)[48])vm->cfg.expect;
		gc.expected_count = vm->cfg.expect_count;
		gc.attest_pubkey_pem = pem;
		gc.attest_pubkey_pem_len = len;
	}
	rc = cvmbus_guest_create(&gc, &vm->guest);
	if (rc) {
		vm_fail(vm, rc, "guest: create failed (%d)", rc);
		return rc;
	}
	rc = cvmbus_guest_start(vm->guest);
	if (rc)
		vm_fail(vm, rc, "guest: start failed (%d)", rc);
	return rc;
}

static int vm_main(void *arg)
{
	struct cvmbus_vm *vm = arg;
	struct cvmbus_vm_report *r = &vm->report;
	struct cvmbus_platform_config pc;
	char err[128] = "";
	int rc;

	memset(&pc, 0, sizeof(pc));
	pc.exec = vm->exec;
	pc.arch = vm->cfg.arch;
	pc.isolation = vm->cfg.isolation;
	pc.paravisor = vm->cfg.paravisor;
	pc.confidential_vmbus = vm->cfg.paravisor && vm->cfg.confidential_vmbus;
	pc.vcpus = vm->cfg.vcpus;
	pc.trace = vm->trace;
	pc.paravisor_image = vm->cfg.paravisor ? vm->cfg.paravisor_image : NULL;
	rc = cvmbus_platform_create(&pc, &vm->p, err, sizeof(err));
	if (rc) {
		vm_fail(vm, rc, "platform: %s", err);
		return rc;
	}
	vm->running = true;
	if (vm->cfg.paravisor) {
		/* What the platform measured at launch: the value a user pins
		 * with --expect (cvmbus attest measure gives it offline). */
		uint8_t m[48];

		if (!cvmbus_platform_attest_measurement(vm->p, m))
			for (size_t i = 0; i < sizeof(m); i++)
				snprintf(r->paravisor_measurement + 2 * i, 3, "%02x", m[i]);
	}

	/* The host first (the relay contacts it), then the paravisor (whose
	 * start returns once the host's offers are re-offered), then the
	 * guest, which finds every offer in place when it connects. */
	rc = vm_host_start(vm);
	if (!rc && vm->cfg.paravisor)
		rc = vm_para_start(vm);
	if (!rc)
		rc = vm_start_guest(vm);
	if (!rc) {
		rc = cvmbus_guest_connect(vm->guest);
		r->connect_status = rc;
		r->connected = rc == 0;
		vm_observe_negotiation(vm);
		if (rc) {
			vm_fail(vm, rc, "guest: connect failed (%d)", rc);
			/* What the host sees after a refused connection is
			 * still worth the record. */
			(void)cvmbus_vm_snapshot(vm);
		}
	}
	if (!rc && vm->workload) {
		rc = vm->workload(vm, vm->workload_arg);
		if (rc)
			vm_fail(vm, rc, "workload failed (%d)", rc);
	}
	if (r->connected) {
		int urc = cvmbus_guest_unload(vm->guest);

		if (urc)
			vm_fail(vm, urc, "guest: unload failed (%d)", urc);
	}

	/* Stop in the reverse order of dependence: the guest (SynICs torn
	 * down, control thread joined), the paravisor (relayed channels
	 * closed on the host, relay unloaded), the host (device loops
	 * joined). Then the totals, while partition memory still exists. */
	if (vm->guest)
		cvmbus_guest_stop(vm->guest);
	vm_para_stop(vm);
	vm_host_stop(vm);
	vm_observe_final(vm);
	vm->running = false;
	cvmbus_guest_destroy(vm->guest);
	vm->guest = NULL;
	vm_para_destroy(vm);
	vm_host_destroy(vm);
	cvmbus_platform_set_isr(vm->p, NULL, NULL);
	cvmbus_platform_destroy(vm->p);
	vm->p = NULL;
	return r->status;
}

int cvmbus_vm_run(struct cvmbus_vm *vm, cvmbus_vm_workload_fn workload, void *arg)
{
	struct cvmbus_vm_report *r;
	int rc, ret = 0;

	if (!vm)
		return -EINVAL;
	if (vm->running)
		return -EBUSY;
	r = &vm->report;
	memset(r, 0, sizeof(*r));
	r->config = vm->cfg;
	r->detect = vm->cfg.detect;
	r->winner = -1;
	cvmbus_vm_config_format(&vm->cfg, r->config_text, sizeof(r->config_text));
	vm->workload = workload;
	vm->workload_arg = arg;
	cvmbus_trace_set_jsonl(vm->trace, vm->jsonl);
	/* The report counts channel messages only: a signal (a hypercall
	 * event on every ring doorbell) need not wake this sink. */
	cvmbus_trace_set_callback_kinds(vm->trace, vm_trace_counter, vm,
					CVMBUS_TRACE_KIND_BIT(CVMBUS_TRACE_MSG));

	rc = cvmbus_exec_run(vm->exec, vm_main, vm, &ret);

	cvmbus_trace_set_callback(vm->trace, NULL, NULL);
	cvmbus_trace_set_jsonl(vm->trace, NULL);
	if (vm->jsonl)
		fflush(vm->jsonl);
	r->exec_status = rc;
	r->trace_events = cvmbus_trace_count(vm->trace);
	r->trace_hash = cvmbus_trace_hash(vm->trace);
	if (rc) {
		/* Under the deterministic executor every thread was unwound
		 * where it blocked: the parties' objects may only be freed,
		 * and freeing them means joining threads that no longer run.
		 * They are left (a leak, once, in a run that already failed);
		 * the executor's report says who waited on what. */
		if (cvmbus_exec_kind(vm->exec) == CVMBUS_EXEC_DET)
			cvmbus_log_error("vm: run failed (%d): %s", rc,
					 cvmbus_exec_det_report(vm->exec));
		vm->running = false;
		vm_fail(vm, rc, "executor: run failed (%d)", rc);
		return rc;
	}
	return r->status;
}

/* ---- devices --------------------------------------------------------------------- */

int cvmbus_vm_add_device(struct cvmbus_vm *vm, const struct cvmbus_vm_device *dev)
{
	if (!vm || !dev || !dev->ops)
		return -EINVAL;
	if (vm->running)
		return -EBUSY;
	if (dev->owner == CVMBUS_VM_OWNER_PARAVISOR && !vm->cfg.paravisor)
		return -EINVAL;
	if (vm->device_count >= CVMBUS_VM_MAX_DEVICES)
		return -ENOSPC;
	vm->devices[vm->device_count++] = *dev;
	return 0;
}

int vm_offer_devices(struct cvmbus_vm *vm, enum cvmbus_vm_owner owner,
		     int (*add)(void *party, const struct cvmbus_offer_params *offer,
				const struct cvmbus_vsp_ops *ops, void *ctx, uint32_t *relid),
		     void *party)
{
	for (size_t i = 0; i < vm->device_count; i++) {
		const struct cvmbus_vm_device *d = &vm->devices[i];
		uint32_t relid;
		int rc;

		if (d->owner != owner)
			continue;
		rc = add(party, &d->offer, d->ops, d->ctx, &relid);
		if (rc) {
			vm_fail(vm, rc, "%s device %s: offer failed (%d)",
				owner == CVMBUS_VM_OWNER_HOST ? "host" : "paravisor",
				d->name ? d->name : "?", rc);
			return rc;
		}
	}
	return 0;
}
