/* SPDX-License-Identifier: MIT */
/*
 * The HTML report of a VM run and the trace tap that feeds it (tool layer,
 * report_html.h). The tap is a stdio stream made with fopencookie: the
 * trace writes its JSON Lines into it, and only msg and visibility lines
 * are parsed and kept; everything is then drawn from those and from the
 * run's fixed-size report. The document is written by hand with fprintf,
 * every text from the run escaped, so that a reason tag or a note can never
 * become markup.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <cvmbus/wire.h>

#include "report_html.h"
#include "vm_render.h"

/* ==== the trace tap ============================================================= */

struct tool_trace_tap {
	FILE *file;
	FILE *forward;
	char *line;
	size_t len, cap;
	struct tool_msg_event *msgs;
	size_t msg_count, msg_cap;
	struct tool_vis_event *vis;
	size_t vis_count, vis_cap;
	uint64_t lines;
	uint64_t signals;
	struct tool_progress *progress;
	int error;
};

static unsigned int party_parse(const char *s)
{
	for (unsigned int p = 0; p < CVMBUS_TRACE_PARTY_NONE; p++)
		if (s && !strcmp(s, cvmbus_trace_party_name(p)))
			return p;
	return CVMBUS_TRACE_PARTY_NONE;
}

static enum cvmbus_path path_parse(const char *s)
{
	for (unsigned int p = 0; p < CVMBUS_PATH_COUNT; p++)
		if (s && !strcmp(s, cvmbus_path_name((enum cvmbus_path)p)))
			return (enum cvmbus_path)p;
	return CVMBUS_PATH_NONE;
}

static enum cvmbus_synic_kind synic_parse(const char *s)
{
	if (s && !strcmp(s, cvmbus_synic_name(CVMBUS_SYNIC_PARAVISOR)))
		return CVMBUS_SYNIC_PARAVISOR;
	if (s && !strcmp(s, cvmbus_synic_name(CVMBUS_SYNIC_HYPERVISOR)))
		return CVMBUS_SYNIC_HYPERVISOR;
	return CVMBUS_SYNIC_NONE;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Where the channel message of `type` carries its relid, or 0 for none.
 * Offsets are the layouts' own (include/cvmbus/wire.h pins them). */
static size_t relid_offset(uint32_t type)
{
	switch (type) {
	case CVMBUS_MSG_OFFER_CHANNEL:
		return offsetof(struct cvmbus_msg_offer_channel, child_relid);
	case CVMBUS_MSG_RESCIND_CHANNEL_OFFER:
	case CVMBUS_MSG_CLOSE_CHANNEL:
	case CVMBUS_MSG_RELID_RELEASED:
	case CVMBUS_MSG_CLOSE_RESERVED_RESPONSE:
		return offsetof(struct cvmbus_msg_relid, child_relid);
	case CVMBUS_MSG_OPEN_CHANNEL:
		return offsetof(struct cvmbus_msg_open_channel, child_relid);
	case CVMBUS_MSG_OPEN_CHANNEL_RESULT:
		return offsetof(struct cvmbus_msg_open_result, child_relid);
	case CVMBUS_MSG_GPADL_HEADER:
		return offsetof(struct cvmbus_msg_gpadl_header, child_relid);
	case CVMBUS_MSG_GPADL_CREATED:
		return offsetof(struct cvmbus_msg_gpadl_created, child_relid);
	case CVMBUS_MSG_GPADL_TEARDOWN:
		return offsetof(struct cvmbus_msg_gpadl_teardown, child_relid);
	case CVMBUS_MSG_OPEN_RESERVED_CHANNEL:
		return offsetof(struct cvmbus_msg_open_reserved_channel, child_relid);
	case CVMBUS_MSG_CLOSE_RESERVED_CHANNEL:
		return offsetof(struct cvmbus_msg_close_reserved_channel, child_relid);
	case CVMBUS_MSG_MODIFY_CHANNEL:
		return offsetof(struct cvmbus_msg_modify_channel, child_relid);
	case CVMBUS_MSG_MODIFY_CHANNEL_RESPONSE:
		return offsetof(struct cvmbus_msg_modify_channel_response, child_relid);
	default:
		return 0;
	}
}

/* The little-endian u32 at byte `off` of the message in `hex`. */
static bool hex_u32(const char *hex, size_t off, uint32_t *out)
{
	uint32_t v = 0;

	if (!hex || strlen(hex) < 2 * (off + 4))
		return false;
	for (unsigned int i = 0; i < 4; i++) {
		int hi = hexval(hex[2 * (off + i)]), lo = hexval(hex[2 * (off + i) + 1]);

		if (hi < 0 || lo < 0)
			return false;
		v |= (uint32_t)(hi << 4 | lo) << (8 * i);
	}
	*out = v;
	return true;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static uint64_t juint(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

static void keep_msg(struct tool_trace_tap *tap, const json_t *o)
{
	struct tool_msg_event *m;
	size_t off;

	if (tap->msg_count == tap->msg_cap) {
		size_t cap = tap->msg_cap ? 2 * tap->msg_cap : 128;
		struct tool_msg_event *n = realloc(tap->msgs, cap * sizeof(*n));

		if (!n) {
			tap->error = tap->error ? tap->error : -ENOMEM;
			return;
		}
		tap->msgs = n;
		tap->msg_cap = cap;
	}
	m = &tap->msgs[tap->msg_count++];
	memset(m, 0, sizeof(*m));
	m->seq = juint(o, "seq");
	m->t = juint(o, "t");
	m->from = party_parse(jstr(o, "from"));
	m->to = party_parse(jstr(o, "to"));
	m->path = path_parse(jstr(o, "path"));
	m->synic = synic_parse(jstr(o, "synic"));
	m->trusted = json_is_true(json_object_get(o, "trusted"));
	m->type = (uint32_t)juint(o, "type");
	m->len = (uint32_t)juint(o, "len");
	snprintf(m->name, sizeof(m->name), "%s", jstr(o, "name") ? jstr(o, "name") : "?");
	snprintf(m->note, sizeof(m->note), "%s", jstr(o, "note") ? jstr(o, "note") : "");
	off = relid_offset(m->type);
	if (off)
		m->has_relid = hex_u32(jstr(o, "hex"), off, &m->relid);
}

static void keep_vis(struct tool_trace_tap *tap, const json_t *o)
{
	struct tool_vis_event *v;
	const char *gpa = jstr(o, "gpa");

	if (tap->vis_count == tap->vis_cap) {
		size_t cap = tap->vis_cap ? 2 * tap->vis_cap : 64;
		struct tool_vis_event *n = realloc(tap->vis, cap * sizeof(*n));

		if (!n) {
			tap->error = tap->error ? tap->error : -ENOMEM;
			return;
		}
		tap->vis = n;
		tap->vis_cap = cap;
	}
	v = &tap->vis[tap->vis_count++];
	memset(v, 0, sizeof(*v));
	v->seq = juint(o, "seq");
	v->gpa = gpa ? strtoull(gpa, NULL, 16) : 0;
	v->pages = juint(o, "pages");
	v->shared = jstr(o, "state") && !strcmp(jstr(o, "state"), "shared");
	v->from = party_parse(jstr(o, "from"));
	snprintf(v->reason, sizeof(v->reason), "%s", jstr(o, "reason") ? jstr(o, "reason") : "");
	/* A failed hypercall changed nothing. */
	if (jstr(o, "status") && strtoul(jstr(o, "status"), NULL, 16) != 0)
		tap->vis_count--;
}

/* The value of "kind" without parsing the line: the trace writes seq, t,
 * kind first (TRACE.md), so the key is near the start. */
static bool kind_is(const char *line, size_t len, const char *kind)
{
	size_t n = len < 96 ? len : 96;
	const char *k = memmem(line, n, "\"kind\":", 7);
	size_t klen = strlen(kind);

	if (!k)
		return false;
	k += 7;
	while (k < line + n && *k == ' ')
		k++;
	return k + klen + 2 <= line + len && k[0] == '"' && !memcmp(k + 1, kind, klen) &&
	       k[klen + 1] == '"';
}

void tool_trace_tap_line(struct tool_trace_tap *tap, const char *line, size_t len)
{
	bool msg, vis;
	json_t *o;

	tap->lines++;
	if (kind_is(line, len, "event")) {
		tap->signals++;
		if (tap->progress)
			tool_progress_update(tap->progress, tap->signals);
		return;
	}
	msg = kind_is(line, len, "msg");
	vis = !msg && kind_is(line, len, "visibility");
	if (!msg && !vis)
		return;
	o = json_loadb(line, len, 0, NULL);
	if (!json_is_object(o)) {
		tap->error = tap->error ? tap->error : -EBADMSG;
		json_decref(o);
		return;
	}
	if (msg)
		keep_msg(tap, o);
	else
		keep_vis(tap, o);
	json_decref(o);
}

static ssize_t tap_write(void *cookie, const char *buf, size_t size)
{
	struct tool_trace_tap *tap = cookie;

	if (tap->forward && fwrite(buf, 1, size, tap->forward) != size)
		tap->error = tap->error ? tap->error : -EIO;
	for (size_t i = 0; i < size; i++) {
		if (buf[i] == '\n') {
			tool_trace_tap_line(tap, tap->line ? tap->line : "", tap->len);
			tap->len = 0;
			continue;
		}
		if (tap->len + 1 >= tap->cap) {
			size_t cap = tap->cap ? 2 * tap->cap : 4096;
			char *n = realloc(tap->line, cap);

			if (!n) {
				tap->error = tap->error ? tap->error : -ENOMEM;
				/* Drop the rest of this line; the stream goes on. */
				continue;
			}
			tap->line = n;
			tap->cap = cap;
		}
		tap->line[tap->len++] = buf[i];
	}
	/* Always all of it: a short write would make the trace turn its
	 * stream off, and the report would lose the end of the run. */
	return (ssize_t)size;
}

int tool_trace_tap_open(struct tool_trace_tap **out, FILE *forward)
{
	cookie_io_functions_t io = { .write = tap_write };
	struct tool_trace_tap *tap = calloc(1, sizeof(*tap));

	if (!tap)
		return -ENOMEM;
	tap->forward = forward;
	tap->file = fopencookie(tap, "w", io);
	if (!tap->file) {
		int rc = -errno;

		free(tap);
		return rc ? rc : -ENOMEM;
	}
	/* Large chunks: the tap finds line ends itself. */
	setvbuf(tap->file, NULL, _IOFBF, 1u << 16);
	*out = tap;
	return 0;
}

FILE *tool_trace_tap_file(struct tool_trace_tap *tap)
{
	return tap->file;
}

void tool_trace_tap_set_progress(struct tool_trace_tap *tap, struct tool_progress *p)
{
	tap->progress = p;
}

size_t tool_trace_tap_msgs(struct tool_trace_tap *tap, const struct tool_msg_event **out)
{
	fflush(tap->file);
	*out = tap->msgs;
	return tap->msg_count;
}

size_t tool_trace_tap_vis(struct tool_trace_tap *tap, const struct tool_vis_event **out)
{
	fflush(tap->file);
	*out = tap->vis;
	return tap->vis_count;
}

uint64_t tool_trace_tap_lines(struct tool_trace_tap *tap)
{
	fflush(tap->file);
	return tap->lines;
}

int tool_trace_tap_error(struct tool_trace_tap *tap)
{
	fflush(tap->file);
	return tap->error;
}

void tool_trace_tap_close(struct tool_trace_tap *tap)
{
	if (!tap)
		return;
	fclose(tap->file);
	free(tap->line);
	free(tap->msgs);
	free(tap->vis);
	free(tap);
}

/* ==== writing HTML ================================================================ */

/* Text from the run, escaped for element content and attribute values. */
static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			/* Control bytes have no business in a report. */
			fputc((unsigned char)*s < 0x20 && *s != '\n' ? '?' : *s, f);
		}
	}
}

static const char *yn(bool b)
{
	return b ? "yes" : "no";
}

static const char css[] =
	"body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;"
	"color:#1f2328;background:#fff}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}"
	".config{font-family:ui-monospace,monospace;color:#57606a;margin:0 0 12px}"
	".summary{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 8px;padding:0;list-style:none}"
	".summary li{border:1px solid #d0d7de;border-radius:6px;padding:4px 10px;background:#f6f8fa}"
	".summary b{font-weight:600}"
	".ok{color:#1a7f37}.bad{color:#cf222e}"
	".figures{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}"
	"figure{margin:0}figcaption{color:#57606a;font-size:12px;max-width:600px}"
	"table.data{border-collapse:collapse;margin:0 0 8px;font-size:13px}"
	"table.data th,table.data td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;"
	"vertical-align:top}"
	"table.data th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}"
	"tr.finding td{background:#ffebe9}"
	"pre{background:#f6f8fa;padding:8px;border-radius:6px;font-size:12px;overflow:auto}"
	"svg text{font-family:system-ui,sans-serif}"
	".legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;"
	"vertical-align:-1px;border:1px solid #8c959f}";

/* Colours: trusted green, host-visible red, earlier amber, private pale. */
#define COLOR_TRUSTED   "#1a7f37"
#define COLOR_UNTRUSTED "#cf222e"
#define COLOR_NOW       "#cf222e"
#define COLOR_EVER      "#d4a72c"
#define COLOR_NEVER     "#dafbe1"

/* ---- the sequence chart ----------------------------------------------------------- */

#define SEQ_LANE_X0  110
#define SEQ_LANE_DX  165
#define SEQ_TOP      58
#define SEQ_ROW      20

/* Lanes left to right; the trace's parties map onto them. */
static const unsigned int lane_party[TOOL_HTML_LANES] = {
	CVMBUS_MEM_PARTY_GUEST, CVMBUS_MEM_PARTY_PARAVISOR, CVMBUS_MEM_PARTY_HYPERVISOR,
	CVMBUS_MEM_PARTY_HOST,
};

static unsigned int lane_of(unsigned int party)
{
	for (unsigned int i = 0; i < TOOL_HTML_LANES; i++)
		if (lane_party[i] == party)
			return i;
	/* A hop with no party (never emitted today) is drawn at the
	 * hypervisor, the one lane that is only a mechanism. */
	return 2;
}

static void write_sequence(const struct tool_html_input *in, FILE *f)
{
	size_t n = in->msg_count < TOOL_HTML_MAX_ARROWS ? in->msg_count : TOOL_HTML_MAX_ARROWS;
	unsigned int width = SEQ_LANE_X0 + SEQ_LANE_DX * (TOOL_HTML_LANES - 1) + 110;
	unsigned int height = SEQ_TOP + SEQ_ROW * (unsigned int)(n ? n : 1) + 20;
	static const char *const lane_title[TOOL_HTML_LANES] = {
		"guest (VTL0)", "paravisor (VTL2)", "hypervisor", "host (root)",
	};

	fprintf(f,
		"<svg id=\"sequence-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" "
		"height=\"%u\" viewBox=\"0 0 %u %u\" role=\"img\" aria-label=\"control plane "
		"sequence chart\">\n",
		width, height, width, height);
	fputs("<defs>"
	      "<marker id=\"arrow-trusted\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
	      "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
	      "<path d=\"M0,0L10,5L0,10z\" fill=\"" COLOR_TRUSTED "\"/></marker>"
	      "<marker id=\"arrow-untrusted\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
	      "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
	      "<path d=\"M0,0L10,5L0,10z\" fill=\"" COLOR_UNTRUSTED "\"/></marker>"
	      "</defs>\n",
	      f);
	/* The trust boundary: between the partition (guest, paravisor) and
	 * what the host controls (hypervisor, host). */
	fprintf(f,
		"<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" fill=\"#f0faf3\"/>"
		"<text x=\"8\" y=\"%u\" font-size=\"10\" fill=\"#57606a\">trusted partition</text>"
		"<text x=\"%u\" y=\"%u\" font-size=\"10\" fill=\"#57606a\">untrusted</text>\n",
		SEQ_LANE_X0 + SEQ_LANE_DX + SEQ_LANE_DX / 2, height, height - 6,
		SEQ_LANE_X0 + SEQ_LANE_DX + SEQ_LANE_DX / 2 + 8, height - 6);
	for (unsigned int l = 0; l < TOOL_HTML_LANES; l++) {
		unsigned int x = SEQ_LANE_X0 + SEQ_LANE_DX * l;

		fprintf(f,
			"<g class=\"lane\" id=\"lane-%s\"><rect x=\"%u\" y=\"8\" width=\"140\" "
			"height=\"26\" rx=\"4\" fill=\"#fff\" stroke=\"#57606a\"/><text x=\"%u\" "
			"y=\"26\" font-size=\"13\" text-anchor=\"middle\" font-weight=\"600\">%s</text>"
			"<line x1=\"%u\" y1=\"34\" x2=\"%u\" y2=\"%u\" stroke=\"#8c959f\" "
			"stroke-dasharray=\"4 3\"/></g>\n",
			cvmbus_trace_party_name(lane_party[l]), x - 70, x, lane_title[l], x, x,
			height - 14);
	}
	for (size_t i = 0; i < n; i++) {
		const struct tool_msg_event *m = &in->msgs[i];
		unsigned int a = lane_of(m->from), b = lane_of(m->to);
		unsigned int x1 = SEQ_LANE_X0 + SEQ_LANE_DX * a, x2 = SEQ_LANE_X0 + SEQ_LANE_DX * b;
		unsigned int y = SEQ_TOP + SEQ_ROW * (unsigned int)i + 12;
		const char *cls = m->trusted ? "trusted" : "untrusted";
		const char *color = m->trusted ? COLOR_TRUSTED : COLOR_UNTRUSTED;
		char label[64];

		if (m->has_relid)
			snprintf(label, sizeof(label), "%s relid %u", m->name, m->relid);
		else
			snprintf(label, sizeof(label), "%s", m->name);
		fprintf(f,
			"<g class=\"msg %s\" data-seq=\"%" PRIu64 "\" data-from=\"%s\" "
			"data-to=\"%s\" data-type=\"%u\"",
			cls, m->seq, cvmbus_trace_party_name(m->from), cvmbus_trace_party_name(m->to),
			m->type);
		if (m->has_relid)
			fprintf(f, " data-relid=\"%u\"", m->relid);
		fprintf(f, "><title>#%" PRIu64 " t=%" PRIu64 " ns: ", m->seq, m->t);
		esc(f, m->name);
		fprintf(f, " (type %u, %u bytes) %s -> %s, path %s, synic %s, %s", m->type, m->len,
			cvmbus_trace_party_name(m->from), cvmbus_trace_party_name(m->to),
			cvmbus_path_name(m->path), cvmbus_synic_name(m->synic),
			m->trusted ? "trusted" : "untrusted: the host can see it");
		if (m->note[0]) {
			fputs(", note: ", f);
			esc(f, m->note);
		}
		fprintf(f, "</title><text x=\"8\" y=\"%u\" font-size=\"10\" fill=\"#8c959f\">#%" PRIu64
			"</text>",
			y + 3, m->seq);
		if (a == b) {
			/* A hop within one lane: a small loop. */
			fprintf(f,
				"<path d=\"M%u,%u h28 v8 h-28\" fill=\"none\" stroke=\"%s\" "
				"stroke-width=\"1.6\" marker-end=\"url(#arrow-%s)\"/>",
				x1, y - 4, color, cls);
		} else {
			fprintf(f,
				"<line x1=\"%u\" y1=\"%u\" x2=\"%u\" y2=\"%u\" stroke=\"%s\" "
				"stroke-width=\"1.6\" marker-end=\"url(#arrow-%s)\"/>",
				x1, y, x2 > x1 ? x2 - 2 : x2 + 2, y, color, cls);
		}
		fprintf(f, "<text x=\"%u\" y=\"%u\" font-size=\"10.5\" text-anchor=\"middle\" "
			"fill=\"%s\">",
			(x1 + x2) / 2 + (a == b ? 60 : 0), y - 4, color);
		esc(f, label);
		fputs("</text></g>\n", f);
	}
	if (in->msg_count > n)
		fprintf(f, "<text x=\"8\" y=\"%u\" font-size=\"12\">%zu more messages not drawn"
			"</text>\n", height - 4, in->msg_count - n);
	fputs("</svg>\n", f);
}

/* ---- the memory map --------------------------------------------------------------------- */

enum page_state { PAGE_NEVER = 0, PAGE_EVER = 1, PAGE_NOW = 2 };

struct page_info {
	uint8_t state;
	uint8_t party;     /* who made it visible (now), else the visibility event's */
	uint16_t reason;   /* index into the reason table, 0: none */
};

#define MAP_COLS   64u
#define MAP_CELL   9u
#define MAP_LEFT   78u
#define MAP_TOP    10u
#define MAP_MAX_CELLS 16384u
#define MAP_REASONS 96u

struct map_reasons {
	char name[MAP_REASONS][CVMBUS_VM_REASON_LEN];
	size_t count;
};

static uint16_t reason_id(struct map_reasons *t, const char *name)
{
	for (size_t i = 1; i < t->count; i++)
		if (!strcmp(t->name[i], name))
			return (uint16_t)i;
	if (t->count >= MAP_REASONS)
		return 0;
	if (!t->count)
		t->count = 1; /* 0 is "no reason" */
	snprintf(t->name[t->count], sizeof(t->name[0]), "%s", name);
	return (uint16_t)t->count++;
}

static void write_cell_title(FILE *f, const struct tool_html_input *in, const struct map_reasons *rt,
			     const struct page_info *p, uint64_t gpa, uint64_t pages)
{
	const char *reason = p->reason ? rt->name[p->reason] : "";

	fprintf(f, "<title>GPA 0x%" PRIx64 "-0x%" PRIx64 " (%" PRIu64 " page%s, %s): ", gpa,
		gpa + pages * CVMBUS_MEM_PAGE_SIZE - 1, pages, pages == 1 ? "" : "s",
		gpa >= in->vtl0_bytes ? "VTL2" : "VTL0");
	if (p->state == PAGE_NOW) {
		bool allowed = false;
		enum cvmbus_vm_coco c = cvmbus_vm_coco_classify(reason, p->party,
								&in->report->config, &allowed);

		fputs("host-visible now: ", f);
		esc(f, reason);
		fprintf(f, " (%s), coco.rst: %s%s", cvmbus_mem_party_name(p->party),
			cvmbus_vm_coco_name(c), allowed ? "" : ", NOT ALLOWED here");
	} else if (p->state == PAGE_EVER) {
		fputs("host-visible earlier in the run, private at the steady state (trace "
		      "reason: ",
		      f);
		esc(f, reason[0] ? reason : "none");
		fputs(")", f);
	} else {
		fputs("never host-visible", f);
	}
	fputs("</title>", f);
}

static int write_memory(const struct tool_html_input *in, FILE *f)
{
	const struct cvmbus_vm_report *r = in->report;
	uint64_t vtl0 = in->vtl0_bytes, vtl2 = in->vtl2_bytes, total, per_cell = 1, cells, rows;
	struct map_reasons *rt = calloc(1, sizeof(*rt));
	struct page_info *cell;

	if (!rt)
		return -ENOMEM;
	total = (vtl0 + vtl2) / CVMBUS_MEM_PAGE_SIZE;
	if (!total)
		total = 1;
	/* Huge partitions: several pages per cell, the cell showing the most
	 * exposed of them. */
	while (total / per_cell > MAP_MAX_CELLS)
		per_cell *= 2;
	cells = (total + per_cell - 1) / per_cell;
	rows = (cells + MAP_COLS - 1) / MAP_COLS;
	cell = calloc(cells, sizeof(*cell));
	if (!cell) {
		free(rt);
		return -ENOMEM;
	}
	/* Earlier: the visibility hypercalls, in trace order; then now: the
	 * snapshot's ranges, which win. */
	for (size_t i = 0; i < in->vis_count; i++) {
		const struct tool_vis_event *v = &in->vis[i];

		if (!v->shared)
			continue;
		for (uint64_t pg = 0; pg < v->pages; pg++) {
			uint64_t page = v->gpa / CVMBUS_MEM_PAGE_SIZE + pg;
			struct page_info *c;

			if (page >= total)
				break;
			c = &cell[page / per_cell];
			if (c->state < PAGE_EVER) {
				c->state = PAGE_EVER;
				c->party = (uint8_t)v->from;
				c->reason = reason_id(rt, v->reason);
			}
		}
	}
	for (size_t i = 0; i < r->range_count; i++) {
		const struct cvmbus_vm_range *g = &r->ranges[i];

		for (uint64_t pg = 0; pg < g->pages; pg++) {
			uint64_t page = g->gpa / CVMBUS_MEM_PAGE_SIZE + pg;
			struct page_info *c;

			if (page >= total)
				break;
			c = &cell[page / per_cell];
			c->state = PAGE_NOW;
			c->party = (uint8_t)g->party;
			c->reason = reason_id(rt, g->reason);
		}
	}

	{
		unsigned int width = MAP_LEFT + MAP_COLS * MAP_CELL + 10;
		unsigned int height = MAP_TOP + (unsigned int)rows * MAP_CELL + 24;
		static const char *const cls[] = { "never", "ever", "now" };
		static const char *const fill[] = { COLOR_NEVER, COLOR_EVER, COLOR_NOW };

		fprintf(f,
			"<svg id=\"memory-map\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" "
			"height=\"%u\" viewBox=\"0 0 %u %u\" role=\"img\" aria-label=\"partition "
			"memory map\" data-pages=\"%" PRIu64 "\" data-pages-per-cell=\"%" PRIu64
			"\">\n",
			width, height, width, height, total, per_cell);
		for (uint64_t row = 0; row < rows; row++) {
			uint64_t gpa = row * MAP_COLS * per_cell * CVMBUS_MEM_PAGE_SIZE;

			/* Label every fourth row, and the first row of VTL2. */
			if (row % 4 == 0 || (gpa >= vtl0 && gpa - vtl0 < MAP_COLS * per_cell *
								      CVMBUS_MEM_PAGE_SIZE))
				fprintf(f,
					"<text x=\"%u\" y=\"%" PRIu64 "\" font-size=\"9\" "
					"text-anchor=\"end\" fill=\"#57606a\">0x%06" PRIx64 "</text>\n",
					MAP_LEFT - 6, MAP_TOP + row * MAP_CELL + 8, gpa);
		}
		/* One rect per run of equal cells within a row. */
		for (uint64_t i = 0; i < cells;) {
			uint64_t row = i / MAP_COLS, j = i + 1;
			const struct page_info *p = &cell[i];

			while (j < cells && j / MAP_COLS == row && cell[j].state == p->state &&
			       cell[j].reason == p->reason && cell[j].party == p->party &&
			       (j * per_cell * CVMBUS_MEM_PAGE_SIZE != vtl0))
				j++;
			fprintf(f,
				"<rect class=\"page %s\" data-gpa=\"0x%" PRIx64 "\" data-pages=\"%" PRIu64
				"\" x=\"%" PRIu64 "\" y=\"%" PRIu64 "\" width=\"%" PRIu64 "\" height=\"%u\" "
				"fill=\"%s\" stroke=\"#fff\" stroke-width=\"1\">",
				cls[p->state], i * per_cell * CVMBUS_MEM_PAGE_SIZE, (j - i) * per_cell,
				MAP_LEFT + (i % MAP_COLS) * MAP_CELL, MAP_TOP + row * MAP_CELL,
				(j - i) * MAP_CELL, MAP_CELL, fill[p->state]);
			write_cell_title(f, in, rt, p, i * per_cell * CVMBUS_MEM_PAGE_SIZE,
					 (j - i) * per_cell);
			fputs("</rect>\n", f);
			i = j;
		}
		/* Each open channel's ring, outlined: where a confidential ring
		 * sits among the pages the host cannot see is the point. */
		for (size_t i = 0; i < r->channel_count; i++) {
			const struct cvmbus_vm_channel *ch = &r->channels[i];
			uint64_t first = ch->ring_gpa / CVMBUS_MEM_PAGE_SIZE / per_cell;
			uint64_t last = (ch->ring_gpa / CVMBUS_MEM_PAGE_SIZE + ch->ring_pages - 1) /
					per_cell;

			if (!ch->opened || !ch->ring_pages || last >= cells)
				continue;
			for (uint64_t c = first; c <= last;) {
				uint64_t end = c - c % MAP_COLS + MAP_COLS - 1;

				if (end > last)
					end = last;
				fprintf(f,
					"<rect class=\"ring %s\" data-relid=\"%u\" x=\"%" PRIu64 "\" "
					"y=\"%" PRIu64 "\" width=\"%" PRIu64 "\" height=\"%u\" "
					"fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\">"
					"<title>relid %u (%s): its ring, %u pages at GPA 0x%" PRIx64
					", %s</title></rect>\n",
					ch->confidential_ring ? "confidential" : "shared", ch->relid,
					MAP_LEFT + (c % MAP_COLS) * MAP_CELL,
					MAP_TOP + (c / MAP_COLS) * MAP_CELL, (end - c + 1) * MAP_CELL,
					MAP_CELL, ch->relid, ch->device ? ch->device : "?", ch->ring_pages,
					ch->ring_gpa,
					ch->confidential_ring ? "a confidential ring: private"
							      : "host-visible");
				c = end + 1;
			}
		}
		if (vtl2) {
			uint64_t c0 = vtl0 / CVMBUS_MEM_PAGE_SIZE / per_cell;
			uint64_t y = MAP_TOP + (c0 / MAP_COLS) * MAP_CELL;
			uint64_t x = MAP_LEFT + (c0 % MAP_COLS) * MAP_CELL;

			/* The VTL0 / VTL2 boundary, as a step line. */
			fprintf(f,
				"<path class=\"vtl2-boundary\" d=\"M%u,%" PRIu64 " H%" PRIu64 " V%" PRIu64
				" H%u\" fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\"/>"
				"<text x=\"%u\" y=\"%" PRIu64 "\" font-size=\"10\" fill=\"#0969da\">"
				"VTL2 (paravisor) from GPA 0x%" PRIx64 "</text>\n",
				MAP_LEFT, y + (x > MAP_LEFT ? MAP_CELL : 0), x, y, MAP_LEFT + MAP_COLS * MAP_CELL,
				MAP_LEFT, MAP_TOP + rows * MAP_CELL + 14, vtl0);
		}
		fputs("</svg>\n", f);
	}
	free(cell);
	free(rt);
	return 0;
}

/* ---- the tables --------------------------------------------------------------------------- */

static void th_row(FILE *f, const char *const *cols)
{
	fputs("<tr>", f);
	for (; *cols; cols++) {
		fputs("<th>", f);
		esc(f, *cols);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
}

static void td(FILE *f, const char *s)
{
	fputs("<td>", f);
	esc(f, s);
	fputs("</td>", f);
}

static void tdn(FILE *f, uint64_t n)
{
	fprintf(f, "<td class=\"num\">%" PRIu64 "</td>", n);
}

static void kv(FILE *f, const char *k, const char *v)
{
	fputs("<tr><th>", f);
	esc(f, k);
	fputs("</th>", f);
	td(f, v);
	fputs("</tr>\n", f);
}

static const struct cvmbus_vm_contact *contact_won(const struct cvmbus_vm_report *r)
{
	for (size_t i = r->contact_count; i > 0; i--)
		if (r->contacts[i - 1].version == r->version)
			return &r->contacts[i - 1];
	return r->contact_count ? &r->contacts[r->contact_count - 1] : NULL;
}

static void write_negotiation(const struct cvmbus_vm_report *r, FILE *f)
{
	const struct cvmbus_vm_contact *c = contact_won(r);
	char ver[16], feat[128], buf[256];

	fputs("<h2>Negotiation</h2>\n<table class=\"data\" id=\"negotiation\">\n", f);
	if (r->connected)
		snprintf(buf, sizeof(buf), "connected");
	else
		snprintf(buf, sizeof(buf), "failed (%d)", r->connect_status);
	kv(f, "connection", buf);
	kv(f, "version", tool_version(r->version, ver, sizeof(ver)));
	cvmbus_wire_features_format(r->features, feat, sizeof(feat));
	kv(f, "features", r->connected ? feat : "-");
	kv(f, "confidential",
	   r->confidential ? "yes: the control plane runs on the paravisor's SynIC" : "no");
	kv(f, "confidential channels (0x10)",
	   r->features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS ? "granted" : "not granted");
	snprintf(buf, sizeof(buf), "%s (CPUID 0x40000082 EAX bit 3 %s)", cvmbus_detect_name(r->detect),
		 r->cpuid_confidential_bit ? "set" : "clear");
	kv(f, "detection", buf);
	if (c) {
		char hex[40];

		cvmbus_wire_hex(c->head, 8, hex, sizeof(hex));
		snprintf(buf, sizeof(buf), "%s, %s, to %s, version %s, header %s",
			 cvmbus_path_name(c->path), c->trusted ? "trusted" : "untrusted",
			 cvmbus_trace_party_name(c->to), tool_version(c->version, ver, sizeof(ver)),
			 hex);
		kv(f, "InitiateContact", buf);
	}
	kv(f, "message path", cvmbus_path_name(r->post_path));
	kv(f, "signal path", cvmbus_path_name(r->signal_path));
	if (r->relay) {
		cvmbus_wire_features_format(r->relay_features, feat, sizeof(feat));
		snprintf(buf, sizeof(buf), "%s, version %s, features %s",
			 r->relay_connected ? "connected to the host" : "not connected",
			 tool_version(r->relay_version, ver, sizeof(ver)), feat);
		kv(f, "paravisor relay", buf);
	}
	fputs("</table>\n", f);
}

static void write_channels(const struct cvmbus_vm_report *r, FILE *f)
{
	static const char *const head[] = { "relid", "device", "owner", "host relid", "offer flags",
					    "confidential ring", "confidential external",
					    "ring", "interrupts from", "echoes", NULL };

	fputs("<h2>Channels</h2>\n<table class=\"data\" id=\"channels\">\n", f);
	th_row(f, head);
	for (size_t i = 0; i < r->channel_count; i++) {
		const struct cvmbus_vm_channel *c = &r->channels[i];
		char flags[96], ring[96], buf[32];

		cvmbus_wire_offer_flags_format(c->offer_flags, flags, sizeof(flags));
		if (c->opened)
			snprintf(ring, sizeof(ring), "%u pages at 0x%" PRIx64 ", %s, %" PRIu64
				 " host-visible", c->ring_pages, c->ring_gpa,
				 c->ring_private ? "private" : "shared", c->ring_pages_visible);
		else
			snprintf(ring, sizeof(ring), "not opened");
		fputs("<tr>", f);
		tdn(f, c->relid);
		td(f, c->device ? c->device : "?");
		td(f, c->owner == CVMBUS_MEM_PARTY_PARAVISOR ? "paravisor" : "host");
		if (c->host_relid) {
			tdn(f, c->host_relid);
		} else {
			td(f, "-");
		}
		/* The value, then its names ("0x6 confidential_ring_buffer|..."). */
		snprintf(buf, sizeof(buf), "%#x ", c->offer_flags);
		fputs("<td>", f);
		if (c->offer_flags) {
			esc(f, buf);
			esc(f, flags);
		} else {
			fputs("0 (none)", f);
		}
		fputs("</td>", f);
		td(f, yn(c->confidential_ring));
		td(f, yn(c->confidential_external));
		td(f, ring);
		td(f, c->synic_both ? "both SynICs" : cvmbus_synic_name(c->synic));
		tdn(f, c->echoes);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void write_devices(const struct tool_html_input *in, FILE *f)
{
	static const char *const head[] = { "device", "served by", "configuration", "status",
					    NULL };

	fputs("<h2>Devices</h2>\n<table class=\"data\" id=\"devices\">\n", f);
	th_row(f, head);
	fputs("<tr><td>echo</td><td>host</td><td>the host's test device, every run</td>"
	      "<td>offered</td></tr>\n",
	      f);
	if (in->report->config.paravisor)
		fputs("<tr><td>echo</td><td>paravisor</td><td>the paravisor's test device, every "
		      "run</td><td>offered</td></tr>\n",
		      f);
	for (size_t i = 0; i < in->device_count; i++) {
		const struct tool_html_device *d = &in->devices[i];

		fputs("<tr>", f);
		td(f, d->type);
		td(f, d->owner);
		td(f, d->detail);
		td(f, d->status);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void write_exposure(const struct cvmbus_vm_report *r, FILE *f)
{
	static const char *const head[] = { "reason", "made visible by", "coco.rst category",
					    "pages now", "pages ever", "allowed here", NULL };

	fprintf(f, "<h2>Exposure: host-visible pages</h2>\n<p>%s</p>\n",
		r->steady ? "Now = the steady state: connected, every channel open."
			  : "No steady state was reached: now = after the failed connect.");
	fputs("<table class=\"data\" id=\"exposure\">\n", f);
	th_row(f, head);
	for (size_t i = 0; i < r->reason_count; i++) {
		const struct cvmbus_vm_reason *rs = &r->reasons[i];
		bool finding = rs->pages_now && !rs->allowed;

		fprintf(f, "<tr%s>", finding ? " class=\"finding\"" : "");
		td(f, rs->reason);
		td(f, cvmbus_mem_party_name(rs->party));
		td(f, cvmbus_vm_coco_name(rs->category));
		tdn(f, rs->pages_now);
		tdn(f, rs->pages_ever);
		td(f, rs->pages_now || rs->allowed ? yn(rs->allowed) : "(gone)");
		fputs("</tr>\n", f);
	}
	fprintf(f, "<tr><th>total</th><td></td><td></td><td class=\"num\">%" PRIu64 "</td>"
		"<td class=\"num\">%" PRIu64 "</td><td></td></tr>\n</table>\n",
		r->pages_now, r->pages_ever);
}

static void write_messages(const struct cvmbus_vm_report *r, FILE *f)
{
	static const char *const head[] = { "from", "to", "path", "SynIC", "trusted", "messages",
					    NULL };

	fprintf(f, "<h2>Control messages by hop (%" PRIu64 " in the trace)</h2>\n", r->messages);
	fputs("<table class=\"data\" id=\"messages\">\n", f);
	th_row(f, head);
	for (size_t i = 0; i < r->msg_key_count; i++) {
		const struct cvmbus_vm_msg_key *k = &r->msg_keys[i];

		fputs("<tr>", f);
		td(f, cvmbus_trace_party_name(k->from));
		td(f, cvmbus_trace_party_name(k->to));
		td(f, cvmbus_path_name(k->path));
		td(f, cvmbus_synic_name(k->synic));
		fprintf(f, "<td class=\"%s\">%s</td>", k->trusted ? "ok" : "bad", yn(k->trusted));
		tdn(f, k->count);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void write_secrets(const struct cvmbus_vm_report *r, FILE *f)
{
	static const char *const head[] = { "relid", "ring", "copies in host-visible pages",
					    "copies in the shared memfd", "verdict", NULL };

	fputs("<h2>Secret scan</h2>\n<p>32 random bytes went through each channel; then the "
	      "host's view and the shared memory file were searched for them.</p>\n"
	      "<table class=\"data\" id=\"secrets\">\n",
	      f);
	th_row(f, head);
	for (size_t i = 0; i < r->channel_count; i++) {
		const struct cvmbus_vm_channel *c = &r->channels[i];
		const char *verdict, *cls;

		if (!c->secret_sent)
			continue;
		if (c->confidential_ring) {
			bool leak = c->secret_hits_view || c->secret_hits_fd;

			verdict = leak ? "LEAKED" : "not visible to the host";
			cls = leak ? "bad" : "ok";
		} else {
			verdict = c->secret_hits_view ? "visible (a host-visible ring, as expected)"
						      : "NOT FOUND: the scan is blind";
			cls = c->secret_hits_view ? "" : "bad";
		}
		fputs("<tr>", f);
		tdn(f, c->relid);
		td(f, c->confidential_ring ? "confidential" : "host-visible");
		tdn(f, c->secret_hits_view);
		tdn(f, c->secret_hits_fd);
		fprintf(f, "<td class=\"%s\">", cls);
		esc(f, verdict);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void write_throughput(const struct cvmbus_vm_report *r, FILE *f)
{
	char buf[96];

	fputs("<h2>Throughput and trace</h2>\n<table class=\"data\" id=\"throughput\">\n", f);
	snprintf(buf, sizeof(buf), "%" PRIu64, r->echo_packets);
	kv(f, "echo packets", buf);
	snprintf(buf, sizeof(buf), "%.3f ms%s", (double)r->echo_ns / 1e6,
		 r->config.deterministic ? " (virtual time)" : "");
	kv(f, "echo time", buf);
	if (r->echo_ns)
		snprintf(buf, sizeof(buf), "%.0f", (double)r->echo_packets * 1e9 / (double)r->echo_ns);
	else
		snprintf(buf, sizeof(buf), "-");
	kv(f, "packets per second", buf);
	snprintf(buf, sizeof(buf), "%" PRIu64, r->trace_events);
	kv(f, "trace events", buf);
	snprintf(buf, sizeof(buf), "%016" PRIx64, r->trace_hash);
	kv(f, "trace hash (FNV-1a 64)", buf);
	fputs("</table>\n", f);
}

static void write_summary(const struct tool_html_input *in, FILE *f)
{
	const struct cvmbus_vm_report *r = in->report;
	size_t trusted = 0, conf = 0, leaks = 0;
	char ver[16];

	for (size_t i = 0; i < in->msg_count; i++)
		trusted += in->msgs[i].trusted;
	for (size_t i = 0; i < r->channel_count; i++) {
		conf += r->channels[i].confidential_ring;
		leaks += r->channels[i].confidential_ring &&
			 (r->channels[i].secret_hits_view || r->channels[i].secret_hits_fd);
	}
	fputs("<ul class=\"summary\">", f);
	if (r->status) {
		fputs("<li class=\"bad\"><b>status: FAILED</b> ", f);
		esc(f, r->error);
		fputs("</li>", f);
	} else {
		fputs("<li class=\"ok\"><b>status: ok</b></li>", f);
	}
	fprintf(f, "<li>VMBus <b>%s</b>%s</li>", tool_version(r->version, ver, sizeof(ver)),
		r->confidential ? ", <b>confidential</b>" : "");
	fprintf(f, "<li><b>%zu</b> channels, %zu with a confidential ring</li>", r->channel_count,
		conf);
	fprintf(f, "<li><b>%zu</b> control messages, <span class=\"ok\">%zu trusted</span>, "
		"<span class=\"bad\">%zu the host saw</span></li>",
		in->msg_count, trusted, in->msg_count - trusted);
	fprintf(f, "<li>host-visible pages: <b>%" PRIu64 "</b> now, %" PRIu64 " ever</li>",
		r->pages_now, r->pages_ever);
	fprintf(f, "<li class=\"%s\">secrets on confidential channels: <b>%s</b></li>",
		leaks ? "bad" : "ok", leaks ? "LEAKED" : conf ? "not visible" : "none");
	fputs("</ul>\n", f);
}

int tool_report_html_write(const struct tool_html_input *in, FILE *f)
{
	struct tool_html_input local = *in;
	const struct cvmbus_vm_report *r = in->report;
	int rc;

	/* The platform's defaults (include/cvmbus/platform.h) when the run
	 * did not get far enough to say. */
	if (!local.vtl0_bytes)
		local.vtl0_bytes = 4u << 20;
	if (!local.vtl2_bytes && !in->vtl0_bytes && r->config.paravisor)
		local.vtl2_bytes = 1u << 20;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
	      "cvmbus run: ",
	      f);
	esc(f, r->config_text);
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", css);
	fputs("<h1>cvmbus run</h1>\n<p class=\"config\">", f);
	esc(f, r->config_text);
	if (in->version) {
		fputs(" &middot; cvmbus ", f);
		esc(f, in->version);
	}
	fputs("</p>\n", f);
	write_summary(&local, f);

	fputs("<div class=\"figures\">\n<figure id=\"sequence\">\n<h2>Control plane</h2>\n", f);
	write_sequence(&local, f);
	fputs("<figcaption>Every VMBus channel message, once per hop, in trace order. "
	      "<span class=\"ok\">Green</span>: a trusted path (the paravisor's trap, its "
	      "SynIC); <span class=\"bad\">red</span>: a path the host can see (GHCB, tdcall, "
	      "the hypervisor's SynIC, the relay's posts). Hover an arrow for its details."
	      "</figcaption>\n</figure>\n",
	      f);
	fputs("<figure id=\"memory\">\n<h2>Partition memory</h2>\n", f);
	rc = write_memory(&local, f);
	if (rc)
		return rc;
	fputs("<p class=\"legend\"><span style=\"background:" COLOR_NOW "\"></span>host-visible "
	      "now<span style=\"background:" COLOR_EVER "\"></span>host-visible earlier"
	      "<span style=\"background:" COLOR_NEVER "\"></span>never host-visible"
	      "<span style=\"border:2px solid #0969da\"></span>a channel's ring</p>\n"
	      "<figcaption>One cell per 4 KiB page of guest physical address space, VTL0 RAM "
	      "from GPA 0 and the paravisor's VTL2 RAM after it. \"Now\" is the steady state "
	      "(connected, every channel open); \"earlier\" comes from the trace's visibility "
	      "hypercalls. Hover a cell for the reason and its coco.rst category.</figcaption>\n"
	      "</figure>\n</div>\n",
	      f);

	write_negotiation(r, f);
	write_channels(r, f);
	write_devices(&local, f);
	write_exposure(r, f);
	write_messages(r, f);
	write_secrets(r, f);
	write_throughput(r, f);
	if (in->config_json) {
		fputs("<h2>Configuration</h2>\n<details><summary>the effective configuration "
		      "(docs/CONFIG.md)</summary>\n<pre id=\"configuration\">",
		      f);
		esc(f, in->config_json);
		fputs("</pre></details>\n", f);
	}
	fputs("</body>\n</html>\n", f);
	return ferror(f) ? -EIO : 0;
}

int tool_report_html_file(const struct tool_html_input *in, const char *path, char *err,
			  size_t errlen)
{
	size_t n = strlen(path) + 16;
	char *tmp = malloc(n);
	FILE *f;
	int rc;

	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, n, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
		free(tmp);
		return rc;
	}
	rc = tool_report_html_write(in, f);
	if (fclose(f) && !rc)
		rc = -EIO;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
		unlink(tmp);
	}
	free(tmp);
	return rc;
}
