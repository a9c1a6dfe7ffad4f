/* SPDX-License-Identifier: MIT */
/*
 * The platform trace (src/hw, below the SynIC, hypercall and path code that
 * emit into it): stamps each event with executor time and a sequence number,
 * serialises it once into its canonical JSON object, and feeds that text to
 * the running hash, the in-memory buffer, the JSON Lines stream and the
 * callback. One lock orders everything, so the sequence numbers, the hash and
 * every sink agree on one order of events. Schema: docs/TRACE.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/hv.h>
#include <cvmbus/platform.h>
#include <cvmbus/trace.h>
#include <cvmbus/wire.h>

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME  0x100000001b3ull

/* A kept event with its own copies of what the emitter only lent us. */
struct trace_record {
	struct cvmbus_trace_event ev;
	void *bytes;
	char *reason;
	char *note;
};

struct cvmbus_trace {
	struct cvmbus_exec *exec;
	struct cvmbus_mutex lock;
	_Atomic uint64_t hash;      /* written under lock, read anywhere */
	_Atomic uint64_t count;     /* also the next seq: see cvmbus_trace_emit */
	bool hash_off;              /* under lock */
	uint32_t fn_kinds;          /* under lock: the kinds the callback wants */
	/* Bit k set: an event of kind k has a sink (hash, buffer, stream or
	 * callback) and takes the lock. Rewritten under the lock whenever a
	 * sink changes; read without it by emit (relaxed: a sink set while
	 * another thread emits may miss that one event, as it would if the
	 * event came a moment earlier). */
	_Atomic uint32_t sink_kinds;

	struct trace_record *buf;   /* cap entries, the first `kept` filled */
	size_t cap;
	_Atomic size_t kept;        /* release: a reader sees whole records */
	_Atomic uint64_t overflow;

	FILE *jsonl;
	_Atomic int jsonl_err; /* read without the lock */
	cvmbus_trace_fn fn;
	void *fn_ctx;

	char line[CVMBUS_TRACE_LINE_MAX + 1]; /* under lock: one line at a time */
};

/* ---- names ------------------------------------------------------------------ */

static const char *const kind_names[CVMBUS_TRACE_KIND_COUNT] = {
	[CVMBUS_TRACE_REG] = "reg",
	[CVMBUS_TRACE_HYPERCALL] = "hypercall",
	[CVMBUS_TRACE_DELIVER] = "deliver",
	[CVMBUS_TRACE_QUEUE] = "queue",
	[CVMBUS_TRACE_DROP] = "drop",
	[CVMBUS_TRACE_EOM] = "eom",
	[CVMBUS_TRACE_INTERRUPT] = "interrupt",
	[CVMBUS_TRACE_EOI] = "eoi",
	[CVMBUS_TRACE_EVENT] = "event",
	[CVMBUS_TRACE_VISIBILITY] = "visibility",
	[CVMBUS_TRACE_CPUID] = "cpuid",
	[CVMBUS_TRACE_MSG] = "msg",
};

const char *cvmbus_trace_kind_name(enum cvmbus_trace_kind kind)
{
	if ((unsigned int)kind >= CVMBUS_TRACE_KIND_COUNT || !kind_names[kind])
		return "unknown";
	return kind_names[kind];
}

const char *cvmbus_path_name(enum cvmbus_path path)
{
	static const char *const names[CVMBUS_PATH_COUNT] = {
		[CVMBUS_PATH_NONE] = "none",
		[CVMBUS_PATH_MSR] = "msr",
		[CVMBUS_PATH_HYPERCALL_PAGE] = "hypercall-page",
		[CVMBUS_PATH_GHCB] = "ghcb",
		[CVMBUS_PATH_TDCALL] = "tdcall",
		[CVMBUS_PATH_PARAVISOR_TRAP] = "paravisor-trap",
		[CVMBUS_PATH_HVC] = "hvc",
	};

	if ((unsigned int)path >= CVMBUS_PATH_COUNT)
		return "unknown";
	return names[path];
}

const char *cvmbus_synic_name(enum cvmbus_synic_kind synic)
{
	switch (synic) {
	case CVMBUS_SYNIC_NONE:
		return "none";
	case CVMBUS_SYNIC_HYPERVISOR:
		return "hypervisor";
	case CVMBUS_SYNIC_PARAVISOR:
		return "paravisor";
	}
	return "unknown";
}

const char *cvmbus_trace_party_name(unsigned int party)
{
	switch (party) {
	case CVMBUS_MEM_PARTY_GUEST:
		return "guest";
	case CVMBUS_MEM_PARTY_PARAVISOR:
		return "paravisor";
	case CVMBUS_MEM_PARTY_HYPERVISOR:
		return "hypervisor";
	case CVMBUS_MEM_PARTY_HOST:
		return "host";
	default:
		return "none";
	}
}

static const char *hypercall_name(uint16_t code)
{
	switch (code) {
	case HVCALL_GET_VP_REGISTERS:
		return "get_vp_registers";
	case HVCALL_SET_VP_REGISTERS:
		return "set_vp_registers";
	case HVCALL_POST_MESSAGE:
		return "post_message";
	case HVCALL_SIGNAL_EVENT:
		return "signal_event";
	case HVCALL_MODIFY_SPARSE_GPA_PAGE_HOST_VISIBILITY:
		return "modify_sparse_gpa_page_host_visibility";
	case CVMBUS_ATTEST_TRACE_CODE:
		/* The model's own code for an attestation request on the
		 * paravisor's trusted path (src/hw/attest_path.c). */
		return "attest_request";
	default:
		return "unknown";
	}
}

/* The SynIC register a number names, on either architecture, so that a
 * reader of the trace need not know MSR numbers by heart. */
static const char *reg_name(uint32_t reg, char *tmp, size_t cap)
{
	if (reg >= HV_X64_MSR_SINT0 && reg <= HV_X64_MSR_SINT15) {
		snprintf(tmp, cap, "sint%u", (unsigned int)(reg - HV_X64_MSR_SINT0));
		return tmp;
	}
	if (reg >= HV_REGISTER_SINT0 && reg <= HV_REGISTER_SINT15) {
		snprintf(tmp, cap, "sint%u", (unsigned int)(reg - HV_REGISTER_SINT0));
		return tmp;
	}
	switch (reg) {
	case HV_X64_MSR_GUEST_OS_ID:
		return "guest_os_id";
	case HV_X64_MSR_HYPERCALL:
		return "hypercall";
	case HV_X64_MSR_VP_INDEX:
	case HV_REGISTER_VP_INDEX:
		return "vp_index";
	case HV_X64_MSR_SCONTROL:
	case HV_REGISTER_SCONTROL:
		return "scontrol";
	case HV_X64_MSR_SVERSION:
	case HV_REGISTER_SVERSION:
		return "sversion";
	case HV_X64_MSR_SIEFP:
	case HV_REGISTER_SIEFP:
		return "siefp";
	case HV_X64_MSR_SIMP:
	case HV_REGISTER_SIMP:
		return "simp";
	case HV_X64_MSR_EOM:
	case HV_REGISTER_EOM:
		return "eom";
	case HV_X64_MSR_SIRBP:
	case HV_REGISTER_SIRBP:
		return "sirbp";
	default:
		return "unknown";
	}
}

/* ---- canonical JSON --------------------------------------------------------- */

/* An append-only writer over a fixed buffer that remembers how long the
 * text wanted to be, for snprintf semantics. */
struct jw {
	char *buf;
	size_t cap;
	size_t len;
};

static void jw_raw(struct jw *w, const char *s, size_t n)
{
	if (w->len < w->cap) {
		size_t room = w->cap - w->len;
		memcpy(w->buf + w->len, s, n < room ? n : room);
	}
	w->len += n;
}

/* Formats straight into the buffer: w->cap leaves room for the NUL, so
 * vsnprintf may use one byte more than the text it keeps. */
__attribute__((format(printf, 2, 3))) static void jw_fmt(struct jw *w, const char *fmt, ...)
{
	size_t room = w->len < w->cap ? w->cap - w->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? w->buf + w->len : NULL, room ? room + 1 : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		w->len += (size_t)n;
}

/* A JSON string. Reason tags and notes come from callers, so escape. */
static void jw_str(struct jw *w, const char *s)
{
	jw_raw(w, "\"", 1);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			jw_raw(w, e, 2);
		} else if (c < 0x20) {
			jw_fmt(w, "\\u%04x", c);
		} else {
			jw_raw(w, (const char *)&c, 1);
		}
	}
	jw_raw(w, "\"", 1);
}

static void jw_key_str(struct jw *w, const char *key, const char *val)
{
	jw_fmt(w, ",\"%s\":", key);
	jw_str(w, val);
}

static void jw_hex_bytes(struct jw *w, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char pair[2];

	jw_raw(w, ",\"hex\":\"", 8);
	for (size_t i = 0; i < n; i++) {
		pair[0] = digits[b[i] >> 4];
		pair[1] = digits[b[i] & 15];
		jw_raw(w, pair, 2);
	}
	jw_raw(w, "\"", 1);
}

/* The message part: the SynIC type, and for VMBus channel messages the
 * channel type and name read from the 8-byte header. */
static void jw_message(struct jw *w, const struct cvmbus_trace_event *ev, bool channel)
{
	const uint8_t *b = ev->bytes;
	size_t n = b ? ev->len : 0;

	if (!channel)
		jw_fmt(w, ",\"message_type\":%" PRIu32, ev->message_type);
	if ((channel || ev->message_type == HVMSG_VMBUS) && n >= CVMBUS_WIRE_HEADER_SIZE) {
		uint32_t type = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
				(uint32_t)b[3] << 24;

		jw_fmt(w, ",\"type\":%" PRIu32, type);
		jw_key_str(w, "name", cvmbus_wire_type_name(type));
	}
	if (b) {
		jw_fmt(w, ",\"len\":%" PRIu32, ev->len);
		jw_hex_bytes(w, b, n);
	}
}

int cvmbus_trace_format(const struct cvmbus_trace_event *ev, char *buf, size_t cap)
{
	struct jw w = { .buf = buf, .cap = cap ? cap - 1 : 0, .len = 0 };
	char tmp[16];

	if (!ev)
		return -EINVAL;
	jw_fmt(&w, "{\"seq\":%" PRIu64 ",\"t\":%" PRIu64, ev->seq, ev->t);
	jw_key_str(&w, "kind", cvmbus_trace_kind_name(ev->kind));
	if (ev->vp != CVMBUS_TRACE_NO_VP)
		jw_fmt(&w, ",\"vp\":%" PRIu32, ev->vp);
	jw_key_str(&w, "from", cvmbus_trace_party_name(ev->from));
	jw_key_str(&w, "to", cvmbus_trace_party_name(ev->to));
	jw_key_str(&w, "synic", cvmbus_synic_name(ev->synic));
	jw_key_str(&w, "path", cvmbus_path_name(ev->path));
	jw_fmt(&w, ",\"trusted\":%s", ev->trusted ? "true" : "false");
	if (ev->sint != CVMBUS_TRACE_NO_SINT)
		jw_fmt(&w, ",\"sint\":%" PRIu32, ev->sint);

	switch (ev->kind) {
	case CVMBUS_TRACE_REG:
		jw_fmt(&w, ",\"reg\":\"0x%08" PRIx32 "\"", ev->reg);
		jw_key_str(&w, "name", reg_name(ev->reg, tmp, sizeof(tmp)));
		jw_key_str(&w, "op", ev->write ? "write" : "read");
		jw_fmt(&w, ",\"value\":\"0x%" PRIx64 "\"", ev->value);
		break;
	case CVMBUS_TRACE_HYPERCALL:
		jw_fmt(&w, ",\"code\":\"0x%04x\"", (unsigned int)ev->code);
		jw_key_str(&w, "call", hypercall_name(ev->code));
		jw_fmt(&w, ",\"status\":\"0x%04x\"", (unsigned int)ev->status);
		if (ev->code == HVCALL_POST_MESSAGE || ev->code == HVCALL_SIGNAL_EVENT)
			jw_fmt(&w, ",\"connection_id\":%" PRIu32, ev->connection_id);
		if (ev->code == HVCALL_SIGNAL_EVENT)
			jw_fmt(&w, ",\"flag\":%" PRIu32, ev->flag);
		if (ev->code == HVCALL_POST_MESSAGE)
			jw_message(&w, ev, false);
		break;
	case CVMBUS_TRACE_DELIVER:
	case CVMBUS_TRACE_QUEUE:
	case CVMBUS_TRACE_DROP:
		jw_message(&w, ev, false);
		break;
	case CVMBUS_TRACE_INTERRUPT:
	case CVMBUS_TRACE_EOI:
		jw_fmt(&w, ",\"vector\":%" PRIu32, ev->vector);
		break;
	case CVMBUS_TRACE_EVENT:
		jw_fmt(&w, ",\"flag\":%" PRIu32, ev->flag);
		break;
	case CVMBUS_TRACE_VISIBILITY:
		jw_fmt(&w, ",\"gpa\":\"0x%" PRIx64 "\",\"pages\":%" PRIu64, ev->gpa, ev->pages);
		jw_key_str(&w, "state", ev->shared ? "shared" : "private");
		jw_fmt(&w, ",\"contiguous\":%s", ev->contiguous ? "true" : "false");
		jw_key_str(&w, "reason", ev->reason ? ev->reason : CVMBUS_MEM_REASON_UNTAGGED);
		jw_fmt(&w, ",\"status\":\"0x%04x\"", (unsigned int)ev->status);
		break;
	case CVMBUS_TRACE_CPUID:
		jw_fmt(&w, ",\"leaf\":\"0x%08" PRIx32 "\",\"eax\":\"0x%08" PRIx32
			   "\",\"ebx\":\"0x%08" PRIx32 "\",\"ecx\":\"0x%08" PRIx32
			   "\",\"edx\":\"0x%08" PRIx32 "\"",
		       ev->leaf, ev->eax, ev->ebx, ev->ecx, ev->edx);
		break;
	case CVMBUS_TRACE_MSG:
		jw_message(&w, ev, true);
		break;
	default:
		break;
	}
	if (ev->err)
		jw_fmt(&w, ",\"err\":%d", ev->err);
	if (ev->note)
		jw_key_str(&w, "note", ev->note);
	jw_raw(&w, "}", 1);
	if (cap)
		buf[w.len < w.cap ? w.len : w.cap] = '\0';
	return (int)w.len;
}

/* ---- the trace ---------------------------------------------------------------- */

void cvmbus_trace_event_init(struct cvmbus_trace_event *ev, enum cvmbus_trace_kind kind)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->vp = CVMBUS_TRACE_NO_VP;
	ev->sint = CVMBUS_TRACE_NO_SINT;
	ev->from = CVMBUS_TRACE_PARTY_NONE;
	ev->to = CVMBUS_TRACE_PARTY_NONE;
}

int cvmbus_trace_create(struct cvmbus_exec *exec, struct cvmbus_trace **out)
{
	struct cvmbus_trace *t;

	if (!exec || !out)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->exec = exec;
	cvmbus_mutex_init(&t->lock, exec, "trace");
	atomic_init(&t->hash, FNV64_OFFSET);
	atomic_init(&t->count, 0);
	atomic_init(&t->sink_kinds, CVMBUS_TRACE_ALL_KINDS); /* the hash */
	atomic_init(&t->kept, 0);
	atomic_init(&t->overflow, 0);
	*out = t;
	return 0;
}

static void buffer_free(struct cvmbus_trace *t)
{
	size_t kept = atomic_load_explicit(&t->kept, memory_order_relaxed);

	for (size_t i = 0; i < kept; i++) {
		free(t->buf[i].bytes);
		free(t->buf[i].reason);
		free(t->buf[i].note);
	}
	atomic_store_explicit(&t->kept, 0, memory_order_relaxed);
	atomic_store_explicit(&t->overflow, 0, memory_order_relaxed);
}

void cvmbus_trace_destroy(struct cvmbus_trace *t)
{
	if (!t)
		return;
	buffer_free(t);
	free(t->buf);
	cvmbus_mutex_destroy(&t->lock);
	free(t);
}

/* Copy what the emitter lent; a failed copy keeps the event without it
 * rather than losing the event. Under the lock. */
static void buffer_keep(struct cvmbus_trace *t, const struct cvmbus_trace_event *ev)
{
	size_t kept = atomic_load_explicit(&t->kept, memory_order_relaxed);
	struct trace_record *r;

	if (kept >= t->cap) {
		atomic_fetch_add_explicit(&t->overflow, 1, memory_order_relaxed);
		return;
	}
	r = &t->buf[kept];
	memset(r, 0, sizeof(*r));
	r->ev = *ev;
	r->ev.bytes = NULL;
	r->ev.reason = NULL;
	r->ev.note = NULL;
	if (ev->bytes && ev->len) {
		r->bytes = malloc(ev->len);
		if (r->bytes) {
			memcpy(r->bytes, ev->bytes, ev->len);
			r->ev.bytes = r->bytes;
		}
	}
	if (!r->ev.bytes)
		r->ev.len = 0;
	if (ev->reason)
		r->ev.reason = r->reason = strdup(ev->reason);
	if (ev->note)
		r->ev.note = r->note = strdup(ev->note);
	/* Release: a reader that sees the new count sees the whole record. */
	atomic_store_explicit(&t->kept, kept + 1, memory_order_release);
}

/* Which kinds reach a sink, from the sinks now set. Under the lock. */
static void sinks_changed(struct cvmbus_trace *t)
{
	uint32_t kinds = t->fn ? t->fn_kinds : 0;

	if (!t->hash_off || t->jsonl || t->cap)
		kinds = CVMBUS_TRACE_ALL_KINDS;
	atomic_store_explicit(&t->sink_kinds, kinds, memory_order_relaxed);
}

void cvmbus_trace_emit(struct cvmbus_trace *t, struct cvmbus_trace_event *ev)
{
	uint64_t h;
	int n;

	if (!t || !ev || (unsigned int)ev->kind >= 32u)
		return;
	/* An event no sink wants is counted and nothing else: no lock, no
	 * text. This is the hot path of a long-running export with the hash
	 * off (every ring signal is a hypercall event), where one lock and a
	 * JSON line per signal for nobody cost more than the signal. */
	if (!(atomic_load_explicit(&t->sink_kinds, memory_order_relaxed) &
	      (UINT32_C(1) << ev->kind))) {
		ev->seq = atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
		return;
	}
	cvmbus_mutex_lock(&t->lock);
	/* Time and sequence are taken under the lock so that both grow along
	 * the order in which the hash and the sinks see the events (an
	 * unlocked count above only leaves gaps between them). */
	ev->t = cvmbus_exec_now_ns(t->exec);
	ev->seq = atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
	n = cvmbus_trace_format(ev, t->line, sizeof(t->line) - 1);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(t->line) - 2)
		n = (int)(sizeof(t->line) - 2); /* cut, never overrun: still hashed */
	t->line[n] = '\n';
	if (!t->hash_off) {
		h = atomic_load_explicit(&t->hash, memory_order_relaxed);
		for (int i = 0; i <= n; i++) {
			h ^= (uint8_t)t->line[i];
			h *= FNV64_PRIME;
		}
		atomic_store_explicit(&t->hash, h, memory_order_relaxed);
	}
	if (t->jsonl && fwrite(t->line, 1, (size_t)n + 1, t->jsonl) != (size_t)n + 1) {
		t->jsonl_err = -EIO;
		t->jsonl = NULL;
		sinks_changed(t);
	}
	t->line[n] = '\0';
	if (t->fn && (t->fn_kinds & (UINT32_C(1) << ev->kind)))
		t->fn(t->fn_ctx, ev, t->line, (size_t)n);
	if (t->cap)
		buffer_keep(t, ev);
	cvmbus_mutex_unlock(&t->lock);
}

int cvmbus_trace_buffer_enable(struct cvmbus_trace *t, size_t cap)
{
	struct trace_record *buf = NULL;
	if (!t)
		return -EINVAL;
	if (cap) {
		buf = calloc(cap, sizeof(*buf));
		if (!buf)
			return -ENOMEM;
	}
	cvmbus_mutex_lock(&t->lock);
	buffer_free(t);
	free(t->buf);
	t->buf = buf;
	t->cap = cap;
	sinks_changed(t);
	cvmbus_mutex_unlock(&t->lock);
	return 0;
}

size_t cvmbus_trace_buffer_count(const struct cvmbus_trace *t)
{
	return t ? atomic_load_explicit(&t->kept, memory_order_acquire) : 0;
}

const struct cvmbus_trace_event *cvmbus_trace_buffer_at(const struct cvmbus_trace *t, size_t i)
{
	if (!t || i >= atomic_load_explicit(&t->kept, memory_order_acquire))
		return NULL;
	return &t->buf[i].ev;
}

uint64_t cvmbus_trace_buffer_overflow(const struct cvmbus_trace *t)
{
	return t ? atomic_load_explicit(&t->overflow, memory_order_relaxed) : 0;
}

void cvmbus_trace_buffer_clear(struct cvmbus_trace *t)
{
	if (!t)
		return;
	cvmbus_mutex_lock(&t->lock);
	buffer_free(t);
	cvmbus_mutex_unlock(&t->lock);
}

void cvmbus_trace_set_jsonl(struct cvmbus_trace *t, FILE *f)
{
	if (!t)
		return;
	cvmbus_mutex_lock(&t->lock);
	t->jsonl = f;
	t->jsonl_err = 0;
	sinks_changed(t);
	cvmbus_mutex_unlock(&t->lock);
}

int cvmbus_trace_jsonl_error(const struct cvmbus_trace *t)
{
	return t ? t->jsonl_err : -EINVAL;
}

void cvmbus_trace_set_callback_kinds(struct cvmbus_trace *t, cvmbus_trace_fn fn, void *ctx,
				     uint32_t kinds)
{
	if (!t)
		return;
	cvmbus_mutex_lock(&t->lock);
	t->fn = fn;
	t->fn_ctx = ctx;
	t->fn_kinds = kinds;
	sinks_changed(t);
	cvmbus_mutex_unlock(&t->lock);
}

void cvmbus_trace_set_callback(struct cvmbus_trace *t, cvmbus_trace_fn fn, void *ctx)
{
	cvmbus_trace_set_callback_kinds(t, fn, ctx, CVMBUS_TRACE_ALL_KINDS);
}

void cvmbus_trace_set_hash(struct cvmbus_trace *t, bool on)
{
	if (!t)
		return;
	cvmbus_mutex_lock(&t->lock);
	t->hash_off = !on;
	sinks_changed(t);
	cvmbus_mutex_unlock(&t->lock);
}

bool cvmbus_trace_hash_on(const struct cvmbus_trace *t)
{
	bool on;

	if (!t)
		return false;
	/* The lock is the writer's; a const reader takes it through a cast
	 * rather than make every getter non-const. */
	cvmbus_mutex_lock(&((struct cvmbus_trace *)t)->lock);
	on = !t->hash_off;
	cvmbus_mutex_unlock(&((struct cvmbus_trace *)t)->lock);
	return on;
}

uint64_t cvmbus_trace_hash(const struct cvmbus_trace *t)
{
	return t ? atomic_load_explicit(&t->hash, memory_order_relaxed) : 0;
}

uint64_t cvmbus_trace_count(const struct cvmbus_trace *t)
{
	return t ? atomic_load_explicit(&t->count, memory_order_relaxed) : 0;
}
