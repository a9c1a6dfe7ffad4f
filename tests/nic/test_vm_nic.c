/* SPDX-License-Identifier: MIT */
/*
 * The NIC of a whole VM (src/vm/nic.c) without root: every run boots a real
 * cvmbus_vm (platform, host, paravisor and relay, guest) and the NIC's
 * device and driver talk over the channel the VM's servers set up; the two
 * backends are callbacks instead of TAPs, so frames are injected and
 * collected here. What it proves:
 *
 *   - the configuration errors, each with its own message, before anything
 *     is made (no namespace, the caller's own namespace, a TAP under the
 *     deterministic executor, a paravisor NIC without a paravisor ...);
 *   - frames of 60..1514 bytes go both ways through the host path (relayed
 *     behind a paravisor, or straight to the host) and the confidential
 *     path, byte for byte and in order, on the native executor and under
 *     deterministic seeds, with send-buffer sections and GPA-direct sends;
 *   - the exposure: the host path's buffers are host-visible "vmbus-buffer"
 *     pages (exactly the buffers' size), the confidential path's are
 *     private and its ring too; a paravisor NIC without Confidential VMBus
 *     falls back to host-visible buffers; after the guest side stops, no
 *     buffer page is left visible;
 *   - the ready workload: its probe frame reaches the host's wire, and the
 *     secret scan finds the probe's bytes in host-visible memory on the
 *     host path and nowhere on the confidential path.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <cvmbus/guest.h>
#include <cvmbus/log.h>
#include <cvmbus/memory.h>
#include <cvmbus/platform.h>
#include <cvmbus/vm.h>
#include <cvmbus/vm_nic.h>

#define SEC      1000000000ull
#define FRAMES   300u
#define HOST_MAC { 0x02, 0x00, 0x00, 0x00, 0x0b, 0x02 }

#include "nic_test_util.h"

/* ---- one VM with a NIC ------------------------------------------------------------- */

struct nic_case {
	const char *name;
	bool paravisor;
	bool confidential_vmbus;
	enum cvmbus_vm_owner owner;
	bool deterministic;
	uint64_t seed;
	bool gpa_direct;
	/* expectations */
	bool buffers_visible;
};

struct rig {
	const struct nic_case *cs;
	struct cvmbus_vm *vm;
	struct cvmbus_vm_nic *nic;
	struct collector to_host, to_guest;
	/* Filled by the workload; checked after the run. */
	int wl_status;
	unsigned int up_got, down_got;
	struct cvmbus_vm_nic_stats live;
	uint64_t buffer_pages_up, buffer_pages_after;
	bool ring_private;
};

static void rig_make(struct rig *r, const struct nic_case *cs)
{
	struct cvmbus_vm_config vc;
	struct cvmbus_vm_nic_config nc;
	static const uint8_t host_mac[6] = HOST_MAC;
	static const uint8_t nic_mac[6] = CVMBUS_VM_NIC_DEFAULT_MAC;
	char err[200];

	memset(r, 0, sizeof(*r));
	r->cs = cs;
	cvmbus_vm_config_default(&vc);
	vc.paravisor = cs->paravisor;
	vc.confidential_vmbus = cs->confidential_vmbus;
	vc.deterministic = cs->deterministic;
	vc.seed = cs->seed;
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
	nc.owner = cs->owner;
	nc.host_rx = collect;
	nc.host_rx_ctx = &r->to_host;
	nc.guest_rx = collect;
	nc.guest_rx_ctx = &r->to_guest;
	nc.gpa_direct = cs->gpa_direct;
	assert_int_equal(cvmbus_vm_nic_create(r->vm, &nc, &r->nic, err, sizeof(err)), 0);
	assert_string_equal(cvmbus_vm_nic_host_ifname(r->nic), "");
}

static void rig_free(struct rig *r)
{
	cvmbus_vm_nic_destroy(r->nic);
	collectors_destroy(&r->to_host, &r->to_guest);
	cvmbus_vm_destroy(r->vm);
}

/* The workload of the frame tests: up, FRAMES each way (interleaved), the
 * exposure with the NIC up, down, the exposure again. */
static int frames_workload(struct cvmbus_vm *vm, void *arg)
{
	struct rig *r = arg;
	uint8_t f[1514];
	int rc;

	rc = cvmbus_vm_nic_guest_start(r->nic, vm);
	if (rc)
		return r->wl_status = rc;
	/* Started twice: refused, the first start is left alone. */
	if (cvmbus_vm_nic_guest_start(r->nic, vm) != -EBUSY)
		r->wl_status = -EPROTO;
	r->buffer_pages_up = buffer_pages_now(vm);
	for (unsigned int i = 0; i < FRAMES && !rc; i++) {
		frame_make(0, i, r->to_host.dst, r->to_host.src, f);
		rc = cvmbus_vm_nic_guest_send(r->nic, f, frame_len(0, i), 5 * SEC);
		if (rc)
			break;
		frame_make(1, i, r->to_guest.dst, r->to_guest.src, f);
		rc = cvmbus_vm_nic_host_send(r->nic, f, frame_len(1, i), 5 * SEC);
	}
	r->up_got = collector_wait(&r->to_host, cvmbus_vm_exec(vm), FRAMES, 10 * SEC);
	r->down_got = collector_wait(&r->to_guest, cvmbus_vm_exec(vm), FRAMES, 10 * SEC);
	(void)cvmbus_vm_snapshot(vm);
	cvmbus_vm_nic_get_stats(r->nic, &r->live);
	cvmbus_vm_nic_guest_stop(r->nic);
	/* Stopped: nothing to send through any more. */
	if (cvmbus_vm_nic_guest_send(r->nic, f, 60, 0) != -ENOTCONN && !rc)
		rc = -EPROTO;
	r->buffer_pages_after = buffer_pages_now(vm);
	if (!r->wl_status)
		r->wl_status = rc;
	return rc;
}

static void run_frames(const struct nic_case *cs)
{
	const uint32_t buf_pages =
		(CVMBUS_VM_NIC_DEFAULT_RECV_BUF + CVMBUS_VM_NIC_DEFAULT_SEND_BUF) / 4096u;
	const struct cvmbus_vm_report *rep;
	const struct cvmbus_vm_channel *ch = NULL;
	struct cvmbus_vm_nic_stats st;
	struct rig r;
	int rc;

	printf("# %s\n", cs->name);
	rig_make(&r, cs);
	rc = cvmbus_vm_run(r.vm, frames_workload, &r);
	rep = cvmbus_vm_report(r.vm);
	if (rc)
		printf("# run failed: %d: %s\n", rc, rep->error);
	assert_int_equal(rc, 0);
	assert_int_equal(r.wl_status, 0);

	/* Every frame, in order, byte for byte, and nothing else but the
	 * guest's own ... of which there is none here. */
	assert_int_equal(r.up_got, FRAMES);
	assert_int_equal(r.down_got, FRAMES);
	assert_int_equal(r.to_host.bad + r.to_guest.bad, 0);

	/* The report names the NIC's channel and says whose it is. */
	for (size_t i = 0; i < rep->channel_count; i++)
		if (rep->channels[i].device && !strcmp(rep->channels[i].device, "nic"))
			ch = &rep->channels[i];
	assert_non_null(ch);
	assert_true(ch->opened);
	assert_int_equal(ch->close_status, 0);
	assert_int_equal(ch->owner, cs->owner == CVMBUS_VM_OWNER_PARAVISOR
					    ? CVMBUS_MEM_PARTY_PARAVISOR
					    : CVMBUS_MEM_PARTY_HOST);
	assert_int_equal(ch->relid, r.live.relid);

	/* Exposure: exactly the two buffers on the host path, none on the
	 * confidential one; none once the guest side stopped. */
	assert_int_equal(r.live.info.recv_buf_shared, cs->buffers_visible);
	assert_int_equal(r.live.info.send_buf_shared, cs->buffers_visible);
	assert_int_equal(r.buffer_pages_up, cs->buffers_visible ? buf_pages : 0);
	assert_int_equal(r.buffer_pages_after, 0);
	if (!cs->buffers_visible) {
		/* The whole channel is the confidential VM's. */
		assert_true(ch->confidential_ring && ch->confidential_external);
		assert_true(ch->ring_private);
		assert_int_equal(ch->ring_pages_visible, 0);
	} else {
		assert_false(ch->confidential_external);
	}

	/* Counters, live and after the stop, agree with what went through. */
	cvmbus_vm_nic_get_stats(r.nic, &st);
	assert_true(st.connected);
	assert_true(st.device_opened);
	assert_int_equal(st.info.mtu, 1500);
	assert_int_equal(st.info.nvsp_version, CVMBUS_NVSP_VERSION_61);
	assert_int_equal(st.vsc.tx_frames, FRAMES);
	assert_int_equal(st.vsp.tx_frames, FRAMES);
	assert_int_equal(st.vsp.rx_frames, FRAMES);
	assert_int_equal(st.vsc.rx_frames, FRAMES);
	/* ... plus the one refused after the stop. */
	assert_int_equal(st.guest.in_frames, FRAMES + 1);
	assert_int_equal(st.guest.in_dropped, 1);
	assert_int_equal(st.host.in_frames, FRAMES);
	assert_int_equal(st.host.out_frames, FRAMES);
	assert_int_equal(st.guest.out_frames, FRAMES);
	/* Every RNDIS message the guest sent (frames and control) came the
	 * configured way, and only that way. */
	assert_int_equal(cs->gpa_direct ? st.vsp.tx_gpa_direct : st.vsp.tx_send_buffer,
			 FRAMES + st.vsp.control_msgs);
	assert_int_equal(cs->gpa_direct ? st.vsp.tx_send_buffer : st.vsp.tx_gpa_direct, 0);
	assert_int_equal(st.vsp.bad_nvsp + st.vsp.bad_rndis + st.vsp.bad_section +
				 st.vsp.bad_frame + st.vsp.bad_gpadl,
			 0);
	assert_int_equal(st.vsc.bad_xfer + st.vsc.bad_nvsp + st.vsc.bad_rndis, 0);
	rig_free(&r);
}

static const struct nic_case frame_cases[] = {
	{ "host path behind a paravisor (relayed), native", true, true, CVMBUS_VM_OWNER_HOST,
	  false, 0, false, true },
	{ "confidential path, native", true, true, CVMBUS_VM_OWNER_PARAVISOR, false, 0, false,
	  false },
	{ "host path without a paravisor, gpa-direct sends, native", false, false,
	  CVMBUS_VM_OWNER_HOST, false, 0, true, true },
	{ "paravisor nic without confidential vmbus: buffers shared", true, false,
	  CVMBUS_VM_OWNER_PARAVISOR, false, 0, false, true },
	{ "host path, deterministic seed 3", true, true, CVMBUS_VM_OWNER_HOST, true, 3, false,
	  true },
	{ "confidential path, deterministic seed 5, gpa-direct", true, true,
	  CVMBUS_VM_OWNER_PARAVISOR, true, 5, true, false },
};

static void test_frames(void **state)
{
	run_frames(*state);
}

/* ---- the ready workload ------------------------------------------------------------ */

struct ready_ctx {
	int calls;
	uint32_t relid;
};

static void on_ready(void *ctx, struct cvmbus_vm_nic *nic)
{
	struct ready_ctx *rc = ctx;
	struct cvmbus_vm_nic_stats st;

	cvmbus_vm_nic_get_stats(nic, &st);
	rc->calls++;
	rc->relid = st.relid;
}

static void run_probe(enum cvmbus_vm_owner owner, bool deterministic)
{
	const struct nic_case cs = { "probe", true, true, owner, deterministic, 11, false,
				     owner == CVMBUS_VM_OWNER_HOST };
	struct ready_ctx ready = { 0 };
	struct cvmbus_vm_nic_workload wl = {
		.duration_ns = SEC / 5,
		.ready = on_ready,
		.ready_ctx = &ready,
	};
	const struct cvmbus_vm_report *rep;
	const struct cvmbus_vm_channel *ch = NULL;
	uint64_t buffer_pages = 0;
	struct rig r;
	int rc;

	rig_make(&r, &cs);
	wl.nic = r.nic;
	rc = cvmbus_vm_run(r.vm, cvmbus_vm_nic_workload, &wl);
	rep = cvmbus_vm_report(r.vm);
	if (rc)
		printf("# run failed: %d: %s\n", rc, rep->error);
	assert_int_equal(rc, 0);
	assert_int_equal(ready.calls, 1);

	/* The probe reached the host's wire: broadcast, from the NIC's MAC,
	 * 32 bytes of secret after the header. */
	assert_true(r.to_host.probe_seen);
	assert_int_equal(r.to_host.probe_len, 64);
	assert_memory_equal(r.to_host.probe + 6, r.to_guest.dst, 6);

	for (size_t i = 0; i < rep->channel_count; i++)
		if (rep->channels[i].relid == ready.relid)
			ch = &rep->channels[i];
	assert_non_null(ch);
	assert_string_equal(ch->device, "nic");
	assert_true(ch->secret_sent);
	/* The report's secret is the probe's payload ... */
	assert_memory_equal(ch->secret, r.to_host.probe + 14, CVMBUS_VM_SECRET_BYTES);
	for (size_t i = 0; i < rep->reason_count; i++)
		if (!strcmp(rep->reasons[i].reason, "vmbus-buffer"))
			buffer_pages = rep->reasons[i].pages_now;
	/* ... found in host-visible memory on the host path (the send
	 * section), nowhere the host can read on the confidential one. */
	if (owner == CVMBUS_VM_OWNER_HOST) {
		assert_true(ch->secret_hits_view >= 1);
		assert_int_equal(buffer_pages, (CVMBUS_VM_NIC_DEFAULT_RECV_BUF +
						CVMBUS_VM_NIC_DEFAULT_SEND_BUF) / 4096u);
	} else {
		assert_int_equal(ch->secret_hits_view, 0);
		assert_int_equal(ch->secret_hits_fd, 0);
		assert_int_equal(buffer_pages, 0);
		assert_true(ch->ring_private);
	}
	rig_free(&r);
}

static void test_probe_host(void **state)
{
	(void)state;
	run_probe(CVMBUS_VM_OWNER_HOST, false);
}

static void test_probe_confidential(void **state)
{
	(void)state;
	run_probe(CVMBUS_VM_OWNER_PARAVISOR, false);
}

static void test_probe_confidential_det(void **state)
{
	(void)state;
	run_probe(CVMBUS_VM_OWNER_PARAVISOR, true);
}

/* ---- configuration errors ---------------------------------------------------------- */

static int try_create(struct cvmbus_vm *vm, const struct cvmbus_vm_nic_config *nc, char *err,
		      size_t errlen)
{
	struct cvmbus_vm_nic *nic = NULL;
	int rc = cvmbus_vm_nic_create(vm, nc, &nic, err, errlen);

	if (!rc)
		cvmbus_vm_nic_destroy(nic);
	return rc;
}

static void sink(void *ctx, const void *frame, size_t len)
{
	(void)ctx;
	(void)frame;
	(void)len;
}

static void test_config_errors(void **state)
{
	struct cvmbus_vm_config vc;
	struct cvmbus_vm *vm, *novm, *det;
	struct cvmbus_vm_nic_config nc, ok;
	struct cvmbus_vm_nic *nic = NULL;
	char err[200], ns[64];

	(void)state;
	cvmbus_vm_config_default(&vc);
	assert_int_equal(cvmbus_vm_create(&vc, &vm, err, sizeof(err)), 0);
	vc.paravisor = false;
	vc.confidential_vmbus = false;
	assert_int_equal(cvmbus_vm_create(&vc, &novm, err, sizeof(err)), 0);
	cvmbus_vm_config_default(&vc);
	vc.deterministic = true;
	assert_int_equal(cvmbus_vm_create(&vc, &det, err, sizeof(err)), 0);

	memset(&ok, 0, sizeof(ok));
	ok.owner = CVMBUS_VM_OWNER_HOST;
	ok.host_rx = sink;
	ok.guest_rx = sink;

	assert_int_equal(cvmbus_vm_nic_create(vm, NULL, &nic, err, sizeof(err)), -EINVAL);
	assert_int_equal(cvmbus_vm_nic_create(NULL, &ok, &nic, err, sizeof(err)), -EINVAL);

	nc = ok;
	nc.host_rx = NULL;
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "host side"));
	nc = ok;
	nc.guest_rx = NULL;
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "guest side"));
	nc = ok;
	nc.mtu = 67;
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "mtu"));
	nc.mtu = 9001;
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -EINVAL);
	nc = ok;
	nc.ring_bytes = 4096;
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "ring"));
	nc = ok;
	nc.recv_buf_bytes = 5000;
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -EINVAL);
	nc = ok;
	nc.mac[0] = 0x01; /* group bit */
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unicast"));
	nc = ok;
	nc.owner = (enum cvmbus_vm_owner)7;
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -EINVAL);

	/* A paravisor's NIC needs a paravisor. */
	nc = ok;
	nc.owner = CVMBUS_VM_OWNER_PARAVISOR;
	assert_int_equal(try_create(novm, &nc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "needs a paravisor"));

	/* Namespaces: checked before any TAP is made, so this runs without
	 * root. One that does not exist; a bad name; the same for both; the
	 * caller's own (here by its /proc path); and a TAP under det. */
	snprintf(ns, sizeof(ns), "cvmbus-no-such-ns-%d", (int)getpid());
	nc = ok;
	nc.host_netns = ns;
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "does not exist"));
	assert_non_null(strstr(err, ns));
	nc.host_netns = "a/b";
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad namespace"));
	nc.host_netns = "same";
	nc.guest_netns = "same";
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "must differ"));
	nc = ok;
	nc.host_netns = "/proc/self/ns/net";
	assert_int_equal(try_create(vm, &nc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "own namespace"));
	nc = ok;
	nc.guest_netns = "g";
	assert_int_equal(try_create(det, &nc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "native executor"));

	/* The good one, for contrast; and the path names. */
	assert_int_equal(try_create(vm, &ok, err, sizeof(err)), 0);
	assert_string_equal(cvmbus_vm_nic_path_name(CVMBUS_VM_OWNER_HOST), "host");
	assert_string_equal(cvmbus_vm_nic_path_name(CVMBUS_VM_OWNER_PARAVISOR), "confidential");

	cvmbus_vm_destroy(vm);
	cvmbus_vm_destroy(novm);
	cvmbus_vm_destroy(det);
}

/* The class GUID's bytes as the wire carries them (a GUID's first three
 * fields little-endian): 63 51 61 f8 3e df c5 46 91 3f f2 d2 f9 65 ed 0e,
 * Linux's HV_NIC_GUID byte array. */
static void test_class_guid(void **state)
{
	static const uint8_t wire[16] = { 0x63, 0x51, 0x61, 0xf8, 0x3e, 0xdf, 0xc5, 0x46,
					  0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e };
	const struct cvmbus_guid g = CVMBUS_VM_NIC_INTERFACE_ID_INIT;
	uint8_t b[16];

	(void)state;
	memcpy(b, &g, sizeof(b));
	assert_memory_equal(b, wire, sizeof(wire));
}

int main(void)
{
	struct CMUnitTest tests[16];
	size_t n = 0;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_class_guid);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_config_errors);
	for (size_t i = 0; i < sizeof(frame_cases) / sizeof(frame_cases[0]); i++) {
		struct CMUnitTest t = cmocka_unit_test_prestate(test_frames, (void *)&frame_cases[i]);

		t.name = frame_cases[i].name;
		tests[n++] = t;
	}
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_probe_host);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_probe_confidential);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_probe_confidential_det);

	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	return _cmocka_run_group_tests("test_vm_nic", tests, n, NULL, NULL);
}
