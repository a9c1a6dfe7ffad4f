/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus disk`: export a disk image over NBD, every byte of it going
 * through a cvmbus VM's synthetic SCSI disk. It creates the image (sparse)
 * if asked to, finds nbdkit-cvmbus-plugin.so (next to this binary in a
 * build tree, or where `make install` put it), checks the options, and
 * execs `nbdkit --unix PATH --foreground PLUGIN image=... path=...`: from
 * then on nbdkit is the process, so signals, exit codes and its own logs
 * are nbdkit's. Tool layer; the plugin is plugins/nbdkit, the model
 * src/vm/disk.c; docs/DISK.md.
 *
 * Exit codes (commands.h): 2 bad command line, a topology that cannot
 * exist or cannot carry the path, a missing image without --size, a socket
 * path already taken; 1 the image cannot be created, nbdkit or the plugin
 * cannot be found or run. Once exec'd, nbdkit's own (0 after a clean
 * shutdown, 1 if the VM failed to boot).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cvmbus/vm.h>
#include <cvmbus/vm_disk.h>

#include "commands.h"
#include "vm_render.h"

#define DISK_WHO "cvmbus disk"
#define DISK_PLUGIN_NAME "nbdkit-cvmbus-plugin.so"
/* Plugin keys forwarded to nbdkit, and room for nbdkit's own arguments. */
#define DISK_MAX_KEYS 40u
#define DISK_MAX_ARGV (DISK_MAX_KEYS + 16u)

/* Debian's multiarch directory, where a /usr install puts the plugin. */
#if defined(__x86_64__)
#define DISK_MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define DISK_MULTIARCH "aarch64-linux-gnu"
#else
#define DISK_MULTIARCH ""
#endif

/* Debian's nbdkit plugin directory: a /usr install of cvmbus puts the
 * plugin there, where `nbdkit cvmbus` finds it too. */
#define DISK_SYSTEM_PLUGIN "/usr/lib/" DISK_MULTIARCH "/nbdkit/plugins/" DISK_PLUGIN_NAME

struct disk_opts {
	const char *image, *socket, *plugin, *nbdkit, *run, *report;
	enum cvmbus_vm_disk_path path;
	uint64_t size;
	bool read_only, print_command, verbose;
	struct cvmbus_vm_config vm;
	/* key=value strings for the plugin, malloc'd. */
	char *keys[DISK_MAX_KEYS];
	size_t nkeys;
};

static void disk_usage(FILE *out)
{
	fprintf(out,
		"usage: cvmbus disk --image FILE --socket PATH [--path confidential|host]\n"
		"                   [--size N] [--read-only] [--workers N] [--depth N]\n"
		"                   [--chunk N] [--timeout SEC] [--report FILE] [--run CMD]\n"
		"                   [--plugin FILE] [--nbdkit PROG] [--print-command]\n"
		"                   [--verbose] [topology options]\n"
		"\n"
		"Export FILE over NBD on the Unix socket PATH (nbd+unix:///?socket=PATH),\n"
		"every request going through a cvmbus VM's synthetic SCSI disk: the guest's\n"
		"storvsc, the ring, the VSP and the file. Runs nbdkit in the foreground\n"
		"until it is stopped (SIGINT / SIGTERM).\n"
		"\n"
		"  --path confidential  the paravisor serves the disk: confidential ring and\n"
		"                       external memory, no data page ever host-visible\n"
		"                       (default; needs a paravisor and a confidential\n"
		"                       connection)\n"
		"  --path host          the host serves it (relayed by the paravisor if any):\n"
		"                       data crosses host-visible bounce pages\n"
		"  --size N             create FILE, sparse, with N bytes (K, M, G, T\n"
		"                       suffixes; a multiple of 512) if it does not exist\n"
		"  --read-only          serve it read-only\n"
		"  --workers N, --depth N\n"
		"                       guest buffers: workers x depth chunks in flight at\n"
		"                       once (defaults 4 and 4)\n"
		"  --chunk N            guest buffer per chunk (default 128K, at most 256K)\n"
		"  --timeout SEC        per guest request before the disk counts as dead\n"
		"                       (default 10)\n"
		"  --report FILE        at exit, write what the VM saw (key=value lines)\n"
		"  --run CMD            nbdkit's captive mode: run CMD ($uri, $unixsocket set)\n"
		"                       and stop when it exits\n"
		"  --plugin FILE        the plugin (default: found next to this binary or in\n"
		"                       the install's lib/nbdkit/plugins)\n"
		"  --nbdkit PROG        the nbdkit binary (default: nbdkit in PATH)\n"
		"  --print-command      print the nbdkit command line and exit\n"
		"  --verbose            nbdkit -v (its debug lines and cvmbus's progress)\n"
		"\n%s",
		cvmbus_vm_options_help);
}

static int disk_key(struct disk_opts *o, const char *key, const char *value)
{
	char *s;

	if (o->nkeys >= DISK_MAX_KEYS) {
		fprintf(stderr, DISK_WHO ": too many options\n");
		return -1;
	}
	if (asprintf(&s, "%s=%s", key, value) < 0) {
		fprintf(stderr, DISK_WHO ": out of memory\n");
		return -1;
	}
	o->keys[o->nkeys++] = s;
	return 0;
}

/* N with an optional binary suffix (K, M, G, T; a trailing "iB" or "B" is
 * fine), whole bytes. */
static int disk_parse_size(const char *what, const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		goto bad;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		goto bad;
	*out = (uint64_t)v << shift;
	return 0;
bad:
	fprintf(stderr, DISK_WHO ": %s: '%s' is not a size (N, or N with K, M, G, T)\n", what,
		s ? s : "");
	return -1;
}

static int disk_parse_uint(const char *what, const char *s, uint64_t lo, uint64_t hi,
			   uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!s || !*s || *s == '-' || *s == '+')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, DISK_WHO ": %s: '%s' is not a number from %" PRIu64 " to %" PRIu64 "\n",
		what, s ? s : "", lo, hi);
	return -1;
}

/* One topology option (vm.h's, shared with `cvmbus run`): checked here so
 * a bad value is refused with the same words, and forwarded as a plugin
 * key (flags as name=true: the plugin reads no-X=true as X=false).
 * 1 taken, 0 not a topology option, -1 bad. */
static int disk_topology(struct disk_opts *o, int argc, char **argv, int *i)
{
	const char *value = NULL;
	char name[48];
	int rc;

	rc = tool_vm_option_ex(argc, argv, i, &o->vm, DISK_WHO, name, sizeof(name), &value);
	if (rc <= 0)
		return rc;
	if (!strcmp(name, "seed")) {
		/* nbdkit's threads cannot wait inside a deterministic run. */
		fprintf(stderr, DISK_WHO ": --seed: the disk runs on the native executor only "
				"(nbdkit's threads are real threads)\n");
		return -1;
	}
	return disk_key(o, name, value ? value : "true") < 0 ? -1 : 1;
}

static bool disk_takes_value(const char *a)
{
	static const char *const names[] = { "--image", "--socket", "--path", "--size",
					     "--workers", "--depth", "--chunk", "--timeout", "--report",
					     "--run", "--plugin", "--nbdkit" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(a, names[i]))
			return true;
	return false;
}

static int disk_parse(int argc, char **argv, struct disk_opts *o)
{
	bool cvmbus_set = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;
		int rc;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			disk_usage(stdout);
			return 1;
		}
		if (!strcmp(a, "--read-only")) {
			o->read_only = true;
			continue;
		}
		if (!strcmp(a, "--print-command")) {
			o->print_command = true;
			continue;
		}
		if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			o->verbose = true;
			continue;
		}
		rc = disk_topology(o, argc, argv, &i);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			if (strstr(a, "confidential-vmbus"))
				cvmbus_set = true;
			continue;
		}
		if (strncmp(a, "--", 2) || !strcmp(a, "--")) {
			fprintf(stderr, DISK_WHO ": unknown argument '%s' (see 'cvmbus disk --help')\n",
				a);
			return -1;
		}
		if (!disk_takes_value(a)) {
			fprintf(stderr, DISK_WHO ": unknown option '%s' (see 'cvmbus disk --help')\n",
				a);
			return -1;
		}
		if (!v) {
			fprintf(stderr, DISK_WHO ": %s needs a value (see 'cvmbus disk --help')\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--image")) {
			o->image = v;
		} else if (!strcmp(a, "--socket")) {
			o->socket = v;
		} else if (!strcmp(a, "--path")) {
			if (cvmbus_vm_disk_path_parse(v, &o->path)) {
				fprintf(stderr, DISK_WHO ": --path: '%s' is not confidential or host\n",
					v);
				return -1;
			}
		} else if (!strcmp(a, "--size")) {
			if (disk_parse_size("--size", v, &o->size))
				return -1;
			if (!o->size || o->size % 512) {
				fprintf(stderr, DISK_WHO ": --size: %s is not a positive multiple of "
						"512\n", v);
				return -1;
			}
		} else if (!strcmp(a, "--workers")) {
			if (disk_parse_uint("--workers", v, 1, 64, &n) || disk_key(o, "workers", v))
				return -1;
		} else if (!strcmp(a, "--depth")) {
			if (disk_parse_uint("--depth", v, 1, 32, &n) || disk_key(o, "depth", v))
				return -1;
		} else if (!strcmp(a, "--chunk")) {
			if (disk_parse_size("--chunk", v, &n))
				return -1;
			if (!n || n % 4096 || n > 256 * 1024) {
				fprintf(stderr, DISK_WHO ": --chunk: %s is not a multiple of 4096 up "
						"to 256K\n", v);
				return -1;
			}
			if (disk_key(o, "chunk", v))
				return -1;
		} else if (!strcmp(a, "--timeout")) {
			if (disk_parse_uint("--timeout", v, 1, 3600, &n) || disk_key(o, "timeout", v))
				return -1;
		} else if (!strcmp(a, "--report")) {
			o->report = v;
		} else if (!strcmp(a, "--run")) {
			o->run = v;
		} else if (!strcmp(a, "--plugin")) {
			o->plugin = v;
		} else if (!strcmp(a, "--nbdkit")) {
			o->nbdkit = v;
		}
	}
	if (!o->image || !o->socket) {
		fprintf(stderr, DISK_WHO ": --image FILE and --socket PATH are required (see "
				"'cvmbus disk --help')\n");
		return -1;
	}
	/* As the plugin does: no paravisor, no Confidential VMBus, unless
	 * the user asked for it (then the check below says why not). */
	if (!o->vm.paravisor && !cvmbus_set) {
		o->vm.confidential_vmbus = false;
		if (disk_key(o, "confidential-vmbus", "false"))
			return -1;
	}
	return 0;
}

static bool disk_is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The plugin: --plugin, $CVMBUS_NBDKIT_PLUGIN, next to this binary in a
 * build tree (tools/cvmbus/cvmbus -> plugins/nbdkit/), then the install's
 * libdir (bin/cvmbus -> lib[/<multiarch>]/nbdkit/plugins/), then Debian's
 * nbdkit plugin directory. */
static int disk_find_plugin(const struct disk_opts *o, char *out, size_t cap)
{
	static const char *const rel[] = {
		"../../plugins/nbdkit/" DISK_PLUGIN_NAME,
		"../lib/" DISK_MULTIARCH "/nbdkit/plugins/" DISK_PLUGIN_NAME,
		"../lib64/nbdkit/plugins/" DISK_PLUGIN_NAME,
		"../lib/nbdkit/plugins/" DISK_PLUGIN_NAME,
	};
	char exe[PATH_MAX], cand[PATH_MAX + 64], *slash;
	const char *env = getenv("CVMBUS_NBDKIT_PLUGIN");
	ssize_t n;

	if (o->plugin || (env && *env)) {
		const char *p = o->plugin ? o->plugin : env;

		if (!disk_is_file(p)) {
			fprintf(stderr, DISK_WHO ": plugin %s: no such file\n", p);
			return -1;
		}
		snprintf(out, cap, "%s", p);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
				if (disk_is_file(cand) && realpath(cand, out)) {
					return 0;
				}
			}
		}
	}
	if (disk_is_file(DISK_SYSTEM_PLUGIN)) {
		snprintf(out, cap, "%s", DISK_SYSTEM_PLUGIN);
		return 0;
	}
	fprintf(stderr, DISK_WHO ": cannot find " DISK_PLUGIN_NAME " (build it: it needs "
			"nbdkit-plugin-dev; or give --plugin FILE)\n");
	return -1;
}

/* Create the image, sparse, if it does not exist and a size was given. */
static int disk_prepare_image(const struct disk_opts *o)
{
	struct stat st;
	int fd;

	if (stat(o->image, &st) == 0) {
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
			fprintf(stderr, DISK_WHO ": image %s is not a file\n", o->image);
			return CVMBUS_EXIT_USAGE;
		}
		if (o->size && S_ISREG(st.st_mode) && (uint64_t)st.st_size != o->size)
			fprintf(stderr,
				DISK_WHO ": image %s exists (%" PRIu64 " bytes): --size ignored\n",
				o->image, (uint64_t)st.st_size);
		return 0;
	}
	if (errno != ENOENT) {
		fprintf(stderr, DISK_WHO ": image %s: %s\n", o->image, strerror(errno));
		return CVMBUS_EXIT_FAILURE;
	}
	if (!o->size) {
		fprintf(stderr, DISK_WHO ": image %s does not exist (give --size N to create it)\n",
			o->image);
		return CVMBUS_EXIT_USAGE;
	}
	if (o->read_only) {
		fprintf(stderr, DISK_WHO ": image %s does not exist, and a new empty disk cannot "
				"be read-only\n", o->image);
		return CVMBUS_EXIT_USAGE;
	}
	fd = open(o->image, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)o->size) < 0) {
		fprintf(stderr, DISK_WHO ": cannot create image %s: %s\n", o->image,
			strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(o->image);
		}
		return CVMBUS_EXIT_FAILURE;
	}
	close(fd);
	fprintf(stderr, DISK_WHO ": created %s (%" PRIu64 " bytes, sparse)\n", o->image, o->size);
	return 0;
}

/* The socket path must be free. nbdkit leaves its socket behind when it
 * is stopped: a socket nobody accepts on is stale and removed; one that
 * answers is in use; anything else is not ours to touch. */
static int disk_check_socket(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		fprintf(stderr, DISK_WHO ": %s exists and is not a socket\n", path);
		return CVMBUS_EXIT_USAGE;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, DISK_WHO ": socket path %s is too long\n", path);
		return CVMBUS_EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, DISK_WHO ": socket: %s\n", strerror(errno));
		return CVMBUS_EXIT_FAILURE;
	}
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		fprintf(stderr, DISK_WHO ": socket %s is in use (another nbdkit serves it)\n",
			path);
		return CVMBUS_EXIT_USAGE;
	}
	if (errno != ECONNREFUSED || unlink(path) < 0) {
		fprintf(stderr, DISK_WHO ": socket %s exists and cannot be reused\n", path);
		return CVMBUS_EXIT_USAGE;
	}
	return 0;
}

/* Print argv as a shell would need it (single quotes where needed). */
static void disk_print_argv(char *const *argv, FILE *out)
{
	for (size_t i = 0; argv[i]; i++) {
		const char *s = argv[i];
		bool plain = *s != '\0';

		for (const char *p = s; *p; p++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				    "_-./=:,+@%", *p))
				plain = false;
		fputs(i ? " " : "", out);
		if (plain) {
			fputs(s, out);
			continue;
		}
		fputc('\'', out);
		for (const char *p = s; *p; p++) {
			if (*p == '\'')
				fputs("'\\''", out);
			else
				fputc(*p, out);
		}
		fputc('\'', out);
	}
	fputc('\n', out);
}

int cmd_disk(int argc, char **argv)
{
	struct disk_opts o;
	char plugin[PATH_MAX], err[160], *image_key = NULL, *path_key = NULL, *report_key = NULL;
	char *nargv[DISK_MAX_ARGV];
	size_t k = 0;
	int rc;

	memset(&o, 0, sizeof(o));
	cvmbus_vm_config_default(&o.vm);
	o.path = CVMBUS_VM_DISK_PATH_CONFIDENTIAL;
	rc = disk_parse(argc, argv, &o);
	if (rc) {
		rc = rc > 0 ? CVMBUS_EXIT_OK : CVMBUS_EXIT_USAGE;
		goto out;
	}
	rc = cvmbus_vm_config_check(&o.vm, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, DISK_WHO ": %s\n", err);
		rc = CVMBUS_EXIT_USAGE;
		goto out;
	}
	if (o.path == CVMBUS_VM_DISK_PATH_CONFIDENTIAL && !o.vm.paravisor) {
		fprintf(stderr, DISK_WHO ": --path confidential needs a paravisor (use --path host "
				"with --no-paravisor)\n");
		rc = CVMBUS_EXIT_USAGE;
		goto out;
	}
	if (o.path == CVMBUS_VM_DISK_PATH_CONFIDENTIAL &&
	    (!o.vm.confidential_vmbus || o.vm.max_version < CVMBUS_VERSION_6_0)) {
		/* The plugin would boot and then refuse the offer (no 0x4 on
		 * it): say it now. Whatever else keeps the connection from
		 * being confidential is found at boot, and nbdkit says it. */
		fprintf(stderr, DISK_WHO ": --path confidential needs a Confidential VMBus "
				"connection: a paravisor offering it and version 6.0 (use --path "
				"host otherwise)\n");
		rc = CVMBUS_EXIT_USAGE;
		goto out;
	}
	rc = o.print_command ? 0 : disk_check_socket(o.socket);
	if (rc)
		goto out;
	if (disk_find_plugin(&o, plugin, sizeof(plugin))) {
		rc = CVMBUS_EXIT_FAILURE;
		goto out;
	}
	if (!o.print_command) {
		rc = disk_prepare_image(&o);
		if (rc)
			goto out;
	}

	if (asprintf(&image_key, "image=%s", o.image) < 0 ||
	    asprintf(&path_key, "path=%s", cvmbus_vm_disk_path_name(o.path)) < 0 ||
	    (o.report && asprintf(&report_key, "report=%s", o.report) < 0)) {
		fprintf(stderr, DISK_WHO ": out of memory\n");
		rc = CVMBUS_EXIT_FAILURE;
		goto out;
	}
	nargv[k++] = (char *)(o.nbdkit ? o.nbdkit : "nbdkit");
	nargv[k++] = (char *)"--unix";
	nargv[k++] = (char *)o.socket;
	nargv[k++] = (char *)"--foreground";
	if (o.verbose)
		nargv[k++] = (char *)"--verbose";
	if (o.run) {
		nargv[k++] = (char *)"--run";
		nargv[k++] = (char *)o.run;
	}
	nargv[k++] = plugin;
	nargv[k++] = image_key;
	nargv[k++] = path_key;
	if (o.read_only)
		nargv[k++] = (char *)"readonly=true";
	if (report_key)
		nargv[k++] = report_key;
	for (size_t i = 0; i < o.nkeys; i++)
		nargv[k++] = o.keys[i];
	nargv[k] = NULL;

	if (o.print_command) {
		disk_print_argv(nargv, stdout);
		rc = CVMBUS_EXIT_OK;
		goto out;
	}
	fprintf(stderr, DISK_WHO ": serving %s through the %s path at nbd+unix:///?socket=%s\n",
		o.image, cvmbus_vm_disk_path_name(o.path), o.socket);
	fflush(NULL);
	execvp(nargv[0], nargv);
	fprintf(stderr, DISK_WHO ": cannot run %s: %s%s\n", nargv[0], strerror(errno),
		errno == ENOENT ? " (install nbdkit, or give --nbdkit PROG)" : "");
	rc = CVMBUS_EXIT_FAILURE;
out:
	free(image_key);
	free(path_key);
	free(report_key);
	for (size_t i = 0; i < o.nkeys; i++)
		free(o.keys[i]);
	return rc;
}
