/* SPDX-License-Identifier: MIT */
/*
 * Rendering of VM run reports for `cvmbus run`, `matrix` and `trace`
 * (vm_render.h): the topology options, aligned tables, short summaries for
 * the matrix's one-line cells, the full text report of `run`, and the JSON
 * form of a report and of a matrix cell (schema in docs/MATRIX.md). It only
 * reads reports; it never touches a running VM.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/wire.h>

#include "vm_render.h"

/* ---- options ------------------------------------------------------------------- */

int tool_vm_option_ex(int argc, char **argv, int *i, struct cvmbus_vm_config *cfg,
		      const char *who, char *name_out, size_t name_cap, const char **value_out)
{
	const char *a = argv[*i];
	const char *name, *value = NULL;
	char err[160], nbuf[48];
	const char *eq;
	int has_arg, rc;

	if (strncmp(a, "--", 2))
		return 0;
	name = a + 2;
	/* --opt=value is accepted as well as --opt value. */
	eq = strchr(name, '=');
	if (eq) {
		size_t n = (size_t)(eq - name);

		if (n >= sizeof(nbuf))
			return 0;
		memcpy(nbuf, name, n);
		nbuf[n] = '\0';
		name = nbuf;
		value = eq + 1;
	}
	has_arg = cvmbus_vm_config_option_has_arg(name);
	if (has_arg < 0)
		return 0;
	if (has_arg && !value) {
		if (*i + 1 >= argc) {
			fprintf(stderr, "%s: --%s needs a value\n", who, name);
			return -1;
		}
		value = argv[++*i];
	}
	rc = cvmbus_vm_config_option(cfg, name, value, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", who, err);
		return -1;
	}
	if (name_out && name_cap)
		snprintf(name_out, name_cap, "%s", name);
	if (value_out)
		*value_out = has_arg ? value : NULL;
	return 1;
}

int tool_vm_option(int argc, char **argv, int *i, struct cvmbus_vm_config *cfg,
		   const char *who)
{
	return tool_vm_option_ex(argc, argv, i, cfg, who, NULL, 0, NULL);
}

/* Append to buf at *len, never past cap. */
static void cat(char *buf, size_t cap, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- tables --------------------------------------------------------------------- */

struct tool_table *tool_table_new(int cols, ...)
{
	struct tool_table *t;
	va_list ap;

	if (cols < 1 || cols > TOOL_TABLE_MAX_COLS)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cols = cols;
	va_start(ap, cols);
	for (int c = 0; c < cols; c++)
		snprintf(t->cell[0][c], TOOL_TABLE_CELL, "%s", va_arg(ap, const char *));
	va_end(ap);
	t->rows = 1;
	return t;
}

void tool_table_row(struct tool_table *t, ...)
{
	va_list ap;

	if (!t || t->rows >= TOOL_TABLE_MAX_ROWS)
		return;
	va_start(ap, t);
	for (int c = 0; c < t->cols; c++) {
		const char *s = va_arg(ap, const char *);

		snprintf(t->cell[t->rows][c], TOOL_TABLE_CELL, "%s", s ? s : "-");
	}
	va_end(ap);
	t->rows++;
}

void tool_table_print(const struct tool_table *t, FILE *out, const char *indent)
{
	size_t w[TOOL_TABLE_MAX_COLS] = { 0 };

	if (!t)
		return;
	for (int r = 0; r < t->rows; r++)
		for (int c = 0; c < t->cols; c++) {
			size_t n = strlen(t->cell[r][c]);

			if (n > w[c])
				w[c] = n;
		}
	for (int r = 0; r < t->rows; r++) {
		char line[TOOL_TABLE_MAX_COLS * (TOOL_TABLE_CELL + 2) + 64];
		size_t len = 0;

		cat(line, sizeof(line), &len, "%s", indent ? indent : "");
		for (int c = 0; c < t->cols; c++)
			cat(line, sizeof(line), &len, "%-*s  ", (int)w[c], t->cell[r][c]);
		/* No trailing blanks (padding of the last, or of empty, columns). */
		while (len && line[len - 1] == ' ')
			line[--len] = '\0';
		fprintf(out, "%s\n", line);
	}
}

void tool_table_free(struct tool_table *t)
{
	free(t);
}

/* ---- fragments --------------------------------------------------------------------- */

const char *tool_version(uint32_t v, char *buf, size_t cap)
{
	if (!v)
		snprintf(buf, cap, "-");
	else
		cvmbus_wire_version_format(v, buf, cap);
	return buf;
}

static const char *owner_name(enum cvmbus_mem_party p)
{
	return p == CVMBUS_MEM_PARTY_PARAVISOR ? "paravisor" : "host";
}

static void cat(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

void tool_channels_brief(const struct cvmbus_vm_report *r, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->channel_count; i++) {
		const struct cvmbus_vm_channel *c = &r->channels[i];

		cat(buf, cap, &len, "%s%u:%s:%#x", i ? " " : "", c->relid, owner_name(c->owner),
		    c->offer_flags);
	}
	if (!len)
		snprintf(buf, cap, "-");
}

void tool_exposure_brief(const struct cvmbus_vm_report *r, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->reason_count; i++) {
		const struct cvmbus_vm_reason *rs = &r->reasons[i];

		if (!rs->pages_now)
			continue;
		cat(buf, cap, &len, "%s%s=%" PRIu64 "%s", len ? " " : "", rs->reason, rs->pages_now,
		    rs->allowed ? "" : "(!)");
	}
	if (!len)
		snprintf(buf, cap, "-");
}

static const struct cvmbus_vm_contact *contact_won(const struct cvmbus_vm_report *r)
{
	for (size_t i = r->contact_count; i > 0; i--)
		if (r->contacts[i - 1].version == r->version)
			return &r->contacts[i - 1];
	return r->contact_count ? &r->contacts[r->contact_count - 1] : NULL;
}

void tool_contact_brief(const struct cvmbus_vm_report *r, char *buf, size_t cap)
{
	const struct cvmbus_vm_contact *c = contact_won(r);

	if (!c)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%s%s", cvmbus_path_name(c->path), c->trusted ? " trusted" : "");
}

void tool_secret_brief(const struct cvmbus_vm_report *r, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->channel_count; i++) {
		const struct cvmbus_vm_channel *c = &r->channels[i];

		if (!c->secret_sent)
			continue;
		cat(buf, cap, &len, "%s%u:%" PRIu64 "/%" PRIu64, len ? " " : "", c->relid,
		    c->secret_hits_view, c->secret_hits_fd);
	}
	if (!len)
		snprintf(buf, cap, "-");
}

/* ---- the text report of `run` -------------------------------------------------------- */

static const char *yn(bool b)
{
	return b ? "yes" : "no";
}

static void print_negotiation(const struct cvmbus_vm_report *r, FILE *out)
{
	char ver[16], feat[128], rver[16], rfeat[128], det[200], ic[200], conn[32];
	const struct cvmbus_vm_contact *c = contact_won(r);
	struct tool_table *t = tool_table_new(2, "item", "value");
	size_t len = 0;

	if (!t)
		return;
	cvmbus_wire_features_format(r->features, feat, sizeof(feat));
	snprintf(conn, sizeof(conn), "%s", r->connected ? "connected" : "not connected");
	if (!r->connected)
		snprintf(conn, sizeof(conn), "failed (%d)", r->connect_status);
	tool_table_row(t, "connection", conn);
	tool_table_row(t, "version", tool_version(r->version, ver, sizeof(ver)));
	tool_table_row(t, "features", r->connected ? feat : "-");
	tool_table_row(t, "confidential", r->confidential ? "yes: control plane on the paravisor's SynIC"
							  : "no");
	tool_table_row(t, "confidential channels",
		       r->features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS ? "granted (0x10)"
									  : "not granted");
	cat(det, sizeof(det), &len, "%s (cpuid bit %s)", cvmbus_detect_name(r->detect),
	    r->cpuid_confidential_bit ? "set" : "clear");
	for (unsigned int i = 0; i < r->attempts; i++)
		cat(det, sizeof(det), &len, "; attempt %u: %s over %s: %s", i,
		    r->attempt[i].confidential ? "confidential" : "plain",
		    cvmbus_path_name(r->attempt[i].path),
		    r->attempt[i].status ? "failed" : "connected");
	tool_table_row(t, "detection", det);
	if (c) {
		char hex[40];

		cvmbus_wire_hex(c->head, 8, hex, sizeof(hex));
		snprintf(ic, sizeof(ic), "%s, %s, to %s, version %s, header %s",
			 cvmbus_path_name(c->path), c->trusted ? "trusted" : "untrusted",
			 cvmbus_trace_party_name(c->to), tool_version(c->version, ver, sizeof(ver)),
			 hex);
		tool_table_row(t, "initiate contact", ic);
	}
	tool_table_row(t, "message path", cvmbus_path_name(r->post_path));
	tool_table_row(t, "signal path", cvmbus_path_name(r->signal_path));
	if (r->paravisor_measurement[0])
		tool_table_row(t, "paravisor measured", r->paravisor_measurement);
	if (r->attest_decision[0] && strcmp(r->attest_decision, "not-run")) {
		snprintf(det, sizeof(det), "%s%s%s", r->attest_decision,
			 r->attest_reason[0] ? ": " : "", r->attest_reason);
		tool_table_row(t, "attestation", det);
	}
	if (r->relay) {
		cvmbus_wire_features_format(r->relay_features, rfeat, sizeof(rfeat));
		snprintf(det, sizeof(det), "%s, version %s, features %s",
			 r->relay_connected ? "connected to the host" : "not connected",
			 tool_version(r->relay_version, rver, sizeof(rver)), rfeat);
		tool_table_row(t, "relay", det);
	}
	fprintf(out, "negotiation\n");
	tool_table_print(t, out, "  ");
	tool_table_free(t);
}

static void print_channels(const struct cvmbus_vm_report *r, FILE *out)
{
	struct tool_table *t = tool_table_new(10, "relid", "device", "owner", "host relid",
					      "flags", "conf. ring", "conf. external", "ring",
					      "synic", "echoes");

	if (!t)
		return;
	for (size_t i = 0; i < r->channel_count; i++) {
		const struct cvmbus_vm_channel *c = &r->channels[i];
		char relid[16], hrelid[16], flags[64], ring[64], synic[40], echoes[32];

		snprintf(relid, sizeof(relid), "%u", c->relid);
		snprintf(hrelid, sizeof(hrelid), "%u", c->host_relid);
		cvmbus_wire_offer_flags_format(c->offer_flags, flags, sizeof(flags));
		if (c->opened)
			snprintf(ring, sizeof(ring), "%u pages %s, %" PRIu64 " visible", c->ring_pages,
				 c->ring_private ? "private" : "shared", c->ring_pages_visible);
		else
			snprintf(ring, sizeof(ring), "not open");
		snprintf(synic, sizeof(synic), "%s", c->synic_both ? "both"
							: cvmbus_synic_name(c->synic));
		snprintf(echoes, sizeof(echoes), "%" PRIu64 "%s", c->echoes,
			 c->echo_status ? " (failed)" : "");
		tool_table_row(t, relid, c->device, owner_name(c->owner),
			       c->host_relid ? hrelid : "-", flags, yn(c->confidential_ring),
			       yn(c->confidential_external), ring, synic, echoes);
	}
	fprintf(out, "\nchannels\n");
	tool_table_print(t, out, "  ");
	tool_table_free(t);
}

static void print_exposure(const struct cvmbus_vm_report *r, FILE *out)
{
	struct tool_table *t = tool_table_new(6, "reason", "party", "coco.rst", "now", "ever",
					      "allowed");
	char now[24], ever[24];

	if (!t)
		return;
	for (size_t i = 0; i < r->reason_count; i++) {
		const struct cvmbus_vm_reason *rs = &r->reasons[i];

		snprintf(now, sizeof(now), "%" PRIu64, rs->pages_now);
		snprintf(ever, sizeof(ever), "%" PRIu64, rs->pages_ever);
		tool_table_row(t, rs->reason, cvmbus_mem_party_name(rs->party),
			       cvmbus_vm_coco_name(rs->category), now, ever,
			       rs->pages_now || rs->allowed ? yn(rs->allowed) : "(gone)");
	}
	snprintf(now, sizeof(now), "%" PRIu64, r->pages_now);
	snprintf(ever, sizeof(ever), "%" PRIu64, r->pages_ever);
	tool_table_row(t, "total", "", "", now, ever, "");
	fprintf(out, "\nexposure: host-visible pages %s\n",
		r->steady ? "(now = steady state: connected, channels open)"
			  : "(no steady state: now = after the failed connect)");
	tool_table_print(t, out, "  ");
	tool_table_free(t);
}

static void print_messages(const struct cvmbus_vm_report *r, FILE *out)
{
	struct tool_table *t = tool_table_new(6, "from", "to", "path", "synic", "trusted",
					      "messages");
	char n[24];

	if (!t)
		return;
	for (size_t i = 0; i < r->msg_key_count; i++) {
		const struct cvmbus_vm_msg_key *k = &r->msg_keys[i];

		snprintf(n, sizeof(n), "%" PRIu64, k->count);
		tool_table_row(t, cvmbus_trace_party_name(k->from), cvmbus_trace_party_name(k->to),
			       cvmbus_path_name(k->path), cvmbus_synic_name(k->synic),
			       yn(k->trusted), n);
	}
	fprintf(out, "\ncontrol messages (%" PRIu64 " in the trace)\n", r->messages);
	tool_table_print(t, out, "  ");
	tool_table_free(t);
}

static void print_scan(const struct cvmbus_vm_report *r, FILE *out)
{
	struct tool_table *t = tool_table_new(5, "relid", "ring", "hits (host view)",
					      "hits (shared memfd)", "verdict");
	char relid[16], v[24], f[24];

	if (!t)
		return;
	for (size_t i = 0; i < r->channel_count; i++) {
		const struct cvmbus_vm_channel *c = &r->channels[i];
		const char *verdict;

		if (!c->secret_sent)
			continue;
		snprintf(relid, sizeof(relid), "%u", c->relid);
		snprintf(v, sizeof(v), "%" PRIu64, c->secret_hits_view);
		snprintf(f, sizeof(f), "%" PRIu64, c->secret_hits_fd);
		if (c->confidential_ring)
			verdict = c->secret_hits_view || c->secret_hits_fd ? "LEAKED" : "not visible";
		else
			verdict = c->secret_hits_view ? "visible (host-visible ring)" : "NOT FOUND";
		tool_table_row(t, relid, c->confidential_ring ? "confidential" : "host-visible", v,
			       f, verdict);
	}
	fprintf(out, "\nsecret scan (32 random bytes sent through each channel)\n");
	tool_table_print(t, out, "  ");
	tool_table_free(t);
}

void tool_vm_print_report(const struct cvmbus_vm_report *r, FILE *out)
{
	fprintf(out, "vm: %s\n\n", r->config_text);
	print_negotiation(r, out);
	print_channels(r, out);
	print_exposure(r, out);
	print_messages(r, out);
	print_scan(r, out);
	if (r->echo_ns)
		fprintf(out, "\nthroughput: %" PRIu64 " echo packets in %.3f ms: %.0f packets/s%s\n",
			r->echo_packets, (double)r->echo_ns / 1e6,
			(double)r->echo_packets * 1e9 / (double)r->echo_ns,
			r->config.deterministic ? " (virtual time)" : "");
	else
		fprintf(out, "\nthroughput: %" PRIu64 " echo packets in no measurable time%s\n",
			r->echo_packets, r->config.deterministic ? " (virtual time)" : "");
	fprintf(out, "trace: %" PRIu64 " events, hash %016" PRIx64 "\n", r->trace_events,
		r->trace_hash);
	if (r->status)
		fprintf(out, "status: FAILED: %s (%d)\n", r->error, r->status);
	else
		fprintf(out, "status: ok\n");
}

/* ---- JSON ------------------------------------------------------------------------------- */

static json_t *jhex64(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "0x%" PRIx64, v);
	return json_string(b);
}

static json_t *jver(uint32_t v)
{
	char b[16];

	if (!v)
		return json_null();
	cvmbus_wire_version_format(v, b, sizeof(b));
	return json_string(b);
}

static json_t *config_json(const struct cvmbus_vm_config *c)
{
	return json_pack("{s:s, s:b, s:b, s:s, s:o, s:s, s:i, s:s, s:I}", "isolation",
			 cvmbus_isolation_name(c->isolation), "paravisor", c->paravisor,
			 "confidential_vmbus", c->confidential_vmbus, "arch",
			 cvmbus_arch_name(c->arch), "max_version", jver(c->max_version), "detect",
			 cvmbus_detect_name(c->detect), "vcpus", (int)c->vcpus, "executor",
			 c->deterministic ? "deterministic" : "native", "seed",
			 (json_int_t)c->seed);
}

static json_t *contact_json(const struct cvmbus_vm_contact *c)
{
	char hex[40];

	cvmbus_wire_hex(c->head, sizeof(c->head), hex, sizeof(hex));
	return json_pack("{s:o, s:i, s:s, s:s, s:b, s:i, s:s}", "version", jver(c->version),
			 "features", (int)c->features, "path", cvmbus_path_name(c->path), "to",
			 cvmbus_trace_party_name(c->to), "trusted", c->trusted, "status",
			 (int)c->status, "head", hex);
}

static json_t *negotiation_json(const struct cvmbus_vm_report *r)
{
	const struct cvmbus_vm_contact *won = contact_won(r);
	json_t *attempts = json_array(), *contacts = json_array();
	char feat[128];

	cvmbus_wire_features_format(r->features, feat, sizeof(feat));
	for (unsigned int i = 0; i < r->attempts; i++)
		json_array_append_new(attempts,
				      json_pack("{s:b, s:s, s:i}", "confidential",
						r->attempt[i].confidential, "path",
						cvmbus_path_name(r->attempt[i].path), "status",
						r->attempt[i].status));
	for (size_t i = 0; i < r->contact_count; i++)
		json_array_append_new(contacts, contact_json(&r->contacts[i]));
	return json_pack("{s:b, s:i, s:o, s:i, s:s, s:b, s:i, s:s, s:s, s:{s:s, s:b, s:o, s:i},"
			 " s:o, s:o}",
			 "connected", r->connected, "connect_status", r->connect_status,
			 "version", jver(r->version), "features", (int)r->features,
			 "features_names", feat, "confidential", r->confidential, "msg_conn_id",
			 (int)r->msg_conn_id, "post_path", cvmbus_path_name(r->post_path),
			 "signal_path", cvmbus_path_name(r->signal_path), "detection", "strategy",
			 cvmbus_detect_name(r->detect), "cpuid_bit", r->cpuid_confidential_bit,
			 "attempts", attempts, "winner", r->winner, "initiate_contact",
			 won ? contact_json(won) : json_null(), "contacts", contacts);
}

/* The launched paravisor's measurement and the guest's verdict on it. */
static json_t *attestation_json(const struct cvmbus_vm_report *r)
{
	return json_pack("{s:s, s:s, s:s}", "paravisor_measurement", r->paravisor_measurement,
			 "decision", r->attest_decision[0] ? r->attest_decision : "not-run",
			 "reason", r->attest_reason);
}

static json_t *channel_json(const struct cvmbus_vm_channel *c)
{
	char type[CVMBUS_GUID_STRLEN], inst[CVMBUS_GUID_STRLEN], flags[64];

	cvmbus_guid_format(&c->if_type, type);
	cvmbus_guid_format(&c->if_instance, inst);
	cvmbus_wire_offer_flags_format(c->offer_flags, flags, sizeof(flags));
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:b, s:b, s:b, s:i, s:o, s:i,"
			 " s:b, s:I, s:s, s:s, s:b, s:{s:I, s:I}, s:I, s:i, s:b,"
			 " s:{s:I, s:I}, s:i}",
			 "relid", (int)c->relid, "device", c->device, "if_type", type,
			 "if_instance", inst, "owner", owner_name(c->owner), "host_relid",
			 (int)c->host_relid, "offer_flags", (int)c->offer_flags,
			 "offer_flags_names", flags, "confidential_ring", c->confidential_ring,
			 "confidential_external", c->confidential_external, "opened", c->opened,
			 "open_status", c->open_status, "ring_gpa", jhex64(c->ring_gpa),
			 "ring_pages", (int)c->ring_pages, "ring_private", c->ring_private,
			 "ring_pages_visible", (json_int_t)c->ring_pages_visible, "signal_path",
			 cvmbus_path_name(c->signal_path), "synic",
			 c->synic_both ? "both" : cvmbus_synic_name(c->synic), "synic_both",
			 c->synic_both, "events", "hypervisor", (json_int_t)c->events[0],
			 "paravisor", (json_int_t)c->events[1], "echoes", (json_int_t)c->echoes,
			 "echo_status", c->echo_status, "secret_sent", c->secret_sent,
			 "secret_hits", "view", (json_int_t)c->secret_hits_view, "fd",
			 (json_int_t)c->secret_hits_fd, "close_status", c->close_status);
}

static json_t *exposure_json(const struct cvmbus_vm_report *r)
{
	json_t *reasons = json_array(), *ranges = json_array();

	for (size_t i = 0; i < r->reason_count; i++) {
		const struct cvmbus_vm_reason *rs = &r->reasons[i];

		json_array_append_new(reasons,
				      json_pack("{s:s, s:s, s:s, s:b, s:I, s:I}", "reason",
						rs->reason, "party",
						cvmbus_mem_party_name(rs->party), "coco",
						cvmbus_vm_coco_name(rs->category), "allowed",
						rs->allowed, "pages_now", (json_int_t)rs->pages_now,
						"pages_ever", (json_int_t)rs->pages_ever));
	}
	for (size_t i = 0; i < r->range_count; i++) {
		const struct cvmbus_vm_range *g = &r->ranges[i];

		json_array_append_new(ranges, json_pack("{s:o, s:I, s:s, s:s}", "gpa",
							jhex64(g->gpa), "pages",
							(json_int_t)g->pages, "party",
							cvmbus_mem_party_name(g->party), "reason",
							g->reason));
	}
	return json_pack("{s:b, s:I, s:I, s:o, s:o, s:I}", "steady", r->steady, "pages_now",
			 (json_int_t)r->pages_now, "pages_ever", (json_int_t)r->pages_ever,
			 "reasons", reasons, "ranges", ranges, "ranges_dropped",
			 (json_int_t)r->ranges_dropped);
}

static json_t *messages_json(const struct cvmbus_vm_report *r)
{
	json_t *keys = json_array();

	for (size_t i = 0; i < r->msg_key_count; i++) {
		const struct cvmbus_vm_msg_key *k = &r->msg_keys[i];

		json_array_append_new(keys,
				      json_pack("{s:s, s:s, s:s, s:s, s:b, s:I}", "from",
						cvmbus_trace_party_name(k->from), "to",
						cvmbus_trace_party_name(k->to), "path",
						cvmbus_path_name(k->path), "synic",
						cvmbus_synic_name(k->synic), "trusted", k->trusted,
						"count", (json_int_t)k->count));
	}
	return json_pack("{s:I, s:o}", "total", (json_int_t)r->messages, "by_path", keys);
}

json_t *tool_vm_report_json(const struct cvmbus_vm_report *r)
{
	json_t *chans = json_array(), *relay;
	double pps = r->echo_ns ? (double)r->echo_packets * 1e9 / (double)r->echo_ns : 0.0;
	char hash[24];

	for (size_t i = 0; i < r->channel_count; i++)
		json_array_append_new(chans, channel_json(&r->channels[i]));
	if (r->relay)
		relay = json_pack("{s:b, s:o, s:i}", "connected", r->relay_connected, "version",
				  jver(r->relay_version), "features", (int)r->relay_features);
	else
		relay = json_null();
	snprintf(hash, sizeof(hash), "%016" PRIx64, r->trace_hash);
	return json_pack("{s:o, s:s, s:i, s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o,"
			 " s:{s:I, s:I, s:f}, s:{s:I, s:s}}",
			 "config", config_json(&r->config), "config_text", r->config_text,
			 "status", r->status, "error", r->error, "exec_status", r->exec_status,
			 "negotiation", negotiation_json(r), "attestation", attestation_json(r), "relay", relay, "channels", chans,
			 "exposure", exposure_json(r), "messages", messages_json(r), "throughput",
			 "echo_packets", (json_int_t)r->echo_packets, "echo_ns",
			 (json_int_t)r->echo_ns, "packets_per_s", pps, "trace", "events",
			 (json_int_t)r->trace_events, "hash", hash);
}

json_t *tool_vm_cell_json(const struct cvmbus_vm_cell_result *c)
{
	json_t *fails = json_array();

	for (size_t i = 0; i < c->failure_count; i++)
		json_array_append_new(fails, json_string(c->failures[i]));
	return json_pack("{s:s, s:b, s:o, s:s, s:o, s:o}", "cell", c->name, "applicable",
			 c->applicable, "na_reason",
			 c->applicable ? json_null() : json_string(c->na_reason), "verdict",
			 !c->applicable ? "n/a" : c->pass ? "pass" : "fail", "failures", fails,
			 "report", c->applicable ? tool_vm_report_json(&c->report) : json_null());
}
