/* SPDX-License-Identifier: MIT */
/*
 * The default workload of a VM run (src/vm): open every channel the guest
 * was offered, echo a few in-band packets through each (checking every byte
 * that comes back), send a 32-byte random secret through each, take the
 * steady-state snapshot (exposure, channels, the scan for every secret),
 * then close them all. It runs on the run's main thread, which is an
 * executor thread, as the guest's blocking API requires.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "vm/vm_internal.h"

#define WL_DEFAULT_PACKETS 8u
#define WL_DEFAULT_BYTES   64u
#define WL_DEFAULT_RING    (4u * CVMBUS_MEM_PAGE_SIZE)
#define WL_DEFAULT_TIMEOUT (5ull * 1000000000ull)
#define WL_MAX_BYTES       1024u

/* splitmix64: a seed's secret is the same on every replay of that seed. */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void wl_secret(struct cvmbus_vm *vm, uint32_t relid, uint8_t *out)
{
	uint64_t x;

	/* Native runs draw from the kernel; deterministic ones from the seed,
	 * so that the same seed replays the same bytes in the same rings. */
	if (!vm->cfg.deterministic &&
	    getrandom(out, CVMBUS_VM_SECRET_BYTES, 0) == (ssize_t)CVMBUS_VM_SECRET_BYTES)
		return;
	x = vm->cfg.seed ^ ((uint64_t)relid << 32) ^ 0x5ec2e7ull;
	for (unsigned int i = 0; i < CVMBUS_VM_SECRET_BYTES; i += 8) {
		uint64_t v = splitmix64(&x);

		memcpy(out + i, &v, 8);
	}
}

/* One in-band echo of len bytes of a pattern that depends on (relid, i),
 * checked byte for byte. */
static int wl_echo_one(struct cvmbus_echo_vsc *v, uint32_t relid, unsigned int i, size_t len,
		       uint64_t timeout_ns)
{
	uint8_t msg[WL_MAX_BYTES], reply[WL_MAX_BYTES + 8];
	size_t rlen = 0;
	int rc;

	for (size_t j = 0; j < len; j++)
		msg[j] = (uint8_t)(relid * 131u + i * 17u + j * 7u + 1u);
	rc = cvmbus_echo_call(v, msg, len, reply, sizeof(reply), &rlen, timeout_ns);
	if (rc)
		return rc;
	/* The answer is the payload padded to 8 bytes. */
	if (rlen != ((len + 7u) & ~(size_t)7u) || memcmp(reply, msg, len))
		return -EPROTO;
	return 0;
}

/* The default workload drives the echo devices only; other devices (a
 * disk, a NIC) belong to the workloads that know their protocol. */
static bool wl_is_echo(const struct cvmbus_guest_offer *o)
{
	static const struct cvmbus_guid echo = CVMBUS_ECHO_INTERFACE_ID_INIT;

	return !memcmp(&o->if_type, &echo, sizeof(echo));
}

/*
 * An echo reply can be in the ring before the guest looks for it, so the
 * guest need not wait for the interrupt that announced it: that interrupt is
 * taken (and counted per SynIC) a little later on a vCPU. The host's first
 * reply into an empty ring always signals, so every open channel has one
 * coming; wait for it (bounded, through the executor) before the snapshot
 * records where each channel's interrupts came from.
 */
static void wl_settle_interrupts(struct cvmbus_vm *vm, const struct cvmbus_guest_offer *offers,
				 struct cvmbus_channel *const *chs, size_t n, uint64_t timeout_ns)
{
	uint64_t deadline = cvmbus_exec_deadline(vm->exec, timeout_ns);

	for (size_t i = 0; i < n; i++) {
		struct cvmbus_guest_channel_report cr;

		if (!chs[i])
			continue;
		while (!cvmbus_guest_channel_report(vm->guest, offers[i].relid, &cr) &&
		       !cr.events[CVMBUS_CLIENT_PATH_HYPERVISOR] &&
		       !cr.events[CVMBUS_CLIENT_PATH_PARAVISOR] &&
		       cvmbus_exec_now_ns(vm->exec) < deadline)
			cvmbus_exec_sleep_ns(vm->exec, 100000); /* 0.1 ms */
	}
}

int cvmbus_vm_default_workload(struct cvmbus_vm *vm, void *arg)
{
	const struct cvmbus_vm_workload *opt = arg;
	struct cvmbus_vm_workload wl = {
		.packets = WL_DEFAULT_PACKETS,
		.packet_bytes = WL_DEFAULT_BYTES,
		.ring_bytes = WL_DEFAULT_RING,
		.timeout_ns = WL_DEFAULT_TIMEOUT,
	};
	struct cvmbus_guest_offer offers[CVMBUS_VM_MAX_CHANNELS];
	struct cvmbus_channel *chs[CVMBUS_VM_MAX_CHANNELS] = { 0 };
	struct cvmbus_guest *g;
	size_t n = 0;
	int first = 0, rc;

	if (!vm || !vm->running || !(g = vm->guest))
		return -EINVAL;
	if (opt) {
		if (opt->packets)
			wl.packets = opt->packets;
		if (opt->packet_bytes)
			wl.packet_bytes = opt->packet_bytes;
		if (opt->ring_bytes)
			wl.ring_bytes = opt->ring_bytes;
		if (opt->timeout_ns)
			wl.timeout_ns = opt->timeout_ns;
	}
	if (wl.packet_bytes > WL_MAX_BYTES || wl.ring_bytes % CVMBUS_MEM_PAGE_SIZE ||
	    wl.ring_bytes < 2 * CVMBUS_MEM_PAGE_SIZE)
		return -EINVAL;

	rc = cvmbus_guest_offers(g, offers, CVMBUS_VM_MAX_CHANNELS, &n);
	if (rc)
		return rc;
	if (n > CVMBUS_VM_MAX_CHANNELS) {
		vm->report.channels_dropped += n - CVMBUS_VM_MAX_CHANNELS;
		n = CVMBUS_VM_MAX_CHANNELS;
	}

	/* Open everything first, so that the snapshot sees every channel
	 * open at once: that is the steady state being audited. */
	for (size_t i = 0; i < n; i++) {
		struct cvmbus_guest_open_params op = {
			.send_bytes = wl.ring_bytes,
			.recv_bytes = wl.ring_bytes,
			/* Spread channels over the vCPUs, so that interrupts
			 * arrive on more than one SynIC instance. */
			.target_vp = (uint32_t)(i % vm->cfg.vcpus),
		};
		struct cvmbus_vm_channel *c = vm_report_channel(vm, offers[i].relid);

		if (offers[i].rescinded || !wl_is_echo(&offers[i]))
			continue;
		rc = cvmbus_guest_open(g, offers[i].relid, &op, &chs[i]);
		if (c) {
			c->opened = rc == 0;
			c->open_status = rc;
		}
		if (rc) {
			vm_fail(vm, rc, "open of relid %u failed (%d)", offers[i].relid, rc);
			if (!first)
				first = rc;
		}
	}

	for (size_t i = 0; i < n; i++) {
		struct cvmbus_vm_channel *c = vm_report_channel(vm, offers[i].relid);
		struct cvmbus_echo_vsc v;
		uint8_t secret[CVMBUS_VM_SECRET_BYTES], reply[CVMBUS_VM_SECRET_BYTES];
		uint64_t t0;
		size_t rlen = 0;

		if (!chs[i] || !c)
			continue;
		cvmbus_echo_vsc_init(&v, chs[i]);
		t0 = cvmbus_exec_now_ns(vm->exec);
		for (unsigned int k = 0; k < wl.packets; k++) {
			rc = wl_echo_one(&v, offers[i].relid, k, wl.packet_bytes, wl.timeout_ns);
			if (rc)
				break;
			c->echoes++;
		}
		vm->report.echo_packets += c->echoes;
		vm->report.echo_ns += cvmbus_exec_now_ns(vm->exec) - t0;
		c->echo_status = rc;
		if (rc) {
			vm_fail(vm, rc, "echo on relid %u failed (%d)", offers[i].relid, rc);
			if (!first)
				first = rc;
			continue;
		}
		wl_secret(vm, offers[i].relid, secret);
		rc = cvmbus_echo_call(&v, secret, sizeof(secret), reply, sizeof(reply), &rlen,
				      wl.timeout_ns);
		if (!rc && (rlen != sizeof(secret) || memcmp(reply, secret, sizeof(secret))))
			rc = -EPROTO;
		if (rc) {
			c->echo_status = rc;
			vm_fail(vm, rc, "secret on relid %u failed (%d)", offers[i].relid, rc);
			if (!first)
				first = rc;
			continue;
		}
		(void)cvmbus_vm_set_secret(vm, offers[i].relid, secret, sizeof(secret));
		/* Our own copies are not partition memory, but wipe them
		 * anyway: a secret should live only where it is being
		 * audited. */
		explicit_bzero(secret, sizeof(secret));
		explicit_bzero(reply, sizeof(reply));
	}

	wl_settle_interrupts(vm, offers, chs, n, wl.timeout_ns);
	rc = cvmbus_vm_snapshot(vm);
	if (rc && !first)
		first = rc;

	for (size_t i = 0; i < n; i++) {
		struct cvmbus_vm_channel *c = vm_report_channel(vm, offers[i].relid);

		if (!chs[i])
			continue;
		rc = cvmbus_guest_close(g, offers[i].relid);
		if (c)
			c->close_status = rc;
		if (rc) {
			vm_fail(vm, rc, "close of relid %u failed (%d)", offers[i].relid, rc);
			if (!first)
				first = rc;
		}
	}
	return first;
}
