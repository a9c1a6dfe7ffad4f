/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus net` as a user runs it (tools/cvmbus/net.c over src/vm/nic.c).
 * One argument picks what runs:
 *
 *   usage         the command line's refusals, with their exit codes and
 *                 messages (no root needed: all of them come before any
 *                 TAP is made);
 *   host          two network namespaces made for this run
 *   confidential  (cvmbus-nt-{g,h}-PID-{h,c}), `cvmbus net --path P` in
 *                 the background with 10.251.0.1/24 and 10.251.0.2/24 (in
 *                 the namespaces only), then `ping -c 5` from the guest's
 *                 namespace to the host's and 2 s of iperf3 (server in the
 *                 host's, client in the guest's), then SIGINT: the command
 *                 must exit 0, and its JSON must show the NIC connected,
 *                 the frames counted, and the exposure of the path: the
 *                 buffers as "vmbus-buffer" pages (exactly 384) on the
 *                 host path, none and a private ring on the confidential
 *                 one, with the probe's secret found / not found to match.
 *
 *   host-processes  the host case again with --processes: the host's
 *                 device runs in cvmbus-host, which reads and writes the
 *                 host TAP itself (its fd handed over the NIC's link);
 *                 the device's counters in the JSON came back over that
 *                 link.
 *
 *   host-offload, confidential-offload  the path again with --offload:
 *                 the JSON must show every offload granted, the iperf3
 *                 stream counted as LSO frames by the driver and the
 *                 device alike, none refused (without --offload: none
 *                 granted, none used); host-processes-offload: both,
 *                 cvmbus-host finding the header on the TAP fd it was given.
 *
 * The root cases skip with a message saying what is missing (root,
 * /dev/net/tun, ip, ping, timeout; iperf3 only skips its own part). The
 * namespaces are deleted at the end, also when a check fails; every
 * command runs under timeout(1), and the background command is bounded by
 * --duration and dies with this process (PR_SET_PDEATHSIG).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <cvmbus/net.h>

#ifndef CVMBUS_TOOL_PATH
#define CVMBUS_TOOL_PATH "cvmbus"
#endif

#define GUEST_ADDR "10.251.0.1"
#define HOST_ADDR  "10.251.0.2"
/* 1 MiB receive + 512 KiB send buffer (vm_nic.h's defaults), in pages. */
#define BUFFER_PAGES 384

struct ctx {
	const char *path; /* "host", "confidential" */
	bool processes;   /* host-processes: --processes */
	bool offload;     /* *-offload: --offload */
	bool iperf_ran;   /* iperf3 was there and ran */
	char ns_g[48], ns_h[48];
	bool ns_made;
	const char *missing;
	char dir[64];     /* temp dir for outputs */
	char out[128], json[128];
	pid_t pid;
};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[768];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000u, (long)(ms % 1000u) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Run the tool with argv (NULL-terminated, argv[0] excluded), stdout and
 * stderr to `out`; returns the pid. */
static pid_t spawn_tool(const char *out, const char *const *args)
{
	const char *argv[40];
	size_t n = 0;
	pid_t pid;

	argv[n++] = CVMBUS_TOOL_PATH;
	while (*args && n < sizeof(argv) / sizeof(argv[0]) - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		/* Dies with us: a failed assertion must not leave it running. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* waitpid with a bound; -1 if it did not end in time. */
static int wait_exit(pid_t pid, unsigned int ms)
{
	int status;

	for (unsigned int t = 0; t <= ms; t += 50) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		sleep_ms(50);
	}
	return -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void dump(const char *path)
{
	char *s = slurp(path);

	printf("# --- %s ---\n%s\n# ---\n", path, s ? s : "(none)");
	free(s);
}

/* ---- the refusals (no root) ---------------------------------------------------- */

static int run_sync(struct ctx *c, const char *const *args, char **output)
{
	pid_t pid;
	int rc;

	snprintf(c->out, sizeof(c->out), "%s/usage.out", c->dir);
	pid = spawn_tool(c->out, args);
	assert_true(pid > 0);
	rc = wait_exit(pid, 30000);
	if (rc < 0)
		kill(pid, SIGKILL);
	*output = slurp(c->out);
	return rc;
}

static void expect_refusal(struct ctx *c, const char *const *args, int code, const char *needle)
{
	char *o = NULL;
	int rc = run_sync(c, args, &o);

	if (rc != code || !o || !strstr(o, needle))
		printf("# exit %d (want %d), output:\n%s\n", rc, code, o ? o : "");
	assert_int_equal(rc, code);
	assert_non_null(o);
	assert_non_null(strstr(o, needle));
	free(o);
}

static void test_usage(void **state)
{
	struct ctx *c = *state;
	char ns[64];

	snprintf(ns, sizeof(ns), "cvmbus-nt-missing-%d", (int)getpid());
	{
		const char *a[] = { "net", "--help", NULL };

		expect_refusal(c, a, 0, "--guest-ns NAME --host-ns NAME");
	}
	{
		const char *a[] = { "net", "--guest-ns", "x", NULL };

		expect_refusal(c, a, 2, "--guest-ns and --host-ns are required");
	}
	{
		const char *a[] = { "net", "--guest-ns", ns, "--host-ns", "cvmbus-nt-other", NULL };

		expect_refusal(c, a, 2, "does not exist");
	}
	{
		const char *a[] = { "net", "--guest-ns", "a", "--host-ns", "b", "--path",
				    "confidential", "--no-paravisor", NULL };

		expect_refusal(c, a, 2, "needs --paravisor");
	}
	{
		const char *a[] = { "net", "--guest-ns", "a", "--host-ns", "b", "--seed", "3", NULL };

		expect_refusal(c, a, 2, "native executor");
	}
	{
		const char *a[] = { "net", "--guest-ns", "a", "--host-ns", "b", "--path", "wire",
				    NULL };

		expect_refusal(c, a, 2, "not confidential|host");
	}
	{
		const char *a[] = { "net", "--guest-ns", "a", "--host-ns", "b", "--guest-addr",
				    "10.251.0.1", NULL };

		expect_refusal(c, a, 2, "not ADDRESS/PREFIX");
	}
	{
		const char *a[] = { "net", "--guest-ns", "a", "--host-ns", "b", "--guest-addr",
				    "10.251.0.1/33", NULL };

		expect_refusal(c, a, 2, "--guest-addr");
	}
	{
		const char *a[] = { "net", "--guest-ns", "a", "--host-ns", "b", "--mtu", "40", NULL };

		expect_refusal(c, a, 2, "--mtu must be");
	}
	{
		const char *a[] = { "net", "--guest-ns", "a", "--host-ns", "b", "--mac",
				    "01:00:5e:00:00:01", NULL };

		expect_refusal(c, a, 2, "multicast");
	}
	{
		const char *a[] = { "net", "--guest-ns", "same", "--host-ns", "same", NULL };

		expect_refusal(c, a, 2, "must differ");
	}
}

/* ---- a whole run between two namespaces (root) --------------------------------------- */

static json_t *jget(json_t *o, const char *path)
{
	char key[64];
	const char *p = path;

	while (o && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		o = json_object_get(o, key);
		p += n + (dot ? 1 : 0);
	}
	return o;
}

static json_int_t jint(json_t *o, const char *path)
{
	json_t *v = jget(o, path);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", path);
	return json_integer_value(v);
}

static bool wait_ready(struct ctx *c)
{
	for (int i = 0; i < 300; i++) {
		char *s = slurp(c->out);
		bool ready = s && strstr(s, "ready: ");

		free(s);
		if (ready)
			return true;
		if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
			c->pid = 0;
			return false;
		}
		sleep_ms(100);
	}
	return false;
}

static void check_json(struct ctx *c, bool host)
{
	json_error_t je;
	json_t *j = json_load_file(c->json, 0, &je), *reasons, *chans, *nicch = NULL;
	json_int_t buffer_pages = 0, relid;
	size_t i;

	if (!j) {
		printf("# json: %s (line %d)\n", je.text, je.line);
		dump(c->json);
	}
	assert_non_null(j);
	assert_int_equal(jint(j, "status"), 0);
	assert_true(json_is_true(jget(j, "nic.connected")));
	assert_string_equal(json_string_value(jget(j, "nic.path")), c->path);
	relid = jint(j, "nic.relid");
	assert_true(relid > 0);
	/* Five echo requests one way and five replies the other, at least,
	 * and the iperf3 stream; nothing refused. */
	assert_true(jint(j, "nic.driver.tx_frames") >= 5);
	assert_true(jint(j, "nic.driver.rx_frames") >= 5);
	assert_true(jint(j, "nic.device.tx_frames") >= 5);
	assert_int_equal(jint(j, "nic.device.refused"), 0);
	assert_int_equal(jint(j, "nic.driver.refused"), 0);
	assert_true(jint(j, "nic.guest_wire.in_frames") >= 5);
	assert_true(jint(j, "nic.host_wire.out_frames") >= 5);
	/* With --offload: everything granted, the iperf3 stream crossed as
	 * LSO segments, none refused; without: nothing granted. */
	if (c->offload) {
		assert_int_equal(jint(j, "nic.offload.granted"), CVMBUS_NET_OFFLOAD_ALL);
		if (c->iperf_ran) {
			assert_true(jint(j, "nic.offload.driver_lso") > 0);
			assert_int_equal(jint(j, "nic.offload.device_lso"),
					 jint(j, "nic.offload.driver_lso"));
		}
	} else {
		assert_int_equal(jint(j, "nic.offload.granted"), 0);
		assert_int_equal(jint(j, "nic.offload.device_lso"), 0);
	}
	assert_int_equal(jint(j, "nic.offload.device_refused"), 0);
	assert_int_equal(json_is_true(jget(j, "nic.recv_buffer.host_visible")), host);
	assert_int_equal(json_is_true(jget(j, "nic.send_buffer.host_visible")), host);

	/* The exposure at the steady state, by reason. */
	reasons = jget(j, "exposure.reasons");
	assert_true(json_is_array(reasons));
	for (i = 0; i < json_array_size(reasons); i++) {
		json_t *r = json_array_get(reasons, i);

		if (!strcmp(json_string_value(json_object_get(r, "reason")), "vmbus-buffer")) {
			buffer_pages = json_integer_value(json_object_get(r, "pages_now"));
			/* coco.rst's "netvsc buffers" line. */
			assert_string_equal(json_string_value(json_object_get(r, "coco")),
					    "gpadl buffers");
		}
		assert_true(json_is_true(json_object_get(r, "allowed")));
	}
	assert_int_equal(buffer_pages, host ? BUFFER_PAGES : 0);

	chans = jget(j, "channels");
	for (i = 0; i < json_array_size(chans); i++) {
		json_t *ch = json_array_get(chans, i);

		if (json_integer_value(json_object_get(ch, "relid")) == relid)
			nicch = ch;
	}
	assert_non_null(nicch);
	assert_string_equal(json_string_value(json_object_get(nicch, "device")), "nic");
	assert_true(json_is_true(json_object_get(nicch, "opened")));
	assert_true(json_is_true(json_object_get(nicch, "secret_sent")));
	if (host) {
		assert_string_equal(json_string_value(json_object_get(nicch, "owner")), "host");
		assert_true(json_is_false(json_object_get(nicch, "ring_private")));
		assert_true(jint(nicch, "secret_hits.view") >= 1);
	} else {
		assert_string_equal(json_string_value(json_object_get(nicch, "owner")),
				    "paravisor");
		assert_true(json_is_true(json_object_get(nicch, "ring_private")));
		assert_int_equal(jint(nicch, "ring_pages_visible"), 0);
		assert_int_equal(jint(nicch, "secret_hits.view"), 0);
		assert_int_equal(jint(nicch, "secret_hits.fd"), 0);
	}
	json_decref(j);
}

static void test_path(void **state)
{
	struct ctx *c = *state;
	bool host = !strcmp(c->path, "host");
	const char *args[] = { "net", "--path", c->path, "--guest-ns", c->ns_g, "--host-ns",
			       c->ns_h, "--guest-addr", GUEST_ADDR "/24", "--host-addr",
			       HOST_ADDR "/24", "--duration", "90", "--json", c->json,
			       NULL, NULL, NULL };
	size_t na = 15; /* the first NULL above */
	char *o;
	int rc;

	if (c->missing) {
		printf("# test_net_cli %s%s: skipped: %s\n", c->path,
		       c->processes ? " (processes)" : "", c->missing);
		skip();
	}
	if (c->processes)
		args[na++] = "--processes";
	if (c->offload)
		args[na++] = "--offload";
	snprintf(c->out, sizeof(c->out), "%s/net.out", c->dir);
	c->pid = spawn_tool(c->out, args);
	assert_true(c->pid > 0);
	if (!wait_ready(c)) {
		dump(c->out);
		fail_msg("cvmbus net never became ready");
	}

	rc = sh("timeout 30 ip netns exec %s ping -c 5 -i 0.2 -W 2 %s >%s/ping.out 2>&1", c->ns_g,
		HOST_ADDR, c->dir);
	if (rc) {
		char p[128];

		snprintf(p, sizeof(p), "%s/ping.out", c->dir);
		dump(p);
	}
	assert_int_equal(rc, 0);

	if (sh("command -v iperf3 >/dev/null 2>&1") == 0) {
		char p[128];
		json_t *ij = NULL;
		json_int_t bytes = 0;

		/* A one-shot server bounded by timeout; the client retries a
		 * few times in case the server is not listening yet. */
		assert_int_equal(sh("timeout 40 ip netns exec %s iperf3 -s -1 -B %s >/dev/null 2>&1 &",
				    c->ns_h, HOST_ADDR),
				 0);
		snprintf(p, sizeof(p), "%s/iperf3.json", c->dir);
		rc = -1;
		for (int i = 0; i < 10 && rc != 0; i++) {
			sleep_ms(300);
			rc = sh("timeout 25 ip netns exec %s iperf3 -c %s -t 2 -J >%s 2>&1", c->ns_g,
				HOST_ADDR, p);
		}
		if (rc)
			dump(p);
		assert_int_equal(rc, 0);
		ij = json_load_file(p, 0, NULL);
		assert_non_null(ij);
		bytes = json_integer_value(jget(ij, "end.sum_received.bytes"));
		c->iperf_ran = true;
		printf("# iperf3 through the %s path%s%s: %.2f Gbit/s\n", c->path,
		       c->processes ? " (host in its own process)" : "",
		       c->offload ? " with offloads" : "",
		       json_real_value(jget(ij, "end.sum_received.bits_per_second")) / 1e9);
		json_decref(ij);
		assert_true(bytes > 0);
	} else {
		printf("# iperf3 not installed: throughput not measured\n");
	}

	kill(c->pid, SIGINT);
	rc = wait_exit(c->pid, 60000);
	if (rc < 0)
		kill(c->pid, SIGKILL);
	c->pid = 0;
	if (rc != 0)
		dump(c->out);
	assert_int_equal(rc, 0);
	o = slurp(c->out);
	assert_non_null(o);
	/* The run tables and the NIC's counters, and why it stopped. */
	assert_non_null(strstr(o, "\nexposure: host-visible pages"));
	assert_non_null(strstr(o, "\nnic: "));
	assert_non_null(strstr(o, "stopped by SIGINT"));
	assert_non_null(strstr(o, "status: ok"));
	free(o);
	check_json(c, host);
}

/* ---- setup ------------------------------------------------------------------------- */

static void ns_delete(struct ctx *c)
{
	if (!c->ns_made)
		return;
	c->ns_made = false;
	(void)sh("timeout 10 ip netns del %s 2>/dev/null", c->ns_g);
	(void)sh("timeout 10 ip netns del %s 2>/dev/null", c->ns_h);
}

static int setup(void **state)
{
	struct ctx *c = *state;
	char tag;

	if (!mkdtemp(c->dir))
		return -1;
	snprintf(c->json, sizeof(c->json), "%s/net.json", c->dir);
	if (!strcmp(c->path, "usage"))
		return 0;
	if (geteuid() != 0)
		c->missing = "not root (CAP_NET_ADMIN is needed for TAP and netns)";
	else if (access("/dev/net/tun", R_OK | W_OK) != 0)
		c->missing = "no /dev/net/tun";
	else if (sh("ip -V >/dev/null 2>&1") != 0)
		c->missing = "no ip(8): install iproute2";
	else if (sh("command -v ping >/dev/null 2>&1") != 0)
		c->missing = "no ping(8): install iputils-ping";
	else if (sh("command -v timeout >/dev/null 2>&1") != 0)
		c->missing = "no timeout(1): install coreutils";
	if (c->missing)
		return 0;
	/* One letter per case (upper case: with offloads), so that cases
	 * run side by side never share a namespace. */
	tag = c->processes ? 'p' : c->path[0];
	if (c->offload)
		tag = (char)(tag - 'a' + 'A');
	snprintf(c->ns_g, sizeof(c->ns_g), "cvmbus-nt-g-%d-%c", (int)getpid(), tag);
	snprintf(c->ns_h, sizeof(c->ns_h), "cvmbus-nt-h-%d-%c", (int)getpid(), tag);
	if (sh("timeout 10 ip netns add %s", c->ns_g) != 0) {
		c->missing = "ip netns add failed (no network namespaces here)";
		return 0;
	}
	if (sh("timeout 10 ip netns add %s", c->ns_h) != 0) {
		(void)sh("timeout 10 ip netns del %s", c->ns_g);
		c->missing = "ip netns add failed (no network namespaces here)";
		return 0;
	}
	c->ns_made = true;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		(void)waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
	/* The interfaces go with the process; the namespaces with us. */
	ns_delete(c);
	if (c->dir[0])
		(void)sh("rm -rf %s", c->dir);
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c;
	struct CMUnitTest t;

	memset(&c, 0, sizeof(c));
	c.path = argc > 1 ? argv[1] : "usage";
	snprintf(c.dir, sizeof(c.dir), "/tmp/cvmbus-net-cli.XXXXXX");
	if (!strcmp(c.path, "usage")) {
		t = (struct CMUnitTest)cmocka_unit_test_prestate(test_usage, &c);
	} else if (!strcmp(c.path, "host") || !strcmp(c.path, "confidential") ||
		   !strcmp(c.path, "host-processes") || !strcmp(c.path, "host-offload") ||
		   !strcmp(c.path, "confidential-offload") ||
		   !strcmp(c.path, "host-processes-offload")) {
		const char *name = c.path;

		if (!strcmp(c.path, "host-processes")) {
			c.path = "host";
			c.processes = true;
		} else if (!strcmp(c.path, "host-offload")) {
			c.path = "host";
			c.offload = true;
		} else if (!strcmp(c.path, "confidential-offload")) {
			c.path = "confidential";
			c.offload = true;
		} else if (!strcmp(c.path, "host-processes-offload")) {
			c.path = "host";
			c.processes = true;
			c.offload = true;
		}
		t = (struct CMUnitTest)cmocka_unit_test_prestate(test_path, &c);
		t.name = name;
	} else {
		fprintf(stderr, "usage: test_net_cli usage|host|confidential|host-processes|"
				"host-offload|confidential-offload|host-processes-offload\n");
		return 2;
	}
	t.setup_func = setup;
	t.teardown_func = teardown;
	return _cmocka_run_group_tests("test_net_cli", &t, 1, NULL, NULL);
}
