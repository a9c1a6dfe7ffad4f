/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V synthetic networking over VMBus (layer src/dev, on top of the
 * device-facing channel of include/cvmbus/channel.h). Five parts, one file
 * each under src/dev:
 *
 *   nvsp.c     the NVSP wire format (the Network VSP protocol that frames
 *              every packet of a netvsc channel): message types, versions,
 *              one table of sizes, directions and minimum versions, and the
 *              checks a receiver applies to every field the peer wrote;
 *   rndis.c    RNDIS messages carried inside NVSP: builders and a parser that
 *              bounds-checks every offset and length against the message;
 *   netvsp.c   the VSP (the device): written once against the channel API,
 *              the same code on the host or in the paravisor; the channel's
 *              memory ops decide which view it reads the guest's buffers
 *              through;
 *   netvsc.c   the VSC (the guest's driver): NVSP and RNDIS handshakes,
 *              receive and send buffers as device GPADLs, frames both ways;
 *   net_tap.c  a TAP backend (Linux /dev/net/tun), used on either side.
 *
 * How frames move (the Linux netvsc / Hyper-V design):
 *   guest -> host  the VSC copies RNDIS PACKET + frame into a section of its
 *                  send buffer and sends NVSP SEND_RNDIS_PKT naming the
 *                  section (or, with gpa_direct, a GPA-direct packet naming
 *                  the same bytes); the VSP completes it, freeing the section.
 *   host -> guest  the VSP writes RNDIS PACKET + frame into a free section of
 *                  the guest's receive buffer and sends a transfer-page packet
 *                  (type 7, set id = the receive buffer's id) whose range
 *                  names that section; the VSC copies it out and completes
 *                  the packet, which returns the section to the VSP.
 *   RNDIS control messages (INITIALIZE, QUERY, SET ...) travel the same two
 *   ways with NVSP channel type "control".
 *
 * Wire facts are those of Linux drivers/net/hyperv (hyperv_net.h, netvsc.c,
 * rndis_filter.c), DPDK drivers/net/netvsc and OpenVMM vm/devices/net/netvsp.
 * The wire is little-endian. See docs/NETWORK.md.
 *
 * Errors are negative errno values:
 *   -EINVAL     bad argument; a field with a value the protocol does not allow
 *   -EMSGSIZE   a message shorter than its type needs; a frame too big or small
 *   -ENOMSG     an unknown message type
 *   -ERANGE     an offset, index or length outside the buffer it points into
 *   -EPROTO     the peer broke the protocol (wrong direction, version, state)
 *   -EIO        the peer answered with a failure status
 *   -ENOTCONN   the device is not ready for frames yet (handshake not done)
 *   -ETIMEDOUT  no answer or no free section within the timeout
 *   -EAGAIN     no free section now (timeout 0)
 *   -ESHUTDOWN  the channel closed or the device was stopped
 *   -ENOBUFS    a builder's buffer is too small
 *   -EFAULT     memory not reachable through this endpoint's view
 *   -ENOMEM, -errno from the TAP device
 */
#ifndef CVMBUS_NET_H
#define CVMBUS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/channel.h>
#include <cvmbus/exec.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "nvsp and rndis structs are the little-endian wire layout");

/* ======================================================================
 * Ethernet facts both sides use
 * ====================================================================== */

#define CVMBUS_NET_ETH_HLEN    14u
#define CVMBUS_NET_ETH_ALEN    6u
#define CVMBUS_NET_MIN_FRAME   CVMBUS_NET_ETH_HLEN /* a header, nothing more */
#define CVMBUS_NET_DEFAULT_MTU 1500u
#define CVMBUS_NET_MAX_MTU     9000u

/* Frames handed between a device and its backend. The frame is only valid
 * during the call. */
typedef void cvmbus_net_frame_fn(void *ctx, const void *frame, size_t len);

/* Offload state of one frame, in the layout of Linux's struct
 * virtio_net_hdr (include/uapi/linux/virtio_net.h), which a TAP opened with
 * IFF_VNET_HDR reads and writes ahead of every frame, so that a backend
 * hands it to the kernel as it is. All zero: a plain, complete frame.
 *   NEEDS_CSUM  the L4 checksum is still to be done: its field holds the
 *               folded pseudo-header sum; sum from csum_start to the end
 *               and store at csum_start + csum_offset;
 *   CSUM_VALID  the L4 checksum was verified (or need not be);
 *   gso_type    TCPV4/TCPV6: one TCP segment of up to 64 KiB, to be cut
 *               into gso_size-byte payloads behind hdr_len bytes of
 *               headers (NEEDS_CSUM is then set too). */
#define CVMBUS_NET_OFF_NEEDS_CSUM 0x01u
#define CVMBUS_NET_OFF_CSUM_VALID 0x02u
#define CVMBUS_NET_GSO_NONE  0u
#define CVMBUS_NET_GSO_TCPV4 1u
#define CVMBUS_NET_GSO_TCPV6 4u
struct cvmbus_net_offload {
	uint8_t flags;        /* @0: CVMBUS_NET_OFF_* */
	uint8_t gso_type;     /* @1: CVMBUS_NET_GSO_* */
	uint16_t hdr_len;     /* @2: Ethernet + IP + TCP headers of a GSO frame */
	uint16_t gso_size;    /* @4: TCP payload bytes per segment (the MSS) */
	uint16_t csum_start;  /* @6: from the frame's start */
	uint16_t csum_offset; /* @8: from csum_start */
};
_Static_assert(sizeof(struct cvmbus_net_offload) == 10, "virtio_net_hdr size");
_Static_assert(offsetof(struct cvmbus_net_offload, csum_start) == 6, "csum_start");

/* The largest frame a GSO segment may be: Ethernet, an IPv6 header and the
 * largest IP payload (IPv4's total length, IPv6's payload length: 16 bits). */
#define CVMBUS_NET_GSO_MAX_FRAME (CVMBUS_NET_ETH_HLEN + 40u + 65535u)
/* The smallest MSS a GSO frame may ask for: smaller ones would make the
 * receiving kernel cut one 64 KiB frame into thousands. */
#define CVMBUS_NET_MIN_MSS 64u

/* A frame with its offload state (off never NULL; all zero: plain). */
typedef void cvmbus_net_offload_frame_fn(void *ctx, const struct cvmbus_net_offload *off,
					 const void *frame, size_t len);

/* Offloads, as one side grants them (bit set: enabled). */
#define CVMBUS_NET_OFFLOAD_CSUM4  0x1u /* TCP/UDP over IPv4 checksum, guest -> host */
#define CVMBUS_NET_OFFLOAD_CSUM6  0x2u /* TCP/UDP over IPv6 checksum, guest -> host */
#define CVMBUS_NET_OFFLOAD_LSO4   0x4u /* LSOv2, TCP over IPv4 */
#define CVMBUS_NET_OFFLOAD_LSO6   0x8u /* LSOv2, TCP over IPv6 */
#define CVMBUS_NET_OFFLOAD_RXCSUM 0x10u /* host -> guest checksum state */
#define CVMBUS_NET_OFFLOAD_ALL    0x1fu

/* ======================================================================
 * NVSP wire format (nvsp.c)
 * ====================================================================== */

/* Protocol versions, major in the high 16 bits. Version 1 is 0.2. */
#define CVMBUS_NVSP_VERSION_1  0x00002u
#define CVMBUS_NVSP_VERSION_2  0x30002u
#define CVMBUS_NVSP_VERSION_4  0x40000u
#define CVMBUS_NVSP_VERSION_5  0x50000u
#define CVMBUS_NVSP_VERSION_6  0x60000u
#define CVMBUS_NVSP_VERSION_61 0x60001u

/* NDIS versions a VSC announces: 6.1 up to NVSP 4, 6.30 after. */
#define CVMBUS_NDIS_VERSION_6_1  0x00060001u
#define CVMBUS_NDIS_VERSION_6_30 0x0006001eu

/* Every NVSP message is sent as 40 bytes (the size of Linux's union);
 * version 1 peers sent 28 (0x1c), so a receiver only asks for the bytes
 * its message type needs. */
#define CVMBUS_NVSP_MSG_SIZE    40u
#define CVMBUS_NVSP_MSG_SIZE_V1 28u

enum cvmbus_nvsp_type {
	CVMBUS_NVSP_INIT = 1,
	CVMBUS_NVSP_INIT_COMPLETE = 2,
	CVMBUS_NVSP_SEND_NDIS_VERSION = 100,
	CVMBUS_NVSP_SEND_RECV_BUF = 101,
	CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE = 102,
	CVMBUS_NVSP_REVOKE_RECV_BUF = 103,
	CVMBUS_NVSP_SEND_SEND_BUF = 104,
	CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE = 105,
	CVMBUS_NVSP_REVOKE_SEND_BUF = 106,
	CVMBUS_NVSP_SEND_RNDIS_PKT = 107,
	CVMBUS_NVSP_SEND_RNDIS_PKT_COMPLETE = 108,
	/* 109..124: chimney and VMQ messages of version 2, never used */
	CVMBUS_NVSP_SEND_NDIS_CONFIG = 125,
	CVMBUS_NVSP_ALLOC_CHIMNEY_HANDLE = 126,
	CVMBUS_NVSP_ALLOC_CHIMNEY_HANDLE_COMPLETE = 127,
	CVMBUS_NVSP_SEND_VF_ASSOCIATION = 128,
	CVMBUS_NVSP_SWITCH_DATA_PATH = 129,
	CVMBUS_NVSP_UPLINK_CONNECT_STATE = 130, /* deprecated */
	CVMBUS_NVSP_OID_QUERY_EX = 131,
	CVMBUS_NVSP_OID_QUERY_EX_COMPLETE = 132,
	CVMBUS_NVSP_SUBCHANNEL = 133, /* request and response share the number */
	CVMBUS_NVSP_SEND_INDIRECTION_TABLE = 134,
	CVMBUS_NVSP_PD_API = 135,
	CVMBUS_NVSP_PD_POST_BATCH = 136,
};

enum cvmbus_nvsp_status {
	CVMBUS_NVSP_STATUS_NONE = 0,
	CVMBUS_NVSP_STATUS_SUCCESS = 1,
	CVMBUS_NVSP_STATUS_FAILURE = 2,
	CVMBUS_NVSP_STATUS_PROTOCOL_TOO_NEW = 3,
	CVMBUS_NVSP_STATUS_PROTOCOL_TOO_OLD = 4,
	CVMBUS_NVSP_STATUS_INVALID_RNDIS_PKT = 5,
	CVMBUS_NVSP_STATUS_BUSY = 6,
	CVMBUS_NVSP_STATUS_PROTOCOL_UNSUPPORTED = 7,
};

/* SEND_RNDIS_PKT channel types: what the RNDIS message inside carries. */
#define CVMBUS_NVSP_CHANNEL_DATA    0u
#define CVMBUS_NVSP_CHANNEL_CONTROL 1u
/* send_buf_section_index when the send buffer is not used. */
#define CVMBUS_NVSP_NO_SECTION 0xffffffffu
/* The buffer ids Linux uses; any u16 is legal on the wire. */
#define CVMBUS_NVSP_RECV_BUF_ID 0xcafeu
#define CVMBUS_NVSP_SEND_BUF_ID 0u

/* Message bodies; offsets are from the start of the message (the type word
 * is @0). Only u32 fields, so the natural layout is the wire layout; the one
 * u64 of the protocol (NDIS_CONFIG's capabilities, @12) is split in two. */
struct cvmbus_nvsp_init {
	uint32_t min_version; /* @4: Linux sends min == max, one try per version */
	uint32_t max_version; /* @8 */
};
struct cvmbus_nvsp_init_complete {
	uint32_t negotiated_version; /* @4: deprecated, informational */
	uint32_t max_mdl_chain_len;  /* @8 */
	uint32_t status;             /* @12: enum cvmbus_nvsp_status */
};
struct cvmbus_nvsp_ndis_version {
	uint32_t major; /* @4 */
	uint32_t minor; /* @8 */
};
struct cvmbus_nvsp_ndis_config {
	uint32_t mtu;      /* @4: frame size, Ethernet header included */
	uint32_t reserved; /* @8 */
	uint32_t caps_lo;  /* @12: capability bits (vmq, chimney, sriov, 802.1q ...) */
	uint32_t caps_hi;  /* @16 */
};
/* SEND_RECV_BUF and SEND_SEND_BUF. */
struct cvmbus_nvsp_buf {
	uint32_t gpadl;    /* @4: the GPADL handle of the buffer */
	uint16_t id;       /* @8: echoed by transfer-page packets (set id) */
	uint16_t reserved; /* @10 */
};
struct cvmbus_nvsp_recv_section {
	uint32_t offset;         /* byte offset of the first sub-allocation */
	uint32_t sub_alloc_size; /* bytes per section */
	uint32_t num_sub_allocs; /* number of sections */
	uint32_t end_offset;     /* offset + size * count */
};
struct cvmbus_nvsp_recv_buf_complete {
	uint32_t status;       /* @4 */
	uint32_t num_sections; /* @8: every VSP sends exactly one */
	struct cvmbus_nvsp_recv_section section; /* @12 */
};
struct cvmbus_nvsp_revoke_buf {
	uint16_t id; /* @4 */
	uint16_t reserved;
};
struct cvmbus_nvsp_send_buf_complete {
	uint32_t status;       /* @4 */
	uint32_t section_size; /* @8: the VSP chooses it */
};
struct cvmbus_nvsp_rndis_pkt {
	uint32_t channel_type;  /* @4: CVMBUS_NVSP_CHANNEL_* */
	uint32_t section_index; /* @8: send buffer section, or CVMBUS_NVSP_NO_SECTION */
	uint32_t section_size;  /* @12: bytes used in that section */
};
struct cvmbus_nvsp_rndis_pkt_complete {
	uint32_t status; /* @4 */
};
struct cvmbus_nvsp_subchannel {
	uint32_t op_or_status; /* @4: request op (1 = allocate) / response status */
	uint32_t count;        /* @8 */
};
/* The shape of every refusal this implementation sends: the status word
 * right after the type, where each *_COMPLETE message has it. */
struct cvmbus_nvsp_status_only {
	uint32_t status; /* @4 */
};

struct cvmbus_nvsp_msg {
	uint32_t type; /* @0: enum cvmbus_nvsp_type */
	union {
		struct cvmbus_nvsp_init init;
		struct cvmbus_nvsp_init_complete init_complete;
		struct cvmbus_nvsp_ndis_version ndis_version;
		struct cvmbus_nvsp_ndis_config ndis_config;
		struct cvmbus_nvsp_buf buf;
		struct cvmbus_nvsp_recv_buf_complete recv_buf_complete;
		struct cvmbus_nvsp_revoke_buf revoke;
		struct cvmbus_nvsp_send_buf_complete send_buf_complete;
		struct cvmbus_nvsp_rndis_pkt rndis;
		struct cvmbus_nvsp_rndis_pkt_complete rndis_complete;
		struct cvmbus_nvsp_subchannel subchannel;
		struct cvmbus_nvsp_status_only status;
		uint8_t raw[CVMBUS_NVSP_MSG_SIZE - 4];
	} u;
};

_Static_assert(sizeof(struct cvmbus_nvsp_msg) == CVMBUS_NVSP_MSG_SIZE, "nvsp message");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u) == 4, "nvsp body");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u.init.max_version) == 8, "init max");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u.init_complete.status) == 12, "init status");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u.ndis_version.minor) == 8, "ndis minor");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u.ndis_config.caps_lo) == 12, "ndis caps");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u.buf.id) == 8, "buf id");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u.recv_buf_complete.num_sections) == 8,
	       "recv complete sections");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u.recv_buf_complete.section) == 12,
	       "recv complete section");
_Static_assert(sizeof(struct cvmbus_nvsp_recv_section) == 16, "recv section");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u.send_buf_complete.section_size) == 8,
	       "send complete size");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u.rndis.section_index) == 8, "rndis index");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u.rndis.section_size) == 12, "rndis size");
_Static_assert(offsetof(struct cvmbus_nvsp_msg, u.rndis_complete.status) == 4, "rndis status");

/* Which way a message travels. */
enum cvmbus_nvsp_dir {
	CVMBUS_NVSP_G2H = 0x1, /* guest (VSC) to host (VSP) */
	CVMBUS_NVSP_H2G = 0x2,
};

/* The versions this implementation speaks, newest first. */
const uint32_t *cvmbus_nvsp_versions(size_t *count);
bool cvmbus_nvsp_version_supported(uint32_t version);
/* The newest supported version in [min, max], or 0 if none. */
uint32_t cvmbus_nvsp_pick_version(uint32_t min, uint32_t max);

/* Facts from the protocol table: the bytes a message of `type` needs
 * (type word included; 0 for an unknown type), its name ("unknown"), the
 * directions it may travel (0 if unknown), the first version that has it. */
uint32_t cvmbus_nvsp_min_size(uint32_t type);
const char *cvmbus_nvsp_type_name(uint32_t type);
unsigned cvmbus_nvsp_type_dirs(uint32_t type);
uint32_t cvmbus_nvsp_type_min_version(uint32_t type);
/* The type a refusal of request `type` is sent as (the matching *_COMPLETE,
 * or the type itself where request and response share it). */
uint32_t cvmbus_nvsp_response_type(uint32_t type);

/* Copy one NVSP message the peer wrote (buf/len: the packet's payload, the
 * sender's padding included) into *out, zero-padded to 40 bytes, and check
 * it against the table: 0, -EMSGSIZE (shorter than its type needs or than
 * the type word), -ENOMSG (unknown type), -EPROTO (travels the other way,
 * or newer than `version`; version 0 = before INIT: only INIT and
 * INIT_COMPLETE pass). *out is filled whenever the type word was there. */
int cvmbus_nvsp_decode(const void *buf, size_t len, uint32_t version, enum cvmbus_nvsp_dir dir,
		       struct cvmbus_nvsp_msg *out);

/* A zeroed message of `type`. */
void cvmbus_nvsp_msg_init(struct cvmbus_nvsp_msg *m, uint32_t type);

/* Field checks, each for the side that receives the message:
 * VSC, SEND_RECV_BUF_COMPLETE: status success (-EIO), exactly one section
 * starting at 0 whose sections are at least min_section bytes and end
 * inside the buffer with end_offset consistent (-EPROTO). */
int cvmbus_nvsp_check_recv_buf_complete(const struct cvmbus_nvsp_msg *m, uint64_t buf_bytes,
					uint32_t min_section,
					struct cvmbus_nvsp_recv_section *out);
/* VSC, SEND_SEND_BUF_COMPLETE: success (-EIO), min_section <= section size
 * <= buf_bytes (-EPROTO); *count = buf_bytes / size. */
int cvmbus_nvsp_check_send_buf_complete(const struct cvmbus_nvsp_msg *m, uint64_t buf_bytes,
					uint32_t min_section, uint32_t *section_size,
					uint32_t *count);
/* VSP, SEND_RNDIS_PKT against the attached send buffer (count 0: none):
 * channel type known (-EINVAL); index CVMBUS_NVSP_NO_SECTION, or < count
 * (-ERANGE) with 0 < section_size <= size (-EMSGSIZE). */
int cvmbus_nvsp_check_rndis_pkt(const struct cvmbus_nvsp_msg *m, uint32_t section_count,
				uint32_t section_size);

/* ======================================================================
 * RNDIS (rndis.c)
 * ====================================================================== */

#define CVMBUS_RNDIS_MSG_PACKET          0x00000001u
#define CVMBUS_RNDIS_MSG_INITIALIZE      0x00000002u
#define CVMBUS_RNDIS_MSG_HALT            0x00000003u
#define CVMBUS_RNDIS_MSG_QUERY           0x00000004u
#define CVMBUS_RNDIS_MSG_SET             0x00000005u
#define CVMBUS_RNDIS_MSG_RESET           0x00000006u
#define CVMBUS_RNDIS_MSG_INDICATE_STATUS 0x00000007u
#define CVMBUS_RNDIS_MSG_KEEPALIVE       0x00000008u
#define CVMBUS_RNDIS_CMPLT               0x80000000u /* or'ed into a request's type */
#define CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT (CVMBUS_RNDIS_MSG_INITIALIZE | CVMBUS_RNDIS_CMPLT)
#define CVMBUS_RNDIS_MSG_QUERY_CMPLT      (CVMBUS_RNDIS_MSG_QUERY | CVMBUS_RNDIS_CMPLT)
#define CVMBUS_RNDIS_MSG_SET_CMPLT        (CVMBUS_RNDIS_MSG_SET | CVMBUS_RNDIS_CMPLT)
#define CVMBUS_RNDIS_MSG_RESET_CMPLT      (CVMBUS_RNDIS_MSG_RESET | CVMBUS_RNDIS_CMPLT)
#define CVMBUS_RNDIS_MSG_KEEPALIVE_CMPLT  (CVMBUS_RNDIS_MSG_KEEPALIVE | CVMBUS_RNDIS_CMPLT)

#define CVMBUS_RNDIS_STATUS_SUCCESS           0x00000000u
#define CVMBUS_RNDIS_STATUS_FAILURE           0xc0000001u
#define CVMBUS_RNDIS_STATUS_NOT_SUPPORTED     0xc00000bbu
#define CVMBUS_RNDIS_STATUS_INVALID_DATA      0xc0010015u
#define CVMBUS_RNDIS_STATUS_MEDIA_CONNECT     0x4001000bu
#define CVMBUS_RNDIS_STATUS_MEDIA_DISCONNECT  0x4001000cu
#define CVMBUS_RNDIS_STATUS_LINK_SPEED_CHANGE 0x40010013u
#define CVMBUS_RNDIS_STATUS_NETWORK_CHANGE    0x40010018u

#define CVMBUS_OID_GEN_MAXIMUM_FRAME_SIZE    0x00010106u /* u32: the MTU */
#define CVMBUS_OID_GEN_LINK_SPEED            0x00010107u /* u32: units of 100 bit/s */
#define CVMBUS_OID_GEN_CURRENT_PACKET_FILTER 0x0001010eu /* u32: CVMBUS_RNDIS_FILTER_* */
#define CVMBUS_OID_GEN_MAXIMUM_TOTAL_SIZE    0x00010111u /* u32: MTU + header */
#define CVMBUS_OID_GEN_MEDIA_CONNECT_STATUS  0x00010114u /* u32: 0 connected, 1 not */
#define CVMBUS_OID_802_3_PERMANENT_ADDRESS   0x01010101u /* 6 bytes */
#define CVMBUS_OID_802_3_CURRENT_ADDRESS     0x01010102u /* 6 bytes */

/* The NDIS 6 offload OIDs (Linux hyperv_net.h): the VSP answers the
 * capabilities query with a struct cvmbus_ndis_offload and takes the
 * guest's choice as a struct cvmbus_ndis_offload_params. */
#define CVMBUS_OID_TCP_OFFLOAD_PARAMETERS            0xfc01020cu /* set */
#define CVMBUS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES 0xfc01020du /* query */

#define CVMBUS_RNDIS_MEDIA_CONNECTED    0u
#define CVMBUS_RNDIS_MEDIA_DISCONNECTED 1u

#define CVMBUS_RNDIS_FILTER_DIRECTED      0x00000001u
#define CVMBUS_RNDIS_FILTER_MULTICAST     0x00000002u
#define CVMBUS_RNDIS_FILTER_ALL_MULTICAST 0x00000004u
#define CVMBUS_RNDIS_FILTER_BROADCAST     0x00000008u
#define CVMBUS_RNDIS_FILTER_PROMISCUOUS   0x00000020u

#define CVMBUS_RNDIS_MAJOR_VERSION 1u
#define CVMBUS_RNDIS_MINOR_VERSION 0u
#define CVMBUS_RNDIS_DF_CONNECTIONLESS 0x1u
#define CVMBUS_RNDIS_MEDIUM_802_3 0u

/* Every message starts with this; bodies follow at @8 and every offset
 * field inside a body counts from the body's start, not the message's. */
struct cvmbus_rndis_header {
	uint32_t type; /* @0 */
	uint32_t len;  /* @4: the whole message, header included */
};
struct cvmbus_rndis_init_req {
	uint32_t req_id;   /* @8 */
	uint32_t major;    /* @12 */
	uint32_t minor;    /* @16 */
	uint32_t max_xfer; /* @20 */
};
struct cvmbus_rndis_init_cmplt {
	uint32_t req_id;          /* @8 */
	uint32_t status;          /* @12 */
	uint32_t major;           /* @16 */
	uint32_t minor;           /* @20 */
	uint32_t dev_flags;       /* @24 */
	uint32_t medium;          /* @28 */
	uint32_t max_pkt_per_msg; /* @32 */
	uint32_t max_xfer;        /* @36 */
	uint32_t align_shift;     /* @40: packets aligned to 1 << this */
	uint32_t af_offset;       /* @44 */
	uint32_t af_size;         /* @48 */
};
/* QUERY and SET requests. */
struct cvmbus_rndis_oid_req {
	uint32_t req_id;      /* @8 */
	uint32_t oid;         /* @12 */
	uint32_t info_len;    /* @16 */
	uint32_t info_offset; /* @20: from the body (@8) */
	uint32_t vc_handle;   /* @24 */
};
struct cvmbus_rndis_query_cmplt {
	uint32_t req_id;      /* @8 */
	uint32_t status;      /* @12 */
	uint32_t info_len;    /* @16 */
	uint32_t info_offset; /* @20: from the body (@8) */
};
/* SET_CMPLT and KEEPALIVE_CMPLT. */
struct cvmbus_rndis_status_cmplt {
	uint32_t req_id; /* @8 */
	uint32_t status; /* @12 */
};
/* HALT and KEEPALIVE requests; RESET's body is one reserved word. */
struct cvmbus_rndis_id_req {
	uint32_t req_id; /* @8 */
};
struct cvmbus_rndis_reset_cmplt {
	uint32_t status;           /* @8 */
	uint32_t addressing_reset; /* @12 */
};
struct cvmbus_rndis_indicate {
	uint32_t status;     /* @8 */
	uint32_t buf_len;    /* @12 */
	uint32_t buf_offset; /* @16: from the body (@8) */
};
struct cvmbus_rndis_packet {
	uint32_t data_offset; /* @8: from the body (@8) */
	uint32_t data_len;    /* @12 */
	uint32_t oob_offset;  /* @16 */
	uint32_t oob_len;     /* @20 */
	uint32_t oob_count;   /* @24 */
	uint32_t ppi_offset;  /* @28: from the body */
	uint32_t ppi_len;     /* @32 */
	uint32_t vc_handle;   /* @36 */
	uint32_t reserved;    /* @40 */
};
/* A per-packet-info element inside a PACKET's ppi area. */
struct cvmbus_rndis_ppi {
	uint32_t size;   /* the element, header included */
	uint32_t type;   /* bit 31: internal */
	uint32_t offset; /* of the value, from the element's start */
};

/* Per-packet info types a PACKET may carry (the NDIS NET_BUFFER_LIST info
 * numbers). Values are one u32 each. */
#define CVMBUS_RNDIS_PPI_CHECKSUM 0u
#define CVMBUS_RNDIS_PPI_LSO      2u
#define CVMBUS_RNDIS_PPI_ELEM_SIZE 16u /* header + one u32 value */

/* Checksum info, guest -> host (what to compute): bits 0..4, and the
 * transport header's offset in the frame in bits 16..25. */
#define CVMBUS_RNDIS_CSUM_TX_IPV4  (1u << 0)
#define CVMBUS_RNDIS_CSUM_TX_IPV6  (1u << 1)
#define CVMBUS_RNDIS_CSUM_TX_TCP   (1u << 2)
#define CVMBUS_RNDIS_CSUM_TX_UDP   (1u << 3)
#define CVMBUS_RNDIS_CSUM_TX_IP    (1u << 4)
#define CVMBUS_RNDIS_CSUM_TX_OFF_SHIFT 16
#define CVMBUS_RNDIS_CSUM_TX_OFF_MASK  0x3ffu
/* Checksum info, host -> guest (what was verified). */
#define CVMBUS_RNDIS_CSUM_RX_TCP_FAILED (1u << 0)
#define CVMBUS_RNDIS_CSUM_RX_UDP_FAILED (1u << 1)
#define CVMBUS_RNDIS_CSUM_RX_IP_FAILED  (1u << 2)
#define CVMBUS_RNDIS_CSUM_RX_TCP_OK     (1u << 3)
#define CVMBUS_RNDIS_CSUM_RX_UDP_OK     (1u << 4)
#define CVMBUS_RNDIS_CSUM_RX_IP_OK      (1u << 5)
/* LSOv2 transmit info: MSS in bits 0..19, TCP header offset in 20..29,
 * bit 30 the type (1: LSOv2), bit 31 the IP version (0: 4, 1: 6). */
#define CVMBUS_RNDIS_LSO_MSS_MASK   0xfffffu
#define CVMBUS_RNDIS_LSO_OFF_SHIFT  20
#define CVMBUS_RNDIS_LSO_OFF_MASK   0x3ffu
#define CVMBUS_RNDIS_LSO_V2         (1u << 30)
#define CVMBUS_RNDIS_LSO_IPV6       (1u << 31)

/* NDIS object header of the offload structures. */
struct cvmbus_ndis_obj_header {
	uint8_t type;     /* @0 */
	uint8_t revision; /* @1 */
	uint16_t size;    /* @2 */
};
#define CVMBUS_NDIS_OBJECT_TYPE_DEFAULT 0x80u
#define CVMBUS_NDIS_OBJECT_TYPE_OFFLOAD 0xa7u

/* OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES' answer (NDIS_OFFLOAD, revision
 * 3: 156 bytes; 6.0 peers read the first 112). */
#define CVMBUS_NDIS_ENCAP_8023 0x2u
#define CVMBUS_NDIS_CSUM_CAP_TCPOPT 0x004u /* TCP options */
#define CVMBUS_NDIS_CSUM_CAP_TCP    0x010u
#define CVMBUS_NDIS_CSUM_CAP_UDP    0x040u
#define CVMBUS_NDIS_LSOV2_CAP_TCP6OPT 0x004u
struct cvmbus_ndis_offload {
	struct cvmbus_ndis_obj_header header; /* @0 */
	/* checksum: ip4 tx encap, ip4 tx caps, ip4 rx encap, ip4 rx caps,
	 * then the same four for IPv6 */
	uint32_t csum[8];        /* @4 */
	uint32_t lsov1[4];       /* @36: encap, max size, min segments, opts */
	uint32_t ipsecv1[7];     /* @52 */
	/* ip4 encap, ip4 max size, ip4 min segments, ip6 encap, ip6 max
	 * size, ip6 min segments, ip6 opts */
	uint32_t lsov2[7];       /* @80 */
	uint32_t flags;          /* @108 */
	uint8_t ipsecv2[32];     /* @112 (NDIS 6.1) */
	uint8_t rsc_ip4, rsc_ip6; /* @144 (NDIS 6.30) */
	uint8_t pad[2];
	uint32_t encap_gre[2];   /* @148 */
};
_Static_assert(sizeof(struct cvmbus_ndis_offload) == 156, "ndis offload");
_Static_assert(offsetof(struct cvmbus_ndis_offload, lsov2) == 80, "ndis offload lsov2");
_Static_assert(offsetof(struct cvmbus_ndis_offload, flags) == 108, "ndis offload flags");
_Static_assert(offsetof(struct cvmbus_ndis_offload, rsc_ip4) == 144, "ndis offload rsc");
#define CVMBUS_NDIS_OFFLOAD_SIZE_6_0 112u

/* OID_TCP_OFFLOAD_PARAMETERS (NDIS_OFFLOAD_PARAMETERS; revision 2 is 22
 * bytes, revision 3 28). Each u8: 0 no change, then per field below. */
#define CVMBUS_NDIS_OFFLOAD_NO_CHANGE      0u
#define CVMBUS_NDIS_OFFLOAD_TX_RX_DISABLED 1u /* checksum fields */
#define CVMBUS_NDIS_OFFLOAD_TX_ENABLED     2u
#define CVMBUS_NDIS_OFFLOAD_RX_ENABLED     3u
#define CVMBUS_NDIS_OFFLOAD_TX_RX_ENABLED  4u
#define CVMBUS_NDIS_OFFLOAD_LSOV2_DISABLED 1u /* lso_v2 fields */
#define CVMBUS_NDIS_OFFLOAD_LSOV2_ENABLED  2u
struct cvmbus_ndis_offload_params {
	struct cvmbus_ndis_obj_header header; /* @0 */
	uint8_t ip4_csum;      /* @4 */
	uint8_t tcp4_csum;     /* @5 */
	uint8_t udp4_csum;     /* @6 */
	uint8_t tcp6_csum;     /* @7 */
	uint8_t udp6_csum;     /* @8 */
	uint8_t lso_v1;        /* @9 */
	uint8_t ipsec_v1;      /* @10 */
	uint8_t lso_v2_ip4;    /* @11 */
	uint8_t lso_v2_ip6;    /* @12 */
	uint8_t tcp_conn_ip4;  /* @13 */
	uint8_t tcp_conn_ip6;  /* @14 */
	uint8_t pad;
	uint32_t flags;        /* @16 */
	uint8_t ipsec_v2;      /* @20 */
	uint8_t ipsec_v2_ip4;  /* @21 */
	uint8_t rsc_ip4;       /* @22 */
	uint8_t rsc_ip6;       /* @23 */
	uint8_t encap_offload; /* @24 */
	uint8_t encap_types;   /* @25 */
	uint8_t pad2[2];
};
_Static_assert(sizeof(struct cvmbus_ndis_offload_params) == 28, "ndis offload params");
_Static_assert(offsetof(struct cvmbus_ndis_offload_params, lso_v2_ip6) == 12, "params lso6");
_Static_assert(offsetof(struct cvmbus_ndis_offload_params, flags) == 16, "params flags");
/* The bytes a SET must carry at least: up to lso_v2_ip6. */
#define CVMBUS_NDIS_OFFLOAD_PARAMS_MIN 13u

#define CVMBUS_RNDIS_HEADER_SIZE 8u
#define CVMBUS_RNDIS_PACKET_HEADER_SIZE (CVMBUS_RNDIS_HEADER_SIZE + 36u) /* 44 */

_Static_assert(sizeof(struct cvmbus_rndis_header) == 8, "rndis header");
_Static_assert(sizeof(struct cvmbus_rndis_init_req) == 16, "rndis init");
_Static_assert(sizeof(struct cvmbus_rndis_init_cmplt) == 44, "rndis init cmplt");
_Static_assert(offsetof(struct cvmbus_rndis_init_cmplt, align_shift) == 32, "init align");
_Static_assert(sizeof(struct cvmbus_rndis_oid_req) == 20, "rndis query/set");
_Static_assert(offsetof(struct cvmbus_rndis_oid_req, info_offset) == 12, "oid info offset");
_Static_assert(sizeof(struct cvmbus_rndis_query_cmplt) == 16, "rndis query cmplt");
_Static_assert(sizeof(struct cvmbus_rndis_status_cmplt) == 8, "rndis status cmplt");
_Static_assert(sizeof(struct cvmbus_rndis_reset_cmplt) == 8, "rndis reset cmplt");
_Static_assert(sizeof(struct cvmbus_rndis_indicate) == 12, "rndis indicate");
_Static_assert(sizeof(struct cvmbus_rndis_packet) == 36, "rndis packet");
_Static_assert(offsetof(struct cvmbus_rndis_packet, ppi_offset) == 20, "ppi offset");
_Static_assert(sizeof(struct cvmbus_rndis_ppi) == 12, "rndis ppi");

/* One parsed message. Pointers point into the buffer given to the parser
 * (a private copy: never parse shared memory in place). */
struct cvmbus_rndis_msg {
	uint32_t type;
	uint32_t len;
	uint32_t req_id;  /* requests and completions that carry one */
	uint32_t status;  /* completions and INDICATE_STATUS */
	uint32_t oid;     /* QUERY, SET */
	const uint8_t *info; /* QUERY/SET info, QUERY_CMPLT info, status buffer */
	uint32_t info_len;
	const uint8_t *data; /* PACKET: the frame */
	uint32_t data_len;
	const uint8_t *ppi;  /* PACKET: per-packet info, every element checked */
	uint32_t ppi_len;
	uint32_t ppi_count;
	union {
		struct cvmbus_rndis_init_req init;
		struct cvmbus_rndis_init_cmplt init_cmplt;
		struct cvmbus_rndis_reset_cmplt reset_cmplt;
	} u;
};

/* Parse the RNDIS message at the start of buf (len bytes available; the
 * message may be shorter, msg->len says how long). 0, -EMSGSIZE (buffer or
 * msg len shorter than the type needs, or msg len past the buffer), -ENOMSG
 * (unknown type), -ERANGE (an offset/length pair outside the message),
 * -EINVAL (a PACKET with no data, out-of-band data, a malformed ppi). */
int cvmbus_rndis_parse(const void *buf, size_t len, struct cvmbus_rndis_msg *msg);
const char *cvmbus_rndis_type_name(uint32_t type);

/* The value of the first per-packet info element of `type` in a parsed
 * PACKET. 0, -ENOENT (none), -EINVAL (its value does not fit the element,
 * or a second element of the type). */
int cvmbus_rndis_ppi_get(const struct cvmbus_rndis_msg *msg, uint32_t type, uint32_t *value);

/* The device's side of a guest's offload request: turn the checksum / LSO
 * per-packet info of one PACKET (have_* false: absent) into the offload
 * state of its frame, checking every number against the frame (the
 * private copy: it is fixed up in place: IPv4 total length and header
 * checksum of an LSO frame, the pseudo-header sum in the TCP/UDP checksum
 * field, so that it means what a Linux kernel expects whatever the guest
 * put there). `allowed`: the CVMBUS_NET_OFFLOAD_* the guest enabled; mtu:
 * the device's. 0 (*out all zero when there is nothing to offload),
 * -EPERM (an offload not enabled), -EINVAL (a value out of range: MSS,
 * offsets, flags), -EMSGSIZE (a frame too long for what it asks),
 * -EPROTO (the headers are not what the info says: Ethernet type, IP
 * version, protocol, header offsets, fragments). */
int cvmbus_net_offload_from_rndis(uint8_t *frame, size_t len, uint32_t mtu, uint32_t allowed,
				  bool have_csum, uint32_t csum, bool have_lso, uint32_t lso,
				  struct cvmbus_net_offload *out);
/* The driver's side: the per-packet info for a frame with offload state
 * `off` (the guest kernel's), given the offloads granted. 0 with *csum /
 * *lso set (have_* false: no element of that type), -EOPNOTSUPP (nothing
 * granted that fits: the caller completes the checksum itself, see
 * cvmbus_net_csum_fixup), -EINVAL (a GSO frame the grant cannot carry,
 * or numbers out of range). */
int cvmbus_net_offload_to_rndis(const struct cvmbus_net_offload *off, const void *frame,
				size_t len, uint32_t granted, bool *have_csum, uint32_t *csum,
				bool *have_lso, uint32_t *lso);
/* The checksum a NEEDS_CSUM frame still needs (the 16-bit value, in wire
 * order, to store at csum_start + csum_offset). -EINVAL if the offsets do
 * not fit the frame. */
int cvmbus_net_csum_fixup(const struct cvmbus_net_offload *off, const void *frame, size_t len,
			  uint16_t *value);

/* Builders: write one message at buf (cap bytes) and return its length, or
 * -ENOBUFS. Info buffers follow their fixed part directly. */
int cvmbus_rndis_build_packet(void *buf, size_t cap, const void *frame, uint32_t frame_len);
/* Only the 44-byte header of a PACKET whose frame will follow it. */
int cvmbus_rndis_build_packet_header(void *buf, size_t cap, uint32_t frame_len);
/* The same with per-packet info elements between header and frame (0, 1
 * or 2: checksum then LSO, each CVMBUS_RNDIS_PPI_ELEM_SIZE bytes); the
 * data offset points past them. Returns the header's length. */
int cvmbus_rndis_build_packet_header_ppi(void *buf, size_t cap, uint32_t frame_len,
					 bool have_csum, uint32_t csum, bool have_lso,
					 uint32_t lso);
#define CVMBUS_RNDIS_PACKET_HEADER_MAX \
	(CVMBUS_RNDIS_PACKET_HEADER_SIZE + 2u * CVMBUS_RNDIS_PPI_ELEM_SIZE)
int cvmbus_rndis_build_init(void *buf, size_t cap, uint32_t req_id, uint32_t max_xfer);
int cvmbus_rndis_build_query(void *buf, size_t cap, uint32_t req_id, uint32_t oid,
			     const void *info, uint32_t info_len);
int cvmbus_rndis_build_set(void *buf, size_t cap, uint32_t req_id, uint32_t oid,
			   const void *info, uint32_t info_len);
int cvmbus_rndis_build_halt(void *buf, size_t cap, uint32_t req_id);
int cvmbus_rndis_build_reset(void *buf, size_t cap);
int cvmbus_rndis_build_keepalive(void *buf, size_t cap, uint32_t req_id);
int cvmbus_rndis_build_init_cmplt(void *buf, size_t cap, const struct cvmbus_rndis_init_cmplt *c);
int cvmbus_rndis_build_query_cmplt(void *buf, size_t cap, uint32_t req_id, uint32_t status,
				   const void *info, uint32_t info_len);
int cvmbus_rndis_build_set_cmplt(void *buf, size_t cap, uint32_t req_id, uint32_t status);
int cvmbus_rndis_build_keepalive_cmplt(void *buf, size_t cap, uint32_t req_id, uint32_t status);
int cvmbus_rndis_build_reset_cmplt(void *buf, size_t cap, uint32_t status,
				   uint32_t addressing_reset);
int cvmbus_rndis_build_indicate(void *buf, size_t cap, uint32_t status, const void *sbuf,
				uint32_t sbuf_len);

/* Would a NIC with this packet filter and MAC accept the frame? Directed
 * (destination == mac), broadcast, multicast (any group: the multicast
 * list is not kept), promiscuous. A frame shorter than a header: false. */
bool cvmbus_net_filter_accepts(uint32_t filter, const uint8_t mac[6], const void *frame,
			       size_t len);

/* ======================================================================
 * Device buffers reached by GPA (shared by the VSP and the VSC)
 * ====================================================================== */

/* A GPADL device buffer as one endpoint sees it: its own copy of the page
 * list (the guest may tear the GPADL down while the device still holds it),
 * read and written through the channel's memory ops, page by page. */
struct cvmbus_net_gbuf {
	uint32_t gpadl;
	uint32_t bytes;
	uint64_t *pfns;
	uint32_t pfn_count;
};
/* Copy the pages of `info` (bytes <= 1 GiB, pfn_count matching). 0,
 * -EINVAL, -ENOMEM. */
int cvmbus_net_gbuf_init(struct cvmbus_net_gbuf *b, const struct cvmbus_gpadl_info *info);
void cvmbus_net_gbuf_fini(struct cvmbus_net_gbuf *b);
/* -ERANGE outside the buffer; otherwise as cvmbus_channel_gpa_read/write. */
int cvmbus_net_gbuf_read(struct cvmbus_channel *ch, const struct cvmbus_net_gbuf *b,
			 uint32_t offset, void *dst, size_t len);
int cvmbus_net_gbuf_write(struct cvmbus_channel *ch, const struct cvmbus_net_gbuf *b,
			  uint32_t offset, const void *src, size_t len);

/* ======================================================================
 * The VSP (netvsp.c)
 * ====================================================================== */

#define CVMBUS_NETVSP_RECV_SECTION_SIZE 1728u /* Linux's default receive section */
#define CVMBUS_NETVSP_SEND_SECTION_SIZE 6144u /* what Hyper-V answers */
/* Receive sections kept for RNDIS control responses and status
 * indications, so that frames the guest is slow to return never starve
 * a QUERY's answer. */
#define CVMBUS_NETVSP_CONTROL_SECTIONS 4u

struct cvmbus_netvsp_config {
	struct cvmbus_channel *ch; /* the device endpoint, already open */
	uint8_t mac[CVMBUS_NET_ETH_ALEN];
	uint32_t mtu;               /* 0: 1500; at most CVMBUS_NET_MAX_MTU */
	uint32_t link_speed;        /* units of 100 bit/s; 0: 10 Gbit/s */
	bool link_down;             /* start with the link down */
	uint32_t recv_section_size; /* 0: CVMBUS_NETVSP_RECV_SECTION_SIZE */
	uint32_t send_section_size; /* 0: CVMBUS_NETVSP_SEND_SECTION_SIZE */
	/* Frames from the guest, called on the VSP's thread. */
	cvmbus_net_frame_fn *tx_frame;
	void *tx_ctx;
	uint64_t send_timeout_ns; /* for packets to the guest; 0: 1 s */
	/* Offloads the backend can take (CVMBUS_NET_OFFLOAD_*; 0: none, the
	 * capabilities OID is then not supported). They need tx_frame_off,
	 * which is then called instead of tx_frame with each frame's state
	 * (the frame is the VSP's private copy and may be long: up to
	 * CVMBUS_NET_GSO_MAX_FRAME with LSO). */
	uint32_t offloads;
	cvmbus_net_offload_frame_fn *tx_frame_off;
};

enum cvmbus_netvsp_state {
	CVMBUS_NETVSP_WAIT_INIT = 0, /* no version negotiated */
	CVMBUS_NETVSP_NEGOTIATED,    /* version agreed; buffers may follow */
	CVMBUS_NETVSP_STOPPED,       /* stopped by the caller */
	CVMBUS_NETVSP_FAILED,        /* the channel broke (ring violation) */
};

enum cvmbus_netvsp_rndis_state {
	CVMBUS_NETVSP_RNDIS_UNINIT = 0,
	CVMBUS_NETVSP_RNDIS_INITIALIZED,
	CVMBUS_NETVSP_RNDIS_HALTED,
};

struct cvmbus_netvsp_stats {
	uint64_t rx_frames, rx_bytes;  /* to the guest, indicated */
	uint64_t rx_no_section;        /* dropped: no free section in time */
	uint64_t rx_not_ready;         /* dropped: no buffer, RNDIS or filter yet */
	uint64_t rx_filtered;          /* dropped by the guest's packet filter */
	uint64_t tx_frames, tx_bytes;  /* from the guest, handed to the backend */
	uint64_t tx_send_buffer;       /* RNDIS packets that came in a section */
	uint64_t tx_gpa_direct;        /* ... that came as GPA-direct ranges */
	uint64_t tx_gpa_bytes;         /* bytes read through GPA-direct ranges */
	uint64_t control_msgs;         /* RNDIS control messages handled */
	uint64_t link_indications;
	uint64_t sections_recycled;    /* guest completions that returned one */
	/* hostile input: each refused, the channel goes on */
	uint64_t bad_nvsp;             /* undecodable or out-of-state NVSP */
	uint64_t bad_rndis;            /* RNDIS refused by the parser or state */
	uint64_t bad_section;          /* send section index/size out of range */
	uint64_t bad_frame;            /* frame length outside 14 .. mtu + 14 */
	uint64_t bad_gpadl;            /* unknown or unusable buffer GPADL */
	uint64_t unknown_completions;  /* completion for no outstanding packet */
	uint64_t refused;              /* known but unsupported requests */
	uint64_t responses_dropped;    /* no control section for an answer */
	uint64_t send_errors;          /* channel sends that failed */
	/* offloads (guest -> host: frames handed on with them) */
	uint64_t tx_lso;               /* LSOv2 frames (GSO to the backend) */
	uint64_t tx_csum;              /* frames with a checksum left to do */
	uint64_t rx_csum_marked;       /* to the guest marked checksum-good */
	uint64_t bad_offload;          /* per-packet info refused (hostile input) */
};

struct cvmbus_netvsp;

/* 0, -EINVAL, -ENOMEM. Nothing runs until start. */
int cvmbus_netvsp_create(struct cvmbus_exec *exec, const struct cvmbus_netvsp_config *cfg,
			 struct cvmbus_netvsp **out);
/* Start the VSP's thread ("netvsp"), which serves the channel. */
int cvmbus_netvsp_start(struct cvmbus_netvsp *vsp);
/* Close the device endpoint (the device goes away), wake every waiter and
 * join the thread. Idempotent. */
void cvmbus_netvsp_stop(struct cvmbus_netvsp *vsp);
/* Stops first if needed. */
void cvmbus_netvsp_destroy(struct cvmbus_netvsp *vsp);

/* Indicate a frame to the guest: wait up to timeout_ns for a free receive
 * section (0: don't wait). 0, -ENOTCONN (no receive buffer, RNDIS not
 * initialized, or packet filter 0), -EAGAIN/-ETIMEDOUT (no section),
 * -EMSGSIZE, -ESHUTDOWN, or a channel error. A frame the packet filter
 * rejects returns 0 and counts rx_filtered. Safe from any thread. */
int cvmbus_netvsp_send_frame(struct cvmbus_netvsp *vsp, const void *frame, size_t len,
			     uint64_t timeout_ns);
/* The same with the backend's offload state: CSUM_VALID or NEEDS_CSUM
 * (a frame of the host's own stack) become the "checksum succeeded" info
 * for a guest that enabled receive checksums; no GSO (-EMSGSIZE). */
int cvmbus_netvsp_send_frame_off(struct cvmbus_netvsp *vsp, const struct cvmbus_net_offload *off,
				 const void *frame, size_t len, uint64_t timeout_ns);
/* cvmbus_net_frame_fn adapter (waits up to 100 ms, drops after). */
void cvmbus_netvsp_frame_in(void *vsp, const void *frame, size_t len);
/* The offloads the guest enabled (CVMBUS_NET_OFFLOAD_*). */
uint32_t cvmbus_netvsp_offloads(struct cvmbus_netvsp *vsp);
/* Change the link state; indicates MEDIA_(DIS)CONNECT to an initialized
 * guest. 0 or a send error (the state changes anyway). */
int cvmbus_netvsp_set_link(struct cvmbus_netvsp *vsp, bool up);

enum cvmbus_netvsp_state cvmbus_netvsp_state(struct cvmbus_netvsp *vsp);
enum cvmbus_netvsp_rndis_state cvmbus_netvsp_rndis_state(struct cvmbus_netvsp *vsp);
uint32_t cvmbus_netvsp_version(struct cvmbus_netvsp *vsp);
uint32_t cvmbus_netvsp_packet_filter(struct cvmbus_netvsp *vsp);
/* Receive sections (data + control) of the attached buffer, 0 if none. */
uint32_t cvmbus_netvsp_recv_sections(struct cvmbus_netvsp *vsp);
void cvmbus_netvsp_get_stats(struct cvmbus_netvsp *vsp, struct cvmbus_netvsp_stats *out);

/* ======================================================================
 * The VSC (netvsc.c)
 * ====================================================================== */

#define CVMBUS_NETVSC_DEFAULT_BUF (1u << 20) /* receive and send buffers */

struct cvmbus_netvsc_config {
	struct cvmbus_channel *ch;  /* the guest endpoint, already open */
	uint32_t recv_buf_bytes;    /* 0: 1 MiB */
	uint32_t send_buf_bytes;    /* 0: 1 MiB */
	uint32_t mtu;               /* announced in NDIS_CONFIG; 0: 1500 */
	uint32_t packet_filter;     /* 0: directed | multicast | broadcast */
	uint32_t max_version;       /* newest NVSP version to offer; 0: 6.1 */
	/* Send RNDIS packets as GPA-direct ranges (over the section's own
	 * pages) instead of naming the section. */
	bool gpa_direct;
	uint64_t timeout_ns;        /* each handshake step; 0: 5 s */
	/* Frames from the host, called on the VSC's thread. */
	cvmbus_net_frame_fn *rx_frame;
	void *rx_ctx;
	/* Link changes the host indicated, on the VSC's thread. May be NULL. */
	void (*link_changed)(void *ctx, bool up);
	void *link_ctx;
	/* Offloads to ask the device for (CVMBUS_NET_OFFLOAD_*; 0: none, no
	 * offload OID is sent). LSO also keeps part of the send buffer as
	 * big slots. What was granted: cvmbus_netvsc_info.offloads. */
	uint32_t offloads;
	/* If set, called instead of rx_frame, with CSUM_VALID when the
	 * device said the checksum is good (and RXCSUM was granted). */
	cvmbus_net_offload_frame_fn *rx_frame_off;
};

enum cvmbus_netvsc_state {
	CVMBUS_NETVSC_IDLE = 0,
	CVMBUS_NETVSC_CONNECTING,
	CVMBUS_NETVSC_READY,
	CVMBUS_NETVSC_STOPPED,
	CVMBUS_NETVSC_FAILED,
};

struct cvmbus_netvsc_info {
	uint32_t nvsp_version;
	uint8_t mac[CVMBUS_NET_ETH_ALEN];
	uint32_t mtu;
	uint32_t link_speed; /* units of 100 bit/s */
	bool link_up;
	uint32_t packet_filter;
	uint32_t recv_sections, recv_section_size;
	uint32_t send_sections, send_section_size;
	bool recv_buf_shared, send_buf_shared; /* made host-visible */
	uint32_t offloads; /* granted by the device: CVMBUS_NET_OFFLOAD_* */
};

struct cvmbus_netvsc_stats {
	uint64_t tx_frames, tx_bytes;
	uint64_t tx_send_buffer_bytes; /* RNDIS bytes sent by section index */
	uint64_t tx_gpa_direct_bytes;  /* RNDIS bytes sent as GPA ranges */
	uint64_t tx_waits;             /* sends that waited for a section */
	uint64_t tx_failed;            /* completions with a failure status */
	uint64_t rx_frames, rx_bytes;
	uint64_t rx_completions;       /* transfer-page packets completed */
	uint64_t link_changes;
	/* offloads */
	uint64_t tx_lso;               /* frames sent with LSOv2 info */
	uint64_t tx_csum;              /* ... with checksum info */
	uint64_t tx_csum_sw;           /* checksums completed here (not granted) */
	uint64_t tx_big;               /* RNDIS packets in a big slot (GPA-direct) */
	uint64_t tx_offload_dropped;   /* GSO frames the grant cannot carry */
	uint64_t rx_csum_valid;        /* frames the device vouched for */
	/* hostile input */
	uint64_t bad_xfer;             /* set id or ranges outside the buffer */
	uint64_t bad_nvsp;
	uint64_t bad_rndis;
	uint64_t unknown_completions;
	uint64_t unexpected;           /* host messages this VSC ignores */
};

struct cvmbus_netvsc;

int cvmbus_netvsc_create(struct cvmbus_exec *exec, const struct cvmbus_netvsc_config *cfg,
			 struct cvmbus_netvsc **out);
/* Start the receive thread ("netvsc") and run the handshake: NVSP INIT
 * (newest version first), NDIS_CONFIG, NDIS_VERSION, receive and send
 * buffers, RNDIS INITIALIZE, the MAC / MTU / link / speed queries and the
 * packet filter. 0, -EIO (refused), -EPROTO, -ETIMEDOUT, -ESHUTDOWN. */
int cvmbus_netvsc_connect(struct cvmbus_netvsc *vsc);
/* Send one frame (14 .. mtu + 14 bytes), waiting up to timeout_ns for a
 * free send section. 0, -ENOTCONN, -EMSGSIZE, -EAGAIN, -ETIMEDOUT,
 * -ESHUTDOWN. */
int cvmbus_netvsc_send_frame(struct cvmbus_netvsc *vsc, const void *frame, size_t len,
			     uint64_t timeout_ns);
/* The same with the guest kernel's offload state: GSO frames (up to
 * CVMBUS_NET_GSO_MAX_FRAME) as one RNDIS packet with LSOv2 info, in a big
 * slot; NEEDS_CSUM with checksum info if granted, else completed here.
 * Also -EINVAL: a GSO frame the grant does not cover (dropped). */
int cvmbus_netvsc_send_frame_off(struct cvmbus_netvsc *vsc, const struct cvmbus_net_offload *off,
				 const void *frame, size_t len, uint64_t timeout_ns);
/* cvmbus_net_frame_fn adapter (waits up to 100 ms, drops after). */
void cvmbus_netvsc_frame_in(void *vsc, const void *frame, size_t len);
/* RNDIS QUERY: *len in = room, out = bytes answered. -EIO with the RNDIS
 * status in *status (may be NULL) when the device refused. */
int cvmbus_netvsc_query(struct cvmbus_netvsc *vsc, uint32_t oid, void *buf, size_t *len,
			uint32_t *status);
int cvmbus_netvsc_set(struct cvmbus_netvsc *vsc, uint32_t oid, const void *buf, size_t len,
		      uint32_t *status);
/* RNDIS HALT, revoke both buffers, close the guest endpoint, join the
 * thread. The GPADLs stay until destroy (the device may still hold them
 * until it sees the revoke). Idempotent. */
void cvmbus_netvsc_stop(struct cvmbus_netvsc *vsc);
/* Stops first if needed, then tears the buffer GPADLs down. */
void cvmbus_netvsc_destroy(struct cvmbus_netvsc *vsc);

enum cvmbus_netvsc_state cvmbus_netvsc_state(struct cvmbus_netvsc *vsc);
void cvmbus_netvsc_get_info(struct cvmbus_netvsc *vsc, struct cvmbus_netvsc_info *out);
void cvmbus_netvsc_get_stats(struct cvmbus_netvsc *vsc, struct cvmbus_netvsc_stats *out);

/* ======================================================================
 * TAP backend (net_tap.c)
 * ====================================================================== */

struct cvmbus_net_tap_config {
	const char *ifname; /* NULL or "": the kernel picks tapN */
	/* Create the interface inside this network namespace: a name under
	 * /run/netns (as `ip netns add` makes) or an absolute path. NULL: the
	 * caller's namespace. Only the opening thread switches, and back. */
	const char *netns;
	const uint8_t *mac; /* set the interface's MAC (NULL: keep the kernel's) */
	uint32_t mtu;       /* set it (0: keep) */
	bool up;            /* bring the interface up */
	/* IFF_VNET_HDR: every read and write carries a struct
	 * cvmbus_net_offload ahead of the frame (the _write functions add
	 * it, the reader thread drops it). */
	bool vnet_hdr;
};

struct cvmbus_net_tap_stats {
	uint64_t rx_frames, rx_bytes; /* read from the TAP, handed on */
	uint64_t tx_frames, tx_bytes; /* written to the TAP */
	uint64_t tx_errors;
	uint64_t rx_errors;
};

struct cvmbus_net_tap;

/* Open /dev/net/tun as IFF_TAP | IFF_NO_PI. 0, -ENOENT (no /dev/net/tun),
 * -EPERM (no CAP_NET_ADMIN), -errno. */
int cvmbus_net_tap_open(const struct cvmbus_net_tap_config *cfg, struct cvmbus_net_tap **out);
/* The interface name the kernel gave. */
const char *cvmbus_net_tap_name(const struct cvmbus_net_tap *tap);
int cvmbus_net_tap_fd(const struct cvmbus_net_tap *tap);
/* Start the reader thread ("tap"): every frame read goes to fn(ctx, ...).
 * The thread blocks in poll(2): a native executor only. */
int cvmbus_net_tap_start(struct cvmbus_net_tap *tap, struct cvmbus_exec *exec,
			 cvmbus_net_frame_fn *fn, void *ctx);
/* Write one frame. 0 or -errno. Safe from any thread. */
int cvmbus_net_tap_write(struct cvmbus_net_tap *tap, const void *frame, size_t len);
/* Write one frame with its offload state. A TAP without vnet_hdr takes
 * only complete frames: -EOPNOTSUPP for NEEDS_CSUM or GSO. */
int cvmbus_net_tap_write_off(struct cvmbus_net_tap *tap, const struct cvmbus_net_offload *off,
			     const void *frame, size_t len);
bool cvmbus_net_tap_vnet_hdr(const struct cvmbus_net_tap *tap);
/* Which partial frames the kernel may hand a vnet_hdr TAP's reader
 * (TUNSETOFFLOAD): checksums to do for CSUM4/CSUM6, TCP segments for
 * LSO4/LSO6 (only with a checksum one, the kernel's rule); 0 turns them
 * off. -EINVAL on a plain TAP (0 there is a no-op), -errno. The _fd form
 * is for a TAP fd another process opened; _flags gives the TUN_F_* bits. */
int cvmbus_net_tap_set_offload(struct cvmbus_net_tap *tap, uint32_t offloads);
int cvmbus_net_tap_fd_set_offload(int fd, uint32_t offloads);
int cvmbus_net_tap_offload_flags(uint32_t offloads);
/* cvmbus_net_frame_fn adapter: ctx is the tap. */
void cvmbus_net_tap_frame_out(void *tap, const void *frame, size_t len);
/* Stop the reader (if started), close the device: the interface goes. */
void cvmbus_net_tap_close(struct cvmbus_net_tap *tap);
void cvmbus_net_tap_get_stats(struct cvmbus_net_tap *tap, struct cvmbus_net_tap_stats *out);

#endif /* CVMBUS_NET_H */
