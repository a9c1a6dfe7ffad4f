/* SPDX-License-Identifier: MIT */
/*
 * The JSON configuration of a VM run (include/cvmbus/vm_config.h, schema in
 * docs/CONFIG.md), in the top layer of libcvmbus (src/vm). A builder holds
 * one JSON document: the embedded default, a file merged over it, then the
 * command line's edits applied to it in order; finish() walks the result
 * once, in schema order, into a struct cvmbus_vm_setup, and the first
 * problem comes back as "<field path>: <what is wrong>". Keeping the edits
 * as JSON (rather than applying each to the struct as it comes) is what
 * lets one validator name the field of a problem, whether the bad value
 * came from a file, from --set or from a named option.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cvmbus/vm_config.h>
#include <cvmbus/wire.h>

/* ---- the default ------------------------------------------------------------ */

const char cvmbus_vm_setup_default_json[] =
	"{\n"
	"  \"topology\": {\n"
	"    \"isolation\": \"snp\",\n"
	"    \"paravisor\": true,\n"
	"    \"confidential_vmbus\": true,\n"
	"    \"max_version\": \"6.0\",\n"
	"    \"arch\": \"x86_64\",\n"
	"    \"detect\": \"cpuid\",\n"
	"    \"vcpus\": 2,\n"
	"    \"seed\": null\n"
	"  },\n"
	"  \"devices\": [\n"
	"    {\n"
	"      \"type\": \"disk\",\n"
	"      \"owner\": \"paravisor\",\n"
	"      \"image\": \"\",\n"
	"      \"size\": \"16M\",\n"
	"      \"read_only\": false\n"
	"    },\n"
	"    {\n"
	"      \"type\": \"nic\",\n"
	"      \"owner\": \"host\",\n"
	"      \"backend\": \"loopback\",\n"
	"      \"mac\": \"00:15:5d:c0:00:01\",\n"
	"      \"mtu\": 1500,\n"
	"      \"namespaces\": null\n"
	"    }\n"
	"  ],\n"
	"  \"workload\": {\n"
	"    \"packets\": 8,\n"
	"    \"bytes\": 64,\n"
	"    \"disk_bytes\": \"1M\"\n"
	"  },\n"
	"  \"outputs\": {\n"
	"    \"report\": null,\n"
	"    \"json\": null\n"
	"  }\n"
	"}\n";

const char cvmbus_vm_setup_options_help[] =
	"configuration options (docs/CONFIG.md):\n"
	"  --config FILE                  a JSON configuration; options below override it\n"
	"  --set PATH=VALUE               any field, e.g. --set devices[0].size=64M\n"
	"  --packets N                    workload.packets: per channel and NIC, 1..100000 (8)\n"
	"  --bytes N                      workload.bytes: bytes per packet, 1..1024 (64)\n"
	"  --disk-bytes SIZE              workload.disk_bytes: written and verified per disk (1M)\n"
	"  --report FILE.html             outputs.report: the HTML report\n"
	"  --json FILE                    outputs.json: the JSON report ('-': stdout)\n"
	"  --no-devices                   devices: [] (the two echo devices only)\n"
	"  --disk-image PATH, --disk-size SIZE, --disk-owner host|paravisor\n"
	"                                 the first disk's image, size and owner\n"
	"  --nic-owner host|paravisor, --nic-backend loopback|tap\n"
	"                                 the first NIC's owner and backend\n";

#define MAX_PACKETS    100000u
#define MAX_BYTES      1024u
#define DISK_MIN       (1ull << 20)
#define DISK_MAX       (1ull << 40)
#define DISK_BYTES_MAX (1ull << 30)
#define MTU_MIN        68u
#define MTU_MAX        9000u

struct cvmbus_vm_setup_builder {
	json_t *doc;
	/* The device list is still the default one (possibly edited field by
	 * field): its paravisor devices follow the topology. */
	bool devices_default;
	/* devices[i].owner was set on the command line: a user's word. */
	bool owner_set[CVMBUS_VM_MAX_DEVICES];
};

/* ---- names ------------------------------------------------------------------ */

const char *cvmbus_vm_device_type_name(enum cvmbus_vm_device_type type)
{
	return type == CVMBUS_VM_DEVICE_DISK ? "disk" : type == CVMBUS_VM_DEVICE_NIC ? "nic" : "?";
}

const char *cvmbus_vm_owner_name(enum cvmbus_vm_owner owner)
{
	return owner == CVMBUS_VM_OWNER_PARAVISOR ? "paravisor" : "host";
}

const char *cvmbus_vm_nic_backend_name(enum cvmbus_vm_nic_backend backend)
{
	return backend == CVMBUS_VM_NIC_TAP ? "tap" : "loopback";
}

/* ---- sizes ------------------------------------------------------------------ */

int cvmbus_vm_size_format(uint64_t bytes, char *buf, size_t cap)
{
	static const char suffix[] = "TGMK";

	for (unsigned int i = 0; i < 4; i++) {
		unsigned int shift = 40 - 10 * i;

		if (bytes && !(bytes & ((1ull << shift) - 1)))
			return snprintf(buf, cap, "%" PRIu64 "%c", bytes >> shift, suffix[i]);
	}
	return snprintf(buf, cap, "%" PRIu64, bytes);
}

int cvmbus_vm_size_parse(const char *text, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!text || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 0);
	if (errno)
		return -EINVAL;
	switch (tolower((unsigned char)*end)) {
	case 'k': shift = 10; break;
	case 'm': shift = 20; break;
	case 'g': shift = 30; break;
	case 't': shift = 40; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (shift) {
		end++;
		/* "16M", "16MB" and "16MiB" all mean 16 << 20: disk sizes are
		 * binary here, as in qemu-img. */
		if (!strcasecmp(end, "ib") || !strcasecmp(end, "b"))
			end += strlen(end);
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* ---- errors ----------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* How a value is quoted in an error: strings in single quotes, anything
 * else as compact JSON, both cut short so that one line stays one line. */
static const char *shown(const json_t *v, char *buf, size_t cap)
{
	char *s;

	if (!v) {
		snprintf(buf, cap, "nothing");
		return buf;
	}
	if (json_is_string(v)) {
		snprintf(buf, cap, "'%.40s%s'", json_string_value(v),
			 strlen(json_string_value(v)) > 40 ? "..." : "");
		return buf;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	snprintf(buf, cap, "%.40s%s", s ? s : "?", s && strlen(s) > 40 ? "..." : "");
	free(s);
	return buf;
}

/* The field being validated: "topology.vcpus", "devices[1].owner". */
struct field {
	char path[96];
};

static void field_at(struct field *f, const char *parent, const char *key)
{
	snprintf(f->path, sizeof(f->path), "%s%s%s", parent, *parent ? "." : "", key);
}

/* Refuse keys outside `known` (NULL-terminated), naming the first. */
static int check_keys(const json_t *obj, const char *parent, const char *const *known, char *err,
		      size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		bool ok = false;
		char list[256] = "";
		size_t len = 0;

		for (size_t i = 0; known[i]; i++)
			if (!strcmp(key, known[i]))
				ok = true;
		if (ok)
			continue;
		for (size_t i = 0; known[i] && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
						known[i]);
		return fail(err, errlen, "%s%s%.40s: unknown key (known: %s)", parent,
			    *parent ? "." : "", key, list);
	}
	return 0;
}

static int want_object(const json_t *v, const char *path, char *err, size_t errlen)
{
	char b[64];

	if (json_is_object(v))
		return 0;
	return fail(err, errlen, "%s: %s is not an object", path, shown(v, b, sizeof(b)));
}

static int get_bool(const json_t *obj, const char *parent, const char *key, bool *out, char *err,
		    size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	struct field f;
	char b[64];

	if (!v)
		return 0;
	field_at(&f, parent, key);
	if (!json_is_boolean(v))
		return fail(err, errlen, "%s: %s is not true or false", f.path,
			    shown(v, b, sizeof(b)));
	*out = json_is_true(v);
	return 0;
}

/* An integer in [lo, hi]; `what` completes "... is not <what>". */
static int get_uint(const json_t *obj, const char *parent, const char *key, uint64_t lo,
		    uint64_t hi, const char *what, uint64_t *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	struct field f;
	char b[64];

	if (!v)
		return 0;
	field_at(&f, parent, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < lo || (uint64_t)json_integer_value(v) > hi)
		return fail(err, errlen, "%s: %s is not %s", f.path, shown(v, b, sizeof(b)), what);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* A string that must be one of `names`; *index gets its position. */
static int get_enum(const json_t *obj, const char *parent, const char *key,
		    const char *const *names, const char *what, unsigned int *index, char *err,
		    size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	struct field f;
	char b[64];

	if (!v)
		return 0;
	field_at(&f, parent, key);
	if (json_is_string(v))
		for (unsigned int i = 0; names[i]; i++)
			if (!strcmp(json_string_value(v), names[i])) {
				*index = i;
				return 0;
			}
	return fail(err, errlen, "%s: %s is not %s", f.path, shown(v, b, sizeof(b)), what);
}

/* A string (or null, read as "") that fits in cap with its NUL. */
static int get_text(const json_t *obj, const char *parent, const char *key, char *out,
		    size_t cap, char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	struct field f;
	char b[64];

	if (!v)
		return 0;
	field_at(&f, parent, key);
	if (json_is_null(v)) {
		out[0] = '\0';
		return 0;
	}
	if (!json_is_string(v))
		return fail(err, errlen, "%s: %s is not a string or null", f.path,
			    shown(v, b, sizeof(b)));
	if (strlen(json_string_value(v)) >= cap)
		return fail(err, errlen, "%s: longer than %zu bytes", f.path, cap - 1);
	if (strchr(json_string_value(v), '\n'))
		return fail(err, errlen, "%s: a newline in a path", f.path);
	memcpy(out, json_string_value(v), strlen(json_string_value(v)) + 1);
	return 0;
}

/* A size: an integer of bytes or a string such as "16M"; null gives 0
 * when allow_null. Then a multiple of `align` in [lo, hi]. */
static int get_size(const json_t *obj, const char *parent, const char *key, uint64_t lo,
		    uint64_t hi, uint64_t align, bool allow_null, uint64_t *out, char *err,
		    size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	struct field f;
	char b[64], los[24], his[24];
	uint64_t n = 0;
	bool ok;

	if (!v)
		return 0;
	field_at(&f, parent, key);
	if (allow_null && json_is_null(v)) {
		*out = 0;
		return 0;
	}
	if (json_is_integer(v))
		ok = json_integer_value(v) >= 0 && ((n = (uint64_t)json_integer_value(v)), true);
	else
		ok = json_is_string(v) && !cvmbus_vm_size_parse(json_string_value(v), &n);
	ok = ok && n >= lo && n <= hi && !(n % align);
	if (!ok) {
		cvmbus_vm_size_format(lo, los, sizeof(los));
		cvmbus_vm_size_format(hi, his, sizeof(his));
		return fail(err, errlen, "%s: %s is not a size from %s to %s in %" PRIu64
			    "-byte units%s", f.path, shown(v, b, sizeof(b)), los, his, align,
			    allow_null ? " (or null)" : "");
	}
	*out = n;
	return 0;
}

/* ---- topology --------------------------------------------------------------- */

static int parse_topology(const json_t *t, struct cvmbus_vm_config *cfg, char *err,
			  size_t errlen)
{
	static const char *const keys[] = { "isolation", "paravisor", "confidential_vmbus",
					    "max_version", "arch", "detect", "vcpus", "seed",
					    "attest", "expect", "processes", NULL };
	static const char *const attests[] = { "none", "require", "fallback", NULL };
	static const char *const isolations[] = { "none", "vbs", "snp", "tdx", NULL };
	static const char *const arches[] = { "x86_64", "arm64", NULL };
	static const char *const detects[] = { "cpuid", "probe", NULL };
	const json_t *v;
	unsigned int idx;
	uint64_t n;
	char b[64];
	int rc;

	if ((rc = want_object(t, "topology", err, errlen)) ||
	    (rc = check_keys(t, "topology", keys, err, errlen)))
		return rc;
	idx = (unsigned int)cfg->isolation;
	if ((rc = get_enum(t, "topology", "isolation", isolations, "one of none, vbs, snp, tdx",
			   &idx, err, errlen)))
		return rc;
	cfg->isolation = (enum hv_isolation_type)idx;
	if ((rc = get_bool(t, "topology", "processes", &cfg->processes, err, errlen)) ||
	    (rc = get_bool(t, "topology", "paravisor", &cfg->paravisor, err, errlen)) ||
	    (rc = get_bool(t, "topology", "confidential_vmbus", &cfg->confidential_vmbus, err,
			   errlen)))
		return rc;
	v = json_object_get(t, "max_version");
	if (v) {
		uint32_t ver;

		if (!json_is_string(v) || cvmbus_wire_version_parse(json_string_value(v), &ver) < 0 ||
		    !cvmbus_wire_version_known(ver) || ver < CVMBUS_VERSION_2_4)
			return fail(err, errlen,
				    "topology.max_version: %s is not a VMBus version from 2.4 to 6.0 "
				    "(a string such as \"6.0\")", shown(v, b, sizeof(b)));
		cfg->max_version = ver;
	}
	idx = (unsigned int)cfg->arch;
	if ((rc = get_enum(t, "topology", "arch", arches, "x86_64 or arm64", &idx, err, errlen)))
		return rc;
	cfg->arch = (enum cvmbus_arch)idx;
	idx = (unsigned int)cfg->detect;
	if ((rc = get_enum(t, "topology", "detect", detects, "cpuid or probe", &idx, err, errlen)))
		return rc;
	cfg->detect = (enum cvmbus_detect)idx;
	n = cfg->vcpus;
	if ((rc = get_uint(t, "topology", "vcpus", 1, CVMBUS_PLATFORM_MAX_VCPUS,
			   "a number from 1 to 64", &n, err, errlen)))
		return rc;
	cfg->vcpus = (unsigned int)n;
	v = json_object_get(t, "seed");
	if (v) {
		if (json_is_null(v)) {
			cfg->deterministic = false;
		} else if (json_is_integer(v) && json_integer_value(v) >= 0) {
			cfg->deterministic = true;
			cfg->seed = (uint64_t)json_integer_value(v);
		} else {
			return fail(err, errlen,
				    "topology.seed: %s is not null (native executor) or a number "
				    "from 0 to 2^63-1", shown(v, b, sizeof(b)));
		}
	}
	/* Attestation: a policy and the measurements it pins, each checked
	 * by the shared option parser so that the words are the same. */
	idx = (unsigned int)cfg->attest;
	if ((rc = get_enum(t, "topology", "attest", attests, "none, require or fallback", &idx,
			   err, errlen)))
		return rc;
	cfg->attest = (enum cvmbus_vm_attest)idx;
	v = json_object_get(t, "expect");
	if (v) {
		size_t i;
		json_t *m;

		if (!json_is_array(v) || json_array_size(v) > CVMBUS_VM_MAX_EXPECT)
			return fail(err, errlen,
				    "topology.expect: %s is not a list of at most 4 measurements",
				    shown(v, b, sizeof(b)));
		cfg->expect_count = 0;
		json_array_foreach(v, i, m) {
			char e[160];

			if (!json_is_string(m) ||
			    cvmbus_vm_config_option(cfg, "expect", json_string_value(m), e,
						    sizeof(e)) < 0)
				return fail(err, errlen,
					    "topology.expect[%zu]: %s is not a SHA-384 measurement "
					    "(96 hex digits)", i, shown(m, b, sizeof(b)));
		}
	}
	if (cfg->attest != CVMBUS_VM_ATTEST_NONE && !cfg->expect_count)
		return fail(err, errlen,
			    "topology.attest: '%s' needs at least one measurement in topology.expect",
			    attests[cfg->attest]);
	/* The contradiction the topology options can express on their own,
	 * named by field; a cell that cannot exist on real hardware (SNP on
	 * arm64) is not a configuration error and is left to
	 * cvmbus_vm_create, which says so with -ENOTSUP. */
	if (cfg->confidential_vmbus && !cfg->paravisor)
		return fail(err, errlen,
			    "topology.confidential_vmbus: true needs topology.paravisor true "
			    "(Confidential VMBus is offered by the paravisor)");
	return 0;
}

/* ---- devices ---------------------------------------------------------------- */

static bool mac_parse(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned int hi, lo;

		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return false;
		hi = (unsigned int)(isdigit((unsigned char)s[0]) ? s[0] - '0'
								  : tolower((unsigned char)s[0]) - 'a' + 10);
		lo = (unsigned int)(isdigit((unsigned char)s[1]) ? s[1] - '0'
								  : tolower((unsigned char)s[1]) - 'a' + 10);
		mac[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < 5 && *s++ != ':')
			return false;
	}
	return *s == '\0';
}

/* A namespace as `ip netns` names it, or an absolute path to one. */
static bool netns_ok(const char *s)
{
	if (s[0] == '/')
		return true;
	if (!s[0] || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return true;
}

static int parse_namespaces(const json_t *ns, const char *parent, struct cvmbus_vm_nic_spec *nic,
			    char *err, size_t errlen)
{
	static const char *const keys[] = { "guest", "host", NULL };
	struct field f;
	int rc;

	field_at(&f, parent, "namespaces");
	if (json_is_null(ns)) {
		nic->netns_guest[0] = nic->netns_host[0] = '\0';
		return 0;
	}
	if ((rc = want_object(ns, f.path, err, errlen)) ||
	    (rc = check_keys(ns, f.path, keys, err, errlen)) ||
	    (rc = get_text(ns, f.path, "guest", nic->netns_guest, sizeof(nic->netns_guest), err,
			   errlen)) ||
	    (rc = get_text(ns, f.path, "host", nic->netns_host, sizeof(nic->netns_host), err,
			   errlen)))
		return rc;
	if ((nic->netns_guest[0] && !netns_ok(nic->netns_guest)) ||
	    (nic->netns_host[0] && !netns_ok(nic->netns_host)))
		return fail(err, errlen,
			    "%s: a namespace is a name of letters, digits, '-', '_', '.' (as `ip "
			    "netns add` takes) or an absolute path", f.path);
	return 0;
}

static int parse_device(const json_t *d, const char *path, bool owner_may_move,
			const struct cvmbus_vm_config *topo, struct cvmbus_vm_device_spec *out,
			char *err, size_t errlen)
{
	static const char *const disk_keys[] = { "type", "owner", "image", "size", "read_only",
						 NULL };
	static const char *const nic_keys[] = { "type", "owner", "backend", "mac", "mtu",
						"namespaces", NULL };
	static const char *const types[] = { "disk", "nic", NULL };
	static const char *const owners[] = { "host", "paravisor", NULL };
	static const char *const backends[] = { "loopback", "tap", NULL };
	unsigned int idx = 0;
	struct field f;
	char b[64];
	int rc;

	if ((rc = want_object(d, path, err, errlen)))
		return rc;
	memset(out, 0, sizeof(*out));
	if (!json_object_get(d, "type"))
		return fail(err, errlen, "%s.type: missing (disk or nic)", path);
	if ((rc = get_enum(d, path, "type", types, "disk or nic", &idx, err, errlen)))
		return rc;
	out->type = idx ? CVMBUS_VM_DEVICE_NIC : CVMBUS_VM_DEVICE_DISK;
	if ((rc = check_keys(d, path, out->type == CVMBUS_VM_DEVICE_DISK ? disk_keys : nic_keys,
			     err, errlen)))
		return rc;

	/* An omitted owner: a disk is the paravisor's when there is one (the
	 * confidential case this tool exists to show), a NIC the host's. */
	out->owner = out->type == CVMBUS_VM_DEVICE_DISK && topo->paravisor
			     ? CVMBUS_VM_OWNER_PARAVISOR
			     : CVMBUS_VM_OWNER_HOST;
	idx = (unsigned int)out->owner;
	if ((rc = get_enum(d, path, "owner", owners, "host or paravisor", &idx, err, errlen)))
		return rc;
	out->owner = idx ? CVMBUS_VM_OWNER_PARAVISOR : CVMBUS_VM_OWNER_HOST;
	if (out->owner == CVMBUS_VM_OWNER_PARAVISOR && !topo->paravisor) {
		if (!owner_may_move)
			return fail(err, errlen,
				    "%s.owner: 'paravisor' needs a paravisor (topology.paravisor is "
				    "false)", path);
		out->owner = CVMBUS_VM_OWNER_HOST;
	}

	if (out->type == CVMBUS_VM_DEVICE_DISK) {
		struct cvmbus_vm_disk_spec *disk = &out->disk;

		disk->size = 0;
		if ((rc = get_text(d, path, "image", disk->image, sizeof(disk->image), err,
				   errlen)) ||
		    (rc = get_size(d, path, "size", DISK_MIN, DISK_MAX, 512, true, &disk->size, err,
				   errlen)) ||
		    (rc = get_bool(d, path, "read_only", &disk->read_only, err, errlen)))
			return rc;
		if (!disk->image[0] && !disk->size)
			return fail(err, errlen,
				    "%s.size: a temporary image (image \"\") needs a size", path);
		return 0;
	}

	/* NIC */
	{
		struct cvmbus_vm_nic_spec *nic = &out->nic;
		const json_t *v;
		uint64_t n = 1500;

		idx = 0;
		if ((rc = get_enum(d, path, "backend", backends, "loopback or tap", &idx, err,
				   errlen)))
			return rc;
		nic->backend = idx ? CVMBUS_VM_NIC_TAP : CVMBUS_VM_NIC_LOOPBACK;
		/* 00:15:5d is Hyper-V's OUI, what a synthetic NIC gets by default. */
		memcpy(nic->mac, (const uint8_t[6]){ 0x00, 0x15, 0x5d, 0xc0, 0x00, 0x01 }, 6);
		v = json_object_get(d, "mac");
		field_at(&f, path, "mac");
		if (v && (!json_is_string(v) || !mac_parse(json_string_value(v), nic->mac) ||
			  (nic->mac[0] & 1)))
			return fail(err, errlen,
				    "%s: %s is not a unicast MAC address (xx:xx:xx:xx:xx:xx)", f.path,
				    shown(v, b, sizeof(b)));
		if ((rc = get_uint(d, path, "mtu", MTU_MIN, MTU_MAX, "a number from 68 to 9000",
				   &n, err, errlen)))
			return rc;
		nic->mtu = (uint32_t)n;
		v = json_object_get(d, "namespaces");
		if (v) {
			if ((rc = parse_namespaces(v, path, nic, err, errlen)))
				return rc;
			if (!json_is_null(v) && nic->backend != CVMBUS_VM_NIC_TAP)
				return fail(err, errlen,
					    "%s.namespaces: only a tap backend has namespaces "
					    "(backend is 'loopback')", path);
		}
	}
	return 0;
}

static int parse_devices(const json_t *list, const struct cvmbus_vm_setup_builder *bld,
			 struct cvmbus_vm_setup *s, char *err, size_t errlen)
{
	char b[64];
	size_t i;
	json_t *d;

	if (!json_is_array(list))
		return fail(err, errlen, "devices: %s is not a list", shown(list, b, sizeof(b)));
	if (json_array_size(list) > CVMBUS_VM_MAX_DEVICES)
		return fail(err, errlen, "devices: %zu devices, at most %u", json_array_size(list),
			    CVMBUS_VM_MAX_DEVICES);
	s->device_count = 0;
	json_array_foreach(list, i, d) {
		char path[32];
		int rc;

		snprintf(path, sizeof(path), "devices[%zu]", i);
		rc = parse_device(d, path, bld->devices_default && !bld->owner_set[i], &s->topology,
				  &s->devices[i], err, errlen);
		if (rc)
			return rc;
		s->device_count++;
	}
	return 0;
}

/* ---- workload and outputs --------------------------------------------------------- */

static int parse_workload(const json_t *w, struct cvmbus_vm_setup *s, char *err, size_t errlen)
{
	static const char *const keys[] = { "packets", "bytes", "disk_bytes", NULL };
	uint64_t n;
	int rc;

	if ((rc = want_object(w, "workload", err, errlen)) ||
	    (rc = check_keys(w, "workload", keys, err, errlen)))
		return rc;
	n = s->workload.packets;
	if ((rc = get_uint(w, "workload", "packets", 1, MAX_PACKETS, "a number from 1 to 100000",
			   &n, err, errlen)))
		return rc;
	s->workload.packets = (unsigned int)n;
	n = s->workload.bytes;
	if ((rc = get_uint(w, "workload", "bytes", 1, MAX_BYTES, "a number from 1 to 1024", &n,
			   err, errlen)))
		return rc;
	s->workload.bytes = (uint32_t)n;
	return get_size(w, "workload", "disk_bytes", 4096, DISK_BYTES_MAX, 4096, false,
			&s->workload.disk_bytes, err, errlen);
}

static int parse_outputs(const json_t *o, struct cvmbus_vm_setup *s, char *err, size_t errlen)
{
	static const char *const keys[] = { "report", "json", NULL };
	int rc;

	if ((rc = want_object(o, "outputs", err, errlen)) ||
	    (rc = check_keys(o, "outputs", keys, err, errlen)) ||
	    (rc = get_text(o, "outputs", "report", s->outputs.report, sizeof(s->outputs.report),
			   err, errlen)) ||
	    (rc = get_text(o, "outputs", "json", s->outputs.json, sizeof(s->outputs.json), err,
			   errlen)))
		return rc;
	if (!strcmp(s->outputs.report, "-"))
		return fail(err, errlen, "outputs.report: the HTML report needs a file, not '-'");
	return 0;
}

/* ---- the builder ------------------------------------------------------------------- */

int cvmbus_vm_setup_builder_new(struct cvmbus_vm_setup_builder **out)
{
	struct cvmbus_vm_setup_builder *b = calloc(1, sizeof(*b));
	json_error_t jerr;

	if (!b)
		return -ENOMEM;
	b->doc = json_loads(cvmbus_vm_setup_default_json, JSON_REJECT_DUPLICATES, &jerr);
	if (!b->doc) {
		free(b);
		return -ENOMEM; /* the text is fixed: only memory can fail here */
	}
	b->devices_default = true;
	*out = b;
	return 0;
}

void cvmbus_vm_setup_builder_free(struct cvmbus_vm_setup_builder *b)
{
	if (!b)
		return;
	json_decref(b->doc);
	free(b);
}

/* Objects merge key by key, recursively; anything else (lists included)
 * replaces. Unknown keys are kept, so that finish() names them. */
static int merge(json_t *dst, json_t *src)
{
	const char *key;
	json_t *v;

	json_object_foreach(src, key, v) {
		json_t *cur = json_object_get(dst, key);

		if (json_is_object(cur) && json_is_object(v)) {
			if (merge(cur, v))
				return -ENOMEM;
		} else if (json_object_set(dst, key, v)) {
			return -ENOMEM;
		}
	}
	return 0;
}

static int builder_take(struct cvmbus_vm_setup_builder *b, json_t *doc, const char *name,
			char *err, size_t errlen)
{
	int rc;

	if (!json_is_object(doc)) {
		json_decref(doc);
		return fail(err, errlen, "%s: the configuration is not a JSON object ({...})", name);
	}
	if (json_object_get(doc, "devices")) {
		b->devices_default = false;
		memset(b->owner_set, 0, sizeof(b->owner_set));
	}
	rc = merge(b->doc, doc);
	json_decref(doc);
	return rc;
}

int cvmbus_vm_setup_builder_load_text(struct cvmbus_vm_setup_builder *b, const char *text,
				      size_t len, const char *name, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc;

	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return fail(err, errlen, "%s:%d:%d: invalid JSON: %s", name, jerr.line, jerr.column,
			    jerr.text);
	return builder_take(b, doc, name, err, errlen);
}

int cvmbus_vm_setup_builder_load(struct cvmbus_vm_setup_builder *b, const char *path, char *err,
				 size_t errlen)
{
	json_error_t jerr;
	json_t *doc;
	FILE *f;
	int rc;

	/* Opened here rather than by jansson so that a missing file and a
	 * malformed one get different errors (and errnos). */
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	doc = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc && ferror(f)) {
		rc = -EIO;
		fclose(f);
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot read it", path);
		return rc;
	}
	fclose(f);
	if (!doc)
		return fail(err, errlen, "%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.column,
			    jerr.text);
	return builder_take(b, doc, path, err, errlen);
}

/* One step of a field path: a key and an optional [index]. */
struct step {
	char key[48];
	bool indexed;
	size_t index;
};

static int path_parse(const char *path, struct step *steps, size_t cap, size_t *n)
{
	const char *p = path;

	*n = 0;
	while (*p) {
		struct step *s;
		size_t k = 0;

		if (*n == cap)
			return -EINVAL;
		s = &steps[(*n)++];
		memset(s, 0, sizeof(*s));
		while (*p && *p != '.' && *p != '[') {
			if (k + 1 >= sizeof(s->key) ||
			    (!isalnum((unsigned char)*p) && *p != '_' && *p != '-'))
				return -EINVAL;
			s->key[k++] = *p++;
		}
		if (!k)
			return -EINVAL;
		if (*p == '[') {
			char *end;

			if (!isdigit((unsigned char)p[1]))
				return -EINVAL;
			s->indexed = true;
			s->index = strtoul(p + 1, &end, 10);
			if (*end != ']' || s->index > 64)
				return -EINVAL;
			p = end + 1;
		}
		if (*p == '.') {
			p++;
			if (!*p)
				return -EINVAL;
		} else if (*p) {
			return -EINVAL;
		}
	}
	return *n ? 0 : -EINVAL;
}

/* Put v (a new reference, stolen) at path. */
static int builder_put(struct cvmbus_vm_setup_builder *b, const char *path, json_t *v, char *err,
		       size_t errlen)
{
	struct step steps[6];
	json_t *cur = b->doc;
	size_t n;

	if (!v)
		return -ENOMEM;
	if (path_parse(path, steps, 6, &n)) {
		json_decref(v);
		return fail(err, errlen,
			    "--set: '%.60s' is not a field path (keys joined by '.', [N] for a "
			    "device: topology.vcpus, devices[1].owner)", path);
	}
	if (!strcmp(steps[0].key, "devices")) {
		if (n == 1 && !steps[0].indexed) {
			b->devices_default = false;
			memset(b->owner_set, 0, sizeof(b->owner_set));
		} else if (steps[0].indexed && steps[0].index < CVMBUS_VM_MAX_DEVICES &&
			   (n == 1 || (n == 2 && !strcmp(steps[1].key, "owner")))) {
			/* A whole device, or its owner, set by hand. */
			b->owner_set[steps[0].index] = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct step *s = &steps[i];
		bool last = i + 1 == n;
		json_t *child;

		if (!json_is_object(cur)) {
			json_decref(v);
			return fail(err, errlen, "--set %s: '%s' is inside something that is not an "
				    "object", path, s->key);
		}
		if (last && !s->indexed) {
			return json_object_set_new(cur, s->key, v) ? -ENOMEM : 0;
		}
		child = json_object_get(cur, s->key);
		if (!s->indexed) {
			if (!child) {
				child = json_object();
				if (!child || json_object_set_new(cur, s->key, child)) {
					json_decref(v);
					return -ENOMEM;
				}
			}
			cur = child;
			continue;
		}
		if (!child) {
			child = json_array();
			if (!child || json_object_set_new(cur, s->key, child)) {
				json_decref(v);
				return -ENOMEM;
			}
		}
		if (!json_is_array(child) || s->index > json_array_size(child)) {
			size_t have = json_is_array(child) ? json_array_size(child) : 0;

			json_decref(v);
			return fail(err, errlen,
				    "--set %s: %s has %zu entries (set [0] to [%zu], the last one "
				    "appends)", path, s->key, have, have);
		}
		if (s->index == json_array_size(child)) {
			/* Appending: the new entry is v itself, or an object
			 * that the rest of the path fills. */
			json_t *fresh = last ? v : json_object();

			if (!fresh || json_array_append_new(child, fresh)) {
				if (!last)
					json_decref(v);
				return -ENOMEM;
			}
			if (last)
				return 0;
			cur = fresh;
			continue;
		}
		if (last)
			return json_array_set_new(child, s->index, v) ? -ENOMEM : 0;
		cur = json_array_get(child, s->index);
	}
	json_decref(v);
	return -EINVAL; /* not reached: the last step returns */
}

int cvmbus_vm_setup_builder_set(struct cvmbus_vm_setup_builder *b, const char *path,
				const char *value, char *err, size_t errlen)
{
	json_t *v;

	if (!b || !path || !value)
		return -EINVAL;
	/* JSON when it is JSON (4, true, null, "x", {...}), else the text as
	 * a string, so that --set topology.isolation=tdx needs no quotes. */
	v = json_loads(value, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (!v)
		v = json_string(value);
	return builder_put(b, path, v, err, errlen);
}

/* The first device of a type in the document: its index, or -1. */
static long first_device(const struct cvmbus_vm_setup_builder *b, const char *type)
{
	const json_t *list = json_object_get(b->doc, "devices");
	size_t i;
	json_t *d;

	if (!json_is_array(list))
		return -1;
	json_array_foreach(list, i, d) {
		const json_t *t = json_object_get(d, "type");

		if (json_is_string(t) && !strcmp(json_string_value(t), type))
			return (long)i;
	}
	return -1;
}

static const struct {
	const char *name;
	bool has_arg;
} setup_options[] = {
	{ "packets", true },     { "bytes", true },       { "disk-bytes", true },
	{ "report", true },      { "json", true },        { "no-devices", false },
	{ "disk-image", true },  { "disk-size", true },   { "disk-owner", true },
	{ "nic-owner", true },   { "nic-backend", true }, { "set", true },
};

int cvmbus_vm_setup_option_has_arg(const char *name)
{
	int t = cvmbus_vm_config_option_has_arg(name);

	if (t >= 0)
		return t;
	for (size_t i = 0; i < sizeof(setup_options) / sizeof(setup_options[0]); i++)
		if (!strcmp(name, setup_options[i].name))
			return setup_options[i].has_arg;
	return -1;
}

/* A topology option: checked by the shared parser (same words as every
 * other subcommand), then written into the document in canonical form. */
static int topology_option(struct cvmbus_vm_setup_builder *b, const char *name,
			   const char *value, char *err, size_t errlen)
{
	struct cvmbus_vm_config c;
	char ver[16];
	int rc;

	cvmbus_vm_config_default(&c);
	rc = cvmbus_vm_config_option(&c, name, value, err, errlen);
	if (rc <= 0)
		return rc;
	if (!strcmp(name, "isolation"))
		rc = builder_put(b, "topology.isolation", json_string(value), err, errlen);
	else if (!strcmp(name, "paravisor") || !strcmp(name, "no-paravisor"))
		rc = builder_put(b, "topology.paravisor", json_boolean(c.paravisor), err, errlen);
	else if (!strcmp(name, "confidential-vmbus") || !strcmp(name, "no-confidential-vmbus"))
		rc = builder_put(b, "topology.confidential_vmbus", json_boolean(c.confidential_vmbus),
				 err, errlen);
	else if (!strcmp(name, "max-version")) {
		cvmbus_wire_version_format(c.max_version, ver, sizeof(ver));
		rc = builder_put(b, "topology.max_version", json_string(ver), err, errlen);
	} else if (!strcmp(name, "arch"))
		rc = builder_put(b, "topology.arch", json_string(cvmbus_arch_name(c.arch)), err,
				 errlen);
	else if (!strcmp(name, "detect"))
		rc = builder_put(b, "topology.detect", json_string(value), err, errlen);
	else if (!strcmp(name, "vcpus"))
		rc = builder_put(b, "topology.vcpus", json_integer((json_int_t)c.vcpus), err, errlen);
	else if (!strcmp(name, "seed")) {
		/* JSON integers are signed 64-bit. */
		if (c.seed > (uint64_t)INT64_MAX)
			return fail(err, errlen, "--seed: '%s' is more than 2^63-1", value);
		rc = builder_put(b, "topology.seed", json_integer((json_int_t)c.seed), err, errlen);
	} else if (!strcmp(name, "attest")) {
		rc = builder_put(b, "topology.attest", json_string(value), err, errlen);
	} else if (!strcmp(name, "expect")) {
		/* Repeatable: each --expect adds one pinned measurement. */
		json_t *topo = json_object_get(b->doc, "topology");
		json_t *list = topo ? json_object_get(topo, "expect") : NULL;
		json_t *copy = list && json_is_array(list) ? json_deep_copy(list) : json_array();

		if (!copy || json_array_append_new(copy, json_string(value)))
			return -ENOMEM;
		rc = builder_put(b, "topology.expect", copy, err, errlen);
	} else if (!strcmp(name, "processes")) {
		rc = builder_put(b, "topology.processes", json_true(), err, errlen);
	} else /* native */
		rc = builder_put(b, "topology.seed", json_null(), err, errlen);
	return rc ? rc : 1;
}

static int device_option(struct cvmbus_vm_setup_builder *b, const char *name, const char *value,
			 char *err, size_t errlen)
{
	const char *type = !strncmp(name, "disk-", 5) ? "disk" : "nic";
	const char *field = name + strlen(type) + 1;
	long i = first_device(b, type);
	char path[48];
	json_t *v;
	int rc;

	if (i < 0)
		return fail(err, errlen,
			    "--%s: the configuration has no %s (add one with --set "
			    "'devices[N]={\"type\":\"%s\"}')", name, type, type);
	if (!strcmp(field, "owner") && strcmp(value, "host") && strcmp(value, "paravisor"))
		return fail(err, errlen, "--%s: '%s' is not host or paravisor", name, value);
	if (!strcmp(field, "backend") && strcmp(value, "loopback") && strcmp(value, "tap"))
		return fail(err, errlen, "--%s: '%s' is not loopback or tap", name, value);
	if (!strcmp(field, "size")) {
		uint64_t n;

		if (cvmbus_vm_size_parse(value, &n))
			return fail(err, errlen, "--%s: '%s' is not a size (16M, 1G, bytes)", name,
				    value);
	}
	snprintf(path, sizeof(path), "devices[%ld].%s", i, field);
	v = json_string(value);
	rc = builder_put(b, path, v, err, errlen);
	if (!rc && !strcmp(field, "owner") && i < (long)CVMBUS_VM_MAX_DEVICES)
		b->owner_set[i] = true;
	return rc ? rc : 1;
}

int cvmbus_vm_setup_builder_option(struct cvmbus_vm_setup_builder *b, const char *name,
				   const char *value, char *err, size_t errlen)
{
	int has_arg = cvmbus_vm_setup_option_has_arg(name);
	int rc;

	if (!b || !name)
		return -EINVAL;
	if (has_arg < 0)
		return 0;
	if (cvmbus_vm_config_option_has_arg(name) >= 0)
		return topology_option(b, name, value, err, errlen);
	if (has_arg && !value)
		return fail(err, errlen, "--%s needs a value", name);
	if (!has_arg && value)
		return fail(err, errlen, "--%s takes no value (got '%s')", name, value);

	if (!strcmp(name, "packets") || !strcmp(name, "bytes")) {
		bool packets = name[0] == 'p';
		unsigned long long hi = packets ? MAX_PACKETS : MAX_BYTES;
		unsigned long long n;
		char *end;

		errno = 0;
		n = strtoull(value, &end, 10);
		if (!isdigit((unsigned char)value[0]) || errno || *end || !n || n > hi)
			return fail(err, errlen, "--%s: '%s' is not a number from 1 to %llu", name,
				    value, hi);
		rc = builder_put(b, packets ? "workload.packets" : "workload.bytes",
				 json_integer((json_int_t)n), err, errlen);
	} else if (!strcmp(name, "disk-bytes")) {
		uint64_t n;

		if (cvmbus_vm_size_parse(value, &n))
			return fail(err, errlen, "--disk-bytes: '%s' is not a size (1M, 4096)", value);
		rc = builder_put(b, "workload.disk_bytes", json_string(value), err, errlen);
	} else if (!strcmp(name, "report") || !strcmp(name, "json")) {
		char path[32];

		if (!value[0])
			return fail(err, errlen, "--%s: an empty file name", name);
		snprintf(path, sizeof(path), "outputs.%s", name);
		rc = builder_put(b, path, json_string(value), err, errlen);
	} else if (!strcmp(name, "no-devices")) {
		rc = builder_put(b, "devices", json_array(), err, errlen);
	} else if (!strcmp(name, "set")) {
		const char *eq = strchr(value, '=');
		char path[128];

		if (!eq || eq == value || (size_t)(eq - value) >= sizeof(path))
			return fail(err, errlen, "--set: '%.60s' is not PATH=VALUE (e.g. "
				    "topology.vcpus=4)", value);
		memcpy(path, value, (size_t)(eq - value));
		path[eq - value] = '\0';
		rc = cvmbus_vm_setup_builder_set(b, path, eq + 1, err, errlen);
	} else {
		return device_option(b, name, value, err, errlen);
	}
	return rc ? rc : 1;
}

int cvmbus_vm_setup_builder_finish(struct cvmbus_vm_setup_builder *b,
				   struct cvmbus_vm_setup *out, char *err, size_t errlen)
{
	static const char *const keys[] = { "topology", "devices", "workload", "outputs", NULL };
	struct cvmbus_vm_setup s;
	const json_t *v;
	int rc;

	if (!b || !out)
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	cvmbus_vm_config_default(&s.topology);
	/* Every field below is present in the default document, so these
	 * starting values only matter for a document a caller emptied. */
	s.workload.packets = 8;
	s.workload.bytes = 64;
	s.workload.disk_bytes = 1u << 20;
	if ((rc = check_keys(b->doc, "", keys, err, errlen)))
		return rc;
	if ((v = json_object_get(b->doc, "topology")) &&
	    (rc = parse_topology(v, &s.topology, err, errlen)))
		return rc;
	if ((v = json_object_get(b->doc, "devices")) &&
	    (rc = parse_devices(v, b, &s, err, errlen)))
		return rc;
	if ((v = json_object_get(b->doc, "workload")) &&
	    (rc = parse_workload(v, &s, err, errlen)))
		return rc;
	if ((v = json_object_get(b->doc, "outputs")) && (rc = parse_outputs(v, &s, err, errlen)))
		return rc;
	for (size_t i = 0; i < s.device_count; i++) {
		const struct cvmbus_vm_device_spec *d = &s.devices[i];
		char have[24], want[24];

		if (d->type != CVMBUS_VM_DEVICE_DISK || !d->disk.size ||
		    s.workload.disk_bytes <= d->disk.size)
			continue;
		cvmbus_vm_size_format(s.workload.disk_bytes, want, sizeof(want));
		cvmbus_vm_size_format(d->disk.size, have, sizeof(have));
		return fail(err, errlen, "workload.disk_bytes: %s is more than devices[%zu].size (%s)",
			    want, i, have);
	}
	*out = s;
	return 0;
}

void cvmbus_vm_setup_default(struct cvmbus_vm_setup *out)
{
	struct cvmbus_vm_setup_builder *b = NULL;

	memset(out, 0, sizeof(*out));
	cvmbus_vm_config_default(&out->topology);
	out->workload.packets = 8;
	out->workload.bytes = 64;
	out->workload.disk_bytes = 1u << 20;
	/* Only memory can make this fail (the text is fixed and tested):
	 * then the caller gets the topology default and no devices. */
	if (cvmbus_vm_setup_builder_new(&b))
		return;
	(void)cvmbus_vm_setup_builder_finish(b, out, NULL, 0);
	cvmbus_vm_setup_builder_free(b);
}

/* ---- back to JSON --------------------------------------------------------------- */

static json_t *size_json(uint64_t n)
{
	char buf[32];

	if (!n)
		return json_null();
	cvmbus_vm_size_format(n, buf, sizeof(buf));
	return isdigit((unsigned char)buf[strlen(buf) - 1]) ? json_integer((json_int_t)n)
							     : json_string(buf);
}

static json_t *text_json(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static json_t *device_json(const struct cvmbus_vm_device_spec *d)
{
	char mac[24];

	if (d->type == CVMBUS_VM_DEVICE_DISK)
		return json_pack("{s:s, s:s, s:s, s:o, s:b}", "type", "disk", "owner",
				 cvmbus_vm_owner_name(d->owner), "image", d->disk.image, "size",
				 size_json(d->disk.size), "read_only", d->disk.read_only);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", d->nic.mac[0], d->nic.mac[1],
		 d->nic.mac[2], d->nic.mac[3], d->nic.mac[4], d->nic.mac[5]);
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:o}", "type", "nic", "owner",
			 cvmbus_vm_owner_name(d->owner), "backend",
			 cvmbus_vm_nic_backend_name(d->nic.backend), "mac", mac, "mtu",
			 (int)d->nic.mtu,
			 "namespaces",
			 d->nic.netns_guest[0] || d->nic.netns_host[0]
				 ? json_pack("{s:o, s:o}", "guest", text_json(d->nic.netns_guest),
					     "host", text_json(d->nic.netns_host))
				 : json_null());
}

char *cvmbus_vm_setup_to_json(const struct cvmbus_vm_setup *s)
{
	const struct cvmbus_vm_config *t = &s->topology;
	json_t *devices = json_array(), *doc;
	char ver[16], *text, *out = NULL;

	if (!devices)
		return NULL;
	for (size_t i = 0; i < s->device_count; i++)
		json_array_append_new(devices, device_json(&s->devices[i]));
	cvmbus_wire_version_format(t->max_version, ver, sizeof(ver));
	doc = json_pack("{s:{s:s, s:b, s:b, s:s, s:s, s:s, s:i, s:o}, s:o,"
			" s:{s:i, s:i, s:o}, s:{s:o, s:o}}",
			"topology", "isolation", cvmbus_isolation_name(t->isolation), "paravisor",
			t->paravisor, "confidential_vmbus", t->confidential_vmbus, "max_version",
			ver, "arch", cvmbus_arch_name(t->arch), "detect",
			cvmbus_detect_name(t->detect), "vcpus", (int)t->vcpus, "seed",
			t->deterministic ? json_integer((json_int_t)t->seed) : json_null(),
			"devices", devices, "workload", "packets", (int)s->workload.packets, "bytes",
			(int)s->workload.bytes, "disk_bytes", size_json(s->workload.disk_bytes),
			"outputs", "report", text_json(s->outputs.report), "json",
			text_json(s->outputs.json));
	if (!doc)
		return NULL;
	if (t->processes)
		json_object_set_new(json_object_get(doc, "topology"), "processes", json_true());
	/* Attestation only when asked for, so that the printed default stays
	 * the embedded text. */
	if (t->attest != CVMBUS_VM_ATTEST_NONE || t->expect_count) {
		static const char *const attests[] = { "none", "require", "fallback" };
		json_t *topo = json_object_get(doc, "topology");
		json_t *list = json_array();

		for (size_t i = 0; list && i < t->expect_count; i++) {
			char hex[97];

			for (size_t k = 0; k < 48; k++)
				snprintf(hex + 2 * k, 3, "%02x", t->expect[i][k]);
			json_array_append_new(list, json_string(hex));
		}
		json_object_set_new(topo, "attest", json_string(attests[t->attest]));
		json_object_set_new(topo, "expect", list);
	}
	text = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	if (!text)
		return NULL;
	/* Ours, with its newline, from malloc whatever allocator jansson was
	 * set up with. */
	out = malloc(strlen(text) + 2);
	if (out) {
		memcpy(out, text, strlen(text));
		memcpy(out + strlen(text), "\n", 2);
	}
	free(text);
	return out;
}
