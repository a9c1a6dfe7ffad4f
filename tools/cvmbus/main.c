/* SPDX-License-Identifier: MIT */
/*
 * cvmbus: the command-line tool. This file only dispatches to a subcommand
 * (one file each, listed once in the table below) and handles what every
 * subcommand shares: --help and `cvmbus help COMMAND`, --version, the
 * verbosity options -v / -vv / -q (cli.h), and the exit codes of
 * commands.h, which the usage text and docs/cvmbus.1 document.
 */
#include <stdio.h>
#include <string.h>

#include <cvmbus/log.h>

#include "cli.h"
#include "commands.h"

#ifndef CVMBUS_VERSION_STRING
#define CVMBUS_VERSION_STRING "0.0.0"
#endif

static const struct cvmbus_command commands[] = {
	{ "demo", "push packets through a ring with two threads and dump it", cmd_demo },
	{ "ring", "write, read and dump a VMBus ring image in a file", cmd_ring },
	{ "attest", "measure a paravisor, get and verify attestation reports", cmd_attest },
	{ "run", "boot a VM, run the default workload, report what the host saw", cmd_run },
	{ "config", "print or check the JSON configuration of a run (docs/CONFIG.md)", cmd_config },
	{ "matrix", "run the validation matrix and check every cell against coco.rst", cmd_matrix },
	{ "trace", "run the default workload and write the platform trace as JSON Lines", cmd_trace },
	{ "explore", "replay one seed of a racy scenario under the deterministic executor", cmd_explore },
	{ "net", "boot a VM with a NIC wired between two network namespaces", cmd_net },
	{ "disk", "export a disk image over NBD through a VM's synthetic SCSI disk", cmd_disk },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: cvmbus [-v | -vv | -q] [--version] [--help] <command> [<args>]\n"
		     "\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\n"
		"options:\n"
		"  -v, --verbose   log what the parties do (info); -vv: debug\n"
		"  -q, --quiet     log errors only, no progress bar\n"
		"  --version       print the version and exit\n"
		"  -h, --help      this text; 'cvmbus help <command>' or\n"
		"                  'cvmbus <command> --help' describes a command\n"
		"\n"
		"exit codes: 0 ok, 1 the operation failed, 2 bad usage or configuration,\n"
		"3 corrupt input or a peer that broke the protocol (man cvmbus).\n");
}

static const struct cvmbus_command *find(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct cvmbus_command *c;
	int verbosity = 0, i;

	/* Global options come before the command; the command's own
	 * arguments (even a -v there) are the command's. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return CVMBUS_EXIT_OK;
		} else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
			printf("cvmbus %s\n", CVMBUS_VERSION_STRING);
			return CVMBUS_EXIT_OK;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			verbosity = verbosity < 1 ? 1 : 2;
		} else if (!strcmp(a, "-vv")) {
			verbosity = 2;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			verbosity = -1;
		} else {
			fprintf(stderr, "cvmbus: unknown option '%s'\n", a);
			usage(stderr);
			return CVMBUS_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CVMBUS_EXIT_USAGE;
	}
	tool_set_verbosity(verbosity);
	tool_apply_verbosity(CVMBUS_LOG_INFO);

	if (!strcmp(argv[i], "help")) {
		char help[] = "--help";
		char *args[3] = { NULL, help, NULL };

		if (i + 1 >= argc) {
			usage(stdout);
			return CVMBUS_EXIT_OK;
		}
		c = find(argv[i + 1]);
		if (!c) {
			fprintf(stderr, "cvmbus: unknown command '%s'\n", argv[i + 1]);
			return CVMBUS_EXIT_USAGE;
		}
		args[0] = argv[i + 1];
		return c->run(2, args);
	}
	c = find(argv[i]);
	if (c)
		return c->run(argc - i, argv + i);
	fprintf(stderr, "cvmbus: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return CVMBUS_EXIT_USAGE;
}
