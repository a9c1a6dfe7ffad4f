/* SPDX-License-Identifier: MIT */
/*
 * The Hyper-V hypervisor ABI that VMBus rests on: SynIC message and event
 * pages, the SINT/SIMP/SIEFP/SCONTROL register layouts and numbers (x86 MSRs
 * and arm64 synthetic registers), hypercall codes, inputs and statuses, the
 * CPUID leaves that describe isolation and Confidential VMBus, and the
 * well-known VMBus connection ids. Pure definitions, no code: the wire layer
 * (channel messages, wire.h) and the platform model (src/hw) both build on it.
 *
 * Every layout is little-endian and packed exactly as the hypervisor defines
 * it; each size and documented offset is pinned by a _Static_assert so that a
 * change that moves a byte does not compile.
 */
#ifndef CVMBUS_HV_H
#define CVMBUS_HV_H

#include <stddef.h>
#include <stdint.h>

#define HV_PAGE_SIZE  4096u
#define HV_PAGE_SHIFT 12u

/* ---- SynIC messages -------------------------------------------------- */

#define HV_MESSAGE_SIZE         256u
#define HV_MESSAGE_PAYLOAD_SIZE 240u /* 30 qwords */
#define HV_SYNIC_SINT_COUNT     16u

/* Message types in hv_message_header.message_type. Hypervisor-generated types
 * have bit 31 set; VMBus channel messages are posted with type 1. */
#define HVMSG_NONE          0x00000000u /* slot is free */
#define HVMSG_VMBUS         0x00000001u /* what HvPostMessage carries for VMBus */
#define HVMSG_UNMAPPED_GPA  0x80000000u
#define HVMSG_GPA_INTERCEPT 0x80000001u
#define HVMSG_TIMER_EXPIRED 0x80000010u

/* hv_message_header.message_flags */
#define HV_MESSAGE_FLAG_PENDING 0x01u /* another message waits: write EOM */

struct hv_message_header {
	uint32_t message_type;
	uint8_t payload_size;
	uint8_t message_flags;
	uint8_t reserved[2];
	uint64_t port_id; /* "sender" in some headers; the port it came through */
};

struct hv_message {
	struct hv_message_header header;
	uint8_t payload[HV_MESSAGE_PAYLOAD_SIZE];
};

_Static_assert(sizeof(struct hv_message_header) == 16, "hv_message_header");
_Static_assert(offsetof(struct hv_message_header, payload_size) == 4, "payload_size");
_Static_assert(offsetof(struct hv_message_header, message_flags) == 5, "message_flags");
_Static_assert(offsetof(struct hv_message_header, port_id) == 8, "port_id");
_Static_assert(sizeof(struct hv_message) == HV_MESSAGE_SIZE, "hv_message");
_Static_assert(offsetof(struct hv_message, payload) == 16, "payload");

/* The SIMP page: one message slot per SINT. */
struct hv_message_page {
	struct hv_message sint_message[HV_SYNIC_SINT_COUNT];
};
_Static_assert(sizeof(struct hv_message_page) == HV_PAGE_SIZE, "message page");

/* The SIEFP page: 256 bytes (2048 bits) of event flags per SINT. From
 * protocol 2.4 (Win8) on, bit N of SINT2's area is "channel with relid N
 * was signalled". */
#define HV_EVENT_FLAGS_BYTES_PER_SINT 256u
#define HV_EVENT_FLAGS_COUNT          (HV_EVENT_FLAGS_BYTES_PER_SINT * 8u) /* 2048 */

struct hv_event_flags {
	uint64_t flags[HV_EVENT_FLAGS_BYTES_PER_SINT / 8];
};
struct hv_event_flags_page {
	struct hv_event_flags sint_flags[HV_SYNIC_SINT_COUNT];
};
_Static_assert(sizeof(struct hv_event_flags) == 256, "event flags");
_Static_assert(sizeof(struct hv_event_flags_page) == HV_PAGE_SIZE, "event page");

/* ---- SynIC registers --------------------------------------------------- */

/* x86: synthetic MSRs. */
#define HV_X64_MSR_GUEST_OS_ID 0x40000000u
#define HV_X64_MSR_HYPERCALL   0x40000001u
#define HV_X64_MSR_VP_INDEX    0x40000002u
#define HV_X64_MSR_SCONTROL    0x40000080u
#define HV_X64_MSR_SVERSION    0x40000081u
#define HV_X64_MSR_SIEFP       0x40000082u
#define HV_X64_MSR_SIMP        0x40000083u
#define HV_X64_MSR_EOM         0x40000084u
#define HV_X64_MSR_SIRBP       0x40000085u
#define HV_X64_MSR_SINT0       0x40000090u
#define HV_X64_MSR_SINT15      0x4000009Fu
/* The range that Linux's hv_is_synic_msr() accepts: SCONTROL..SINT15. */
#define HV_X64_MSR_SYNIC_FIRST HV_X64_MSR_SCONTROL
#define HV_X64_MSR_SYNIC_LAST  HV_X64_MSR_SINT15

/* arm64 has no MSRs: the same registers are read and written through the
 * HvCallGetVpRegisters / HvCallSetVpRegisters hypercalls by these names. */
#define HV_REGISTER_VP_INDEX 0x00090003u
#define HV_REGISTER_SINT0    0x000A0000u
#define HV_REGISTER_SINT15   0x000A000Fu
#define HV_REGISTER_SCONTROL 0x000A0010u
#define HV_REGISTER_SVERSION 0x000A0011u
#define HV_REGISTER_SIEFP    0x000A0012u
#define HV_REGISTER_SIMP     0x000A0013u
#define HV_REGISTER_EOM      0x000A0014u
#define HV_REGISTER_SIRBP    0x000A0015u

/* SVERSION reads as 1 on every Hyper-V release. */
#define HV_SYNIC_VERSION 1u

/* SCONTROL */
#define HV_SCONTROL_ENABLE (1ull << 0)

/* SIMP and SIEFP: enable bit, page number in bits 63:12. */
#define HV_SYNIC_PAGE_ENABLE    (1ull << 0)
#define HV_SYNIC_PAGE_BASE_MASK (~0xFFFull)

/* SINTx */
#define HV_SINT_VECTOR_MASK  0xFFull
#define HV_SINT_MASKED       (1ull << 16)
#define HV_SINT_AUTO_EOI     (1ull << 17)
#define HV_SINT_POLLING      (1ull << 18)
#define HV_SINT_AS_INTERCEPT (1ull << 19)
/* The proxy bit on a paravisor's SINT hands delivery of that SINT to the
 * hypervisor's SynIC. Linux sets it only when VMBus is not confidential. */
#define HV_SINT_PROXY        (1ull << 20)
/* A SINT resets to masked, vector 0. */
#define HV_SINT_RESET_VALUE  HV_SINT_MASKED

/* ---- Hypercalls -------------------------------------------------------- */

#define HVCALL_GET_VP_REGISTERS                      0x0050u
#define HVCALL_SET_VP_REGISTERS                      0x0051u
#define HVCALL_POST_MESSAGE                          0x005Cu
#define HVCALL_SIGNAL_EVENT                          0x005Du
#define HVCALL_MODIFY_SPARSE_GPA_PAGE_HOST_VISIBILITY 0x00DBu

/* The hypercall input value: code in 15:0, fast bit 16, rep count 43:32. */
#define HV_HYPERCALL_FAST_BIT       (1ull << 16)
#define HV_HYPERCALL_NESTED_BIT     (1ull << 31)
#define HV_HYPERCALL_REP_COUNT_SHIFT 32u
#define HV_HYPERCALL_REP_COUNT_MASK (0xFFFull << 32)
/* The result value: status in 15:0, reps completed in 43:32. */
#define HV_HYPERCALL_RESULT_MASK    0xFFFFull

/* Hypercall status codes (the low 16 bits of the result). */
#define HV_STATUS_SUCCESS                  0x0000u
#define HV_STATUS_INVALID_HYPERCALL_CODE   0x0002u
#define HV_STATUS_INVALID_HYPERCALL_INPUT  0x0003u
#define HV_STATUS_INVALID_ALIGNMENT        0x0004u
#define HV_STATUS_INVALID_PARAMETER        0x0005u
#define HV_STATUS_ACCESS_DENIED            0x0006u
#define HV_STATUS_INVALID_PARTITION_STATE  0x0007u
#define HV_STATUS_OPERATION_DENIED         0x0008u
#define HV_STATUS_UNKNOWN_PROPERTY         0x0009u
#define HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE 0x000Au
#define HV_STATUS_INSUFFICIENT_MEMORY      0x000Bu
#define HV_STATUS_INVALID_PARTITION_ID     0x000Du
#define HV_STATUS_INVALID_VP_INDEX         0x000Eu
#define HV_STATUS_NOT_FOUND                0x0010u
#define HV_STATUS_INVALID_PORT_ID          0x0011u
#define HV_STATUS_INVALID_CONNECTION_ID    0x0012u
#define HV_STATUS_INSUFFICIENT_BUFFERS     0x0013u
#define HV_STATUS_NOT_ACKNOWLEDGED         0x0014u
#define HV_STATUS_INVALID_VP_STATE         0x0015u
#define HV_STATUS_ACKNOWLEDGED             0x0016u
#define HV_STATUS_INVALID_SYNIC_STATE      0x0018u
#define HV_STATUS_OBJECT_IN_USE            0x0019u

/* HvPostMessage input: one page-sized structure (GPA-passed, not fast). */
struct hv_input_post_message {
	uint32_t connection_id;
	uint32_t reserved;
	uint32_t message_type;
	uint32_t payload_size;
	uint8_t payload[HV_MESSAGE_PAYLOAD_SIZE];
};
_Static_assert(sizeof(struct hv_input_post_message) == 256, "post message input");
_Static_assert(offsetof(struct hv_input_post_message, message_type) == 8, "message_type");
_Static_assert(offsetof(struct hv_input_post_message, payload_size) == 12, "payload_size");
_Static_assert(offsetof(struct hv_input_post_message, payload) == 16, "payload");

/* HvSignalEvent input: a fast hypercall, the 8 bytes travel in a register. */
struct hv_input_signal_event {
	uint32_t connection_id;
	uint16_t flag_number;
	uint16_t reserved;
};
_Static_assert(sizeof(struct hv_input_signal_event) == 8, "signal event input");
_Static_assert(offsetof(struct hv_input_signal_event, flag_number) == 4, "flag_number");

/* HvCallModifySparseGpaPageHostVisibility: a rep hypercall over a GPA page
 * list that fills the rest of the input page, so at most 510 pages a call. */
#define HV_MAP_GPA_NOT_VISIBLE 0u
#define HV_MAP_GPA_READABLE    1u
#define HV_MAP_GPA_WRITABLE    2u
#define HV_MAP_GPA_READ_WRITE  (HV_MAP_GPA_READABLE | HV_MAP_GPA_WRITABLE)
#define HV_PARTITION_ID_SELF   (~0ull)

struct hv_input_modify_sparse_gpa_page_host_visibility {
	uint64_t partition_id;
	uint32_t host_visibility; /* bits 1:0 */
	uint32_t reserved;
	uint64_t gpa_page_list[];
};
#define HV_MAX_MODIFY_GPA_REP_COUNT \
	((HV_PAGE_SIZE - sizeof(struct hv_input_modify_sparse_gpa_page_host_visibility)) / 8u)
_Static_assert(sizeof(struct hv_input_modify_sparse_gpa_page_host_visibility) == 16,
	       "visibility input header");
_Static_assert(HV_MAX_MODIFY_GPA_REP_COUNT == 510, "510 pages per visibility call");

/* HvCallGet/SetVpRegisters (arm64 register path): header, then one name or
 * one name/value pair per rep. */
struct hv_input_vp_registers_header {
	uint64_t partition_id;
	uint32_t vp_index;
	uint8_t input_vtl;
	uint8_t reserved[3];
};
struct hv_register_assoc {
	uint32_t name;
	uint32_t reserved1;
	uint64_t reserved2;
	uint64_t value_low;
	uint64_t value_high; /* registers are 128-bit values on the wire */
};
_Static_assert(sizeof(struct hv_input_vp_registers_header) == 16, "vp regs header");
_Static_assert(sizeof(struct hv_register_assoc) == 32, "register assoc");
_Static_assert(offsetof(struct hv_register_assoc, value_low) == 16, "value");

/* ---- CPUID ------------------------------------------------------------- */

/* 0x4000000C: isolation configuration. */
#define HYPERV_CPUID_ISOLATION_CONFIG           0x4000000Cu
#define HV_PARAVISOR_PRESENT                    (1u << 0)   /* EAX */
#define HV_ISOLATION_TYPE_MASK                  0xFu        /* EBX 3:0 */
#define HV_SHARED_GPA_BOUNDARY_ACTIVE           (1u << 5)   /* EBX */
#define HV_SHARED_GPA_BOUNDARY_BITS_SHIFT       6u          /* EBX 11:6 */
#define HV_SHARED_GPA_BOUNDARY_BITS_MASK        (0x3Fu << 6)

enum hv_isolation_type {
	HV_ISOLATION_TYPE_NONE = 0,
	HV_ISOLATION_TYPE_VBS = 1,
	HV_ISOLATION_TYPE_SNP = 2,
	HV_ISOLATION_TYPE_TDX = 3,
};

/* 0x40000082: virtualization stack properties, answered by the paravisor
 * (or the Windows stack), not the hypervisor. */
#define HYPERV_CPUID_VIRT_STACK_PROPERTIES                  0x40000082u
#define HV_VS_PROPERTIES_EAX_EXTENDED_IOAPIC_RTE            (1u << 2)
#define HV_VS_PROPERTIES_EAX_CONFIDENTIAL_VMBUS_AVAILABLE   (1u << 3)

struct hv_cpuid_result {
	uint32_t eax, ebx, ecx, edx;
};

/* ---- VMBus well-known ids --------------------------------------------- */

#define VMBUS_MESSAGE_CONNECTION_ID   1u /* InitiateContact before 5.0 */
#define VMBUS_EVENT_CONNECTION_ID     2u
#define VMBUS_MONITOR_CONNECTION_ID   3u
#define VMBUS_MESSAGE_CONNECTION_ID_4 4u /* InitiateContact from 5.0 on */
#define VMBUS_MESSAGE_PORT_ID         1u
#define VMBUS_EVENT_PORT_ID           2u
#define VMBUS_MONITOR_PORT_ID         3u
#define VMBUS_MESSAGE_SINT            2u
/* OpenHCL's relay posts to the host on this id (4 | VTL2 << 22 | SINT7 << 4). */
#define VMBUS_MESSAGE_REDIRECT_CONNECTION_ID 0x800074u
/* A connection id is 24 bits; the top byte is reserved. */
#define HV_CONNECTION_ID_MASK 0x00FFFFFFu

#endif /* CVMBUS_HV_H */
