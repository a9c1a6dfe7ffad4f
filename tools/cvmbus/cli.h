/* SPDX-License-Identifier: MIT */
/*
 * What every subcommand of the cvmbus tool shares beyond dispatch (tool
 * layer): the verbosity chosen with the global -v / -q options, and a
 * progress bar on stderr for long runs (`run` with many packets, `matrix`),
 * drawn only when stderr is a terminal, so that pipes and logs never get
 * carriage returns.
 */
#ifndef CVMBUS_TOOL_CLI_H
#define CVMBUS_TOOL_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <cvmbus/log.h>

/* ---- verbosity ------------------------------------------------------------- */

/* -1: -q (errors only); 0: not chosen (each subcommand's own default);
 * 1: -v (info); 2: -vv (debug). Set once by main() before dispatch. */
void tool_set_verbosity(int v);
int tool_verbosity(void);
/* Set the log level: the chosen verbosity, else `dflt`. */
void tool_apply_verbosity(enum cvmbus_log_level dflt);

/* ---- progress bar ---------------------------------------------------------- */

struct tool_progress {
	const char *label;    /* "run", "matrix" */
	const char *unit;     /* "packets", "cells" */
	uint64_t total;
	uint64_t done;
	bool enabled;         /* stderr is a terminal and not -q */
	bool drawn;           /* a bar is on the screen (to be cleared) */
	uint64_t start_ns;
	uint64_t last_ns;
};

/* A bar for `total` units; it appears only once the work has taken longer
 * than half a second, so that short runs print nothing at all. */
void tool_progress_init(struct tool_progress *p, const char *label, const char *unit,
			uint64_t total);
/* Redraw (at most ten times a second) with `done` units done. Not
 * thread-safe: one caller at a time (the trace tap calls it under the
 * trace's lock). */
void tool_progress_update(struct tool_progress *p, uint64_t done);
/* Erase the bar, if one was drawn. */
void tool_progress_done(struct tool_progress *p);

/* ---- the configuration of a VM run ------------------------------------------ */

struct cvmbus_vm_setup;

/*
 * Build a run's configuration from a subcommand's arguments: the embedded
 * default, then --config FILE (wherever it stands), then every option of
 * cvmbus_vm_setup_builder_option in order (--name value or --name=value);
 * arguments listed in `skip` (flags the subcommand handles itself) are
 * passed over. On success fills *s and *config_text (the effective
 * configuration as JSON, malloc'd; may be NULL on -ENOMEM) and returns 0;
 * otherwise prints "<who>: <problem>" on stderr and returns the exit code
 * (2 for a bad option or configuration).
 */
int tool_setup_configure(const char *who, int argc, char **argv, const char *const *skip,
			 struct cvmbus_vm_setup *s, char **config_text);

/* ---- a paravisor image description (attest.c) ---------------------------------- */

struct cvmbus_paravisor_image;
/* Read the JSON description of a paravisor build (the schema of `cvmbus
 * attest measure`, docs/ATTESTATION.md). 0, or the tool's exit code (1: the
 * file cannot be read, 2: the description is wrong) with the problem in
 * err. */
int tool_paravisor_image_load(const char *path, struct cvmbus_paravisor_image *img, char *err,
			      size_t errlen);

/* ---- subcommands without a line in commands.h yet ----------------------------- */

/* `cvmbus config` (config.c). */

#endif /* CVMBUS_TOOL_CLI_H */
