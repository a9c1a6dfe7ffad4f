/* SPDX-License-Identifier: MIT */
/*
 * A relayed channel closed after the relay has slept longer than its
 * timeout (regression: the relay used to time the host's answer from the
 * client's last tick, seconds stale, and failed the GPADL teardown at
 * once, so the guest leaked ring pages the host still had pinned).
 *
 * The whole VM on the deterministic executor, so the idle spell is 30 s of
 * virtual time and costs nothing: open the host's (relayed) echo channel,
 * echo, sleep, create a GPADL (forwarded by the relay, which waits for the
 * host's answer), sleep, tear it down, sleep, echo again, close. After the close every page the channel
 * made host-visible is private again: the host-visible page count is back
 * where it was before the open, and no teardown failed.
 */
#include <errno.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cvmbus/echo.h>
#include <cvmbus/guest.h>
#include <cvmbus/log.h>
#include <cvmbus/vm.h>

#define SEC       1000000000ull
#define HOST_ECHO 0x0057e001u /* the host's echo device (src/vm/vm_internal.h) */

struct idle_result {
	int status;
	uint64_t visible_before, visible_open, visible_after;
	int echo_before, echo_after, close_rc;
	int gpadl_rc, teardown_rc;
};

static uint64_t visible_now(struct cvmbus_vm *vm)
{
	struct cvmbus_mem_exposure_totals t;

	cvmbus_mem_exposure_total(cvmbus_platform_mem(cvmbus_vm_platform(vm)), &t);
	return t.pages_now;
}

static int echo_once(struct cvmbus_channel *ch)
{
	struct cvmbus_echo_vsc v;
	uint8_t msg[32], reply[64];
	size_t rlen = 0;
	int rc;

	memset(msg, 0x3c, sizeof(msg));
	cvmbus_echo_vsc_init(&v, ch);
	rc = cvmbus_echo_call(&v, msg, sizeof(msg), reply, sizeof(reply), &rlen, 5 * SEC);
	return !rc && (rlen < sizeof(msg) || memcmp(reply, msg, sizeof(msg))) ? -EPROTO : rc;
}

static int idle_workload(struct cvmbus_vm *vm, void *arg)
{
	struct idle_result *r = arg;
	struct cvmbus_guest *g = cvmbus_vm_guest(vm);
	struct cvmbus_guest_offer offers[16];
	struct cvmbus_guest_open_params op = { .send_bytes = 4 * 4096, .recv_bytes = 4 * 4096 };
	struct cvmbus_channel *ch = NULL;
	uint32_t relid = 0;
	size_t n = 0;

	r->status = cvmbus_guest_offers(g, offers, 16, &n);
	for (size_t i = 0; !r->status && i < n && i < 16; i++)
		if (offers[i].if_instance.data1 == HOST_ECHO)
			relid = offers[i].relid;
	if (r->status || !relid)
		return r->status = -ENOENT;
	r->visible_before = visible_now(vm);
	r->status = cvmbus_guest_open(g, relid, &op, &ch);
	if (r->status)
		return r->status;
	r->visible_open = visible_now(vm);
	r->echo_before = echo_once(ch);
	/* Far longer than the relay's 5 s per step, with nothing going on;
	 * then a request the relay must forward and wait for: a GPADL. */
	cvmbus_exec_sleep_ns(cvmbus_vm_exec(vm), 30 * SEC);
	{
		uint32_t handle = 0;
		uint64_t gpa = 0;

		r->gpadl_rc = cvmbus_guest_gpadl_create(g, relid, 2 * 4096, &handle, &gpa);
		cvmbus_exec_sleep_ns(cvmbus_vm_exec(vm), 30 * SEC);
		r->teardown_rc = r->gpadl_rc ? -ENOENT
					     : cvmbus_guest_gpadl_teardown(g, relid, handle);
	}
	cvmbus_exec_sleep_ns(cvmbus_vm_exec(vm), 30 * SEC);
	r->echo_after = echo_once(ch);
	r->close_rc = cvmbus_guest_close(g, relid);
	r->visible_after = visible_now(vm);
	return 0;
}

static void test_close_after_idle(void **state)
{
	struct cvmbus_vm_config cfg;
	struct idle_result r;
	struct cvmbus_vm *vm;

	(void)state;
	memset(&r, 0, sizeof(r));
	cvmbus_vm_config_default(&cfg); /* SNP, paravisor, Confidential VMBus */
	cfg.deterministic = true;
	cfg.seed = 7;
	assert_int_equal(cvmbus_vm_create(&cfg, &vm, NULL, 0), 0);
	assert_int_equal(cvmbus_vm_run(vm, idle_workload, &r), 0);
	cvmbus_vm_destroy(vm);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.echo_before, 0);
	assert_int_equal(r.echo_after, 0);
	/* The host answered each, however long the relay had slept. */
	assert_int_equal(r.gpadl_rc, 0);
	assert_int_equal(r.teardown_rc, 0);
	assert_int_equal(r.close_rc, 0);
	/* The ring was host-visible while open (a relayed channel)... */
	assert_true(r.visible_open > r.visible_before);
	/* ...and every page of it is private again after the close. */
	assert_int_equal(r.visible_after, r.visible_before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_after_idle),
	};

	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
