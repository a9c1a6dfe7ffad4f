/* SPDX-License-Identifier: MIT */
/*
 * Tests of `cvmbus attest` (tools/cvmbus/attest.c) that run the built
 * binary the way a user would: the measurement printed by `measure` equals
 * the one inside a report from `report` and the one the library computes
 * from the same image built in C (so the JSON schema maps to the image
 * field by field); `verify` exits 0 on a good report and 3, with the
 * precise reason on stderr, on a tampered, truncated, oversized, stale or
 * foreign one; bad usage, configurations and keys exit 2 with a message;
 * every subcommand answers --help.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attest_test.h"

#define OUTCAP 8192

struct cli {
	char dir[64];
	char out[OUTCAP]; /* stdout of the last run */
	char err[OUTCAP]; /* stderr of the last run */
	char measure[97];
};

static void path_in(const struct cli *c, const char *name, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s", c->dir, name);
}

static void slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = 0;

	buf[0] = '\0';
	if (fd < 0)
		return;
	n = read(fd, buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Runs the tool with the NULL-terminated args; returns its exit code. */
static int run(struct cli *c, const char *arg, ...)
{
	const char *argv[32];
	char outp[128], errp[128];
	va_list ap;
	int n = 0, status = 0;
	pid_t pid;

	argv[n++] = CVMBUS_TOOL_PATH;
	va_start(ap, arg);
	for (const char *a = arg; a; a = va_arg(ap, const char *)) {
		assert_true(n < 31);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	path_in(c, "stdout.txt", outp, sizeof(outp));
	path_in(c, "stderr.txt", errp, sizeof(errp));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status)); /* never a crash */
	slurp(outp, c->out, sizeof(c->out));
	slurp(errp, c->err, sizeof(c->err));
	return WEXITSTATUS(status);
}

/* The reference image of attest_test.h, as a configuration file. The VSPs
 * are listed in the order given (`reversed` swaps them). */
static void write_config(const struct cli *c, const char *name, bool reversed,
			 const char *extra)
{
	static const char *const vsp_net =
		"{ \"name\": \"net\", \"interface_id\": \"a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90\","
		" \"flags\": [\"confidential_ring_buffer\"] }";
	static const char *const vsp_scsi =
		"{ \"name\": \"scsi\", \"interface_id\": \"11223344-5566-7788-99AA-BBCCDDEEFF00\","
		" \"flags\": 6 }";
	char path[128], text[2048];

	snprintf(text, sizeof(text),
		 "{\n"
		 "  \"format\": 1,\n"
		 "  \"name\": \"pv\",\n"
		 "  \"version\": \"1.0\",\n"
		 "  \"build_digest\": "
		 "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\",\n"
		 "  \"offers_confidential_vmbus\": true,\n"
		 "  \"allows_fallback\": false,\n"
		 "  \"min_vmbus_version\": \"5.0\",\n"
		 "  \"policy\": \"0x0102030405060708\",\n"
		 "%s"
		 "  \"vsps\": [ %s, %s ]\n"
		 "}\n",
		 extra ? extra : "", reversed ? vsp_scsi : vsp_net, reversed ? vsp_net : vsp_scsi);
	path_in(c, name, path, sizeof(path));
	att_write_file(path, text, strlen(text));
}

static int setup(void **state)
{
	struct cli *c = calloc(1, sizeof(*c));
	char cfg[128];

	if (!c)
		return -1;
	strcpy(c->dir, "/tmp/cvmbus-attest-cli-XXXXXX");
	if (!mkdtemp(c->dir))
		return -1;
	write_config(c, "pv.json", false, NULL);
	path_in(c, "pv.json", cfg, sizeof(cfg));
	if (run(c, "attest", "measure", cfg, NULL) != 0 || strlen(c->out) != 97)
		return -1;
	memcpy(c->measure, c->out, 96);
	c->measure[96] = '\0';
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct cli *c = *state;
	DIR *d = opendir(c->dir);
	struct dirent *e;
	char p[400];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", c->dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(c->dir);
	free(c);
	return 0;
}

static void hex48(const uint8_t *p, char out[97])
{
	for (int i = 0; i < 48; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* measure == library(image built in C) == measurement in the report, and
 * VSP order in the file does not matter. */
static void test_measure_and_report_agree(void **state)
{
	struct cli *c = *state;
	struct cvmbus_paravisor_image img;
	uint8_t m[48];
	char lib[97], cfg[128], rev[128], rep[128], pub[128], fromrep[97];
	size_t len;
	uint8_t *bytes;

	/* The config says what att_reference_image() builds, except the net
	 * VSP's flags are spelt as a name list (0x0002). */
	att_reference_image(&img);
	assert_int_equal(cvmbus_paravisor_image_measure(&img, m), 0);
	hex48(m, lib);
	assert_string_equal(c->measure, lib);

	write_config(c, "rev.json", true, NULL);
	path_in(c, "rev.json", rev, sizeof(rev));
	assert_int_equal(run(c, "attest", "measure", rev, NULL), 0);
	assert_memory_equal(c->out, c->measure, 96);

	path_in(c, "pv.json", cfg, sizeof(cfg));
	path_in(c, "rep.bin", rep, sizeof(rep));
	path_in(c, "pub.pem", pub, sizeof(pub));
	assert_int_equal(run(c, "attest", "report", "--config", cfg, "--nonce", "c0ffee",
			     "--key-out", pub, "--out", rep, NULL), 0);
	assert_non_null(strstr(c->out, c->measure));
	bytes = (uint8_t *)att_read_file(rep, &len);
	assert_int_equal(len, CVMBUS_ATTEST_REPORT_SIZE);
	hex48(bytes + 0x18, fromrep);
	assert_string_equal(fromrep, c->measure);
	/* The nonce, zero-padded to 64 bytes, is the report data. */
	assert_int_equal(bytes[0x48], 0xc0);
	assert_int_equal(bytes[0x49], 0xff);
	assert_int_equal(bytes[0x4a], 0xee);
	for (int i = 0x4b; i < 0x88; i++)
		assert_int_equal(bytes[i], 0);
	free(bytes);
}

static void make_report(struct cli *c, const char *nonce, const char *rep_name,
			const char *pub_name, char *rep, char *pub)
{
	char cfg[128];

	path_in(c, "pv.json", cfg, sizeof(cfg));
	path_in(c, rep_name, rep, 128);
	path_in(c, pub_name, pub, 128);
	assert_int_equal(run(c, "attest", "report", "--config", cfg, "--nonce", nonce,
			     "--key-out", pub, "--out", rep, NULL), 0);
}

static void test_verify_good(void **state)
{
	struct cli *c = *state;
	char rep[128], pub[128];

	make_report(c, "00112233", "good.bin", "good.pem", rep, pub);
	assert_int_equal(run(c, "attest", "verify", rep, "--key", pub, "--expect", c->measure,
			     "--nonce", "00112233", "--isolation", "snp", "--policy", "0/1",
			     NULL), 0);
	assert_true(!strncmp(c->out, "ok: ", 4));
	assert_non_null(strstr(c->out, "nonce matches"));
	/* Several expectations: the second one matches. */
	assert_int_equal(run(c, "attest", "verify", rep, "--key", pub, "--expect",
			     "000000000000000000000000000000000000000000000000"
			     "000000000000000000000000000000000000000000000000",
			     "--expect", c->measure, NULL), 0);
	assert_non_null(strstr(c->out, "expected #1"));
}

/* Each refusal: exit 3 and the reason on stderr. */
static void expect_refused(struct cli *c, const char *rep, const char *pub, const char *nonce,
			   const char *reason)
{
	int rc = nonce ? run(c, "attest", "verify", rep, "--key", pub, "--expect", c->measure,
			     "--nonce", nonce, NULL)
		       : run(c, "attest", "verify", rep, "--key", pub, "--expect", c->measure,
			     NULL);

	if (rc != 3 || !strstr(c->err, reason))
		fail_msg("exit %d, stderr '%s', wanted 3 and '%s'", rc, c->err, reason);
	assert_non_null(strstr(c->err, "refused: "));
}

static void test_verify_refusals(void **state)
{
	struct cli *c = *state;
	char rep[128], pub[128], rep2[128], pub2[128], bad[128];
	size_t len;
	uint8_t *bytes;

	make_report(c, "abcd", "r.bin", "r.pem", rep, pub);
	bytes = (uint8_t *)att_read_file(rep, &len);
	path_in(c, "bad.bin", bad, sizeof(bad));

	bytes[0x30] ^= 0x04; /* inside the measurement */
	att_write_file(bad, bytes, len);
	expect_refused(c, bad, pub, "abcd", "bad signature");
	bytes[0x30] ^= 0x04;

	bytes[0x140] ^= 0x80; /* inside s */
	att_write_file(bad, bytes, len);
	expect_refused(c, bad, pub, "abcd", "bad signature");
	bytes[0x140] ^= 0x80;

	bytes[0] = 7;
	att_write_file(bad, bytes, len);
	expect_refused(c, bad, pub, "abcd", "unsupported report version");
	bytes[0] = 1;

	att_write_file(bad, bytes, len - 1);
	expect_refused(c, bad, pub, "abcd", "report truncated");
	att_write_file(bad, bytes, 0);
	expect_refused(c, bad, pub, "abcd", "report truncated");
	{
		uint8_t longer[CVMBUS_ATTEST_REPORT_SIZE + 1] = { 0 };

		memcpy(longer, bytes, len);
		att_write_file(bad, longer, sizeof(longer));
		expect_refused(c, bad, pub, "abcd", "report oversized");
	}

	expect_refused(c, rep, pub, "abce", "report data does not match the nonce");

	make_report(c, "abcd", "r2.bin", "r2.pem", rep2, pub2);
	expect_refused(c, rep, pub2, "abcd", "signed by a different key");

	free(bytes);
}

/* A different paravisor (one VSP added) is refused by measurement. */
static void test_verify_other_paravisor(void **state)
{
	struct cli *c = *state;
	static const char text[] =
		"{ \"name\": \"pv\", \"version\": \"1.0\", \"build_digest\": "
		"\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\", "
		"\"offers_confidential_vmbus\": true, \"min_vmbus_version\": \"5.0\", "
		"\"policy\": \"0x0102030405060708\", \"vsps\": ["
		"{ \"name\": \"net\", \"interface_id\": \"a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90\", "
		"\"flags\": 2 },"
		"{ \"name\": \"scsi\", \"interface_id\": \"11223344-5566-7788-99aa-bbccddeeff00\", "
		"\"flags\": [\"confidential_ring_buffer\", \"confidential_external_memory\"] },"
		"{ \"name\": \"vsock\", \"interface_id\": \"34567890-1234-5678-9abc-def012345678\" }"
		"] }";
	char cfg[128], rep[128], pub[128];

	path_in(c, "plus.json", cfg, sizeof(cfg));
	att_write_file(cfg, text, strlen(text));
	path_in(c, "plus.bin", rep, sizeof(rep));
	path_in(c, "plus.pem", pub, sizeof(pub));
	assert_int_equal(run(c, "attest", "report", "--config", cfg, "--nonce", "01", "--key-out",
			     pub, "--out", rep, NULL), 0);
	expect_refused(c, rep, pub, "01", "measurement not expected");
	/* Without the third VSP the same file measures as the reference. */
	{
		char two[2048], *cut;

		strcpy(two, text);
		cut = strstr(two, ",{ \"name\": \"vsock\"");
		assert_non_null(cut);
		strcpy(cut, "] }");
		att_write_file(cfg, two, strlen(two));
		assert_int_equal(run(c, "attest", "measure", cfg, NULL), 0);
		assert_memory_equal(c->out, c->measure, 96);
	}
}

static void test_fixed_platform_key(void **state)
{
	struct cli *c = *state;
	char cfg[128], rep[128];

	path_in(c, "pv.json", cfg, sizeof(cfg));
	path_in(c, "fixed.bin", rep, sizeof(rep));
	assert_int_equal(run(c, "attest", "report", "--config", cfg, "--nonce", "ff",
			     "--platform-key", ATTEST_DATA_DIR "/platform-test-key.pem",
			     "--isolation", "tdx", "--policy", "1", "--out", rep, NULL), 0);
	assert_int_equal(run(c, "attest", "verify", rep, "--key",
			     ATTEST_DATA_DIR "/platform-test-key.pub.pem", "--expect", c->measure,
			     "--nonce", "ff", "--isolation", "tdx", NULL), 0);
	/* TDX and debuggable, so these expectations fail. */
	assert_int_equal(run(c, "attest", "verify", rep, "--key",
			     ATTEST_DATA_DIR "/platform-test-key.pub.pem", "--expect", c->measure,
			     "--isolation", "snp", NULL), 3);
	assert_non_null(strstr(c->err, "isolation type mismatch"));
	assert_int_equal(run(c, "attest", "verify", rep, "--key",
			     ATTEST_DATA_DIR "/platform-test-key.pub.pem", "--expect", c->measure,
			     "--policy", "0/1", NULL), 3);
	assert_non_null(strstr(c->err, "policy mismatch"));
	assert_int_equal(run(c, "attest", "show", rep, NULL), 0);
	assert_non_null(strstr(c->out, "tdx (3)"));
	assert_non_null(strstr(c->out, "(debuggable)"));
}

static void expect_usage(struct cli *c, int rc, const char *msg)
{
	if (rc != 2 || !strstr(c->err, msg))
		fail_msg("exit %d, stderr '%s', wanted 2 and '%s'", rc, c->err, msg);
}

static void test_bad_usage(void **state)
{
	struct cli *c = *state;
	char cfg[128], rep[128], pub[128], bad[128], missing[128];
	const char *m = c->measure;

	path_in(c, "pv.json", cfg, sizeof(cfg));
	make_report(c, "01", "u.bin", "u.pem", rep, pub);
	path_in(c, "junk.json", bad, sizeof(bad));
	path_in(c, "nope.json", missing, sizeof(missing));

	expect_usage(c, run(c, "attest", NULL), "usage: cvmbus attest");
	expect_usage(c, run(c, "attest", "frobnicate", NULL), "unknown subcommand");
	expect_usage(c, run(c, "attest", "measure", NULL), "CONFIG missing");
	expect_usage(c, run(c, "attest", "measure", cfg, "--bogus", NULL), "unknown option");
	expect_usage(c, run(c, "attest", "verify", rep, "--key", pub, NULL),
		     "at least one --expect");
	expect_usage(c, run(c, "attest", "verify", rep, "--key", pub, "--expect", "abc", NULL),
		     "96 hex digits");
	expect_usage(c, run(c, "attest", "verify", rep, "--expect", m, NULL), "--key is required");
	expect_usage(c, run(c, "attest", "verify", rep, "--key", pub, "--expect", m, "--nonce",
			    "xyz", NULL), "--nonce");
	expect_usage(c, run(c, "attest", "verify", rep, "--key", pub, "--expect", m, "--policy",
			    "2/1", NULL), "--policy");
	expect_usage(c, run(c, "attest", "verify", rep, "--key", pub, "--expect", NULL),
		     "missing its value");
	expect_usage(c, run(c, "attest", "report", "--config", cfg, NULL), "required");
	expect_usage(c, run(c, "attest", "report", "--config", cfg, "--nonce", "00", "--out", rep,
			    "--isolation", "sev", NULL), "--isolation");

	/* Keys: a config is not a key; a private key is refused as one. */
	expect_usage(c, run(c, "attest", "verify", rep, "--key", cfg, "--expect", m, NULL),
		     "not a pem public key");
	expect_usage(c, run(c, "attest", "verify", rep, "--key",
			    ATTEST_DATA_DIR "/platform-test-key.pem", "--expect", m, NULL),
		     "a private key");
	expect_usage(c, run(c, "attest", "report", "--config", cfg, "--nonce", "00", "--out", rep,
			    "--platform-key", pub, NULL), "not a pem private key");

	/* Configurations: syntax errors with a position, unknown keys, bad
	 * values. */
	att_write_file(bad, "{ \"name\": ", 10);
	expect_usage(c, run(c, "attest", "measure", bad, NULL), "junk.json:1:");
	att_write_file(bad, "[]", 2);
	expect_usage(c, run(c, "attest", "measure", bad, NULL), "json object");
	write_config(c, "junk.json", false, "  \"colour\": \"blue\",\n");
	expect_usage(c, run(c, "attest", "measure", bad, NULL), "unknown key 'colour'");
	write_config(c, "junk.json", false, "  \"allows_fallback\": 1,\n");
	expect_usage(c, run(c, "attest", "measure", bad, NULL), "duplicate");
	{
		static const char no_digest[] =
			"{ \"name\": \"pv\", \"version\": \"1\", \"build_digest\": \"00\", "
			"\"offers_confidential_vmbus\": true, \"vsps\": [] }";
		static const char bad_guid[] =
			"{ \"name\": \"pv\", \"version\": \"1\", \"build_digest\": "
			"\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\", "
			"\"offers_confidential_vmbus\": true, \"vsps\": [ { \"name\": \"x\", "
			"\"interface_id\": \"not-a-guid\" } ] }";
		static const char bad_flag[] =
			"{ \"name\": \"pv\", \"version\": \"1\", \"build_digest\": "
			"\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\", "
			"\"offers_confidential_vmbus\": true, \"vsps\": [ { \"name\": \"x\", "
			"\"interface_id\": \"11223344-5566-7788-99aa-bbccddeeff00\", "
			"\"flags\": [\"shiny\"] } ] }";
		static const char dup_vsp[] =
			"{ \"name\": \"pv\", \"version\": \"1\", \"build_digest\": "
			"\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\", "
			"\"offers_confidential_vmbus\": false, \"vsps\": ["
			"{ \"name\": \"x\", \"interface_id\": \"11223344-5566-7788-99aa-bbccddeeff00\" },"
			"{ \"name\": \"x\", \"interface_id\": \"11223344-5566-7788-99aa-bbccddeeff00\" }"
			"] }";
		static const char no_offer[] =
			"{ \"name\": \"pv\", \"version\": \"1\", \"build_digest\": "
			"\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\", "
			"\"vsps\": [] }";

		att_write_file(bad, no_digest, strlen(no_digest));
		expect_usage(c, run(c, "attest", "measure", bad, NULL), "build_digest");
		att_write_file(bad, bad_guid, strlen(bad_guid));
		expect_usage(c, run(c, "attest", "measure", bad, NULL), "vsps[0]: interface_id");
		att_write_file(bad, bad_flag, strlen(bad_flag));
		expect_usage(c, run(c, "attest", "measure", bad, NULL), "vsps[0]: flags");
		att_write_file(bad, dup_vsp, strlen(dup_vsp));
		expect_usage(c, run(c, "attest", "measure", bad, NULL), "same interface id");
		att_write_file(bad, no_offer, strlen(no_offer));
		expect_usage(c, run(c, "attest", "measure", bad, NULL), "offers_confidential_vmbus");
	}
	/* A file that is not there is an I/O failure (exit 1). */
	assert_int_equal(run(c, "attest", "measure", missing, NULL), 1);
	assert_int_equal(run(c, "attest", "verify", missing, "--key", pub, "--expect", m, NULL), 1);
}

static void test_help(void **state)
{
	struct cli *c = *state;
	static const char *const subs[] = { "measure", "report", "verify", "show" };
	char want[64];

	assert_int_equal(run(c, "attest", "--help", NULL), 0);
	assert_non_null(strstr(c->out, "usage: cvmbus attest measure"));
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		assert_int_equal(run(c, "attest", subs[i], "--help", NULL), 0);
		snprintf(want, sizeof(want), "usage: cvmbus attest %s", subs[i]);
		assert_non_null(strstr(c->out, want));
		assert_non_null(strstr(c->out, "Exit status"));
	}
	assert_int_equal(run(c, "--help", NULL), 0);
	assert_non_null(strstr(c->out, "attest"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_measure_and_report_agree),
		cmocka_unit_test(test_verify_good),
		cmocka_unit_test(test_verify_refusals),
		cmocka_unit_test(test_verify_other_paravisor),
		cmocka_unit_test(test_fixed_platform_key),
		cmocka_unit_test(test_bad_usage),
		cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
