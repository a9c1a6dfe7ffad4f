/* SPDX-License-Identifier: MIT */
/*
 * SCSI command emulation for one direct-access logical unit over a block
 * backend (include/cvmbus/storage.h, layer src/dev). The VSP (storvsp.c)
 * calls cvmbus_scsi_execute() with a CDB and a private data buffer; nothing
 * here knows about VMBus, GPAs or threads, so every response byte can be
 * checked by a unit test (tests/dev/test_scsi.c).
 *
 * The subset is what a Linux sd driver and a Windows disk class driver use
 * (SPC-4 / SBC-3): INQUIRY (standard data and VPD 0x00, 0x80, 0x83, 0xB0,
 * 0xB1, 0xB2), READ CAPACITY(10/16), READ/WRITE(6/10/16), TEST UNIT READY,
 * REQUEST SENSE, REPORT LUNS, SYNCHRONIZE CACHE(10/16), MODE SENSE(6/10)
 * (caching and control pages), UNMAP. Anything else is CHECK CONDITION with
 * fixed-format sense, ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE.
 *
 * Trust: the CDB and the data-out buffer come from the guest. Every length
 * and address in them is checked against the buffer and the capacity before
 * any byte moves; arithmetic is done in 64 bits so that an LBA near 2^64
 * cannot wrap into range.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cvmbus/storage.h>

/* Identification strings of the emulated disk (space padded, not NUL
 * terminated on the wire). */
#define SCSI_VENDOR   "CVMBUS  "
#define SCSI_PRODUCT  "Virtual Disk    "
#define SCSI_REVISION "1.0 "

/* 4 KiB physical blocks over 512-byte logical ones: exponent 3 in READ
 * CAPACITY(16), granularity 8 in the block limits page. */
#define SCSI_PHYS_EXP 3u
#define SCSI_OPT_GRANULARITY (1u << SCSI_PHYS_EXP)
/* UNMAP limits advertised in VPD 0xB0 and enforced here. */
#define SCSI_MAX_UNMAP_DESCRIPTORS 64u
#define SCSI_MAX_UNMAP_BLOCKS      (1u << 22) /* 2 GiB per descriptor */

/* ---- big-endian helpers -------------------------------------------------- */

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* ---- sense ---------------------------------------------------------------- */

uint8_t cvmbus_scsi_sense_fixed(uint8_t sense[CVMBUS_SCSI_SENSE_LEN], uint8_t key,
				uint16_t asc_ascq)
{
	memset(sense, 0, CVMBUS_SCSI_SENSE_LEN);
	sense[0] = 0x70;                 /* current error, fixed format, no info */
	sense[2] = key & 0x0f;
	sense[7] = CVMBUS_SCSI_SENSE_LEN - 8; /* additional sense length */
	sense[12] = (uint8_t)(asc_ascq >> 8);
	sense[13] = (uint8_t)asc_ascq;
	return CVMBUS_SCSI_SENSE_LEN;
}

int cvmbus_scsi_sense_parse(const uint8_t *sense, size_t len, uint8_t *key, uint16_t *asc_ascq)
{
	uint8_t code;

	if (!sense || len < 1)
		return -EINVAL;
	code = sense[0] & 0x7f;
	if (code == 0x70 || code == 0x71) {
		if (len < 14)
			return -EINVAL;
		*key = sense[2] & 0x0f;
		*asc_ascq = (uint16_t)((sense[12] << 8) | sense[13]);
		return 0;
	}
	if (code == 0x72 || code == 0x73) {
		if (len < 4)
			return -EINVAL;
		*key = sense[1] & 0x0f;
		*asc_ascq = (uint16_t)((sense[2] << 8) | sense[3]);
		return 0;
	}
	return -EINVAL;
}

/* ---- results -------------------------------------------------------------- */

static void good(struct cvmbus_scsi_result *res, uint32_t tx)
{
	res->status = CVMBUS_SCSI_STATUS_GOOD;
	res->tx = tx;
	res->sense_len = 0;
}

static void check(struct cvmbus_scsi_result *res, uint8_t key, uint16_t asc_ascq)
{
	res->status = CVMBUS_SCSI_STATUS_CHECK_CONDITION;
	res->tx = 0;
	res->sense_len = cvmbus_scsi_sense_fixed(res->sense, key, asc_ascq);
}

static void illegal(struct cvmbus_scsi_result *res, uint16_t asc_ascq)
{
	check(res, CVMBUS_SCSI_KEY_ILLEGAL_REQUEST, asc_ascq);
}

/* A data-in response built in `buf` of `len` bytes: hand the initiator the
 * smaller of the response, the allocation length in the CDB and its buffer,
 * as SPC says (truncation is not an error). */
static void data_in(const struct cvmbus_scsi_cmd *cmd, struct cvmbus_scsi_result *res,
		    const uint8_t *buf, uint32_t len, uint32_t alloc)
{
	uint32_t n = len;

	if (n > alloc)
		n = alloc;
	if (cmd->dir != CVMBUS_SCSI_DIR_IN || !cmd->data)
		n = 0;
	if (n > cmd->data_len)
		n = cmd->data_len;
	if (n)
		memcpy(cmd->data, buf, n);
	good(res, n);
}

/* The minimum CDB length of each implemented operation: a shorter CDB is
 * refused before any field past its end is read. */
static uint8_t cdb_len_of(uint8_t op)
{
	switch (op >> 5) {
	case 0: return 6;
	case 1: case 2: return 10;
	case 4: return 16;
	case 5: return 12;
	default: return 1; /* reserved/vendor groups: none implemented */
	}
}

/* ---- INQUIRY -------------------------------------------------------------- */

static void disk_serial(const struct cvmbus_scsi_disk *d, char out[21])
{
	if (d->serial[0]) {
		memcpy(out, d->serial, sizeof(d->serial));
		out[20] = '\0';
	} else {
		snprintf(out, 21, "%016" PRIX64, d->id);
	}
}

static uint32_t max_transfer_blocks(const struct cvmbus_scsi_disk *d)
{
	uint32_t bytes = d->max_transfer_bytes ? d->max_transfer_bytes
					       : CVMBUS_SCSI_DEFAULT_MAX_TRANSFER;

	return bytes / CVMBUS_SCSI_SECTOR;
}

static bool can_unmap(const struct cvmbus_scsi_disk *d)
{
	return d->blk->ops->discard != NULL && !d->blk->read_only;
}

static uint32_t inquiry_standard(const struct cvmbus_scsi_disk *d, uint8_t lun, uint8_t *b)
{
	memset(b, 0, 36);
	/* A LUN that does not exist: peripheral qualifier 011b, type 1Fh
	 * (SPC-4 6.6.2), so that a scan of LUNs stops there. */
	b[0] = lun ? 0x7f : 0x00;
	b[2] = 0x06;        /* SPC-4 */
	b[3] = 0x12;        /* HISUP, response data format 2 */
	b[4] = 36 - 5;      /* additional length */
	b[7] = 0x02;        /* CMDQUE: tagged queueing */
	memcpy(b + 8, SCSI_VENDOR, 8);
	memcpy(b + 16, SCSI_PRODUCT, 16);
	memcpy(b + 32, SCSI_REVISION, 4);
	(void)d;
	return 36;
}

static const uint8_t vpd_pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };

/* Build VPD page `page` into b (at least 256 bytes); 0 if not supported. */
static uint32_t inquiry_vpd(const struct cvmbus_scsi_disk *d, uint8_t page, uint8_t *b)
{
	char serial[21];
	size_t slen;
	uint32_t n;

	memset(b, 0, 256);
	b[0] = 0x00; /* direct access, qualifier 0 */
	b[1] = page;
	switch (page) {
	case 0x00: /* supported VPD pages */
		memcpy(b + 4, vpd_pages, sizeof(vpd_pages));
		put_be16(b + 2, sizeof(vpd_pages));
		return 4 + sizeof(vpd_pages);
	case 0x80: /* unit serial number */
		disk_serial(d, serial);
		slen = strlen(serial);
		memcpy(b + 4, serial, slen);
		put_be16(b + 2, (uint16_t)slen);
		return 4 + (uint32_t)slen;
	case 0x83: /* device identification */
		n = 4;
		/* NAA 3 ("locally assigned"): a virtual disk has no IEEE OUI
		 * of its own; 60 bits of the disk id follow the NAA nibble. */
		b[n + 0] = 0x01; /* protocol 0, code set binary */
		b[n + 1] = 0x03; /* PIV 0, associated with the LU, type NAA */
		b[n + 3] = 8;
		put_be64(b + n + 4, (3ull << 60) | (d->id & 0x0fffffffffffffffull));
		n += 12;
		/* T10 vendor ID: vendor, then the serial number. */
		disk_serial(d, serial);
		slen = strlen(serial);
		b[n + 0] = 0x02; /* code set ASCII */
		b[n + 1] = 0x01; /* associated with the LU, type T10 vendor ID */
		b[n + 3] = (uint8_t)(8 + slen);
		memcpy(b + n + 4, SCSI_VENDOR, 8);
		memcpy(b + n + 12, serial, slen);
		n += 4 + 8 + (uint32_t)slen;
		put_be16(b + 2, (uint16_t)(n - 4));
		return n;
	case 0xb0: /* block limits (SBC-3 6.5.3) */
		put_be16(b + 2, 0x3c);
		put_be16(b + 6, SCSI_OPT_GRANULARITY);  /* optimal transfer granularity */
		put_be32(b + 8, max_transfer_blocks(d)); /* maximum transfer length */
		put_be32(b + 12, max_transfer_blocks(d)); /* optimal transfer length */
		if (can_unmap(d)) {
			put_be32(b + 20, SCSI_MAX_UNMAP_BLOCKS);
			put_be32(b + 24, SCSI_MAX_UNMAP_DESCRIPTORS);
			put_be32(b + 28, SCSI_OPT_GRANULARITY); /* optimal unmap granularity */
		}
		return 0x40;
	case 0xb1: /* block device characteristics */
		put_be16(b + 2, 0x3c);
		put_be16(b + 4, 0x0001); /* medium rotation rate: non-rotating */
		return 0x40;
	case 0xb2: /* logical block provisioning */
		put_be16(b + 2, 0x04);
		if (can_unmap(d)) {
			/* LBPU: UNMAP works; LBPRZ: an unmapped block reads
			 * as zeros (a punched hole does). */
			b[5] = 0x80 | 0x04;
			b[6] = 0x02; /* provisioning type: thin */
		}
		return 8;
	default:
		return 0;
	}
}

static void op_inquiry(const struct cvmbus_scsi_disk *d, const struct cvmbus_scsi_cmd *cmd,
		       struct cvmbus_scsi_result *res)
{
	const uint8_t *cdb = cmd->cdb;
	uint8_t buf[256];
	uint32_t alloc = get_be16(cdb + 3);
	uint32_t n;

	/* CMDDT (obsolete) set, or a page code without EVPD. */
	if ((cdb[1] & 0x02) || (!(cdb[1] & 0x01) && cdb[2] != 0)) {
		illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!(cdb[1] & 0x01)) {
		n = inquiry_standard(d, cmd->lun, buf);
	} else {
		if (cmd->lun) {
			illegal(res, CVMBUS_SCSI_ASC_LUN_NOT_SUPPORTED);
			return;
		}
		n = inquiry_vpd(d, cdb[2], buf);
		if (n == 0) {
			illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB);
			return;
		}
	}
	data_in(cmd, res, buf, n, alloc);
}

/* ---- capacity, LUNs, sense -------------------------------------------------- */

static void op_read_capacity_10(const struct cvmbus_scsi_disk *d,
				const struct cvmbus_scsi_cmd *cmd,
				struct cvmbus_scsi_result *res)
{
	uint8_t buf[8];
	uint64_t last = d->blk->sectors ? d->blk->sectors - 1 : 0;

	/* Past 2^32 blocks the answer is FFFFFFFFh: "use READ CAPACITY(16)". */
	put_be32(buf, last > 0xffffffffull ? 0xffffffffu : (uint32_t)last);
	put_be32(buf + 4, CVMBUS_SCSI_SECTOR);
	data_in(cmd, res, buf, sizeof(buf), sizeof(buf));
}

static void op_read_capacity_16(const struct cvmbus_scsi_disk *d,
				const struct cvmbus_scsi_cmd *cmd,
				struct cvmbus_scsi_result *res)
{
	uint8_t buf[32];

	memset(buf, 0, sizeof(buf));
	put_be64(buf, d->blk->sectors ? d->blk->sectors - 1 : 0);
	put_be32(buf + 8, CVMBUS_SCSI_SECTOR);
	buf[13] = SCSI_PHYS_EXP; /* logical blocks per physical block exponent */
	if (can_unmap(d))
		buf[14] = 0x80 | 0x40; /* LBPME, LBPRZ */
	data_in(cmd, res, buf, sizeof(buf), get_be32(cmd->cdb + 10));
}

static void op_report_luns(const struct cvmbus_scsi_cmd *cmd, struct cvmbus_scsi_result *res)
{
	uint8_t buf[16];
	uint32_t alloc = get_be32(cmd->cdb + 6);

	/* SPC-4 6.33: an allocation length below 16 is an error. */
	if (alloc < 16) {
		illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	memset(buf, 0, sizeof(buf));
	put_be32(buf, 8); /* one LUN: LUN 0, all zeros */
	data_in(cmd, res, buf, sizeof(buf), alloc);
}

static void op_request_sense(const struct cvmbus_scsi_cmd *cmd, struct cvmbus_scsi_result *res)
{
	uint8_t buf[CVMBUS_SCSI_SENSE_LEN];
	uint32_t n;

	/* Errors are reported by autosense with their command, so nothing is
	 * ever pending here: NO SENSE, in the format asked for. */
	memset(buf, 0, sizeof(buf));
	if (cmd->cdb[1] & 0x01) {
		buf[0] = 0x72; /* descriptor format, no descriptors */
		n = 8;
	} else {
		n = cvmbus_scsi_sense_fixed(buf, CVMBUS_SCSI_KEY_NO_SENSE, 0);
	}
	data_in(cmd, res, buf, n, cmd->cdb[4]);
}

/* ---- MODE SENSE ------------------------------------------------------------- */

#define MODE_PAGE_CACHING 0x08u
#define MODE_PAGE_CONTROL 0x0au
#define MODE_PAGE_ALL     0x3fu

/* Append page `page` (current/default values, or the changeable mask) to b. */
static uint32_t mode_page(const struct cvmbus_scsi_disk *d, uint8_t page, bool changeable,
			  uint8_t *b)
{
	switch (page) {
	case MODE_PAGE_CACHING:
		memset(b, 0, 20);
		b[0] = MODE_PAGE_CACHING;
		b[1] = 0x12;
		/* WCE: a write is acknowledged once in the backend's cache,
		 * so SYNCHRONIZE CACHE is needed for durability. Nothing is
		 * changeable (MODE SELECT is not implemented). */
		if (!changeable && d->write_cache)
			b[2] = 0x04;
		return 20;
	case MODE_PAGE_CONTROL:
		memset(b, 0, 12);
		b[0] = MODE_PAGE_CONTROL;
		b[1] = 0x0a;
		return 12;
	default:
		return 0;
	}
}

static void op_mode_sense(const struct cvmbus_scsi_disk *d, const struct cvmbus_scsi_cmd *cmd,
			  struct cvmbus_scsi_result *res)
{
	const uint8_t *cdb = cmd->cdb;
	bool ten = cdb[0] == CVMBUS_SCSI_MODE_SENSE_10;
	bool dbd = cdb[1] & 0x08;
	bool llba = ten && (cdb[1] & 0x10);
	uint8_t pc = cdb[2] >> 6, page = cdb[2] & 0x3f, subpage = cdb[3];
	uint32_t alloc = ten ? get_be16(cdb + 7) : cdb[4];
	uint32_t hdr = ten ? 8 : 4, n, bdl = 0;
	uint64_t blocks = d->blk->sectors;
	uint8_t buf[128];

	if (pc == 3) { /* saved values */
		illegal(res, CVMBUS_SCSI_ASC_SAVING_PARAMS_UNSUP);
		return;
	}
	/* Subpage 0 only; FFh ("all subpages") only with all pages. */
	if (subpage != 0 && !(page == MODE_PAGE_ALL && subpage == 0xff)) {
		illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (page != MODE_PAGE_ALL && page != MODE_PAGE_CACHING && page != MODE_PAGE_CONTROL) {
		illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	memset(buf, 0, sizeof(buf));
	n = hdr;
	if (!dbd) {
		if (llba) { /* long LBA block descriptor (16 bytes) */
			put_be64(buf + n, blocks);
			put_be32(buf + n + 12, CVMBUS_SCSI_SECTOR);
			bdl = 16;
		} else {    /* short block descriptor (8 bytes) */
			put_be32(buf + n, blocks > 0xffffffffull ? 0xffffffffu : (uint32_t)blocks);
			put_be32(buf + n + 4, CVMBUS_SCSI_SECTOR); /* byte 4 stays 0 */
			bdl = 8;
		}
		n += bdl;
	}
	if (page == MODE_PAGE_ALL) {
		n += mode_page(d, MODE_PAGE_CACHING, pc == 1, buf + n);
		n += mode_page(d, MODE_PAGE_CONTROL, pc == 1, buf + n);
	} else {
		n += mode_page(d, page, pc == 1, buf + n);
	}
	/* Header: mode data length (excluding itself), medium type 0, the
	 * device-specific byte (WP, DPOFUA: FUA is honoured), block
	 * descriptor length. */
	if (ten) {
		put_be16(buf, (uint16_t)(n - 2));
		buf[3] = (uint8_t)((d->blk->read_only ? 0x80 : 0) | 0x10);
		buf[4] = llba && bdl ? 0x01 : 0x00;
		put_be16(buf + 6, (uint16_t)bdl);
	} else {
		buf[0] = (uint8_t)(n - 1);
		buf[2] = (uint8_t)((d->blk->read_only ? 0x80 : 0) | 0x10);
		buf[3] = (uint8_t)bdl;
	}
	data_in(cmd, res, buf, n, alloc);
}

/* ---- READ / WRITE / SYNCHRONIZE CACHE ---------------------------------------- */

/* LBA and block count of a READ/WRITE/SYNCHRONIZE CACHE CDB. */
static void rw_fields(const uint8_t *cdb, uint64_t *lba, uint32_t *count)
{
	switch (cdb[0]) {
	case CVMBUS_SCSI_READ_6:
	case CVMBUS_SCSI_WRITE_6:
		*lba = ((uint64_t)(cdb[1] & 0x1f) << 16) | get_be16(cdb + 2);
		/* A transfer length of 0 means 256 blocks here only. */
		*count = cdb[4] ? cdb[4] : 256;
		break;
	case CVMBUS_SCSI_READ_10:
	case CVMBUS_SCSI_WRITE_10:
	case CVMBUS_SCSI_SYNCHRONIZE_CACHE_10:
		*lba = get_be32(cdb + 2);
		*count = get_be16(cdb + 7);
		break;
	default: /* the 16-byte forms */
		*lba = get_be64(cdb + 2);
		*count = get_be32(cdb + 10);
		break;
	}
}

/* lba + count within capacity, without wrapping. */
static bool in_range(const struct cvmbus_scsi_disk *d, uint64_t lba, uint64_t count)
{
	return lba <= d->blk->sectors && count <= d->blk->sectors - lba;
}

/* The checks READ and WRITE share: the LBA range, then a buffer that holds
 * every block asked for, in the command's direction (the emulation never
 * moves part of a command). false: *res already says why; also false for
 * a zero-block transfer, which succeeds without touching the backend. */
static bool rw_check(const struct cvmbus_scsi_disk *d, const struct cvmbus_scsi_cmd *cmd,
		     enum cvmbus_scsi_dir dir, struct cvmbus_scsi_result *res, uint64_t *lba,
		     uint64_t *bytes)
{
	uint32_t count;

	rw_fields(cmd->cdb, lba, &count);
	if (!in_range(d, *lba, count)) {
		illegal(res, CVMBUS_SCSI_ASC_LBA_OUT_OF_RANGE);
		return false;
	}
	if (count == 0) {
		good(res, 0);
		return false;
	}
	*bytes = (uint64_t)count * CVMBUS_SCSI_SECTOR;
	if (cmd->dir != dir || !cmd->data || *bytes > cmd->data_len ||
	    count > max_transfer_blocks(d)) {
		illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB);
		return false;
	}
	return true;
}

static void op_read(const struct cvmbus_scsi_disk *d, const struct cvmbus_scsi_cmd *cmd,
		    struct cvmbus_scsi_result *res)
{
	uint64_t lba, bytes;

	if (!rw_check(d, cmd, CVMBUS_SCSI_DIR_IN, res, &lba, &bytes))
		return;
	if (d->blk->ops->read(d->blk->ctx, lba * CVMBUS_SCSI_SECTOR, cmd->data, (size_t)bytes) < 0) {
		check(res, CVMBUS_SCSI_KEY_MEDIUM_ERROR, CVMBUS_SCSI_ASC_UNRECOVERED_READ_ERROR);
		return;
	}
	good(res, (uint32_t)bytes);
}

static void op_write(const struct cvmbus_scsi_disk *d, const struct cvmbus_scsi_cmd *cmd,
		     struct cvmbus_scsi_result *res)
{
	bool fua = cmd->cdb[0] != CVMBUS_SCSI_WRITE_6 && (cmd->cdb[1] & 0x08);
	uint64_t lba, bytes;

	if (d->blk->read_only) {
		check(res, CVMBUS_SCSI_KEY_DATA_PROTECT, CVMBUS_SCSI_ASC_WRITE_PROTECTED);
		return;
	}
	if (!rw_check(d, cmd, CVMBUS_SCSI_DIR_OUT, res, &lba, &bytes))
		return;
	if (d->blk->ops->write(d->blk->ctx, lba * CVMBUS_SCSI_SECTOR, cmd->data,
			       (size_t)bytes) < 0 ||
	    (fua && d->blk->ops->flush(d->blk->ctx) < 0)) {
		check(res, CVMBUS_SCSI_KEY_MEDIUM_ERROR, CVMBUS_SCSI_ASC_WRITE_ERROR);
		return;
	}
	good(res, (uint32_t)bytes);
}

static void op_sync_cache(const struct cvmbus_scsi_disk *d, const struct cvmbus_scsi_cmd *cmd,
			  struct cvmbus_scsi_result *res)
{
	uint64_t lba;
	uint32_t count;

	rw_fields(cmd->cdb, &lba, &count);
	/* count 0 means "to the end of the medium"; the range is checked
	 * all the same, then the whole backend is flushed. */
	if (!in_range(d, lba, count)) {
		illegal(res, CVMBUS_SCSI_ASC_LBA_OUT_OF_RANGE);
		return;
	}
	if (d->blk->ops->flush(d->blk->ctx) < 0) {
		check(res, CVMBUS_SCSI_KEY_MEDIUM_ERROR, CVMBUS_SCSI_ASC_WRITE_ERROR);
		return;
	}
	good(res, 0);
}

/* ---- UNMAP ------------------------------------------------------------------ */

static void op_unmap(const struct cvmbus_scsi_disk *d, const struct cvmbus_scsi_cmd *cmd,
		     struct cvmbus_scsi_result *res)
{
	const uint8_t *cdb = cmd->cdb;
	uint32_t plen = get_be16(cdb + 7), bdlen, ndesc;
	const uint8_t *p;

	if (!d->blk->ops->discard) {
		illegal(res, CVMBUS_SCSI_ASC_INVALID_OPCODE);
		return;
	}
	if (d->blk->read_only) {
		check(res, CVMBUS_SCSI_KEY_DATA_PROTECT, CVMBUS_SCSI_ASC_WRITE_PROTECTED);
		return;
	}
	if (cdb[1] & 0x01) { /* ANCHOR: no anchored state here */
		illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (plen == 0) { /* SBC-3: nothing to do, not an error */
		good(res, 0);
		return;
	}
	if (plen < 8) {
		illegal(res, CVMBUS_SCSI_ASC_PARAM_LIST_LENGTH_ERROR);
		return;
	}
	if (cmd->dir != CVMBUS_SCSI_DIR_OUT || !cmd->data || plen > cmd->data_len) {
		illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	p = cmd->data;
	bdlen = get_be16(p + 2);
	/* Descriptors are 16 bytes and must lie inside the parameter list;
	 * the unmap data length is informational once these hold. */
	if (bdlen % 16 || bdlen > plen - 8) {
		illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	ndesc = bdlen / 16;
	if (ndesc > SCSI_MAX_UNMAP_DESCRIPTORS) {
		illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	/* Validate every descriptor before discarding any: an UNMAP either
	 * fails before it changed anything or does all of it. */
	for (uint32_t i = 0; i < ndesc; i++) {
		const uint8_t *desc = p + 8 + i * 16;
		uint64_t lba = get_be64(desc);
		uint32_t count = get_be32(desc + 8);

		if (count > SCSI_MAX_UNMAP_BLOCKS) {
			illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_PARAM);
			return;
		}
		if (!in_range(d, lba, count)) {
			illegal(res, CVMBUS_SCSI_ASC_LBA_OUT_OF_RANGE);
			return;
		}
	}
	for (uint32_t i = 0; i < ndesc; i++) {
		const uint8_t *desc = p + 8 + i * 16;
		uint64_t lba = get_be64(desc);
		uint32_t count = get_be32(desc + 8);

		if (count && d->blk->ops->discard(d->blk->ctx, lba * CVMBUS_SCSI_SECTOR,
						  (uint64_t)count * CVMBUS_SCSI_SECTOR) < 0) {
			check(res, CVMBUS_SCSI_KEY_HARDWARE_ERROR,
			      CVMBUS_SCSI_ASC_INTERNAL_TARGET_FAILURE);
			return;
		}
	}
	good(res, 0);
}

/* ---- dispatch ------------------------------------------------------------- */

int cvmbus_scsi_execute(const struct cvmbus_scsi_disk *disk, const struct cvmbus_scsi_cmd *cmd,
			struct cvmbus_scsi_result *res)
{
	uint8_t op;

	if (!disk || !disk->blk || !disk->blk->ops || !cmd || !res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (!cmd->cdb || cmd->cdb_len == 0 || cmd->cdb_len > 16) {
		illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB);
		return 0;
	}
	op = cmd->cdb[0];
	if (cmd->cdb_len < cdb_len_of(op)) {
		illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB);
		return 0;
	}
	/* LUN 0 is the only unit; INQUIRY, REPORT LUNS and REQUEST SENSE
	 * still answer for the others (SPC-4 says they must), everything
	 * else is refused. */
	if (cmd->lun != 0 && op != CVMBUS_SCSI_INQUIRY && op != CVMBUS_SCSI_REPORT_LUNS &&
	    op != CVMBUS_SCSI_REQUEST_SENSE) {
		illegal(res, CVMBUS_SCSI_ASC_LUN_NOT_SUPPORTED);
		return 0;
	}

	switch (op) {
	case CVMBUS_SCSI_TEST_UNIT_READY:
		good(res, 0);
		break;
	case CVMBUS_SCSI_REQUEST_SENSE:
		op_request_sense(cmd, res);
		break;
	case CVMBUS_SCSI_INQUIRY:
		op_inquiry(disk, cmd, res);
		break;
	case CVMBUS_SCSI_READ_CAPACITY_10:
		op_read_capacity_10(disk, cmd, res);
		break;
	case CVMBUS_SCSI_SERVICE_ACTION_IN_16:
		if ((cmd->cdb[1] & 0x1f) == CVMBUS_SCSI_SAI_READ_CAPACITY_16)
			op_read_capacity_16(disk, cmd, res);
		else
			illegal(res, CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB);
		break;
	case CVMBUS_SCSI_READ_6:
	case CVMBUS_SCSI_READ_10:
	case CVMBUS_SCSI_READ_16:
		op_read(disk, cmd, res);
		break;
	case CVMBUS_SCSI_WRITE_6:
	case CVMBUS_SCSI_WRITE_10:
	case CVMBUS_SCSI_WRITE_16:
		op_write(disk, cmd, res);
		break;
	case CVMBUS_SCSI_SYNCHRONIZE_CACHE_10:
	case CVMBUS_SCSI_SYNCHRONIZE_CACHE_16:
		op_sync_cache(disk, cmd, res);
		break;
	case CVMBUS_SCSI_MODE_SENSE_6:
	case CVMBUS_SCSI_MODE_SENSE_10:
		op_mode_sense(disk, cmd, res);
		break;
	case CVMBUS_SCSI_UNMAP:
		op_unmap(disk, cmd, res);
		break;
	case CVMBUS_SCSI_REPORT_LUNS:
		op_report_luns(cmd, res);
		break;
	default:
		illegal(res, CVMBUS_SCSI_ASC_INVALID_OPCODE);
		break;
	}
	return 0;
}
