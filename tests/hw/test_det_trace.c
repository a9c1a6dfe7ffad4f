/* SPDX-License-Identifier: MIT */
/*
 * Tests of the platform trace (src/hw/trace.c) and of the whole platform
 * under the deterministic executor. The first half pins the canonical JSON
 * of each kind of event against lines written by hand from the schema in
 * docs/TRACE.md, the FNV-1a hash against an independent computation over
 * those lines, and the sinks (buffer copies, callback). The second half runs
 * a scenario (three vCPUs posting messages through the GHCB and signalling
 * events, a host port echoing them back through the hypervisor's SynIC and
 * signalling the guest, guest interrupt handlers draining their pages) for
 * 100 seeds, twice each: the same seed must give a byte-identical trace,
 * and different seeds must give different interleavings.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/exec.h>
#include <cvmbus/platform.h>

#include "hw/platform_test_util.h"

/* VERSION_RESPONSE: type 15, version_supported 1 at 8, msg_conn_id 4 at 12. */
static const uint8_t msg_version_response[16] = {
	0x0f, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 0x04, 0, 0, 0,
};

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
	const uint8_t *b = data;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ---- canonical JSON ------------------------------------------------------------------ */

static void test_format_reg_event(void **state)
{
	struct cvmbus_trace_event ev;
	char line[CVMBUS_TRACE_LINE_MAX];
	int n;

	(void)state;
	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_REG);
	ev.seq = 7;
	ev.t = 5;
	ev.vp = 1;
	ev.from = CVMBUS_MEM_PARTY_GUEST;
	ev.to = CVMBUS_MEM_PARTY_PARAVISOR;
	ev.synic = CVMBUS_SYNIC_PARAVISOR;
	ev.path = CVMBUS_PATH_PARAVISOR_TRAP;
	ev.trusted = true;
	ev.reg = HV_X64_MSR_SIMP;
	ev.write = true;
	ev.value = 0x5001;
	n = cvmbus_trace_format(&ev, line, sizeof(line));
	assert_int_equal(n, (int)strlen(line));
	assert_string_equal(line,
			    "{\"seq\":7,\"t\":5,\"kind\":\"reg\",\"vp\":1,\"from\":\"guest\","
			    "\"to\":\"paravisor\",\"synic\":\"paravisor\",\"path\":\"paravisor-trap\","
			    "\"trusted\":true,\"reg\":\"0x40000083\",\"name\":\"simp\","
			    "\"op\":\"write\",\"value\":\"0x5001\"}");

	/* arm64 names read the same. */
	ev.reg = HV_REGISTER_SINT0 + 2;
	ev.write = false;
	ev.err = -EINVAL;
	ev.note = "refused";
	cvmbus_trace_format(&ev, line, sizeof(line));
	assert_non_null(strstr(line, "\"reg\":\"0x000a0002\",\"name\":\"sint2\",\"op\":\"read\","
				     "\"value\":\"0x5001\",\"err\":-22,\"note\":\"refused\"}"));
}

static void test_format_msg_and_visibility(void **state)
{
	struct cvmbus_trace_event ev;
	char line[CVMBUS_TRACE_LINE_MAX], small[16];
	int n;

	(void)state;
	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_MSG);
	ev.from = CVMBUS_MEM_PARTY_HOST;
	ev.to = CVMBUS_MEM_PARTY_PARAVISOR;
	ev.bytes = msg_version_response;
	ev.len = sizeof(msg_version_response);
	n = cvmbus_trace_format(&ev, line, sizeof(line));
	assert_string_equal(line,
			    "{\"seq\":0,\"t\":0,\"kind\":\"msg\",\"from\":\"host\",\"to\":\"paravisor\","
			    "\"synic\":\"none\",\"path\":\"none\",\"trusted\":false,\"type\":15,"
			    "\"name\":\"version_response\",\"len\":16,"
			    "\"hex\":\"0f000000000000000100000004000000\"}");
	/* snprintf semantics: the length it wanted, a cut but terminated text. */
	assert_int_equal(cvmbus_trace_format(&ev, small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, line, sizeof(small) - 1);

	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_VISIBILITY);
	ev.from = CVMBUS_MEM_PARTY_GUEST;
	ev.to = CVMBUS_MEM_PARTY_HYPERVISOR;
	ev.path = CVMBUS_PATH_GHCB;
	ev.gpa = 0x3000;
	ev.pages = 2;
	ev.shared = true;
	ev.contiguous = true;
	ev.reason = "ring \"7\"";
	cvmbus_trace_format(&ev, line, sizeof(line));
	assert_string_equal(line,
			    "{\"seq\":0,\"t\":0,\"kind\":\"visibility\",\"from\":\"guest\","
			    "\"to\":\"hypervisor\",\"synic\":\"none\",\"path\":\"ghcb\","
			    "\"trusted\":false,\"gpa\":\"0x3000\",\"pages\":2,\"state\":\"shared\","
			    "\"contiguous\":true,\"reason\":\"ring \\\"7\\\"\",\"status\":\"0x0000\"}");

	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_CPUID);
	ev.leaf = 0x4000000C;
	ev.ebx = 0xBA2;
	ev.eax = 1;
	cvmbus_trace_format(&ev, line, sizeof(line));
	assert_non_null(strstr(line, "\"leaf\":\"0x4000000c\",\"eax\":\"0x00000001\","
				     "\"ebx\":\"0x00000ba2\",\"ecx\":\"0x00000000\","
				     "\"edx\":\"0x00000000\"}"));
}

/* ---- sinks and hash -------------------------------------------------------------------- */

struct cb_log {
	size_t calls;
	char last[CVMBUS_TRACE_LINE_MAX];
};

static void cb(void *ctx, const struct cvmbus_trace_event *ev, const char *json, size_t len)
{
	struct cb_log *l = ctx;

	(void)ev;
	l->calls++;
	memcpy(l->last, json, len + 1);
}

static void test_hash_buffer_callback(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_trace *t;
	struct cvmbus_trace_event ev;
	struct cb_log log;
	char line[CVMBUS_TRACE_LINE_MAX];
	uint8_t bytes[8] = { 0x10, 0, 0, 0, 0, 0, 0, 0 };
	uint64_t h = 0xcbf29ce484222325ull;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	assert_int_equal(cvmbus_trace_create(exec, &t), 0);
	assert_int_equal(cvmbus_trace_hash(t), h); /* the FNV offset basis */
	assert_int_equal(cvmbus_trace_buffer_enable(t, 2), 0);
	memset(&log, 0, sizeof(log));
	cvmbus_trace_set_callback(t, cb, &log);

	for (int i = 0; i < 3; i++) {
		cvmbus_trace_event_init(&ev, CVMBUS_TRACE_MSG);
		ev.from = CVMBUS_MEM_PARTY_GUEST;
		ev.to = CVMBUS_MEM_PARTY_HOST;
		ev.bytes = bytes;
		ev.len = sizeof(bytes);
		ev.note = "n";
		cvmbus_trace_emit(t, &ev);
		assert_int_equal(ev.seq, (uint64_t)i);
		/* The emitter's memory may change right after: kept copies
		 * must not. */
		bytes[4] = (uint8_t)(i + 1);
	}
	assert_int_equal(cvmbus_trace_count(t), 3);
	assert_int_equal(cvmbus_trace_buffer_count(t), 2);
	assert_int_equal(cvmbus_trace_buffer_overflow(t), 1);
	assert_int_equal(((const uint8_t *)cvmbus_trace_buffer_at(t, 0)->bytes)[4], 0);
	assert_int_equal(((const uint8_t *)cvmbus_trace_buffer_at(t, 1)->bytes)[4], 1);
	assert_string_equal(cvmbus_trace_buffer_at(t, 1)->note, "n");
	assert_null(cvmbus_trace_buffer_at(t, 2));
	assert_int_equal(log.calls, 3);

	/* The hash is FNV-1a over each line and its newline, in order; the
	 * third line is rebuilt from the callback's copy. */
	for (size_t i = 0; i < 2; i++) {
		cvmbus_trace_format(cvmbus_trace_buffer_at(t, i), line, sizeof(line));
		h = fnv1a(h, line, strlen(line));
		h = fnv1a(h, "\n", 1);
	}
	h = fnv1a(h, log.last, strlen(log.last));
	h = fnv1a(h, "\n", 1);
	assert_int_equal(cvmbus_trace_hash(t), h);
	assert_non_null(strstr(log.last, "\"seq\":2,"));
	assert_non_null(strstr(log.last, "\"hex\":\"1000000002000000\""));

	cvmbus_trace_buffer_clear(t);
	assert_int_equal(cvmbus_trace_buffer_count(t), 0);
	assert_int_equal(cvmbus_trace_hash(t), h);
	cvmbus_trace_destroy(t);
	cvmbus_exec_destroy(exec);
}

/* A hypercall event as a doorbell emits it (signal event, flag 7). */
static void signal_event(struct cvmbus_trace_event *ev)
{
	cvmbus_trace_event_init(ev, CVMBUS_TRACE_HYPERCALL);
	ev->from = CVMBUS_MEM_PARTY_GUEST;
	ev->to = CVMBUS_MEM_PARTY_HYPERVISOR;
	ev->code = 0x005d; /* HvCallSignalEvent */
	ev->flag = 7;
}

/* The export's configuration: hash off, a callback for channel messages
 * only. A signal then reaches no sink and must not be formatted or handed
 * to the callback, yet it is counted; turning a sink on brings every kind
 * back to it. */
static void test_hash_off_callback_kinds(void **state)
{
	struct cvmbus_exec *exec;
	struct cvmbus_trace *t;
	struct cvmbus_trace_event ev;
	struct cb_log log;
	char line[CVMBUS_TRACE_LINE_MAX];
	uint8_t bytes[8] = { 0x10, 0, 0, 0, 0, 0, 0, 0 };
	const uint64_t basis = 0xcbf29ce484222325ull;
	uint64_t h;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	assert_int_equal(cvmbus_trace_create(exec, &t), 0);
	assert_true(cvmbus_trace_hash_on(t));
	memset(&log, 0, sizeof(log));
	cvmbus_trace_set_callback_kinds(t, cb, &log, CVMBUS_TRACE_KIND_BIT(CVMBUS_TRACE_MSG));
	cvmbus_trace_set_hash(t, false);
	assert_false(cvmbus_trace_hash_on(t));

	signal_event(&ev);
	cvmbus_trace_emit(t, &ev);
	assert_int_equal(ev.seq, 0);
	assert_int_equal(log.calls, 0);
	assert_int_equal(cvmbus_trace_count(t), 1);
	assert_int_equal(cvmbus_trace_hash(t), basis);

	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_MSG);
	ev.bytes = bytes;
	ev.len = sizeof(bytes);
	cvmbus_trace_emit(t, &ev);
	assert_int_equal(ev.seq, 1);
	assert_int_equal(log.calls, 1);
	assert_non_null(strstr(log.last, "\"seq\":1,\"t\":"));
	assert_int_equal(cvmbus_trace_hash(t), basis); /* still off */

	/* A buffer is a sink of every kind: the signal is kept, but the
	 * callback still gets only what it asked for. */
	assert_int_equal(cvmbus_trace_buffer_enable(t, 4), 0);
	signal_event(&ev);
	cvmbus_trace_emit(t, &ev);
	assert_int_equal(cvmbus_trace_buffer_count(t), 1);
	assert_int_equal(cvmbus_trace_buffer_at(t, 0)->seq, 2);
	assert_int_equal(cvmbus_trace_buffer_at(t, 0)->flag, 7);
	assert_int_equal(log.calls, 1);
	assert_int_equal(cvmbus_trace_hash(t), basis);

	/* The hash back on, the buffer off: the next signal is hashed. */
	assert_int_equal(cvmbus_trace_buffer_enable(t, 0), 0);
	cvmbus_trace_set_hash(t, true);
	signal_event(&ev);
	cvmbus_trace_emit(t, &ev);
	assert_int_equal(ev.seq, 3);
	cvmbus_trace_format(&ev, line, sizeof(line));
	h = fnv1a(basis, line, strlen(line));
	h = fnv1a(h, "\n", 1);
	assert_int_equal(cvmbus_trace_hash(t), h);
	assert_int_equal(cvmbus_trace_count(t), 4);
	assert_int_equal(log.calls, 1);
	cvmbus_trace_destroy(t);
	cvmbus_exec_destroy(exec);
}

/* ---- the deterministic platform ----------------------------------------------------------------- */

#define SCEN_VCPUS 3u
#define SCEN_MSGS  3u
#define SCEN_PORT  4u
#define SCEN_HOST_EVENT 0x2000u
#define SCEN_GUEST_EVENT 0x3000u

struct scen;

struct guest_ctx {
	struct scen *s;
	uint32_t vp;
};

struct scen {
	struct cvmbus_exec *exec;
	struct cvmbus_trace *trace;
	struct cvmbus_platform *p;
	struct pt_synic synic[SCEN_VCPUS];
	struct cvmbus_completion done[SCEN_VCPUS];
	uint32_t echoes[SCEN_VCPUS];  /* touched only by vCPU vp's thread */
	uint32_t flags[SCEN_VCPUS];
	uint32_t host_events;          /* the host's event callback */
	struct guest_ctx g[SCEN_VCPUS];
	int failed;
};

/* Host: echo each message back to the sender's vCPU, then signal it. */
static void host_on_message(void *ctx, const struct cvmbus_port_message *m)
{
	struct scen *s = ctx;
	uint16_t st;

	if (cvmbus_synic_post(s->p, CVMBUS_SYNIC_HYPERVISOR, m->vp, 2, HVMSG_VMBUS, m->payload,
			      m->size))
		s->failed = 1;
	if (cvmbus_hv_signal_event_from(s->p, CVMBUS_MEM_PARTY_HOST, m->vp,
					SCEN_GUEST_EVENT + m->vp, (uint16_t)(m->payload[9] % 4u),
					&st) ||
	    st != HV_STATUS_SUCCESS)
		s->failed = 1;
}

static void host_on_event(void *ctx, const struct cvmbus_port_event *ev)
{
	struct scen *s = ctx;

	(void)ev;
	s->host_events++;
}

/* Guest: drain the SIMP slot (EOM when asked) and the event flags. */
static void guest_isr(void *ctx, struct cvmbus_platform *p, uint32_t vp,
		      enum cvmbus_synic_kind synic, uint32_t sint, uint32_t vector)
{
	struct scen *s = ctx;
	struct hv_message *slot = &s->synic[vp].simp->sint_message[2];
	struct hv_message copy;
	uint64_t bits;

	while (cvmbus_simp_slot_read(slot, &copy)) {
		if (copy.header.payload_size != 16 || copy.payload[8] != vp)
			s->failed = 1;
		s->echoes[vp]++;
		if (cvmbus_simp_slot_release(slot) &&
		    cvmbus_reg_write(p, vp, CVMBUS_PATH_GHCB, HV_X64_MSR_EOM, 0))
			s->failed = 1;
	}
	bits = cvmbus_event_flags_take(&s->synic[vp].siefp->sint_flags[2], 0);
	s->flags[vp] += (uint32_t)__builtin_popcountll(bits);
	if (s->echoes[vp] == SCEN_MSGS)
		cvmbus_completion_complete(&s->done[vp]);
}

/* Runs on vCPU vp: post the messages, then tell the host. */
static void guest_work(void *arg)
{
	struct guest_ctx *g = arg;
	struct scen *s = g->s;
	uint8_t m[16];
	uint16_t st;

	for (uint32_t i = 0; i < SCEN_MSGS; i++) {
		/* A REQUEST_OFFERS header, then who sent it and which one. */
		memset(m, 0, sizeof(m));
		m[0] = 0x03;
		m[8] = (uint8_t)g->vp;
		m[9] = (uint8_t)i;
		if (cvmbus_hv_post_message(s->p, g->vp, CVMBUS_PATH_GHCB, SCEN_PORT, HVMSG_VMBUS, m,
					   sizeof(m), &st) ||
		    st != HV_STATUS_SUCCESS)
			s->failed = 1;
	}
	if (cvmbus_hv_signal_event(s->p, g->vp, CVMBUS_PATH_GHCB, SCEN_HOST_EVENT,
				   (uint16_t)g->vp, &st) ||
	    st != HV_STATUS_SUCCESS)
		s->failed = 1;
}

static int guest_thread(void *arg)
{
	struct guest_ctx *g = arg;

	return cvmbus_vcpu_call(g->s->p, g->vp, guest_work, g);
}

static int scen_main(void *arg)
{
	struct scen *s = arg;
	struct cvmbus_platform_config cfg = {
		.exec = s->exec,
		.isolation = HV_ISOLATION_TYPE_SNP,
		.vcpus = SCEN_VCPUS,
		.vtl0_bytes = 1u << 20,
		.trace = s->trace,
	};
	struct cvmbus_port_config port = {
		.connection_id = SCEN_PORT,
		.kind = CVMBUS_PORT_MESSAGE,
		.owner = CVMBUS_MEM_PARTY_HOST,
		.on_message = host_on_message,
		.ctx = s,
	};
	struct cvmbus_port_config hev = {
		.connection_id = SCEN_HOST_EVENT,
		.kind = CVMBUS_PORT_EVENT,
		.owner = CVMBUS_MEM_PARTY_HOST,
		.on_event = host_on_event,
		.ctx = s,
	};
	struct cvmbus_thread *t[SCEN_VCPUS];
	int rc;

	rc = cvmbus_platform_create(&cfg, &s->p, NULL, 0);
	if (rc)
		return rc;
	cvmbus_platform_set_isr(s->p, guest_isr, s);
	if (cvmbus_port_add(s->p, &port) || cvmbus_port_add(s->p, &hev))
		return -EIO;
	for (uint32_t vp = 0; vp < SCEN_VCPUS; vp++) {
		struct cvmbus_port_config gev = {
			.connection_id = SCEN_GUEST_EVENT + vp,
			.kind = CVMBUS_PORT_EVENT,
			.owner = CVMBUS_MEM_PARTY_GUEST,
			.synic = CVMBUS_SYNIC_HYPERVISOR,
			.vp = vp,
			.sint = 2,
			.base_flag = 0,
		};

		cvmbus_completion_init(&s->done[vp], s->exec, "echoes");
		if (cvmbus_port_add(s->p, &gev) ||
		    pt_synic_setup(s->p, CVMBUS_SYNIC_HYPERVISOR, vp, 2, 0x50 | HV_SINT_AUTO_EOI,
				   &s->synic[vp]))
			return -EIO;
		s->g[vp].s = s;
		s->g[vp].vp = vp;
	}
	for (uint32_t vp = 0; vp < SCEN_VCPUS; vp++)
		if (cvmbus_thread_spawn(s->exec, &t[vp], "guest", guest_thread, &s->g[vp]))
			return -EIO;
	for (uint32_t vp = 0; vp < SCEN_VCPUS; vp++) {
		int ret = 0;

		cvmbus_thread_join(t[vp], &ret);
		if (ret)
			s->failed = 1;
	}
	for (uint32_t vp = 0; vp < SCEN_VCPUS; vp++)
		cvmbus_completion_wait(&s->done[vp], CVMBUS_EXEC_FOREVER);
	cvmbus_platform_destroy(s->p);
	for (uint32_t vp = 0; vp < SCEN_VCPUS; vp++)
		cvmbus_completion_destroy(&s->done[vp]);
	return 0;
}

/* One run of the scenario with `seed`; the trace hash, and if lines is not
 * NULL the whole trace text. */
static uint64_t scen_run(uint64_t seed, char **lines, uint64_t *sched_hash)
{
	struct cvmbus_exec_det_opts o = { .seed = seed };
	struct scen s;
	uint64_t h;
	int ret = -1;

	memset(&s, 0, sizeof(s));
	assert_int_equal(cvmbus_exec_det_create(&s.exec, &o), 0);
	assert_int_equal(cvmbus_trace_create(s.exec, &s.trace), 0);
	if (lines)
		assert_int_equal(cvmbus_trace_buffer_enable(s.trace, 1u << 14), 0);
	if (cvmbus_exec_run(s.exec, scen_main, &s, &ret))
		fail_msg("seed %" PRIu64 ": %s", seed, cvmbus_exec_det_report(s.exec));
	assert_int_equal(ret, 0);
	assert_int_equal(s.failed, 0);
	for (uint32_t vp = 0; vp < SCEN_VCPUS; vp++) {
		assert_int_equal(s.echoes[vp], SCEN_MSGS);
		assert_true(s.flags[vp] >= 1);
	}
	assert_int_equal(s.host_events, SCEN_VCPUS);
	assert_int_equal(cvmbus_trace_buffer_overflow(s.trace), 0);
	if (lines) {
		size_t cap = 1u << 20, len = 0;
		char *text = malloc(cap);

		assert_non_null(text);
		for (size_t i = 0; i < cvmbus_trace_buffer_count(s.trace); i++) {
			int n = cvmbus_trace_format(cvmbus_trace_buffer_at(s.trace, i), text + len,
						    cap - len);

			assert_true(n > 0 && (size_t)n + 1 < cap - len);
			len += (size_t)n;
			text[len++] = '\n';
		}
		text[len] = '\0';
		*lines = text;
	}
	h = cvmbus_trace_hash(s.trace);
	if (sched_hash)
		*sched_hash = cvmbus_exec_det_hash(s.exec);
	cvmbus_trace_destroy(s.trace);
	cvmbus_exec_destroy(s.exec);
	return h;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

#define SEEDS 100u

static void test_same_seed_same_trace(void **state)
{
	uint64_t hashes[SEEDS], first, second, s1, s2;
	char *a = NULL, *b = NULL;
	size_t distinct = 1;
	uint64_t base = cvmbus_exec_seed_from_env(1);

	(void)state;
	/* Byte for byte, for one seed. */
	first = scen_run(base, &a, &s1);
	second = scen_run(base, &b, &s2);
	assert_string_equal(a, b);
	assert_int_equal(first, second);
	assert_int_equal(s1, s2);
	assert_non_null(strstr(a, "\"path\":\"ghcb\""));
	assert_non_null(strstr(a, "\"kind\":\"deliver\""));
	free(a);
	free(b);

	/* Hashes, for a hundred. */
	for (uint64_t i = 0; i < SEEDS; i++) {
		first = scen_run(base + i, NULL, NULL);
		second = scen_run(base + i, NULL, NULL);
		if (first != second)
			fail_msg("seed %" PRIu64 ": %016" PRIx64 " vs %016" PRIx64, base + i, first,
				 second);
		hashes[i] = first;
	}
	qsort(hashes, SEEDS, sizeof(hashes[0]), cmp_u64);
	for (size_t i = 1; i < SEEDS; i++)
		distinct += hashes[i] != hashes[i - 1];
	print_message("%zu distinct traces over %u seeds\n", distinct, SEEDS);
	/* Different seeds interleave differently. */
	assert_true(distinct >= 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_reg_event),
		cmocka_unit_test(test_format_msg_and_visibility),
		cmocka_unit_test(test_hash_buffer_callback),
		cmocka_unit_test(test_hash_off_callback_kinds),
		cmocka_unit_test(test_same_seed_same_trace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
