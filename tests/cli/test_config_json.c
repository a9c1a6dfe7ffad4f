/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the JSON configuration of a VM run (src/vm/config_json.c,
 * include/cvmbus/vm_config.h): the embedded default parses to the
 * documented values; files merge over it; every kind of bad input (unknown
 * key, wrong type, value out of range, malformed JSON, missing file) is
 * refused with a message that names the field and the problem, exactly;
 * --set and the named options edit the right field; default devices follow
 * the topology while a user's word does not; the printed configuration
 * reads back to the same struct.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <cvmbus/vm_config.h>
#include <cvmbus/wire.h>

static char err[CVMBUS_VM_SETUP_ERR_MAX];

/* Build from a text (may be NULL) and options, name=value pairs then NULL. */
static int build(const char *text, struct cvmbus_vm_setup *out, ...)
{
	struct cvmbus_vm_setup_builder *b;
	va_list ap;
	int rc = 0;

	err[0] = '\0';
	assert_int_equal(cvmbus_vm_setup_builder_new(&b), 0);
	if (text)
		rc = cvmbus_vm_setup_builder_load_text(b, text, strlen(text), "test.json", err,
						       sizeof(err));
	va_start(ap, out);
	for (;;) {
		const char *name = va_arg(ap, const char *), *value;

		if (!name || rc < 0)
			break;
		value = va_arg(ap, const char *);
		rc = cvmbus_vm_setup_builder_option(b, name, value, err, sizeof(err));
		if (rc > 0)
			rc = 0;
	}
	va_end(ap);
	if (!rc)
		rc = cvmbus_vm_setup_builder_finish(b, out, err, sizeof(err));
	cvmbus_vm_setup_builder_free(b);
	return rc;
}

/* Expect text to be refused with exactly `want`. */
static void refused(const char *text, const char *want)
{
	struct cvmbus_vm_setup s;

	assert_int_equal(build(text, &s, NULL), -EINVAL);
	assert_string_equal(err, want);
}

static void test_default(void **state)
{
	struct cvmbus_vm_setup s;

	(void)state;
	assert_int_equal(build(NULL, &s, NULL), 0);
	assert_int_equal(s.topology.isolation, HV_ISOLATION_TYPE_SNP);
	assert_true(s.topology.paravisor);
	assert_true(s.topology.confidential_vmbus);
	assert_int_equal(s.topology.max_version, CVMBUS_VERSION_6_0);
	assert_int_equal(s.topology.arch, CVMBUS_ARCH_X86_64);
	assert_int_equal(s.topology.detect, CVMBUS_DETECT_CPUID);
	assert_int_equal(s.topology.vcpus, 2);
	assert_false(s.topology.deterministic);
	assert_int_equal(s.device_count, 2);
	assert_int_equal(s.devices[0].type, CVMBUS_VM_DEVICE_DISK);
	assert_int_equal(s.devices[0].owner, CVMBUS_VM_OWNER_PARAVISOR);
	assert_string_equal(s.devices[0].disk.image, "");
	assert_int_equal(s.devices[0].disk.size, 16u << 20);
	assert_false(s.devices[0].disk.read_only);
	assert_int_equal(s.devices[1].type, CVMBUS_VM_DEVICE_NIC);
	assert_int_equal(s.devices[1].owner, CVMBUS_VM_OWNER_HOST);
	assert_int_equal(s.devices[1].nic.backend, CVMBUS_VM_NIC_LOOPBACK);
	assert_memory_equal(s.devices[1].nic.mac, ((uint8_t[6]){ 0x00, 0x15, 0x5d, 0xc0, 0, 1 }),
			    6);
	assert_int_equal(s.devices[1].nic.mtu, 1500);
	assert_int_equal(s.workload.packets, 8);
	assert_int_equal(s.workload.bytes, 64);
	assert_int_equal(s.workload.disk_bytes, 1u << 20);
	assert_string_equal(s.outputs.report, "");
	assert_string_equal(s.outputs.json, "");

	/* The convenience entry point agrees. */
	{
		struct cvmbus_vm_setup d;

		cvmbus_vm_setup_default(&d);
		assert_memory_equal(&d, &s, sizeof(s));
	}
}

static void test_file_merges(void **state)
{
	struct cvmbus_vm_setup s;

	(void)state;
	assert_int_equal(build("{\"topology\": {\"isolation\": \"tdx\", \"vcpus\": 4, \"seed\": 7},"
			       " \"workload\": {\"packets\": 100}}",
			       &s, NULL),
			 0);
	assert_int_equal(s.topology.isolation, HV_ISOLATION_TYPE_TDX);
	assert_int_equal(s.topology.vcpus, 4);
	assert_true(s.topology.deterministic);
	assert_int_equal(s.topology.seed, 7);
	/* What the file does not say stays the default. */
	assert_true(s.topology.paravisor);
	assert_int_equal(s.workload.packets, 100);
	assert_int_equal(s.workload.bytes, 64);
	assert_int_equal(s.device_count, 2);

	/* A devices list replaces the default one; an omitted owner: a disk
	 * is the paravisor's when there is one. */
	assert_int_equal(build("{\"devices\": [{\"type\": \"disk\", \"image\": \"/tmp/x.img\", "
			       "\"size\": 1073741824, \"read_only\": true}]}",
			       &s, NULL),
			 0);
	assert_int_equal(s.device_count, 1);
	assert_int_equal(s.devices[0].owner, CVMBUS_VM_OWNER_PARAVISOR);
	assert_string_equal(s.devices[0].disk.image, "/tmp/x.img");
	assert_int_equal(s.devices[0].disk.size, 1ull << 30);
	assert_true(s.devices[0].disk.read_only);

	assert_int_equal(build("{\"devices\": [{\"type\": \"nic\", \"backend\": \"tap\", "
			       "\"namespaces\": {\"guest\": \"cvm-g\", \"host\": \"/run/netns/h\"},"
			       " \"mac\": \"02:00:00:AA:bb:01\", \"mtu\": 9000}]}",
			       &s, NULL),
			 0);
	assert_int_equal(s.devices[0].nic.backend, CVMBUS_VM_NIC_TAP);
	assert_string_equal(s.devices[0].nic.netns_guest, "cvm-g");
	assert_string_equal(s.devices[0].nic.netns_host, "/run/netns/h");
	assert_memory_equal(s.devices[0].nic.mac, ((uint8_t[6]){ 2, 0, 0, 0xaa, 0xbb, 1 }), 6);
	assert_int_equal(s.devices[0].nic.mtu, 9000);

	assert_int_equal(build("{\"devices\": []}", &s, NULL), 0);
	assert_int_equal(s.device_count, 0);
}

static void test_bad_values(void **state)
{
	(void)state;
	refused("{\"topology\": {\"vcpus\": 99}}", "topology.vcpus: 99 is not a number from 1 to 64");
	refused("{\"topology\": {\"vcpus\": \"two\"}}",
		"topology.vcpus: 'two' is not a number from 1 to 64");
	refused("{\"topology\": {\"isolation\": \"sev\"}}",
		"topology.isolation: 'sev' is not one of none, vbs, snp, tdx");
	refused("{\"topology\": {\"paravisor\": \"yes\"}}",
		"topology.paravisor: 'yes' is not true or false");
	refused("{\"topology\": {\"max_version\": 6}}",
		"topology.max_version: 6 is not a VMBus version from 2.4 to 6.0 (a string such as "
		"\"6.0\")");
	refused("{\"topology\": {\"seed\": -1}}",
		"topology.seed: -1 is not null (native executor) or a number from 0 to 2^63-1");
	refused("{\"topology\": {\"paravisor\": false}}",
		"topology.confidential_vmbus: true needs topology.paravisor true (Confidential "
		"VMBus is offered by the paravisor)");
	refused("{\"devices\": [{\"type\": \"disk\", \"size\": \"1M\"}, {\"type\": \"nic\", "
		"\"owner\": \"guest\"}]}",
		"devices[1].owner: 'guest' is not host or paravisor");
	refused("{\"devices\": [{\"owner\": \"host\"}]}", "devices[0].type: missing (disk or nic)");
	refused("{\"devices\": [{\"type\": \"cdrom\"}]}",
		"devices[0].type: 'cdrom' is not disk or nic");
	refused("{\"devices\": [{\"type\": \"disk\", \"size\": \"3K\"}]}",
		"devices[0].size: '3K' is not a size from 1M to 1T in 512-byte units (or null)");
	refused("{\"devices\": [{\"type\": \"disk\", \"size\": null}]}",
		"devices[0].size: a temporary image (image \"\") needs a size");
	refused("{\"devices\": [{\"type\": \"nic\", \"mac\": \"01:00:5e:00:00:01\"}]}",
		"devices[0].mac: '01:00:5e:00:00:01' is not a unicast MAC address "
		"(xx:xx:xx:xx:xx:xx)");
	refused("{\"devices\": [{\"type\": \"nic\", \"mtu\": 20}]}",
		"devices[0].mtu: 20 is not a number from 68 to 9000");
	refused("{\"devices\": [{\"type\": \"nic\", \"namespaces\": {\"guest\": \"a\"}}]}",
		"devices[0].namespaces: only a tap backend has namespaces (backend is 'loopback')");
	refused("{\"devices\": [{\"type\": \"nic\", \"backend\": \"tap\", \"namespaces\": "
		"{\"guest\": \"a b\"}}]}",
		"devices[0].namespaces: a namespace is a name of letters, digits, '-', '_', '.' (as "
		"`ip netns add` takes) or an absolute path");
	refused("{\"devices\": {}}", "devices: {} is not a list");
	refused("{\"devices\": [1,2,3,4,5,6,7]}", "devices: 7 devices, at most 6");
	refused("{\"workload\": {\"packets\": 0}}",
		"workload.packets: 0 is not a number from 1 to 100000");
	refused("{\"workload\": {\"bytes\": 2048}}", "workload.bytes: 2048 is not a number from 1 "
		"to 1024");
	refused("{\"workload\": {\"disk_bytes\": \"32M\"}}",
		"workload.disk_bytes: 32M is more than devices[0].size (16M)");
	refused("{\"outputs\": {\"report\": 5}}", "outputs.report: 5 is not a string or null");
	refused("{\"outputs\": {\"report\": \"-\"}}",
		"outputs.report: the HTML report needs a file, not '-'");
	refused("{\"topology\": 3}", "topology: 3 is not an object");
}

static void test_unknown_keys(void **state)
{
	(void)state;
	refused("{\"topolgy\": {}}",
		"topolgy: unknown key (known: topology, devices, workload, outputs)");
	refused("{\"topology\": {\"vcpu\": 2}}",
		"topology.vcpu: unknown key (known: isolation, paravisor, confidential_vmbus, "
		"max_version, arch, detect, vcpus, seed, attest, expect, processes)");
	refused("{\"devices\": [{\"type\": \"disk\", \"size\": \"1M\", \"backend\": \"tap\"}]}",
		"devices[0].backend: unknown key (known: type, owner, image, size, read_only)");
	refused("{\"workload\": {\"packet\": 1}}",
		"workload.packet: unknown key (known: packets, bytes, disk_bytes)");
}

static void test_malformed(void **state)
{
	struct cvmbus_vm_setup_builder *b;
	char path[] = "/tmp/cvmbus-test-config-XXXXXX";
	int fd;

	(void)state;
	assert_int_equal(cvmbus_vm_setup_builder_new(&b), 0);
	assert_int_equal(cvmbus_vm_setup_builder_load_text(b, "{\"topology\": {", 14, "x.json", err,
							   sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "x.json:1:"));
	assert_non_null(strstr(err, "invalid JSON"));
	assert_int_equal(cvmbus_vm_setup_builder_load_text(b, "[1]", 3, "x.json", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "x.json: the configuration is not a JSON object ({...})");
	assert_int_equal(cvmbus_vm_setup_builder_load_text(b, "{\"a\":1,\"a\":2}", 13, "x.json", err,
							   sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "duplicate"));

	/* Files: missing, then malformed on line 3. */
	assert_int_equal(cvmbus_vm_setup_builder_load(b, "/nonexistent/cvmbus.json", err,
						      sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "/nonexistent/cvmbus.json: No such file or directory");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\n  \"topology\": {\n    \"vcpus\": 2,,\n", 35), 35);
	close(fd);
	assert_int_equal(cvmbus_vm_setup_builder_load(b, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":3:"));
	unlink(path);
	cvmbus_vm_setup_builder_free(b);
}

static void test_options(void **state)
{
	struct cvmbus_vm_setup s;

	(void)state;
	assert_int_equal(build(NULL, &s, "isolation", "tdx", "vcpus", "4", "seed", "9", "packets",
			       "1000", "bytes", "512", "report", "r.html", "json", "-", "disk-size",
			       "64M", "disk-owner", "host", "nic-backend", "tap", "set",
			       "devices[1].namespaces={\"guest\":\"g\",\"host\":\"h\"}", "set",
			       "topology.detect=probe", NULL),
			 0);
	assert_int_equal(s.topology.isolation, HV_ISOLATION_TYPE_TDX);
	assert_int_equal(s.topology.vcpus, 4);
	assert_true(s.topology.deterministic);
	assert_int_equal(s.topology.seed, 9);
	assert_int_equal(s.topology.detect, CVMBUS_DETECT_PROBE);
	assert_int_equal(s.workload.packets, 1000);
	assert_int_equal(s.workload.bytes, 512);
	assert_string_equal(s.outputs.report, "r.html");
	assert_string_equal(s.outputs.json, "-");
	assert_int_equal(s.devices[0].disk.size, 64u << 20);
	assert_int_equal(s.devices[0].owner, CVMBUS_VM_OWNER_HOST);
	assert_int_equal(s.devices[1].nic.backend, CVMBUS_VM_NIC_TAP);
	assert_string_equal(s.devices[1].nic.netns_guest, "g");
	assert_string_equal(s.devices[1].nic.netns_host, "h");

	/* --native after --seed wins; --set appends a device. */
	assert_int_equal(build(NULL, &s, "seed", "3", "native", NULL, "set",
			       "devices[2]={\"type\":\"disk\",\"size\":\"2M\",\"owner\":\"host\"}",
			       NULL),
			 0);
	assert_false(s.topology.deterministic);
	assert_int_equal(s.device_count, 3);
	assert_int_equal(s.devices[2].disk.size, 2u << 20);

	/* Option errors name the option, in the shared parser's words. */
	assert_int_equal(build(NULL, &s, "vcpus", "99", NULL), -EINVAL);
	assert_string_equal(err, "--vcpus: '99' is not a number from 1 to 64");
	assert_int_equal(build(NULL, &s, "packets", "0", NULL), -EINVAL);
	assert_string_equal(err, "--packets: '0' is not a number from 1 to 100000");
	assert_int_equal(build(NULL, &s, "disk-owner", "guest", NULL), -EINVAL);
	assert_string_equal(err, "--disk-owner: 'guest' is not host or paravisor");
	assert_int_equal(build(NULL, &s, "no-devices", NULL, "nic-owner", "host", NULL), -EINVAL);
	assert_string_equal(err, "--nic-owner: the configuration has no nic (add one with --set "
				 "'devices[N]={\"type\":\"nic\"}')");
	assert_int_equal(build(NULL, &s, "set", "topology.vcpus", NULL), -EINVAL);
	assert_string_equal(err, "--set: 'topology.vcpus' is not PATH=VALUE (e.g. "
				 "topology.vcpus=4)");
	assert_int_equal(build(NULL, &s, "set", "devices[5].owner=host", NULL), -EINVAL);
	assert_string_equal(err, "--set devices[5].owner: devices has 2 entries (set [0] to [2], "
				 "the last one appends)");
	assert_int_equal(build(NULL, &s, "set", "topology..x=1", NULL), -EINVAL);
	/* A --set value is checked like a file's, by field. */
	assert_int_equal(build(NULL, &s, "set", "topology.vcpus=99", NULL), -EINVAL);
	assert_string_equal(err, "topology.vcpus: 99 is not a number from 1 to 64");
	assert_int_equal(build(NULL, &s, "set", "devices[1].owner=guest", NULL), -EINVAL);
	assert_string_equal(err, "devices[1].owner: 'guest' is not host or paravisor");
	assert_int_equal(cvmbus_vm_setup_option_has_arg("report"), 1);
	assert_int_equal(cvmbus_vm_setup_option_has_arg("no-devices"), 0);
	assert_int_equal(cvmbus_vm_setup_option_has_arg("isolation"), 1);
	assert_int_equal(cvmbus_vm_setup_option_has_arg("bogus"), -1);
}

static void test_devices_follow_topology(void **state)
{
	struct cvmbus_vm_setup s;

	(void)state;
	/* Default devices: the paravisor's disk moves to the host. */
	assert_int_equal(build(NULL, &s, "no-paravisor", NULL, "no-confidential-vmbus", NULL,
			       "isolation", "none", NULL),
			 0);
	assert_int_equal(s.device_count, 2);
	assert_int_equal(s.devices[0].owner, CVMBUS_VM_OWNER_HOST);
	/* ... unless its owner was set by hand. */
	assert_int_equal(build(NULL, &s, "no-paravisor", NULL, "no-confidential-vmbus", NULL,
			       "disk-owner", "paravisor", NULL),
			 -EINVAL);
	assert_string_equal(err, "devices[0].owner: 'paravisor' needs a paravisor "
				 "(topology.paravisor is false)");
	/* A file's devices are a user's word too. */
	assert_int_equal(build("{\"topology\": {\"paravisor\": false, \"confidential_vmbus\": "
			       "false}, \"devices\": [{\"type\": \"disk\", \"size\": \"1M\", "
			       "\"owner\": \"paravisor\"}]}",
			       &s, NULL),
			 -EINVAL);
	assert_string_equal(err, "devices[0].owner: 'paravisor' needs a paravisor "
				 "(topology.paravisor is false)");
	/* An omitted owner follows the topology. */
	assert_int_equal(build("{\"topology\": {\"paravisor\": false, \"confidential_vmbus\": "
			       "false}, \"devices\": [{\"type\": \"disk\", \"size\": \"1M\"}]}",
			       &s, NULL),
			 0);
	assert_int_equal(s.devices[0].owner, CVMBUS_VM_OWNER_HOST);
}

static void test_round_trip(void **state)
{
	struct cvmbus_vm_setup a, b;
	char *text, *again;

	(void)state;
	assert_int_equal(build(NULL, &a, "isolation", "vbs", "seed", "123", "nic-backend", "tap",
			       "set", "devices[1].namespaces={\"guest\":\"g\"}", "set",
			       "devices[0].image=/tmp/d.img", "disk-size", "1536K", NULL),
			 0);
	text = cvmbus_vm_setup_to_json(&a);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"size\": \"1536K\""));
	assert_non_null(strstr(text, "\"seed\": 123"));
	assert_int_equal(build(text, &b, NULL), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	again = cvmbus_vm_setup_to_json(&b);
	assert_string_equal(text, again);
	free(text);
	free(again);

	/* The embedded default prints back as itself, field for field. */
	cvmbus_vm_setup_default(&a);
	text = cvmbus_vm_setup_to_json(&a);
	assert_string_equal(text, cvmbus_vm_setup_default_json);
	free(text);
}

static void test_sizes(void **state)
{
	uint64_t n;
	char buf[32];

	(void)state;
	assert_int_equal(cvmbus_vm_size_parse("16M", &n), 0);
	assert_int_equal(n, 16u << 20);
	assert_int_equal(cvmbus_vm_size_parse("16MiB", &n), 0);
	assert_int_equal(n, 16u << 20);
	assert_int_equal(cvmbus_vm_size_parse("2g", &n), 0);
	assert_int_equal(n, 2ull << 30);
	assert_int_equal(cvmbus_vm_size_parse("0x1000", &n), 0);
	assert_int_equal(n, 4096);
	assert_int_equal(cvmbus_vm_size_parse("4096", &n), 0);
	assert_int_equal(cvmbus_vm_size_parse("", &n), -EINVAL);
	assert_int_equal(cvmbus_vm_size_parse("-1", &n), -EINVAL);
	assert_int_equal(cvmbus_vm_size_parse("1X", &n), -EINVAL);
	assert_int_equal(cvmbus_vm_size_parse("99999999999T", &n), -EINVAL);
	cvmbus_vm_size_format(1536u << 10, buf, sizeof(buf));
	assert_string_equal(buf, "1536K");
	cvmbus_vm_size_format(1ull << 40, buf, sizeof(buf));
	assert_string_equal(buf, "1T");
	cvmbus_vm_size_format(1000, buf, sizeof(buf));
	assert_string_equal(buf, "1000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default),
		cmocka_unit_test(test_file_merges),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_devices_follow_topology),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
