/* SPDX-License-Identifier: MIT */
/*
 * The subcommands of the cvmbus tool. Each lives in its own file and is
 * listed once in main.c's table; main.c owns --help, --version and the exit
 * code convention below.
 */
#ifndef CVMBUS_TOOL_COMMANDS_H
#define CVMBUS_TOOL_COMMANDS_H

/* Exit codes, documented in docs/cvmbus.1 and README.md. */
enum cvmbus_exit {
	CVMBUS_EXIT_OK = 0,
	CVMBUS_EXIT_FAILURE = 1,   /* the operation ran and failed (I/O, timeout) */
	CVMBUS_EXIT_USAGE = 2,     /* bad command line or configuration */
	CVMBUS_EXIT_CORRUPT = 3,   /* input is corrupt or a peer broke the protocol */
};

struct cvmbus_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
};

int cmd_ring(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_attest(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_matrix(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_explore(int argc, char **argv);
int cmd_net(int argc, char **argv);
int cmd_disk(int argc, char **argv);

#endif
