/* SPDX-License-Identifier: MIT */
/*
 * A measured paravisor through the whole VM (src/vm): a run that pins the
 * measurement the platform launched gets Confidential VMBus; one that pins
 * another paravisor's measurement is refused (require) or falls back to the
 * host-visible path (fallback), and the report says why. The pinned value
 * comes from a first run's report, as a user reads it from `cvmbus run`.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/vm.h>

static void run(struct cvmbus_vm_config *cfg, struct cvmbus_vm_report *out)
{
	struct cvmbus_vm *vm;
	char err[160];

	assert_int_equal(cvmbus_vm_create(cfg, &vm, err, sizeof(err)), 0);
	(void)cvmbus_vm_run(vm, cvmbus_vm_default_workload, NULL);
	*out = *cvmbus_vm_report(vm);
	cvmbus_vm_destroy(vm);
}

static void measured(uint8_t m[48])
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm_report r;
	char err[160];

	cvmbus_vm_config_default(&cfg);
	run(&cfg, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(strlen(r.paravisor_measurement), 96);
	assert_string_equal(r.attest_decision, "not-run");
	/* Through the option parser, as a user would pass it. */
	cvmbus_vm_config_default(&cfg);
	assert_int_equal(cvmbus_vm_config_option(&cfg, "expect", r.paravisor_measurement, err,
						 sizeof(err)), 1);
	memcpy(m, cfg.expect[0], 48);
}

static void test_pinned_match_is_confidential(void **state)
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm_report r;

	(void)state;
	cvmbus_vm_config_default(&cfg);
	measured(cfg.expect[0]);
	cfg.expect_count = 1;
	cfg.attest = CVMBUS_VM_ATTEST_REQUIRE;
	run(&cfg, &r);
	assert_int_equal(r.status, 0);
	assert_true(r.connected && r.confidential);
	assert_string_equal(r.attest_decision, "confidential");
}

static void test_pinned_mismatch(void **state)
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm_report r;

	(void)state;
	cvmbus_vm_config_default(&cfg);
	measured(cfg.expect[0]);
	cfg.expect[0][0] ^= 0x01; /* another paravisor's measurement */
	cfg.expect_count = 1;

	cfg.attest = CVMBUS_VM_ATTEST_REQUIRE;
	run(&cfg, &r);
	assert_false(r.connected);
	assert_int_equal(r.connect_status, -EACCES);
	assert_string_equal(r.attest_decision, "refused");
	assert_string_equal(r.attest_reason, "measurement not expected");

	cfg.attest = CVMBUS_VM_ATTEST_FALLBACK;
	run(&cfg, &r);
	assert_int_equal(r.status, 0);
	assert_true(r.connected);
	assert_false(r.confidential);
	assert_string_equal(r.attest_decision, "fell-back");
	assert_string_equal(r.attest_reason, "measurement not expected");
}

static void test_options(void **state)
{
	struct cvmbus_vm_config cfg;
	char err[200];

	(void)state;
	cvmbus_vm_config_default(&cfg);
	assert_int_equal(cvmbus_vm_config_option(&cfg, "attest", "maybe", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "--attest: 'maybe' is not none, require or fallback");
	assert_int_equal(cvmbus_vm_config_option(&cfg, "expect", "abcd", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "--expect: 'abcd' is not a SHA-384 measurement (96 hex digits)");
	/* A policy with nothing pinned cannot be checked. */
	assert_int_equal(cvmbus_vm_config_option(&cfg, "attest", "require", err, sizeof(err)), 1);
	assert_int_equal(cvmbus_vm_config_check(&cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--attest needs a paravisor and at least one --expect measurement");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned_match_is_confidential),
		cmocka_unit_test(test_pinned_mismatch),
		cmocka_unit_test(test_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
