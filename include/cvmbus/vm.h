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
 * This header has three parts: the topology options that every such
 * subcommand shares (--isolation, --paravisor, --max-version, --arch,
 * --detect, --vcpus, --seed / --native), parsed and validated in one place
 * so that a bad value gets the same error everywhere (config.c); the VM and
 * its run, with the report a run fills for renderers (vm.c and friends); and
 * the validation matrix with its checks against coco.rst (matrix.c).
 * docs/MATRIX.md describes all three.
 */
#ifndef CVMBUS_VM_H
#define CVMBUS_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <stdio.h>

#include <cvmbus/hv.h>
#include <cvmbus/memory.h>
#include <cvmbus/platform.h>
#include <cvmbus/server.h>
#include <cvmbus/server_glue.h>
#include <cvmbus/trace.h>
#include <cvmbus/wire.h>

enum cvmbus_detect {
	CVMBUS_DETECT_CPUID = 0, /* the merged Linux series: CPUID 0x40000082 EAX bit 3 */
	CVMBUS_DETECT_PROBE = 1, /* the v4 text: try the paravisor, fall back */
};

#define CVMBUS_VM_MAX_EXPECT 4u /* pinned paravisor measurements */

struct cvmbus_paravisor_image;

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
	/* Attestation of the paravisor before Confidential VMBus (docs/
	 * ATTESTATION.md): NONE, or verify a report against the pinned
	 * measurements and REQUIRE a match (refuse the confidential
	 * connection otherwise) or FALLBACK to the host-visible path with a
	 * warning. The platform's public key is the one the guest trusts. */
	enum cvmbus_vm_attest { CVMBUS_VM_ATTEST_NONE = 0, CVMBUS_VM_ATTEST_REQUIRE,
				CVMBUS_VM_ATTEST_FALLBACK } attest;
	size_t expect_count;
	uint8_t expect[CVMBUS_VM_MAX_EXPECT][48];
	/* Bring your own paravisor: the image the platform launches and
	 * measures (NULL: the platform's default image, derived from this
	 * configuration). Its policy must agree with confidential_vmbus. The
	 * caller keeps it alive for the VM's life. */
	const struct cvmbus_paravisor_image *paravisor_image;
	/* The host party (its server and devices) in its own process, which
	 * holds only the shared memfd, a socket to the hypervisor model and
	 * its doorbells (docs/PROCESSES.md). Native executor only. */
	bool processes;
	/* The host process's program; NULL: $CVMBUS_HOST_BINARY, else the
	 * cvmbus-host built next to this library, else the installed one. */
	const char *host_binary;
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

/* ==== The VM: every party from one configuration (src/vm/vm.c) ============= */

/*
 * A run boots, inside one cvmbus_exec_run of the configured executor: the
 * platform (with a trace that outlives it), the host (server glue in the
 * HOST role listening on 4 and 1, or on 0x800074 behind a paravisor, with an
 * echo VSP: "the host's device"), the paravisor if configured (its server,
 * the relay of the host's offers, and its own echo VSP: "the paravisor's
 * device"), then the guest (start, connect with the configured detection),
 * calls the workload, unloads, and stops and joins everything. What it saw
 * goes into a struct cvmbus_vm_report, which renderers (the cvmbus tool's
 * tables, JSON; later HTML) read without touching the VM.
 *
 * Errors are negative errno values: -EINVAL (bad configuration: err says
 * why), -ENOTSUP (a cell that cannot exist, e.g. SNP on arm64), -ENOMEM,
 * -EBUSY (a run is in progress), and a run's status (below).
 */

struct cvmbus_vm;
struct cvmbus_guest;
struct cvmbus_server_glue;
struct cvmbus_paravisor;

/* Bounds of the report's fixed arrays (what does not fit is counted). */
#define CVMBUS_VM_MAX_CHANNELS 8u
#define CVMBUS_VM_MAX_RANGES   64u
#define CVMBUS_VM_MAX_REASONS  24u
#define CVMBUS_VM_MAX_MSG_KEYS 24u
#define CVMBUS_VM_MAX_CONTACTS 12u
#define CVMBUS_VM_SECRET_BYTES 32u
#define CVMBUS_VM_REASON_LEN   24u /* CVMBUS_MEM_REASON_MAX_LEN + 1 */
_Static_assert(CVMBUS_VM_REASON_LEN >= CVMBUS_MEM_REASON_MAX_LEN + 1, "a whole reason tag fits");

/* The categories of coco.rst's list of host-visible ("decrypted") pages,
 * plus the two that are not on it: everything visible because nothing is
 * isolated, and a reason the list does not name (a finding). */
enum cvmbus_vm_coco {
	CVMBUS_VM_COCO_UNKNOWN = 0,     /* not on coco.rst's list: never allowed */
	CVMBUS_VM_COCO_MONITOR,         /* VMBus monitor pages */
	CVMBUS_VM_COCO_SYNIC,           /* SynIC pages the guest decrypted (no paravisor) */
	CVMBUS_VM_COCO_SYNIC_SUPPLIED,  /* SynIC pages the paravisor supplies */
	CVMBUS_VM_COCO_HYPERCALL,       /* per-CPU hypercall input/output pages (no paravisor) */
	CVMBUS_VM_COCO_GHCB,            /* the GHCB page (SNP) / tdcall shared page (TDX) */
	CVMBUS_VM_COCO_PARAVISOR_CALL,  /* the paravisor's own carrier towards the hypervisor */
	CVMBUS_VM_COCO_RING,            /* VMBus ring buffers */
	CVMBUS_VM_COCO_GPADL,           /* other GPADLs: netvsc send/receive buffers */
	CVMBUS_VM_COCO_BOUNCE,          /* bounce buffers (swiotlb) */
	CVMBUS_VM_COCO_NO_ISOLATION,    /* no isolation: every page is the host's */
	CVMBUS_VM_COCO_COUNT
};

/* One reason tag's pages, at the steady state (after connect and open,
 * before close) and over the whole run. */
struct cvmbus_vm_reason {
	char reason[CVMBUS_VM_REASON_LEN];
	enum cvmbus_mem_party party;     /* who made the pages visible now */
	enum cvmbus_vm_coco category;
	bool allowed;                    /* this category may exist in this configuration */
	uint64_t pages_now;              /* at the steady state */
	uint64_t pages_ever;             /* at the end of the run */
};

/* A run of host-visible pages at the steady state. */
struct cvmbus_vm_range {
	uint64_t gpa;
	uint64_t pages;
	enum cvmbus_mem_party party;
	char reason[CVMBUS_VM_REASON_LEN];
};

struct cvmbus_vm_channel {
	uint32_t relid;                  /* as the guest sees it */
	struct cvmbus_guid if_type, if_instance;
	const char *device;              /* "echo", or "unknown" */
	enum cvmbus_mem_party owner;     /* HOST or PARAVISOR: whose device serves it */
	uint32_t host_relid;             /* a relayed channel's relid on the host; else 0 */
	uint16_t offer_flags;            /* as the guest received them */
	bool confidential_ring;          /* 0x2, as the guest uses it */
	bool confidential_external;      /* 0x4 */
	bool opened;                     /* the workload opened it */
	int open_status;
	bool ring_private;               /* at the steady state */
	uint64_t ring_gpa;
	uint32_t ring_pages;
	uint64_t ring_pages_visible;     /* of those, host-visible at the steady state */
	uint32_t connection_id;
	enum cvmbus_path signal_path;    /* guest -> server HvSignalEvent */
	uint64_t events[2];              /* event flags found: [0] hypervisor, [1] paravisor SynIC */
	enum cvmbus_synic_kind synic;    /* where its interrupts came from (NONE: none seen) */
	bool synic_both;                 /* ... from both SynICs */
	/* Workload. */
	uint64_t echoes;                 /* in-band echoes that came back intact */
	int echo_status;
	bool secret_sent;
	uint8_t secret[CVMBUS_VM_SECRET_BYTES];
	uint64_t secret_hits_view;       /* copies in host-visible pages (host view) */
	uint64_t secret_hits_fd;         /* copies in the shared memfd (pread) */
	int close_status;
};

/* Channel messages by how they travelled (the trace's "msg" events). */
struct cvmbus_vm_msg_key {
	unsigned int from, to;           /* enum cvmbus_mem_party or CVMBUS_TRACE_PARTY_NONE */
	enum cvmbus_path path;
	enum cvmbus_synic_kind synic;
	bool trusted;
	uint64_t count;
};

/* One InitiateContact the guest posted. */
struct cvmbus_vm_contact {
	uint32_t version;
	uint32_t features;               /* feature_flags (6.0) */
	enum cvmbus_path path;
	unsigned int to;
	bool trusted;
	uint16_t status;                 /* the hypercall's */
	uint8_t head[16];                /* the message's first bytes */
};

struct cvmbus_vm_report {
	struct cvmbus_vm_config config;
	char config_text[128];
	/* Outcome: 0, or the first failure (errno) and what failed. */
	int status;
	char error[160];
	int exec_status;                 /* cvmbus_exec_run's */
	/* Negotiation. */
	bool connected;
	int connect_status;
	uint32_t version, features, msg_conn_id;
	bool confidential;
	enum cvmbus_path post_path, signal_path;
	enum cvmbus_detect detect;
	bool cpuid_confidential_bit;     /* CPUID 0x40000082 EAX bit 3 as the guest read it */
	unsigned int attempts;
	struct {
		bool confidential;
		enum cvmbus_path path;
		int status;
	} attempt[2];
	int winner;
	/* Attestation: the paravisor measured at launch (SHA-384, hex), and
	 * what the guest decided before its confidential attempt. */
	char paravisor_measurement[97];
	char attest_decision[16];  /* "not-run", "confidential", "refused", ... */
	char attest_reason[64];
	/* The paravisor's relay. */
	bool relay;
	bool relay_connected;
	uint32_t relay_version, relay_features;
	/* Channels, in relid order. */
	size_t channel_count;
	struct cvmbus_vm_channel channels[CVMBUS_VM_MAX_CHANNELS];
	size_t channels_dropped;
	/* Exposure: the host-visible pages at the steady state. */
	bool steady;                     /* the workload took the snapshot */
	size_t range_count;
	struct cvmbus_vm_range ranges[CVMBUS_VM_MAX_RANGES];
	size_t ranges_dropped;
	size_t reason_count;
	struct cvmbus_vm_reason reasons[CVMBUS_VM_MAX_REASONS];
	uint64_t pages_now, pages_ever;
	/* Control messages. */
	uint64_t messages;
	size_t msg_key_count;
	struct cvmbus_vm_msg_key msg_keys[CVMBUS_VM_MAX_MSG_KEYS];
	size_t contact_count;
	struct cvmbus_vm_contact contacts[CVMBUS_VM_MAX_CONTACTS];
	/* Throughput of the echo loop: packets and executor time. */
	uint64_t echo_packets;
	uint64_t echo_ns;
	/* The trace. */
	uint64_t trace_events;
	uint64_t trace_hash;
};

/*
 * Devices beyond the two echo devices every run has: each is offered when
 * a run starts, by the host (its channel relayed to the guest when there
 * is a paravisor) or by the paravisor itself (whose offers carry the
 * confidential flags on a confidential connection). `ops` and `ctx` are a
 * VSP as the server glue runs it (include/cvmbus/server_glue.h), so the
 * same device code serves either owner; the device object must outlive
 * every run. The default workload leaves devices that are not echo
 * devices alone: a workload finds its device by the offer's interface and
 * instance GUIDs (cvmbus_guest_find_offer).
 */
enum cvmbus_vm_owner {
	CVMBUS_VM_OWNER_HOST = 0,
	CVMBUS_VM_OWNER_PARAVISOR = 1,
};

#define CVMBUS_VM_MAX_DEVICES 6u

/* How the host's process rebuilds a host device (cfg.processes): its
 * kind, its parameters (bytes the kind's builder reads) and at most one fd
 * passed with SCM_RIGHTS (a TAP device, say). */
enum cvmbus_vm_remote_kind {
	CVMBUS_VM_REMOTE_NONE = 0, /* cannot run in the host's process */
	CVMBUS_VM_REMOTE_DISK = 1, /* struct cvmbus_vm_disk_remote (vm_disk.h) */
	CVMBUS_VM_REMOTE_NIC = 2,  /* struct cvmbus_vm_nic_remote (vm_nic.h) */
};
#define CVMBUS_VM_REMOTE_PARAMS_MAX 4096u

struct cvmbus_vm_device {
	const char *name;                  /* for reports: "disk", "nic" */
	enum cvmbus_vm_owner owner;
	struct cvmbus_offer_params offer;
	const struct cvmbus_vsp_ops *ops;
	void *ctx;
	/* A host device in a VM with cfg.processes: */
	enum cvmbus_vm_remote_kind remote;
	const void *remote_params;
	size_t remote_params_len;
	bool remote_has_fd;
	int remote_fd; /* the caller keeps it; the host gets a copy */
};

/* Before a run: 0; -EBUSY during a run, -ENOSPC past the maximum,
 * -EINVAL for a paravisor device on a VM without a paravisor. */
int cvmbus_vm_add_device(struct cvmbus_vm *vm, const struct cvmbus_vm_device *dev);

typedef int (*cvmbus_vm_workload_fn)(struct cvmbus_vm *vm, void *arg);

/* Checks the configuration (cvmbus_vm_config_check) and makes the executor
 * and the trace; boots nothing. 0, -EINVAL, -ENOTSUP, -ENOMEM. */
int cvmbus_vm_create(const struct cvmbus_vm_config *cfg, struct cvmbus_vm **out, char *err,
		     size_t errlen);
void cvmbus_vm_destroy(struct cvmbus_vm *vm);

/* Write the platform's trace as JSON Lines to f during the next run (NULL:
 * off). The vm does not own f. */
void cvmbus_vm_set_trace_jsonl(struct cvmbus_vm *vm, FILE *f);
/* The VM's trace: it outlives each run, so tests read it afterwards (enable
 * its buffer before the run). */
struct cvmbus_trace *cvmbus_vm_trace(struct cvmbus_vm *vm);
struct cvmbus_exec *cvmbus_vm_exec(struct cvmbus_vm *vm);

/*
 * Boot, connect, workload (NULL: none), unload, stop; every thread joined.
 * The report is reset at the start and filled as the run goes. Returns 0, or
 * the first failure: the connect's status (the workload is skipped then),
 * the workload's, a party that failed to start, or the executor's
 * (-EDEADLK, -ETIMEDOUT, -ELOOP under the deterministic one).
 */
int cvmbus_vm_run(struct cvmbus_vm *vm, cvmbus_vm_workload_fn workload, void *arg);
const struct cvmbus_vm_report *cvmbus_vm_report(const struct cvmbus_vm *vm);

/* For a workload, during a run (NULL otherwise, or without a paravisor). */
struct cvmbus_platform *cvmbus_vm_platform(struct cvmbus_vm *vm);
struct cvmbus_guest *cvmbus_vm_guest(struct cvmbus_vm *vm);
struct cvmbus_server_glue *cvmbus_vm_host_server(struct cvmbus_vm *vm);
struct cvmbus_paravisor *cvmbus_vm_paravisor(struct cvmbus_vm *vm);
/* With cfg.processes, during a run: the host process's pid (0 otherwise),
 * and whether it was lost (died, or broke the link). */
pid_t cvmbus_vm_host_pid(struct cvmbus_vm *vm);
bool cvmbus_vm_host_lost(struct cvmbus_vm *vm);
/* With cfg.processes and a paravisor, during a run, after the host was
 * lost: reap it, start a new host process, and have the paravisor's relay
 * contact it; returns once the new host's channels are offered to the
 * guest (as new offers, under new relids). 0, -EINVAL (not in a run, no
 * processes or no paravisor), -EBUSY (the host is not lost), or what the
 * new host's start or the relay's returned. */
int cvmbus_vm_host_restart(struct cvmbus_vm *vm);
/* The whole of the host program (tools/cvmbus-host): serve the VM whose
 * control socket is ctl_fd. The exit status: 0, 1 (failed), 2 (no start). */
int cvmbus_host_process_main(int ctl_fd);
/* Whether this build's host process installs its seccomp filter once set
 * up (not under sanitizers, not with CVMBUS_HOST_SECCOMP=0 in the
 * environment): anything outside moving bytes over what it holds, threads,
 * memory and waiting fails with EPERM (docs/PROCESSES.md). */
bool cvmbus_vm_host_seccomp(void);
/* Record the steady state into the report: channels (offers, owners, ring
 * state, SynIC), the host-visible ranges and reasons, and the scan of each
 * channel's secret (set with cvmbus_vm_set_secret). During a run only. */
int cvmbus_vm_snapshot(struct cvmbus_vm *vm);
/* The secret that went through channel relid (for the scan). */
int cvmbus_vm_set_secret(struct cvmbus_vm *vm, uint32_t relid, const uint8_t *secret,
			 size_t len);
/* Copies of needle[0..len) the host can read now: *view in host-visible
 * pages through the host view, *fd anywhere in the shared memfd (pread:
 * what a process holding only that fd can read). */
int cvmbus_vm_scan(struct cvmbus_vm *vm, const void *needle, size_t len, uint64_t *view,
		   uint64_t *fd);

/* The default workload: open every offered channel, echo `packets` in-band
 * packets of `packet_bytes` through each, send a 32-byte random secret
 * through each, take the snapshot, close them all. arg: this struct, or
 * NULL for the defaults (8 packets of 64 bytes, 16 KiB rings, 5 s). */
struct cvmbus_vm_workload {
	unsigned int packets;
	size_t packet_bytes;      /* 1..1024 */
	uint32_t ring_bytes;      /* each direction, control page included */
	uint64_t timeout_ns;      /* per echo */
};
int cvmbus_vm_default_workload(struct cvmbus_vm *vm, void *arg);

/* coco.rst's category of a reason tag set by `party` ("ring buffers", ...),
 * and whether it may exist in configuration cfg. */
enum cvmbus_vm_coco cvmbus_vm_coco_classify(const char *reason, enum cvmbus_mem_party party,
					    const struct cvmbus_vm_config *cfg, bool *allowed);
const char *cvmbus_vm_coco_name(enum cvmbus_vm_coco c);

/* ==== The validation matrix (src/vm/matrix.c) =============================== */

/* One cell: {no paravisor, paravisor} x {none, VBS, SNP, TDX} x {max 5.0,
 * 6.0} x {x86_64, arm64}. With a paravisor, Confidential VMBus is offered
 * on SNP and TDX only (hardware isolation, as OpenHCL sets the CPUID bit;
 * docs/MATRIX.md says why not on VBS). */
struct cvmbus_vm_cell {
	bool paravisor;
	enum hv_isolation_type isolation;
	uint32_t max_version;
	enum cvmbus_arch arch;
};

#define CVMBUS_VM_MATRIX_CELLS 32u
#define CVMBUS_VM_MAX_FAILURES 8u

/* The standard cells in a fixed order; returns how many (32). */
size_t cvmbus_vm_matrix_cells(struct cvmbus_vm_cell *out, size_t cap);
/* "paravisor/snp/6.0/x86_64", "no-paravisor/none/5.0/arm64". */
int cvmbus_vm_cell_name(const struct cvmbus_vm_cell *c, char *buf, size_t cap);
/* The exact name back to a cell: 0 or -EINVAL. */
int cvmbus_vm_cell_parse(const char *name, struct cvmbus_vm_cell *out);
/* Does the cell match FILTER: tokens separated by ',' or '/', each equal to
 * one component of the name ("snp", "paravisor", "6.0", "arm64", ...);
 * NULL or "" matches every cell. */
bool cvmbus_vm_cell_match(const struct cvmbus_vm_cell *c, const char *filter);
/* The configuration of a cell on an executor (deterministic with seed). */
void cvmbus_vm_cell_config(const struct cvmbus_vm_cell *c, bool deterministic, uint64_t seed,
			   struct cvmbus_vm_config *out);

struct cvmbus_vm_cell_result {
	struct cvmbus_vm_cell cell;
	char name[48];
	bool applicable;                 /* false: n/a, reason in na_reason */
	char na_reason[96];
	bool pass;
	size_t failure_count;
	char failures[CVMBUS_VM_MAX_FAILURES][160];
	struct cvmbus_vm_report report;
};

/* The checks of a finished run, against coco.rst and the Confidential
 * VMBus rules (docs/MATRIX.md): every visible page's reason is on coco.rst's
 * list and allowed here; no page of a confidential ring is visible; no copy
 * of a confidential channel's secret is readable by the host, and the scan
 * does find the secret of every other channel; InitiateContact went on a
 * trusted path iff the connection is confidential. Fills pass/failures. */
void cvmbus_vm_check(const struct cvmbus_vm_report *r, struct cvmbus_vm_cell_result *out);

/* Run one cell with the default workload and check it. A cell that cannot
 * exist is marked n/a (not run). Returns 0 (see out->pass) or -ENOMEM. */
int cvmbus_vm_run_cell(const struct cvmbus_vm_cell *c, bool deterministic, uint64_t seed,
		       const struct cvmbus_vm_workload *wl, struct cvmbus_vm_cell_result *out);
/* The same, with the host in its own process when `processes` (native
 * executor only: a deterministic cell with processes fails its check). */
int cvmbus_vm_run_cell_ex(const struct cvmbus_vm_cell *c, bool deterministic, uint64_t seed,
			  bool processes, const struct cvmbus_vm_workload *wl,
			  struct cvmbus_vm_cell_result *out);

#endif /* CVMBUS_VM_H */
