/* SPDX-License-Identifier: MIT */
/*
 * cvmbus: the command-line tool. This file only dispatches to a subcommand
 * (one file each) and handles the options that every subcommand shares.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

#ifndef CVMBUS_VERSION_STRING
#define CVMBUS_VERSION_STRING "0.0.0"
#endif

static const struct cvmbus_command commands[] = {
	{ "demo", "push packets through a ring with two threads and dump it", cmd_demo },
	{ "ring", "write, read and dump a VMBus ring image in a file", cmd_ring },
	{ "attest", "measure a paravisor, get and verify attestation reports", cmd_attest },
	{ "run", "boot a VM, run the default workload, report what the host saw", cmd_run },
	{ "matrix", "run the validation matrix and check every cell against coco.rst", cmd_matrix },
	{ "trace", "run the default workload and write the platform trace as JSON Lines", cmd_trace },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: cvmbus [--version] [--help] <command> [<args>]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n'cvmbus <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CVMBUS_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return CVMBUS_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("cvmbus %s\n", CVMBUS_VERSION_STRING);
		return CVMBUS_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "cvmbus: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CVMBUS_EXIT_USAGE;
}
