/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus run`: boot one VM (default: SNP, a paravisor offering
 * Confidential VMBus, max 6.0, x86_64), run the default workload (open every
 * channel, echo packets, a secret through each, snapshot, close) and print
 * what happened as aligned tables: negotiation, channels, exposure, control
 * messages, the secret scan and the echo throughput; --json FILE writes the
 * same report as JSON (docs/MATRIX.md has the schema). Tool layer, over
 * include/cvmbus/vm.h; the rendering is vm_render.c.
 *
 * Exit codes (commands.h): 0 the run succeeded; 1 it failed (the report
 * says where); 2 bad command line or a configuration that cannot exist.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>

#include "commands.h"
#include "vm_render.h"

static void run_usage(FILE *out)
{
	fprintf(out,
		"usage: cvmbus run [topology options] [--packets N] [--json FILE] [--verbose]\n"
		"\n"
		"Boot a VM, open every offered channel, echo N packets (default 8) and a\n"
		"32-byte secret through each, and report negotiation, channels, the pages\n"
		"the host can see, the control messages, the secret scan and throughput.\n"
		"--json FILE writes the report as JSON ('-' for stdout, then no tables).\n"
		"\n%s",
		cvmbus_vm_options_help);
}

int cmd_run(int argc, char **argv)
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm_workload wl = { 0 };
	struct cvmbus_vm *vm = NULL;
	const char *json_path = NULL;
	char err[160];
	int rc;

	cvmbus_vm_config_default(&cfg);
	/* The parties' progress lines are for --verbose: by default the
	 * tables (or the JSON) are the output, and warnings still show. */
	cvmbus_log_set_level(CVMBUS_LOG_WARN);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int t;

		if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			cvmbus_log_set_level(CVMBUS_LOG_INFO);
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			run_usage(stdout);
			return CVMBUS_EXIT_OK;
		}
		t = tool_vm_option(argc, argv, &i, &cfg, "cvmbus run");
		if (t < 0)
			return CVMBUS_EXIT_USAGE;
		if (t > 0)
			continue;
		if (!strcmp(a, "--json") && i + 1 < argc) {
			json_path = argv[++i];
		} else if (!strcmp(a, "--packets") && i + 1 < argc) {
			char *end;
			unsigned long n = strtoul(argv[++i], &end, 10);

			if (*end || !n || n > 100000) {
				fprintf(stderr, "cvmbus run: --packets: '%s' is not 1..100000\n",
					argv[i]);
				return CVMBUS_EXIT_USAGE;
			}
			wl.packets = (unsigned int)n;
		} else {
			fprintf(stderr, "cvmbus run: unknown option '%s' (see 'cvmbus run --help')\n",
				a);
			return CVMBUS_EXIT_USAGE;
		}
	}

	rc = cvmbus_vm_create(&cfg, &vm, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "cvmbus run: %s\n", err);
		return rc == -ENOMEM ? CVMBUS_EXIT_FAILURE : CVMBUS_EXIT_USAGE;
	}
	rc = cvmbus_vm_run(vm, cvmbus_vm_default_workload, &wl);
	if (!json_path || strcmp(json_path, "-"))
		tool_vm_print_report(cvmbus_vm_report(vm), stdout);
	if (json_path) {
		json_t *j = tool_vm_report_json(cvmbus_vm_report(vm));
		int jrc;

		if (!strcmp(json_path, "-"))
			jrc = j ? json_dumpf(j, stdout, JSON_INDENT(2)) : -1;
		else
			jrc = j ? json_dump_file(j, json_path, JSON_INDENT(2)) : -1;
		if (!strcmp(json_path, "-"))
			fputc('\n', stdout);
		json_decref(j);
		if (jrc) {
			fprintf(stderr, "cvmbus run: cannot write %s\n", json_path);
			cvmbus_vm_destroy(vm);
			return CVMBUS_EXIT_FAILURE;
		}
	}
	cvmbus_vm_destroy(vm);
	return rc ? CVMBUS_EXIT_FAILURE : CVMBUS_EXIT_OK;
}
