/* SPDX-License-Identifier: MIT */
/*
 * The host-path NIC (src/vm/nic.c) with the host party in its own process
 * (cfg.processes: the device runs in cvmbus-host, built from the NIC's
 * description by cvmbus_vm_nic_remote_build, src/vm/host_process.c). No
 * root needed: the backends are callbacks, so the host side's "wire" is
 * the socket pair nic.c makes between this process and the host's. What
 * it proves:
 *
 *   - frames of 60..1514 bytes go both ways, byte for byte and in order,
 *     between a callback in this process and the guest's driver, through a
 *     device that lives in another process (its pid is not ours), behind a
 *     paravisor and without one; the buffers are host-visible as on the
 *     one-process host path;
 *   - the device's counters come back over the link: after the run they
 *     are the device's final ones (frames each way, control messages,
 *     nothing refused), and the host wire's counts match what went through;
 *   - host_send says -ENOTCONN when no host device serves (before a run,
 *     after one);
 *   - a NIC serves two runs of its VM: each run's host process asks for the
 *     wire again, and the wire's counters add up over both;
 *   - the ready workload's probe crosses the process boundary, and the
 *     secret scan finds it in host-visible memory;
 *   - the builder's side of the link, with the VM played here by hand:
 *     its HELLO's bytes, a wire that is not what ATTACH says it is, a VM
 *     that hangs up, and a bad description, each refused.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <cvmbus/exec.h>
#include <cvmbus/hostlink.h>
#include <cvmbus/log.h>
#include <cvmbus/memory.h>
#include <cvmbus/platform.h>
#include <cvmbus/vm.h>
#include <cvmbus/vm_nic.h>

#define SEC      1000000000ull
#define FRAMES   200u
#define HOST_MAC { 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02 }
#define BUF_PAGES ((CVMBUS_VM_NIC_DEFAULT_RECV_BUF + CVMBUS_VM_NIC_DEFAULT_SEND_BUF) / 4096u)

#include "nic_test_util.h"

/* ---- a VM in process mode with a host NIC ------------------------------------------ */

struct rig {
	struct cvmbus_vm *vm;
	struct cvmbus_vm_nic *nic;
	struct collector to_host, to_guest;
	/* Filled by the workload. */
	int wl_status;
	pid_t host_pid;
	bool host_lost;
	unsigned int up_got, down_got;
	uint64_t buffer_pages_up, buffer_pages_after;
	bool recv_shared, send_shared;
};

static void rig_make(struct rig *r, bool paravisor)
{
	struct cvmbus_vm_config vc;
	struct cvmbus_vm_nic_config nc;
	static const uint8_t host_mac[6] = HOST_MAC;
	static const uint8_t nic_mac[6] = CVMBUS_VM_NIC_DEFAULT_MAC;
	char err[200];

	memset(r, 0, sizeof(*r));
	cvmbus_vm_config_default(&vc);
	vc.paravisor = paravisor;
	vc.confidential_vmbus = paravisor;
	vc.processes = true;
	assert_int_equal(cvmbus_vm_create(&vc, &r->vm, err, sizeof(err)), 0);

	cvmbus_mutex_init(&r->to_host.lock, cvmbus_vm_exec(r->vm), "to-host");
	cvmbus_cond_init(&r->to_host.cond, cvmbus_vm_exec(r->vm), "to-host");
	cvmbus_mutex_init(&r->to_guest.lock, cvmbus_vm_exec(r->vm), "to-guest");
	cvmbus_cond_init(&r->to_guest.cond, cvmbus_vm_exec(r->vm), "to-guest");
	r->to_host.dir = 0;
	memcpy(r->to_host.dst, host_mac, 6);
	memcpy(r->to_host.src, nic_mac, 6);
	r->to_guest.dir = 1;
	memcpy(r->to_guest.dst, nic_mac, 6);
	memcpy(r->to_guest.src, host_mac, 6);

	memset(&nc, 0, sizeof(nc));
	nc.owner = CVMBUS_VM_OWNER_HOST;
	nc.host_rx = collect;
	nc.host_rx_ctx = &r->to_host;
	nc.guest_rx = collect;
	nc.guest_rx_ctx = &r->to_guest;
	if (cvmbus_vm_nic_create(r->vm, &nc, &r->nic, err, sizeof(err)))
		fail_msg("nic: %s", err);
}

static void rig_free(struct rig *r)
{
	cvmbus_vm_nic_destroy(r->nic);
	collectors_destroy(&r->to_host, &r->to_guest);
	cvmbus_vm_destroy(r->vm);
}

/* Up, FRAMES each way (continuing the collectors' numbering, so a second
 * run sends new frames), the exposure, down. */
static int frames_workload(struct cvmbus_vm *vm, void *arg)
{
	struct rig *r = arg;
	struct cvmbus_vm_nic_stats st;
	unsigned int first = r->to_host.got;
	uint8_t f[1514];
	int rc;

	r->host_pid = cvmbus_vm_host_pid(vm);
	rc = cvmbus_vm_nic_guest_start(r->nic, vm);
	if (rc)
		return r->wl_status = rc;
	r->buffer_pages_up = buffer_pages_now(vm);
	cvmbus_vm_nic_get_stats(r->nic, &st);
	r->recv_shared = st.info.recv_buf_shared;
	r->send_shared = st.info.send_buf_shared;
	for (unsigned int i = first; i < first + FRAMES && !rc; i++) {
		frame_make(0, i, r->to_host.dst, r->to_host.src, f);
		rc = cvmbus_vm_nic_guest_send(r->nic, f, frame_len(0, i), 5 * SEC);
		if (rc)
			break;
		frame_make(1, i, r->to_guest.dst, r->to_guest.src, f);
		rc = cvmbus_vm_nic_host_send(r->nic, f, frame_len(1, i), 5 * SEC);
	}
	r->up_got = collector_wait(&r->to_host, cvmbus_vm_exec(vm), first + FRAMES, 10 * SEC);
	r->down_got = collector_wait(&r->to_guest, cvmbus_vm_exec(vm), first + FRAMES, 10 * SEC);
	r->host_lost = cvmbus_vm_host_lost(vm);
	cvmbus_vm_nic_guest_stop(r->nic);
	r->buffer_pages_after = buffer_pages_now(vm);
	r->wl_status = rc;
	return rc;
}

static void run_once(struct rig *r, unsigned int expect_total)
{
	const struct cvmbus_vm_report *rep;
	int rc;

	rc = cvmbus_vm_run(r->vm, frames_workload, r);
	rep = cvmbus_vm_report(r->vm);
	if (rc)
		printf("# run failed: %d: %s\n", rc, rep->error);
	assert_int_equal(rc, 0);
	assert_int_equal(r->wl_status, 0);
	/* The device was in another process, which stayed up. */
	assert_true(r->host_pid > 0);
	assert_int_not_equal(r->host_pid, getpid());
	assert_false(r->host_lost);
	assert_int_equal(r->up_got, expect_total);
	assert_int_equal(r->down_got, expect_total);
	assert_int_equal(r->to_host.bad + r->to_guest.bad, 0);
	/* The host path's buffers, host-visible, exactly as in one process. */
	assert_true(r->recv_shared && r->send_shared);
	assert_int_equal(r->buffer_pages_up, BUF_PAGES);
	assert_int_equal(r->buffer_pages_after, 0);
}

/* total: frames through the wire over every run; refused: host_send's
 * refusals so far (each counted in and dropped). */
static void check_stats(struct rig *r, unsigned int total, unsigned int refused,
			unsigned int last_run)
{
	struct cvmbus_vm_nic_stats st;
	uint8_t f[60];

	cvmbus_vm_nic_get_stats(r->nic, &st);
	assert_true(st.connected);
	assert_true(st.device_opened);
	assert_int_equal(st.owner, CVMBUS_VM_OWNER_HOST);
	/* The device's, as its close reported them: the last run's. */
	assert_int_equal(st.vsp.tx_frames, last_run);
	assert_int_equal(st.vsp.rx_frames, last_run);
	assert_true(st.vsp.control_msgs > 0);
	assert_int_equal(st.vsp.tx_send_buffer, last_run + st.vsp.control_msgs);
	assert_int_equal(st.vsp.bad_nvsp + st.vsp.bad_rndis + st.vsp.bad_section +
				 st.vsp.bad_frame + st.vsp.bad_gpadl,
			 0);
	/* The driver's (this process), the last run's. */
	assert_int_equal(st.vsc.tx_frames, last_run);
	assert_int_equal(st.vsc.rx_frames, last_run);
	/* The host's wire, over every run: what this side injected and what
	 * the device put out, nothing dropped. */
	assert_int_equal(st.host.in_frames, total + refused);
	assert_int_equal(st.host.in_dropped, refused);
	assert_int_equal(st.host.out_frames, total);
	assert_int_equal(st.host.out_errors, 0);
	assert_int_equal(st.guest.out_frames, total);

	/* No host device serves now: refused here, and counted. */
	memset(f, 0, sizeof(f));
	memcpy(f, r->to_guest.dst, 6);
	assert_int_equal(cvmbus_vm_nic_host_send(r->nic, f, sizeof(f), 0), -ENOTCONN);
	cvmbus_vm_nic_get_stats(r->nic, &st);
	assert_int_equal(st.host.in_frames, total + refused + 1);
	assert_int_equal(st.host.in_dropped, refused + 1);
}

static void test_frames_relayed(void **state)
{
	struct rig r;
	uint8_t f[60] = { 0 };

	(void)state;
	rig_make(&r, true);
	/* Before any run: nobody serves. */
	assert_int_equal(cvmbus_vm_nic_host_send(r.nic, f, sizeof(f), 0), -ENOTCONN);
	run_once(&r, FRAMES);
	check_stats(&r, FRAMES, 1, FRAMES);
	rig_free(&r);
}

static void test_frames_no_paravisor(void **state)
{
	struct rig r;

	(void)state;
	rig_make(&r, false);
	run_once(&r, FRAMES);
	check_stats(&r, FRAMES, 0, FRAMES);
	rig_free(&r);
}

/* One NIC, two runs: a new host process each time, each asks for the
 * wire; the wire's counters add up, the device's are the last run's. */
static void test_two_runs(void **state)
{
	struct rig r;

	(void)state;
	rig_make(&r, true);
	run_once(&r, FRAMES);
	run_once(&r, 2 * FRAMES);
	check_stats(&r, 2 * FRAMES, 0, FRAMES);
	rig_free(&r);
}

/* ---- the ready workload -------------------------------------------------------------- */

static void test_probe(void **state)
{
	struct cvmbus_vm_nic_workload wl = { .duration_ns = SEC / 5 };
	const struct cvmbus_vm_report *rep;
	const struct cvmbus_vm_channel *ch = NULL;
	struct rig r;
	int rc;

	(void)state;
	rig_make(&r, true);
	wl.nic = r.nic;
	rc = cvmbus_vm_run(r.vm, cvmbus_vm_nic_workload, &wl);
	rep = cvmbus_vm_report(r.vm);
	if (rc)
		printf("# run failed: %d: %s\n", rc, rep->error);
	assert_int_equal(rc, 0);
	/* Broadcast, from the NIC's MAC, 32 bytes of secret after the
	 * header: through the host's process and back here. */
	assert_true(r.to_host.probe_seen);
	assert_int_equal(r.to_host.probe_len, 64);
	assert_memory_equal(r.to_host.probe + 6, r.to_guest.dst, 6);
	for (size_t i = 0; i < rep->channel_count; i++)
		if (rep->channels[i].device && !strcmp(rep->channels[i].device, "nic"))
			ch = &rep->channels[i];
	assert_non_null(ch);
	assert_int_equal(ch->owner, CVMBUS_MEM_PARTY_HOST);
	assert_true(ch->secret_sent);
	assert_memory_equal(ch->secret, r.to_host.probe + 14, CVMBUS_VM_SECRET_BYTES);
	assert_true(ch->secret_hits_view >= 1);
	rig_free(&r);
}

/* ---- the builder's side of the link, by hand --------------------------------------- */

struct build_case {
	struct cvmbus_vm_nic_remote desc;
	int link[2]; /* [0] the VM's end (here), [1] given to the builder */
	/* What "the VM" answers, on its own thread. */
	enum { ANSWER_SOCKET, ANSWER_SOCKET_AS_TAP, ANSWER_HANG_UP } answer;
	uint8_t hello[16];
	ssize_t hello_len;
	int wire[2];
	int rc;
	void *ctx;
	const struct cvmbus_vsp_ops *ops;
	bool ops_ok; /* open and close there (ops lives in ctx: looked at before it goes) */
	struct cvmbus_exec *exec;
};

static int vm_side(void *arg)
{
	struct build_case *b = arg;
	/* ATTACH, by hand: type 2, wire kind 2 (socket) or 1 (TAP). */
	const uint8_t attach_socket[8] = { 2, 0, 0, 0, 2, 0, 0, 0 };
	const uint8_t attach_tap[8] = { 2, 0, 0, 0, 1, 0, 0, 0 };
	struct pollfd p = { .fd = b->link[0], .events = POLLIN };
	int fd = -1;

	/* The link is non-blocking, as nic.c makes it: wait for the HELLO. */
	(void)poll(&p, 1, 10000);
	b->hello_len = cvmbus_seqpacket_recv(b->link[0], b->hello, sizeof(b->hello), &fd);
	if (fd >= 0)
		close(fd);
	switch (b->answer) {
	case ANSWER_SOCKET:
		(void)cvmbus_seqpacket_send(b->link[0], attach_socket, sizeof(attach_socket),
					    b->wire[1]);
		break;
	case ANSWER_SOCKET_AS_TAP:
		(void)cvmbus_seqpacket_send(b->link[0], attach_tap, sizeof(attach_tap),
					    b->wire[1]);
		break;
	case ANSWER_HANG_UP:
		close(b->link[0]);
		b->link[0] = -1;
		break;
	}
	return 0;
}

static int build_main(void *arg)
{
	struct build_case *b = arg;
	struct cvmbus_thread *t;
	int rc = cvmbus_thread_spawn(b->exec, &t, "vm-side", vm_side, b);

	if (rc)
		return rc;
	b->rc = cvmbus_vm_nic_remote_build(b->exec, &b->desc, sizeof(b->desc), b->link[1], &b->ctx,
					   &b->ops);
	b->ops_ok = b->ops && b->ops->open && b->ops->close;
	(void)cvmbus_thread_join(t, NULL);
	return 0;
}

static void build_run(struct build_case *b)
{
	static const uint8_t mac[6] = CVMBUS_VM_NIC_DEFAULT_MAC;
	int ret = 0;

	b->desc.mtu = b->desc.mtu ? b->desc.mtu : 1500;
	if (!b->desc.wait_ns)
		b->desc.wait_ns = SEC / 10;
	if (!b->desc.mac[0] && !b->desc.mac[1])
		memcpy(b->desc.mac, mac, 6);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
				    b->link),
			 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, b->wire), 0);
	assert_int_equal(cvmbus_exec_native_create(&b->exec), 0);
	assert_int_equal(cvmbus_exec_run(b->exec, build_main, b, &ret), 0);
	assert_int_equal(ret, 0);
	/* The caller's copy goes, as host_process.c closes it. */
	close(b->link[1]);
	cvmbus_vm_nic_remote_destroy(b->ctx);
	for (int i = 0; i < 2; i++)
		if (b->wire[i] >= 0)
			close(b->wire[i]);
	if (b->link[0] >= 0)
		close(b->link[0]);
	cvmbus_exec_destroy(b->exec);
}

static void test_build(void **state)
{
	/* HELLO, by hand: type 1, then "CLNK" (0x4b4e4c43 little-endian). */
	static const uint8_t hello[8] = { 1, 0, 0, 0, 0x43, 0x4c, 0x4e, 0x4b };
	struct build_case b;

	(void)state;
	memset(&b, 0, sizeof(b));
	b.answer = ANSWER_SOCKET;
	build_run(&b);
	assert_int_equal(b.rc, 0);
	assert_int_equal(b.hello_len, sizeof(hello));
	assert_memory_equal(b.hello, hello, sizeof(hello));
	assert_non_null(b.ctx);
	assert_true(b.ops_ok);

	/* A socket said to be a TAP: refused, and nothing kept. */
	memset(&b, 0, sizeof(b));
	b.answer = ANSWER_SOCKET_AS_TAP;
	build_run(&b);
	assert_int_equal(b.rc, -EPROTO);
	assert_null(b.ctx);

	/* The VM hangs up instead of answering. */
	memset(&b, 0, sizeof(b));
	b.answer = ANSWER_HANG_UP;
	build_run(&b);
	assert_int_equal(b.rc, -ECONNRESET);
	assert_null(b.ctx);
}

static void test_build_bad_description(void **state)
{
	struct cvmbus_vm_nic_remote d;
	struct cvmbus_exec *exec;
	const struct cvmbus_vsp_ops *ops = NULL;
	void *ctx = NULL;
	int sv[2];

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	memset(&d, 0, sizeof(d));
	d.mac[0] = 0x00;
	d.mac[1] = 0x15;
	d.mtu = 1500;
	d.wait_ns = SEC / 10;
	/* Each refused before anything is said on the link. */
	assert_int_equal(cvmbus_vm_nic_remote_build(exec, &d, sizeof(d) - 1, sv[1], &ctx, &ops),
			 -EINVAL);
	d.mtu = 67;
	assert_int_equal(cvmbus_vm_nic_remote_build(exec, &d, sizeof(d), sv[1], &ctx, &ops),
			 -EINVAL);
	d.mtu = 9001;
	assert_int_equal(cvmbus_vm_nic_remote_build(exec, &d, sizeof(d), sv[1], &ctx, &ops),
			 -EINVAL);
	d.mtu = 1500;
	d.mac[0] = 0x01; /* group */
	assert_int_equal(cvmbus_vm_nic_remote_build(exec, &d, sizeof(d), sv[1], &ctx, &ops),
			 -EINVAL);
	d.mac[0] = 0x00;
	d.wait_ns = 0;
	assert_int_equal(cvmbus_vm_nic_remote_build(exec, &d, sizeof(d), sv[1], &ctx, &ops),
			 -EINVAL);
	d.wait_ns = SEC / 10;
	assert_int_equal(cvmbus_vm_nic_remote_build(exec, &d, sizeof(d), -1, &ctx, &ops), -EINVAL);
	assert_null(ctx);
	{
		uint8_t buf[16];
		ssize_t n = recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT);

		assert_true(n < 0);
	}
	close(sv[0]);
	close(sv[1]);
	cvmbus_exec_destroy(exec);
}

/* The description's layout, by hand: mac at 0, mtu at 8, instance at 12,
 * wait_ns at 16, little-endian. */
static void test_description_layout(void **state)
{
	static const uint8_t want[24] = { 0x00, 0x15, 0x5d, 0x01, 0x02, 0x03, 0, 0,
					  0xdc, 0x05, 0, 0,  0xe1, 0xfe, 0x0f, 0x0c,
					  0x00, 0xe1, 0xf5, 0x05, 0, 0, 0, 0 };
	struct cvmbus_vm_nic_remote d;
	uint8_t b[24];

	(void)state;
	memset(&d, 0, sizeof(d));
	d.mac[0] = 0x00;
	d.mac[1] = 0x15;
	d.mac[2] = 0x5d;
	d.mac[3] = 0x01;
	d.mac[4] = 0x02;
	d.mac[5] = 0x03;
	d.mtu = 1500;
	d.instance = 0x0c0ffee1u;
	d.wait_ns = 100000000ull;
	assert_int_equal(sizeof(d), sizeof(want));
	memcpy(b, &d, sizeof(b));
	assert_memory_equal(b, want, sizeof(want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_description_layout),
		cmocka_unit_test(test_build_bad_description),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_frames_relayed),
		cmocka_unit_test(test_frames_no_paravisor),
		cmocka_unit_test(test_two_runs),
		cmocka_unit_test(test_probe),
	};

	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
