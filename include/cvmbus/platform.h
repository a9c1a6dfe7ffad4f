/* SPDX-License-Identifier: MIT */
/*
 * The simulated CoCo platform (layer src/hw, above partition memory and the
 * executor, below every VMBus party): an isolation configuration (none, VBS,
 * SNP, TDX; with or without a paravisor; x86_64 or arm64) and the CPUID
 * leaves that describe it, one or two SynICs per vCPU (the hypervisor's,
 * whose pages the host can see, and the paravisor's, whose pages are
 * private), the hypercalls VMBus uses with their Hyper-V statuses, a port
 * table that hands posted messages and signalled events to their owners
 * (host server, paravisor server), the register and hypercall paths a guest
 * can take in each configuration (plain MSR, hypercall page, GHCB, tdcall,
 * paravisor trap, arm64 hvc), vCPU threads that take SINT interrupts, and,
 * with a paravisor, a security processor that measured the paravisor at
 * launch and signs attestation reports for the guest (attest.h).
 * Everything that happens is an event in the platform's trace (trace.h).
 * The model, the path table and what is trusted: docs/PLATFORM.md.
 *
 * Who calls what:
 *   guest      cvmbus_reg_read/write, cvmbus_hv_post_message/signal_event,
 *              cvmbus_hv_hypercall (raw), cvmbus_cpuid, the ISR it registers,
 *              cvmbus_vcpu_call/eoi, cvmbus_attest_request, and its own view
 *              of partition memory;
 *   paravisor  cvmbus_synic_post/signal on the paravisor SynIC, ports it
 *              owns, cvmbus_hv_post_message_from/signal_event_from;
 *   host       cvmbus_synic_post/signal on the hypervisor SynIC, ports it
 *              owns, cvmbus_hv_signal_event_from.
 *
 * Under the deterministic executor, create, use and destroy the platform
 * from threads of one run (it spawns vCPU and port threads).
 *
 * Errors are negative errno values: -EINVAL (bad argument or configuration),
 * -EOPNOTSUPP (that path cannot exist in this configuration), -ENOMEM,
 * -EEXIST (a connection id already has a port), -ENOENT (no such port),
 * -ENOSPC (a SynIC queue is full: the message was dropped), -ESHUTDOWN (the
 * platform is being torn down), -EFAULT (a carrier page was not reachable),
 * -EPERM (an attestation request over a path the host can see).
 * A hypercall that ran returns 0 and its Hyper-V status in *status.
 */
#ifndef CVMBUS_PLATFORM_H
#define CVMBUS_PLATFORM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cvmbus/attest.h>
#include <cvmbus/exec.h>
#include <cvmbus/hv.h>
#include <cvmbus/memory.h>
#include <cvmbus/trace.h>

#define CVMBUS_PLATFORM_MAX_VCPUS 64u
/* Defaults of the bounded queues (per SINT and per message port). */
#define CVMBUS_PLATFORM_DEFAULT_QUEUE 16u
#define CVMBUS_PLATFORM_MAX_QUEUE     4096u
/* HvCallGet/SetVpRegisters: "this vCPU". */
#define HV_VP_INDEX_SELF 0xFFFFFFFEu

enum cvmbus_arch {
	CVMBUS_ARCH_X86_64 = 0,
	CVMBUS_ARCH_ARM64 = 1,
};

struct cvmbus_platform_config {
	struct cvmbus_exec *exec; /* required */
	enum cvmbus_arch arch;
	enum hv_isolation_type isolation;
	bool paravisor;
	/* The paravisor offers Confidential VMBus: CPUID 0x40000082 EAX bit 3.
	 * Needs a paravisor. */
	bool confidential_vmbus;
	unsigned int vcpus;        /* 1..CVMBUS_PLATFORM_MAX_VCPUS; 0: 1 */
	uint64_t vtl0_bytes;       /* guest RAM; 0: 4 MiB */
	uint64_t vtl2_bytes;       /* paravisor RAM; 0: 1 MiB with a paravisor */
	unsigned int shared_gpa_bits; /* 0: 46 (VBS, SNP) or 47 (TDX) */
	unsigned int sint_queue_depth; /* per SINT and SynIC; 0: default */
	unsigned int port_queue_depth; /* default per message port; 0: default */
	/* NULL: the platform makes (and owns) its own trace. */
	struct cvmbus_trace *trace;
	/* The measured paravisor (needs `paravisor`; attest_path.c). The image
	 * is copied and launched, i.e. measured into the security processor's
	 * write-once register, while the platform is created, before any party
	 * runs. NULL: cvmbus_platform_default_paravisor_image() of this
	 * configuration. Its policy.offers_confidential_vmbus must equal
	 * confidential_vmbus (the CPUID bit the paravisor will answer). */
	const struct cvmbus_paravisor_image *paravisor_image;
	/* PEM of the security processor's EC P-384 signing key (PKCS#8 or "EC
	 * PRIVATE KEY"); NULL: a fresh key for this platform. Read during
	 * create, not kept. attest_key_pem_len 0: strlen(attest_key_pem). */
	const char *attest_key_pem;
	size_t attest_key_pem_len;
};

struct cvmbus_platform;

/* Check a configuration without building it: 0, or -EINVAL and a short
 * lowercase reason in err (may be NULL). */
int cvmbus_platform_config_check(const struct cvmbus_platform_config *cfg, char *err,
				 size_t errlen);
/* Build everything: memory, SynICs, ports, carrier pages, vCPU threads.
 * On -EINVAL err says why (also logged). */
int cvmbus_platform_create(const struct cvmbus_platform_config *cfg,
			   struct cvmbus_platform **out, char *err, size_t errlen);
/* Stops the vCPU and port threads (dropping what is queued, traced) and
 * frees everything. Call from no vCPU or port thread. */
void cvmbus_platform_destroy(struct cvmbus_platform *p);

struct cvmbus_mem *cvmbus_platform_mem(struct cvmbus_platform *p);
struct cvmbus_trace *cvmbus_platform_trace(struct cvmbus_platform *p);
struct cvmbus_exec *cvmbus_platform_exec(struct cvmbus_platform *p);
/* The configuration with every default resolved. */
const struct cvmbus_platform_config *cvmbus_platform_config(const struct cvmbus_platform *p);
unsigned int cvmbus_platform_vcpus(const struct cvmbus_platform *p);
/* Whether hypercalls the paravisor intercepts count as trusted: a paravisor
 * on an isolated partition (VBS, SNP or TDX). */
bool cvmbus_platform_trap_trusted(const struct cvmbus_platform *p);

/* "none", "vbs", "snp", "tdx"; "x86_64", "arm64". */
const char *cvmbus_isolation_name(enum hv_isolation_type iso);
const char *cvmbus_arch_name(enum cvmbus_arch arch);

/* ---- CPUID (cpuid.c) -------------------------------------------------------- */

/* The synthetic leaves 0x40000000-0x400000FF as this platform answers them
 * (0x40000082 by the paravisor, the rest by the hypervisor); anything else
 * reads as zeros. Traced. -EINVAL on a bad vp. */
int cvmbus_cpuid(struct cvmbus_platform *p, uint32_t vp, uint32_t leaf,
		 struct hv_cpuid_result *out);

/* ---- paths (regpath.c) ------------------------------------------------------- */

/* Whether `path` exists in this configuration. */
bool cvmbus_path_available(const struct cvmbus_platform *p, enum cvmbus_path path);
/* The path the guest uses to reach a SynIC's registers: MSR, GHCB, TDCALL
 * or HVC for the hypervisor's, PARAVISOR_TRAP for the paravisor's.
 * CVMBUS_PATH_NONE when that SynIC's registers are out of the guest's
 * reach (no paravisor; or the hypervisor's behind a paravisor on an x86
 * partition without GHCB or tdcall, where the paravisor supplies and
 * enables its pages). */
enum cvmbus_path cvmbus_platform_reg_path(const struct cvmbus_platform *p,
					  enum cvmbus_synic_kind target);
/* The path of a guest hypercall handled by the hypervisor (HYPERCALL_PAGE,
 * GHCB, TDCALL, HVC: the host sees it) or by the paravisor
 * (PARAVISOR_TRAP). CVMBUS_PATH_NONE if there is none. */
enum cvmbus_path cvmbus_platform_hypercall_path(const struct cvmbus_platform *p,
						enum cvmbus_synic_kind target);

/* Read or write a SynIC register of vCPU vp (or VP_INDEX, GUEST_OS_ID,
 * HYPERCALL) through `path`. reg is an x86 MSR number on every path but
 * HVC, where it is an arm64 HV_REGISTER_* name carried by HvCallGet/
 * SetVpRegisters. -EOPNOTSUPP: no such path here; -EINVAL: unknown register,
 * reserved bits, a read-only register (what would be #GP); all traced. */
int cvmbus_reg_read(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
		    uint32_t reg, uint64_t *value);
int cvmbus_reg_write(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
		     uint32_t reg, uint64_t value);

/* ---- hypercalls (hypercall.c, regpath.c) ------------------------------------- */

/* The guest's HvPostMessage on vCPU vp through `path`. 0 and *status, or
 * -EOPNOTSUPP / -EINVAL before anything ran. Statuses: SUCCESS,
 * INVALID_CONNECTION_ID, INSUFFICIENT_BUFFERS (the port's queue is full),
 * INVALID_PARAMETER (size > 240, bad message type), INVALID_HYPERCALL_INPUT
 * (reserved bits set). */
int cvmbus_hv_post_message(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
			   uint32_t connection_id, uint32_t message_type, const void *payload,
			   uint32_t size, uint16_t *status);
/* The guest's HvSignalEvent (a fast hypercall). */
int cvmbus_hv_signal_event(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
			   uint32_t connection_id, uint16_t flag_number, uint16_t *status);
/* A raw guest hypercall: control as in the hypercall input value, input
 * bytes copied to the path's carrier (fast calls: at most 16 bytes, in
 * registers), output copied back (at most out_len bytes). */
int cvmbus_hv_hypercall(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
			uint64_t control, const void *input, size_t in_len, void *output,
			size_t out_len, uint16_t *status);
/* The same hypercalls made by the paravisor (to the hypervisor, through the
 * paravisor's own GHCB / tdcall page / hypercall page, so the host sees
 * them) or by the host (the root partition: no carrier, path "none"). */
int cvmbus_hv_post_message_from(struct cvmbus_platform *p, enum cvmbus_mem_party from,
				uint32_t vp, uint32_t connection_id, uint32_t message_type,
				const void *payload, uint32_t size, uint16_t *status);
int cvmbus_hv_signal_event_from(struct cvmbus_platform *p, enum cvmbus_mem_party from,
				uint32_t vp, uint32_t connection_id, uint16_t flag_number,
				uint16_t *status);

/* Make pages shared or private as `party` with a reason: the same as
 * cvmbus_mem_set_visibility(), but the trace event of each visibility
 * hypercall also names the party and the reason. */
int cvmbus_platform_set_visibility(struct cvmbus_platform *p, enum cvmbus_mem_party party,
				   uint64_t gpa, uint64_t npages, bool shared,
				   const char *reason);

/* ---- ports (ports.c) ------------------------------------------------------------ */

/* A message as its port's owner receives it: a private copy. */
struct cvmbus_port_message {
	uint32_t connection_id;
	uint32_t message_type;
	const uint8_t *payload; /* size bytes, valid during the call */
	uint32_t size;
	bool trusted;           /* sent with no host-visible mechanism */
	uint32_t vp;            /* the sender's vCPU */
	enum cvmbus_mem_party from;
	enum cvmbus_path path;
};
typedef void (*cvmbus_port_message_fn)(void *ctx, const struct cvmbus_port_message *msg);

struct cvmbus_port_event {
	uint32_t connection_id;
	uint16_t flag_number;
	bool trusted;
	uint32_t vp;
	enum cvmbus_mem_party from;
	enum cvmbus_path path;
	/* The port's on_vtl_return will run for this signal on the same
	 * thread once the hypercall is complete (see cvmbus_port_config). */
	bool vtl_return;
};
typedef void (*cvmbus_port_event_fn)(void *ctx, const struct cvmbus_port_event *ev);

enum cvmbus_port_kind {
	CVMBUS_PORT_MESSAGE = 1, /* HvPostMessage: queued, handled on the port's thread */
	CVMBUS_PORT_EVENT = 2,   /* HvSignalEvent: handled inline */
};

struct cvmbus_port_config {
	uint32_t connection_id;        /* 24 bits */
	enum cvmbus_port_kind kind;
	enum cvmbus_mem_party owner;   /* host, paravisor, or guest (event ports) */
	/* MESSAGE: on_message runs on the port's own executor thread, one
	 * message at a time, in order. queue_depth 0: the platform default. */
	cvmbus_port_message_fn on_message;
	unsigned int queue_depth;
	/* EVENT owned by host or paravisor: on_event runs on the signaller's
	 * thread, inside its hypercall (the port table unlocked, the port
	 * kept alive: removing it waits for the call); it must not block,
	 * and must not remove its own port (ring a doorbell instead). */
	cvmbus_port_event_fn on_event;
	/* EVENT owned by the paravisor, optional: for a signal the guest made
	 * through the paravisor trap, which on real hardware is the
	 * signalling vCPU leaving VTL0 for VTL2 (Confidential VMBus: the
	 * paravisor runs in the guest's partition, on its vCPUs), called on
	 * the signaller's thread after on_event and after the hypercall is
	 * complete (its carrier let go), before the guest's call returns:
	 * VTL2's code running on that vCPU before it resumes VTL0. It may
	 * take time but must not wait for the guest (the guest's vCPU is
	 * the one running it). The port stays registered until it returns.
	 * The host never gets this: it is another party (with --processes
	 * another process), woken, never run on the guest's vCPU. */
	cvmbus_port_event_fn on_vtl_return;
	void *ctx;
	/* EVENT owned by the guest: the flag (base + flag_number) is set in
	 * this SynIC's event page of vCPU vp, SINT sint, and the SINT raised. */
	enum cvmbus_synic_kind synic;
	uint32_t vp;
	uint32_t sint;
	uint32_t base_flag;
};

int cvmbus_port_add(struct cvmbus_platform *p, const struct cvmbus_port_config *cfg);
/* Unlink, wait for a running handler, drop (trace) what is queued. */
int cvmbus_port_remove(struct cvmbus_platform *p, uint32_t connection_id);
/* Messages waiting in a port's queue, or -ENOENT. */
int cvmbus_port_queued(struct cvmbus_platform *p, uint32_t connection_id);

/* ---- SynIC (synic.c) ------------------------------------------------------------ */

/* Post a message into SINT sint of vCPU vp of a SynIC: the host through the
 * hypervisor's, the paravisor through its own (a proxied paravisor SINT
 * hands it to the hypervisor's). 0 when delivered or queued; -ENOSPC (queue
 * full), -EFAULT (page not reachable), -ENODEV (SIMP disabled), all dropped
 * and traced; -EINVAL. */
int cvmbus_synic_post(struct cvmbus_platform *p, enum cvmbus_synic_kind synic, uint32_t vp,
		      uint32_t sint, uint32_t message_type, const void *payload,
		      uint32_t size);
/* Set event flag `flag` of SINT sint (atomically, in the SIEFP page) and
 * raise the SINT. 0, -ENODEV (SIEFP disabled), -EFAULT, -EINVAL. */
int cvmbus_synic_signal(struct cvmbus_platform *p, enum cvmbus_synic_kind synic, uint32_t vp,
			uint32_t sint, uint32_t flag);
/* A register's current value as the SynIC holds it (tests and reports;
 * not a guest access, not traced). reg is an x86 MSR number. */
int cvmbus_synic_peek(struct cvmbus_platform *p, enum cvmbus_synic_kind synic, uint32_t vp,
		      uint32_t reg, uint64_t *value);
/* Messages held in a SINT's queue. */
unsigned int cvmbus_synic_queued(struct cvmbus_platform *p, enum cvmbus_synic_kind synic,
				 uint32_t vp, uint32_t sint);
/* The GPA of the hypervisor SynIC's SIMP/SIEFP page the paravisor supplies
 * (paravisor present), as the guest finds it in SIMP/SIEFP minus the
 * shared-GPA boundary; -ENOENT otherwise. */
int cvmbus_synic_supplied_pages(struct cvmbus_platform *p, uint32_t vp, uint64_t *simp_gpa,
				uint64_t *siefp_gpa);

/* ---- the measured paravisor (attest_path.c) ---------------------------------------- */

/*
 * With a paravisor the platform holds a simulated security processor
 * (cvmbus_attest_platform, attest.h) launched with the paravisor's image at
 * create. The guest asks it for a signed report over the paravisor-trap
 * path only: the request lives in the guest's PRIVATE trap page and the
 * report is written, through the paravisor's view, into a PRIVATE guest page
 * the guest names; nothing of either touches host-visible memory. Layouts
 * and the trace events: docs/ATTESTATION.md.
 */

/* The image a platform launches when its configuration names none: name
 * "cvmbus-paravisor", version CVMBUS_PLATFORM_DEFAULT_PARAVISOR_VERSION,
 * build digest all zero (no code is measured: a placeholder until the real
 * paravisor passes its own description), no VSPs, policy
 * offers_confidential_vmbus = cfg->confidential_vmbus, nothing else. */
#define CVMBUS_PLATFORM_DEFAULT_PARAVISOR_NAME    "cvmbus-paravisor"
#define CVMBUS_PLATFORM_DEFAULT_PARAVISOR_VERSION "0.1-model"
void cvmbus_platform_default_paravisor_image(const struct cvmbus_platform_config *cfg,
					     struct cvmbus_paravisor_image *out);

/* The launched image (the platform's own copy), or NULL without a paravisor. */
const struct cvmbus_paravisor_image *cvmbus_platform_paravisor_image(
	const struct cvmbus_platform *p);
/* The security processor itself (for tools and tests: a second launch on
 * it fails with -EALREADY), or NULL without a paravisor. */
struct cvmbus_attest_platform *cvmbus_platform_attest(struct cvmbus_platform *p);
/* The launch measurement reports carry. 0, -EOPNOTSUPP (no paravisor). */
int cvmbus_platform_attest_measurement(const struct cvmbus_platform *p,
				       uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE]);
/* The signing key's public half as PEM, NUL-terminated, *len without the
 * NUL: what a verifier obtains out of band (the vendor's certificate chain
 * in reality). 0, -EOPNOTSUPP (no paravisor), -ENOBUFS (cap < *len + 1). */
int cvmbus_platform_attest_pubkey_pem(const struct cvmbus_platform *p, char *buf, size_t cap,
				      size_t *len);

/* The request as the guest writes it at the start of its trap input page
 * (private), little-endian. */
struct cvmbus_attest_request_wire {
	uint32_t version;    /* @0x00: CVMBUS_ATTEST_REQUEST_VERSION */
	uint32_t report_len; /* @0x04: room at report_gpa, >= CVMBUS_ATTEST_REPORT_SIZE */
	uint64_t report_gpa; /* @0x08: where the report goes: private guest RAM */
	uint8_t report_data[CVMBUS_ATTEST_REPORT_DATA_SIZE]; /* @0x10: the nonce */
};
_Static_assert(sizeof(struct cvmbus_attest_request_wire) == 0x50, "attest request");
_Static_assert(offsetof(struct cvmbus_attest_request_wire, report_len) == 0x04, "report_len");
_Static_assert(offsetof(struct cvmbus_attest_request_wire, report_gpa) == 0x08, "report_gpa");
_Static_assert(offsetof(struct cvmbus_attest_request_wire, report_data) == 0x10, "report_data");

/* The answer the paravisor writes at the start of the trap output page. */
struct cvmbus_attest_response_wire {
	uint32_t status;     /* @0x00: 0, or the positive errno of the refusal */
	uint32_t report_len; /* @0x04: bytes written at report_gpa (0 on refusal) */
};
_Static_assert(sizeof(struct cvmbus_attest_response_wire) == 8, "attest response");
_Static_assert(offsetof(struct cvmbus_attest_response_wire, report_len) == 0x04, "report_len");

#define CVMBUS_ATTEST_REQUEST_VERSION 1u
/* The "code" of the trace events of a request: a model-only number, after
 * SNP's guest-request exit code 0x8000_0011, outside Hyper-V's hypercall
 * codes (the guest does not reach the security processor by a hypercall). */
#define CVMBUS_ATTEST_TRACE_CODE 0x8011u

/*
 * The guest's report request on vCPU vp through `path`: a signed report
 * binding the launch measurement to `nonce` is written at report_gpa (352
 * bytes, CVMBUS_ATTEST_REPORT_SIZE, inside guest RAM), which the guest then
 * reads through its own view. Only CVMBUS_PATH_PARAVISOR_TRAP is accepted:
 * over GHCB, tdcall or any host-handled path the host could read, drop or
 * swap the request, so it is refused with -EPERM. Traced: a request event
 * and a result event (docs/ATTESTATION.md). Errors: -EINVAL (bad argument
 * or vp), -EPERM (not the trusted path; or, on an isolated partition, a
 * report page that is host-visible), -EOPNOTSUPP (no paravisor here),
 * -EFAULT (report_gpa not in guest RAM or mid-transition), -EIO (signing
 * failed), -ESHUTDOWN (platform going away).
 */
int cvmbus_attest_request(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
			  const uint8_t nonce[CVMBUS_ATTEST_REPORT_DATA_SIZE], uint64_t report_gpa);

/* ---- guest-side helpers over a mapped SynIC page ---------------------------------- */

/* Copy the message in `slot` (a SIMP slot the guest maps) into *copy. True
 * if there was one. The type is read once, with acquire, before the rest;
 * the flags byte, which the SynIC may set atomically meanwhile, is read
 * atomically too. */
static inline bool cvmbus_simp_slot_read(const struct hv_message *slot, struct hv_message *copy)
{
	uint32_t type = atomic_load_explicit((_Atomic uint32_t *)&slot->header.message_type,
					     memory_order_acquire);

	if (type == HVMSG_NONE)
		return false;
	copy->header.message_type = type;
	copy->header.payload_size = slot->header.payload_size;
	copy->header.message_flags = atomic_load_explicit(
		(_Atomic uint8_t *)&slot->header.message_flags, memory_order_relaxed);
	copy->header.reserved[0] = slot->header.reserved[0];
	copy->header.reserved[1] = slot->header.reserved[1];
	copy->header.port_id = slot->header.port_id;
	memcpy(copy->payload, slot->payload, HV_MESSAGE_PAYLOAD_SIZE);
	return true;
}

/* Free the slot after reading it; true if the guest must now write EOM
 * (another message waits). The store of NONE and the load of the pending
 * flag are sequentially consistent, pairing with the SynIC's set-pending /
 * re-check, so a message cannot be left waiting with nobody to EOM. */
static inline bool cvmbus_simp_slot_release(struct hv_message *slot)
{
	atomic_store((_Atomic uint32_t *)&slot->header.message_type, HVMSG_NONE);
	return atomic_load((_Atomic uint8_t *)&slot->header.message_flags) &
	       HV_MESSAGE_FLAG_PENDING;
}

/* Test and clear event flag `bit` of a SINT's 256-byte flag area. */
static inline bool cvmbus_event_flag_test_and_clear(struct hv_event_flags *flags, uint32_t bit)
{
	_Atomic uint64_t *w = (_Atomic uint64_t *)&flags->flags[(bit / 64u) % 32u];
	uint64_t m = 1ull << (bit % 64u);

	if (!(atomic_load_explicit(w, memory_order_relaxed) & m))
		return false;
	return atomic_fetch_and_explicit(w, ~m, memory_order_acq_rel) & m;
}

/* Take every set flag of one 64-bit word of a SINT's area (index 0..31). */
static inline uint64_t cvmbus_event_flags_take(struct hv_event_flags *flags, uint32_t word)
{
	return atomic_exchange_explicit((_Atomic uint64_t *)&flags->flags[word % 32u], 0,
					memory_order_acq_rel);
}

/* ---- vCPUs (vcpu.c) ----------------------------------------------------------------- */

/* The guest's interrupt handler: runs on vCPU vp's own thread for each SINT
 * interrupt (vector from the SINT register). With a non-auto-EOI SINT the
 * handler (or later code) must call cvmbus_vcpu_eoi() before that SINT
 * interrupts this vCPU again. */
typedef void (*cvmbus_vcpu_isr_fn)(void *ctx, struct cvmbus_platform *p, uint32_t vp,
				   enum cvmbus_synic_kind synic, uint32_t sint,
				   uint32_t vector);
/* Set (or clear, fn NULL) the guest's handler. Interrupts that arrive with
 * no handler are traced and forgotten (as a spurious interrupt would be). */
void cvmbus_platform_set_isr(struct cvmbus_platform *p, cvmbus_vcpu_isr_fn fn, void *ctx);

typedef void (*cvmbus_vcpu_fn)(void *arg);
/* Run fn(arg) on vCPU vp's thread and wait for it (directly if the caller
 * is that vCPU). 0, -EINVAL, -ESHUTDOWN. */
int cvmbus_vcpu_call(struct cvmbus_platform *p, uint32_t vp, cvmbus_vcpu_fn fn, void *arg);
/* End the interrupts in service on vCPU vp (the APIC EOI). Interrupts that
 * arrived meanwhile are delivered next. Traced. */
int cvmbus_vcpu_eoi(struct cvmbus_platform *p, uint32_t vp);
/* The vCPU the calling thread is, or CVMBUS_TRACE_NO_VP. */
uint32_t cvmbus_vcpu_self(const struct cvmbus_platform *p);
/* Interrupts the vCPU's handler has run (statistics). */
uint64_t cvmbus_vcpu_interrupts(const struct cvmbus_platform *p, uint32_t vp);

#endif /* CVMBUS_PLATFORM_H */
