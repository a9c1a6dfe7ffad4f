/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the HTML report's writer and its trace tap
 * (tools/cvmbus/report_html.c), on a report and trace lines written by hand:
 * the tap keeps msg and visibility lines only, reads each message's relid
 * from the bytes at the offset its layout puts it (the hex below is written
 * from include/cvmbus/wire.h's layouts, not produced by the encoder), counts
 * the echo signals; the document has four lanes and one arrow per message,
 * classed trusted or untrusted; the memory map colours exactly the pages
 * the report and the trace say, and covers the partition once; text from
 * the run can never become markup.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report_html.h"

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Lines as the trace writes them (docs/TRACE.md key order). */
static const char *const lines[] = {
	/* InitiateContact (type 14, 0x0e): no relid. Trusted, guest -> paravisor. */
	"{\"seq\":3,\"t\":0,\"kind\":\"msg\",\"vp\":0,\"from\":\"guest\",\"to\":\"paravisor\","
	"\"synic\":\"none\",\"path\":\"paravisor-trap\",\"trusted\":true,\"type\":14,"
	"\"name\":\"initiate_contact\",\"len\":16,\"hex\":\"0e000000000000000000060000000000\"}",
	/* OpenChannel (type 5): child_relid at byte 8 = 0x00000007. */
	"{\"seq\":9,\"t\":5,\"kind\":\"msg\",\"vp\":0,\"from\":\"guest\",\"to\":\"paravisor\","
	"\"synic\":\"none\",\"path\":\"paravisor-trap\",\"trusted\":true,\"type\":5,"
	"\"name\":\"open_channel\",\"len\":12,\"hex\":\"050000000000000007000000\"}",
	/* The relay's hop to the host, untrusted, with a hostile note. */
	"{\"seq\":10,\"t\":6,\"kind\":\"msg\",\"from\":\"paravisor\",\"to\":\"host\","
	"\"synic\":\"none\",\"path\":\"none\",\"trusted\":false,\"type\":7,"
	"\"name\":\"close_channel\",\"len\":12,\"hex\":\"07000000000000002a010000\","
	"\"note\":\"<script>alert(1)</script>\"}",
	/* Not kept: an event (counted as a signal), a hypercall. */
	"{\"seq\":11,\"t\":7,\"kind\":\"event\",\"from\":\"host\",\"to\":\"guest\",\"flag\":2}",
	"{\"seq\": 12, \"t\": 8, \"kind\": \"event\", \"from\": \"host\", \"to\": \"guest\"}",
	"{\"seq\":13,\"t\":8,\"kind\":\"hypercall\",\"from\":\"guest\",\"to\":\"paravisor\"}",
	/* Visibility: pages 0x20-0x23 shared then private again (ever), page
	 * 0x30 shared (now, from the report's ranges below), a failed call. */
	"{\"seq\":20,\"t\":9,\"kind\":\"visibility\",\"from\":\"guest\",\"to\":\"hypervisor\","
	"\"gpa\":\"0x20000\",\"pages\":4,\"state\":\"shared\",\"contiguous\":true,"
	"\"reason\":\"vmbus-ring\",\"status\":\"0x0000\"}",
	"{\"seq\":21,\"t\":9,\"kind\":\"visibility\",\"from\":\"guest\",\"to\":\"hypervisor\","
	"\"gpa\":\"0x20000\",\"pages\":4,\"state\":\"private\",\"contiguous\":true,"
	"\"reason\":\"vmbus-ring\",\"status\":\"0x0000\"}",
	"{\"seq\":22,\"t\":9,\"kind\":\"visibility\",\"from\":\"guest\",\"to\":\"hypervisor\","
	"\"gpa\":\"0x50000\",\"pages\":1,\"state\":\"shared\",\"contiguous\":true,"
	"\"reason\":\"bounce\",\"status\":\"0x0005\"}",
};

static struct tool_trace_tap *fed_tap(void)
{
	struct tool_trace_tap *tap;
	FILE *f;

	assert_int_equal(tool_trace_tap_open(&tap, NULL), 0);
	/* Through the stream, the way the trace writes: in odd-sized chunks,
	 * so that lines are split across writes. */
	f = tool_trace_tap_file(tap);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		const char *l = lines[i];
		size_t n = strlen(l);

		assert_int_equal(fwrite(l, 1, n / 3, f), n / 3);
		fflush(f);
		assert_int_equal(fwrite(l + n / 3, 1, n - n / 3, f), n - n / 3);
		fputc('\n', f);
	}
	return tap;
}

static void test_tap(void **state)
{
	struct tool_trace_tap *tap = fed_tap();
	const struct tool_msg_event *m;
	const struct tool_vis_event *v;

	(void)state;
	assert_int_equal(tool_trace_tap_msgs(tap, &m), 3);
	assert_int_equal(tool_trace_tap_lines(tap), sizeof(lines) / sizeof(lines[0]));
	assert_int_equal(tool_trace_tap_error(tap), 0);
	assert_string_equal(m[0].name, "initiate_contact");
	assert_false(m[0].has_relid);
	assert_true(m[0].trusted);
	assert_int_equal(m[0].from, CVMBUS_MEM_PARTY_GUEST);
	assert_int_equal(m[0].to, CVMBUS_MEM_PARTY_PARAVISOR);
	assert_int_equal(m[0].path, CVMBUS_PATH_PARAVISOR_TRAP);
	assert_true(m[1].has_relid);
	assert_int_equal(m[1].relid, 7);
	assert_int_equal(m[1].seq, 9);
	assert_int_equal(m[1].t, 5);
	assert_true(m[2].has_relid);
	assert_int_equal(m[2].relid, 0x12a);
	assert_false(m[2].trusted);
	assert_int_equal(m[2].to, CVMBUS_MEM_PARTY_HOST);
	assert_string_equal(m[2].note, "<script>alert(1)</script>");
	/* The failed visibility call is not kept. */
	assert_int_equal(tool_trace_tap_vis(tap, &v), 2);
	assert_int_equal(v[0].gpa, 0x20000);
	assert_int_equal(v[0].pages, 4);
	assert_true(v[0].shared);
	assert_false(v[1].shared);
	assert_string_equal(v[0].reason, "vmbus-ring");
	tool_trace_tap_close(tap);

	/* A line that claims to be a msg but is not JSON is an error. */
	assert_int_equal(tool_trace_tap_open(&tap, NULL), 0);
	tool_trace_tap_line(tap, "{\"seq\":1,\"kind\":\"msg\",", 22);
	assert_int_equal(tool_trace_tap_error(tap), -EBADMSG);
	tool_trace_tap_close(tap);
}

static void fill_report(struct cvmbus_vm_report *r)
{
	memset(r, 0, sizeof(*r));
	cvmbus_vm_config_default(&r->config);
	snprintf(r->config_text, sizeof(r->config_text), "snp+paravisor(confidential) <b>");
	r->connected = true;
	r->version = 0x00050003; /* 5.3 */
	r->confidential = true;
	r->channel_count = 1;
	r->channels[0].relid = 7;
	r->channels[0].device = "echo";
	r->channels[0].owner = CVMBUS_MEM_PARTY_PARAVISOR;
	r->channels[0].confidential_ring = true;
	r->channels[0].secret_sent = true;
	r->steady = true;
	/* Page 0x30 host-visible now; a reason with markup in it. */
	r->range_count = 1;
	r->ranges[0].gpa = 0x30000;
	r->ranges[0].pages = 1;
	r->ranges[0].party = CVMBUS_MEM_PARTY_GUEST;
	snprintf(r->ranges[0].reason, sizeof(r->ranges[0].reason), "a<b>&\"c");
	r->reason_count = 1;
	snprintf(r->reasons[0].reason, sizeof(r->reasons[0].reason), "a<b>&\"c");
	r->reasons[0].pages_now = 1;
	r->pages_now = 1;
	r->pages_ever = 5;
	r->messages = 3;
}

/* Sum of data-pages over rects of a class. */
static uint64_t pages_of(const char *html, const char *cls)
{
	char needle[64];
	uint64_t sum = 0;

	snprintf(needle, sizeof(needle), "<rect class=\"page %s\"", cls);
	for (const char *p = html; (p = strstr(p, needle)); p += strlen(needle)) {
		const char *d = strstr(p, "data-pages=\"");

		assert_non_null(d);
		sum += strtoull(d + 12, NULL, 10);
	}
	return sum;
}

static void test_document(void **state)
{
	struct tool_trace_tap *tap = fed_tap();
	struct cvmbus_vm_report r;
	struct tool_html_device dev = { "disk", "paravisor", "16M temporary image",
					"not attached <yet>" };
	struct tool_html_input in = { 0 };
	char *html = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	fill_report(&r);
	in.report = &r;
	in.msg_count = tool_trace_tap_msgs(tap, &in.msgs);
	in.vis_count = tool_trace_tap_vis(tap, &in.vis);
	in.vtl0_bytes = 1u << 20; /* 256 pages */
	in.vtl2_bytes = 256u << 10; /* 64 pages */
	in.devices = &dev;
	in.device_count = 1;
	in.config_json = "{\"x\": \"</pre>\"}";
	f = open_memstream(&html, &len);
	assert_non_null(f);
	assert_int_equal(tool_report_html_write(&in, f), 0);
	fclose(f);

	assert_int_equal(count(html, "<g class=\"lane\""), TOOL_HTML_LANES);
	assert_int_equal(count(html, "<g class=\"msg "), 3);
	assert_int_equal(count(html, "<g class=\"msg trusted\""), 2);
	assert_int_equal(count(html, "<g class=\"msg untrusted\""), 1);
	assert_non_null(strstr(html, "open_channel relid 7"));
	assert_non_null(strstr(html, "close_channel relid 298"));
	assert_non_null(strstr(html, "data-from=\"paravisor\" data-to=\"host\""));
	assert_int_equal(count(html, "<svg id=\"sequence-chart\""), 1);
	assert_int_equal(count(html, "<svg id=\"memory-map\""), 1);
	/* Nothing from the run becomes markup; nothing is fetched. */
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "(confidential) <b>"));
	assert_non_null(strstr(html, "(confidential) &lt;b&gt;"));
	assert_null(strstr(html, "<yet>"));
	assert_non_null(strstr(html, "&lt;script&gt;"));
	assert_non_null(strstr(html, "a&lt;b&gt;&amp;&quot;c"));
	assert_null(strstr(html, "src="));
	assert_null(strstr(html, "href="));
	assert_int_equal(count(html, "</pre>"), 1);
	/* The memory map: 320 pages, each once; one now, four earlier. */
	assert_int_equal(pages_of(html, "now"), 1);
	assert_int_equal(pages_of(html, "ever"), 4);
	assert_int_equal(pages_of(html, "now") + pages_of(html, "ever") + pages_of(html, "never"),
			 320);
	assert_non_null(strstr(html, "data-gpa=\"0x30000\" data-pages=\"1\""));
	assert_non_null(strstr(html, "data-gpa=\"0x20000\" data-pages=\"4\""));
	assert_non_null(strstr(html, "VTL2 (paravisor) from GPA 0x100000"));
	/* Tables, by id. */
	for (const char *const *id = (const char *const[]){ "negotiation", "channels", "devices",
							    "exposure", "messages", "secrets",
							    "throughput", NULL };
	     *id; id++) {
		char needle[64];

		snprintf(needle, sizeof(needle), "<table class=\"data\" id=\"%s\">", *id);
		assert_non_null(strstr(html, needle));
	}
	assert_non_null(strstr(html, "not visible to the host"));
	free(html);
	tool_trace_tap_close(tap);
}

static void test_many_messages(void **state)
{
	struct tool_msg_event *m = calloc(TOOL_HTML_MAX_ARROWS + 5, sizeof(*m));
	struct cvmbus_vm_report r;
	struct tool_html_input in = { 0 };
	char *html = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(m);
	for (size_t i = 0; i < TOOL_HTML_MAX_ARROWS + 5; i++) {
		m[i].from = CVMBUS_MEM_PARTY_HOST;
		m[i].to = CVMBUS_MEM_PARTY_HOST; /* a loop within a lane */
		snprintf(m[i].name, sizeof(m[i].name), "x");
	}
	fill_report(&r);
	in.report = &r;
	in.msgs = m;
	in.msg_count = TOOL_HTML_MAX_ARROWS + 5;
	f = open_memstream(&html, &len);
	assert_int_equal(tool_report_html_write(&in, f), 0);
	fclose(f);
	assert_int_equal(count(html, "<g class=\"msg "), TOOL_HTML_MAX_ARROWS);
	assert_non_null(strstr(html, "5 more messages not drawn"));
	/* Without a layout: the platform's defaults, 4 MiB + 1 MiB. */
	assert_non_null(strstr(html, "data-pages=\"1280\""));
	free(html);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tap),
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_many_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
