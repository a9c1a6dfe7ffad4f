/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus run`: boot one VM from a configuration (the embedded default, a
 * JSON file given with --config, then command-line overrides: schema and
 * mapping in docs/CONFIG.md), run the default workload (open every channel,
 * echo packets, a secret through each, snapshot, close) and report what
 * happened: aligned tables on stdout (negotiation, channels, exposure,
 * control messages, the secret scan, throughput, devices), --json FILE for
 * tools (schema in docs/MATRIX.md, plus "devices" and "workload"), --report
 * FILE.html for people (report_html.c: a sequence chart of the control
 * plane, a map of partition memory, the tables). Tool layer, over
 * include/cvmbus/vm.h and vm_config.h; the text rendering is vm_render.c.
 *
 * Exit codes (commands.h): 0 the run succeeded; 1 it failed (the report
 * says where) or an output could not be written; 2 bad command line or
 * configuration, or a topology that cannot exist.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cvmbus/attest.h>
#include <cvmbus/log.h>
#include <cvmbus/platform.h>
#include <cvmbus/vm_config.h>
#include <cvmbus/storage.h>
#include <cvmbus/vm_disk.h>
#include <cvmbus/vm_nic.h>

#include "cli.h"
#include "commands.h"
#include "report_html.h"
#include "vm_render.h"

#ifndef CVMBUS_VERSION_STRING
#define CVMBUS_VERSION_STRING "0.0.0"
#endif

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: cvmbus run [--config FILE] [options] [--report FILE.html] [--json FILE]\n"
		"                  [-v | -q]\n"
		"\n"
		"Boot a VM, open every offered channel, echo N packets (default 8) and a\n"
		"32-byte secret through each, and report negotiation, channels, the pages\n"
		"the host can see, the control messages, the secret scan and throughput.\n"
		"Without --config the embedded default is used (`cvmbus config\n"
		"--print-default`); every option overrides one field of it.\n"
		"--report FILE.html writes a self-contained HTML report (a sequence chart\n"
		"of the control plane, a map of partition memory, the tables); --json FILE\n"
		"writes the report as JSON ('-' for stdout, then no tables).\n"
		"-v shows the parties' progress lines, -q only errors; a progress bar\n"
		"appears on a terminal when a run takes more than half a second.\n"
		"--paravisor-image FILE launches the paravisor that FILE describes (the\n"
		"schema of 'cvmbus attest measure'); pin its measurement with --attest\n"
		"require --expect HEX to refuse any other paravisor.\n"
		"\n%s\n%s",
		cvmbus_vm_options_help, cvmbus_vm_setup_options_help);
}

/* What the run's own workload wrapper learns while the VM exists. */
struct run_ctx {
	struct cvmbus_vm_workload wl;
	uint64_t vtl0_bytes, vtl2_bytes;
	/* The NIC of the configuration (loopback: frames counted at both
	 * ends), and what the workload sent and saw arrive. */
	struct cvmbus_vm_nic *nic;
	unsigned int nic_frames;
	_Atomic uint64_t host_rx, guest_rx;
	uint64_t host_sent, guest_sent;
	int nic_status;
	/* The disk of the configuration: a temporary image unless one is
	 * named, written and read back through the guest's storvsc. */
	struct cvmbus_vm_disk *disk;
	char disk_tmp[64];
	bool disk_confidential, disk_bounced;
	uint64_t disk_bytes;
	int disk_status;
};

static void run_host_rx(void *arg, const void *frame, size_t len)
{
	struct run_ctx *ctx = arg;

	(void)frame;
	(void)len;
	atomic_fetch_add(&ctx->host_rx, 1);
}

static void run_guest_rx(void *arg, const void *frame, size_t len)
{
	struct run_ctx *ctx = arg;

	(void)frame;
	(void)len;
	atomic_fetch_add(&ctx->guest_rx, 1);
}

/* A broadcast frame of the IEEE's local experimental ethertype (0x88b5),
 * so that the device's packet filter passes it to the guest. */
static size_t run_frame(uint8_t *f, unsigned int i)
{
	size_t len = 60 + (i * 97u) % (1514 - 60);

	memset(f, 0xff, 6);
	memcpy(f + 6, "\x02\x00\x5e\x10\x00\x01", 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (size_t j = 14; j < len; j++)
		f[j] = (uint8_t)(i + j);
	return len;
}

/* The disk part of the built-in workload: write a pattern through the
 * guest's storvsc from guest RAM, read it back into another buffer and
 * compare, 64 KiB at a time. */
#define RUN_DISK_CHUNK (64u * 1024u)

static int run_disk_io(struct cvmbus_vm *vm, struct run_ctx *ctx)
{
	struct cvmbus_vm_disk_guest_config gc = { .require_confidential = ctx->disk_confidential };
	struct cvmbus_vm_disk_guest_info info;
	struct cvmbus_vm_disk_guest *g;
	static uint8_t a[RUN_DISK_CHUNK], b[RUN_DISK_CHUNK];
	uint64_t wgpa = 0, rgpa = 0, npages = RUN_DISK_CHUNK / CVMBUS_MEM_PAGE_SIZE;
	struct cvmbus_mem *mem;
	int rc;

	rc = cvmbus_vm_disk_guest_open(vm, &gc, &g);
	if (rc)
		return rc;
	cvmbus_vm_disk_guest_get_info(g, &info);
	ctx->disk_bounced = info.bounce_pages != 0;
	mem = cvmbus_vm_disk_guest_mem(g);
	rc = cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, npages, &wgpa);
	if (!rc)
		rc = cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, npages, &rgpa);
	for (uint64_t off = 0; !rc && off < 1024 * 1024 &&
			       off + RUN_DISK_CHUNK <= info.sectors * info.block_size;
	     off += RUN_DISK_CHUNK) {
		uint32_t sectors = RUN_DISK_CHUNK / info.block_size;

		for (size_t j = 0; j < sizeof(a); j++)
			a[j] = (uint8_t)((off >> 16) * 31u + j * 7u + 3u);
		rc = cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, wgpa, a, sizeof(a));
		if (!rc)
			rc = cvmbus_storvsc_write(cvmbus_vm_disk_guest_vsc(g), off / info.block_size,
						  sectors, wgpa);
		if (!rc)
			rc = cvmbus_storvsc_read(cvmbus_vm_disk_guest_vsc(g), off / info.block_size,
						 sectors, rgpa);
		if (!rc)
			rc = cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, rgpa, b, sizeof(b));
		if (!rc && memcmp(a, b, sizeof(a)))
			rc = -EIO;
		if (!rc)
			ctx->disk_bytes += RUN_DISK_CHUNK;
	}
	if (wgpa)
		cvmbus_mem_free(mem, wgpa, npages);
	if (rgpa)
		cvmbus_mem_free(mem, rgpa, npages);
	cvmbus_vm_disk_guest_close(g);
	return rc;
}

/* The NIC part of the built-in workload: bring the guest's driver up, send
 * frames each way, wait (bounded) for them to arrive. Run before the echo
 * workload's snapshot, so that the NIC's buffers are in the exposure it
 * records, and stopped after. */
static int run_nic_traffic(struct cvmbus_vm *vm, struct run_ctx *ctx)
{
	struct cvmbus_exec *exec = cvmbus_vm_exec(vm);
	uint64_t deadline = cvmbus_exec_deadline(exec, 5000000000ull);
	uint8_t frame[1514];
	int rc;

	for (unsigned int i = 0; i < ctx->nic_frames; i++) {
		size_t len = run_frame(frame, i);

		rc = cvmbus_vm_nic_guest_send(ctx->nic, frame, len, 1000000000ull);
		if (!rc)
			ctx->guest_sent++;
		rc = cvmbus_vm_nic_host_send(ctx->nic, frame, len, 1000000000ull);
		if (!rc)
			ctx->host_sent++;
	}
	while ((atomic_load(&ctx->host_rx) < ctx->guest_sent ||
		atomic_load(&ctx->guest_rx) < ctx->host_sent) &&
	       cvmbus_exec_now_ns(exec) < deadline)
		cvmbus_exec_sleep_ns(exec, 1000000);
	return atomic_load(&ctx->host_rx) >= ctx->guest_sent &&
			       atomic_load(&ctx->guest_rx) >= ctx->host_sent
		       ? 0
		       : -ETIMEDOUT;
}

/* The default workload, after noting the partition's layout for the
 * memory map (only a running VM has a platform to ask). */
static int run_workload(struct cvmbus_vm *vm, void *arg)
{
	struct run_ctx *ctx = arg;
	struct cvmbus_platform *p = cvmbus_vm_platform(vm);

	if (p) {
		const struct cvmbus_platform_config *pc = cvmbus_platform_config(p);

		ctx->vtl0_bytes = pc->vtl0_bytes;
		ctx->vtl2_bytes = pc->vtl2_bytes;
	}
	if (ctx->disk)
		ctx->disk_status = run_disk_io(vm, ctx);
	if (ctx->nic) {
		int rc = cvmbus_vm_nic_guest_start(ctx->nic, vm);

		ctx->nic_status = rc ? rc : run_nic_traffic(vm, ctx);
		if (!rc) {
			rc = cvmbus_vm_default_workload(vm, &ctx->wl);
			cvmbus_vm_nic_guest_stop(ctx->nic);
			return rc;
		}
	}
	return cvmbus_vm_default_workload(vm, &ctx->wl);
}

/* One row of the devices table for a configured device. */
static void device_row(const struct cvmbus_vm_device_spec *d, struct tool_html_device *row)
{
	char size[24];

	memset(row, 0, sizeof(*row));
	snprintf(row->type, sizeof(row->type), "%s", cvmbus_vm_device_type_name(d->type));
	snprintf(row->owner, sizeof(row->owner), "%s", cvmbus_vm_owner_name(d->owner));
	if (d->type == CVMBUS_VM_DEVICE_DISK) {
		if (d->disk.size)
			cvmbus_vm_size_format(d->disk.size, size, sizeof(size));
		else
			snprintf(size, sizeof(size), "its own size");
		if (d->disk.image[0])
			snprintf(row->detail, sizeof(row->detail), "image %.80s, %s%s", d->disk.image,
				 size, d->disk.read_only ? ", read-only" : "");
		else
			snprintf(row->detail, sizeof(row->detail), "%s temporary image%s", size,
				 d->disk.read_only ? ", read-only" : "");
	} else {
		const uint8_t *m = d->nic.mac;
		int n;

		n = snprintf(row->detail, sizeof(row->detail),
			     "%s, %02x:%02x:%02x:%02x:%02x:%02x, mtu %u",
			     cvmbus_vm_nic_backend_name(d->nic.backend), m[0], m[1], m[2], m[3], m[4],
			     m[5], d->nic.mtu);
		/* Namespaces last: a long path is cut, the rest stays whole
		 * (the cut is meant, hence the result deliberately unused). */
		if (n > 0 && (size_t)n < sizeof(row->detail) &&
		    (d->nic.netns_guest[0] || d->nic.netns_host[0]))
			(void)!snprintf(row->detail + n, sizeof(row->detail) - (size_t)n,
					", netns guest %s host %s",
					d->nic.netns_guest[0] ? d->nic.netns_guest : "-",
					d->nic.netns_host[0] ? d->nic.netns_host : "-");
	}
}

/*
 * Give the VM the configured devices before its run. The VM layer's disk
 * and NIC (src/vm/disk.c, src/vm/nic.c) are being written at the same time
 * as this file: until they are wired here, each configured device is
 * reported as not attached and the run goes on with the two echo devices,
 * so that the default configuration already runs (and its report already
 * has the rows those devices will fill).
 */
static void run_attach_devices(struct cvmbus_vm *vm, const struct cvmbus_vm_setup *s,
			       struct tool_html_device *rows, struct run_ctx *ctx)
{
	for (size_t i = 0; i < s->device_count; i++) {
		const struct cvmbus_vm_device_spec *d = &s->devices[i];

		device_row(d, &rows[i]);
		if (d->type == CVMBUS_VM_DEVICE_NIC && !ctx->nic) {
			struct cvmbus_vm_nic_config nc = {
				.owner = d->owner,
				.mtu = d->nic.mtu,
			};
			char err[160];
			int rc;

			memcpy(nc.mac, d->nic.mac, sizeof(nc.mac));
			if (d->nic.backend == CVMBUS_VM_NIC_TAP) {
				nc.host_netns = d->nic.netns_host[0] ? d->nic.netns_host : NULL;
				nc.guest_netns = d->nic.netns_guest[0] ? d->nic.netns_guest : NULL;
			}
			if (!nc.host_netns) {
				nc.host_rx = run_host_rx;
				nc.host_rx_ctx = ctx;
			}
			if (!nc.guest_netns) {
				nc.guest_rx = run_guest_rx;
				nc.guest_rx_ctx = ctx;
			}
			rc = cvmbus_vm_nic_create(vm, &nc, &ctx->nic, err, sizeof(err));
			if (rc)
				snprintf(rows[i].status, sizeof(rows[i].status), "not attached: %.100s",
					 err);
			else
				ctx->nic_frames = 64;
			continue;
		}
		if (d->type == CVMBUS_VM_DEVICE_DISK && !ctx->disk) {
			struct cvmbus_vm_disk_config dc = {
				.exec = cvmbus_vm_exec(vm),
				.image = d->disk.image,
				.create_bytes = d->disk.size,
				.read_only = d->disk.read_only,
				.path = d->owner == CVMBUS_VM_OWNER_PARAVISOR
						? CVMBUS_VM_DISK_PATH_CONFIDENTIAL
						: CVMBUS_VM_DISK_PATH_HOST,
			};
			int rc;

			if (!d->disk.image[0]) {
				/* A temporary image for the run, removed after it. */
				snprintf(ctx->disk_tmp, sizeof(ctx->disk_tmp),
					 "/tmp/cvmbus-run-disk-%d.img", (int)getpid());
				unlink(ctx->disk_tmp);
				dc.image = ctx->disk_tmp;
				if (!dc.create_bytes)
					dc.create_bytes = 16ull << 20;
			}
			ctx->disk_confidential = dc.path == CVMBUS_VM_DISK_PATH_CONFIDENTIAL;
			rc = cvmbus_vm_disk_create(&dc, &ctx->disk);
			if (!rc)
				rc = cvmbus_vm_disk_attach(vm, ctx->disk);
			if (rc) {
				cvmbus_vm_disk_destroy(ctx->disk);
				ctx->disk = NULL;
				snprintf(rows[i].status, sizeof(rows[i].status),
					 "not attached: %s", strerror(-rc));
			}
			continue;
		}
		snprintf(rows[i].status, sizeof(rows[i].status), "not attached");
	}
}

/* The devices' objects use the VM's executor: they go before the VM. */
static void run_devices_destroy(struct run_ctx *ctx)
{
	if (ctx->nic)
		cvmbus_vm_nic_destroy(ctx->nic);
	ctx->nic = NULL;
	cvmbus_vm_disk_destroy(ctx->disk);
	ctx->disk = NULL;
	if (ctx->disk_tmp[0])
		unlink(ctx->disk_tmp);
}

/* After the run: what each attached device did. */
static void run_device_results(const struct cvmbus_vm_setup *s, struct tool_html_device *rows,
			       struct run_ctx *ctx)
{
	for (size_t i = 0; i < s->device_count; i++) {
		struct cvmbus_vm_nic_stats st;

		if (s->devices[i].type == CVMBUS_VM_DEVICE_DISK && ctx->disk) {
			snprintf(rows[i].status, sizeof(rows[i].status),
				 "%s path: %llu KiB written and read back, %s%s",
				 ctx->disk_confidential ? "confidential" : "host",
				 (unsigned long long)(ctx->disk_bytes / 1024),
				 ctx->disk_bounced ? "through the bounce pool"
						   : "no bounce (private pages)",
				 ctx->disk_status ? " (FAILED)" : "");
			continue;
		}
		if (s->devices[i].type != CVMBUS_VM_DEVICE_NIC || !ctx->nic)
			continue;
		cvmbus_vm_nic_get_stats(ctx->nic, &st);
		snprintf(rows[i].status, sizeof(rows[i].status),
			 "relid %u, %s path: %llu/%llu frames guest->host, %llu/%llu host->guest%s",
			 st.relid, cvmbus_vm_nic_path_name(s->devices[i].owner),
			 (unsigned long long)atomic_load(&ctx->host_rx),
			 (unsigned long long)ctx->guest_sent,
			 (unsigned long long)atomic_load(&ctx->guest_rx),
			 (unsigned long long)ctx->host_sent, ctx->nic_status ? " (FAILED)" : "");
	}
}

static void print_devices(const struct tool_html_device *rows, size_t n, FILE *out)
{
	struct tool_table *t;

	if (!n)
		return;
	t = tool_table_new(4, "device", "served by", "configuration", "status");
	if (!t)
		return;
	for (size_t i = 0; i < n; i++)
		tool_table_row(t, rows[i].type, rows[i].owner, rows[i].detail, rows[i].status);
	fprintf(out, "\ndevices (configured)\n");
	tool_table_print(t, out, "  ");
	tool_table_free(t);
}

static int write_json(const struct cvmbus_vm_report *r, const struct cvmbus_vm_setup *s,
		      const struct tool_html_device *rows, const char *path)
{
	json_t *j = tool_vm_report_json(r), *devs = json_array();
	char disk_bytes[24];
	int rc;

	if (!j || !devs) {
		json_decref(j);
		json_decref(devs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->device_count; i++)
		json_array_append_new(devs, json_pack("{s:s, s:s, s:s, s:s}", "type", rows[i].type,
						      "owner", rows[i].owner, "configuration",
						      rows[i].detail, "status", rows[i].status));
	cvmbus_vm_size_format(s->workload.disk_bytes, disk_bytes, sizeof(disk_bytes));
	json_object_set_new(j, "devices", devs);
	json_object_set_new(j, "workload",
			    json_pack("{s:i, s:i, s:s}", "packets", (int)s->workload.packets, "bytes",
				      (int)s->workload.bytes, "disk_bytes", disk_bytes));
	if (!strcmp(path, "-")) {
		rc = json_dumpf(j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	} else {
		rc = json_dump_file(j, path, JSON_INDENT(2));
	}
	json_decref(j);
	return rc ? -EIO : 0;
}

/* Flags handled here, which the configuration builder must skip. */
static const char *const run_flags[] = { "-v", "-vv", "--verbose", "-q", "--quiet", NULL };

int cmd_run(int argc, char **argv)
{
	struct tool_html_device rows[CVMBUS_VM_MAX_DEVICES];
	struct cvmbus_vm_setup s;
	struct run_ctx ctx;
	struct cvmbus_vm *vm = NULL;
	struct tool_trace_tap *tap = NULL;
	struct tool_progress progress;
	const struct cvmbus_vm_report *r;
	char *config_text = NULL;
	char err[CVMBUS_VM_SETUP_ERR_MAX];
	static struct cvmbus_paravisor_image image; /* lives for the whole run */
	bool json_stdout, have_image = false;
	int verbosity = 0, rc, ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			run_usage(stdout);
			return CVMBUS_EXIT_OK;
		}
		if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v"))
			verbosity = 1;
		else if (!strcmp(argv[i], "-vv"))
			verbosity = 2;
		else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q"))
			verbosity = -1;
	}
	/* A -v or -q after `run` counts as one before it. */
	if (verbosity)
		tool_set_verbosity(verbosity);
	/* The parties' progress lines are for -v: by default the tables (or
	 * the JSON) are the output, and warnings still show. */
	tool_apply_verbosity(CVMBUS_LOG_WARN);

	/* --paravisor-image FILE: launch a paravisor of the user's own
	 * description (bring your own paravisor), taken out of the arguments
	 * before the configuration is built from the rest. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--paravisor-image"))
			continue;
		if (i + 1 >= argc) {
			fprintf(stderr, "cvmbus run: --paravisor-image needs a file\n");
			return CVMBUS_EXIT_USAGE;
		}
		rc = tool_paravisor_image_load(argv[i + 1], &image, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "cvmbus run: --paravisor-image: %s\n", err);
			return rc;
		}
		have_image = true;
		memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 2) * sizeof(*argv));
		argc -= 2;
		i--;
	}
	ret = tool_setup_configure("cvmbus run", argc, argv, run_flags, &s, &config_text);
	if (ret)
		return ret;
	if (have_image)
		s.topology.paravisor_image = &image;
	json_stdout = !strcmp(s.outputs.json, "-");

	rc = cvmbus_vm_create(&s.topology, &vm, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "cvmbus run: %s\n", err);
		free(config_text);
		return rc == -ENOMEM ? CVMBUS_EXIT_FAILURE : CVMBUS_EXIT_USAGE;
	}
	memset(&ctx, 0, sizeof(ctx));
	run_attach_devices(vm, &s, rows, &ctx);

	/* One signal to the guest per echo answered (and per secret): the
	 * bar's unit, over every echo channel (the host's, and the
	 * paravisor's when there is one). */
	tool_progress_init(&progress, "run", "echoes",
			   (uint64_t)(s.workload.packets + 1) * (s.topology.paravisor ? 2 : 1));
	if (s.outputs.report[0] || progress.enabled) {
		rc = tool_trace_tap_open(&tap, NULL);
		if (rc) {
			fprintf(stderr, "cvmbus run: cannot tap the trace (%d)\n", rc);
			run_devices_destroy(&ctx);
			cvmbus_vm_destroy(vm);
			free(config_text);
			return CVMBUS_EXIT_FAILURE;
		}
		tool_trace_tap_set_progress(tap, &progress);
		cvmbus_vm_set_trace_jsonl(vm, tool_trace_tap_file(tap));
	}

	ctx.wl.packets = s.workload.packets;
	ctx.wl.packet_bytes = s.workload.bytes;
	rc = cvmbus_vm_run(vm, run_workload, &ctx);
	tool_progress_done(&progress);
	r = cvmbus_vm_report(vm);
	run_device_results(&s, rows, &ctx);
	if (!rc && ctx.nic && ctx.nic_status)
		rc = ctx.nic_status;
	if (!rc && ctx.disk && ctx.disk_status)
		rc = ctx.disk_status;

	if (!json_stdout) {
		tool_vm_print_report(r, stdout);
		print_devices(rows, s.device_count, stdout);
	}
	if (s.outputs.json[0] && write_json(r, &s, rows, s.outputs.json)) {
		fprintf(stderr, "cvmbus run: cannot write %s\n", s.outputs.json);
		ret = CVMBUS_EXIT_FAILURE;
	}
	if (s.outputs.report[0]) {
		struct tool_html_input in = {
			.report = r,
			.vtl0_bytes = ctx.vtl0_bytes,
			.vtl2_bytes = ctx.vtl2_bytes,
			.devices = rows,
			.device_count = s.device_count,
			.config_json = config_text,
			.version = CVMBUS_VERSION_STRING,
		};
		int terr;

		in.msg_count = tool_trace_tap_msgs(tap, &in.msgs);
		in.vis_count = tool_trace_tap_vis(tap, &in.vis);
		terr = tool_trace_tap_error(tap);
		if (terr)
			fprintf(stderr, "cvmbus run: warning: the trace tap lost events (%d): the "
				"chart may be incomplete\n", terr);
		if (tool_report_html_file(&in, s.outputs.report, err, sizeof(err))) {
			fprintf(stderr, "cvmbus run: %s\n", err);
			ret = CVMBUS_EXIT_FAILURE;
		} else if (!json_stdout) {
			printf("html report: %s\n", s.outputs.report);
		}
	}
	run_devices_destroy(&ctx);
	cvmbus_vm_destroy(vm);
	tool_trace_tap_close(tap);
	free(config_text);
	if (rc)
		return CVMBUS_EXIT_FAILURE;
	return ret;
}
