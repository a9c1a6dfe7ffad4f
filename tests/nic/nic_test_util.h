/* SPDX-License-Identifier: MIT */
/*
 * Shared by the NIC tests (tests/nic/test_vm_nic.c, one process, and
 * test_vm_nic_processes.c, the device in cvmbus-host): frame i of a
 * direction, a collector that checks what arrives against it, in order, on
 * whatever thread the backend delivers on, and the count of device-buffer
 * pages the host can see. Header-only test scaffolding; the assertions stay
 * in the tests.
 */
#ifndef CVMBUS_TESTS_NIC_TEST_UTIL_H
#define CVMBUS_TESTS_NIC_TEST_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cvmbus/exec.h>
#include <cvmbus/memory.h>
#include <cvmbus/platform.h>
#include <cvmbus/vm.h>

/* ---- frames ------------------------------------------------------------------ */

/* Frame i of direction dir: a length that walks 60..1514, a header
 * (dst, src, ethertype 0x88b5) and a payload that depends on (dir, i, j). */
static inline size_t frame_len(unsigned int dir, unsigned int i)
{
	return 60u + (i * 97u + dir * 31u) % 1455u;
}

static inline void frame_make(unsigned int dir, unsigned int i, const uint8_t dst[6],
		       const uint8_t src[6], uint8_t *out)
{
	size_t len = frame_len(dir, i);

	memcpy(out, dst, 6);
	memcpy(out + 6, src, 6);
	out[12] = 0x88;
	out[13] = 0xb5;
	for (size_t j = 14; j < len; j++)
		out[j] = (uint8_t)(i * 7u + j * 13u + dir * 101u + (j >> 8));
}

/* Collects one direction's frames on the device's or driver's thread and
 * checks each against what frame i must be. */
struct collector {
	struct cvmbus_mutex lock;
	struct cvmbus_cond cond;
	unsigned int dir;
	uint8_t dst[6], src[6];
	unsigned int got;      /* frames that matched, in order */
	unsigned int bad;      /* frames that did not */
	unsigned int other;    /* not ours (the probe, ...) */
	bool probe_seen;
	uint8_t probe[64];
	size_t probe_len;
};

static inline void collect(void *ctx, const void *frame, size_t len)
{
	struct collector *c = ctx;
	const uint8_t *f = frame;
	uint8_t want[1514];

	cvmbus_mutex_lock(&c->lock);
	if (len >= 14 && f[12] == 0x88 && f[13] == 0xb5 && !memcmp(f, c->dst, 6) &&
	    !memcmp(f + 6, c->src, 6)) {
		frame_make(c->dir, c->got, c->dst, c->src, want);
		if (len == frame_len(c->dir, c->got) && !memcmp(f, want, len))
			c->got++;
		else
			c->bad++;
	} else if (len >= 14 && f[12] == 0x88 && f[13] == 0xb5 && f[0] == 0xff) {
		c->probe_seen = true;
		c->probe_len = len < sizeof(c->probe) ? len : sizeof(c->probe);
		memcpy(c->probe, f, c->probe_len);
	} else {
		c->other++;
	}
	cvmbus_cond_broadcast(&c->cond);
	cvmbus_mutex_unlock(&c->lock);
}

/* Wait (through the executor: virtual time under det) for n frames. */
static inline unsigned int collector_wait(struct collector *c, struct cvmbus_exec *exec, unsigned int n,
				   uint64_t timeout_ns)
{
	uint64_t deadline = cvmbus_exec_deadline(exec, timeout_ns);
	unsigned int got;

	cvmbus_mutex_lock(&c->lock);
	while (c->got + c->bad < n &&
	       cvmbus_cond_wait_until(&c->cond, &c->lock, deadline) != -ETIMEDOUT) {
	}
	got = c->got;
	cvmbus_mutex_unlock(&c->lock);
	return got;
}

/* The collectors' locks, once nothing delivers to them any more. */
static inline void collectors_destroy(struct collector *a, struct collector *b)
{
	cvmbus_cond_destroy(&a->cond);
	cvmbus_mutex_destroy(&a->lock);
	cvmbus_cond_destroy(&b->cond);
	cvmbus_mutex_destroy(&b->lock);
}

/* Device-buffer pages host-visible now (0 when there never were any). */
static inline uint64_t buffer_pages_now(struct cvmbus_vm *vm)
{
	struct cvmbus_mem_exposure_totals t;

	if (cvmbus_mem_exposure_by_reason(cvmbus_platform_mem(cvmbus_vm_platform(vm)),
					  "vmbus-buffer", &t))
		return 0;
	return t.pages_now;
}

#endif /* CVMBUS_TESTS_NIC_TEST_UTIL_H */
