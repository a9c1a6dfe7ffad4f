/* SPDX-License-Identifier: MIT */
/*
 * Tests of `cvmbus ring` and `cvmbus demo` as a user runs them: the built
 * binary is started with posix_spawn, its exit code, stdout and stderr are
 * checked. Images that must be valid or corrupt in a precise way are written
 * byte by byte here from the layout in docs/RING_IMAGE.md (control page
 * words at 0/4/8/12/64, descriptor fields at 0/2/4/6/8, trailer = start
 * offset << 32), never produced by the tool under test; the payload pattern
 * is computed here from its definition, independently of ring_pattern.h.
 * Concurrency is tested with two real processes on one small file.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

#define PG 4096u

/* ---- running the tool ------------------------------------------------- */

struct run {
	pid_t pid;
	char out_path[512];
	char err_path[512];
	int status; /* exit code, or 128 + signal */
	char *out;
	char *err;
};

static void path_in_workdir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", CVMBUS_TEST_WORKDIR, name);
}

/* Start `cvmbus args...` (NULL-terminated), stdout and stderr to files
 * named after tag. */
static void run_start(struct run *r, const char *tag, const char *const *args)
{
	posix_spawn_file_actions_t fa;
	const char *argv[32];
	size_t n = 0;
	char name[128];

	memset(r, 0, sizeof(*r));
	snprintf(name, sizeof(name), "%s.out", tag);
	path_in_workdir(r->out_path, sizeof(r->out_path), name);
	snprintf(name, sizeof(name), "%s.err", tag);
	path_in_workdir(r->err_path, sizeof(r->err_path), name);

	argv[n++] = CVMBUS_TOOL_PATH;
	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;

	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, r->out_path,
							  O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, r->err_path,
							  O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
	assert_int_equal(posix_spawn(&r->pid, CVMBUS_TOOL_PATH, &fa, NULL, (char *const *)argv,
				     environ), 0);
	posix_spawn_file_actions_destroy(&fa);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static void run_finish(struct run *r)
{
	int st;

	assert_int_equal(waitpid(r->pid, &st, 0), r->pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = slurp(r->out_path);
	r->err = slurp(r->err_path);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* Run to completion; prints the output when the exit code is unexpected so
 * that a failure says why. */
static void run_expect(struct run *r, int want_status, const char *tag, ...)
{
	const char *args[32];
	va_list ap;
	size_t n = 0;

	va_start(ap, tag);
	while (n < 31 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	run_start(r, tag, args);
	run_finish(r);
	if (r->status != want_status)
		print_error("%s: exit %d, wanted %d\nstdout:\n%s\nstderr:\n%s\n", tag, r->status,
			    want_status, r->out, r->err);
	assert_int_equal(r->status, want_status);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		print_error("expected to find \"%s\" in:\n%s\n", needle, hay);
	assert_non_null(strstr(hay, needle));
}

/* ---- hand-built images ------------------------------------------------ */

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		p[off + (size_t)k] = (uint8_t)(v >> (8 * k));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	for (int k = 0; k < 8; k++)
		p[off + (size_t)k] = (uint8_t)(v >> (8 * k));
}

/* The pattern from its definition: packet i, byte j. */
static uint8_t pattern_byte(uint64_t i, size_t j)
{
	return j < 8 ? (uint8_t)(i >> (8 * j)) : (uint8_t)((i + j) % 251u);
}

/* A descriptor at data offset off of image img (control page first). */
static void put_desc(uint8_t *img, uint32_t off, uint16_t type, uint16_t offset8, uint16_t len8,
		     uint16_t flags, uint64_t trans_id)
{
	uint8_t *d = img + PG + off;

	put16(d, 0, type);
	put16(d, 2, offset8);
	put16(d, 4, len8);
	put16(d, 6, flags);
	put64(d, 8, trans_id);
}

static void put_trailer(uint8_t *img, uint32_t pkt_off, uint32_t len8)
{
	put64(img + PG, pkt_off + len8 * 8u, (uint64_t)pkt_off << 32);
}

static void write_file(const char *path, const uint8_t *bytes, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(bytes, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/*
 * The reference image: data area 4096 bytes; control page write_index 96,
 * read_index 0, interrupt_mask 1, pending_send_sz 256, feature_bits 1.
 *   @0  in-band: type 6, offset8 2, len8 3, flags 1, trans_id
 *       0x1122334455667788, payload 8 bytes 0xa0..0xa7; trailer @24 = 0.
 *   @32 GPA direct: type 9, offset8 6, len8 7, flags 0, trans_id 7;
 *       reserved @16, range_count 1 @20, byte_count 0x1000 @24,
 *       byte_offset 0x10 @28, pfns 0xabc @32 and 0xabd @40 (0x10 + 0x1000
 *       spans two pages), payload 8 bytes 0xb0..0xb7 @48; trailer @88 =
 *       32 << 32.
 */
#define REF_DATA 4096u
#define REF_SIZE (PG + REF_DATA)

static void build_reference(uint8_t *img)
{
	memset(img, 0, REF_SIZE);
	put32(img, 0, 96);
	put32(img, 4, 0);
	put32(img, 8, 1);
	put32(img, 12, 256);
	put32(img, 64, 1);

	put_desc(img, 0, 6, 2, 3, 1, 0x1122334455667788ull);
	for (int k = 0; k < 8; k++)
		img[PG + 16 + k] = (uint8_t)(0xa0 + k);
	put_trailer(img, 0, 3);

	put_desc(img, 32, 9, 6, 7, 0, 7);
	put32(img + PG, 32 + 16, 0xdeadbeef); /* reserved: peers leave garbage */
	put32(img + PG, 32 + 20, 1);
	put32(img + PG, 32 + 24, 0x1000);
	put32(img + PG, 32 + 28, 0x10);
	put64(img + PG, 32 + 32, 0xabc);
	put64(img + PG, 32 + 40, 0xabd);
	for (int k = 0; k < 8; k++)
		img[PG + 32 + 48 + k] = (uint8_t)(0xb0 + k);
	put_trailer(img, 32, 7);
}

/* ---- tests ------------------------------------------------------------ */

static void test_help_and_usage(void **state)
{
	struct run r;

	(void)state;
	run_expect(&r, 0, "help", "ring", "--help", NULL);
	assert_contains(r.out, "usage: cvmbus ring dump FILE");
	run_free(&r);
	run_expect(&r, 0, "help_write", "ring", "write", "--help", NULL);
	assert_contains(r.out, "--create DATA_SIZE");
	run_free(&r);
	run_expect(&r, 0, "help_demo", "demo", "--help", NULL);
	assert_contains(r.out, "usage: cvmbus demo");
	run_free(&r);

	run_expect(&r, 2, "usage_none", "ring", NULL);
	run_free(&r);
	run_expect(&r, 2, "usage_bogus", "ring", "bogus", NULL);
	assert_contains(r.err, "unknown subcommand 'bogus'");
	run_free(&r);
	run_expect(&r, 2, "usage_size", "ring", "write", "x.ring", "--count", "1", "--size", "4",
		   NULL);
	assert_contains(r.err, "--size must be at least 8");
	run_free(&r);
	run_expect(&r, 2, "usage_create", "ring", "write", "x.ring", "--count", "1", "--size", "8",
		   "--create", "5000", NULL);
	assert_contains(r.err, "multiple of 4096");
	run_free(&r);
	run_expect(&r, 2, "usage_missing", "ring", "read", "x.ring", "--size", "8", NULL);
	assert_contains(r.err, "--count and --size are required");
	run_free(&r);
	run_expect(&r, 2, "usage_timeout", "ring", "read", "x.ring", "--count", "1", "--size", "8",
		   "--timeout", "-1", NULL);
	run_free(&r);
	/* A packet that can never fit the ring is a usage error, not a wait. */
	run_expect(&r, 2, "usage_fit", "ring", "write", CVMBUS_TEST_WORKDIR "/fit.ring", "--create",
		   "4096", "--count", "1", "--size", "4072", NULL);
	assert_contains(r.err, "holds at most 4088");
	run_free(&r);

	run_expect(&r, 1, "missing_file", "ring", "read", CVMBUS_TEST_WORKDIR "/does-not-exist",
		   "--count", "1", "--size", "8", NULL);
	assert_contains(r.err, "No such file");
	run_free(&r);
}

/* write --create then read on one file, then again from where they left
 * off (ATTACH continues from the indices in the file). */
static void test_write_then_read(void **state)
{
	char f[512];
	struct run r;

	(void)state;
	path_in_workdir(f, sizeof(f), "wr.ring");
	run_expect(&r, 0, "wr_write", "ring", "write", f, "--create", "16K", "--count", "50",
		   "--size", "200", NULL);
	assert_contains(r.out, "wrote 50 packets of 200 bytes");
	run_free(&r);

	/* 50 packets of 16 + 200 (a multiple of 8: no padding) + 8 = 224 bytes. */
	run_expect(&r, 0, "wr_dump1", "ring", "dump", f, NULL);
	assert_contains(r.out, "write_index      11200 (0x2bc0)");
	assert_contains(r.out, "read_index       0 (0x0)");
	assert_contains(r.out, "feature_bits     0x1 (pending_send_sz)");
	assert_contains(r.out, "packet 49 at data offset 10976 (0x2ae0): inband (0x6)");
	assert_contains(r.out, "fixed pattern of packet number 49");
	assert_contains(r.out, "50 packets, 11200 bytes\n");
	run_free(&r);

	run_expect(&r, 0, "wr_read", "ring", "read", f, "--count", "50", "--size", "200", NULL);
	assert_contains(r.out, "read and verified 50 packets of 200 bytes");
	run_free(&r);

	/* Second round wraps the 16 KiB ring. */
	run_expect(&r, 0, "wr_write2", "ring", "write", f, "--count", "50", "--size", "200", NULL);
	run_free(&r);
	run_expect(&r, 0, "wr_read2", "ring", "read", f, "--count", "50", "--size", "200", NULL);
	run_free(&r);
	run_expect(&r, 0, "wr_dump2", "ring", "dump", f, NULL);
	/* 100 * 224 = 22400 = 16384 + 6016 */
	assert_contains(r.out, "write_index      6016 (0x1780)");
	assert_contains(r.out, "read_index       6016 (0x1780)");
	assert_contains(r.out, "0 packets, 0 bytes\n");
	run_free(&r);

	/* A reader asking for another size sees the mismatch and says so. */
	run_expect(&r, 0, "wr_write3", "ring", "write", f, "--count", "1", "--size", "200", NULL);
	run_free(&r);
	run_expect(&r, 1, "wr_read3", "ring", "read", f, "--count", "1", "--size", "100", NULL);
	assert_contains(r.err, "has 200 payload bytes, expected 104");
	run_free(&r);
}

/* Two processes on one 8 KiB ring: 3000 packets of 128 ring bytes wrap it
 * 46 times, so each side waits for the other again and again. */
static void test_concurrent_processes(void **state)
{
	char f[512];
	struct run w, rd, r;
	const char *wargs[] = { "ring", "write", NULL, "--count", "3000", "--size", "100",
				"--timeout", "30", NULL };
	const char *rargs[] = { "ring", "read", NULL, "--count", "3000", "--size", "100",
				"--timeout", "30", NULL };

	(void)state;
	path_in_workdir(f, sizeof(f), "conc.ring");
	wargs[2] = f;
	rargs[2] = f;
	run_expect(&r, 0, "conc_create", "ring", "write", f, "--create", "8192", "--count", "0",
		   "--size", "100", NULL);
	run_free(&r);

	run_start(&rd, "conc_read", rargs);
	run_start(&w, "conc_write", wargs);
	run_finish(&w);
	run_finish(&rd);
	if (w.status || rd.status)
		print_error("writer %d: %s%s\nreader %d: %s%s\n", w.status, w.out, w.err, rd.status,
			    rd.out, rd.err);
	assert_int_equal(w.status, 0);
	assert_int_equal(rd.status, 0);
	assert_contains(rd.out, "read and verified 3000 packets");
	run_free(&w);
	run_free(&rd);

	/* 3000 * 128 = 384000 = 46 * 8192 + 7168 */
	run_expect(&r, 0, "conc_dump", "ring", "dump", f, NULL);
	assert_contains(r.out, "write_index      7168 (0x1c00)");
	assert_contains(r.out, "read_index       7168 (0x1c00)");
	run_free(&r);
}

static void test_dump_reference(void **state)
{
	static uint8_t img[REF_SIZE];
	char f[512];
	struct run r;

	(void)state;
	build_reference(img);
	path_in_workdir(f, sizeof(f), "ref.ring");
	write_file(f, img, sizeof(img));

	run_expect(&r, 0, "ref_dump", "ring", "dump", f, NULL);
	assert_contains(r.out, "data area 4096 bytes");
	assert_contains(r.out, "write_index      96 (0x60)");
	assert_contains(r.out, "interrupt_mask   1");
	assert_contains(r.out, "pending_send_sz  256");
	assert_contains(r.out, "readable: 96 bytes from data offset 0 to 96");
	assert_contains(r.out, "packet 0 at data offset 0 (0x0): inband (0x6) flags 0x1 "
			       "(completion_requested) trans_id 0x1122334455667788 offset8 2 len8 3");
	assert_contains(r.out, "payload 8 bytes: a0 a1 a2 a3 a4 a5 a6 a7\n");
	assert_contains(r.out, "packet 1 at data offset 32 (0x20): gpa_direct (0x9) flags 0x0 "
			       "trans_id 0x7 offset8 6 len8 7");
	assert_contains(r.out, "range 0: byte_count 4096 byte_offset 16 pfns 0xabc 0xabd\n");
	assert_contains(r.out, "payload 8 bytes: b0 b1 b2 b3 b4 b5 b6 b7\n");
	assert_contains(r.out, "trailer 0x0000002000000000 (start offset, as expected)");
	assert_contains(r.out, "2 packets, 96 bytes\n");
	assert_string_equal(r.err, "");
	run_free(&r);

	run_expect(&r, 0, "ref_json", "ring", "dump", f, "--json", NULL);
	assert_true(r.out[0] == '{');
	assert_non_null(strstr(r.out, "}\n"));
	assert_null(strchr(strstr(r.out, "}\n") + 2, '{')); /* one document */
	assert_contains(r.out, "\"control\":{\"write_index\":96,\"read_index\":0,"
			       "\"interrupt_mask\":1,\"pending_send_sz\":256,\"feature_bits\":1}");
	assert_contains(r.out, "\"type\":6,\"type_name\":\"inband\",\"flags\":1,"
			       "\"trans_id\":1234605616436508552,\"offset8\":2,\"len8\":3");
	assert_contains(r.out, "\"payload_head\":\"a0a1a2a3a4a5a6a7\",\"trailer\":0,"
			       "\"trailer_ok\":true,\"pattern_index\":null");
	assert_contains(r.out, "\"gpa_ranges\":[{\"byte_count\":4096,\"byte_offset\":16,"
			       "\"pfn_count\":2,\"pfns\":[2748,2749]}]");
	assert_contains(r.out, "\"corrupt\":null,\"packet_count\":2");
	run_free(&r);

	/* The trailer is informational: a wrong one is shown, not fatal. */
	put64(img + PG, 24, 0x1234);
	write_file(f, img, sizeof(img));
	run_expect(&r, 0, "ref_trailer", "ring", "dump", f, NULL);
	assert_contains(r.out, "does not record this packet's start offset");
	assert_contains(r.out, "1 trailer mismatch\n");
	run_free(&r);
}

/* A hand-made image in the pattern is accepted by `ring read`: two packets
 * of 260 bytes (j runs past 251, so the mod wraps inside the payload). */
static void test_read_hand_pattern(void **state)
{
	static uint8_t img[PG + 4096];
	char f[512];
	struct run r;
	const uint32_t size = 260, padded = 264, len8 = (16 + 264) / 8; /* 35 */
	uint32_t off = 0;

	(void)state;
	memset(img, 0, sizeof(img));
	for (uint64_t i = 0; i < 2; i++) {
		put_desc(img, off, 6, 2, (uint16_t)len8, 0, 0xfeed + i);
		for (uint32_t j = 0; j < size; j++)
			img[PG + off + 16 + j] = pattern_byte(i, j);
		put_trailer(img, off, len8);
		off += 16 + padded + 8;
	}
	put32(img, 0, off); /* 576 */
	path_in_workdir(f, sizeof(f), "hand.ring");
	write_file(f, img, sizeof(img));
	run_expect(&r, 0, "hand_read", "ring", "read", f, "--count", "2", "--size", "260", NULL);
	run_free(&r);

	/* One byte off in packet 1: byte 251 should be (1 + 251) % 251 = 1. */
	put32(img, 4, 0);
	img[PG + 288 + 16 + 251] = 0x77;
	write_file(f, img, sizeof(img));
	run_expect(&r, 1, "hand_bad", "ring", "read", f, "--count", "2", "--size", "260", NULL);
	assert_contains(r.err, "packet 1 at data offset 288: payload byte 251 is 0x77, expected 0x01");
	run_free(&r);

	/* Padding that is not zero is also a mismatch. */
	img[PG + 288 + 16 + 251] = 1;
	img[PG + 16 + 262] = 0x5a;
	write_file(f, img, sizeof(img));
	run_expect(&r, 1, "hand_pad", "ring", "read", f, "--count", "2", "--size", "260", NULL);
	assert_contains(r.err, "padding byte 262 is 0x5a");
	run_free(&r);
}

struct corrupt_case {
	const char *tag;
	void (*mutate)(uint8_t *img);
	const char *messages[3]; /* substrings of stderr */
	const char *json;        /* substring of the JSON document */
	bool before_payload;     /* `ring read` hits it before checking any payload */
};

static void m_windex_range(uint8_t *img) { put32(img, 0, 4096); }
static void m_windex_align(uint8_t *img) { put32(img, 0, 0x44); }
static void m_rindex_range(uint8_t *img) { put32(img, 4, 0xfffffff8u); }
static void m_len8(uint8_t *img) { put16(img + PG, 4, 1); } /* len8 1 < offset8 2 */
static void m_offset8(uint8_t *img) { put16(img + PG, 32 + 2, 1); }
static void m_type(uint8_t *img) { put16(img + PG, 32, 5); } /* TEARDOWN_GPADL */
static void m_truncated(uint8_t *img) { put16(img + PG, 32 + 4, 100); }
static void m_gpa_count(uint8_t *img) { put32(img + PG, 32 + 20, 0); }
static void m_gpa_offset(uint8_t *img) { put32(img + PG, 32 + 28, 4096); }

static const struct corrupt_case corrupt_cases[] = {
	{ "c_windex_range", m_windex_range,
	  { "check write_index_range", "value 4096 = 0x1000", "write_index at control page offset 0" },
	  "\"check\":\"write_index_range\"", true },
	{ "c_windex_align", m_windex_align,
	  { "check write_index_align", "value 68 = 0x44", "control page offset 0" },
	  "\"field\":\"write_index\",\"control_offset\":0", true },
	{ "c_rindex_range", m_rindex_range,
	  { "check read_index_range", "value 4294967288", "read_index at control page offset 4" },
	  "\"check\":\"read_index_range\"", true },
	{ "c_len8", m_len8,
	  { "check len8", "value 1 = 0x1", "packet at data offset 0 = 0x0, file offset 0x1000" },
	  "\"check\":\"len8\"", true },
	{ "c_offset8", m_offset8,
	  { "check offset8", "value 1", "packet at data offset 32 = 0x20, file offset 0x1020" },
	  "\"data_offset\":32,\"file_offset\":4128", false },
	{ "c_type", m_type, { "check type", "value 5", "data offset 32" },
	  "\"check\":\"type\"", false },
	{ "c_truncated", m_truncated, { "check truncated", "data offset 32", NULL },
	  "\"check\":\"truncated\"", false },
	{ "c_gpa_count", m_gpa_count, { "check gpa_range_count", "data offset 32", NULL },
	  "\"check\":\"gpa_range_count\"", false },
	{ "c_gpa_offset", m_gpa_offset, { "check gpa_range_offset", "data offset 32", NULL },
	  "\"check\":\"gpa_range_offset\"", false },
};

static void test_dump_corrupt(void **state)
{
	static uint8_t img[REF_SIZE];
	char f[512], tag[64];
	struct run r;

	(void)state;
	for (size_t c = 0; c < sizeof(corrupt_cases) / sizeof(corrupt_cases[0]); c++) {
		const struct corrupt_case *cc = &corrupt_cases[c];

		build_reference(img);
		cc->mutate(img);
		snprintf(tag, sizeof(tag), "%s.ring", cc->tag);
		path_in_workdir(f, sizeof(f), tag);
		write_file(f, img, sizeof(img));

		run_expect(&r, 3, cc->tag, "ring", "dump", f, NULL);
		assert_contains(r.err, "corrupt ring: ");
		for (int k = 0; k < 3 && cc->messages[k]; k++)
			assert_contains(r.err, cc->messages[k]);
		assert_contains(r.out, "corrupt: ");
		run_free(&r);

		snprintf(tag, sizeof(tag), "%s_json", cc->tag);
		run_expect(&r, 3, tag, "ring", "dump", f, "--json", NULL);
		assert_true(r.out[0] == '{');
		assert_contains(r.out, cc->json);
		run_free(&r);

		/* The reader refuses the same image the same way (when
		 * the bad packet comes before any payload it checks). */
		if (!cc->before_payload)
			continue;
		snprintf(tag, sizeof(tag), "%s_read", cc->tag);
		run_expect(&r, 3, tag, "ring", "read", f, "--count", "1", "--size", "8",
			   "--timeout", "0.2", NULL);
		assert_contains(r.err, cc->messages[0]);
		run_free(&r);
	}

	/* Packets before the bad one are still shown. */
	build_reference(img);
	m_type(img);
	path_in_workdir(f, sizeof(f), "c_partial.ring");
	write_file(f, img, sizeof(img));
	run_expect(&r, 3, "c_partial", "ring", "dump", f, NULL);
	assert_contains(r.out, "packet 0 at data offset 0 (0x0): inband");
	assert_contains(r.out, "1 packet, 32 bytes before the corruption");
	run_free(&r);

	/* A size that cannot be a ring. */
	path_in_workdir(f, sizeof(f), "c_size.ring");
	write_file(f, img, PG + 100);
	run_expect(&r, 3, "c_size", "ring", "dump", f, NULL);
	assert_contains(r.err, "corrupt image: size 4196 is too small");
	run_free(&r);
	write_file(f, img, sizeof(img) - 8);
	run_expect(&r, 3, "c_size2", "ring", "dump", f, "--json", NULL);
	assert_contains(r.out, "\"check\":\"image_size\"");
	run_free(&r);
}

static void test_timeouts(void **state)
{
	char f[512];
	struct run r;

	(void)state;
	path_in_workdir(f, sizeof(f), "timeout.ring");
	run_expect(&r, 0, "to_create", "ring", "write", f, "--create", "4096", "--count", "0",
		   "--size", "8", NULL);
	run_free(&r);
	run_expect(&r, 1, "to_read", "ring", "read", f, "--count", "1", "--size", "8", "--timeout",
		   "0.2", NULL);
	assert_contains(r.err, "timed out after 0.2 s waiting for packet 0 of 1 (ring empty");
	run_free(&r);

	/* 4096 / 32 bytes per packet: 127 fit (free must stay > 0). */
	run_expect(&r, 1, "to_write", "ring", "write", f, "--count", "1000", "--size", "8",
		   "--timeout", "0.2", NULL);
	assert_contains(r.err, "timed out after 0.2 s waiting for free space (ring full");
	assert_contains(r.err, "wrote 127 of 1000 packets");
	run_free(&r);
}

static void test_demo(void **state)
{
	char f[512];
	struct run r;

	(void)state;
	path_in_workdir(f, sizeof(f), "demo.ring");
	run_expect(&r, 0, "demo", "demo", "--count", "20000", "--size", "100", "--ring-size",
		   "16384", "--image", f, NULL);
	assert_contains(r.out, "verified   20000 packets, 2000000 payload bytes");
	assert_contains(r.out, "signals    writer -> reader");
	assert_contains(r.out, "$ cvmbus ring dump ");
	assert_contains(r.out, "gpa_direct (0x9)");
	assert_contains(r.out, "xfer set_id 7, ranges: 2");
	assert_contains(r.out, "4 packets, 240 bytes\n");
	run_free(&r);

	/* The image the demo left is a valid ring for the dump command too. */
	run_expect(&r, 0, "demo_dump", "ring", "dump", f, "--json", NULL);
	assert_contains(r.out, "\"packet_count\":4");
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_and_usage),
		cmocka_unit_test(test_write_then_read),
		cmocka_unit_test(test_concurrent_processes),
		cmocka_unit_test(test_dump_reference),
		cmocka_unit_test(test_read_hand_pattern),
		cmocka_unit_test(test_dump_corrupt),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_demo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
