/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the storage VSC's completion parsing (layer src/dev,
 * vstor.c): what storvsc.c does with a completion packet the VSP (the host,
 * or a paravisor the guest cannot inspect) wrote: cvmbus_vstor_decode()
 * into a private packet, then cvmbus_vstor_check_completion() against the
 * request it answers, then a copy of the sense bytes into a 20-byte buffer.
 * The same decoded bytes also go through the VSP's own check of an SRB
 * (cvmbus_vstor_check_srb), and the sense through cvmbus_scsi_sense_parse.
 *
 * Input:
 *   byte 0      protocol version: 0..4 the known ones (WIN6, WIN7, WIN8,
 *               WIN8_1, WIN10), 5 "not negotiated" (0), else a raw u16
 *               follows;
 *   byte 1      the request: bits 0-1 its operation (EXECUTE_SRB,
 *               QUERY_PROTOCOL_VERSION, QUERY_PROPERTIES,
 *               BEGIN_INITIALIZATION), bits 2-3 direction (out, in, none),
 *               bit 4 a raw sense room byte follows (else the version's
 *               sense size, as storvsc asks);
 *   u32         the request's data_transfer_length;
 *   [u8         raw sense room]
 *   u32         the VSP-side limits: max_transfer;
 *   u8, u32     range_count and range_bytes for cvmbus_vstor_check_srb;
 *   the rest    the completion payload, exactly as long as it is here.
 *
 * Checked, for the input's version and again for every known version and
 * 0: the decode result, and the packet it produces, equal an independent
 * model written here from the layout in include/cvmbus/storage.h (header
 * 12 bytes; SRB 36 bytes before WIN8, 52 from it; the pre-WIN8 extension
 * bytes read as zero); the completion check accepts exactly when the model
 * does, and an accepted completion's transfer length is <= the request's
 * and its sense length <= the room the request gave and <= the version's
 * sense size; the VSP's SRB check agrees with its model; the NTSTATUS of
 * any SRB status is one of the documented ones.
 */
#include <errno.h>

#include <cvmbus/storage.h>

#include "fuzz_util.h"

/* Every SRB status maps to one of these (storage.h, "as Hyper-V maps them"). */
static bool fz_status_known(uint32_t s)
{
	switch (s) {
	case CVMBUS_VSTOR_STATUS_SUCCESS:
	case CVMBUS_VSTOR_STATUS_DEVICE_BUSY:
	case CVMBUS_VSTOR_STATUS_DEVICE_DOES_NOT_EXIST:
	case CVMBUS_VSTOR_STATUS_IO_TIMEOUT:
	case CVMBUS_VSTOR_STATUS_INVALID_DEVICE_REQUEST:
	case CVMBUS_VSTOR_STATUS_BUFFER_OVERFLOW:
	case CVMBUS_VSTOR_STATUS_UNSUCCESSFUL:
	case CVMBUS_VSTOR_STATUS_CANCELLED:
	case CVMBUS_VSTOR_STATUS_IO_DEVICE_ERROR:
		return true;
	default:
		return false;
	}
}

static uint32_t fz_le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* The layout facts, restated by hand rather than asked of vstor.c. */
static bool fz_win8(uint16_t version)
{
	return version >= 0x0501u;
}

static uint32_t fz_srb_size(uint16_t version)
{
	return fz_win8(version) ? 0x34u : 0x24u;
}

static uint32_t fz_sense_room(uint16_t version)
{
	return fz_win8(version) ? 0x14u : 0x12u;
}

/* The request a storvsc would have outstanding (storvsc_submit's fill). */
static void fz_build_request(struct cvmbus_vstor_packet *req, uint8_t kind, uint16_t version,
			     uint32_t xfer, bool raw_room, uint8_t room)
{
	static const uint32_t ops[4] = {
		CVMBUS_VSTOR_OP_EXECUTE_SRB, CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION,
		CVMBUS_VSTOR_OP_QUERY_PROPERTIES, CVMBUS_VSTOR_OP_BEGIN_INITIALIZATION,
	};
	uint8_t dir = (kind >> 2) & 3u;

	memset(req, 0, sizeof(*req));
	req->operation = ops[kind & 3u];
	req->flags = CVMBUS_VSTOR_FLAG_REQUEST_COMPLETION;
	if (req->operation != CVMBUS_VSTOR_OP_EXECUTE_SRB) {
		if (req->operation == CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION)
			req->version.major_minor = version;
		return;
	}
	req->srb.length = (uint16_t)fz_srb_size(version);
	req->srb.cdb_length = 10;
	req->srb.cdb[0] = 0x28; /* READ(10) */
	req->srb.sense_info_length = raw_room ? room : (uint8_t)fz_sense_room(version);
	req->srb.data_in = dir == 0 ? CVMBUS_VSTOR_DATA_OUT
			   : dir == 1 ? CVMBUS_VSTOR_DATA_IN
				      : CVMBUS_VSTOR_DATA_UNKNOWN;
	req->srb.data_transfer_length = req->srb.data_in == CVMBUS_VSTOR_DATA_UNKNOWN ? 0 : xfer;
}

/* cvmbus_vstor_decode's result and packet, by hand. */
static int fz_model_decode(const uint8_t *p, size_t len, uint16_t version, uint8_t out[64])
{
	uint32_t op, need;

	memset(out, 0, 64);
	if (len < 12)
		return -EMSGSIZE;
	op = fz_le32(p);
	switch (op) {
	case CVMBUS_VSTOR_OP_EXECUTE_SRB: need = fz_srb_size(version); break;
	case CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION: need = 4; break;
	case CVMBUS_VSTOR_OP_CREATE_SUB_CHANNELS: need = 2; break;
	default: need = 0; break;
	}
	if (len - 12 < need)
		return -EMSGSIZE;
	memcpy(out, p, len < 64 ? len : 64);
	/* A pre-WIN8 SRB ends at 12 + 36: what follows is padding. */
	if (op == CVMBUS_VSTOR_OP_EXECUTE_SRB && !fz_win8(version))
		memset(out + 12 + 0x24, 0, 64 - 12 - 0x24);
	return 0;
}

static int fz_model_check_completion(const struct cvmbus_vstor_packet *req, const uint8_t *resp,
				     size_t len, uint16_t version)
{
	if (len < 12 + fz_srb_size(version))
		return -EPROTO;
	if (fz_le32(resp) != CVMBUS_VSTOR_OP_COMPLETE_IO)
		return -EPROTO;
	if (req->operation != CVMBUS_VSTOR_OP_EXECUTE_SRB)
		return 0;
	/* SRB @12: data_transfer_length @12+12, sense_info_length @12+9. */
	if (fz_le32(resp + 24) > req->srb.data_transfer_length)
		return -EPROTO;
	if (resp[21] > req->srb.sense_info_length || resp[21] > fz_sense_room(version))
		return -EPROTO;
	return 0;
}

static enum cvmbus_vstor_srb_check fz_model_check_srb(const uint8_t *srb, uint32_t max_transfer,
						      uint32_t range_count, uint32_t range_bytes)
{
	uint32_t len = fz_le32(srb + 12);

	if (srb[8] == 0 || srb[8] > 16)
		return CVMBUS_VSTOR_SRB_BAD_CDB_LENGTH;
	if (srb[9] > 20)
		return CVMBUS_VSTOR_SRB_BAD_SENSE_LENGTH;
	if (srb[10] > 2 || (srb[10] == 2 && len != 0))
		return CVMBUS_VSTOR_SRB_BAD_DIRECTION;
	if (range_count > 1)
		return CVMBUS_VSTOR_SRB_MANY_RANGES;
	if (len == 0)
		return CVMBUS_VSTOR_SRB_OK;
	if (len > max_transfer)
		return CVMBUS_VSTOR_SRB_TOO_LONG;
	if (range_count == 0)
		return CVMBUS_VSTOR_SRB_NO_RANGE;
	if (len > range_bytes)
		return CVMBUS_VSTOR_SRB_RANGE_SHORT;
	return CVMBUS_VSTOR_SRB_OK;
}

/* What storvsc's vsc_complete does with an accepted completion: copy the
 * sense into the result's 20 bytes, then a caller parses them. Both on
 * exact-size heap blocks, so one byte too many trips ASan. */
static void fz_use_sense(const struct cvmbus_vstor_packet *resp)
{
	uint8_t *res_sense = malloc(CVMBUS_VSTOR_SENSE_SIZE);
	uint8_t n = resp->srb.sense_info_length;
	uint16_t asc = 0;
	uint8_t key = 0;
	uint8_t *exact;
	int rc;

	FZ_CHECK(res_sense != NULL);
	FZ_CHECK(n <= CVMBUS_VSTOR_SENSE_SIZE);
	memcpy(res_sense, resp->srb.sense_data, n);
	exact = malloc(n ? n : 1);
	FZ_CHECK(exact != NULL);
	memcpy(exact, res_sense, n);
	rc = cvmbus_scsi_sense_parse(exact, n, &key, &asc);
	FZ_CHECK(rc == 0 || rc == -EINVAL);
	if (rc == 0)
		FZ_CHECK(key <= 0xfu);
	free(exact);
	free(res_sense);
}

/* One version: decode, check, compare with the models. */
static void fz_one(const uint8_t *payload, size_t len, uint16_t version, uint8_t kind,
		   uint32_t xfer, bool raw_room, uint8_t room, uint32_t max_transfer,
		   uint32_t range_count, uint32_t range_bytes)
{
	struct cvmbus_vstor_packet req, resp;
	uint8_t expect[64];
	int rc, want;

	fz_build_request(&req, kind, version, xfer, raw_room, room);
	memset(&resp, 0x5a, sizeof(resp));
	rc = cvmbus_vstor_decode(payload, len, version, &resp);
	want = fz_model_decode(payload, len, version, expect);
	FZ_CHECK(rc == want);
	/* On failure the packet is all zeros too: nothing half-decoded. */
	FZ_CHECK(memcmp(&resp, expect, sizeof(resp)) == 0);
	if (rc < 0)
		return;

	FZ_CHECK(fz_status_known(cvmbus_vstor_status_from_srb(resp.srb.srb_status)));
	FZ_CHECK(cvmbus_vstor_check_srb(&resp.srb, max_transfer, range_count, range_bytes) ==
		 fz_model_check_srb(expect + 12, max_transfer, range_count, range_bytes));

	rc = cvmbus_vstor_check_completion(&req, &resp, len, version);
	want = fz_model_check_completion(&req, expect, len, version);
	FZ_CHECK(rc == want);
	if (rc < 0)
		return;
	/* The promise storvsc relies on before it copies anything. */
	FZ_CHECK(len >= cvmbus_vstor_packet_size(version));
	FZ_CHECK(resp.operation == CVMBUS_VSTOR_OP_COMPLETE_IO);
	if (req.operation != CVMBUS_VSTOR_OP_EXECUTE_SRB)
		return;
	FZ_CHECK(resp.srb.data_transfer_length <= req.srb.data_transfer_length);
	FZ_CHECK(resp.srb.sense_info_length <= req.srb.sense_info_length);
	FZ_CHECK(resp.srb.sense_info_length <= cvmbus_vstor_sense_size(version));
	fz_use_sense(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t versions[] = {
		CVMBUS_VSTOR_VERSION_WIN6, CVMBUS_VSTOR_VERSION_WIN7, CVMBUS_VSTOR_VERSION_WIN8,
		CVMBUS_VSTOR_VERSION_WIN8_1, CVMBUS_VSTOR_VERSION_WIN10, 0,
	};
	struct fz_in in = fz_in_make(data, size);
	uint8_t sel = fz_u8(&in);
	uint8_t kind = fz_u8(&in);
	uint16_t version = sel < 6 ? versions[sel] : fz_u16(&in);
	uint32_t xfer = fz_u32(&in);
	bool raw_room = kind & 0x10u;
	uint8_t room = raw_room ? fz_u8(&in) : 0;
	uint32_t max_transfer = fz_u32(&in);
	uint32_t range_count = fz_u8(&in);
	uint32_t range_bytes = fz_u32(&in);
	uint8_t *payload;

	/* The payload on its own exact-size block: the decoder must not read
	 * one byte past what the VSP sent. */
	payload = malloc(in.n ? in.n : 1);
	FZ_CHECK(payload != NULL);
	if (in.n)
		memcpy(payload, in.p, in.n);

	fz_one(payload, in.n, version, kind, xfer, raw_room, room, max_transfer, range_count,
	       range_bytes);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		fz_one(payload, in.n, versions[i], kind, xfer, raw_room, room, max_transfer,
		       range_count, range_bytes);
	free(payload);
	return 0;
}
