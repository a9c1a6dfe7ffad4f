/* SPDX-License-Identifier: MIT */
/*
 * What the files of src/vm share and nobody else sees: the VM object
 * (configuration, executor, trace, and the parties of the run in progress)
 * and the per-party start/stop helpers, one file each: host.c (the host's
 * server glue and device), para.c (the paravisor and its device), vm.c (the
 * run), observe.c (trace counting, snapshot, coco.rst classification),
 * scan.c (the secret scan), workload.c (the default workload).
 */
#ifndef CVMBUS_VM_INTERNAL_H
#define CVMBUS_VM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdio.h>

#include <cvmbus/echo.h>
#include <cvmbus/exec.h>
#include <cvmbus/guest.h>
#include <cvmbus/paravisor.h>
#include <cvmbus/platform.h>
#include <cvmbus/server_glue.h>
#include <cvmbus/trace.h>
#include <cvmbus/vm.h>

/* Instances of the two echo devices, so a reader of the offers (or of the
 * trace) can tell whose device a channel is. */
#define VM_HOST_ECHO_INSTANCE 0x0057e001u
#define VM_PARA_ECHO_INSTANCE 0x0057e002u

struct vm_host {
	struct cvmbus_server_glue *glue;
	struct cvmbus_echo *echo;
	uint32_t relid;
	/* cfg.processes (host_process.c): the host's process, its control
	 * socket (-1: none) and the partition's end of its link. */
	pid_t pid;
	int ctl;
	struct cvmbus_hostlink *link;
	_Atomic bool lost;
	_Atomic bool stopping; /* we sent STOP: its link's end is expected */
	unsigned int restarts;
};

struct vm_para {
	struct cvmbus_paravisor *pv;
	struct cvmbus_echo *echo;
	uint32_t relid;
};

struct cvmbus_vm {
	struct cvmbus_vm_config cfg;
	struct cvmbus_exec *exec;
	struct cvmbus_trace *trace;
	FILE *jsonl;
	bool running;
	/* The run in progress (NULL outside one). */
	struct cvmbus_platform *p;
	struct vm_host host;
	struct vm_para para;
	struct cvmbus_guest *guest;
	/* Devices added with cvmbus_vm_add_device, offered at each start. */
	struct cvmbus_vm_device devices[CVMBUS_VM_MAX_DEVICES];
	size_t device_count;
	cvmbus_vm_workload_fn workload;
	void *workload_arg;
	/* Filled during the run; the trace callback writes the message
	 * counters under the trace's lock, everything else is written by the
	 * run's main thread. */
	struct cvmbus_vm_report report;
};

/* Record the first failure of a run (status and a short text). */
void vm_fail(struct cvmbus_vm *vm, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Offer the devices of `owner` through `add` (the host's glue or the
 * paravisor). */
int vm_offer_devices(struct cvmbus_vm *vm, enum cvmbus_vm_owner owner,
		     int (*add)(void *party, const struct cvmbus_offer_params *offer,
				const struct cvmbus_vsp_ops *ops, void *ctx, uint32_t *relid),
		     void *party);

/* host.c */
int vm_host_start(struct cvmbus_vm *vm);
void vm_host_stop(struct cvmbus_vm *vm);
void vm_host_destroy(struct cvmbus_vm *vm);

/* host_process.c: the host party in its own process. */
int vm_hostproc_start(struct cvmbus_vm *vm);
void vm_hostproc_stop(struct cvmbus_vm *vm);

/* host_seccomp.c: the host process's system-call filter. Whether this
 * build installs it (not under sanitizers; CVMBUS_HOST_SECCOMP=0 turns it
 * off), and install it on every thread: 0 or a negative errno. */
bool vm_host_seccomp_supported(void);
int vm_host_seccomp_install(void);

/* para.c */
int vm_para_start(struct cvmbus_vm *vm);
void vm_para_stop(struct cvmbus_vm *vm);
void vm_para_destroy(struct cvmbus_vm *vm);
/* A relayed channel's relid on the host, 0 if relid is the paravisor's
 * own (or there is no paravisor). */
uint32_t vm_para_host_relid(struct cvmbus_vm *vm, uint32_t guest_relid);
void vm_para_relay_info(struct cvmbus_vm *vm, struct cvmbus_vm_report *r);

/* observe.c */
void vm_trace_counter(void *ctx, const struct cvmbus_trace_event *ev, const char *json,
		      size_t len);
/* The report's entry for relid (added if missing, NULL when full). */
struct cvmbus_vm_channel *vm_report_channel(struct cvmbus_vm *vm, uint32_t relid);
/* Totals "ever" per reason, and the trace's, at the end of a run. */
void vm_observe_final(struct cvmbus_vm *vm);
void vm_observe_negotiation(struct cvmbus_vm *vm);

#endif /* CVMBUS_VM_INTERNAL_H */
