/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus config`: the JSON configuration of a VM run, without running it
 * (tool layer, over include/cvmbus/vm_config.h). --print-default prints the
 * embedded default, to start a file from; --print shows the configuration
 * that `cvmbus run` would use with the same --config and options, every
 * field spelled out; --check FILE validates a file. The schema, and which
 * option overrides each field, are docs/CONFIG.md.
 *
 * Exit codes (commands.h): 0 the configuration is valid (and printed);
 * 2 bad command line, unreadable file or invalid configuration (the message
 * names the field); 1 out of memory or stdout failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/vm_config.h>

#include "cli.h"
#include "commands.h"

static void config_usage(FILE *out)
{
	fprintf(out,
		"usage: cvmbus config --print-default\n"
		"       cvmbus config --print [--config FILE] [options]\n"
		"       cvmbus config --check FILE [options]\n"
		"\n"
		"--print-default prints the embedded default configuration (SNP with a\n"
		"paravisor offering Confidential VMBus, a confidential disk served by the\n"
		"paravisor, a relayed NIC served by the host): a starting point for a file.\n"
		"--print prints the configuration `cvmbus run` would use with the same\n"
		"options, every field spelled out; --check validates FILE (exit 0, or 2\n"
		"with the field and the problem). Schema: docs/CONFIG.md.\n"
		"\n%s\n%s",
		cvmbus_vm_options_help, cvmbus_vm_setup_options_help);
}

static const char *const config_flags[] = { "--print", "--print-default", NULL };

int cmd_config(int argc, char **argv)
{
	enum { NONE, PRINT_DEFAULT, PRINT, CHECK } mode = NONE;
	struct cvmbus_vm_setup s;
	const char *check = NULL;
	char *text = NULL;
	char **args;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			config_usage(stdout);
			return CVMBUS_EXIT_OK;
		}
		if (!strcmp(a, "--print-default"))
			mode = mode == NONE ? PRINT_DEFAULT : -1;
		else if (!strcmp(a, "--print"))
			mode = mode == NONE ? PRINT : -1;
		else if (!strcmp(a, "--check") && i + 1 < argc) {
			mode = mode == NONE ? CHECK : -1;
			check = argv[++i];
		} else if (!strcmp(a, "--check")) {
			fprintf(stderr, "cvmbus config: --check needs a file\n");
			return CVMBUS_EXIT_USAGE;
		}
	}
	if (mode == NONE || (int)mode == -1) {
		fprintf(stderr, "cvmbus config: give one of --print-default, --print, --check FILE "
				"(see 'cvmbus config --help')\n");
		return CVMBUS_EXIT_USAGE;
	}
	if (mode == PRINT_DEFAULT) {
		if (argc != 2) {
			fprintf(stderr, "cvmbus config: --print-default takes no other option\n");
			return CVMBUS_EXIT_USAGE;
		}
		if (fputs(cvmbus_vm_setup_default_json, stdout) < 0 || fflush(stdout))
			return CVMBUS_EXIT_FAILURE;
		return CVMBUS_EXIT_OK;
	}

	/* --check FILE is --config FILE without the print. */
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		return CVMBUS_EXIT_FAILURE;
	for (int i = 0; i < argc; i++)
		args[i] = !strcmp(argv[i], "--check") ? "--config" : argv[i];
	rc = tool_setup_configure("cvmbus config", argc, args, config_flags, &s, &text);
	free(args);
	if (rc)
		return rc;
	if (!text) {
		fprintf(stderr, "cvmbus config: out of memory\n");
		return CVMBUS_EXIT_FAILURE;
	}
	if (mode == CHECK)
		printf("%s: ok\n", check);
	else
		fputs(text, stdout);
	free(text);
	return fflush(stdout) ? CVMBUS_EXIT_FAILURE : CVMBUS_EXIT_OK;
}
