/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus trace --jsonl`: boot one VM (the shared topology options), run the
 * default workload and write the platform's trace as JSON Lines, one event
 * per line, on stdout or into --out FILE: every register access, hypercall,
 * SynIC delivery, interrupt, visibility change and VMBus control message
 * ("kind":"msg"). The schema is docs/TRACE.md; a one-line summary goes to
 * stderr so that stdout stays pure JSON Lines. Tool layer.
 *
 * Exit codes (commands.h): 0 the run succeeded and every line was written;
 * 1 the run failed or the output could not be written; 2 bad command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cvmbus/log.h>

#include "cli.h"
#include "commands.h"
#include "vm_render.h"

static void trace_usage(FILE *out)
{
	fprintf(out,
		"usage: cvmbus trace [--jsonl] [topology options] [--out FILE] [--verbose]\n"
		"\n"
		"Run the default workload and write the platform trace as JSON Lines\n"
		"(docs/TRACE.md) on stdout, or into FILE. A deterministic run (--seed N)\n"
		"gives the same lines, byte for byte, every time.\n"
		"\n%s",
		cvmbus_vm_options_help);
}

int cmd_trace(int argc, char **argv)
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm *vm = NULL;
	const struct cvmbus_vm_report *r;
	const char *out_path = NULL;
	FILE *out = stdout;
	char err[160];
	int rc, werr;

	cvmbus_vm_config_default(&cfg);
	/* The parties' progress lines are for --verbose: by default the
	 * tables (or the JSON) are the output, and warnings still show. */
	tool_apply_verbosity(CVMBUS_LOG_WARN);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int t;

		if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			cvmbus_log_set_level(CVMBUS_LOG_INFO);
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			trace_usage(stdout);
			return CVMBUS_EXIT_OK;
		}
		t = tool_vm_option(argc, argv, &i, &cfg, "cvmbus trace");
		if (t < 0)
			return CVMBUS_EXIT_USAGE;
		if (t > 0)
			continue;
		if (!strcmp(a, "--jsonl")) {
			/* The one format there is; the flag says so explicitly. */
		} else if (!strcmp(a, "--out") && i + 1 < argc) {
			out_path = argv[++i];
		} else {
			fprintf(stderr,
				"cvmbus trace: unknown option '%s' (see 'cvmbus trace --help')\n", a);
			return CVMBUS_EXIT_USAGE;
		}
	}

	rc = cvmbus_vm_create(&cfg, &vm, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "cvmbus trace: %s\n", err);
		return rc == -ENOMEM ? CVMBUS_EXIT_FAILURE : CVMBUS_EXIT_USAGE;
	}
	if (out_path && strcmp(out_path, "-")) {
		out = fopen(out_path, "w");
		if (!out) {
			fprintf(stderr, "cvmbus trace: cannot open %s: %s\n", out_path,
				strerror(errno));
			cvmbus_vm_destroy(vm);
			return CVMBUS_EXIT_FAILURE;
		}
	}
	cvmbus_vm_set_trace_jsonl(vm, out);
	rc = cvmbus_vm_run(vm, cvmbus_vm_default_workload, NULL);
	werr = cvmbus_trace_jsonl_error(cvmbus_vm_trace(vm));
	if (fflush(out))
		werr = -EIO;
	if (out != stdout && fclose(out))
		werr = -EIO;
	r = cvmbus_vm_report(vm);
	fprintf(stderr,
		"cvmbus trace: %s: %" PRIu64 " events (%" PRIu64 " control messages), hash %016" PRIx64
		"%s%s\n",
		r->config_text, r->trace_events, r->messages, r->trace_hash, rc ? ", FAILED: " : "",
		rc ? r->error : "");
	cvmbus_vm_destroy(vm);
	if (werr) {
		fprintf(stderr, "cvmbus trace: writing the trace failed\n");
		return CVMBUS_EXIT_FAILURE;
	}
	return rc ? CVMBUS_EXIT_FAILURE : CVMBUS_EXIT_OK;
}
