/* SPDX-License-Identifier: MIT */
/*
 * The topology options shared by every cvmbus subcommand that boots a VM
 * (include/cvmbus/vm.h): defaults, parsing one option at a time, and the
 * check that says whether a configuration can exist. One place, so that
 * `cvmbus run`, `matrix`, `trace`, `disk` and `net` reject a bad value with
 * the same words.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/vm.h>
#include <cvmbus/wire.h>

const char cvmbus_vm_options_help[] =
	"topology options:\n"
	"  --isolation none|vbs|snp|tdx   hardware isolation (default snp)\n"
	"  --paravisor | --no-paravisor   a paravisor in the partition (default: yes)\n"
	"  --confidential-vmbus | --no-confidential-vmbus\n"
	"                                 the paravisor offers Confidential VMBus (default: yes)\n"
	"  --max-version X.Y              highest VMBus version the guest tries (default 6.0)\n"
	"  --arch x86_64|arm64            register and hypercall paths (default x86_64)\n"
	"  --detect cpuid|probe           how the guest detects Confidential VMBus (default cpuid)\n"
	"  --vcpus N                      vCPUs of the guest, 1..64 (default 2)\n"
	"  --seed N                       deterministic executor with this seed\n"
	"  --native                       native executor, real threads (default)\n"
	"  --attest none|require|fallback verify the paravisor's measurement before\n"
	"                                 Confidential VMBus (default none)\n"
	"  --expect HEX                   a pinned SHA-384 measurement (96 hex digits;\n"
	"                                 repeat for up to 4; see cvmbus attest measure)\n"
	"  --processes                    the host (its server and devices) in its own\n"
	"                                 process (cvmbus-host, or $CVMBUS_HOST_BINARY),\n"
	"                                 holding only shared memory\n";

void cvmbus_vm_config_default(struct cvmbus_vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->isolation = HV_ISOLATION_TYPE_SNP;
	cfg->paravisor = true;
	cfg->confidential_vmbus = true;
	cfg->arch = CVMBUS_ARCH_X86_64;
	cfg->max_version = CVMBUS_VERSION_6_0;
	cfg->detect = CVMBUS_DETECT_CPUID;
	cfg->vcpus = 2;
	cfg->deterministic = false;
}

const char *cvmbus_detect_name(enum cvmbus_detect detect)
{
	return detect == CVMBUS_DETECT_PROBE ? "probe" : "cpuid";
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, const char *a, const char *b)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, a, b);
	return rc;
}

/* A whole decimal number in [lo, hi], nothing else in the string. */
static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

struct option_spec {
	const char *name;
	bool has_arg;
};

static const struct option_spec specs[] = {
	{ "isolation", true },        { "paravisor", false },
	{ "no-paravisor", false },    { "confidential-vmbus", false },
	{ "no-confidential-vmbus", false }, { "max-version", true },
	{ "arch", true },             { "detect", true },
	{ "vcpus", true },            { "seed", true },
	{ "native", false },          { "attest", true },
	{ "expect", true },           { "processes", false },
};

int cvmbus_vm_config_option_has_arg(const char *name)
{
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		if (!strcmp(specs[i].name, name))
			return specs[i].has_arg;
	return -1;
}

int cvmbus_vm_config_option(struct cvmbus_vm_config *cfg, const char *name, const char *value,
			    char *err, size_t errlen)
{
	int has_arg = cvmbus_vm_config_option_has_arg(name);
	uint64_t n;

	if (has_arg < 0)
		return 0;
	if (has_arg && !value)
		return fail(err, errlen, -EINVAL, "--%s needs a value%s", name, "");
	if (!has_arg && value)
		return fail(err, errlen, -EINVAL, "--%s takes no value (got '%s')", name, value);

	if (!strcmp(name, "isolation")) {
		static const char *const names[] = { "none", "vbs", "snp", "tdx" };

		for (unsigned int i = 0; i < 4; i++)
			if (!strcmp(value, names[i])) {
				cfg->isolation = (enum hv_isolation_type)i;
				return 1;
			}
		return fail(err, errlen, -EINVAL,
			    "--isolation: '%s' is not one of none, vbs, snp, tdx%s", value, "");
	}
	if (!strcmp(name, "paravisor") || !strcmp(name, "no-paravisor")) {
		cfg->paravisor = name[0] == 'p';
		return 1;
	}
	if (!strcmp(name, "confidential-vmbus") || !strcmp(name, "no-confidential-vmbus")) {
		cfg->confidential_vmbus = name[0] == 'c';
		return 1;
	}
	if (!strcmp(name, "max-version")) {
		uint32_t v;

		if (cvmbus_wire_version_parse(value, &v) < 0 || !cvmbus_wire_version_known(v) ||
		    v < CVMBUS_VERSION_2_4)
			return fail(err, errlen, -EINVAL,
				    "--max-version: '%s' is not a VMBus version from 2.4 to 6.0%s",
				    value, "");
		cfg->max_version = v;
		return 1;
	}
	if (!strcmp(name, "arch")) {
		if (!strcmp(value, "x86_64") || !strcmp(value, "x64"))
			cfg->arch = CVMBUS_ARCH_X86_64;
		else if (!strcmp(value, "arm64") || !strcmp(value, "aarch64"))
			cfg->arch = CVMBUS_ARCH_ARM64;
		else
			return fail(err, errlen, -EINVAL, "--arch: '%s' is not x86_64 or arm64%s",
				    value, "");
		return 1;
	}
	if (!strcmp(name, "detect")) {
		if (!strcmp(value, "cpuid"))
			cfg->detect = CVMBUS_DETECT_CPUID;
		else if (!strcmp(value, "probe"))
			cfg->detect = CVMBUS_DETECT_PROBE;
		else
			return fail(err, errlen, -EINVAL, "--detect: '%s' is not cpuid or probe%s",
				    value, "");
		return 1;
	}
	if (!strcmp(name, "vcpus")) {
		if (!parse_u64(value, 1, CVMBUS_PLATFORM_MAX_VCPUS, &n))
			return fail(err, errlen, -EINVAL, "--vcpus: '%s' is not a number from 1 to 64%s",
				    value, "");
		cfg->vcpus = (unsigned int)n;
		return 1;
	}
	if (!strcmp(name, "seed")) {
		if (!parse_u64(value, 0, UINT64_MAX, &n))
			return fail(err, errlen, -EINVAL, "--seed: '%s' is not a number%s", value, "");
		cfg->seed = n;
		cfg->deterministic = true;
		return 1;
	}
	if (!strcmp(name, "attest")) {
		if (!strcmp(value, "none"))
			cfg->attest = CVMBUS_VM_ATTEST_NONE;
		else if (!strcmp(value, "require"))
			cfg->attest = CVMBUS_VM_ATTEST_REQUIRE;
		else if (!strcmp(value, "fallback"))
			cfg->attest = CVMBUS_VM_ATTEST_FALLBACK;
		else
			return fail(err, errlen, -EINVAL,
				    "--attest: '%s' is not none, require or fallback%s", value, "");
		return 1;
	}
	if (!strcmp(name, "expect")) {
		uint8_t m[48];

		if (strlen(value) != 96)
			return fail(err, errlen, -EINVAL,
				    "--expect: '%s' is not a SHA-384 measurement (96 hex digits)%s",
				    value, "");
		for (size_t i = 0; i < 48; i++) {
			unsigned int hi, lo;

			if (sscanf(value + 2 * i, "%1x%1x", &hi, &lo) != 2)
				return fail(err, errlen, -EINVAL,
					    "--expect: '%s' is not a SHA-384 measurement (96 hex digits)%s",
					    value, "");
			m[i] = (uint8_t)(hi << 4 | lo);
		}
		if (cfg->expect_count >= CVMBUS_VM_MAX_EXPECT)
			return fail(err, errlen, -EINVAL, "--expect: at most 4 measurements%s%s", "",
				    "");
		memcpy(cfg->expect[cfg->expect_count++], m, sizeof(m));
		return 1;
	}
	if (!strcmp(name, "processes")) {
		cfg->processes = true;
		return 1;
	}
	/* native */
	cfg->deterministic = false;
	return 1;
}

int cvmbus_vm_config_check(const struct cvmbus_vm_config *cfg, char *err, size_t errlen)
{
	if (cfg->isolation > HV_ISOLATION_TYPE_TDX)
		return fail(err, errlen, -EINVAL, "isolation type %s%s is unknown", "", "");
	if (cfg->arch == CVMBUS_ARCH_ARM64 &&
	    (cfg->isolation == HV_ISOLATION_TYPE_SNP || cfg->isolation == HV_ISOLATION_TYPE_TDX))
		return fail(err, errlen, -ENOTSUP, "%s does not exist on %s",
			    cvmbus_isolation_name(cfg->isolation), "arm64");
	if (cfg->confidential_vmbus && !cfg->paravisor)
		return fail(err, errlen, -EINVAL,
			    "Confidential VMBus needs a paravisor (use --no-confidential-vmbus%s%s)",
			    " or --paravisor", "");
	if (cfg->vcpus < 1 || cfg->vcpus > CVMBUS_PLATFORM_MAX_VCPUS)
		return fail(err, errlen, -EINVAL, "vcpus must be 1..64%s%s", "", "");
	if (!cvmbus_wire_version_known(cfg->max_version) || cfg->max_version < CVMBUS_VERSION_2_4)
		return fail(err, errlen, -EINVAL, "max version must be 2.4..6.0%s%s", "", "");
	if (cfg->processes && cfg->deterministic)
		return fail(err, errlen, -EINVAL,
			    "--processes needs the native executor (a seed cannot schedule %s%s)",
			    "another process", "");
	if (cfg->attest != CVMBUS_VM_ATTEST_NONE && (!cfg->paravisor || !cfg->expect_count))
		return fail(err, errlen, -EINVAL,
			    "--attest needs a paravisor and at least one --expect measurement%s%s",
			    "", "");
	return 0;
}

int cvmbus_vm_config_format(const struct cvmbus_vm_config *cfg, char *buf, size_t cap)
{
	char ver[16];
	char exec[40];

	cvmbus_wire_version_format(cfg->max_version, ver, sizeof(ver));
	if (cfg->deterministic)
		snprintf(exec, sizeof(exec), "seed=%" PRIu64, cfg->seed);
	else
		snprintf(exec, sizeof(exec), "native");
	return snprintf(buf, cap, "%s%s %s max %s detect=%s vcpus=%u %s%s",
			cvmbus_isolation_name(cfg->isolation),
			!cfg->paravisor ? ""
			: cfg->confidential_vmbus ? "+paravisor(confidential)"
						  : "+paravisor",
			cvmbus_arch_name(cfg->arch), ver, cvmbus_detect_name(cfg->detect), cfg->vcpus,
			exec, cfg->processes ? " processes" : "");
}
