/* SPDX-License-Identifier: MIT */
/*
 * A whole confidential VM as cvmbus models it, from one configuration: the
 * platform (isolation, paravisor, architecture, vCPUs), the host (hypervisor
 * model, host VMBus server, host devices), the paravisor (its trusted server,
 * the relay of host offers, its own devices) and the guest (VMBus client and
 * drivers), run on the native or the deterministic executor. This is the top
 * layer of libcvmbus (src/vm); the cvmbus tool's subcommands that boot a VM
 * all go through it.
 *
 * This header starts with the topology options that every such subcommand
 * shares (--isolation, --paravisor, --max-version, --arch, --detect, --vcpus,
 * --seed / --native), parsed and validated in one place so that a bad value
 * gets the same error everywhere.
 */
#ifndef CVMBUS_VM_H
#define CVMBUS_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/hv.h>
#include <cvmbus/platform.h>

enum cvmbus_detect {
	CVMBUS_DETECT_CPUID = 0, /* the merged Linux series: CPUID 0x40000082 EAX bit 3 */
	CVMBUS_DETECT_PROBE = 1, /* the v4 text: try the paravisor, fall back */
};

struct cvmbus_vm_config {
	enum hv_isolation_type isolation;
	bool paravisor;
	/* The paravisor offers Confidential VMBus (and sets the CPUID bit).
	 * Meaningful only with a paravisor. */
	bool confidential_vmbus;
	enum cvmbus_arch arch;
	uint32_t max_version; /* the guest's cap, e.g. CVMBUS_VERSION_6_0 */
	enum cvmbus_detect detect;
	unsigned int vcpus;
	bool deterministic;   /* false: native executor */
	uint64_t seed;        /* deterministic executor's seed */
};

/* SNP with a paravisor offering Confidential VMBus, max 6.0, x86_64,
 * CPUID detection, 2 vCPUs, native: the default of `cvmbus run`. */
void cvmbus_vm_config_default(struct cvmbus_vm_config *cfg);

/*
 * Apply one topology option by its long name (without "--") and value
 * (NULL for flags): isolation, paravisor, no-paravisor, confidential-vmbus,
 * no-confidential-vmbus, max-version, arch, detect, vcpus, seed, native.
 * Returns 1 if applied, 0 if `name` is not a topology option (the caller
 * handles it), or -EINVAL with a message naming the option in err.
 */
int cvmbus_vm_config_option(struct cvmbus_vm_config *cfg, const char *name, const char *value,
			    char *err, size_t errlen);
/* Does `name` take a value? (-1: not a topology option) */
int cvmbus_vm_config_option_has_arg(const char *name);

/*
 * Whether the configuration can exist: 0; -EINVAL with a message for a
 * contradiction in the options themselves; -ENOTSUP with a message for a
 * cell that cannot exist on real hardware (SNP or TDX on arm64), which the
 * matrix reports as "not applicable" rather than as an error.
 */
int cvmbus_vm_config_check(const struct cvmbus_vm_config *cfg, char *err, size_t errlen);

/* One line, e.g. "snp+paravisor(confidential) x86_64 max 6.0 detect=cpuid
 * vcpus=2 native". */
int cvmbus_vm_config_format(const struct cvmbus_vm_config *cfg, char *buf, size_t cap);

/* The help text for the shared options, for each subcommand's --help. */
extern const char cvmbus_vm_options_help[];

const char *cvmbus_detect_name(enum cvmbus_detect detect);

#endif /* CVMBUS_VM_H */
