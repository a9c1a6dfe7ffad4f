/* SPDX-License-Identifier: MIT */
/*
 * The topology options shared by every subcommand that boots a VM
 * (src/vm/config.c): defaults, each option's values and errors, and which
 * cells can exist.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/vm.h>
#include <cvmbus/wire.h>

static void test_defaults(void **state)
{
	struct cvmbus_vm_config c;
	char buf[128];

	(void)state;
	cvmbus_vm_config_default(&c);
	assert_int_equal(c.isolation, HV_ISOLATION_TYPE_SNP);
	assert_true(c.paravisor && c.confidential_vmbus);
	assert_int_equal(c.max_version, 0x00060000);
	assert_int_equal(cvmbus_vm_config_check(&c, buf, sizeof(buf)), 0);
	cvmbus_vm_config_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "snp+paravisor(confidential) x86_64 max 6.0 detect=cpuid vcpus=2 native");
}

static void test_options(void **state)
{
	struct cvmbus_vm_config c;
	char err[160], buf[128];

	(void)state;
	cvmbus_vm_config_default(&c);
	assert_int_equal(cvmbus_vm_config_option(&c, "isolation", "tdx", err, sizeof(err)), 1);
	assert_int_equal(c.isolation, HV_ISOLATION_TYPE_TDX);
	assert_int_equal(cvmbus_vm_config_option(&c, "no-confidential-vmbus", NULL, err, sizeof(err)), 1);
	assert_int_equal(cvmbus_vm_config_option(&c, "max-version", "5.0", err, sizeof(err)), 1);
	assert_int_equal(c.max_version, 0x00050000);
	assert_int_equal(cvmbus_vm_config_option(&c, "detect", "probe", err, sizeof(err)), 1);
	assert_int_equal(cvmbus_vm_config_option(&c, "vcpus", "4", err, sizeof(err)), 1);
	assert_int_equal(cvmbus_vm_config_option(&c, "seed", "42", err, sizeof(err)), 1);
	assert_true(c.deterministic);
	assert_int_equal(c.seed, 42);
	cvmbus_vm_config_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "tdx+paravisor x86_64 max 5.0 detect=probe vcpus=4 seed=42");
	assert_int_equal(cvmbus_vm_config_option(&c, "native", NULL, err, sizeof(err)), 1);
	assert_false(c.deterministic);
	/* Not a topology option: the caller's to handle. */
	assert_int_equal(cvmbus_vm_config_option(&c, "image", "x", err, sizeof(err)), 0);
	assert_int_equal(cvmbus_vm_config_option_has_arg("image"), -1);
	assert_int_equal(cvmbus_vm_config_option_has_arg("vcpus"), 1);
	assert_int_equal(cvmbus_vm_config_option_has_arg("native"), 0);
}

static void test_bad_values(void **state)
{
	static const struct {
		const char *name, *value, *says;
	} cases[] = {
		{ "isolation", "sev", "--isolation: 'sev' is not one of none, vbs, snp, tdx" },
		{ "max-version", "7.0", "--max-version: '7.0' is not a VMBus version from 2.4 to 6.0" },
		{ "max-version", "1.1", "--max-version: '1.1' is not a VMBus version from 2.4 to 6.0" },
		{ "max-version", "5", "--max-version: '5' is not a VMBus version from 2.4 to 6.0" },
		{ "arch", "riscv", "--arch: 'riscv' is not x86_64 or arm64" },
		{ "detect", "guess", "--detect: 'guess' is not cpuid or probe" },
		{ "vcpus", "0", "--vcpus: '0' is not a number from 1 to 64" },
		{ "vcpus", "65", "--vcpus: '65' is not a number from 1 to 64" },
		{ "vcpus", "2x", "--vcpus: '2x' is not a number from 1 to 64" },
		{ "vcpus", "-1", "--vcpus: '-1' is not a number from 1 to 64" },
		{ "seed", "", "--seed: '' is not a number" },
		{ "vcpus", NULL, "--vcpus needs a value" },
		{ "native", "1", "--native takes no value (got '1')" },
	};
	struct cvmbus_vm_config c;
	char err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cvmbus_vm_config_default(&c);
		err[0] = 0;
		assert_int_equal(cvmbus_vm_config_option(&c, cases[i].name, cases[i].value, err,
							 sizeof(err)), -EINVAL);
		assert_string_equal(err, cases[i].says);
	}
}

static void test_cells(void **state)
{
	struct cvmbus_vm_config c;
	char err[160];

	(void)state;
	/* SNP and TDX exist only on x86_64: not applicable, not an error. */
	cvmbus_vm_config_default(&c);
	c.arch = CVMBUS_ARCH_ARM64;
	assert_int_equal(cvmbus_vm_config_check(&c, err, sizeof(err)), -ENOTSUP);
	assert_string_equal(err, "snp does not exist on arm64");
	c.isolation = HV_ISOLATION_TYPE_TDX;
	assert_int_equal(cvmbus_vm_config_check(&c, err, sizeof(err)), -ENOTSUP);
	c.isolation = HV_ISOLATION_TYPE_NONE;
	c.confidential_vmbus = false;
	assert_int_equal(cvmbus_vm_config_check(&c, err, sizeof(err)), 0);
	c.isolation = HV_ISOLATION_TYPE_VBS;
	assert_int_equal(cvmbus_vm_config_check(&c, err, sizeof(err)), 0);

	/* Confidential VMBus without a paravisor is a contradiction. */
	cvmbus_vm_config_default(&c);
	c.paravisor = false;
	assert_int_equal(cvmbus_vm_config_check(&c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "Confidential VMBus needs a paravisor (use --no-confidential-vmbus or --paravisor)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_cells),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
