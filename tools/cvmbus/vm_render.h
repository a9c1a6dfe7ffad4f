/* SPDX-License-Identifier: MIT */
/*
 * Rendering of a VM run's report (struct cvmbus_vm_report, include/cvmbus/
 * vm.h) for the subcommands that boot a VM (`run`, `matrix`, `trace`):
 * parsing the shared topology options, aligned text tables, and the JSON
 * form (jansson: the tool is the only place that knows JSON). Tool layer.
 */
#ifndef CVMBUS_TOOL_VM_RENDER_H
#define CVMBUS_TOOL_VM_RENDER_H

#include <stdio.h>

#include <jansson.h>

#include <cvmbus/vm.h>

/* Handle argv[*i] if it is a topology option (consuming its value, if any):
 * 1 handled, 0 not a topology option, -1 an error already printed. */
int tool_vm_option(int argc, char **argv, int *i, struct cvmbus_vm_config *cfg,
		   const char *who);
/* The same, also giving the option's name (without "--") and its value
 * (NULL for a flag) for a caller that forwards it elsewhere. */
int tool_vm_option_ex(int argc, char **argv, int *i, struct cvmbus_vm_config *cfg,
		      const char *who, char *name_out, size_t name_cap, const char **value_out);

/* ---- aligned tables ------------------------------------------------------ */

#define TOOL_TABLE_MAX_COLS 12
#define TOOL_TABLE_MAX_ROWS 80
#define TOOL_TABLE_CELL     160

struct tool_table {
	int cols;
	int rows;
	char cell[TOOL_TABLE_MAX_ROWS][TOOL_TABLE_MAX_COLS][TOOL_TABLE_CELL];
};

/* A new table with its header row (cols strings). */
struct tool_table *tool_table_new(int cols, ...);
/* One row; printf-free: pass cols strings. Rows past the cap are dropped. */
void tool_table_row(struct tool_table *t, ...);
/* Print with every column as wide as its widest cell, indented. */
void tool_table_print(const struct tool_table *t, FILE *out, const char *indent);
void tool_table_free(struct tool_table *t);

/* ---- text fragments --------------------------------------------------------- */

/* "6.0"; "-" for 0. */
const char *tool_version(uint32_t v, char *buf, size_t cap);
/* "relid:owner:flags" for each channel, space separated. */
void tool_channels_brief(const struct cvmbus_vm_report *r, char *buf, size_t cap);
/* "reason=pages" for each reason visible at the steady state. */
void tool_exposure_brief(const struct cvmbus_vm_report *r, char *buf, size_t cap);
/* The InitiateContact that won: "paravisor-trap trusted" or "-". */
void tool_contact_brief(const struct cvmbus_vm_report *r, char *buf, size_t cap);
/* Secret hits: "relid:view/fd" for each channel with a secret. */
void tool_secret_brief(const struct cvmbus_vm_report *r, char *buf, size_t cap);

/* The full text report of `cvmbus run`. */
void tool_vm_print_report(const struct cvmbus_vm_report *r, FILE *out);

/* ---- JSON ------------------------------------------------------------------------ */

json_t *tool_vm_report_json(const struct cvmbus_vm_report *r);
json_t *tool_vm_cell_json(const struct cvmbus_vm_cell_result *c);

#endif /* CVMBUS_TOOL_VM_RENDER_H */
