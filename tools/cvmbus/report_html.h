/* SPDX-License-Identifier: MIT */
/*
 * The HTML report of `cvmbus run --report FILE.html` (tool layer), and the
 * trace tap that gathers what it draws. The report is one self-contained
 * file (inline CSS and SVG, no script, nothing fetched): an SVG sequence
 * chart of the control plane, one arrow per channel message hop between
 * four lanes (guest, paravisor, hypervisor, host), green on a trusted path
 * and red on one the host can see; an SVG map of partition memory, every
 * page coloured by host visibility now (at the steady state), earlier in
 * the run, or never, with the reason on hover; then the run's tables.
 *
 * Stable hooks for tests and scripts: svg#sequence-chart holds one
 * <g class="lane"> per lane and one <g class="msg trusted|untrusted"> per
 * message; svg#memory-map holds <rect class="page now|ever|never">, each
 * covering a run of pages (data-gpa, data-pages); tables have ids
 * (table#negotiation, #channels, #devices, #exposure, #messages, #secrets,
 * #throughput).
 */
#ifndef CVMBUS_TOOL_REPORT_HTML_H
#define CVMBUS_TOOL_REPORT_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cvmbus/trace.h>
#include <cvmbus/vm.h>

#include "cli.h"

/* ---- the trace tap ------------------------------------------------------------- */

/* One "msg" event of the trace (a channel message, once per hop). */
struct tool_msg_event {
	uint64_t seq, t;
	unsigned int from, to;          /* enum cvmbus_mem_party or CVMBUS_TRACE_PARTY_NONE */
	enum cvmbus_path path;
	enum cvmbus_synic_kind synic;
	bool trusted;
	uint32_t type;                  /* channel message type */
	char name[32];                  /* "open_channel" */
	bool has_relid;                 /* the message names a channel */
	uint32_t relid;                 /* as this hop carries it */
	uint32_t len;
	char note[32];                  /* "relay", ... */
};

/* One "visibility" event: pages made host-visible or private again. */
struct tool_vis_event {
	uint64_t seq;
	uint64_t gpa, pages;
	bool shared;
	unsigned int from;
	char reason[CVMBUS_VM_REASON_LEN];
};

/*
 * A FILE* to hand to cvmbus_vm_set_trace_jsonl(): it reads the JSON Lines
 * as the trace writes them and keeps only what a report draws (msg and
 * visibility events), so its memory does not grow with the echo traffic,
 * and counts the "event" lines (one per echo answered) for a progress bar.
 * Every line is also written to `forward` when not NULL.
 */
struct tool_trace_tap;

/* 0, -ENOMEM, or -errno from fopencookie. */
int tool_trace_tap_open(struct tool_trace_tap **out, FILE *forward);
FILE *tool_trace_tap_file(struct tool_trace_tap *tap);
/* Advance p by the "event" lines seen (the run's signals to the guest). */
void tool_trace_tap_set_progress(struct tool_trace_tap *tap, struct tool_progress *p);
/* Flush the stream and return what was kept (valid until close). */
size_t tool_trace_tap_msgs(struct tool_trace_tap *tap, const struct tool_msg_event **out);
size_t tool_trace_tap_vis(struct tool_trace_tap *tap, const struct tool_vis_event **out);
uint64_t tool_trace_tap_lines(struct tool_trace_tap *tap);
/* 0, or the first problem: -ENOMEM, -EBADMSG (a line that did not parse). */
int tool_trace_tap_error(struct tool_trace_tap *tap);
void tool_trace_tap_close(struct tool_trace_tap *tap);

/* Feed one JSON line by hand (what the stream does for each line): for
 * tests. */
void tool_trace_tap_line(struct tool_trace_tap *tap, const char *line, size_t len);

/* ---- the report ---------------------------------------------------------------- */

/* A row of the devices table: what the configuration asked for and what
 * became of it. */
struct tool_html_device {
	char type[8];     /* "disk", "nic" */
	char owner[12];   /* "host", "paravisor" */
	char detail[128]; /* "16M temporary image", "loopback, 00:15:5d:c0:00:01" */
	char status[128]; /* "offered as relid 3", "not attached: ..." */
};

struct tool_html_input {
	const struct cvmbus_vm_report *report;
	const struct tool_msg_event *msgs;
	size_t msg_count;
	const struct tool_vis_event *vis;
	size_t vis_count;
	/* Partition layout: VTL0 RAM from GPA 0, VTL2 after it. 0: the
	 * platform's defaults (4 MiB, and 1 MiB with a paravisor). */
	uint64_t vtl0_bytes, vtl2_bytes;
	const struct tool_html_device *devices;
	size_t device_count;
	const char *config_json; /* the effective configuration, or NULL */
	const char *version;     /* the tool's */
};

/* Lanes of the chart, left to right. */
#define TOOL_HTML_LANES 4u
/* Arrows drawn at most; past that the chart says how many it left out. */
#define TOOL_HTML_MAX_ARROWS 4000u

/* Write the whole document. 0, or -EIO if the stream failed. */
int tool_report_html_write(const struct tool_html_input *in, FILE *out);
/* Into a file (written to a temporary name beside it, then renamed, so a
 * reader never sees half a report). 0 or -errno, with err saying why. */
int tool_report_html_file(const struct tool_html_input *in, const char *path, char *err,
			  size_t errlen);

#endif /* CVMBUS_TOOL_REPORT_HTML_H */
