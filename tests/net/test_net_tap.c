/* SPDX-License-Identifier: MIT */
/*
 * The network devices on real wires: two network namespaces made for this
 * run (cvmbus-t-g-PID for the guest, cvmbus-t-h-PID for the host), a TAP
 * in each (src/dev/net_tap.c), the VSC bound to the guest's TAP and the
 * VSP to the host's, joined by a loopback channel pair over SNP partition
 * memory, and `ping -c 5` from one namespace to the other. With iperf3
 * installed, a 3-second TCP run too (its figure is printed, not judged).
 * Addresses live in the two namespaces only, never in the caller's.
 *
 * Needs root, /dev/net/tun, iproute2 and iputils-ping; without them the
 * test is skipped with a message saying what is missing. The namespaces
 * are deleted at the end, also when a check fails. Every command runs
 * under timeout(1).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <cvmbus/channel.h>
#include <cvmbus/log.h>
#include <cvmbus/memory.h>
#include <cvmbus/net.h>

#define SEC 1000000000ull

static char ns_guest[32], ns_host[32];
static bool ns_made;
static const char *missing; /* why the test cannot run here, or NULL */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static void ns_delete(void)
{
	if (!ns_made)
		return;
	ns_made = false;
	(void)sh("ip netns del %s 2>/dev/null", ns_guest);
	(void)sh("ip netns del %s 2>/dev/null", ns_host);
}

static int group_setup(void **state)
{
	(void)state;
	if (geteuid() != 0)
		missing = "not root (CAP_NET_ADMIN is needed for TAP and netns)";
	else if (access("/dev/net/tun", R_OK | W_OK) != 0)
		missing = "no /dev/net/tun";
	else if (sh("ip -V >/dev/null 2>&1") != 0)
		missing = "no ip(8): install iproute2";
	else if (sh("command -v ping >/dev/null 2>&1") != 0)
		missing = "no ping(8): install iputils-ping";
	else if (sh("command -v timeout >/dev/null 2>&1") != 0)
		missing = "no timeout(1): install coreutils";
	if (missing)
		return 0;
	snprintf(ns_guest, sizeof(ns_guest), "cvmbus-t-g-%d", (int)getpid());
	snprintf(ns_host, sizeof(ns_host), "cvmbus-t-h-%d", (int)getpid());
	if (sh("ip netns add %s", ns_guest) != 0) {
		missing = "ip netns add failed (no network namespaces here)";
		return 0;
	}
	if (sh("ip netns add %s", ns_host) != 0) {
		(void)sh("ip netns del %s", ns_guest);
		missing = "ip netns add failed (no network namespaces here)";
		return 0;
	}
	ns_made = true;
	/* Also on an exit that skips the group teardown. */
	atexit(ns_delete);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	ns_delete();
	return 0;
}

/* ---- memory ops of the two sides (as in test_net.c) ------------------------ */

struct rig {
	struct cvmbus_mem *mem;
	struct cvmbus_exec *exec;
	struct cvmbus_channel_pair pair;
	struct cvmbus_channel_ops guest_ops, host_ops;
	struct cvmbus_netvsp *vsp;
	struct cvmbus_netvsc *vsc;
	struct cvmbus_net_tap *tap_g, *tap_h;
};

static int guest_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	return cvmbus_mem_read(((struct rig *)ctx)->mem, CVMBUS_MEM_VIEW_GUEST, gpa, dst, len);
}

static int guest_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	return cvmbus_mem_write(((struct rig *)ctx)->mem, CVMBUS_MEM_VIEW_GUEST, gpa, src, len);
}

static int host_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct rig *r = ctx;

	return cvmbus_mem_host_read(cvmbus_mem_host(r->mem), cvmbus_mem_gpa_to_alias(r->mem, gpa),
				    dst, len);
}

static int host_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct rig *r = ctx;

	return cvmbus_mem_host_write(cvmbus_mem_host(r->mem),
				     cvmbus_mem_gpa_to_alias(r->mem, gpa), src, len);
}

static void test_ping_between_namespaces(void **state)
{
	static const uint8_t mac[6] = { 0x00, 0x15, 0x5d, 0x0a, 0xfa, 0x01 };
	struct cvmbus_mem_config mc = {
		.isolation = HV_ISOLATION_TYPE_SNP,
		.vtl0_bytes = 16u << 20,
	};
	struct cvmbus_channel_pair_config pc = {
		.upstream_bytes = 256u * 1024u,
		.downstream_bytes = 256u * 1024u,
	};
	struct cvmbus_netvsp_config vc = { 0 };
	struct cvmbus_netvsc_config cc = { 0 };
	struct cvmbus_net_tap_config tg = {
		.ifname = "cvg0", .mac = mac, .mtu = 1500, .up = true,
	};
	struct cvmbus_net_tap_config th = { .ifname = "cvh0", .mtu = 1500, .up = true };
	struct cvmbus_netvsc_info info;
	struct cvmbus_netvsc_stats cs;
	struct cvmbus_netvsp_stats vs;
	struct cvmbus_net_tap_stats gs, hs;
	struct rig r;
	int rc = -1;

	(void)state;
	if (missing) {
		printf("# test_net_tap: skipped: %s\n", missing);
		skip();
	}
	memset(&r, 0, sizeof(r));
	assert_int_equal(cvmbus_mem_create(&mc, &r.mem), 0);
	assert_int_equal(cvmbus_exec_native_create(&r.exec), 0);
	r.guest_ops = (struct cvmbus_channel_ops){ .mem_read = guest_read, .mem_write = guest_write };
	r.host_ops = (struct cvmbus_channel_ops){ .mem_read = host_read, .mem_write = host_write };
	pc.exec = r.exec;
	pc.guest_mem_ops = &r.guest_ops;
	pc.guest_mem_ctx = &r;
	pc.host_mem_ops = &r.host_ops;
	pc.host_mem_ctx = &r;
	pc.mem = r.mem;
	assert_int_equal(cvmbus_channel_pair_create(&r.pair, &pc), 0);

	/* The guest's NIC carries the MAC the device reports, as a guest's
	 * netvsc interface would; the host side's TAP keeps its own. */
	tg.netns = ns_guest;
	th.netns = ns_host;
	assert_int_equal(cvmbus_net_tap_open(&tg, &r.tap_g), 0);
	assert_int_equal(cvmbus_net_tap_open(&th, &r.tap_h), 0);
	assert_string_equal(cvmbus_net_tap_name(r.tap_g), "cvg0");

	vc.ch = &r.pair.host;
	memcpy(vc.mac, mac, 6);
	vc.tx_frame = cvmbus_net_tap_frame_out;
	vc.tx_ctx = r.tap_h;
	assert_int_equal(cvmbus_netvsp_create(r.exec, &vc, &r.vsp), 0);
	assert_int_equal(cvmbus_netvsp_start(r.vsp), 0);
	cc.ch = &r.pair.guest;
	cc.rx_frame = cvmbus_net_tap_frame_out;
	cc.rx_ctx = r.tap_g;
	assert_int_equal(cvmbus_netvsc_create(r.exec, &cc, &r.vsc), 0);
	assert_int_equal(cvmbus_netvsc_connect(r.vsc), 0);
	cvmbus_netvsc_get_info(r.vsc, &info);
	assert_memory_equal(info.mac, mac, 6);

	assert_int_equal(cvmbus_net_tap_start(r.tap_g, r.exec, cvmbus_netvsc_frame_in, r.vsc), 0);
	assert_int_equal(cvmbus_net_tap_start(r.tap_h, r.exec, cvmbus_netvsp_frame_in, r.vsp), 0);

	assert_int_equal(sh("ip -n %s addr add 10.250.0.1/24 dev cvg0", ns_guest), 0);
	assert_int_equal(sh("ip -n %s addr add 10.250.0.2/24 dev cvh0", ns_host), 0);

	rc = sh("timeout 30 ip netns exec %s ping -c 5 -i 0.2 -W 2 10.250.0.2", ns_guest);
	assert_int_equal(rc, 0);

	if (sh("command -v iperf3 >/dev/null 2>&1") == 0) {
		/* One server run in the host namespace (bounded by timeout,
		 * gone after one client), then a 3 s client; a few tries in
		 * case the server is not listening yet. */
		assert_int_equal(sh("timeout 25 ip netns exec %s iperf3 -s -1 -B 10.250.0.2 "
				    ">/dev/null 2>&1 &", ns_host), 0);
		rc = -1;
		for (int i = 0; i < 5 && rc != 0; i++) {
			usleep(200 * 1000);
			rc = sh("timeout 15 ip netns exec %s iperf3 -c 10.250.0.2 -t 3 -f m "
				"| grep -E 'sender|receiver' | sed 's/^/# iperf3: /'",
				ns_guest);
		}
		assert_int_equal(rc, 0);
	} else {
		printf("# iperf3 not installed: throughput not measured\n");
	}

	/* Readers first, so nothing is handed to a device that is going. */
	cvmbus_net_tap_get_stats(r.tap_g, &gs);
	cvmbus_net_tap_get_stats(r.tap_h, &hs);
	cvmbus_net_tap_close(r.tap_g);
	cvmbus_net_tap_close(r.tap_h);
	cvmbus_netvsc_get_stats(r.vsc, &cs);
	cvmbus_netvsp_get_stats(r.vsp, &vs);
	printf("# guest tap: %llu frames in, %llu out; host tap: %llu in, %llu out; "
	       "vsp dropped: %llu no section, %llu filtered\n",
	       (unsigned long long)gs.rx_frames, (unsigned long long)gs.tx_frames,
	       (unsigned long long)hs.rx_frames, (unsigned long long)hs.tx_frames,
	       (unsigned long long)vs.rx_no_section, (unsigned long long)vs.rx_filtered);
	/* Five echo requests one way and five replies the other, at least. */
	assert_true(cs.tx_frames >= 5);
	assert_true(cs.rx_frames >= 5);
	assert_true(vs.tx_frames >= 5 && vs.tx_frames <= cs.tx_frames);
	assert_int_equal(cs.bad_xfer + cs.bad_nvsp + cs.bad_rndis, 0);
	assert_int_equal(vs.bad_nvsp + vs.bad_rndis + vs.bad_section + vs.bad_frame, 0);

	cvmbus_netvsc_stop(r.vsc);
	cvmbus_netvsp_stop(r.vsp);
	cvmbus_netvsc_destroy(r.vsc);
	cvmbus_netvsp_destroy(r.vsp);
	cvmbus_channel_pair_destroy(&r.pair);
	cvmbus_exec_destroy(r.exec);
	cvmbus_mem_destroy(r.mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ping_between_namespaces),
	};

	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
