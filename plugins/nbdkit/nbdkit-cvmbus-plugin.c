/* SPDX-License-Identifier: MIT */
/*
 * nbdkit-cvmbus-plugin: an NBD export whose every byte goes through a
 * cvmbus VM's synthetic SCSI disk. nbdkit loads this module; after it has
 * forked, the plugin boots a VM (topology from the plugin's keys) with the
 * disk offered by the paravisor (path=confidential) or by the host
 * (path=host), and serves pread, pwrite, flush and trim through the
 * guest's storvsc, using the disk service of include/cvmbus/vm_disk.h. It
 * sits above the whole of libcvmbus and is what `cvmbus disk` runs; see
 * docs/DISK.md.
 *
 * Thread model: PARALLEL. nbdkit calls from its own threads, which are not
 * the VM's executor threads; the service lets each submit its request into
 * the guest's storvsc and wait for the answer itself, with the executor's
 * mutexes and condition variables, which under the native executor are
 * plain pthread ones (safe from any thread). Requests are independent (each
 * has its own guest buffer per chunk; unaligned writes are serialised
 * inside the service), so nbdkit may issue as many at once as it likes.
 *
 * State: nbdkit's config callbacks carry no context pointer, so the
 * plugin's configuration and its one service live in a single static
 * struct; that is the only global state, and the plugin is the only
 * place it exists.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <cvmbus/log.h>
#include <cvmbus/vm.h>
#include <cvmbus/vm_disk.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

#define PLUGIN_SECRET_MAX 64u

struct plugin_state {
	struct cvmbus_vm_disk_service_config cfg;
	char *image;
	bool have_path;
	bool confidential_vmbus_set; /* the user said it either way */
	char *report_path;
	uint8_t secret[PLUGIN_SECRET_MAX];
	size_t secret_len;
	struct cvmbus_vm_disk_service *svc;
};

static struct plugin_state plugin;

/* cvmbus's log, into nbdkit's: progress lines only with nbdkit -v (as
 * nbdkit's own debug lines), warnings and errors always. The logger calls
 * this under its lock; nbdkit's functions do not log through cvmbus. */
static void plugin_log_sink(void *ctx, enum cvmbus_log_level level, const char *msg)
{
	(void)ctx;
	if (level == CVMBUS_LOG_ERROR)
		nbdkit_error("cvmbus: %s", msg);
	else if (level == CVMBUS_LOG_WARN)
		fprintf(stderr, "nbdkit: cvmbus: warning: %s\n", msg);
	else
		nbdkit_debug("cvmbus: %s", msg);
}

static void cvmbus_load(void)
{
	cvmbus_log_set_sink(plugin_log_sink, NULL);
	memset(&plugin, 0, sizeof(plugin));
	cvmbus_vm_config_default(&plugin.cfg.vm);
	plugin.cfg.disk.path = CVMBUS_VM_DISK_PATH_CONFIDENTIAL;
}

static void cvmbus_unload(void)
{
	cvmbus_vm_disk_service_destroy(plugin.svc);
	plugin.svc = NULL;
	free(plugin.image);
	free(plugin.report_path);
	explicit_bzero(plugin.secret, sizeof(plugin.secret));
	cvmbus_log_set_sink(NULL, NULL);
}

static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);

	if (n == 0 || n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return -1;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

/* A topology key (vm.h's options, without "--"). Flags take a boolean:
 * paravisor=no is --no-paravisor. 1 if it was one, 0 if not, -1 on error. */
static int config_topology(const char *key, const char *value)
{
	char err[160] = "", neg[48];
	int has_arg = cvmbus_vm_config_option_has_arg(key);
	int rc, b;

	if (has_arg < 0)
		return 0;
	if (has_arg) {
		rc = cvmbus_vm_config_option(&plugin.cfg.vm, key, value, err, sizeof(err));
	} else {
		b = nbdkit_parse_bool(value);
		if (b < 0)
			return -1;
		if (!strncmp(key, "no-", 3)) {
			b = !b;
			key += 3;
		}
		if (!strcmp(key, "native")) {
			if (!b) {
				nbdkit_error("native=false: the disk service runs on the native "
					     "executor only");
				return -1;
			}
			rc = cvmbus_vm_config_option(&plugin.cfg.vm, "native", NULL, err, sizeof(err));
		} else {
			snprintf(neg, sizeof(neg), "no-%s", key);
			rc = cvmbus_vm_config_option(&plugin.cfg.vm, b ? key : neg, NULL, err,
						     sizeof(err));
		}
		if (!strcmp(key, "confidential-vmbus"))
			plugin.confidential_vmbus_set = true;
	}
	if (rc < 0) {
		/* The shared parser speaks in command-line options; the words
		 * after the option name are the same. */
		nbdkit_error("%s", err);
		return -1;
	}
	return 1;
}

static int cvmbus_config(const char *key, const char *value)
{
	int rc;

	if (!strcmp(key, "image")) {
		free(plugin.image);
		/* Absolute (nbdkit changes directory when it forks), and not
		 * resolved: the file may not exist yet when size= creates it. */
		plugin.image = nbdkit_absolute_path(value);
		if (!plugin.image)
			return -1;
		return 0;
	}
	if (!strcmp(key, "path")) {
		if (cvmbus_vm_disk_path_parse(value, &plugin.cfg.disk.path)) {
			nbdkit_error("path: '%s' is not confidential or host", value);
			return -1;
		}
		plugin.have_path = true;
		return 0;
	}
	if (!strcmp(key, "size")) {
		int64_t n = nbdkit_parse_size(value);

		if (n < 0)
			return -1;
		if (n == 0 || n % 512) {
			nbdkit_error("size: %s is not a positive multiple of 512", value);
			return -1;
		}
		plugin.cfg.disk.create_bytes = (uint64_t)n;
		return 0;
	}
	if (!strcmp(key, "readonly")) {
		int b = nbdkit_parse_bool(value);

		if (b < 0)
			return -1;
		plugin.cfg.disk.read_only = b;
		return 0;
	}
	if (!strcmp(key, "workers"))
		return nbdkit_parse_unsigned("workers", value, &plugin.cfg.workers);
	if (!strcmp(key, "depth"))
		return nbdkit_parse_unsigned("depth", value, &plugin.cfg.depth);
	if (!strcmp(key, "chunk")) {
		int64_t n = nbdkit_parse_size(value);

		if (n < 0)
			return -1;
		if (n == 0 || n % 4096 || n > 256 * 1024) {
			nbdkit_error("chunk: %s is not a multiple of 4096 up to 256K", value);
			return -1;
		}
		plugin.cfg.chunk_bytes = (uint32_t)n;
		return 0;
	}
	if (!strcmp(key, "bounce"))
		return nbdkit_parse_uint64_t("bounce", value, &plugin.cfg.guest.bounce_pages);
	if (!strcmp(key, "timeout")) {
		unsigned int s;

		if (nbdkit_parse_unsigned("timeout", value, &s) < 0)
			return -1;
		if (s == 0 || s > 3600) {
			nbdkit_error("timeout: %s is not 1..3600 seconds", value);
			return -1;
		}
		plugin.cfg.guest.timeout_ns = (uint64_t)s * 1000000000ull;
		return 0;
	}
	if (!strcmp(key, "vsp-workers"))
		return nbdkit_parse_unsigned("vsp-workers", value, &plugin.cfg.disk.vsp_workers);
	if (!strcmp(key, "report")) {
		free(plugin.report_path);
		/* nbdkit_absolute_path: nbdkit changes directory after fork. */
		plugin.report_path = nbdkit_absolute_path(value);
		return plugin.report_path ? 0 : -1;
	}
	if (!strcmp(key, "secret")) {
		if (parse_hex(value, plugin.secret, sizeof(plugin.secret), &plugin.secret_len)) {
			nbdkit_error("secret: '%s' is not 1..%u bytes of hex", value,
				     PLUGIN_SECRET_MAX);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "fault-after"))
		return nbdkit_parse_uint64_t("fault-after", value, &plugin.cfg.fault_after);
	rc = config_topology(key, value);
	if (rc)
		return rc > 0 ? 0 : -1;
	nbdkit_error("unknown parameter '%s' (see nbdkit cvmbus --help)", key);
	return -1;
}

static int cvmbus_config_complete(void)
{
	char err[160] = "";

	if (!plugin.image) {
		nbdkit_error("image=FILE is required");
		return -1;
	}
	plugin.cfg.disk.image = plugin.image;
	/* Without a paravisor there is no Confidential VMBus to offer: turn
	 * it off unless the user insisted (then the check says why not). */
	if (!plugin.cfg.vm.paravisor && !plugin.confidential_vmbus_set)
		plugin.cfg.vm.confidential_vmbus = false;
	if (cvmbus_vm_config_check(&plugin.cfg.vm, err, sizeof(err)) < 0) {
		nbdkit_error("%s", err);
		return -1;
	}
	if (plugin.cfg.vm.deterministic) {
		nbdkit_error("seed selects the deterministic executor, which cannot serve "
			     "nbdkit's threads: leave it out (or use native=true)");
		return -1;
	}
	if (plugin.cfg.disk.path == CVMBUS_VM_DISK_PATH_CONFIDENTIAL && !plugin.cfg.vm.paravisor) {
		nbdkit_error("path=confidential needs a paravisor (use path=host without one)");
		return -1;
	}
	return 0;
}

/* Threads may only be started here: nbdkit forks (unless --foreground)
 * after config_complete, and threads do not survive a fork. */
static int cvmbus_after_fork(void)
{
	char err[200] = "";
	int rc;

	rc = cvmbus_vm_disk_service_start(&plugin.cfg, &plugin.svc, err, sizeof(err));
	if (rc < 0) {
		nbdkit_error("cannot start the vm: %s (%s)", err[0] ? err : "failed",
			     strerrordesc_np(-rc));
		return -1;
	}
	nbdkit_debug("cvmbus: %s path, %" PRIu64 " bytes, ready",
		     cvmbus_vm_disk_path_name(plugin.cfg.disk.path),
		     cvmbus_vm_disk_service_size(plugin.svc));
	return 0;
}

/* key=value lines: what the tests and a curious user read. */
static void write_report(FILE *f, int snap_rc, int scan_rc, uint64_t view, uint64_t fd)
{
	struct cvmbus_vm_disk_service_stats st;
	const struct cvmbus_vm_report *r = cvmbus_vm_disk_service_report(plugin.svc);
	uint64_t bounce_now = 0;

	cvmbus_vm_disk_service_get_stats(plugin.svc, &st);
	fprintf(f, "path=%s\n", cvmbus_vm_disk_path_name(plugin.cfg.disk.path));
	fprintf(f, "config=%s\n", r->config_text);
	fprintf(f, "state=%s\n", cvmbus_vm_disk_service_state_name(st.state));
	fprintf(f, "error=%d\n", st.error);
	fprintf(f, "run_status=%d\n", r->status);
	fprintf(f, "connection_confidential=%d\n", r->confidential);
	fprintf(f, "relid=%" PRIu32 "\n", st.guest.relid);
	fprintf(f, "offer_flags=0x%x\n", st.guest.offer_flags);
	fprintf(f, "confidential_ring=%d\n", st.guest.confidential_ring);
	fprintf(f, "confidential_external=%d\n", st.guest.confidential_external);
	fprintf(f, "vstor_version=0x%04x\n", st.guest.vstor_version);
	fprintf(f, "size=%" PRIu64 "\n", st.guest.sectors * 512u);
	fprintf(f, "workers=%u\ndepth=%u\nchunk=%u\n", st.workers, st.depth, st.chunk_bytes);
	fprintf(f, "requests=%" PRIu64 "\nfailed=%" PRIu64 "\nchunks=%" PRIu64 "\n", st.requests,
		st.failed, st.chunks);
	fprintf(f, "rmw=%" PRIu64 "\nmax_in_flight=%u\n", st.rmw, st.max_in_flight);
	fprintf(f, "bytes_read=%" PRIu64 "\nbytes_written=%" PRIu64 "\n", st.bytes_read,
		st.bytes_written);
	fprintf(f, "vsc_direct_bytes=%" PRIu64 "\n", st.vsc.direct_bytes);
	fprintf(f, "vsc_max_outstanding=%u\n", st.vsc.max_outstanding);
	fprintf(f, "vsc_timeouts=%" PRIu64 "\n", st.vsc.timeouts);
	fprintf(f, "bounce_pool_pages=%" PRIu64 "\n", st.bounce.pages);
	fprintf(f, "bounce_bytes_to_device=%" PRIu64 "\n", st.bounce.bytes_to_device);
	fprintf(f, "bounce_bytes_from_device=%" PRIu64 "\n", st.bounce.bytes_from_device);
	fprintf(f, "vsp_srbs=%" PRIu64 "\nvsp_abandoned=%" PRIu64 "\nvsp_stops=%" PRIu64 "\n",
		st.disk.vsp.srbs, st.disk.vsp.abandoned, st.disk.vsp_stops);
	fprintf(f, "vsp_gpa_faults=%" PRIu64 "\n", st.disk.vsp.gpa_faults);
	fprintf(f, "snapshot_status=%d\n", snap_rc);
	for (size_t i = 0; i < r->reason_count; i++) {
		fprintf(f, "exposure.%s=%" PRIu64 "\n", r->reasons[i].reason,
			r->reasons[i].pages_now);
		if (!strcmp(r->reasons[i].reason, CVMBUS_BOUNCE_REASON))
			bounce_now += r->reasons[i].pages_now;
	}
	fprintf(f, "exposure_bounce_pages=%" PRIu64 "\n", bounce_now);
	fprintf(f, "exposure_total_pages=%" PRIu64 "\n", r->pages_now);
	if (plugin.secret_len) {
		fprintf(f, "scan_status=%d\n", scan_rc);
		fprintf(f, "secret_hits_view=%" PRIu64 "\nsecret_hits_fd=%" PRIu64 "\n", view, fd);
	}
}

static void cvmbus_cleanup(void)
{
	uint64_t view = 0, fd = 0;
	int snap_rc, scan_rc = 0;
	FILE *f;

	if (!plugin.svc)
		return;
	/* Every connection is gone: take the steady state (the disk's
	 * channel still open) and scan for the secret before stopping. */
	snap_rc = cvmbus_vm_disk_service_snapshot(plugin.svc);
	if (plugin.secret_len)
		scan_rc = cvmbus_vm_disk_service_scan(plugin.svc, plugin.secret, plugin.secret_len,
						      &view, &fd);
	cvmbus_vm_disk_service_stop(plugin.svc);
	if (!plugin.report_path)
		return;
	f = fopen(plugin.report_path, "w");
	if (!f) {
		nbdkit_error("report: cannot write %s: %s", plugin.report_path, strerrordesc_np(errno));
		return;
	}
	write_report(f, snap_rc, scan_rc, view, fd);
	if (fclose(f))
		nbdkit_error("report: cannot write %s: %s", plugin.report_path, strerrordesc_np(errno));
}

static void *cvmbus_open(int readonly)
{
	/* One VM serves every connection: the handle only has to be
	 * non-NULL. */
	(void)readonly;
	return &plugin;
}

static int64_t cvmbus_get_size(void *handle)
{
	return (int64_t)cvmbus_vm_disk_service_size(plugin.svc);
}

static int cvmbus_can_write(void *handle)
{
	return !cvmbus_vm_disk_service_read_only(plugin.svc);
}

static int cvmbus_can_flush(void *handle)
{
	return 1;
}

static int cvmbus_can_trim(void *handle)
{
	return !cvmbus_vm_disk_service_read_only(plugin.svc);
}

static int cvmbus_can_fua(void *handle)
{
	/* FUA is a flush after the write: nbdkit does that for us. */
	return NBDKIT_FUA_EMULATE;
}

static int cvmbus_can_multi_conn(void *handle)
{
	/* One disk behind every connection, and a flush on any of them
	 * flushes the whole backend. */
	return 1;
}

static int cvmbus_is_rotational(void *handle)
{
	return 0;
}

static int fail(const char *what, int rc)
{
	/* The service's errors are -EIO for anything the device did (or
	 * failed to do); the rest are ours. nbdkit sends the errno on.
	 * strerrordesc_np, not strerror: strerror goes through gettext and
	 * the locale lock, and many nbdkit threads failing at once (a dead
	 * device) left that lock taken under a preloaded sanitizer runtime,
	 * hanging nbdkit's exit; strerrordesc_np is a table lookup. */
	nbdkit_error("cvmbus: %s failed: %s", what, strerrordesc_np(-rc));
	nbdkit_set_error(-rc);
	return -1;
}

static int cvmbus_pread(void *handle, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
	int rc = cvmbus_vm_disk_service_pread(plugin.svc, buf, count, offset);

	return rc < 0 ? fail("read", rc) : 0;
}

static int cvmbus_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
			 uint32_t flags)
{
	int rc = cvmbus_vm_disk_service_pwrite(plugin.svc, buf, count, offset);

	return rc < 0 ? fail("write", rc) : 0;
}

static int cvmbus_flush(void *handle, uint32_t flags)
{
	int rc = cvmbus_vm_disk_service_flush(plugin.svc);

	return rc < 0 ? fail("flush", rc) : 0;
}

static int cvmbus_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
	int rc = cvmbus_vm_disk_service_trim(plugin.svc, count, offset);

	return rc < 0 ? fail("trim", rc) : 0;
}

static void cvmbus_dump_plugin(void)
{
	printf("cvmbus_disk_paths=confidential,host\n");
	printf("cvmbus_thread_model=parallel\n");
}

#define CVMBUS_CONFIG_HELP                                                                 \
	"image=FILE            (required) the disk image\n"                                \
	"path=confidential|host which party serves the disk (default confidential)\n"     \
	"size=N                create the image sparse with this size if missing\n"        \
	"readonly=BOOL         serve it read-only\n"                                        \
	"workers=N, depth=N    workers x depth guest buffers: chunks in flight (4, 4)\n"  \
	"chunk=N               guest buffer per chunk, <= 256K (default 128K)\n"          \
	"bounce=PAGES          host path: bounce pool pages (default 256)\n"               \
	"timeout=SECONDS       per guest request (default 10)\n"                           \
	"report=FILE           write what the VM saw (key=value) at exit\n"                \
	"secret=HEX            scan host-visible memory for these bytes at exit\n"         \
	"fault-after=N         debug: stop the VSP with the Nth chunk in flight\n"          \
	"isolation=none|vbs|snp|tdx, paravisor=BOOL, confidential-vmbus=BOOL,\n"           \
	"max-version=X.Y, arch=x86_64|arm64, detect=cpuid|probe, vcpus=N\n"                \
	"                      the VM's topology (as cvmbus run's options)"

static struct nbdkit_plugin cvmbus_plugin = {
	.name = "cvmbus",
	.longname = "cvmbus: a disk behind a simulated Confidential VMBus",
	.version = "0.1.0",
	.description = "serves an image through a cvmbus VM's synthetic SCSI disk",
	.load = cvmbus_load,
	.unload = cvmbus_unload,
	.config = cvmbus_config,
	.config_complete = cvmbus_config_complete,
	.config_help = CVMBUS_CONFIG_HELP,
	.magic_config_key = "image",
	.after_fork = cvmbus_after_fork,
	.cleanup = cvmbus_cleanup,
	.dump_plugin = cvmbus_dump_plugin,
	.open = cvmbus_open,
	.get_size = cvmbus_get_size,
	.can_write = cvmbus_can_write,
	.can_flush = cvmbus_can_flush,
	.can_trim = cvmbus_can_trim,
	.can_fua = cvmbus_can_fua,
	.can_multi_conn = cvmbus_can_multi_conn,
	.is_rotational = cvmbus_is_rotational,
	.pread = cvmbus_pread,
	.pwrite = cvmbus_pwrite,
	.flush = cvmbus_flush,
	.trim = cvmbus_trim,
};

/* The macro defines plugin_init, nbdkit's entry point; its header has no
 * prototype for it. */
NBDKIT_DLL_PUBLIC struct nbdkit_plugin *plugin_init(void);
NBDKIT_REGISTER_PLUGIN(cvmbus_plugin)
