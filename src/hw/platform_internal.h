/* SPDX-License-Identifier: MIT */
/*
 * Internals of the simulated platform (src/hw: cpuid.c, synic.c,
 * hypercall.c, ports.c, regpath.c, vcpu.c, platform.c, attest_path.c): the
 * platform record, the two SynIC instances, the port table, the vCPUs and
 * their hypercall carrier pages, the measured paravisor, and the calls these
 * files make into each other. Partition memory (memory*.c) and the
 * attestation core (attest_*.c, attest_internal.h) have their own internals
 * and are used only through cvmbus/memory.h and cvmbus/attest.h from here.
 *
 * Lock order (outer first), so that no two paths can deadlock:
 *   carrier lock (one per party and vCPU: a vCPU makes one hypercall at a time)
 *   -> port table lock -> port lock
 *   -> SynIC lock (never two SynICs at once: a proxied post unlocks first)
 *   -> vCPU lock -> doorbell lock
 *   -> trace lock (innermost: emit from anywhere)
 * An attestation request holds its trap carrier's lock while the security
 * processor signs; the security processor takes no platform lock.
 */
#ifndef CVMBUS_HW_PLATFORM_INTERNAL_H
#define CVMBUS_HW_PLATFORM_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cvmbus/attest.h>
#include <cvmbus/exec.h>
#include <cvmbus/hv.h>
#include <cvmbus/memory.h>
#include <cvmbus/platform.h>
#include <cvmbus/trace.h>

/* ---- who is asking ---------------------------------------------------------- */

struct hw_port;

/* Paravisor work owed to a vCPU that trapped into VTL2 with a signal
 * (ports.c fills it, regpath.c runs it once the carrier is let go). */
struct hw_vtl_return {
	struct hw_port *port; /* NULL: nothing owed; else kept busy until run */
	struct cvmbus_port_event ev;
};

/* The origin of a register access or hypercall, as the handler sees it. */
struct hw_origin {
	enum cvmbus_mem_party party;
	uint32_t vp;
	enum cvmbus_path path;
	bool trusted;
	/* A guest hypercall through the paravisor trap: where a signal to a
	 * paravisor port with on_vtl_return leaves the pass owed. NULL
	 * otherwise. */
	struct hw_vtl_return *vtl_return;
};

/* ---- registers ---------------------------------------------------------------- */

/* The registers the model implements, independent of how they are named
 * (x86 MSR number or HV_REGISTER_* name). */
enum hw_reg {
	HW_REG_UNKNOWN = 0,
	HW_REG_SCONTROL,
	HW_REG_SVERSION,
	HW_REG_SIEFP,
	HW_REG_SIMP,
	HW_REG_EOM,
	HW_REG_SIRBP,
	HW_REG_SINT0,
	HW_REG_SINT15 = HW_REG_SINT0 + 15,
	HW_REG_VP_INDEX,
	HW_REG_GUEST_OS_ID,
	HW_REG_HYPERCALL,
};

enum hw_reg hw_reg_from_msr(uint32_t msr);
enum hw_reg hw_reg_from_name(uint32_t name);
uint32_t hw_reg_to_msr(enum hw_reg reg);

/* regpath.c: one register access on the SynIC `target`, traced with the
 * origin's path. reg_number is what the trace shows (MSR or name). */
int hw_reg_access(struct cvmbus_platform *p, const struct hw_origin *o,
		  enum cvmbus_synic_kind target, uint32_t reg_number, enum hw_reg reg,
		  bool write, uint64_t *value);

/* ---- queued messages ------------------------------------------------------------ */

struct hw_msg {
	uint32_t message_type;
	uint32_t size;
	uint64_t port_id;
	unsigned int from; /* enum cvmbus_mem_party of the sender (for the trace) */
	uint8_t payload[HV_MESSAGE_PAYLOAD_SIZE];
};

/* A bounded FIFO of messages (per SINT; per port with extra fields). */
struct hw_msgq {
	struct hw_msg *slots;
	uint32_t head, count, cap;
};

int hw_msgq_init(struct hw_msgq *q, uint32_t cap);
void hw_msgq_fini(struct hw_msgq *q);
struct hw_msg *hw_msgq_push(struct hw_msgq *q); /* NULL when full */
struct hw_msg *hw_msgq_head(struct hw_msgq *q);  /* NULL when empty */
void hw_msgq_pop(struct hw_msgq *q);

/* ---- SynIC (synic.c) -------------------------------------------------------------- */

struct hw_synic_vp {
	/* Read by the other SynIC (the hypervisor's interrupt gate looks at
	 * the paravisor's SCONTROL), so atomic; written under the lock. */
	_Atomic uint64_t scontrol;
	uint64_t simp, siefp;
	uint64_t sint[HV_SYNIC_SINT_COUNT];
	struct hw_msgq q[HV_SYNIC_SINT_COUNT];
	uint32_t irq_held; /* bit per SINT: an interrupt owed once deliverable */
};

struct hw_synic {
	struct cvmbus_platform *plat;
	enum cvmbus_synic_kind kind;
	struct cvmbus_mutex lock;
	uint32_t nvp;
	struct hw_synic_vp *vp;
	/* Hypervisor SynIC behind a paravisor: the pages are supplied (GPA of
	 * each vCPU's SIMP and SIEFP), and the guest cannot move them. */
	bool supplied;
	uint64_t *sup_simp, *sup_siefp;
};

int hw_synic_create(struct cvmbus_platform *p, enum cvmbus_synic_kind kind,
		    struct hw_synic **out);
void hw_synic_destroy(struct hw_synic *s);
/* Supply pages to a hypervisor SynIC (paravisor present). */
int hw_synic_supply_pages(struct hw_synic *s);
int hw_synic_read(struct hw_synic *s, uint32_t vp, enum hw_reg reg, uint64_t *value);
/* 0 if `value` may be written to `reg` (what would otherwise be #GP:
 * reserved bits, read-only registers, vectors below 16 unmasked). */
int hw_synic_validate(enum hw_reg reg, uint64_t value);
int hw_synic_write(struct hw_synic *s, const struct hw_origin *o, uint32_t vp,
		   enum hw_reg reg, uint64_t value);
int hw_synic_post(struct hw_synic *s, enum cvmbus_mem_party from, uint32_t vp,
		  uint32_t sint, uint32_t message_type, const void *payload, uint32_t size,
		  uint64_t port_id);
int hw_synic_signal(struct hw_synic *s, enum cvmbus_mem_party from, uint32_t vp,
		    uint32_t sint, uint32_t flag);
struct hw_synic *hw_synic_of(struct cvmbus_platform *p, enum cvmbus_synic_kind kind);

/* ---- ports (ports.c) ----------------------------------------------------------------- */

/* Buckets of the port table, by the low byte of the connection id: channel
 * signal ids are a base plus the relid, so an open channel's lookup stays
 * short however many channels are open (a list made every guest post walk
 * past every channel's event port). */
#define HW_PORT_BUCKETS 256u

struct hw_port_table {
	struct cvmbus_mutex lock;
	struct cvmbus_cond idle; /* a port's running event calls reached zero */
	struct hw_port *bucket[HW_PORT_BUCKETS];
};

void hw_ports_init(struct cvmbus_platform *p);
/* Remove every port (platform teardown). */
void hw_ports_fini(struct cvmbus_platform *p);
/* The routing half of HvPostMessage / HvSignalEvent: a validated request
 * from o to connection_id. Returns an HV_STATUS_*; *owner is the party
 * that owns the port (CVMBUS_TRACE_PARTY_NONE if none). */
uint16_t hw_port_post(struct cvmbus_platform *p, const struct hw_origin *o,
		      uint32_t connection_id, uint32_t message_type, const uint8_t *payload,
		      uint32_t size, unsigned int *owner);
uint16_t hw_port_signal(struct cvmbus_platform *p, const struct hw_origin *o,
			uint32_t connection_id, uint16_t flag_number, unsigned int *owner);
/* Run the on_vtl_return a signal left owed in r (no lock held: the
 * signaller's carrier is let go), then let the port go. */
void hw_port_vtl_return(struct cvmbus_platform *p, struct hw_vtl_return *r);
/* The owner of a port of that kind, or CVMBUS_TRACE_PARTY_NONE. */
unsigned int hw_port_owner(struct cvmbus_platform *p, uint32_t connection_id,
			   enum cvmbus_port_kind kind);

/* ---- hypercalls (hypercall.c) -------------------------------------------------------- */

/* Handle one hypercall whose input the handler has already copied out of
 * the caller's memory (in, in_len bytes, zero-padded by the caller to at
 * least a page for memory-passed calls). Output goes to out (out_cap bytes);
 * *out_len gets how many bytes the call wrote. Traced. */
uint16_t hw_hypercall(struct cvmbus_platform *p, const struct hw_origin *o, uint64_t control,
		      const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
		      size_t *out_len);
/* Installed as partition memory's visibility hook: ctx is the platform. */
uint16_t hw_visibility_hook(void *ctx,
			    const struct hv_input_modify_sparse_gpa_page_host_visibility *input,
			    uint32_t rep_count);

/* Who is changing visibility on which thread, so the hook can say it. */
#define HW_VIS_NOTES 16u
struct hw_vis_note {
	bool used;
	pthread_t thread;
	enum cvmbus_mem_party party;
	char reason[CVMBUS_MEM_REASON_MAX_LEN + 1];
};

/* ---- paths and carriers (regpath.c) ----------------------------------------------------- */

/* The memory a party's hypercalls travel through on one vCPU: an input and
 * an output page (GHCB: one page for both). */
struct hw_carrier {
	bool present;
	struct cvmbus_mutex lock;   /* one hypercall at a time per vCPU */
	enum cvmbus_path path;
	enum cvmbus_mem_party party;
	enum cvmbus_mem_view view;  /* how the caller writes it */
	uint64_t in_gpa, out_gpa;   /* out_gpa == in_gpa for GHCB */
	uint64_t npages;
	uint8_t *scratch;           /* 3 pages of process memory, under lock */
};

/* Allocate every vCPU's carriers (platform creation) / forget them. */
int hw_regpath_setup(struct cvmbus_platform *p);
void hw_regpath_teardown(struct cvmbus_platform *p);
/* The path a party's hypercalls to the hypervisor take (PATH_NONE: host). */
enum cvmbus_path hw_party_hv_path(const struct cvmbus_platform *p, enum cvmbus_mem_party party);
bool hw_path_trusted(const struct cvmbus_platform *p, enum cvmbus_path path);

/* ---- vCPUs (vcpu.c) ------------------------------------------------------------------- */

struct hw_call;

/* Doorbell bits: 0..15 hypervisor SINTs, 16..31 paravisor SINTs. */
#define HW_BELL_CALL (1ull << 32)
#define HW_BELL_STOP (1ull << 33)
#define HW_BELL_IRQS 0xFFFFFFFFull

struct hw_vcpu {
	struct cvmbus_platform *plat;
	uint32_t index;
	struct cvmbus_thread *thread;
	_Atomic(struct cvmbus_thread *) self; /* set by the thread itself */
	struct cvmbus_doorbell bell;
	struct cvmbus_mutex lock; /* everything below */
	uint64_t in_service;      /* non-auto-EOI interrupts not yet EOI'd */
	uint64_t latched;         /* raised while in service */
	uint64_t auto_eoi;
	uint32_t vector[32];
	struct hw_call *calls_head, *calls_tail;
	bool stopping;
	_Atomic uint64_t interrupts;

	/* Carriers: the guest's to the hypervisor and to the paravisor, the
	 * paravisor's to the hypervisor. */
	struct hw_carrier guest_hv, guest_trap, para_hv;
};

int hw_vcpus_start(struct cvmbus_platform *p);
void hw_vcpus_stop(struct cvmbus_platform *p);
/* Raise SINT `sint` of SynIC `synic` on vCPU vp (the SynIC decided it is
 * deliverable). */
void hw_vcpu_raise(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_synic_kind synic,
		   uint32_t sint, uint32_t vector, bool auto_eoi);

/* ---- the platform (platform.c, cpuid.c) ---------------------------------------------- */

struct cvmbus_platform {
	struct cvmbus_platform_config cfg; /* resolved */
	struct cvmbus_exec *exec;
	struct cvmbus_mem *mem;
	struct cvmbus_mem_host_view *host;
	struct cvmbus_trace *trace;
	bool own_trace;
	unsigned int boundary_bits; /* 0 under isolation NONE */
	uint64_t boundary;

	struct hw_synic *hyp;
	struct hw_synic *para; /* NULL without a paravisor */
	struct hw_port_table ports;
	struct hw_vcpu *vcpu;  /* cfg.vcpus of them */
	bool vcpus_started;

	struct cvmbus_mutex isr_lock;
	cvmbus_vcpu_isr_fn isr;
	void *isr_ctx;

	struct cvmbus_mutex vis_lock;
	struct hw_vis_note vis[HW_VIS_NOTES];

	/* Partition-wide registers the hypervisor keeps. */
	struct cvmbus_mutex reg_lock;
	uint64_t guest_os_id;
	uint64_t hypercall_msr;

	_Atomic bool shutting_down;

	/* The measured paravisor (attest_path.c), NULL without a paravisor:
	 * launched at create with pv_image, the platform's own copy of the
	 * image (cfg.paravisor_image points at it once resolved). */
	struct cvmbus_attest_platform *attest;
	struct cvmbus_paravisor_image pv_image;
	uint8_t pv_measurement[CVMBUS_ATTEST_DIGEST_SIZE]; /* read once, after launch */

	/* The host in another process (hostlink.c): visibility changes are
	 * forwarded to it while this is set. link_lock is held by whoever
	 * uses or changes it, so a link is never freed under a visibility
	 * hypercall that is forwarding through it. */
	struct cvmbus_mutex link_lock;
	struct cvmbus_hostlink *link;
	/* This platform is the host's end of such a link (hostlink_remote.c):
	 * no SynIC, vCPU or port table here; the calls the host makes travel
	 * the socket. */
	struct hw_remote *remote;
};

/* ---- the host in another process (hostlink.c, hostlink_remote.c) ------------------ */

struct cvmbus_hostlink;
struct hw_remote;
void hw_hostlink_visibility(struct cvmbus_hostlink *l,
			    const struct hv_input_modify_sparse_gpa_page_host_visibility *in,
			    uint32_t rep_count);
int hw_remote_port_add(struct cvmbus_platform *p, const struct cvmbus_port_config *cfg);
int hw_remote_port_remove(struct cvmbus_platform *p, uint32_t connection_id);
int hw_remote_synic_post(struct cvmbus_platform *p, uint32_t vp, uint32_t sint,
			 uint32_t message_type, const void *payload, uint32_t size);
int hw_remote_synic_signal(struct cvmbus_platform *p, uint32_t vp, uint32_t sint,
			   uint32_t flag);
int hw_remote_post_from(struct cvmbus_platform *p, uint32_t vp, uint32_t connection_id,
			uint32_t message_type, const void *payload, uint32_t size,
			uint16_t *status);
int hw_remote_signal_from(struct cvmbus_platform *p, uint32_t vp, uint32_t connection_id,
			  uint16_t flag_number, uint16_t *status);
void hw_remote_destroy(struct cvmbus_platform *p);

/* attest_path.c: create the security processor and launch the paravisor
 * image of p->cfg into it (platform creation, before memory and long before
 * the vCPUs run); repoints p->cfg's image at the platform's own copy and
 * forgets the key PEM.
 * 0, or -EINVAL with why (bad image, bad key, policy and CPUID disagree),
 * -ENOMEM, -EIO. */
int hw_attest_setup(struct cvmbus_platform *p, char *why, size_t whylen);
void hw_attest_teardown(struct cvmbus_platform *p);

/* cpuid.c: validate cfg and fill *out with every default resolved. */
int hw_config_resolve(const struct cvmbus_platform_config *cfg,
		      struct cvmbus_platform_config *out, unsigned int *boundary_bits, char *err,
		      size_t errlen);

/* Trace helpers shared by the files here. */
static inline bool hw_isolated(const struct cvmbus_platform *p)
{
	return p->cfg.isolation != HV_ISOLATION_TYPE_NONE;
}

#endif /* CVMBUS_HW_PLATFORM_INTERNAL_H */
