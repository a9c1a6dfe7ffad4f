/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus ring`: write, read and dump a VMBus ring image in a file (tool
 * layer, on top of the public ring API in include/cvmbus/ring.h). An image
 * is one ring, control page then data area (docs/RING_IMAGE.md); two
 * processes may map the same file and run `ring write` and `ring read`
 * against each other while the ring wraps. The writer and reader poll (the
 * file has no doorbell) and give up after --timeout seconds without
 * progress. `ring dump` inspects through a read-only INSPECT endpoint, so it
 * applies the same hardened checks as a real reader and names the first
 * check an image fails, with the offset where it failed.
 *
 * Exit codes (commands.h): 0 ok; 1 the operation failed (cannot open or
 * map, timed out, payload does not match the pattern); 2 bad command line;
 * 3 the image is corrupt (a ring check failed, or its size cannot be a ring).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cvmbus/ring.h>

#include "commands.h"
#include "ring_image.h"
#include "ring_pattern.h"

#define RING_DEFAULT_TIMEOUT_S 10.0
/* How many payload bytes a dump shows per packet, and how many PFNs or
 * transfer ranges per packet: enough to recognise a packet, short enough
 * that a full ring stays readable. */
#define DUMP_HEAD_BYTES 16u
#define DUMP_MAX_PFNS   8u
#define DUMP_MAX_RANGES 16u

/* ---- small helpers ---------------------------------------------------- */

static uint32_t round8_u32(uint32_t n)
{
	return (n + 7u) & ~7u;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = { .tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Unsigned decimal (or 0x hex) with an optional K/M/G binary suffix, for
 * sizes such as --create 64K. Rejects signs, junk and overflow. */
static bool parse_u64(const char *s, bool allow_suffix, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	if (allow_suffix && *end) {
		switch (*end) {
		case 'k': case 'K': mul = 1ull << 10; break;
		case 'm': case 'M': mul = 1ull << 20; break;
		case 'g': case 'G': mul = 1ull << 30; break;
		default: return false;
		}
		end++;
	}
	if (*end)
		return false;
	if (v > UINT64_MAX / mul)
		return false;
	*out = (uint64_t)v * mul;
	return true;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0.0) || v > 86400.0)
		return false;
	*out = v;
	return true;
}

/* ---- images ----------------------------------------------------------- */

/* Why a size cannot be a ring image; NULL if it can. */
static const char *image_size_problem(uint64_t size)
{
	if (size < (uint64_t)CVMBUS_RING_CONTROL_SIZE + CVMBUS_RING_PAGE_SIZE)
		return "too small: a ring needs a 4096-byte control page and at least one 4096-byte data page";
	if ((size - CVMBUS_RING_CONTROL_SIZE) % CVMBUS_RING_PAGE_SIZE)
		return "not 4096 plus a multiple of 4096 bytes";
	if (size - CVMBUS_RING_CONTROL_SIZE > CVMBUS_RING_MAX_DATA_SIZE)
		return "too large: the data area is limited to 1 GiB";
	return NULL;
}

static int image_map(struct ring_image *img, enum ring_image_access access, FILE *err,
		     const char *who)
{
	unsigned flags = access == RING_IMAGE_READONLY ? CVMBUS_RING_MAP_READONLY
						       : CVMBUS_RING_MAP_DOUBLE;
	int rc = cvmbus_ring_map_fd(&img->map, img->fd, 0, (size_t)img->file_size, flags);

	if (rc) {
		fprintf(err, "%s: %s: cannot map the ring: %s\n", who, img->path, strerror(-rc));
		return CVMBUS_EXIT_FAILURE;
	}
	img->mapped = true;
	return CVMBUS_EXIT_OK;
}

int ring_image_open(struct ring_image *img, const char *path, enum ring_image_access access,
		    FILE *err, const char *who)
{
	struct stat st;
	const char *problem;
	int ex = CVMBUS_EXIT_FAILURE;

	memset(img, 0, sizeof(*img));
	img->path = path;
	img->fd = open(path, (access == RING_IMAGE_READONLY ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (img->fd < 0) {
		fprintf(err, "%s: %s: %s\n", who, path, strerror(errno));
		return CVMBUS_EXIT_FAILURE;
	}
	if (fstat(img->fd, &st) != 0) {
		fprintf(err, "%s: %s: %s\n", who, path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(err, "%s: %s: not a regular file\n", who, path);
		goto fail;
	}
	img->file_size = (uint64_t)st.st_size;
	problem = image_size_problem(img->file_size);
	if (problem) {
		fprintf(err, "%s: %s: corrupt image: size %" PRIu64 " is %s\n", who, path,
			img->file_size, problem);
		ex = CVMBUS_EXIT_CORRUPT;
		goto fail;
	}
	img->data_size = (uint32_t)(img->file_size - CVMBUS_RING_CONTROL_SIZE);
	if (image_map(img, access, err, who) != CVMBUS_EXIT_OK)
		goto fail;
	return CVMBUS_EXIT_OK;
fail:
	close(img->fd);
	img->fd = -1;
	return ex;
}

int ring_image_create(struct ring_image *img, const char *path, uint32_t data_size,
		      FILE *err, const char *who)
{
	memset(img, 0, sizeof(*img));
	img->path = path;
	img->file_size = (uint64_t)CVMBUS_RING_CONTROL_SIZE + data_size;
	img->data_size = data_size;
	img->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (img->fd < 0) {
		fprintf(err, "%s: %s: %s\n", who, path, strerror(errno));
		return CVMBUS_EXIT_FAILURE;
	}
	/* Truncated to 0 first, so every byte reads as zero afterwards. */
	if (ftruncate(img->fd, (off_t)img->file_size) != 0) {
		fprintf(err, "%s: %s: cannot size the image: %s\n", who, path, strerror(errno));
		goto fail;
	}
	if (image_map(img, RING_IMAGE_READWRITE, err, who) != CVMBUS_EXIT_OK)
		goto fail;
	return CVMBUS_EXIT_OK;
fail:
	close(img->fd);
	img->fd = -1;
	return CVMBUS_EXIT_FAILURE;
}

void ring_image_close(struct ring_image *img)
{
	if (img->mapped)
		cvmbus_ring_unmap(&img->map);
	img->mapped = false;
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

/* ---- describing faults ------------------------------------------------ */

/* A stable identifier per check, for scripts (JSON "check") and for
 * grepping messages. The switch has no default so that a fault added to
 * the ring layer without a name here is a compile warning. */
static const char *fault_check_name(enum cvmbus_ring_fault f)
{
	switch (f) {
	case CVMBUS_RING_FAULT_NONE: return "none";
	case CVMBUS_RING_FAULT_WRITE_INDEX_RANGE: return "write_index_range";
	case CVMBUS_RING_FAULT_WRITE_INDEX_ALIGN: return "write_index_align";
	case CVMBUS_RING_FAULT_READ_INDEX_RANGE: return "read_index_range";
	case CVMBUS_RING_FAULT_READ_INDEX_ALIGN: return "read_index_align";
	case CVMBUS_RING_FAULT_SHORT_DATA: return "short_data";
	case CVMBUS_RING_FAULT_OFFSET8: return "offset8";
	case CVMBUS_RING_FAULT_LEN8: return "len8";
	case CVMBUS_RING_FAULT_TOO_BIG: return "too_big";
	case CVMBUS_RING_FAULT_TRUNCATED: return "truncated";
	case CVMBUS_RING_FAULT_TYPE: return "type";
	case CVMBUS_RING_FAULT_FLAGS: return "flags";
	case CVMBUS_RING_FAULT_GPA_HEADER: return "gpa_header";
	case CVMBUS_RING_FAULT_GPA_RANGE_COUNT: return "gpa_range_count";
	case CVMBUS_RING_FAULT_GPA_RANGES: return "gpa_ranges";
	case CVMBUS_RING_FAULT_GPA_RANGE_EMPTY: return "gpa_range_empty";
	case CVMBUS_RING_FAULT_GPA_RANGE_OFFSET: return "gpa_range_offset";
	case CVMBUS_RING_FAULT_XFER_HEADER: return "xfer_header";
	case CVMBUS_RING_FAULT_XFER_RANGE_COUNT: return "xfer_range_count";
	case CVMBUS_RING_FAULT_XFER_RANGES: return "xfer_ranges";
	case CVMBUS_RING_FAULT_COUNT_: break;
	}
	return "unknown";
}

/* Index faults are about a control-page word; every other fault is about
 * the packet that starts at info->ring_offset in the data area. */
static bool fault_is_index(enum cvmbus_ring_fault f)
{
	return f == CVMBUS_RING_FAULT_WRITE_INDEX_RANGE || f == CVMBUS_RING_FAULT_WRITE_INDEX_ALIGN ||
	       f == CVMBUS_RING_FAULT_READ_INDEX_RANGE || f == CVMBUS_RING_FAULT_READ_INDEX_ALIGN;
}

static uint32_t fault_control_offset(enum cvmbus_ring_fault f)
{
	return f == CVMBUS_RING_FAULT_READ_INDEX_RANGE || f == CVMBUS_RING_FAULT_READ_INDEX_ALIGN
		       ? 4u : 0u;
}

/* One line on err: what failed, the offending value and where. */
static void fault_report(FILE *err, const char *who, const char *path,
			 const struct cvmbus_ring_fault_info *fi, uint32_t data_size)
{
	fprintf(err, "%s: %s: corrupt ring: %s (check %s, value %" PRIu32 " = 0x%" PRIx32 ", ",
		who, path, cvmbus_ring_fault_str(fi->fault), fault_check_name(fi->fault), fi->value,
		fi->value);
	if (fault_is_index(fi->fault))
		fprintf(err, "%s at control page offset %" PRIu32 ", data size %" PRIu32 ")\n",
			fault_control_offset(fi->fault) ? "read_index" : "write_index",
			fault_control_offset(fi->fault), data_size);
	else
		fprintf(err, "packet at data offset %" PRIu32 " = 0x%" PRIx32
			", file offset 0x%" PRIx32 ")\n",
			fi->ring_offset, fi->ring_offset, fi->ring_offset + CVMBUS_RING_CONTROL_SIZE);
}

/* ---- dump ------------------------------------------------------------- */

static const char *pkt_type_name(uint16_t type)
{
	switch (type) {
	case CVMBUS_RING_PKT_INBAND: return "inband";
	case CVMBUS_RING_PKT_XFER_PAGES: return "xfer_pages";
	case CVMBUS_RING_PKT_GPA_DIRECT: return "gpa_direct";
	case CVMBUS_RING_PKT_COMPLETION: return "completion";
	}
	return "unknown";
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\u%04x", *p); /* bytes, not code points: paths are bytes */
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void hex_bytes(FILE *out, const uint8_t *p, uint32_t n, bool spaced)
{
	for (uint32_t i = 0; i < n; i++)
		fprintf(out, spaced && i ? " %02x" : "%02x", p[i]);
}

/* If the payload is the fixed pattern (docs/RING_IMAGE.md) of some packet
 * number, return true and that number. Up to 7 trailing bytes may be the
 * writer's zero padding, since an in-band payload carries no exact length.
 * At least 8 pattern bytes must follow the number: any 8 bytes are "a
 * number", so shorter payloads would always look like the pattern. */
static bool payload_pattern_index(const uint8_t *p, uint32_t len, uint64_t *index)
{
	uint64_t i = 0;
	size_t m;

	if (len < 2 * RING_PATTERN_MIN_SIZE)
		return false;
	for (unsigned k = 0; k < 8; k++)
		i |= (uint64_t)p[k] << (8 * k);
	m = ring_pattern_check(p, len, i);
	if (m < len) {
		if (m < 2 * RING_PATTERN_MIN_SIZE || len - m >= 8)
			return false;
		for (size_t j = m; j < len; j++)
			if (p[j])
				return false;
	}
	*index = i;
	return true;
}

struct dump_ctx {
	FILE *out;
	bool json;
	uint32_t packets;
	uint32_t bytes;
	uint32_t trailer_mismatches;
};

static void dump_gpa_ranges(struct dump_ctx *d, const struct cvmbus_ring_packet *pkt)
{
	struct cvmbus_ring_gpa_view v;
	uint32_t cursor = 0, k = 0;

	if (d->json)
		fprintf(d->out, ",\"gpa_ranges\":[");
	else
		fprintf(d->out, "    gpa ranges: %" PRIu32 "\n", pkt->range_count);
	while (cvmbus_ring_packet_gpa_range(pkt, &cursor, &v) == 1) {
		if (d->json) {
			fprintf(d->out, "%s{\"byte_count\":%" PRIu32 ",\"byte_offset\":%" PRIu32
				",\"pfn_count\":%" PRIu32 ",\"pfns\":[",
				k ? "," : "", v.byte_count, v.byte_offset, v.pfn_count);
			for (uint32_t i = 0; i < v.pfn_count; i++)
				fprintf(d->out, "%s%" PRIu64, i ? "," : "", cvmbus_ring_gpa_view_pfn(&v, i));
			fprintf(d->out, "]}");
		} else {
			fprintf(d->out, "      range %" PRIu32 ": byte_count %" PRIu32
				" byte_offset %" PRIu32 " pfns",
				k, v.byte_count, v.byte_offset);
			for (uint32_t i = 0; i < v.pfn_count && i < DUMP_MAX_PFNS; i++)
				fprintf(d->out, " 0x%" PRIx64, cvmbus_ring_gpa_view_pfn(&v, i));
			if (v.pfn_count > DUMP_MAX_PFNS)
				fprintf(d->out, " ... (%" PRIu32 " in all)", v.pfn_count);
			fputc('\n', d->out);
		}
		k++;
	}
	if (d->json)
		fputc(']', d->out);
}

static void dump_xfer_ranges(struct dump_ctx *d, const struct cvmbus_ring_packet *pkt)
{
	struct cvmbus_ring_xfer_range x;

	if (d->json)
		fprintf(d->out, ",\"xfer_set_id\":%u,\"xfer_ranges\":[", pkt->xfer_set_id);
	else
		fprintf(d->out, "    xfer set_id %u, ranges: %" PRIu32 "\n", pkt->xfer_set_id,
			pkt->range_count);
	for (uint32_t i = 0; i < pkt->range_count; i++) {
		if (cvmbus_ring_packet_xfer_range(pkt, i, &x) != 0)
			break;
		if (d->json) {
			fprintf(d->out, "%s{\"byte_count\":%" PRIu32 ",\"byte_offset\":%" PRIu32 "}",
				i ? "," : "", x.byte_count, x.byte_offset);
		} else if (i < DUMP_MAX_RANGES) {
			fprintf(d->out, "      range %" PRIu32 ": byte_count %" PRIu32
				" byte_offset %" PRIu32 "\n", i, x.byte_count, x.byte_offset);
		} else if (i == DUMP_MAX_RANGES) {
			fprintf(d->out, "      ... (%" PRIu32 " in all)\n", pkt->range_count);
		}
	}
	if (d->json)
		fputc(']', d->out);
}

static void dump_packet(struct dump_ctx *d, const struct cvmbus_ring_packet *pkt)
{
	struct cvmbus_ring_desc desc;
	uint32_t head = pkt->payload_len < DUMP_HEAD_BYTES ? pkt->payload_len : DUMP_HEAD_BYTES;
	/* The trailer records where the writer started the packet; readers
	 * do not rely on it, so a mismatch is shown, not fatal. */
	bool trailer_ok = pkt->trailer == (uint64_t)pkt->ring_offset << 32;
	uint64_t pattern_i = 0;
	bool is_pattern = pkt->type == CVMBUS_RING_PKT_INBAND &&
			  payload_pattern_index(pkt->payload, pkt->payload_len, &pattern_i);

	memcpy(&desc, pkt->bytes, sizeof(desc)); /* the private copy, 8-aligned or not */
	if (!trailer_ok)
		d->trailer_mismatches++;
	if (d->json) {
		fprintf(d->out, "%s{\"offset\":%" PRIu32 ",\"type\":%u,\"type_name\":\"%s\""
			",\"flags\":%u,\"trans_id\":%" PRIu64 ",\"offset8\":%u,\"len8\":%u"
			",\"header_len\":%" PRIu32 ",\"payload_len\":%" PRIu32 ",\"total\":%" PRIu32
			",\"payload_head\":\"",
			d->packets ? "," : "", pkt->ring_offset, pkt->type, pkt_type_name(pkt->type),
			pkt->flags, pkt->trans_id, desc.offset8, desc.len8, pkt->header_len,
			pkt->payload_len, pkt->total);
		hex_bytes(d->out, pkt->payload, head, false);
		fprintf(d->out, "\",\"trailer\":%" PRIu64 ",\"trailer_ok\":%s", pkt->trailer,
			trailer_ok ? "true" : "false");
		if (is_pattern)
			fprintf(d->out, ",\"pattern_index\":%" PRIu64, pattern_i);
		else
			fprintf(d->out, ",\"pattern_index\":null");
	} else {
		fprintf(d->out, "packet %" PRIu32 " at data offset %" PRIu32 " (0x%" PRIx32 "): %s"
			" (0x%x) flags 0x%x%s trans_id 0x%" PRIx64 " offset8 %u len8 %u\n",
			d->packets, pkt->ring_offset, pkt->ring_offset, pkt_type_name(pkt->type),
			pkt->type, pkt->flags,
			(pkt->flags & CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED)
				? " (completion_requested)" : "",
			pkt->trans_id, desc.offset8, desc.len8);
		fprintf(d->out, "    payload %" PRIu32 " bytes:", pkt->payload_len);
		if (head) {
			fputc(' ', d->out);
			hex_bytes(d->out, pkt->payload, head, true);
		}
		fprintf(d->out, "%s\n", pkt->payload_len > head ? " ..." : "");
		if (is_pattern)
			fprintf(d->out, "    pattern: fixed pattern of packet number %" PRIu64 "\n", pattern_i);
		fprintf(d->out, "    trailer 0x%016" PRIx64 " %s\n", pkt->trailer,
			trailer_ok ? "(start offset, as expected)"
				   : "(does not record this packet's start offset)");
	}
	if (pkt->type == CVMBUS_RING_PKT_GPA_DIRECT)
		dump_gpa_ranges(d, pkt);
	if (pkt->type == CVMBUS_RING_PKT_XFER_PAGES)
		dump_xfer_ranges(d, pkt);
	if (d->json)
		fputc('}', d->out);
	d->packets++;
	d->bytes += pkt->total;
}

static void dump_control(struct dump_ctx *d, const struct ring_image *img,
			 const struct cvmbus_ring_control_values *cv)
{
	if (d->json) {
		fprintf(d->out, ",\"image_size\":%" PRIu64 ",\"data_size\":%" PRIu32
			",\"control\":{\"write_index\":%" PRIu32 ",\"read_index\":%" PRIu32
			",\"interrupt_mask\":%" PRIu32 ",\"pending_send_sz\":%" PRIu32
			",\"feature_bits\":%" PRIu32 "}",
			img->file_size, img->data_size, cv->write_index, cv->read_index,
			cv->interrupt_mask, cv->pending_send_sz, cv->feature_bits);
		return;
	}
	fprintf(d->out, "ring image %s: %" PRIu64 " bytes, data area %" PRIu32 " bytes\n",
		img->path, img->file_size, img->data_size);
	fprintf(d->out, "control page:\n");
	fprintf(d->out, "  write_index      %" PRIu32 " (0x%" PRIx32 ")\n", cv->write_index,
		cv->write_index);
	fprintf(d->out, "  read_index       %" PRIu32 " (0x%" PRIx32 ")\n", cv->read_index,
		cv->read_index);
	fprintf(d->out, "  interrupt_mask   %" PRIu32 "%s\n", cv->interrupt_mask,
		cv->interrupt_mask ? " (reader asks not to be signalled)" : "");
	fprintf(d->out, "  pending_send_sz  %" PRIu32 "%s\n", cv->pending_send_sz,
		cv->pending_send_sz ? " (writer waits for this much free space)" : "");
	fprintf(d->out, "  feature_bits     0x%" PRIx32 "%s\n", cv->feature_bits,
		(cv->feature_bits & CVMBUS_RING_FEATURE_PENDING_SEND_SZ) ? " (pending_send_sz)" : "");
}

static void dump_corrupt_json(FILE *out, const struct cvmbus_ring_fault_info *fi)
{
	fprintf(out, ",\"corrupt\":{\"check\":\"%s\",\"message\":", fault_check_name(fi->fault));
	json_string(out, cvmbus_ring_fault_str(fi->fault));
	fprintf(out, ",\"value\":%" PRIu32, fi->value);
	if (fault_is_index(fi->fault))
		fprintf(out, ",\"field\":\"%s\",\"control_offset\":%" PRIu32 "}",
			fault_control_offset(fi->fault) ? "read_index" : "write_index",
			fault_control_offset(fi->fault));
	else
		fprintf(out, ",\"data_offset\":%" PRIu32 ",\"file_offset\":%" PRIu32 "}",
			fi->ring_offset, fi->ring_offset + CVMBUS_RING_CONTROL_SIZE);
}

int ring_image_dump(const char *path, bool json, FILE *out, FILE *err)
{
	static const char who[] = "cvmbus ring dump";
	struct ring_image img;
	struct cvmbus_ring r;
	struct cvmbus_ring_control_values cv;
	struct cvmbus_ring_fault_info fi = { 0 };
	struct cvmbus_ring_iter it = { 0 };
	struct cvmbus_ring_packet pkt;
	struct dump_ctx d = { .out = out, .json = json };
	uint8_t *buf = NULL;
	size_t buflen;
	uint32_t readable = 0;
	int rc, ex;

	ex = ring_image_open(&img, path, RING_IMAGE_READONLY, err, who);
	if (ex != CVMBUS_EXIT_OK) {
		if (json) {
			fprintf(out, "{\"file\":");
			json_string(out, path);
			if (ex == CVMBUS_EXIT_CORRUPT) {
				fprintf(out, ",\"image_size\":%" PRIu64
					",\"corrupt\":{\"check\":\"image_size\",\"message\":",
					img.file_size);
				json_string(out, image_size_problem(img.file_size));
				fprintf(out, "}}\n");
			} else {
				fprintf(out, ",\"error\":\"cannot open or map the file\"}\n");
			}
		}
		return ex;
	}
	/* One packet is at most min(ring, len8 limit) bytes: a buffer that
	 * large never gets -ENOBUFS. malloc is 8-aligned, as recv requires. */
	buflen = img.data_size < CVMBUS_RING_MAX_PACKET_LEN ? img.data_size
							   : CVMBUS_RING_MAX_PACKET_LEN;
	buf = malloc(buflen);
	if (!buf) {
		fprintf(err, "%s: out of memory\n", who);
		ex = CVMBUS_EXIT_FAILURE;
		goto out;
	}

	rc = cvmbus_ring_init(&r, CVMBUS_RING_INSPECT, CVMBUS_RING_ATTACH, &img.map.mem);
	if (rc && rc != -EPROTO) {
		fprintf(err, "%s: %s: cannot inspect the ring: %s\n", who, path, strerror(-rc));
		ex = CVMBUS_EXIT_FAILURE;
		goto out;
	}
	/* ATTACH's -EPROTO leaves an initialised, CORRUPT endpoint: the
	 * control words can still be shown, which is what a user needs to
	 * see when an index is bad. */
	cvmbus_ring_control_snapshot(&r, &cv);
	if (json) {
		fprintf(out, "{\"file\":");
		json_string(out, path);
	}
	dump_control(&d, &img, &cv);

	if (rc == 0)
		rc = cvmbus_ring_iter_begin(&r, &it);
	if (rc == 0) {
		readable = it.end >= it.pos ? it.end - it.pos : img.data_size - it.pos + it.end;
		if (json)
			fprintf(out, ",\"readable\":%" PRIu32 ",\"packets\":[", readable);
		else
			fprintf(out, "readable: %" PRIu32 " bytes from data offset %" PRIu32
				" to %" PRIu32 "\n", readable, it.pos, it.end);
		while ((rc = cvmbus_ring_iter_next(&r, &it, buf, buflen, &pkt)) == 0)
			dump_packet(&d, &pkt);
		if (json)
			fputc(']', out);
		if (rc == -ENOENT)
			rc = 0;
	}

	if (rc == -EPROTO) {
		cvmbus_ring_fault_get(&r, &fi);
		if (json)
			dump_corrupt_json(out, &fi);
		else
			fprintf(out, "corrupt: %s (check %s)\n", cvmbus_ring_fault_str(fi.fault),
				fault_check_name(fi.fault));
		fault_report(err, who, path, &fi, img.data_size);
		ex = CVMBUS_EXIT_CORRUPT;
	} else if (rc) {
		fprintf(err, "%s: %s: cannot walk the ring: %s\n", who, path, strerror(-rc));
		ex = CVMBUS_EXIT_FAILURE;
	} else {
		ex = CVMBUS_EXIT_OK;
	}
	if (json) {
		if (ex != CVMBUS_EXIT_CORRUPT)
			fprintf(out, ",\"corrupt\":null");
		fprintf(out, ",\"packet_count\":%" PRIu32 ",\"trailer_mismatches\":%" PRIu32 "}\n",
			d.packets, d.trailer_mismatches);
	} else {
		fprintf(out, "%" PRIu32 " packet%s, %" PRIu32 " bytes%s", d.packets,
			d.packets == 1 ? "" : "s", d.bytes,
			ex == CVMBUS_EXIT_CORRUPT ? " before the corruption" : "");
		if (d.trailer_mismatches)
			fprintf(out, ", %" PRIu32 " trailer mismatch%s", d.trailer_mismatches,
				d.trailer_mismatches == 1 ? "" : "es");
		fputc('\n', out);
	}
out:
	free(buf);
	ring_image_close(&img);
	return ex;
}

/* ---- command line ----------------------------------------------------- */

struct ring_opts {
	const char *file;
	bool json;
	bool have_count, have_size, have_create;
	uint64_t count;
	uint64_t size;
	uint64_t create;
	double timeout;
};

static const char ring_usage_text[] =
	"usage: cvmbus ring dump FILE [--json]\n"
	"       cvmbus ring write FILE --count N --size S [--create DATA_SIZE] [--timeout SEC]\n"
	"       cvmbus ring read FILE --count N --size S [--timeout SEC]\n"
	"\n"
	"A ring image is one VMBus ring in a file: the 4096-byte control page, then\n"
	"the data area (file size = 4096 + data size). See docs/RING_IMAGE.md.\n"
	"\n"
	"  dump   show the control page and every readable packet without consuming\n"
	"         them, or the first check the image fails (exit 3)\n"
	"  write  write N in-band packets of S bytes in the fixed pattern\n"
	"  read   read N packets and check each against the fixed pattern\n"
	"\n"
	"'cvmbus ring <subcommand> --help' describes each one.\n";

static const char dump_usage_text[] =
	"usage: cvmbus ring dump FILE [--json]\n"
	"\n"
	"Decode the control page (write and read index, interrupt mask, pending send\n"
	"size, feature bits) and every packet from read_index to write_index without\n"
	"consuming it: type, flags, transaction id, offset8/len8, payload length and\n"
	"first bytes, GPA-direct and transfer-page ranges, trailer.\n"
	"\n"
	"  --json   print one JSON document instead of text\n"
	"\n"
	"Exit status: 0 the ring is valid; 1 the file cannot be read; 2 bad usage;\n"
	"3 the image is corrupt (the message names the check and the offset).\n";

static const char write_usage_text[] =
	"usage: cvmbus ring write FILE --count N --size S [--create DATA_SIZE] [--timeout SEC]\n"
	"\n"
	"Write N in-band packets of S bytes (S >= 8); packet i carries i as a\n"
	"little-endian u64, then byte j = (i + j) mod 251. When the ring is full, wait\n"
	"for a reader (another process on the same file).\n"
	"\n"
	"  --count N            packets to write (0 only creates or attaches)\n"
	"  --size S             payload bytes per packet, at least 8\n"
	"  --create DATA_SIZE   create or truncate FILE with a data area of DATA_SIZE\n"
	"                       bytes (a multiple of 4096; K, M, G suffixes accepted)\n"
	"                       and format its control page; without it FILE must\n"
	"                       exist and its indices are validated\n"
	"  --timeout SEC        give up after SEC seconds without progress (default 10)\n"
	"\n"
	"Exit status: 0 done; 1 I/O error or timeout; 2 bad usage; 3 corrupt ring.\n";

static const char read_usage_text[] =
	"usage: cvmbus ring read FILE --count N --size S [--timeout SEC]\n"
	"\n"
	"Read N packets and check that each is in-band, carries S bytes of payload\n"
	"(padded with zeros to a multiple of 8) and matches the pattern of\n"
	"`cvmbus ring write`. When the ring is empty, wait for a writer.\n"
	"\n"
	"  --count N        packets to read\n"
	"  --size S         payload bytes per packet, at least 8\n"
	"  --timeout SEC    give up after SEC seconds without progress (default 10)\n"
	"\n"
	"Exit status: 0 all verified; 1 I/O error, timeout or a payload that does not\n"
	"match; 2 bad usage; 3 corrupt ring.\n";

static int usage_error(const char *who, const char *what)
{
	fprintf(stderr, "%s: %s\n(see 'cvmbus ring --help')\n", who, what);
	return CVMBUS_EXIT_USAGE;
}

/* Options as "--name value" or "--name=value". Which options a subcommand
 * accepts is checked by the caller from the have_* flags. */
static int parse_opts(const char *who, int argc, char **argv, struct ring_opts *o,
		      bool *help)
{
	*help = false;
	o->timeout = RING_DEFAULT_TIMEOUT_S;
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];
		const char *val = NULL;
		char name[32];
		char *eq;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			*help = true;
			return CVMBUS_EXIT_OK;
		}
		if (strncmp(arg, "--", 2) != 0) {
			if (o->file)
				return usage_error(who, "more than one FILE given");
			o->file = arg;
			continue;
		}
		eq = strchr(arg, '=');
		if (eq) {
			size_t n = (size_t)(eq - arg);

			if (n >= sizeof(name))
				return usage_error(who, "unknown option");
			memcpy(name, arg, n);
			name[n] = '\0';
			val = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", arg);
		}
		if (!strcmp(name, "--json")) {
			if (val)
				return usage_error(who, "--json takes no value");
			o->json = true;
			continue;
		}
		if (strcmp(name, "--count") && strcmp(name, "--size") && strcmp(name, "--create") &&
		    strcmp(name, "--timeout")) {
			fprintf(stderr, "%s: unknown option '%s'\n(see 'cvmbus ring --help')\n", who,
				arg);
			return CVMBUS_EXIT_USAGE;
		}
		if (!val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "%s: %s needs a value\n", who, name);
				return CVMBUS_EXIT_USAGE;
			}
			val = argv[++i];
		}
		if (!strcmp(name, "--count")) {
			if (!parse_u64(val, false, &o->count) || o->count > UINT32_MAX)
				return usage_error(who, "--count must be an integer from 0 to 4294967295");
			o->have_count = true;
		} else if (!strcmp(name, "--size")) {
			/* The largest body len8 can describe, minus the
			 * descriptor: 524280 - 16. */
			if (!parse_u64(val, true, &o->size) || o->size < RING_PATTERN_MIN_SIZE ||
			    o->size > CVMBUS_RING_MAX_PACKET_LEN - CVMBUS_RING_DESC_SIZE)
				return usage_error(who, "--size must be at least 8 (the packet number) and at most 524264");
			o->have_size = true;
		} else if (!strcmp(name, "--create")) {
			if (!parse_u64(val, true, &o->create) || o->create < CVMBUS_RING_PAGE_SIZE ||
			    o->create % CVMBUS_RING_PAGE_SIZE || o->create > CVMBUS_RING_MAX_DATA_SIZE)
				return usage_error(who, "--create DATA_SIZE must be a multiple of 4096 from 4096 to 1G");
			o->have_create = true;
		} else {
			if (!parse_seconds(val, &o->timeout))
				return usage_error(who, "--timeout must be a number of seconds above 0, at most 86400");
		}
	}
	if (!o->file)
		return usage_error(who, "FILE missing");
	return CVMBUS_EXIT_OK;
}

/* Waiting for the peer: the file has no doorbell, so poll, starting fast
 * (a peer that is just behind answers within microseconds) and backing off
 * to 2 ms so that a long wait costs little CPU. The clock restarts at every
 * success: --timeout bounds a stall, not the whole run. */
struct poller {
	double timeout;
	double since;
	unsigned delay_us;
};

static void poller_progress(struct poller *p)
{
	p->since = now_s();
	p->delay_us = 20;
}

/* false once the timeout has passed without progress. */
static bool poller_wait(struct poller *p)
{
	if (now_s() - p->since >= p->timeout)
		return false;
	sleep_us(p->delay_us);
	if (p->delay_us < 2000)
		p->delay_us *= 2;
	return true;
}

/* Checks that a packet of payload size S fits this ring at all. */
static int check_fits(const char *who, uint64_t size, uint32_t data_size)
{
	uint64_t total = CVMBUS_RING_DESC_SIZE + round8_u32((uint32_t)size) +
			 CVMBUS_RING_TRAILER_SIZE;

	/* The writer must leave free > total, and a ring of D bytes has at
	 * most D - 8 free after a packet ends: so total <= D - 8. */
	if (total > (uint64_t)data_size - CVMBUS_RING_TRAILER_SIZE) {
		fprintf(stderr, "%s: a packet of %" PRIu64 " payload bytes takes %" PRIu64
			" bytes of ring space; a ring with a %" PRIu32
			"-byte data area holds at most %" PRIu32 "\n",
			who, size, total, data_size, data_size - CVMBUS_RING_TRAILER_SIZE);
		return CVMBUS_EXIT_USAGE;
	}
	return CVMBUS_EXIT_OK;
}

static int ring_fault_exit(const char *who, const char *path, struct cvmbus_ring *r,
			   uint32_t data_size)
{
	struct cvmbus_ring_fault_info fi;

	cvmbus_ring_fault_get(r, &fi);
	fault_report(stderr, who, path, &fi, data_size);
	return CVMBUS_EXIT_CORRUPT;
}

static int cmd_ring_write(int argc, char **argv)
{
	static const char who[] = "cvmbus ring write";
	struct ring_opts o = { 0 };
	struct ring_image img;
	struct cvmbus_ring w;
	struct poller p;
	uint8_t *payload = NULL;
	bool help;
	int ex, rc;
	uint64_t i = 0;

	ex = parse_opts(who, argc, argv, &o, &help);
	if (help) {
		fputs(write_usage_text, stdout);
		return CVMBUS_EXIT_OK;
	}
	if (ex)
		return ex;
	if (o.json)
		return usage_error(who, "--json is only for dump");
	if (!o.have_count || !o.have_size)
		return usage_error(who, "--count and --size are required");
	if (o.have_create && (ex = check_fits(who, o.size, (uint32_t)o.create)))
		return ex;

	ex = o.have_create ? ring_image_create(&img, o.file, (uint32_t)o.create, stderr, who)
			   : ring_image_open(&img, o.file, RING_IMAGE_READWRITE, stderr, who);
	if (ex)
		return ex;
	if (!o.have_create && (ex = check_fits(who, o.size, img.data_size)))
		goto out;
	rc = cvmbus_ring_init(&w, CVMBUS_RING_WRITER,
			      o.have_create ? CVMBUS_RING_FORMAT : CVMBUS_RING_ATTACH, &img.map.mem);
	if (rc == -EPROTO) {
		ex = ring_fault_exit(who, o.file, &w, img.data_size);
		goto out;
	}
	if (rc) {
		fprintf(stderr, "%s: %s: cannot attach to the ring: %s\n", who, o.file, strerror(-rc));
		ex = CVMBUS_EXIT_FAILURE;
		goto out;
	}
	payload = malloc((size_t)o.size);
	if (!payload) {
		fprintf(stderr, "%s: out of memory\n", who);
		ex = CVMBUS_EXIT_FAILURE;
		goto out;
	}

	p.timeout = o.timeout;
	poller_progress(&p);
	for (i = 0; i < o.count; i++) {
		ring_pattern_fill(payload, (size_t)o.size, i);
		for (;;) {
			/* The transaction id is the packet number too, which
			 * makes dumps easier to read; readers ignore it. */
			rc = cvmbus_ring_send_inband(&w, 0, i, payload, (size_t)o.size, NULL, NULL);
			if (rc != -EAGAIN)
				break;
			if (!poller_wait(&p)) {
				fprintf(stderr, "%s: %s: timed out after %g s waiting for free space"
					" (ring full, no reader?): wrote %" PRIu64 " of %" PRIu64
					" packets\n", who, o.file, o.timeout, i, o.count);
				ex = CVMBUS_EXIT_FAILURE;
				goto out;
			}
		}
		if (rc == -EPROTO) {
			ex = ring_fault_exit(who, o.file, &w, img.data_size);
			goto out;
		}
		if (rc) {
			fprintf(stderr, "%s: %s: cannot write packet %" PRIu64 ": %s\n", who, o.file,
				i, strerror(-rc));
			ex = CVMBUS_EXIT_FAILURE;
			goto out;
		}
		poller_progress(&p);
	}
	printf("wrote %" PRIu64 " packet%s of %" PRIu64 " bytes to %s\n", o.count,
	       o.count == 1 ? "" : "s", o.size, o.file);
	ex = CVMBUS_EXIT_OK;
out:
	free(payload);
	ring_image_close(&img);
	return ex;
}

/* Checks one received packet against packet i's pattern; on a mismatch
 * prints what differs and returns false. */
static bool verify_packet(const char *who, const char *path, const struct cvmbus_ring_packet *pkt,
			  uint64_t i, uint64_t size)
{
	uint32_t want_len = round8_u32((uint32_t)size);
	size_t m;

	if (pkt->type != CVMBUS_RING_PKT_INBAND) {
		fprintf(stderr, "%s: %s: packet %" PRIu64 " at data offset %" PRIu32
			" is %s (type 0x%x), expected inband\n",
			who, path, i, pkt->ring_offset, pkt_type_name(pkt->type), pkt->type);
		return false;
	}
	if (pkt->payload_len != want_len) {
		fprintf(stderr, "%s: %s: packet %" PRIu64 " at data offset %" PRIu32
			" has %" PRIu32 " payload bytes, expected %" PRIu32 " (--size %" PRIu64
			" padded to 8)\n",
			who, path, i, pkt->ring_offset, pkt->payload_len, want_len, size);
		return false;
	}
	m = ring_pattern_check(pkt->payload, (size_t)size, i);
	if (m < size) {
		fprintf(stderr, "%s: %s: packet %" PRIu64 " at data offset %" PRIu32
			": payload byte %zu is 0x%02x, expected 0x%02x\n",
			who, path, i, pkt->ring_offset, m, pkt->payload[m], ring_pattern_byte(i, m));
		return false;
	}
	for (uint32_t j = (uint32_t)size; j < want_len; j++) {
		if (pkt->payload[j]) {
			fprintf(stderr, "%s: %s: packet %" PRIu64 " at data offset %" PRIu32
				": padding byte %" PRIu32 " is 0x%02x, expected 0\n",
				who, path, i, pkt->ring_offset, j, pkt->payload[j]);
			return false;
		}
	}
	return true;
}

static int cmd_ring_read(int argc, char **argv)
{
	static const char who[] = "cvmbus ring read";
	struct ring_opts o = { 0 };
	struct ring_image img;
	struct cvmbus_ring r;
	struct cvmbus_ring_packet pkt;
	struct poller p;
	uint8_t *buf = NULL;
	size_t buflen;
	bool help;
	int ex, rc;

	ex = parse_opts(who, argc, argv, &o, &help);
	if (help) {
		fputs(read_usage_text, stdout);
		return CVMBUS_EXIT_OK;
	}
	if (ex)
		return ex;
	if (o.json)
		return usage_error(who, "--json is only for dump");
	if (o.have_create)
		return usage_error(who, "--create is only for write");
	if (!o.have_count || !o.have_size)
		return usage_error(who, "--count and --size are required");

	ex = ring_image_open(&img, o.file, RING_IMAGE_READWRITE, stderr, who);
	if (ex)
		return ex;
	if ((ex = check_fits(who, o.size, img.data_size)))
		goto out;
	rc = cvmbus_ring_init(&r, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &img.map.mem);
	if (rc == -EPROTO) {
		ex = ring_fault_exit(who, o.file, &r, img.data_size);
		goto out;
	}
	if (rc) {
		fprintf(stderr, "%s: %s: cannot attach to the ring: %s\n", who, o.file, strerror(-rc));
		ex = CVMBUS_EXIT_FAILURE;
		goto out;
	}
	/* Room for the largest packet this ring can hold, so that a packet
	 * of the wrong size is reported as such rather than as -ENOBUFS. */
	buflen = img.data_size < CVMBUS_RING_MAX_PACKET_LEN ? img.data_size
							   : CVMBUS_RING_MAX_PACKET_LEN;
	buf = malloc(buflen);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", who);
		ex = CVMBUS_EXIT_FAILURE;
		goto out;
	}

	p.timeout = o.timeout;
	poller_progress(&p);
	for (uint64_t i = 0; i < o.count; i++) {
		for (;;) {
			/* One packet at a time, published at once: the
			 * writer in the other process polls read_index. */
			rc = cvmbus_ring_read(&r, buf, buflen, &pkt, NULL);
			if (rc != -EAGAIN)
				break;
			if (!poller_wait(&p)) {
				fprintf(stderr, "%s: %s: timed out after %g s waiting for packet %" PRIu64
					" of %" PRIu64 " (ring empty, no writer?)\n",
					who, o.file, o.timeout, i, o.count);
				ex = CVMBUS_EXIT_FAILURE;
				goto out;
			}
		}
		if (rc == -EPROTO) {
			ex = ring_fault_exit(who, o.file, &r, img.data_size);
			goto out;
		}
		if (rc) {
			fprintf(stderr, "%s: %s: cannot read packet %" PRIu64 ": %s\n", who, o.file, i,
				strerror(-rc));
			ex = CVMBUS_EXIT_FAILURE;
			goto out;
		}
		if (!verify_packet(who, o.file, &pkt, i, o.size)) {
			ex = CVMBUS_EXIT_FAILURE;
			goto out;
		}
		poller_progress(&p);
	}
	printf("read and verified %" PRIu64 " packet%s of %" PRIu64 " bytes from %s\n", o.count,
	       o.count == 1 ? "" : "s", o.size, o.file);
	ex = CVMBUS_EXIT_OK;
out:
	free(buf);
	ring_image_close(&img);
	return ex;
}

static int cmd_ring_dump(int argc, char **argv)
{
	static const char who[] = "cvmbus ring dump";
	struct ring_opts o = { 0 };
	bool help;
	int ex = parse_opts(who, argc, argv, &o, &help);

	if (help) {
		fputs(dump_usage_text, stdout);
		return CVMBUS_EXIT_OK;
	}
	if (ex)
		return ex;
	if (o.have_count || o.have_size || o.have_create)
		return usage_error(who, "dump takes only FILE and --json");
	return ring_image_dump(o.file, o.json, stdout, stderr);
}

int cmd_ring(int argc, char **argv)
{
	if (argc < 2) {
		fputs(ring_usage_text, stderr);
		return CVMBUS_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(ring_usage_text, stdout);
		return CVMBUS_EXIT_OK;
	}
	if (!strcmp(argv[1], "dump"))
		return cmd_ring_dump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "write"))
		return cmd_ring_write(argc - 1, argv + 1);
	if (!strcmp(argv[1], "read"))
		return cmd_ring_read(argc - 1, argv + 1);
	fprintf(stderr, "cvmbus ring: unknown subcommand '%s'\n", argv[1]);
	fputs(ring_usage_text, stderr);
	return CVMBUS_EXIT_USAGE;
}
