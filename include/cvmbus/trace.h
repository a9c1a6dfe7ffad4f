/* SPDX-License-Identifier: MIT */
/*
 * The platform trace: one event for every register access, hypercall, SynIC
 * message delivery, EOM, interrupt, event-flag signal, CPUID answer and
 * host-visibility change, plus the channel messages that later layers
 * (client, server, relay) report through the same call. It sits at the
 * bottom of the platform model (src/hw) so that every party can emit into
 * one ordered stream; time comes from the executor, so a deterministic run
 * gives the same trace byte for byte.
 *
 * Each event is serialised once, canonically, as one JSON object (the JSON
 * Lines schema of docs/TRACE.md). That text feeds three sinks: a running
 * FNV-1a 64 hash (on unless turned off: "same seed, same trace" is a hash
 * compare; an export that runs for hours turns it off), an
 * in-memory buffer of copies (tests), and an optional JSON Lines stream or
 * callback (tools, reports).
 *
 * Errors are negative errno values: -EINVAL (bad argument), -ENOMEM, -EIO
 * (the JSON Lines stream failed; the trace keeps hashing).
 */
#ifndef CVMBUS_TRACE_H
#define CVMBUS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cvmbus/exec.h>
#include <cvmbus/memory.h>

/* What happened. The kind decides which of the per-kind fields count. */
enum cvmbus_trace_kind {
	CVMBUS_TRACE_REG = 1,    /* register read or write: reg, value, write */
	CVMBUS_TRACE_HYPERCALL,  /* code, status, connection_id, message bytes */
	CVMBUS_TRACE_DELIVER,    /* a message written into a SIMP slot */
	CVMBUS_TRACE_QUEUE,      /* a message held back (slot busy, SINT masked) */
	CVMBUS_TRACE_DROP,       /* a message the platform threw away (note) */
	CVMBUS_TRACE_EOM,        /* end of message: re-delivery or a no-op */
	CVMBUS_TRACE_INTERRUPT,  /* a SINT interrupt raised, held or suppressed */
	CVMBUS_TRACE_EOI,        /* the guest ended an interrupt (non-auto-EOI) */
	CVMBUS_TRACE_EVENT,      /* an event flag set in a SIEFP page */
	CVMBUS_TRACE_VISIBILITY, /* one host-visibility hypercall: gpa, pages */
	CVMBUS_TRACE_CPUID,      /* a CPUID leaf answered */
	CVMBUS_TRACE_MSG,        /* a channel message seen by a VMBus party */
	CVMBUS_TRACE_KIND_COUNT
};

/* A set of kinds, for cvmbus_trace_set_callback_kinds(): bit k is kind k. */
#define CVMBUS_TRACE_KIND_BIT(kind) (UINT32_C(1) << (kind))
#define CVMBUS_TRACE_ALL_KINDS      UINT32_MAX

/* How a register access or hypercall travelled (docs/PLATFORM.md). */
enum cvmbus_path {
	CVMBUS_PATH_NONE = 0,       /* not through a guest mechanism */
	CVMBUS_PATH_MSR,            /* plain rdmsr/wrmsr to the hypervisor (x86) */
	CVMBUS_PATH_HYPERCALL_PAGE, /* plain hypercall through the hypercall page */
	CVMBUS_PATH_GHCB,           /* SNP: the GHCB page, host-visible */
	CVMBUS_PATH_TDCALL,         /* TDX: TDG.VP.VMCALL, registers + shared page */
	CVMBUS_PATH_PARAVISOR_TRAP, /* direct MSR/hypercall trapped by the paravisor */
	CVMBUS_PATH_HVC,            /* arm64: hvc, Get/SetVpRegisters for registers */
	CVMBUS_PATH_COUNT
};

/* Which SynIC an event concerns. */
enum cvmbus_synic_kind {
	CVMBUS_SYNIC_NONE = 0,
	CVMBUS_SYNIC_HYPERVISOR = 1, /* untrusted: pages host-visible */
	CVMBUS_SYNIC_PARAVISOR = 2,  /* trusted: pages private */
};

/* A party field that names no party ("none" in JSON). */
#define CVMBUS_TRACE_PARTY_NONE CVMBUS_MEM_PARTY_COUNT
/* vp / sint field that names none (omitted from JSON). */
#define CVMBUS_TRACE_NO_VP   UINT32_MAX
#define CVMBUS_TRACE_NO_SINT UINT32_MAX

/*
 * One event. Fill it with cvmbus_trace_event_init() (which sets every "none"
 * value), set what the kind needs, and hand it to cvmbus_trace_emit(), which
 * stamps t and seq. Pointers (bytes, reason, note) need only live for the
 * duration of the emit call; the buffer sink keeps its own copies.
 */
struct cvmbus_trace_event {
	uint64_t t;   /* ns on the executor clock, set by emit */
	uint64_t seq; /* position in the trace, from 0, set by emit */
	enum cvmbus_trace_kind kind;
	uint32_t vp;                 /* CVMBUS_TRACE_NO_VP: none */
	unsigned int from, to;       /* enum cvmbus_mem_party or _PARTY_NONE */
	enum cvmbus_path path;
	enum cvmbus_synic_kind synic;
	bool trusted;
	uint32_t sint;               /* CVMBUS_TRACE_NO_SINT: none */

	/* REG */
	uint32_t reg;   /* x86 MSR number or arm64 HV_REGISTER_* name */
	uint64_t value;
	bool write;

	/* HYPERCALL */
	uint16_t code;
	uint16_t status;
	uint32_t connection_id;

	/* DELIVER, QUEUE, DROP, HYPERCALL (post message), MSG: the SynIC message
	 * type (HVMSG_*) and the bytes it carried. For VMBus messages (type 1,
	 * and every MSG event) the bytes are the whole channel message from its
	 * 8-byte header, and the JSON also gets the channel "type" and "name". */
	uint32_t message_type;
	const void *bytes;
	uint32_t len;

	/* INTERRUPT */
	uint32_t vector;
	/* EVENT, HYPERCALL (signal event): the event flag (a relid for VMBus) */
	uint32_t flag;

	/* VISIBILITY: first GPA, page count, target state, reason tag */
	uint64_t gpa;
	uint64_t pages;
	bool shared;
	bool contiguous;
	const char *reason;

	/* CPUID */
	uint32_t leaf;
	uint32_t eax, ebx, ecx, edx;

	int err;          /* a failed access's negative errno, 0 otherwise */
	const char *note; /* short lowercase text (why dropped, held, refused) */
};

struct cvmbus_trace;

/* Called for every event with its canonical JSON text (no newline), under
 * the trace's lock: the callback must not emit into the same trace. */
typedef void (*cvmbus_trace_fn)(void *ctx, const struct cvmbus_trace_event *ev,
				const char *json, size_t len);

/* exec gives time and the lock. 0, -EINVAL, -ENOMEM. */
int cvmbus_trace_create(struct cvmbus_exec *exec, struct cvmbus_trace **out);
void cvmbus_trace_destroy(struct cvmbus_trace *trace);

void cvmbus_trace_event_init(struct cvmbus_trace_event *ev, enum cvmbus_trace_kind kind);
/* Stamp, serialise, hash and hand to the sinks. Safe from any thread. */
void cvmbus_trace_emit(struct cvmbus_trace *trace, struct cvmbus_trace_event *ev);

/* ---- sinks ---------------------------------------------------------------- */

/* Keep copies of the next `cap` events in memory (0 turns the buffer off
 * and frees it). Events past cap are counted, not kept. 0 or -ENOMEM. */
int cvmbus_trace_buffer_enable(struct cvmbus_trace *trace, size_t cap);
/* Events kept so far. Kept events never change until clear/disable, so they
 * may be read while other threads emit. */
size_t cvmbus_trace_buffer_count(const struct cvmbus_trace *trace);
const struct cvmbus_trace_event *cvmbus_trace_buffer_at(const struct cvmbus_trace *trace,
							size_t i);
/* Events that did not fit in the buffer. */
uint64_t cvmbus_trace_buffer_overflow(const struct cvmbus_trace *trace);
/* Forget kept events (not the hash). Call only when nothing emits. */
void cvmbus_trace_buffer_clear(struct cvmbus_trace *trace);

/* Write each event as one line to f (NULL: stop). The trace does not own f;
 * a write error turns the stream off and is reported by jsonl_error(). */
void cvmbus_trace_set_jsonl(struct cvmbus_trace *trace, FILE *f);
int cvmbus_trace_jsonl_error(const struct cvmbus_trace *trace);
/* One callback sink (NULL: none), for every kind. */
void cvmbus_trace_set_callback(struct cvmbus_trace *trace, cvmbus_trace_fn fn, void *ctx);
/* The same for the kinds in `kinds` only (CVMBUS_TRACE_KIND_BIT()s): a
 * callback that counts channel messages need not make every signal take
 * the trace's lock once the hash is off. */
void cvmbus_trace_set_callback_kinds(struct cvmbus_trace *trace, cvmbus_trace_fn fn, void *ctx,
				     uint32_t kinds);

/* Hash every event (true, the default) or not. A run whose trace is
 * compared keeps it on; a long-running export turns it off, and then an
 * event no other sink wants costs one atomic add (it is counted and gets
 * a seq, nothing else). Off, cvmbus_trace_hash() keeps the value it had. */
void cvmbus_trace_set_hash(struct cvmbus_trace *trace, bool on);
bool cvmbus_trace_hash_on(const struct cvmbus_trace *trace);

/* FNV-1a 64 over every emitted line, newline included, in order (while
 * the hash is on). */
uint64_t cvmbus_trace_hash(const struct cvmbus_trace *trace);
/* Events emitted so far. */
uint64_t cvmbus_trace_count(const struct cvmbus_trace *trace);

/* ---- text ----------------------------------------------------------------- */

/* The canonical JSON object of ev (no newline); snprintf semantics. Lines
 * are at most CVMBUS_TRACE_LINE_MAX bytes with the NUL. */
#define CVMBUS_TRACE_LINE_MAX 2048u
int cvmbus_trace_format(const struct cvmbus_trace_event *ev, char *buf, size_t cap);

/* "reg", "hypercall", ... ; "unknown" out of range. */
const char *cvmbus_trace_kind_name(enum cvmbus_trace_kind kind);
/* "none", "msr", "hypercall-page", "ghcb", "tdcall", "paravisor-trap", "hvc". */
const char *cvmbus_path_name(enum cvmbus_path path);
/* "none", "hypervisor", "paravisor". */
const char *cvmbus_synic_name(enum cvmbus_synic_kind synic);
/* "guest", "paravisor", "hypervisor", "host", "none". */
const char *cvmbus_trace_party_name(unsigned int party);

#endif /* CVMBUS_TRACE_H */
