/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus matrix`: the validation matrix of the Confidential VMBus cover
 * letter, {no paravisor, paravisor} x {none, VBS, SNP, TDX} x {max 5.0, 6.0}
 * x {x86_64, arm64}: each cell boots a VM, runs the default workload and is
 * checked against coco.rst's list of host-visible pages and the Confidential
 * VMBus rules (cvmbus_vm_check); cells that cannot exist are printed as n/a
 * with the reason. Output: one aligned table, then every failure; --json
 * for tools (schema in docs/MATRIX.md). Tool layer, over include/cvmbus/vm.h.
 *
 * Exit codes (commands.h): 0 every applicable cell passed; 1 a cell failed;
 * 2 bad command line (or a filter that matches no cell).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/wire.h>

#include <cvmbus/log.h>

#include "cli.h"
#include "commands.h"
#include "vm_render.h"

static void matrix_usage(FILE *out)
{
	fprintf(out,
		"usage: cvmbus matrix [--json] [--seed N | --native] [--cell FILTER] [--packets N]\n"
		"                     [--processes] [--verbose]\n"
		"\n"
		"Run every cell of {no-paravisor, paravisor} x {none, vbs, snp, tdx} x\n"
		"{5.0, 6.0} x {x86_64, arm64} with the default workload and check what the\n"
		"host can see against coco.rst. Cells are named like paravisor/snp/6.0/x86_64;\n"
		"FILTER is a full name or components joined by ',' or '/' (e.g. snp,6.0).\n"
		"--processes runs each cell's host in its own process (native executor).\n"
		"Exit 0 iff every applicable cell passed.\n");
}

static void quiet_sink(void *ctx, enum cvmbus_log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

static void print_table(const struct cvmbus_vm_cell_result *res, size_t n, FILE *out)
{
	struct tool_table *t = tool_table_new(9, "cell", "version", "features", "confidential",
					      "channels (relid:owner:flags)",
					      "host-visible pages by reason", "InitiateContact",
					      "secret hits (relid:view/fd)", "verdict");

	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct cvmbus_vm_cell_result *c = &res[i];
		const struct cvmbus_vm_report *r = &c->report;
		char ver[16], feat[24], chans[TOOL_TABLE_CELL], expo[TOOL_TABLE_CELL];
		char ic[48], sec[TOOL_TABLE_CELL], verdict[TOOL_TABLE_CELL];

		if (!c->applicable) {
			snprintf(verdict, sizeof(verdict), "n/a: %s", c->na_reason);
			tool_table_row(t, c->name, "-", "-", "-", "-", "-", "-", "-", verdict);
			continue;
		}
		tool_version(r->version, ver, sizeof(ver));
		if (r->connected)
			snprintf(feat, sizeof(feat), "%#x", r->features);
		else
			snprintf(feat, sizeof(feat), "-");
		tool_channels_brief(r, chans, sizeof(chans));
		tool_exposure_brief(r, expo, sizeof(expo));
		tool_contact_brief(r, ic, sizeof(ic));
		tool_secret_brief(r, sec, sizeof(sec));
		if (!c->pass)
			snprintf(verdict, sizeof(verdict), "FAIL (%zu)", c->failure_count);
		else if (!r->connected)
			snprintf(verdict, sizeof(verdict), "pass (refused: isolated needs 5.2)");
		else
			snprintf(verdict, sizeof(verdict), "pass");
		tool_table_row(t, c->name, ver, feat, r->connected ? (r->confidential ? "yes" : "no")
								     : "-",
			       chans, expo, ic, sec, verdict);
	}
	tool_table_print(t, out, "");
	tool_table_free(t);
}

int cmd_matrix(int argc, char **argv)
{
	struct cvmbus_vm_cell cells[CVMBUS_VM_MATRIX_CELLS];
	struct cvmbus_vm_cell_result *res;
	struct cvmbus_vm_workload wl = { 0 };
	const char *filter = NULL;
	bool json = false, det = false, processes = false;
	uint64_t seed = 0;
	size_t ncells, nres = 0, passed = 0, failed = 0, na = 0;
	struct tool_progress pg;

	/* The parties' lines are for --verbose: a cell's failure is in the
	 * table, and half the cells end with a refusal that the guest logs as
	 * an error although it is the expected outcome. */
	tool_apply_verbosity(CVMBUS_LOG_WARN);
	if (tool_verbosity() == 0)
		cvmbus_log_set_sink(quiet_sink, NULL);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
			cvmbus_log_set_sink(NULL, NULL);
			cvmbus_log_set_level(CVMBUS_LOG_INFO);
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			matrix_usage(stdout);
			return CVMBUS_EXIT_OK;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--native")) {
			det = false;
		} else if (!strcmp(a, "--processes")) {
			processes = true;
		} else if (!strcmp(a, "--seed") && i + 1 < argc) {
			struct cvmbus_vm_config tmp;
			char err[160];

			/* The shared option's parser, for the same words. */
			cvmbus_vm_config_default(&tmp);
			if (cvmbus_vm_config_option(&tmp, "seed", argv[++i], err, sizeof(err)) < 0) {
				fprintf(stderr, "cvmbus matrix: %s\n", err);
				return CVMBUS_EXIT_USAGE;
			}
			det = true;
			seed = tmp.seed;
		} else if (!strcmp(a, "--cell") && i + 1 < argc) {
			filter = argv[++i];
		} else if (!strcmp(a, "--packets") && i + 1 < argc) {
			char *end;
			unsigned long n = strtoul(argv[++i], &end, 10);

			if (*end || !n || n > 100000) {
				fprintf(stderr, "cvmbus matrix: --packets: '%s' is not 1..100000\n",
					argv[i]);
				return CVMBUS_EXIT_USAGE;
			}
			wl.packets = (unsigned int)n;
		} else {
			fprintf(stderr,
				"cvmbus matrix: unknown option '%s' (see 'cvmbus matrix --help')\n", a);
			return CVMBUS_EXIT_USAGE;
		}
	}

	ncells = cvmbus_vm_matrix_cells(cells, CVMBUS_VM_MATRIX_CELLS);
	res = calloc(ncells, sizeof(*res));
	if (!res)
		return CVMBUS_EXIT_FAILURE;
	tool_progress_init(&pg, "matrix", "cells", ncells);
	for (size_t i = 0; i < ncells; i++) {
		tool_progress_update(&pg, i);
		if (!cvmbus_vm_cell_match(&cells[i], filter))
			continue;
		if (cvmbus_vm_run_cell_ex(&cells[i], det, seed, processes, &wl, &res[nres])) {
			fprintf(stderr, "cvmbus matrix: out of memory\n");
			free(res);
			return CVMBUS_EXIT_FAILURE;
		}
		if (!res[nres].applicable)
			na++;
		else if (res[nres].pass)
			passed++;
		else
			failed++;
		nres++;
	}
	tool_progress_done(&pg);
	if (!nres) {
		fprintf(stderr, "cvmbus matrix: no cell matches '%s'\n", filter ? filter : "");
		free(res);
		return CVMBUS_EXIT_USAGE;
	}

	if (json) {
		json_t *arr = json_array();
		json_t *doc;

		for (size_t i = 0; i < nres; i++)
			json_array_append_new(arr, tool_vm_cell_json(&res[i]));
		doc = json_pack("{s:s, s:I, s:o, s:I, s:I, s:I}", "executor",
				det ? "deterministic" : "native", "seed", (json_int_t)seed, "cells",
				arr, "passed", (json_int_t)passed, "failed", (json_int_t)failed,
				"not_applicable", (json_int_t)na);
		if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2))) {
			fprintf(stderr, "cvmbus matrix: cannot write the JSON\n");
			json_decref(doc);
			free(res);
			return CVMBUS_EXIT_FAILURE;
		}
		fputc('\n', stdout);
		json_decref(doc);
	} else {
		char exec_text[48];

		print_table(res, nres, stdout);
		for (size_t i = 0; i < nres; i++)
			for (size_t k = 0; k < res[i].failure_count; k++)
				printf("%s: %s\n", res[i].name, res[i].failures[k]);
		if (det)
			snprintf(exec_text, sizeof(exec_text), "deterministic, seed %" PRIu64, seed);
		else
			snprintf(exec_text, sizeof(exec_text), "native");
		printf("\n%zu cells: %zu passed, %zu failed, %zu not applicable (%s)\n", nres,
		       passed, failed, na, exec_text);
	}
	free(res);
	return failed ? CVMBUS_EXIT_FAILURE : CVMBUS_EXIT_OK;
}
