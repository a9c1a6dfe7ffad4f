/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V synthetic storage over VMBus (layer src/dev, on top of the
 * device-facing channel of include/cvmbus/channel.h). Five parts, one file
 * each under src/dev:
 *
 *   vstor.c     the VSTOR wire format: the 64-byte vstor packet (12 bytes of
 *               header, then an SRB, channel properties or a protocol
 *               version), its sizes per protocol version, and the checks a
 *               receiver applies to what the peer wrote;
 *   scsi.c      SCSI command emulation (SPC/SBC subset) over a block backend,
 *               as pure functions of a CDB and a private data buffer;
 *   blk_file.c  the file backend (pread/pwrite/fdatasync/punch hole);
 *   storvsp.c   the VSP: written once against the channel API, it runs as the
 *               host's device or the paravisor's without knowing which (the
 *               channel's memory ops decide which view it reads through);
 *   storvsc.c   the VSC (the guest's driver): handshake, many outstanding
 *               requests with a tag table, hostile-response checks, and a
 *               data path that either bounces through host-visible pages or,
 *               on a channel with confidential external memory, sends the
 *               caller's private pages as they are;
 *   bounce.c    the bounce pool (swiotlb's job): host-visible pages made
 *               shared once, with reason "bounce".
 *
 * Wire facts (layouts, operation numbers, versions, statuses) are those of
 * Linux drivers/scsi/storvsc_drv.c and OpenVMM storvsp_protocol; the wire is
 * little-endian. See docs/STORAGE.md.
 *
 * Errors are negative errno values:
 *   -EINVAL     bad argument (or a field of a packet out of range: vstor)
 *   -EMSGSIZE   a packet shorter than its operation needs; a transfer larger
 *               than the device's or the pool's limit
 *   -EPROTO     the peer broke the protocol (a response that does not fit its
 *               request, a wrong operation): that request fails, the channel
 *               survives
 *   -EIO        the device answered with an error (SRB or SCSI status)
 *   -ETIMEDOUT  no answer within the request's timeout
 *   -ESHUTDOWN  the channel closed (or the VSC stopped) with the request
 *               outstanding
 *   -ENOSPC     no free tag (too many outstanding requests)
 *   -ENODEV     the VSC is not connected (handshake not done or failed)
 *   -EFAULT     memory not reachable through the caller's view
 *   -ENOMEM, -errno from the file backend
 */
#ifndef CVMBUS_STORAGE_H
#define CVMBUS_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/channel.h>
#include <cvmbus/exec.h>
#include <cvmbus/memory.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "vstor structs are the little-endian wire layout");

/* ======================================================================
 * VSTOR wire format (vstor.c)
 * ====================================================================== */

/* Protocol versions: major in the high byte, minor in the low one. */
#define CVMBUS_VSTOR_VERSION(major, minor) ((uint16_t)(((major) << 8) | (minor)))
#define CVMBUS_VSTOR_VERSION_WIN6   CVMBUS_VSTOR_VERSION(2, 0) /* 0x0200 */
#define CVMBUS_VSTOR_VERSION_WIN7   CVMBUS_VSTOR_VERSION(4, 2) /* 0x0402 */
#define CVMBUS_VSTOR_VERSION_WIN8   CVMBUS_VSTOR_VERSION(5, 1) /* 0x0501 */
#define CVMBUS_VSTOR_VERSION_WIN8_1 CVMBUS_VSTOR_VERSION(6, 0) /* 0x0600, "blue" */
#define CVMBUS_VSTOR_VERSION_WIN10  CVMBUS_VSTOR_VERSION(6, 2) /* 0x0602, "threshold" */

enum cvmbus_vstor_op {
	CVMBUS_VSTOR_OP_COMPLETE_IO = 1,
	CVMBUS_VSTOR_OP_REMOVE_DEVICE = 2,
	CVMBUS_VSTOR_OP_EXECUTE_SRB = 3,
	CVMBUS_VSTOR_OP_RESET_LUN = 4,
	CVMBUS_VSTOR_OP_RESET_ADAPTER = 5,
	CVMBUS_VSTOR_OP_RESET_BUS = 6,
	CVMBUS_VSTOR_OP_BEGIN_INITIALIZATION = 7,
	CVMBUS_VSTOR_OP_END_INITIALIZATION = 8,
	CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION = 9,
	CVMBUS_VSTOR_OP_QUERY_PROPERTIES = 10,
	CVMBUS_VSTOR_OP_ENUMERATE_BUS = 11,
	CVMBUS_VSTOR_OP_FCHBA_DATA = 12,
	CVMBUS_VSTOR_OP_CREATE_SUB_CHANNELS = 13,
	CVMBUS_VSTOR_OP_EVENT_NOTIFICATION = 14,
};

/* vstor packet flags: the sender wants a completion. */
#define CVMBUS_VSTOR_FLAG_REQUEST_COMPLETION 0x1u

/* The packet's status field: an NTSTATUS. */
#define CVMBUS_VSTOR_STATUS_SUCCESS                0x00000000u
#define CVMBUS_VSTOR_STATUS_BUFFER_OVERFLOW        0x80000005u
#define CVMBUS_VSTOR_STATUS_DEVICE_BUSY            0x80000011u
#define CVMBUS_VSTOR_STATUS_UNSUCCESSFUL           0xC0000001u
#define CVMBUS_VSTOR_STATUS_INVALID_PARAMETER      0xC000000Du
#define CVMBUS_VSTOR_STATUS_INVALID_DEVICE_REQUEST 0xC0000010u
#define CVMBUS_VSTOR_STATUS_REVISION_MISMATCH      0xC0000059u
#define CVMBUS_VSTOR_STATUS_DEVICE_NOT_CONNECTED   0xC000009Du
#define CVMBUS_VSTOR_STATUS_IO_TIMEOUT             0xC00000B5u
#define CVMBUS_VSTOR_STATUS_DEVICE_DOES_NOT_EXIST  0xC00000C0u
#define CVMBUS_VSTOR_STATUS_CANCELLED              0xC0000120u
#define CVMBUS_VSTOR_STATUS_INVALID_DEVICE_STATE   0xC0000184u
#define CVMBUS_VSTOR_STATUS_IO_DEVICE_ERROR        0xC0000185u

/* SRB status: low 6 bits a code, bit 6 queue frozen, bit 7 autosense valid
 * (the sense bytes in the response mean something). */
#define CVMBUS_SRB_STATUS_PENDING           0x00u
#define CVMBUS_SRB_STATUS_SUCCESS           0x01u
#define CVMBUS_SRB_STATUS_ABORTED           0x02u
#define CVMBUS_SRB_STATUS_ERROR             0x04u
#define CVMBUS_SRB_STATUS_BUSY              0x05u
#define CVMBUS_SRB_STATUS_INVALID_REQUEST   0x06u
#define CVMBUS_SRB_STATUS_INVALID_PATH_ID   0x07u
#define CVMBUS_SRB_STATUS_NO_DEVICE         0x08u
#define CVMBUS_SRB_STATUS_TIMEOUT           0x09u
#define CVMBUS_SRB_STATUS_DATA_OVERRUN      0x12u
#define CVMBUS_SRB_STATUS_BAD_SRB_BLOCK_LENGTH 0x15u
#define CVMBUS_SRB_STATUS_REQUEST_FLUSHED   0x16u
#define CVMBUS_SRB_STATUS_INVALID_LUN       0x20u
#define CVMBUS_SRB_STATUS_INVALID_TARGET_ID 0x21u
#define CVMBUS_SRB_STATUS_BAD_FUNCTION      0x22u
#define CVMBUS_SRB_STATUS_QUEUE_FROZEN      0x40u
#define CVMBUS_SRB_STATUS_AUTOSENSE_VALID   0x80u
#define CVMBUS_SRB_STATUS_CODE(s)           ((uint8_t)((s) & 0x3fu))

/* vmscsi_request.data_in: the direction, as the guest sees it. */
#define CVMBUS_VSTOR_DATA_OUT     0u /* WRITE_TYPE: guest memory -> device */
#define CVMBUS_VSTOR_DATA_IN      1u /* READ_TYPE: device -> guest memory */
#define CVMBUS_VSTOR_DATA_UNKNOWN 2u /* UNKNOWN_TYPE: no data */

/* srb_flags of the win8 extension (informational: the direction that
 * counts is data_in). */
#define CVMBUS_SRB_FLAGS_QUEUE_ACTION_ENABLE     0x00000002u
#define CVMBUS_SRB_FLAGS_DISABLE_SYNCH_TRANSFER  0x00000008u
#define CVMBUS_SRB_FLAGS_DATA_IN                 0x00000040u
#define CVMBUS_SRB_FLAGS_DATA_OUT                0x00000080u
#define CVMBUS_SRB_FLAGS_NO_QUEUE_FREEZE         0x00000100u

#define CVMBUS_VSTOR_MAX_CDB        16u   /* STORVSC_MAX_CMD_LEN */
#define CVMBUS_VSTOR_SENSE_SIZE     0x14u /* win8 and later */
#define CVMBUS_VSTOR_SENSE_SIZE_OLD 0x12u /* before win8 */
#define CVMBUS_VSTOR_HEADER_SIZE    12u   /* operation, flags, status */
#define CVMBUS_VSTOR_SRB_SIZE       0x34u /* with the win8 extension */
#define CVMBUS_VSTOR_SRB_SIZE_OLD   0x24u /* before win8: no extension */
#define CVMBUS_VSTOR_PACKET_SIZE    (CVMBUS_VSTOR_HEADER_SIZE + CVMBUS_VSTOR_SRB_SIZE)

/* channel properties flags */
#define CVMBUS_VSTOR_PROP_MULTI_CHANNEL 0x1u

/* struct vmscsi_request: the SRB. The 20 bytes at @16 carry the CDB in a
 * request and the sense data in a response. The win8 extension (@36..51) is
 * on the wire only when the negotiated version is WIN8 or later. */
struct cvmbus_vstor_srb {
	uint16_t length;               /* @0: sizeof the SRB as the sender built it */
	uint8_t srb_status;            /* @2: CVMBUS_SRB_STATUS_* (response) */
	uint8_t scsi_status;           /* @3: SAM status (response) */
	uint8_t port_number;           /* @4 */
	uint8_t path_id;               /* @5 */
	uint8_t target_id;             /* @6 */
	uint8_t lun;                   /* @7 */
	uint8_t cdb_length;            /* @8: 1..16 */
	uint8_t sense_info_length;     /* @9: request: room; response: bytes valid */
	uint8_t data_in;               /* @10: CVMBUS_VSTOR_DATA_* */
	uint8_t reserved;              /* @11 */
	uint32_t data_transfer_length; /* @12: request: buffer bytes; response: moved */
	union {
		uint8_t cdb[CVMBUS_VSTOR_MAX_CDB];
		uint8_t sense_data[CVMBUS_VSTOR_SENSE_SIZE];
	};                             /* @16, 20 bytes */
	/* win8 extension */
	uint16_t reserve;              /* @36 */
	uint8_t queue_tag;             /* @38 */
	uint8_t queue_action;          /* @39 */
	uint32_t srb_flags;            /* @40 */
	uint32_t time_out_value;       /* @44: seconds */
	uint32_t queue_sort_key;       /* @48 */
};
_Static_assert(sizeof(struct cvmbus_vstor_srb) == CVMBUS_VSTOR_SRB_SIZE, "srb");
_Static_assert(offsetof(struct cvmbus_vstor_srb, srb_status) == 2, "srb_status");
_Static_assert(offsetof(struct cvmbus_vstor_srb, scsi_status) == 3, "scsi_status");
_Static_assert(offsetof(struct cvmbus_vstor_srb, port_number) == 4, "port_number");
_Static_assert(offsetof(struct cvmbus_vstor_srb, path_id) == 5, "path_id");
_Static_assert(offsetof(struct cvmbus_vstor_srb, target_id) == 6, "target_id");
_Static_assert(offsetof(struct cvmbus_vstor_srb, lun) == 7, "lun");
_Static_assert(offsetof(struct cvmbus_vstor_srb, cdb_length) == 8, "cdb_length");
_Static_assert(offsetof(struct cvmbus_vstor_srb, sense_info_length) == 9, "sense_info_length");
_Static_assert(offsetof(struct cvmbus_vstor_srb, data_in) == 10, "data_in");
_Static_assert(offsetof(struct cvmbus_vstor_srb, data_transfer_length) == 12, "xfer len");
_Static_assert(offsetof(struct cvmbus_vstor_srb, cdb) == 16, "cdb");
_Static_assert(offsetof(struct cvmbus_vstor_srb, sense_data) == 16, "sense_data");
_Static_assert(offsetof(struct cvmbus_vstor_srb, reserve) == CVMBUS_VSTOR_SRB_SIZE_OLD,
	       "the win8 extension starts where the old SRB ended");
_Static_assert(offsetof(struct cvmbus_vstor_srb, queue_tag) == 38, "queue_tag");
_Static_assert(offsetof(struct cvmbus_vstor_srb, queue_action) == 39, "queue_action");
_Static_assert(offsetof(struct cvmbus_vstor_srb, srb_flags) == 40, "srb_flags");
_Static_assert(offsetof(struct cvmbus_vstor_srb, time_out_value) == 44, "time_out_value");
_Static_assert(offsetof(struct cvmbus_vstor_srb, queue_sort_key) == 48, "queue_sort_key");

/* struct vmstorage_channel_properties (QUERY_PROPERTIES' answer). The last
 * reserved u64 is two u32 so that the union stays 4-aligned at @12. */
struct cvmbus_vstor_properties {
	uint32_t reserved;           /* @0 */
	uint16_t max_channel_count;  /* @4: sub-channels the VSP offers */
	uint16_t reserved1;          /* @6 */
	uint32_t flags;              /* @8: CVMBUS_VSTOR_PROP_* */
	uint32_t max_transfer_bytes; /* @12 */
	uint32_t reserved2[2];       /* @16 */
};
_Static_assert(sizeof(struct cvmbus_vstor_properties) == 24, "properties");
_Static_assert(offsetof(struct cvmbus_vstor_properties, max_channel_count) == 4, "max ch");
_Static_assert(offsetof(struct cvmbus_vstor_properties, flags) == 8, "flags");
_Static_assert(offsetof(struct cvmbus_vstor_properties, max_transfer_bytes) == 12, "max xfer");

/* struct vmstorage_protocol_version */
struct cvmbus_vstor_version {
	uint16_t major_minor; /* @0 */
	uint16_t revision;    /* @2: Windows build revision; 0 */
};
_Static_assert(sizeof(struct cvmbus_vstor_version) == 4, "version");

/* struct hv_fc_wwn_packet (FCHBA_DATA): only refused here. */
struct cvmbus_vstor_wwn {
	uint8_t primary_active;
	uint8_t reserved1[3];
	uint8_t primary_port_wwn[8];
	uint8_t primary_node_wwn[8];
	uint8_t secondary_port_wwn[8];
	uint8_t secondary_node_wwn[8];
};
_Static_assert(sizeof(struct cvmbus_vstor_wwn) == 36, "wwn");

/* struct vstor_packet: what travels in the payload of every storage packet.
 * On the wire it is cvmbus_vstor_packet_size(version) bytes long. */
struct cvmbus_vstor_packet {
	uint32_t operation; /* @0: enum cvmbus_vstor_op; kept raw (unknown values too) */
	uint32_t flags;     /* @4: CVMBUS_VSTOR_FLAG_* */
	uint32_t status;    /* @8: CVMBUS_VSTOR_STATUS_* (NTSTATUS) */
	union {
		struct cvmbus_vstor_srb srb;
		struct cvmbus_vstor_properties properties;
		struct cvmbus_vstor_version version;
		struct cvmbus_vstor_wwn wwn;
		uint16_t sub_channel_count;
		uint8_t buffer[CVMBUS_VSTOR_SRB_SIZE];
	};                  /* @12 */
};
_Static_assert(sizeof(struct cvmbus_vstor_packet) == CVMBUS_VSTOR_PACKET_SIZE, "packet");
_Static_assert(offsetof(struct cvmbus_vstor_packet, flags) == 4, "flags");
_Static_assert(offsetof(struct cvmbus_vstor_packet, status) == 8, "status");
_Static_assert(offsetof(struct cvmbus_vstor_packet, srb) == CVMBUS_VSTOR_HEADER_SIZE, "union");
_Static_assert(offsetof(struct cvmbus_vstor_packet, srb.data_transfer_length) == 24,
	       "data_transfer_length in the packet");
_Static_assert(offsetof(struct cvmbus_vstor_packet, srb.cdb) == 28, "cdb in the packet");

/* Does this endpoint know the version at all (one of the five above)? */
bool cvmbus_vstor_version_known(uint16_t version);
/* The SRB, packet and sense sizes of a version: the old layout for WIN6 and
 * WIN7, and for 0 ("not negotiated yet": the handshake's own packets are
 * sent in the smallest layout, as Linux does). */
uint32_t cvmbus_vstor_srb_size(uint16_t version);
uint32_t cvmbus_vstor_packet_size(uint16_t version);
uint32_t cvmbus_vstor_sense_size(uint16_t version);
/* "execute_srb", ... or "unknown". */
const char *cvmbus_vstor_op_name(uint32_t op);

/* Copy a received payload (len bytes, the sender's padding included) into
 * *out, zero-filling what the sender did not send and ignoring what lies
 * beyond the 64-byte packet. Refuses (-EMSGSIZE) a payload shorter than the
 * 12-byte header or than its operation's body in `version` (an SRB, a
 * protocol version, a sub-channel count). Unknown operations decode: the
 * caller answers them. */
int cvmbus_vstor_decode(const void *payload, size_t len, uint16_t version,
			struct cvmbus_vstor_packet *out);

/* Why an SRB from the guest was refused (CVMBUS_VSTOR_SRB_OK if not). */
enum cvmbus_vstor_srb_check {
	CVMBUS_VSTOR_SRB_OK = 0,
	CVMBUS_VSTOR_SRB_BAD_CDB_LENGTH,   /* 0 or > 16 */
	CVMBUS_VSTOR_SRB_BAD_SENSE_LENGTH, /* room for more than 20 bytes claimed */
	CVMBUS_VSTOR_SRB_BAD_DIRECTION,    /* data_in not 0/1/2, or 2 with data */
	CVMBUS_VSTOR_SRB_TOO_LONG,         /* data_transfer_length > the device's max */
	CVMBUS_VSTOR_SRB_NO_RANGE,         /* data without a GPA range */
	CVMBUS_VSTOR_SRB_RANGE_SHORT,      /* data_transfer_length > the range's bytes */
	CVMBUS_VSTOR_SRB_MANY_RANGES,      /* more than one GPA range */
};
/* The VSP's checks of an SRB it received, before anything is done with it:
 * range_count/range_bytes describe the packet's GPA-direct ranges (0/0 for
 * an in-band packet). */
enum cvmbus_vstor_srb_check cvmbus_vstor_check_srb(const struct cvmbus_vstor_srb *srb,
						   uint32_t max_transfer,
						   uint32_t range_count,
						   uint32_t range_bytes);
const char *cvmbus_vstor_srb_check_name(enum cvmbus_vstor_srb_check c);

/* The VSC's checks of a completion `resp` (decoded from resp_len payload
 * bytes) for its request `req` sent in `version`: the payload is at least
 * as long as the request was, the operation is COMPLETE_IO, and for an SRB
 * the transfer length is not larger than the request's and the sense length
 * not larger than the room the request gave. 0 or -EPROTO. */
int cvmbus_vstor_check_completion(const struct cvmbus_vstor_packet *req,
				  const struct cvmbus_vstor_packet *resp, size_t resp_len,
				  uint16_t version);

/* The NTSTATUS a VSP reports for an SRB status (as Hyper-V maps them). */
uint32_t cvmbus_vstor_status_from_srb(uint8_t srb_status);

/* ======================================================================
 * SCSI emulation over a block backend (scsi.c, blk_file.c)
 * ====================================================================== */

#define CVMBUS_SCSI_SECTOR 512u
/* The largest transfer one command may ask for unless the disk says less:
 * what OpenVMM's storvsp advertises (256 KiB). */
#define CVMBUS_SCSI_DEFAULT_MAX_TRANSFER (256u * 1024u)
/* Fixed-format sense data as this emulation builds it. */
#define CVMBUS_SCSI_SENSE_LEN 18u

/* SAM status */
#define CVMBUS_SCSI_STATUS_GOOD            0x00u
#define CVMBUS_SCSI_STATUS_CHECK_CONDITION 0x02u
#define CVMBUS_SCSI_STATUS_BUSY            0x08u

/* Sense keys */
#define CVMBUS_SCSI_KEY_NO_SENSE        0x0u
#define CVMBUS_SCSI_KEY_NOT_READY       0x2u
#define CVMBUS_SCSI_KEY_MEDIUM_ERROR    0x3u
#define CVMBUS_SCSI_KEY_HARDWARE_ERROR  0x4u
#define CVMBUS_SCSI_KEY_ILLEGAL_REQUEST 0x5u
#define CVMBUS_SCSI_KEY_UNIT_ATTENTION  0x6u
#define CVMBUS_SCSI_KEY_DATA_PROTECT    0x7u
#define CVMBUS_SCSI_KEY_ABORTED_COMMAND 0xbu

/* Additional sense codes (ASC << 8 | ASCQ) */
#define CVMBUS_SCSI_ASC_WRITE_ERROR             0x0c00u
#define CVMBUS_SCSI_ASC_UNRECOVERED_READ_ERROR  0x1100u
#define CVMBUS_SCSI_ASC_PARAM_LIST_LENGTH_ERROR 0x1a00u
#define CVMBUS_SCSI_ASC_INVALID_OPCODE          0x2000u
#define CVMBUS_SCSI_ASC_LBA_OUT_OF_RANGE        0x2100u
#define CVMBUS_SCSI_ASC_INVALID_FIELD_IN_CDB    0x2400u
#define CVMBUS_SCSI_ASC_LUN_NOT_SUPPORTED       0x2500u
#define CVMBUS_SCSI_ASC_INVALID_FIELD_IN_PARAM  0x2600u
#define CVMBUS_SCSI_ASC_WRITE_PROTECTED         0x2700u
#define CVMBUS_SCSI_ASC_SAVING_PARAMS_UNSUP     0x3900u
#define CVMBUS_SCSI_ASC_INTERNAL_TARGET_FAILURE 0x4400u

/* Operation codes this emulation implements. */
#define CVMBUS_SCSI_TEST_UNIT_READY   0x00u
#define CVMBUS_SCSI_REQUEST_SENSE     0x03u
#define CVMBUS_SCSI_READ_6            0x08u
#define CVMBUS_SCSI_WRITE_6           0x0au
#define CVMBUS_SCSI_INQUIRY           0x12u
#define CVMBUS_SCSI_MODE_SENSE_6      0x1au
#define CVMBUS_SCSI_READ_CAPACITY_10  0x25u
#define CVMBUS_SCSI_READ_10           0x28u
#define CVMBUS_SCSI_WRITE_10          0x2au
#define CVMBUS_SCSI_SYNCHRONIZE_CACHE_10 0x35u
#define CVMBUS_SCSI_UNMAP             0x42u
#define CVMBUS_SCSI_MODE_SENSE_10     0x5au
#define CVMBUS_SCSI_READ_16           0x88u
#define CVMBUS_SCSI_WRITE_16          0x8au
#define CVMBUS_SCSI_SYNCHRONIZE_CACHE_16 0x91u
#define CVMBUS_SCSI_SERVICE_ACTION_IN_16 0x9eu /* + SA 0x10: READ CAPACITY(16) */
#define CVMBUS_SCSI_SAI_READ_CAPACITY_16 0x10u
#define CVMBUS_SCSI_REPORT_LUNS       0xa0u

/* A block device: byte offsets and lengths are multiples of 512 (the SCSI
 * layer only asks for whole sectors). Each op returns 0 or a negative errno;
 * the ops may be called from several threads at once. */
struct cvmbus_blk_ops {
	int (*read)(void *ctx, uint64_t offset, void *buf, size_t len);
	int (*write)(void *ctx, uint64_t offset, const void *buf, size_t len);
	int (*flush)(void *ctx);
	/* NULL: no UNMAP (the disk does not advertise thin provisioning). */
	int (*discard)(void *ctx, uint64_t offset, uint64_t len);
	/* Release ctx (cvmbus_blk_close). May be NULL. */
	void (*close)(void *ctx);
};

struct cvmbus_blk {
	const struct cvmbus_blk_ops *ops;
	void *ctx;
	uint64_t sectors; /* capacity in 512-byte sectors */
	bool read_only;
};

/* The file backend. create_bytes > 0 creates the file if needed and sets
 * its size to that (a multiple of 512); 0 opens an existing file, whose size
 * is rounded down to a sector. Discard punches holes (the file stays the
 * same size, holes read as zeros). */
struct cvmbus_blk_file_config {
	const char *path;
	bool read_only;
	uint64_t create_bytes;
};
int cvmbus_blk_file_open(const struct cvmbus_blk_file_config *cfg, struct cvmbus_blk **out);
/* ops->close, then free: for backends opened by cvmbus_blk_*_open only
 * (a caller's own backend is the caller's to release). Safe on NULL. */
void cvmbus_blk_close(struct cvmbus_blk *blk);

/* One logical unit (LUN 0) over a backend. */
struct cvmbus_scsi_disk {
	struct cvmbus_blk *blk;
	uint64_t id;                 /* NAA designator (VPD 0x83) and default serial */
	char serial[21];             /* VPD 0x80; "" = 16 hex digits of id */
	uint32_t max_transfer_bytes; /* VPD 0xB0; 0 = CVMBUS_SCSI_DEFAULT_MAX_TRANSFER */
	bool write_cache;            /* caching mode page WCE */
};

enum cvmbus_scsi_dir {
	CVMBUS_SCSI_DIR_NONE = 0,
	CVMBUS_SCSI_DIR_IN = 1,  /* device -> initiator (READ, INQUIRY ...) */
	CVMBUS_SCSI_DIR_OUT = 2, /* initiator -> device (WRITE, UNMAP) */
};

/* A command: the CDB and the data buffer (private memory: the transport has
 * copied a data-out buffer in before, and copies tx bytes of a data-in one
 * out after). data_len is the initiator's transfer length. */
struct cvmbus_scsi_cmd {
	const uint8_t *cdb;
	uint8_t cdb_len; /* 1..16 */
	uint8_t lun;
	enum cvmbus_scsi_dir dir;
	uint8_t *data;
	uint32_t data_len;
};

struct cvmbus_scsi_result {
	uint8_t status; /* CVMBUS_SCSI_STATUS_* */
	uint32_t tx;    /* bytes of data actually moved (<= data_len) */
	uint8_t sense[CVMBUS_SCSI_SENSE_LEN];
	uint8_t sense_len; /* 0 unless CHECK CONDITION */
};

/* Execute one command. Always produces a result (0); -EINVAL only for
 * NULL arguments. Everything in the CDB is checked against the buffer and
 * the capacity; whatever is not implemented is CHECK CONDITION, ILLEGAL
 * REQUEST, INVALID COMMAND OPERATION CODE. */
int cvmbus_scsi_execute(const struct cvmbus_scsi_disk *disk, const struct cvmbus_scsi_cmd *cmd,
			struct cvmbus_scsi_result *res);

/* Fixed-format sense (0x70): key, ASC, ASCQ; returns its length (18). */
uint8_t cvmbus_scsi_sense_fixed(uint8_t sense[CVMBUS_SCSI_SENSE_LEN], uint8_t key,
				uint16_t asc_ascq);
/* Key and ASC/ASCQ out of fixed (0x70/0x71) or descriptor (0x72/0x73)
 * sense of len bytes. 0, or -EINVAL if it is neither or too short. */
int cvmbus_scsi_sense_parse(const uint8_t *sense, size_t len, uint8_t *key, uint16_t *asc_ascq);

/* ======================================================================
 * The bounce pool (bounce.c)
 * ====================================================================== */

#define CVMBUS_BOUNCE_REASON "bounce"

struct cvmbus_bounce_pool;

struct cvmbus_bounce_pool_config {
	struct cvmbus_exec *exec;
	struct cvmbus_mem *mem; /* the guest's partition memory */
	uint64_t pages;         /* pool size in 4 KiB pages */
};

/* A run of pool pages handed to one request. */
struct cvmbus_bounce_buf {
	uint64_t gpa;   /* first page's GPA (private alias; guest view) */
	uint64_t pages;
};

struct cvmbus_bounce_stats {
	uint64_t pages;            /* pool size */
	uint64_t pages_in_use;
	uint64_t pages_peak;
	uint64_t allocs;
	uint64_t alloc_waits;      /* allocations that had to wait for pages */
	uint64_t alloc_failures;   /* timed out or too large */
	uint64_t bytes_to_device;  /* copied private -> bounce (writes) */
	uint64_t bytes_from_device;/* copied bounce -> private (reads) */
};

/* Allocate `pages` VTL0 pages once and make them shared (party guest,
 * reason "bounce"). -ENOMEM, -EIO from the visibility change. */
int cvmbus_bounce_pool_create(const struct cvmbus_bounce_pool_config *cfg,
			      struct cvmbus_bounce_pool **out);
/* Make the pages private again and free them. No buffer may be in use. */
void cvmbus_bounce_pool_destroy(struct cvmbus_bounce_pool *pool);
uint64_t cvmbus_bounce_pool_gpa(const struct cvmbus_bounce_pool *pool);
uint64_t cvmbus_bounce_pool_pages(const struct cvmbus_bounce_pool *pool);

/* Take ceil(bytes / 4096) contiguous pages, waiting up to timeout_ns for
 * them. -EMSGSIZE if bytes is 0 or more than the pool, -ETIMEDOUT. */
int cvmbus_bounce_alloc(struct cvmbus_bounce_pool *pool, size_t bytes, uint64_t timeout_ns,
			struct cvmbus_bounce_buf *out);
void cvmbus_bounce_free(struct cvmbus_bounce_pool *pool, const struct cvmbus_bounce_buf *buf);
/* Copy len bytes between guest memory at gpa (guest view) and the start of
 * buf, and count them. -EINVAL if len passes the buffer, -EFAULT. */
int cvmbus_bounce_to_device(struct cvmbus_bounce_pool *pool, const struct cvmbus_bounce_buf *buf,
			    uint64_t src_gpa, size_t len);
int cvmbus_bounce_from_device(struct cvmbus_bounce_pool *pool,
			      const struct cvmbus_bounce_buf *buf, uint64_t dst_gpa, size_t len);
/* The PFN to send for page i of buf: its shared alias (GPA | boundary). */
uint64_t cvmbus_bounce_alias_pfn(const struct cvmbus_bounce_pool *pool,
				 const struct cvmbus_bounce_buf *buf, uint64_t i);
void cvmbus_bounce_get_stats(struct cvmbus_bounce_pool *pool, struct cvmbus_bounce_stats *out);

/* ======================================================================
 * The VSP (storvsp.c)
 * ====================================================================== */

struct cvmbus_storvsp;

struct cvmbus_storvsp_config {
	struct cvmbus_exec *exec;
	/* The host (or paravisor) endpoint of an open channel. Its mem ops are
	 * the VSP's only way to guest data: the host view on the host, the
	 * paravisor view in the paravisor. */
	struct cvmbus_channel *channel;
	const struct cvmbus_scsi_disk *disk; /* LUN 0 at path 0, target 0 */
	unsigned workers;        /* backend threads; 0 = 4 */
	unsigned queue_depth;    /* requests in flight; 0 = 256 */
	uint16_t max_version;    /* highest version accepted; 0 = WIN10 */
	/* How often an idle receive loop looks at stop(): the channel has no
	 * "wake the receiver" call short of closing it. 0 = 20 ms. */
	uint64_t poll_ns;
	uint64_t send_timeout_ns; /* a completion waiting for ring space; 0 = 5 s */
	/* SRBs that move at most this many bytes run on the receive thread
	 * itself instead of a worker (flushes and unmaps never do): below a
	 * few pages the hand-over costs more than the I/O. 0 = 16 KiB;
	 * CVMBUS_STORVSP_INLINE_NONE: every SRB goes to a worker (also in a
	 * VTL2 pass, which otherwise runs SRBs of any size itself). */
	uint32_t inline_max;
};
#define CVMBUS_STORVSP_INLINE_NONE UINT32_MAX

enum cvmbus_storvsp_state {
	CVMBUS_STORVSP_STOPPED = 0,
	CVMBUS_STORVSP_RUNNING,
	CVMBUS_STORVSP_STOPPING,
};

/* Where the handshake stands (as OpenVMM's InitState). */
enum cvmbus_storvsp_proto {
	CVMBUS_STORVSP_PROTO_BEGIN = 0,    /* waiting for BEGIN_INITIALIZATION */
	CVMBUS_STORVSP_PROTO_VERSION,      /* waiting for a version we accept */
	CVMBUS_STORVSP_PROTO_PROPERTIES,   /* waiting for QUERY_PROPERTIES */
	CVMBUS_STORVSP_PROTO_END,          /* waiting for END_INITIALIZATION */
	CVMBUS_STORVSP_PROTO_READY,
};

struct cvmbus_storvsp_stats {
	uint64_t packets;        /* received */
	uint64_t srbs;           /* EXECUTE_SRB accepted for execution */
	uint64_t completions;    /* completions sent */
	uint64_t refused;        /* requests answered with an error status unexecuted */
	uint64_t dropped;        /* packets not answered (no completion asked, wrong type) */
	uint64_t abandoned;      /* requests never completed because of stop() */
	uint64_t gpa_faults;     /* data not reachable through the channel's view */
	uint64_t send_errors;    /* completions that could not be sent */
	uint64_t bytes_read;     /* device -> guest */
	uint64_t bytes_written;  /* guest -> device */
	/* Of bytes_read, those the backend read straight into the guest's
	 * buffer (held through the channel, no private copy). */
	uint64_t bytes_read_direct;
	uint32_t max_in_flight;
};

/* Allocate; nothing runs until start. -EINVAL, -ENOMEM. */
int cvmbus_storvsp_create(const struct cvmbus_storvsp_config *cfg, struct cvmbus_storvsp **out);
/* Spawn the receive thread and the workers. -EBUSY if running. */
int cvmbus_storvsp_start(struct cvmbus_storvsp *vsp);
/* Stop receiving and drop everything outstanding: requests queued or in a
 * worker are never completed (a VSP that dies mid-I/O, as the fault tests
 * need). Joins every thread. The handshake state stays. Idempotent. */
void cvmbus_storvsp_stop(struct cvmbus_storvsp *vsp);
/* stop, then free. Safe on NULL. */
void cvmbus_storvsp_destroy(struct cvmbus_storvsp *vsp);
enum cvmbus_storvsp_state cvmbus_storvsp_state(struct cvmbus_storvsp *vsp);
enum cvmbus_storvsp_proto cvmbus_storvsp_proto(struct cvmbus_storvsp *vsp);
uint16_t cvmbus_storvsp_version(struct cvmbus_storvsp *vsp); /* 0 before negotiation */
void cvmbus_storvsp_get_stats(struct cvmbus_storvsp *vsp, struct cvmbus_storvsp_stats *out);

/* ======================================================================
 * The VSC (storvsc.c)
 * ====================================================================== */

struct cvmbus_storvsc;

struct cvmbus_storvsc_config {
	struct cvmbus_exec *exec;
	struct cvmbus_channel *channel; /* the guest endpoint of an open channel */
	struct cvmbus_mem *mem;         /* the guest's memory: buffers are GPAs in it */
	/* The offer's "confidential external memory" flag: the VSP can read
	 * the guest's private pages, so their own PFNs are sent (no copy, no
	 * host-visible page). Without it data goes through `bounce`. */
	bool confidential_external_memory;
	struct cvmbus_bounce_pool *bounce; /* required without the flag */
	/* Test only: a guest that forgets to bounce on a host channel, and
	 * sends its private PFNs anyway. Every data transfer then fails. */
	bool no_bounce;
	unsigned max_outstanding;   /* tag table size; 0 = 128 */
	uint64_t timeout_ns;        /* per request; 0 = 30 s */
	uint64_t poll_ns;           /* receive loop wake-up for stop and timeouts; 0 = 20 ms */
	uint16_t max_version;       /* highest version offered; 0 = WIN10 */
};

enum cvmbus_storvsc_state {
	CVMBUS_STORVSC_IDLE = 0,   /* created, handshake not done */
	CVMBUS_STORVSC_READY,      /* handshake done: I/O allowed */
	CVMBUS_STORVSC_FAILED,     /* handshake refused: no I/O */
	CVMBUS_STORVSC_DEAD,       /* channel closed or VSC stopped: terminal */
};

/* One SCSI command to send. The buffer is `len` bytes of guest memory at
 * `gpa` (VTL0, usually private; any alignment, any number of pages). */
struct cvmbus_storvsc_cmd {
	uint8_t cdb[CVMBUS_VSTOR_MAX_CDB];
	uint8_t cdb_len;
	uint8_t lun;
	enum cvmbus_scsi_dir dir;
	uint64_t gpa;
	uint32_t len;
};

struct cvmbus_storvsc_result {
	int error;           /* 0: the device answered (look at the rest) */
	uint32_t nt_status;  /* the vstor packet's status */
	uint8_t srb_status;  /* flags included */
	uint8_t scsi_status;
	uint32_t transfer_length; /* validated: <= the command's len */
	uint8_t sense[CVMBUS_VSTOR_SENSE_SIZE];
	uint8_t sense_len;
};

struct cvmbus_storvsc_stats {
	uint64_t submitted;
	uint64_t completed;        /* completions matched to a request */
	uint64_t failed;           /* requests ended with error != 0 */
	uint64_t timeouts;
	uint64_t unknown_completions; /* transaction id matches no outstanding request */
	uint64_t bad_completions;  /* matched, but refused (-EPROTO) */
	uint64_t unsolicited;      /* in-band packets from the VSP (rescan hints) */
	uint64_t bytes_read, bytes_written; /* data moved, as the device reported */
	uint64_t direct_bytes;     /* sent as the caller's own PFNs (no copy) */
	uint32_t max_outstanding;  /* peak of requests submitted and not yet waited for */
};

/* Allocate and start the receive thread. -EINVAL (bad config: no bounce
 * pool for a channel without confidential external memory), -ENOMEM. */
int cvmbus_storvsc_create(const struct cvmbus_storvsc_config *cfg, struct cvmbus_storvsc **out);
/* The handshake: BEGIN_INITIALIZATION, QUERY_PROTOCOL_VERSION from the
 * highest version down, QUERY_PROPERTIES, END_INITIALIZATION. 0, -EIO (the
 * VSP refused), -EPROTO, -ETIMEDOUT, -ESHUTDOWN. */
int cvmbus_storvsc_connect(struct cvmbus_storvsc *vsc);
/* Fail every outstanding request (-ESHUTDOWN), stop the receive thread.
 * The channel is left as it is (its owner closes it). Idempotent. */
void cvmbus_storvsc_stop(struct cvmbus_storvsc *vsc);
/* stop, then free. Safe on NULL. */
void cvmbus_storvsc_destroy(struct cvmbus_storvsc *vsc);

enum cvmbus_storvsc_state cvmbus_storvsc_state(struct cvmbus_storvsc *vsc);
uint16_t cvmbus_storvsc_version(struct cvmbus_storvsc *vsc);
/* From QUERY_PROPERTIES (what the VSC enforces on len), or 0. */
uint32_t cvmbus_storvsc_max_transfer(struct cvmbus_storvsc *vsc);

/* Send a command; *tag names it for wait. Never waits for the device; may
 * wait for bounce pages and ring space up to the request timeout. -ENOSPC
 * (no free tag), -ENODEV, -ESHUTDOWN, -EMSGSIZE (len over max transfer or
 * the bounce pool), -EINVAL, -EFAULT (the buffer is not guest memory). */
int cvmbus_storvsc_submit(struct cvmbus_storvsc *vsc, const struct cvmbus_storvsc_cmd *cmd,
			  uint32_t *tag);
/* Wait for a submitted command and release its tag. Returns res->error.
 * Never hangs: a request ends by its completion, its timeout, or the
 * channel's close, whichever comes first. */
int cvmbus_storvsc_wait(struct cvmbus_storvsc *vsc, uint32_t tag,
			struct cvmbus_storvsc_result *res);
/* submit + wait. */
int cvmbus_storvsc_execute(struct cvmbus_storvsc *vsc, const struct cvmbus_storvsc_cmd *cmd,
			   struct cvmbus_storvsc_result *res);
/* 0 if res is GOOD with srb SUCCESS, -EIO if the device refused (SRB
 * error or CHECK CONDITION), else res->error. */
int cvmbus_storvsc_result_errno(const struct cvmbus_storvsc_result *res);

/* Conveniences over execute: 0 or a negative errno (-EIO for a device
 * error, including a short transfer). Buffers are guest GPAs. */
int cvmbus_storvsc_read(struct cvmbus_storvsc *vsc, uint64_t lba, uint32_t sectors,
			uint64_t gpa);
int cvmbus_storvsc_write(struct cvmbus_storvsc *vsc, uint64_t lba, uint32_t sectors,
			 uint64_t gpa);
int cvmbus_storvsc_flush(struct cvmbus_storvsc *vsc);
/* UNMAP one extent; the 24-byte parameter list goes through guest memory
 * at scratch_gpa (private; bounced like any other data). */
int cvmbus_storvsc_unmap(struct cvmbus_storvsc *vsc, uint64_t lba, uint32_t sectors,
			 uint64_t scratch_gpa);
int cvmbus_storvsc_test_unit_ready(struct cvmbus_storvsc *vsc);
/* READ CAPACITY(16) through scratch_gpa (32 bytes). */
int cvmbus_storvsc_read_capacity(struct cvmbus_storvsc *vsc, uint64_t scratch_gpa,
				 uint64_t *sectors, uint32_t *block_size);
/* INQUIRY (evpd, page) of len bytes into gpa; *got = bytes returned. */
int cvmbus_storvsc_inquiry(struct cvmbus_storvsc *vsc, bool evpd, uint8_t page, uint64_t gpa,
			   uint32_t len, uint32_t *got);

void cvmbus_storvsc_get_stats(struct cvmbus_storvsc *vsc, struct cvmbus_storvsc_stats *out);

#endif /* CVMBUS_STORAGE_H */
