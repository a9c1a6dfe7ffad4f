/* SPDX-License-Identifier: MIT */
/*
 * Tests of the SCSI emulation (src/dev/scsi.c) over a RAM block backend
 * defined here: each command's response bytes are compared with bytes
 * written by hand from SPC-4/SBC-3 (INQUIRY data, VPD pages, READ
 * CAPACITY, MODE SENSE, REPORT LUNS, sense data), then the bounds checks:
 * LBAs out of range (including ones that would wrap), buffers too short,
 * wrong directions, truncated CDBs, unknown operations.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/storage.h>

/* ---- a RAM backend ---------------------------------------------------------- */

struct ram {
	struct cvmbus_blk blk;
	uint8_t *data;
	uint64_t bytes;
	int flushes;
	int discards;
	uint64_t last_discard_off, last_discard_len;
	bool fail;
};

static int ram_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct ram *r = ctx;

	if (r->fail)
		return -EIO;
	assert_true(off + len <= r->bytes);
	memcpy(buf, r->data + off, len);
	return 0;
}

static int ram_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct ram *r = ctx;

	if (r->fail)
		return -EIO;
	assert_true(off + len <= r->bytes);
	memcpy(r->data + off, buf, len);
	return 0;
}

static int ram_flush(void *ctx)
{
	struct ram *r = ctx;

	r->flushes++;
	return r->fail ? -EIO : 0;
}

static int ram_discard(void *ctx, uint64_t off, uint64_t len)
{
	struct ram *r = ctx;

	assert_true(off + len <= r->bytes);
	memset(r->data + off, 0, len);
	r->discards++;
	r->last_discard_off = off;
	r->last_discard_len = len;
	return 0;
}

static const struct cvmbus_blk_ops ram_ops = {
	.read = ram_read, .write = ram_write, .flush = ram_flush, .discard = ram_discard,
};
static const struct cvmbus_blk_ops ram_ops_nodiscard = {
	.read = ram_read, .write = ram_write, .flush = ram_flush,
};

#define RAM_SECTORS 2048u /* 1 MiB */

struct fixture {
	struct ram ram;
	struct cvmbus_scsi_disk disk;
	uint8_t buf[256 * 1024];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram.bytes = RAM_SECTORS * 512ull;
	f->ram.data = calloc(1, f->ram.bytes);
	assert_non_null(f->ram.data);
	f->ram.blk.ops = &ram_ops;
	f->ram.blk.ctx = &f->ram;
	f->ram.blk.sectors = RAM_SECTORS;
	f->disk.blk = &f->ram.blk;
	f->disk.id = 0x0123456789abcdefull;
	strcpy(f->disk.serial, "SER123");
	f->disk.write_cache = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->ram.data);
	free(f);
	return 0;
}

/* Run a CDB with the fixture's buffer of len bytes in direction dir. */
static void run(struct fixture *f, const uint8_t *cdb, uint8_t cdb_len,
		enum cvmbus_scsi_dir dir, uint32_t len, struct cvmbus_scsi_result *res)
{
	struct cvmbus_scsi_cmd cmd = {
		.cdb = cdb, .cdb_len = cdb_len, .dir = dir, .data = f->buf, .data_len = len,
	};

	assert_int_equal(cvmbus_scsi_execute(&f->disk, &cmd, res), 0);
}

/* The CHECK CONDITION a command must end in: fixed sense, key, ASC/ASCQ,
 * compared as the 18 bytes SPC-4 4.5.3 lays out. */
static void expect_sense(const struct cvmbus_scsi_result *res, uint8_t key, uint8_t asc,
			 uint8_t ascq)
{
	uint8_t want[18] = { 0x70, 0, key, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, asc, ascq, 0, 0, 0, 0 };

	assert_int_equal(res->status, CVMBUS_SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(res->tx, 0);
	assert_int_equal(res->sense_len, 18);
	assert_memory_equal(res->sense, want, 18);
}

/* ---- INQUIRY ------------------------------------------------------------------ */

static void test_inquiry_standard(void **state)
{
	struct fixture *f = *state;
	static const uint8_t cdb[6] = { 0x12, 0, 0, 0, 0xff, 0 };
	static const uint8_t want[36] = {
		0x00, 0x00, 0x06, 0x12, 0x1f, 0x00, 0x00, 0x02,
		'C', 'V', 'M', 'B', 'U', 'S', ' ', ' ',
		'V', 'i', 'r', 't', 'u', 'a', 'l', ' ', 'D', 'i', 's', 'k', ' ', ' ', ' ', ' ',
		'1', '.', '0', ' ',
	};
	struct cvmbus_scsi_result res;
	struct cvmbus_scsi_cmd cmd = {
		.cdb = cdb, .cdb_len = 6, .lun = 1, .dir = CVMBUS_SCSI_DIR_IN,
		.data = f->buf, .data_len = 255,
	};

	run(f, cdb, 6, CVMBUS_SCSI_DIR_IN, 255, &res);
	assert_int_equal(res.status, CVMBUS_SCSI_STATUS_GOOD);
	assert_int_equal(res.tx, 36);
	assert_memory_equal(f->buf, want, 36);

	/* The allocation length cuts the answer, and so does the buffer. */
	static const uint8_t cdb5[6] = { 0x12, 0, 0, 0, 5, 0 };
	memset(f->buf, 0xaa, 16);
	run(f, cdb5, 6, CVMBUS_SCSI_DIR_IN, 255, &res);
	assert_int_equal(res.tx, 5);
	assert_memory_equal(f->buf, want, 5);
	assert_int_equal(f->buf[5], 0xaa);
	run(f, cdb, 6, CVMBUS_SCSI_DIR_IN, 8, &res);
	assert_int_equal(res.tx, 8);

	/* A LUN that is not there: qualifier 3, type 1Fh. */
	assert_int_equal(cvmbus_scsi_execute(&f->disk, &cmd, &res), 0);
	assert_int_equal(res.status, CVMBUS_SCSI_STATUS_GOOD);
	assert_int_equal(f->buf[0], 0x7f);

	/* A page code without EVPD, and CMDDT, are invalid fields. */
	static const uint8_t bad1[6] = { 0x12, 0, 0x80, 0, 0xff, 0 };
	static const uint8_t bad2[6] = { 0x12, 0x02, 0, 0, 0xff, 0 };
	run(f, bad1, 6, CVMBUS_SCSI_DIR_IN, 255, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);
	run(f, bad2, 6, CVMBUS_SCSI_DIR_IN, 255, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);
}

static void vpd(struct fixture *f, uint8_t page, struct cvmbus_scsi_result *res)
{
	uint8_t cdb[6] = { 0x12, 0x01, page, 0x01, 0x00, 0 }; /* alloc 256 */

	memset(f->buf, 0xcc, 512);
	run(f, cdb, 6, CVMBUS_SCSI_DIR_IN, 256, res);
}

static void test_vpd_pages(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_scsi_result res;

	static const uint8_t p00[10] = { 0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
	vpd(f, 0x00, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.tx, 10);
	assert_memory_equal(f->buf, p00, 10);

	static const uint8_t p80[10] = { 0x00, 0x80, 0x00, 0x06, 'S', 'E', 'R', '1', '2', '3' };
	vpd(f, 0x80, &res);
	assert_int_equal(res.tx, 10);
	assert_memory_equal(f->buf, p80, 10);

	static const uint8_t p83[34] = {
		0x00, 0x83, 0x00, 0x1e,
		/* NAA 3 (locally assigned) + the id's low 60 bits */
		0x01, 0x03, 0x00, 0x08, 0x31, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
		/* T10 vendor id: vendor + serial */
		0x02, 0x01, 0x00, 0x0e, 'C', 'V', 'M', 'B', 'U', 'S', ' ', ' ',
		'S', 'E', 'R', '1', '2', '3',
	};
	vpd(f, 0x83, &res);
	assert_int_equal(res.tx, 34);
	assert_memory_equal(f->buf, p83, 34);

	uint8_t pb0[64];
	memset(pb0, 0, sizeof(pb0));
	pb0[1] = 0xb0;
	pb0[3] = 0x3c;
	pb0[7] = 0x08;                  /* optimal transfer granularity 8 */
	pb0[10] = 0x02;                 /* maximum transfer 0x200 blocks (256 KiB) */
	pb0[14] = 0x02;                 /* optimal transfer 0x200 */
	pb0[21] = 0x40;                 /* max unmap LBA count 0x00400000 */
	pb0[27] = 0x40;                 /* max unmap descriptors 64 */
	pb0[31] = 0x08;                 /* optimal unmap granularity 8 */
	vpd(f, 0xb0, &res);
	assert_int_equal(res.tx, 64);
	assert_memory_equal(f->buf, pb0, 64);

	uint8_t pb1[64];
	memset(pb1, 0, sizeof(pb1));
	pb1[1] = 0xb1;
	pb1[3] = 0x3c;
	pb1[5] = 0x01; /* non-rotating */
	vpd(f, 0xb1, &res);
	assert_int_equal(res.tx, 64);
	assert_memory_equal(f->buf, pb1, 64);

	static const uint8_t pb2[8] = { 0x00, 0xb2, 0x00, 0x04, 0x00, 0x84, 0x02, 0x00 };
	vpd(f, 0xb2, &res);
	assert_int_equal(res.tx, 8);
	assert_memory_equal(f->buf, pb2, 8);

	/* Without discard, no provisioning bits. */
	f->ram.blk.ops = &ram_ops_nodiscard;
	static const uint8_t pb2n[8] = { 0x00, 0xb2, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00 };
	vpd(f, 0xb2, &res);
	assert_memory_equal(f->buf, pb2n, 8);

	vpd(f, 0x89, &res); /* ATA information: not here */
	expect_sense(&res, 0x05, 0x24, 0x00);
}

static void test_vpd_default_serial(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_scsi_result res;
	static const uint8_t p80[20] = { 0x00, 0x80, 0x00, 0x10, '0', '1', '2', '3', '4', '5',
					 '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F' };

	f->disk.serial[0] = '\0';
	vpd(f, 0x80, &res);
	assert_int_equal(res.tx, 20);
	assert_memory_equal(f->buf, p80, 20);
}

/* ---- capacity ------------------------------------------------------------------- */

static void test_read_capacity(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_scsi_result res;
	static const uint8_t rc10[10] = { 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t want10[8] = { 0x00, 0x00, 0x07, 0xff, 0x00, 0x00, 0x02, 0x00 };
	static const uint8_t rc16[16] = { 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0 };
	static const uint8_t want16[32] = {
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0xff, /* last LBA 2047 */
		0x00, 0x00, 0x02, 0x00,                         /* 512 */
		0x00, 0x03, 0xc0, 0x00,                         /* 2^3 per phys; LBPME LBPRZ */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};

	run(f, rc10, 10, CVMBUS_SCSI_DIR_IN, 8, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.tx, 8);
	assert_memory_equal(f->buf, want10, 8);

	run(f, rc16, 16, CVMBUS_SCSI_DIR_IN, 32, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.tx, 32);
	assert_memory_equal(f->buf, want16, 32);

	/* A disk past 2^32 blocks: RC(10) says FFFFFFFFh, RC(16) the truth. */
	static const uint8_t big10[8] = { 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x02, 0x00 };
	static const uint8_t big16[8] = { 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00 };
	f->ram.blk.sectors = 0x100000001ull;
	run(f, rc10, 10, CVMBUS_SCSI_DIR_IN, 8, &res);
	assert_memory_equal(f->buf, big10, 8);
	run(f, rc16, 16, CVMBUS_SCSI_DIR_IN, 32, &res);
	assert_memory_equal(f->buf, big16, 8);
	f->ram.blk.sectors = RAM_SECTORS;

	/* Another service action of 9Eh is not implemented. */
	static const uint8_t sa[16] = { 0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0 };
	run(f, sa, 16, CVMBUS_SCSI_DIR_IN, 32, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);
}

/* ---- READ / WRITE ------------------------------------------------------------------ */

static void test_read_write(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_scsi_result res;
	uint8_t pattern[1024];

	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 3);

	/* WRITE(10): 2 blocks at LBA 100. */
	static const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 100, 0, 0, 2, 0 };
	memcpy(f->buf, pattern, sizeof(pattern));
	run(f, w10, 10, CVMBUS_SCSI_DIR_OUT, 1024, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.tx, 1024);
	assert_memory_equal(f->ram.data + 100 * 512, pattern, 1024);

	/* READ(16) of the same. */
	static const uint8_t r16[16] = { 0x88, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 2, 0, 0 };
	memset(f->buf, 0, 1024);
	run(f, r16, 16, CVMBUS_SCSI_DIR_IN, 1024, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.tx, 1024);
	assert_memory_equal(f->buf, pattern, 1024);

	/* READ(6): LBA 101 (21 bits), 1 block. */
	static const uint8_t r6[6] = { 0x08, 0, 0, 101, 1, 0 };
	run(f, r6, 6, CVMBUS_SCSI_DIR_IN, 512, &res);
	assert_int_equal(res.tx, 512);
	assert_memory_equal(f->buf, pattern + 512, 512);

	/* WRITE(16) with FUA flushes. */
	static const uint8_t w16fua[16] = { 0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0 };
	int flushes = f->ram.flushes;
	run(f, w16fua, 16, CVMBUS_SCSI_DIR_OUT, 512, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(f->ram.flushes, flushes + 1);

	/* Zero blocks: nothing moves, GOOD. */
	static const uint8_t r10z[10] = { 0x28, 0, 0, 0, 0, 5, 0, 0, 0, 0 };
	run(f, r10z, 10, CVMBUS_SCSI_DIR_IN, 0, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.tx, 0);
}

static void test_bounds(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_scsi_result res;

	/* The last block is fine, one past it is LBA OUT OF RANGE. */
	static const uint8_t last[10] = { 0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 1, 0 };
	static const uint8_t over[10] = { 0x28, 0, 0, 0, 0x07, 0xff, 0, 0, 2, 0 };
	run(f, last, 10, CVMBUS_SCSI_DIR_IN, 512, &res);
	assert_int_equal(res.status, 0);
	run(f, over, 10, CVMBUS_SCSI_DIR_IN, 1024, &res);
	expect_sense(&res, 0x05, 0x21, 0x00);

	/* An LBA that wraps 2^64 with its count. */
	static const uint8_t wrap[16] = { 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0, 0, 0, 2, 0, 0 };
	run(f, wrap, 16, CVMBUS_SCSI_DIR_IN, 1024, &res);
	expect_sense(&res, 0x05, 0x21, 0x00);
	static const uint8_t wwrap[16] = { 0x8a, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
					   0, 0, 0, 4, 0, 0 };
	run(f, wwrap, 16, CVMBUS_SCSI_DIR_OUT, 2048, &res);
	expect_sense(&res, 0x05, 0x21, 0x00);

	/* A buffer shorter than the blocks asked for. */
	static const uint8_t r8[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0 };
	run(f, r8, 10, CVMBUS_SCSI_DIR_IN, 4095, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);
	/* The right size in the wrong direction. */
	run(f, r8, 10, CVMBUS_SCSI_DIR_OUT, 4096, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);
	/* More than the advertised maximum transfer in one command. */
	static const uint8_t huge[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0x02, 0x01, 0 };
	run(f, huge, 10, CVMBUS_SCSI_DIR_IN, sizeof(f->buf), &res);
	expect_sense(&res, 0x05, 0x24, 0x00);

	/* A READ(16) opcode in a 10-byte CDB is refused before reading past
	 * its end; an unknown opcode is INVALID COMMAND OPERATION CODE. */
	run(f, wrap, 10, CVMBUS_SCSI_DIR_IN, 1024, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);
	static const uint8_t unknown[6] = { 0xc7, 0, 0, 0, 0, 0 };
	run(f, unknown, 6, CVMBUS_SCSI_DIR_NONE, 0, &res);
	expect_sense(&res, 0x05, 0x20, 0x00);
	static const uint8_t ws16[16] = { 0x93, 0 }; /* WRITE SAME(16): not implemented */
	run(f, ws16, 16, CVMBUS_SCSI_DIR_OUT, 512, &res);
	expect_sense(&res, 0x05, 0x20, 0x00);
	run(f, unknown, 0, CVMBUS_SCSI_DIR_NONE, 0, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);
	run(f, unknown, 17, CVMBUS_SCSI_DIR_NONE, 0, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);

	/* Other LUNs: only INQUIRY/REPORT LUNS/REQUEST SENSE answer. */
	static const uint8_t tur[6] = { 0 };
	struct cvmbus_scsi_cmd cmd = { .cdb = tur, .cdb_len = 6, .lun = 3 };
	assert_int_equal(cvmbus_scsi_execute(&f->disk, &cmd, &res), 0);
	expect_sense(&res, 0x05, 0x25, 0x00);
	assert_int_equal(cvmbus_scsi_execute(NULL, &cmd, &res), -EINVAL);
}

static void test_read_only_and_errors(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_scsi_result res;
	static const uint8_t w10[10] = { 0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0 };
	static const uint8_t r10[10] = { 0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0 };
	static const uint8_t sync[10] = { 0x35, 0 };

	f->ram.blk.read_only = true;
	run(f, w10, 10, CVMBUS_SCSI_DIR_OUT, 512, &res);
	expect_sense(&res, 0x07, 0x27, 0x00); /* DATA PROTECT, WRITE PROTECTED */
	f->ram.blk.read_only = false;

	f->ram.fail = true;
	run(f, r10, 10, CVMBUS_SCSI_DIR_IN, 512, &res);
	expect_sense(&res, 0x03, 0x11, 0x00); /* MEDIUM ERROR, UNRECOVERED READ ERROR */
	run(f, w10, 10, CVMBUS_SCSI_DIR_OUT, 512, &res);
	expect_sense(&res, 0x03, 0x0c, 0x00); /* MEDIUM ERROR, WRITE ERROR */
	run(f, sync, 10, CVMBUS_SCSI_DIR_NONE, 0, &res);
	expect_sense(&res, 0x03, 0x0c, 0x00);
	f->ram.fail = false;
}

/* ---- the rest ------------------------------------------------------------------------ */

static void test_mode_sense(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_scsi_result res;

	/* MODE SENSE(6), caching page, with the block descriptor. */
	static const uint8_t ms6[6] = { 0x1a, 0x00, 0x08, 0x00, 0xff, 0x00 };
	static const uint8_t want6[32] = {
		0x1f, 0x00, 0x10, 0x08,                         /* header: 31, DPOFUA, bdl 8 */
		0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x02, 0x00, /* 2048 blocks of 512 */
		0x08, 0x12, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	run(f, ms6, 6, CVMBUS_SCSI_DIR_IN, 255, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.tx, 32);
	assert_memory_equal(f->buf, want6, 32);

	/* MODE SENSE(10), DBD, all pages: caching then control. */
	static const uint8_t ms10[10] = { 0x5a, 0x08, 0x3f, 0x00, 0, 0, 0, 0x01, 0x00, 0 };
	static const uint8_t want10[40] = {
		0x00, 0x26, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00,
		0x08, 0x12, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x0a, 0x0a, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	run(f, ms10, 10, CVMBUS_SCSI_DIR_IN, 256, &res);
	assert_int_equal(res.tx, 40);
	assert_memory_equal(f->buf, want10, 40);

	/* Changeable values: nothing is (WCE reads 0 in the mask). */
	static const uint8_t ms6c[6] = { 0x1a, 0x08, 0x48, 0x00, 0xff, 0x00 };
	run(f, ms6c, 6, CVMBUS_SCSI_DIR_IN, 255, &res);
	assert_int_equal(res.tx, 24);
	assert_int_equal(f->buf[3], 0x00); /* no block descriptor */
	assert_int_equal(f->buf[4], 0x08);
	assert_int_equal(f->buf[6], 0x00);

	/* Saved values are not supported; unknown pages and subpages are
	 * invalid fields. */
	static const uint8_t saved[6] = { 0x1a, 0x00, 0xc8, 0x00, 0xff, 0x00 };
	run(f, saved, 6, CVMBUS_SCSI_DIR_IN, 255, &res);
	expect_sense(&res, 0x05, 0x39, 0x00);
	static const uint8_t page1c[6] = { 0x1a, 0x00, 0x1c, 0x00, 0xff, 0x00 };
	run(f, page1c, 6, CVMBUS_SCSI_DIR_IN, 255, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);
	static const uint8_t sub[6] = { 0x1a, 0x00, 0x08, 0x01, 0xff, 0x00 };
	run(f, sub, 6, CVMBUS_SCSI_DIR_IN, 255, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);
}

static void test_report_luns_and_sense(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_scsi_result res;
	static const uint8_t rl[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0 };
	static const uint8_t want[16] = { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t rl_short[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0, 0 };

	memset(f->buf, 0xee, 16);
	run(f, rl, 12, CVMBUS_SCSI_DIR_IN, 16, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(res.tx, 16);
	assert_memory_equal(f->buf, want, 16);
	run(f, rl_short, 12, CVMBUS_SCSI_DIR_IN, 16, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);

	static const uint8_t rs[6] = { 0x03, 0, 0, 0, 0xff, 0 };
	static const uint8_t rs_want[18] = { 0x70, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	run(f, rs, 6, CVMBUS_SCSI_DIR_IN, 255, &res);
	assert_int_equal(res.tx, 18);
	assert_memory_equal(f->buf, rs_want, 18);
	static const uint8_t rsd[6] = { 0x03, 0x01, 0, 0, 0xff, 0 };
	static const uint8_t rsd_want[8] = { 0x72, 0, 0, 0, 0, 0, 0, 0 };
	run(f, rsd, 6, CVMBUS_SCSI_DIR_IN, 255, &res);
	assert_int_equal(res.tx, 8);
	assert_memory_equal(f->buf, rsd_want, 8);

	static const uint8_t tur[6] = { 0 };
	run(f, tur, 6, CVMBUS_SCSI_DIR_NONE, 0, &res);
	assert_int_equal(res.status, CVMBUS_SCSI_STATUS_GOOD);
	assert_int_equal(res.sense_len, 0);
}

static void test_sync_cache(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_scsi_result res;
	static const uint8_t s10[10] = { 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t s16[16] = { 0x91, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 1, 0, 0 };
	static const uint8_t s16bad[16] = { 0x91, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 1, 0, 0 };
	int before = f->ram.flushes;

	run(f, s10, 10, CVMBUS_SCSI_DIR_NONE, 0, &res);
	assert_int_equal(res.status, 0);
	run(f, s16, 16, CVMBUS_SCSI_DIR_NONE, 0, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(f->ram.flushes, before + 2);
	run(f, s16bad, 16, CVMBUS_SCSI_DIR_NONE, 0, &res);
	expect_sense(&res, 0x05, 0x21, 0x00);
	assert_int_equal(f->ram.flushes, before + 2);
}

static void put_unmap_desc(uint8_t *d, uint64_t lba, uint32_t count)
{
	for (int i = 0; i < 8; i++)
		d[i] = (uint8_t)(lba >> (56 - 8 * i));
	d[8] = (uint8_t)(count >> 24);
	d[9] = (uint8_t)(count >> 16);
	d[10] = (uint8_t)(count >> 8);
	d[11] = (uint8_t)count;
	memset(d + 12, 0, 4);
}

static void test_unmap(void **state)
{
	struct fixture *f = *state;
	struct cvmbus_scsi_result res;
	uint8_t cdb[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0 };

	memset(f->ram.data + 10 * 512, 0x5a, 4 * 512);
	memset(f->buf, 0, 64);
	f->buf[1] = 38; /* unmap data length */
	f->buf[3] = 32; /* block descriptor data length: two */
	put_unmap_desc(f->buf + 8, 10, 2);
	put_unmap_desc(f->buf + 24, 13, 1);
	run(f, cdb, 10, CVMBUS_SCSI_DIR_OUT, 40, &res);
	assert_int_equal(res.status, 0);
	assert_int_equal(f->ram.discards, 2);
	assert_int_equal(f->ram.last_discard_off, 13 * 512);
	assert_int_equal(f->ram.last_discard_len, 512);
	assert_int_equal(f->ram.data[10 * 512], 0);
	assert_int_equal(f->ram.data[12 * 512], 0x5a);

	/* One descriptor out of range: nothing is discarded. */
	put_unmap_desc(f->buf + 24, RAM_SECTORS - 1, 2);
	run(f, cdb, 10, CVMBUS_SCSI_DIR_OUT, 40, &res);
	expect_sense(&res, 0x05, 0x21, 0x00);
	assert_int_equal(f->ram.discards, 2);
	/* Descriptor length not a multiple of 16, or past the list. */
	f->buf[3] = 20;
	run(f, cdb, 10, CVMBUS_SCSI_DIR_OUT, 40, &res);
	expect_sense(&res, 0x05, 0x26, 0x00);
	f->buf[3] = 48;
	run(f, cdb, 10, CVMBUS_SCSI_DIR_OUT, 40, &res);
	expect_sense(&res, 0x05, 0x26, 0x00);
	/* Parameter list longer than the buffer; shorter than a header. */
	run(f, cdb, 10, CVMBUS_SCSI_DIR_OUT, 39, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);
	cdb[8] = 4;
	run(f, cdb, 10, CVMBUS_SCSI_DIR_OUT, 40, &res);
	expect_sense(&res, 0x05, 0x1a, 0x00);
	cdb[8] = 0; /* nothing to do */
	run(f, cdb, 10, CVMBUS_SCSI_DIR_OUT, 40, &res);
	assert_int_equal(res.status, 0);
	cdb[1] = 0x01; /* ANCHOR */
	cdb[8] = 40;
	run(f, cdb, 10, CVMBUS_SCSI_DIR_OUT, 40, &res);
	expect_sense(&res, 0x05, 0x24, 0x00);
	/* A backend without discard has no UNMAP. */
	cdb[1] = 0;
	f->ram.blk.ops = &ram_ops_nodiscard;
	run(f, cdb, 10, CVMBUS_SCSI_DIR_OUT, 40, &res);
	expect_sense(&res, 0x05, 0x20, 0x00);
}

static void test_sense_helpers(void **state)
{
	uint8_t s[18];
	static const uint8_t desc[8] = { 0x72, 0x06, 0x29, 0x00, 0, 0, 0, 0 };
	uint8_t key;
	uint16_t asc;

	(void)state;
	assert_int_equal(cvmbus_scsi_sense_fixed(s, 0x05, 0x2400), 18);
	assert_int_equal(cvmbus_scsi_sense_parse(s, 18, &key, &asc), 0);
	assert_int_equal(key, 0x05);
	assert_int_equal(asc, 0x2400);
	assert_int_equal(cvmbus_scsi_sense_parse(desc, 8, &key, &asc), 0);
	assert_int_equal(key, 0x06);
	assert_int_equal(asc, 0x2900);
	assert_int_equal(cvmbus_scsi_sense_parse(s, 13, &key, &asc), -EINVAL);
	s[0] = 0x10;
	assert_int_equal(cvmbus_scsi_sense_parse(s, 18, &key, &asc), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inquiry_standard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vpd_default_serial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_capacity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode_sense, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_luns_and_sense, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap, setup, teardown),
		cmocka_unit_test(test_sense_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
