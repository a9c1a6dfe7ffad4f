/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus attest`: measure a paravisor configuration offline, launch a
 * simulated platform and get a signed report from it, and verify a report
 * as a relying party would (tool layer, on top of include/cvmbus/attest.h).
 * The configuration is a small JSON file (schema in docs/ATTESTATION.md),
 * read with jansson; this is the only place that knows JSON, so the library
 * stays free of it. Every input file is hostile: sizes are capped before
 * reading, the report goes to the library's parser as raw bytes, and every
 * refusal is printed with its precise reason.
 *
 * Exit codes (commands.h): 0 ok; 1 a file cannot be read or written, or the
 * platform failed; 2 bad command line, configuration or key; 3 the report
 * was refused (reason on stderr) or is malformed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cvmbus/attest.h>
#include <cvmbus/wire.h>

#include "cli.h"
#include "commands.h"

/* Caps on what is read: far above any real file, low enough that a
 * hostile path (a device, a huge file) cannot make us allocate much. */
#define ATTEST_MAX_REPORT_FILE (1u << 20)
#define ATTEST_MAX_KEY_FILE    (64u * 1024u)
#define ATTEST_MAX_CONFIG_FILE (1u << 20)
#define ATTEST_MAX_EXPECT      64

/* ---- helpers ---------------------------------------------------------- */

static int usage_error(const char *who, const char *what)
{
	fprintf(stderr, "%s: %s\n(see '%s --help')\n", who, what, who);
	return CVMBUS_EXIT_USAGE;
}

/* Reads at most `max` bytes; *too_big when the file has more. 0 or errno. */
static int read_file(const char *path, size_t max, uint8_t **out, size_t *len, bool *too_big)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;
	int err;

	*out = NULL;
	*len = 0;
	*too_big = false;
	if (!f)
		return errno;
	buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		return ENOMEM;
	}
	n = fread(buf, 1, max + 1, f);
	err = ferror(f) ? EIO : 0;
	fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	if (n > max) {
		*too_big = true;
		n = max;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int err = 0;

	if (!f)
		return errno;
	if (fwrite(data, 1, len, f) != len)
		err = EIO;
	if (fclose(f) && !err)
		err = errno;
	return err;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex text of 1..max bytes (an even number of digits) into out; the rest
 * of out, up to `size`, is zero. Returns the byte count or -1. */
static int parse_hex(const char *s, uint8_t *out, size_t max, size_t size)
{
	size_t n = strlen(s);

	if (n == 0 || n % 2 || n / 2 > max)
		return -1;
	memset(out, 0, size);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

static void print_hex(FILE *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", p[i]);
}

static const char *const iso_names[] = { "none", "vbs", "snp", "tdx" };

static bool parse_isolation(const char *s, enum hv_isolation_type *out)
{
	for (size_t i = 0; i < sizeof(iso_names) / sizeof(iso_names[0]); i++) {
		if (!strcmp(s, iso_names[i])) {
			*out = (enum hv_isolation_type)i;
			return true;
		}
	}
	return false;
}

static const char *isolation_name(uint32_t iso)
{
	return iso < sizeof(iso_names) / sizeof(iso_names[0]) ? iso_names[iso] : "unknown";
}

/* Decimal or 0x-hex u64, nothing else. */
static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

/* ---- the configuration file ----------------------------------------- */

static const struct {
	const char *name;
	uint16_t flag;
} offer_flag_names[] = {
	{ "enumerate_device_interface", CVMBUS_OFFER_ENUMERATE_DEVICE_INTERFACE },
	{ "confidential_ring_buffer", CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER },
	{ "confidential_external_memory", CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY },
	{ "require_pinned_external_memory", CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY },
	{ "named_pipe_mode", CVMBUS_OFFER_NAMED_PIPE_MODE },
	{ "loopback", CVMBUS_OFFER_LOOPBACK },
	{ "parent_offer", CVMBUS_OFFER_PARENT_OFFER },
	{ "request_monitored_notification", CVMBUS_OFFER_REQUEST_MONITORED_NOTIFICATION },
	{ "tlnpi_provider", CVMBUS_OFFER_TLNPI_PROVIDER },
};

/* Keys must be among `allowed`: a misspelt key would otherwise silently
 * fall back to a default and change what is measured. */
static bool only_keys(json_t *obj, const char *const *allowed, const char **bad)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		bool ok = false;

		(void)v;
		for (size_t i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				ok = true;
		if (!ok) {
			*bad = key;
			return false;
		}
	}
	return true;
}

static bool copy_text(json_t *v, char *dst, size_t cap)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n >= cap || strlen(s) != n) /* no embedded NUL */
		return false;
	memcpy(dst, s, n + 1);
	return true;
}

static bool parse_flags(json_t *v, uint16_t *out)
{
	size_t i;
	json_t *e;

	*out = 0;
	if (!v)
		return true;
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (n < 0 || n > 0xFFFF)
			return false;
		*out = (uint16_t)n;
		return true;
	}
	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, e) {
		size_t k, nk = sizeof(offer_flag_names) / sizeof(offer_flag_names[0]);

		if (!json_is_string(e))
			return false;
		for (k = 0; k < nk; k++)
			if (!strcmp(json_string_value(e), offer_flag_names[k].name))
				break;
		if (k == nk)
			return false;
		*out |= offer_flag_names[k].flag;
	}
	return true;
}

/* "M.m" (as 5.0, 6.0) or an integer in CVMBUS_MAKE_VERSION form. */
static bool parse_vmbus_version(json_t *v, uint32_t *out)
{
	unsigned int major, minor;
	char tail;

	*out = 0;
	if (!v)
		return true;
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (n < 0 || n > (json_int_t)UINT32_MAX)
			return false;
		*out = (uint32_t)n;
		return true;
	}
	if (!json_is_string(v) ||
	    sscanf(json_string_value(v), "%u.%u%c", &major, &minor, &tail) != 2 ||
	    major > 0xFFFF || minor > 0xFFFF)
		return false;
	*out = CVMBUS_MAKE_VERSION(major, minor);
	return true;
}

static bool parse_policy_word(json_t *v, uint64_t *out)
{
	*out = 0;
	if (!v)
		return true;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return false;
		*out = (uint64_t)json_integer_value(v);
		return true;
	}
	return json_is_string(v) && parse_u64(json_string_value(v), out);
}

static bool parse_bool(json_t *v, bool dflt, bool *out)
{
	if (!v) {
		*out = dflt;
		return true;
	}
	if (!json_is_boolean(v))
		return false;
	*out = json_is_true(v);
	return true;
}

/* Fills img from the file at path; on failure err says what and where. */
int tool_paravisor_image_load(const char *path, struct cvmbus_paravisor_image *img, char *err,
		       size_t errlen)
{
	static const char *const top_keys[] = {
		"format", "name", "version", "build_digest", "offers_confidential_vmbus",
		"allows_fallback", "min_vmbus_version", "policy", "vsps", NULL
	};
	static const char *const vsp_keys[] = { "name", "interface_id", "flags", NULL };
	json_error_t jerr;
	json_t *root, *v, *vsps, *e;
	const char *bad = NULL;
	uint8_t *text = NULL;
	size_t i, len = 0;
	bool too_big;
	int rerr, rc = CVMBUS_EXIT_USAGE;

	memset(img, 0, sizeof(*img));
	/* Read with a cap first: jansson would load a file of any size. */
	rerr = read_file(path, ATTEST_MAX_CONFIG_FILE, &text, &len, &too_big);
	if (rerr) {
		/* A file that cannot be read is an I/O failure, not a bad config. */
		snprintf(err, errlen, "%s: %s", path, strerror(rerr));
		return CVMBUS_EXIT_FAILURE;
	}
	if (too_big) {
		snprintf(err, errlen, "%s: configuration larger than 1 MiB", path);
		free(text);
		return CVMBUS_EXIT_USAGE;
	}
	root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		return CVMBUS_EXIT_USAGE;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: the configuration must be a json object", path);
		goto out;
	}
	if (!only_keys(root, top_keys, &bad)) {
		snprintf(err, errlen, "%s: unknown key '%s'", path, bad);
		goto out;
	}
	v = json_object_get(root, "format");
	if (v && (!json_is_integer(v) || json_integer_value(v) != 1)) {
		snprintf(err, errlen, "%s: format must be 1", path);
		goto out;
	}
	if (!copy_text(json_object_get(root, "name"), img->name, sizeof(img->name))) {
		snprintf(err, errlen, "%s: name must be a string of 1-63 bytes", path);
		goto out;
	}
	if (!copy_text(json_object_get(root, "version"), img->version, sizeof(img->version))) {
		snprintf(err, errlen, "%s: version must be a string of 1-31 bytes", path);
		goto out;
	}
	v = json_object_get(root, "build_digest");
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != 2 * CVMBUS_ATTEST_BUILD_DIGEST_SIZE ||
	    parse_hex(json_string_value(v), img->build_digest, CVMBUS_ATTEST_BUILD_DIGEST_SIZE,
		      CVMBUS_ATTEST_BUILD_DIGEST_SIZE) < 0) {
		snprintf(err, errlen, "%s: build_digest must be 64 hex digits", path);
		goto out;
	}
	v = json_object_get(root, "offers_confidential_vmbus");
	if (!v || !parse_bool(v, false, &img->policy.offers_confidential_vmbus)) {
		snprintf(err, errlen, "%s: offers_confidential_vmbus must be true or false", path);
		goto out;
	}
	if (!parse_bool(json_object_get(root, "allows_fallback"), false,
			&img->policy.allows_fallback)) {
		snprintf(err, errlen, "%s: allows_fallback must be true or false", path);
		goto out;
	}
	if (!parse_vmbus_version(json_object_get(root, "min_vmbus_version"),
				 &img->policy.min_vmbus_version)) {
		snprintf(err, errlen, "%s: min_vmbus_version must be \"major.minor\" or an integer",
			 path);
		goto out;
	}
	if (!parse_policy_word(json_object_get(root, "policy"), &img->policy.word)) {
		snprintf(err, errlen, "%s: policy must be a non-negative integer or a \"0x...\" string",
			 path);
		goto out;
	}
	vsps = json_object_get(root, "vsps");
	if (!json_is_array(vsps)) {
		snprintf(err, errlen, "%s: vsps must be an array", path);
		goto out;
	}
	if (json_array_size(vsps) > CVMBUS_PARAVISOR_MAX_VSPS) {
		snprintf(err, errlen, "%s: at most %u vsps", path, CVMBUS_PARAVISOR_MAX_VSPS);
		goto out;
	}
	json_array_foreach(vsps, i, e) {
		struct cvmbus_paravisor_vsp *vsp = &img->vsps[i];

		if (!json_is_object(e) || !only_keys(e, vsp_keys, &bad)) {
			snprintf(err, errlen, "%s: vsps[%zu]: %s%s%s", path, i,
				 json_is_object(e) ? "unknown key '" : "must be an object",
				 json_is_object(e) ? bad : "", json_is_object(e) ? "'" : "");
			goto out;
		}
		if (!copy_text(json_object_get(e, "name"), vsp->name, sizeof(vsp->name))) {
			snprintf(err, errlen, "%s: vsps[%zu]: name must be a string of 1-31 bytes",
				 path, i);
			goto out;
		}
		v = json_object_get(e, "interface_id");
		if (!json_is_string(v) || cvmbus_guid_parse(json_string_value(v), &vsp->interface_id)) {
			snprintf(err, errlen,
				 "%s: vsps[%zu]: interface_id must be a guid "
				 "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
				 path, i);
			goto out;
		}
		if (!parse_flags(json_object_get(e, "flags"), &vsp->offer_flags)) {
			snprintf(err, errlen,
				 "%s: vsps[%zu]: flags must be an integer 0-65535 or a list of offer "
				 "flag names",
				 path, i);
			goto out;
		}
	}
	img->vsp_count = json_array_size(vsps);
	/* The library's own rules (printable ascii, no duplicates). */
	{
		char why[128];

		if (cvmbus_paravisor_image_check(img, why, sizeof(why))) {
			snprintf(err, errlen, "%s: %s", path, why);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* ---- measure ---------------------------------------------------------- */

static const char measure_usage_text[] =
	"usage: cvmbus attest measure CONFIG [--describe FILE]\n"
	"\n"
	"Print the SHA-384 launch measurement (96 hex digits) of the paravisor\n"
	"described by CONFIG, a JSON file (schema: docs/ATTESTATION.md). This is\n"
	"what a verifier expects; it equals what a platform launched with the same\n"
	"configuration reports.\n"
	"\n"
	"  --describe FILE  also write the canonical description bytes to FILE\n"
	"\n"
	"Exit status: 0 ok; 1 a file cannot be read or written; 2 bad usage or\n"
	"configuration.\n";

static int cmd_attest_measure(int argc, char **argv)
{
	const char *who = "cvmbus attest measure";
	const char *config = NULL, *describe = NULL;
	struct cvmbus_paravisor_image img;
	uint8_t descr[CVMBUS_PARAVISOR_DESCR_MAX], m[CVMBUS_ATTEST_DIGEST_SIZE];
	size_t len = 0;
	char err[512];
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(measure_usage_text, stdout);
			return CVMBUS_EXIT_OK;
		} else if (!strcmp(argv[i], "--describe")) {
			if (++i >= argc)
				return usage_error(who, "--describe needs a FILE");
			describe = argv[i];
		} else if (argv[i][0] == '-') {
			return usage_error(who, "unknown option");
		} else if (config) {
			return usage_error(who, "more than one CONFIG given");
		} else {
			config = argv[i];
		}
	}
	if (!config)
		return usage_error(who, "CONFIG missing");
	rc = tool_paravisor_image_load(config, &img, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s: %s\n", who, err);
		return rc;
	}
	if (cvmbus_paravisor_image_describe(&img, descr, sizeof(descr), &len) ||
	    cvmbus_paravisor_descr_measure(descr, len, m)) {
		fprintf(stderr, "%s: measurement failed\n", who);
		return CVMBUS_EXIT_FAILURE;
	}
	if (describe && (rc = write_file(describe, descr, len))) {
		fprintf(stderr, "%s: %s: %s\n", who, describe, strerror(rc));
		return CVMBUS_EXIT_FAILURE;
	}
	print_hex(stdout, m, sizeof(m));
	putchar('\n');
	return CVMBUS_EXIT_OK;
}

/* ---- report ----------------------------------------------------------- */

static const char report_usage_text[] =
	"usage: cvmbus attest report --config CONFIG --nonce HEX --out REPORT\n"
	"                            [--key-out PUB.pem] [--platform-key KEY.pem]\n"
	"                            [--isolation none|vbs|snp|tdx] [--policy N]\n"
	"\n"
	"Launch a simulated platform with the paravisor described by CONFIG, ask it\n"
	"for an attestation report bound to the nonce, and write the report (352\n"
	"bytes, docs/ATTESTATION.md) to REPORT. For demos and tests: in a real\n"
	"deployment the report comes from the hardware.\n"
	"\n"
	"  --nonce HEX            1-64 bytes in hex, zero-padded to 64 (report data)\n"
	"  --key-out PUB.pem      write the platform's public key (PEM) here\n"
	"  --platform-key KEY.pem sign with this EC P-384 private key instead of a\n"
	"                         fresh one\n"
	"  --isolation NAME       isolation type to report (default snp)\n"
	"  --policy N             launch policy word to report (default 0; bit 0 =\n"
	"                         debuggable)\n"
	"\n"
	"Exit status: 0 ok; 1 a file cannot be read or written, or the platform\n"
	"failed; 2 bad usage, configuration or key.\n";

static int cmd_attest_report(int argc, char **argv)
{
	const char *who = "cvmbus attest report";
	const char *config = NULL, *nonce_hex = NULL, *out = NULL, *key_out = NULL;
	const char *key_in = NULL;
	struct cvmbus_attest_platform_config pcfg = { .isolation = HV_ISOLATION_TYPE_SNP };
	struct cvmbus_attest_platform *p = NULL;
	struct cvmbus_paravisor_image img;
	uint8_t nonce[CVMBUS_ATTEST_REPORT_DATA_SIZE], rep[CVMBUS_ATTEST_REPORT_SIZE];
	uint8_t *key = NULL;
	char pem[1024], err[512];
	size_t len = 0;
	bool too_big;
	int rc, e;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(report_usage_text, stdout);
			return CVMBUS_EXIT_OK;
		}
		if (a[0] != '-')
			return usage_error(who, "unexpected argument (options only)");
		if (i + 1 >= argc)
			return usage_error(who, "an option is missing its value");
		const char *val = argv[++i];
		if (!strcmp(a, "--config"))
			config = val;
		else if (!strcmp(a, "--nonce"))
			nonce_hex = val;
		else if (!strcmp(a, "--out"))
			out = val;
		else if (!strcmp(a, "--key-out"))
			key_out = val;
		else if (!strcmp(a, "--platform-key"))
			key_in = val;
		else if (!strcmp(a, "--isolation")) {
			if (!parse_isolation(val, &pcfg.isolation))
				return usage_error(who, "--isolation must be none, vbs, snp or tdx");
		} else if (!strcmp(a, "--policy")) {
			if (!parse_u64(val, &pcfg.policy))
				return usage_error(who, "--policy must be a decimal or 0x integer");
		} else {
			return usage_error(who, "unknown option");
		}
	}
	if (!config || !nonce_hex || !out)
		return usage_error(who, "--config, --nonce and --out are required");
	if (parse_hex(nonce_hex, nonce, sizeof(nonce), sizeof(nonce)) < 0)
		return usage_error(who, "--nonce must be 2-128 hex digits (1-64 bytes)");
	rc = tool_paravisor_image_load(config, &img, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s: %s\n", who, err);
		return rc;
	}
	if (key_in) {
		e = read_file(key_in, ATTEST_MAX_KEY_FILE, &key, &len, &too_big);
		if (e) {
			fprintf(stderr, "%s: %s: %s\n", who, key_in, strerror(e));
			return CVMBUS_EXIT_FAILURE;
		}
		pcfg.key_pem = (const char *)key;
		/* Too big: hand over one byte more than allowed, so the library
		 * says why instead of us parsing a cut-off key. */
		pcfg.key_pem_len = too_big ? ATTEST_MAX_KEY_FILE + 1 : len;
	}
	e = cvmbus_attest_platform_create(&pcfg, &p, err, sizeof(err));
	free(key);
	if (e) {
		fprintf(stderr, "%s: %s%s%s\n", who, key_in ? key_in : "", key_in ? ": " : "", err);
		return e == -EINVAL ? CVMBUS_EXIT_USAGE : CVMBUS_EXIT_FAILURE;
	}
	rc = CVMBUS_EXIT_FAILURE;
	if (cvmbus_attest_platform_launch(p, &img, err, sizeof(err))) {
		fprintf(stderr, "%s: launch failed: %s\n", who, err);
		goto out;
	}
	if (cvmbus_attest_get_report(p, nonce, rep)) {
		fprintf(stderr, "%s: the platform could not sign a report\n", who);
		goto out;
	}
	if ((e = write_file(out, rep, sizeof(rep)))) {
		fprintf(stderr, "%s: %s: %s\n", who, out, strerror(e));
		goto out;
	}
	if (key_out) {
		if (cvmbus_attest_platform_public_key_pem(p, pem, sizeof(pem), &len)) {
			fprintf(stderr, "%s: cannot export the public key\n", who);
			goto out;
		}
		if ((e = write_file(key_out, pem, len))) {
			fprintf(stderr, "%s: %s: %s\n", who, key_out, strerror(e));
			goto out;
		}
	}
	printf("report: %s (%u bytes), isolation %s, measurement ", out,
	       CVMBUS_ATTEST_REPORT_SIZE, isolation_name((uint32_t)pcfg.isolation));
	print_hex(stdout, rep + offsetof(struct cvmbus_attest_report_wire, measurement),
		  CVMBUS_ATTEST_DIGEST_SIZE);
	putchar('\n');
	rc = CVMBUS_EXIT_OK;
out:
	cvmbus_attest_platform_destroy(p);
	return rc;
}

/* ---- verify ----------------------------------------------------------- */

static const char verify_usage_text[] =
	"usage: cvmbus attest verify REPORT --key PUB.pem --expect MEASUREMENT\n"
	"                            [--expect MEASUREMENT ...] [--nonce HEX]\n"
	"                            [--isolation none|vbs|snp|tdx]\n"
	"                            [--policy VALUE[/MASK]]\n"
	"\n"
	"Verify an attestation report as a relying party: it must be signed by the\n"
	"key in PUB.pem, carry one of the expected measurements (96 hex digits\n"
	"each, from 'cvmbus attest measure'), and, when given, the nonce, the\n"
	"isolation type and the policy ((policy & MASK) == VALUE; MASK defaults to\n"
	"all ones).\n"
	"\n"
	"Exit status: 0 verified; 1 a file cannot be read; 2 bad usage or key;\n"
	"3 refused: the reason (truncated, oversized, malformed, unsupported\n"
	"version, wrong key, bad signature, measurement not expected, nonce,\n"
	"isolation or policy mismatch) is printed on stderr.\n";

static int load_pubkey(const char *who, const char *path, struct cvmbus_attest_pubkey **key)
{
	uint8_t *pem = NULL;
	size_t len = 0;
	bool too_big;
	char err[128];
	int e = read_file(path, ATTEST_MAX_KEY_FILE, &pem, &len, &too_big);

	if (e) {
		fprintf(stderr, "%s: %s: %s\n", who, path, strerror(e));
		return CVMBUS_EXIT_FAILURE;
	}
	e = cvmbus_attest_pubkey_from_pem(pem, too_big ? ATTEST_MAX_KEY_FILE + 1 : len, key, err,
					  sizeof(err));
	free(pem);
	if (e) {
		fprintf(stderr, "%s: %s: %s\n", who, path, err);
		return e == -EINVAL ? CVMBUS_EXIT_USAGE : CVMBUS_EXIT_FAILURE;
	}
	return 0;
}

static int cmd_attest_verify(int argc, char **argv)
{
	const char *who = "cvmbus attest verify";
	const char *report = NULL, *key_path = NULL, *nonce_hex = NULL;
	uint8_t expected[ATTEST_MAX_EXPECT][CVMBUS_ATTEST_DIGEST_SIZE];
	uint8_t nonce[CVMBUS_ATTEST_REPORT_DATA_SIZE];
	struct cvmbus_attest_expect ex = { .measurements = (const uint8_t(*)[48])expected };
	struct cvmbus_attest_pubkey *key = NULL;
	struct cvmbus_attest_result res;
	uint8_t *bytes = NULL;
	size_t len = 0;
	bool too_big;
	int rc, e;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(verify_usage_text, stdout);
			return CVMBUS_EXIT_OK;
		}
		if (a[0] != '-') {
			if (report)
				return usage_error(who, "more than one REPORT given");
			report = a;
			continue;
		}
		if (i + 1 >= argc)
			return usage_error(who, "an option is missing its value");
		const char *val = argv[++i];
		if (!strcmp(a, "--key")) {
			key_path = val;
		} else if (!strcmp(a, "--expect")) {
			if (ex.measurement_count == ATTEST_MAX_EXPECT)
				return usage_error(who, "at most 64 --expect");
			if (strlen(val) != 2 * CVMBUS_ATTEST_DIGEST_SIZE ||
			    parse_hex(val, expected[ex.measurement_count], CVMBUS_ATTEST_DIGEST_SIZE,
				      CVMBUS_ATTEST_DIGEST_SIZE) < 0)
				return usage_error(who, "--expect must be 96 hex digits (sha-384)");
			ex.measurement_count++;
		} else if (!strcmp(a, "--nonce")) {
			nonce_hex = val;
		} else if (!strcmp(a, "--isolation")) {
			if (!parse_isolation(val, &ex.isolation))
				return usage_error(who, "--isolation must be none, vbs, snp or tdx");
			ex.check_isolation = true;
		} else if (!strcmp(a, "--policy")) {
			char buf[64], *slash;

			if (strlen(val) >= sizeof(buf))
				return usage_error(who, "--policy must be VALUE or VALUE/MASK");
			strcpy(buf, val);
			slash = strchr(buf, '/');
			if (slash)
				*slash = '\0';
			ex.policy_mask = UINT64_MAX;
			if (!parse_u64(buf, &ex.policy_value) ||
			    (slash && !parse_u64(slash + 1, &ex.policy_mask)) ||
			    (ex.policy_value & ~ex.policy_mask))
				return usage_error(who, "--policy must be VALUE or VALUE/MASK, "
							"VALUE within MASK");
		} else {
			return usage_error(who, "unknown option");
		}
	}
	if (!report)
		return usage_error(who, "REPORT missing");
	if (!key_path)
		return usage_error(who, "--key is required");
	if (ex.measurement_count == 0)
		return usage_error(who, "at least one --expect is required");
	if (nonce_hex) {
		if (parse_hex(nonce_hex, nonce, sizeof(nonce), sizeof(nonce)) < 0)
			return usage_error(who, "--nonce must be 2-128 hex digits (1-64 bytes)");
		ex.nonce = nonce;
	}
	rc = load_pubkey(who, key_path, &key);
	if (rc)
		return rc;
	e = read_file(report, ATTEST_MAX_REPORT_FILE, &bytes, &len, &too_big);
	if (e) {
		fprintf(stderr, "%s: %s: %s\n", who, report, strerror(e));
		rc = CVMBUS_EXIT_FAILURE;
		goto out;
	}
	if (too_big) {
		fprintf(stderr, "%s: %s: refused: %s: the file is larger than 1 MiB\n", who, report,
			cvmbus_attest_reason_str(CVMBUS_ATTEST_OVERSIZED));
		rc = CVMBUS_EXIT_CORRUPT;
		goto out;
	}
	e = cvmbus_attest_verify_ex(bytes, len, key, &ex, &res);
	if (e == 0) {
		printf("ok: %s: signed by the given key, measurement ", report);
		print_hex(stdout, res.report.measurement, CVMBUS_ATTEST_DIGEST_SIZE);
		printf(" (expected #%zu), isolation %s%s\n", res.measurement_index,
		       isolation_name((uint32_t)res.report.isolation),
		       ex.nonce ? ", nonce matches" : ", nonce not checked");
		rc = CVMBUS_EXIT_OK;
	} else if (e == -EACCES) {
		fprintf(stderr, "%s: %s: refused: %s: %s\n", who, report,
			cvmbus_attest_reason_str(res.reason), res.detail);
		rc = CVMBUS_EXIT_CORRUPT;
	} else {
		fprintf(stderr, "%s: %s: %s\n", who, report, res.detail);
		rc = CVMBUS_EXIT_FAILURE;
	}
out:
	free(bytes);
	cvmbus_attest_pubkey_free(key);
	return rc;
}

/* ---- show ------------------------------------------------------------- */

static const char show_usage_text[] =
	"usage: cvmbus attest show REPORT\n"
	"\n"
	"Print the fields of a report WITHOUT verifying it (layout checks only).\n"
	"\n"
	"Exit status: 0 ok; 1 the file cannot be read; 2 bad usage; 3 the report\n"
	"is truncated, oversized or malformed.\n";

static int cmd_attest_show(int argc, char **argv)
{
	const char *who = "cvmbus attest show";
	const char *report = NULL;
	struct cvmbus_attest_result res;
	uint8_t *bytes = NULL;
	size_t len = 0;
	bool too_big;
	int e;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(show_usage_text, stdout);
			return CVMBUS_EXIT_OK;
		}
		if (argv[i][0] == '-')
			return usage_error(who, "unknown option");
		if (report)
			return usage_error(who, "more than one REPORT given");
		report = argv[i];
	}
	if (!report)
		return usage_error(who, "REPORT missing");
	e = read_file(report, ATTEST_MAX_REPORT_FILE, &bytes, &len, &too_big);
	if (e) {
		fprintf(stderr, "%s: %s: %s\n", who, report, strerror(e));
		return CVMBUS_EXIT_FAILURE;
	}
	e = cvmbus_attest_report_parse(bytes, too_big ? ATTEST_MAX_REPORT_FILE + 1 : len, &res);
	free(bytes);
	if (e) {
		fprintf(stderr, "%s: %s: %s: %s\n", who, report,
			cvmbus_attest_reason_str(res.reason), res.detail);
		return CVMBUS_EXIT_CORRUPT;
	}
	printf("version:             %" PRIu32 "\n", res.report.version);
	printf("isolation:           %s (%" PRIu32 ")\n",
	       isolation_name((uint32_t)res.report.isolation), (uint32_t)res.report.isolation);
	printf("policy:              0x%016" PRIx64 "%s\n", res.report.policy,
	       (res.report.policy & CVMBUS_ATTEST_POLICY_DEBUG) ? " (debuggable)" : "");
	printf("signature algorithm: %" PRIu32 " (ecdsa p-384 sha-384)\n", res.report.sig_algo);
	printf("measurement:         ");
	print_hex(stdout, res.report.measurement, sizeof(res.report.measurement));
	printf("\nreport data:         ");
	print_hex(stdout, res.report.report_data, sizeof(res.report.report_data));
	printf("\nchip id:             ");
	print_hex(stdout, res.report.chip_id, sizeof(res.report.chip_id));
	printf("\nsigning key digest:  ");
	print_hex(stdout, res.report.signing_key_digest, sizeof(res.report.signing_key_digest));
	printf("\n(not verified: use 'cvmbus attest verify')\n");
	return CVMBUS_EXIT_OK;
}

/* ---- dispatch --------------------------------------------------------- */

static const char attest_usage_text[] =
	"usage: cvmbus attest measure CONFIG [--describe FILE]\n"
	"       cvmbus attest report --config CONFIG --nonce HEX --out REPORT [...]\n"
	"       cvmbus attest verify REPORT --key PUB.pem --expect MEASUREMENT [...]\n"
	"       cvmbus attest show REPORT\n"
	"\n"
	"A measured paravisor: the launch measurement of a paravisor configuration,\n"
	"signed attestation reports from a simulated platform, and their\n"
	"verification. See docs/ATTESTATION.md.\n"
	"\n"
	"'cvmbus attest <subcommand> --help' describes each one.\n";

int cmd_attest(int argc, char **argv)
{
	if (argc < 2) {
		fputs(attest_usage_text, stderr);
		return CVMBUS_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(attest_usage_text, stdout);
		return CVMBUS_EXIT_OK;
	}
	if (!strcmp(argv[1], "measure"))
		return cmd_attest_measure(argc - 1, argv + 1);
	if (!strcmp(argv[1], "report"))
		return cmd_attest_report(argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return cmd_attest_verify(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return cmd_attest_show(argc - 1, argv + 1);
	fprintf(stderr, "cvmbus attest: unknown subcommand '%s'\n", argv[1]);
	fputs(attest_usage_text, stderr);
	return CVMBUS_EXIT_USAGE;
}
