/* SPDX-License-Identifier: MIT */
/*
 * The hostile-host suite (tests/hostile, over src/vm/hostile.c): every
 * JSON file of tests/hostile/ is one attack by a host that lies, run against the
 * real guest glue, storvsc and echo VSC, and judged against the outcome the
 * file states (drop reasons and counts, refused connections, closed
 * channels with their ring faults, failed requests), plus what must always
 * hold: no crash and no sanitizer report (each scenario runs in a child
 * process, and a child that dies or reports fails its scenario), no hang
 * (a time limit per child), the offer accounting, no leaked pages, and a
 * good echo round trip on every channel still open after the attack.
 *
 * Besides the scenarios: every file loads and names itself after its file,
 * each family has its share of scenarios, the loader refuses the typos a
 * scenario author makes (so a misspelt attack cannot pass as a harmless
 * one), and docs/SECURITY.md carries exactly the table generated from the
 * files (`test_hostile --table` prints it).
 *
 * Usage: test_hostile [--verbose] [--limit SECONDS] [FILE.json ...] | --table
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cvmbus/hostile.h>
#include <cvmbus/log.h>

#define MAX_FILES      256
#define CHILD_LIMIT_S  60   /* one scenario, sanitizers included; budgets are 20 s */
#define TABLE_BEGIN    "<!-- hostile-table:begin -->"
#define TABLE_END      "<!-- hostile-table:end -->"

struct scenario_file {
	char path[512];
	char base[128];
	bool ran, passed;
	char line[512];
};

static struct scenario_file files[MAX_FILES];
static size_t nfiles;
static bool verbose;
static int child_limit_s = CHILD_LIMIT_S;
static unsigned int npassed, nrun;

/* ---- files ------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct scenario_file *)a)->base, ((const struct scenario_file *)b)->base);
}

static int add_file(const char *path)
{
	const char *slash = strrchr(path, '/');
	struct scenario_file *f;

	if (nfiles == MAX_FILES)
		return -1;
	f = &files[nfiles++];
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s", path);
	snprintf(f->base, sizeof(f->base), "%s", slash ? slash + 1 : path);
	return 0;
}

static int scan_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char path[512];

		if (n < 6 || strcmp(e->d_name + n - 5, ".json") || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (add_file(path)) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	qsort(files, nfiles, sizeof(files[0]), cmp_names);
	return 0;
}

/* ---- the table of docs/SECURITY.md ------------------------------------------------ */

struct row {
	enum cvmbus_hostile_family family;
	char text[1024];
};

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->family != y->family)
		return (int)x->family - (int)y->family;
	return strcmp(x->text, y->text);
}

/* The table, generated from the files: family order, then name. */
static char *make_table(void)
{
	static const char head[] = "| scenario | family | the host's attack | expected outcome |\n"
				   "|---|---|---|---|\n";
	struct row *rows = calloc(nfiles ? nfiles : 1, sizeof(*rows));
	size_t cap = sizeof(head) + nfiles * sizeof(rows[0].text), len = 0;
	char *out = malloc(cap);

	if (!rows || !out) {
		free(rows);
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < nfiles; i++) {
		struct cvmbus_hostile *h = NULL;
		struct cvmbus_hostile_info info;
		char err[256];

		if (cvmbus_hostile_load_file(files[i].path, &h, err, sizeof(err))) {
			snprintf(rows[i].text, sizeof(rows[i].text), "| `%s` | ? | %s | ? |\n",
				 files[i].base, err);
			continue;
		}
		cvmbus_hostile_get_info(h, &info);
		rows[i].family = info.family;
		snprintf(rows[i].text, sizeof(rows[i].text), "| `%s` | %s | %s | %s |\n", info.name,
			 cvmbus_hostile_family_name(info.family), info.attack, info.outcome);
		cvmbus_hostile_free(h);
	}
	qsort(rows, nfiles, sizeof(rows[0]), cmp_rows);
	len = (size_t)snprintf(out, cap, "%s", head);
	for (size_t i = 0; i < nfiles; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s", rows[i].text);
	free(rows);
	return out;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1))) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = 0;
		}
	}
	fclose(f);
	return buf;
}

/* ---- one scenario in a child process ----------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The child's whole life: load, run, hand the result up, exit (so that the
 * leak checker of a sanitizer build judges this scenario alone). */
static void child_main(const char *path, int fd)
{
	struct cvmbus_hostile_options o = { .verbose = verbose };
	struct cvmbus_hostile_result res;
	struct cvmbus_hostile *h = NULL;
	char err[256];
	int rc;

	memset(&res, 0, sizeof(res));
	rc = cvmbus_hostile_load_file(path, &h, err, sizeof(err));
	if (rc) {
		snprintf(res.why, sizeof(res.why), "load: %.200s", err);
	} else {
		rc = cvmbus_hostile_run(h, &o, &res);
		if (rc)
			snprintf(res.why, sizeof(res.why), "run could not be made (%d)", rc);
	}
	cvmbus_hostile_free(h);
	if (write(fd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		_exit(3);
	close(fd);
	exit(0);
}

/* 0 and *res when the child reported and exited cleanly; otherwise why. */
static int run_child(const char *path, struct cvmbus_hostile_result *res, char *why, size_t cap)
{
	uint64_t give_up = now_ms() + (uint64_t)child_limit_s * 1000;
	size_t got = 0;
	int fds[2], status = 0;
	pid_t pid;

	if (pipe(fds)) {
		snprintf(why, cap, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(why, cap, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		child_main(path, fds[1]);
	}
	close(fds[1]);
	while (got < sizeof(*res)) {
		uint64_t now = now_ms();
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		ssize_t n;

		if (now >= give_up)
			break;
		if (poll(&p, 1, (int)(give_up - now)) <= 0)
			continue;
		n = read(fds[0], (char *)res + got, sizeof(*res) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	if (got < sizeof(*res) && now_ms() >= give_up) {
		kill(pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
		snprintf(why, cap, "hang: no result after %d s (killed)", child_limit_s);
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		snprintf(why, cap, "crashed: signal %d", WTERMSIG(status));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(why, cap, "exit code %d (a sanitizer report?)", WEXITSTATUS(status));
		return -1;
	}
	if (got < sizeof(*res)) {
		snprintf(why, cap, "no result from the child");
		return -1;
	}
	return 0;
}

static void test_scenario(void **state)
{
	struct scenario_file *f = *state;
	struct cvmbus_hostile_result res;
	char why[256] = "";
	uint64_t t0 = now_ms();
	int rc;

	memset(&res, 0, sizeof(res));
	rc = run_child(f->path, &res, why, sizeof(why));
	f->ran = true;
	nrun++;
	f->passed = rc == 0 && res.passed;
	if (f->passed)
		npassed++;
	snprintf(f->line, sizeof(f->line), "hostile: %-4s %-44s %5llu ms  %s",
		 f->passed ? "ok" : "FAIL", f->base, (unsigned long long)(now_ms() - t0),
		 rc ? why : res.passed ? res.observed : res.why);
	printf("%s\n", f->line);
	if (!f->passed)
		fail_msg("%s: %s (observed: %s)", f->base, rc ? why : res.why, res.observed);
}

/* ---- checks of the suite itself ------------------------------------------------------ */

static void test_files_load(void **state)
{
	unsigned int per_family[CVMBUS_HOSTILE_FAMILY_COUNT] = { 0 };
	unsigned int per_outcome[CVMBUS_HOSTILE_OUTCOME_COUNT] = { 0 };
	char why[512] = "";

	(void)state;
	assert_true(nfiles > 0);
	for (size_t i = 0; i < nfiles && !why[0]; i++) {
		struct cvmbus_hostile *h = NULL;
		struct cvmbus_hostile_info info;
		char err[256] = "", want[160];

		if (cvmbus_hostile_load_file(files[i].path, &h, err, sizeof(err))) {
			snprintf(why, sizeof(why), "%s: %s", files[i].base, err);
			break;
		}
		cvmbus_hostile_get_info(h, &info);
		/* One scenario per file, the file named after it. */
		snprintf(want, sizeof(want), "%s.json", info.name);
		if (strcmp(want, files[i].base))
			snprintf(why, sizeof(why), "%s holds scenario \"%s\"", files[i].base,
				 info.name);
		else if (strlen(info.attack) < 10 || strlen(info.description) < 10)
			snprintf(why, sizeof(why), "%s: say what the attack is", files[i].base);
		else if (strchr(info.attack, '|') || strchr(info.outcome, '|'))
			snprintf(why, sizeof(why), "%s: '|' would break the table", files[i].base);
		per_family[info.family]++;
		per_outcome[info.kind]++;
		/* Freed before any failure: see test_security_table. */
		cvmbus_hostile_free(h);
	}
	if (why[0])
		fail_msg("%s", why);
	/* The threat model's shares: control messages, rings, devices. */
	assert_true(per_family[CVMBUS_HOSTILE_CONTROL] >= 15);
	assert_true(per_family[CVMBUS_HOSTILE_RING] >= 8);
	assert_true(per_family[CVMBUS_HOSTILE_DEVICE] >= 3);
	for (int k = 0; k < CVMBUS_HOSTILE_OUTCOME_COUNT; k++)
		if (!per_outcome[k])
			fail_msg("no scenario expects %s",
				 cvmbus_hostile_outcome_name((enum cvmbus_hostile_outcome_kind)k));
}

/* A misspelt scenario must not load: it would otherwise "pass" by testing
 * nothing. Each string breaks one rule; the error names it. */
static void test_vocabulary_refused(void **state)
{
	static const char ok_tail[] =
		"\"steps\": [{\"guest\": \"connect\"}],"
		"\"expect_outcome\": {\"kind\": \"survived\"}}";
	static const struct {
		const char *json;
		const char *err;
	} bad[] = {
		{ "{\"name\": \"x\", \"family\": \"control\", \"description\": \"d\","
		  "\"attack\": \"a\", \"steps\": [{\"sned\": \"unload\"}],"
		  "\"expect_outcome\": {\"kind\": \"survived\"}}",
		  "no action" },
		{ "{\"name\": \"x\", \"family\": \"control\", \"description\": \"d\","
		  "\"attack\": \"a\", \"steps\": [{\"send\": \"version_response\","
		  " \"fields\": {\"versoin_supported\": 1}}],"
		  "\"expect_outcome\": {\"kind\": \"survived\"}}",
		  "unknown key \"versoin_supported\"" },
		{ "{\"name\": \"x\", \"family\": \"control\", \"description\": \"d\","
		  "\"attack\": \"a\", \"steps\": [{\"send\": \"no_such_message\"}],"
		  "\"expect_outcome\": {\"kind\": \"survived\"}}",
		  "must name a message type" },
		{ "{\"name\": \"x\", \"family\": \"control\", \"description\": \"d\","
		  "\"attack\": \"a\", \"steps\": [{\"guest\": \"connect\", \"result\": \"-EPORTO\"}],"
		  "\"expect_outcome\": {\"kind\": \"survived\"}}",
		  "\"result\" must be 0 or -EXXX" },
		{ "{\"name\": \"x\", \"family\": \"control\", \"description\": \"d\","
		  "\"attack\": \"a\", \"steps\": [{\"guest\": \"connect\"}],"
		  "\"expect_outcome\": {\"kind\": \"message_dropped\"}}",
		  "needs \"drop_reason\"" },
		{ "{\"name\": \"x\", \"family\": \"control\", \"description\": \"d\","
		  "\"attack\": \"a\", \"steps\": [{\"guest\": \"connect\"}],"
		  "\"expect_outcome\": {\"kind\": \"channel_closed\", \"relid\": 5,"
		  " \"ring_fault\": \"write_index_rnage\"}}",
		  "no such ring fault" },
		{ "{\"name\": \"x\", \"family\": \"kitchen\", \"description\": \"d\","
		  "\"attack\": \"a\", ",
		  "\"family\" has no such value" },
		{ "{\"name\": \"x\", \"family\": \"ring\", \"description\": \"d\","
		  "\"attack\": \"a\", \"steps\": [{\"ring\": {\"relid\": 5, \"write_idx\": 1}}],"
		  "\"expect_outcome\": {\"kind\": \"survived\"}}",
		  "unknown key \"write_idx\"" },
		{ "{\"name\": \"x\", \"family\": \"ring\", \"description\": \"d\","
		  "\"attack\": \"a\", \"steps\": [{\"ring_packet\": {\"relid\": 5, \"hex\": \"abc\"}}],"
		  "\"expect_outcome\": {\"kind\": \"survived\"}}",
		  "pairs of hex digits" },
		{ "{\"name\": \"x\", \"family\": \"control\", \"description\": \"d\","
		  "\"attack\": \"a\", \"steps\": [{\"guest\": \"connect\"}]}",
		  "\"expect_outcome\" is required" },
	};
	char buf[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cvmbus_hostile *h = NULL;
		char err[256] = "";
		const char *json = bad[i].json;

		/* The "kitchen" family case leaves the tail to a good one. */
		if (json[strlen(json) - 2] == ',') {
			snprintf(buf, sizeof(buf), "%s%s", json, ok_tail);
			json = buf;
		}
		assert_int_equal(cvmbus_hostile_load_string(json, &h, err, sizeof(err)), -EINVAL);
		assert_null(h);
		if (!strstr(err, bad[i].err))
			fail_msg("case %zu: error \"%s\" does not say \"%s\"", i, err, bad[i].err);
	}
	/* And the good tail alone loads. */
	{
		struct cvmbus_hostile *h = NULL;
		struct cvmbus_hostile_info info;

		snprintf(buf, sizeof(buf),
			 "{\"name\": \"good\", \"family\": \"ring\", \"description\": \"d\","
			 "\"attack\": \"a\", %s",
			 ok_tail);
		assert_int_equal(cvmbus_hostile_load_string(buf, &h, NULL, 0), 0);
		cvmbus_hostile_get_info(h, &info);
		assert_string_equal(info.name, "good");
		assert_int_equal(info.kind, CVMBUS_HOSTILE_SURVIVED);
		cvmbus_hostile_free(h);
	}
}

static void test_security_table(void **state)
{
	char *doc = read_text(CVMBUS_SOURCE_DIR "/docs/SECURITY.md");
	char *table = make_table();
	const char *b = doc ? strstr(doc, TABLE_BEGIN) : NULL, *e = b ? strstr(b, TABLE_END) : NULL;
	const char *why = NULL;

	(void)state;
	if (!table || !doc)
		why = "docs/SECURITY.md or the scenarios cannot be read";
	else if (!b || !e)
		why = "docs/SECURITY.md has no " TABLE_BEGIN " ... " TABLE_END " block";
	if (!why) {
		b += strlen(TABLE_BEGIN);
		while (*b == '\n')
			b++;
		if ((size_t)(e - b) != strlen(table) || memcmp(b, table, strlen(table)))
			why = "docs/SECURITY.md's scenario table is out of date: regenerate it "
			      "with `test_hostile --table`";
	}
	/* Freed before failing: a failed check longjmps, and the children
	 * forked afterwards would report what it left as their leaks. */
	free(table);
	free(doc);
	if (why)
		fail_msg("%s", why);
}

static int summary(void **state)
{
	(void)state;
	printf("hostile: %u scenarios, %u passed\n", nrun, npassed);
	return 0;
}

int main(int argc, char **argv)
{
	struct CMUnitTest *tests;
	bool table = false, named;
	size_t n = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--verbose"))
			verbose = true;
		else if (!strcmp(argv[i], "--table"))
			table = true;
		else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
			child_limit_s = atoi(argv[++i]) > 0 ? atoi(argv[i]) : CHILD_LIMIT_S;
		else if (add_file(argv[i]))
			return 2;
	}
	named = nfiles > 0;
	if (!nfiles && scan_dir(CVMBUS_HOSTILE_DIR)) {
		fprintf(stderr, "cannot list %s\n", CVMBUS_HOSTILE_DIR);
		return 2;
	}
	cvmbus_log_set_level(verbose ? CVMBUS_LOG_INFO : CVMBUS_LOG_ERROR);
	if (table) {
		char *t = make_table();

		if (!t)
			return 2;
		printf("%s", t);
		free(t);
		return 0;
	}
	tests = calloc(nfiles + 3, sizeof(*tests));
	if (!tests)
		return 2;
	if (!named) {
		/* The checks of the whole suite need the whole folder. */
		tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_files_load);
		tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_vocabulary_refused);
		tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_security_table);
	}
	for (size_t i = 0; i < nfiles; i++) {
		tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_scenario, &files[i]);
		tests[n].name = files[i].base;
		n++;
	}
	rc = _cmocka_run_group_tests("hostile", tests, n, NULL, summary);
	free(tests);
	return rc;
}
