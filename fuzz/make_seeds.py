#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/).

Every seed is built here by hand from the byte layouts documented in
include/cvmbus/wire.h, include/cvmbus/hv.h and include/cvmbus/ring.h, never
by the code under test, so a seed is also an independent statement of what
a valid message or ring looks like. The generated files are committed; run
this again (python3 fuzz/make_seeds.py) only after changing it. Input
formats: fuzz/fuzz_wire.h (context prefix) and the top comments of
fuzz/fuzz_wire_envelope.c and fuzz/fuzz_ring_reader.c.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# Context prefix byte 0: index into the known versions, oldest first
# (0.13 1.1 2.4 3.0 4.0 4.1 5.0 5.1 5.2 5.3 6.0), 11 = not connected,
# 0x1f = a raw u32 version follows.
V = {"0.13": 0, "1.1": 1, "2.4": 2, "3.0": 3, "4.0": 4, "4.1": 5, "5.0": 6,
     "5.1": 7, "5.2": 8, "5.3": 9, "6.0": 10, "none": 11}

F_SIGNAL, F_REDIRECT, F_MODIFY_CONN, F_CLIENT_ID = 0x01, 0x02, 0x04, 0x08
F_CONFIDENTIAL, F_PAUSE, F_MONITOR_PAGES, F_PINNING = 0x10, 0x20, 0x40, 0x80


def ver(major, minor):
    return major << 16 | minor


def hdr(msgtype):
    return struct.pack("<II", msgtype, 0)


def guid(d1, d2, d3, d4):
    return struct.pack("<IHH", d1, d2, d3) + bytes(d4)


NET_GUID = guid(0xF8615163, 0xDF3E, 0x46C5, [0x91, 0x3F, 0xF2, 0xD2, 0xF9, 0x65, 0xED, 0x0E])
INST_GUID = guid(0x12345678, 0x9ABC, 0xDEF0, [1, 2, 3, 4, 5, 6, 7, 8])
SVC_GUID = guid(0x0000ABCD, 0xFACB, 0x11E6, [0xBD, 0x58, 0x64, 0x00, 0x6A, 0x79, 0x86, 0xD3])


def offer(flags, relid, monitor_id, monitor_allocated, conn_id):
    m = hdr(1) + NET_GUID + INST_GUID + bytes(16)          # @8 @24 @40
    m += struct.pack("<HH", flags, 0)                       # @56 flags, @58 mmio
    m += bytes(120)                                         # @60 user_defined
    m += struct.pack("<HHIBBHI", 0, 0, relid, monitor_id, monitor_allocated, 0, conn_id)
    assert len(m) == 196
    return m


def open_channel(relid, openid, gpadl, vp, ds_pages):
    m = hdr(5) + struct.pack("<IIIII", relid, openid, gpadl, vp, ds_pages) + bytes(120)
    assert len(m) == 148
    return m


def gpadl_header(relid, gpadl, range_buflen, rangecount, values):
    m = hdr(8) + struct.pack("<IIHH", relid, gpadl, range_buflen, rangecount)
    m += b"".join(struct.pack("<Q", v) for v in values)
    return m


def range_value(byte_count, byte_offset):
    return byte_count | byte_offset << 32


def initiate_contact(version, vcpu, u64_at_16, p2c, c2p):
    return hdr(14) + struct.pack("<IIQQQ", version, vcpu, u64_at_16, p2c, c2p)


def sint_vtl_features(sint, vtl, features):
    return sint | vtl << 8 | features << 32


WIRE_SEEDS = {
    "offer_channel_5_3": (V["5.3"], 0, offer(0x0001, 7, 3, 1, 0x2007)),
    "offer_channel_confidential_6_0": (V["6.0"], F_CONFIDENTIAL, offer(0x0006, 8, 0, 0, 0x2008)),
    "rescind_channel_offer": (V["5.3"], 0, hdr(2) + struct.pack("<I", 7)),
    "request_offers": (V["5.3"], 0, hdr(3)),
    "all_offers_delivered": (V["5.3"], 0, hdr(4)),
    "open_channel_5_3": (V["5.3"], 0, open_channel(7, 1, 0xE1E10, 0, 4)),
    "open_channel2_6_0": (V["6.0"], F_SIGNAL | F_REDIRECT,
                          open_channel(7, 1, 0xE1E10, 0, 4) + struct.pack("<IHH", 0x2007, 7, 1)),
    "open_channel_result": (V["5.3"], 0, hdr(6) + struct.pack("<III", 7, 1, 0)),
    "close_channel": (V["5.3"], 0, hdr(7) + struct.pack("<I", 7)),
    # One range of 2 pages, complete in the header: range_buflen 8 + 2 * 8.
    "gpadl_header_one_range": (V["5.3"], 0, gpadl_header(
        7, 0xE1E10, 24, 1, [range_value(8192, 0), 0x1000, 0x1001])),
    # One range of 30 pages: 26 PFNs here, 4 in a GpadlBody.
    "gpadl_header_continued": (V["5.3"], 0, gpadl_header(
        7, 0xE1E11, 8 + 30 * 8, 1, [range_value(30 * 4096 - 100, 100)] +
        [0x2000 + i for i in range(26)])),
    # Two ranges: {100 bytes at 4000: 2 pages} and {4096 at 0: 1 page}.
    "gpadl_header_two_ranges": (V["5.3"], 0, gpadl_header(
        7, 0xE1E12, 40, 2, [range_value(100, 4000), 0x3000, 0x3001,
                            range_value(4096, 0), 0x4000])),
    "gpadl_body": (V["5.3"], 0, hdr(9) + struct.pack("<II", 0, 0xE1E11) +
                   b"".join(struct.pack("<Q", 0x201A + i) for i in range(4))),
    "gpadl_created": (V["5.3"], 0, hdr(10) + struct.pack("<III", 7, 0xE1E10, 0)),
    "gpadl_teardown": (V["5.3"], 0, hdr(11) + struct.pack("<II", 7, 0xE1E10)),
    "gpadl_torndown": (V["5.3"], 0, hdr(12) + struct.pack("<I", 0xE1E10)),
    "relid_released": (V["5.3"], 0, hdr(13) + struct.pack("<I", 7)),
    "initiate_contact_5_3": (V["none"], 0, initiate_contact(
        ver(5, 3), 0, sint_vtl_features(2, 0, 0), 0x10000000, 0x10001000)),
    "initiate_contact_4_0_interrupt_page": (V["none"], 0, initiate_contact(
        ver(4, 0), 0, 0x0FFFF000, 0x10000000, 0x10001000)),
    "initiate_contact_client_id_6_0": (V["none"], 0, initiate_contact(
        ver(6, 0), 1, sint_vtl_features(2, 0, F_CLIENT_ID | F_CONFIDENTIAL | F_PAUSE),
        0, 0) + INST_GUID),
    "version_response_5_3": (V["5.3"], 0, hdr(15) + struct.pack("<BBHI", 1, 0, 0, 4)),
    "version_response_refused": (V["none"], 0, hdr(15) + struct.pack("<BBHI", 0, 0, 0, 0)),
    "version_response2_6_0": (V["6.0"], 0xFF, hdr(15) + struct.pack("<BBHII", 1, 0, 0, 4, 0x2F)),
    "version_response3_6_0": (V["6.0"], 0xFF, hdr(15) + struct.pack(
        "<BBHIIIQQ", 1, 0, 0, 4, F_MONITOR_PAGES | F_PAUSE, 0, 0x10000000, 0x10001000)),
    "unload": (V["5.3"], 0, hdr(16)),
    "unload_response": (V["5.3"], 0, hdr(17)),
    "open_reserved_channel": (V["5.3"], 0, hdr(18) + struct.pack("<IIIII", 9, 0, 2, 0xE1E20, 2)),
    "close_reserved_channel": (V["none"], 0, hdr(19) + struct.pack("<III", 9, 0, 2)),
    "close_reserved_response": (V["5.3"], 0, hdr(20) + struct.pack("<I", 9)),
    "tl_connect_request_4_0": (V["4.0"], 0, hdr(21) + INST_GUID + SVC_GUID),
    "tl_connect_request2_5_2": (V["5.2"], 0, hdr(21) + INST_GUID + SVC_GUID + bytes(16)),
    "modify_channel": (V["5.3"], 0, hdr(22) + struct.pack("<II", 7, 1)),
    "tl_connect_result": (V["5.3"], 0, hdr(23) + INST_GUID + SVC_GUID +
                          struct.pack("<I", 0xC0000236)),
    "modify_channel_response": (V["5.3"], 0, hdr(24) + struct.pack("<II", 7, 0)),
    "modify_connection": (V["6.0"], F_MODIFY_CONN, hdr(25) + struct.pack("<QQ", 0x10000000,
                                                                         0x10001000)),
    "modify_connection_response": (V["6.0"], F_MODIFY_CONN, hdr(26) + bytes([0])),
    "pause": (V["6.0"], F_PAUSE, hdr(27)),
    "pause_response": (V["6.0"], F_PAUSE, hdr(28)),
    "resume": (V["6.0"], F_PAUSE, hdr(29)),
}


def wire_prefix(vsel, features):
    return bytes([vsel, features])


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def wire_seeds():
    for name, (vsel, feat, msg) in WIRE_SEEDS.items():
        assert 8 <= len(msg) <= 240, name
        write("fuzz_wire_decode", name, wire_prefix(vsel, feat) + msg)
    # An unknown future version (raw u32 7.0) and unknown feature bits.
    write("fuzz_wire_decode", "raw_version_7_0_offer",
          bytes([0x1F | 0x20, 0]) + struct.pack("<II", ver(7, 0), 0xFFFF) +
          offer(0x0001, 7, 3, 1, 0x2007))


def envelope_seeds():
    # Prefix, then a direction byte (0 any, 1 to server, 2 to client), then
    # the 256-byte hv_message: type u32, payload_size u8, flags u8,
    # reserved u16, port_id u64, 240 payload bytes.
    picks = {
        "offer_channel_5_3": 2, "initiate_contact_5_3": 1, "gpadl_header_one_range": 1,
        "version_response2_6_0": 2, "modify_connection_response": 2, "open_channel2_6_0": 1,
    }
    for name, direction in picks.items():
        vsel, feat, msg = WIRE_SEEDS[name]
        env = struct.pack("<IBBHQ", 1, len(msg), 0, 0, 0) + msg.ljust(240, b"\0")
        assert len(env) == 256
        write("fuzz_wire_envelope", name, wire_prefix(vsel, feat) + bytes([direction]) + env)
    # A hypervisor message type and an oversize payload_size.
    msg = WIRE_SEEDS["request_offers"][2]
    write("fuzz_wire_envelope", "timer_message",
          wire_prefix(V["5.3"], 0) + b"\0" +
          struct.pack("<IBBHQ", 0x80000010, 8, 1, 0, 0) + msg.ljust(240, b"\0"))
    write("fuzz_wire_envelope", "payload_size_255",
          wire_prefix(V["5.3"], 0) + b"\0" +
          struct.pack("<IBBHQ", 1, 255, 0, 0, 0) + msg.ljust(240, b"\0"))


# ---- ring images ---------------------------------------------------------

PKT_INBAND, PKT_XFER, PKT_GPA, PKT_COMP = 0x6, 0x7, 0x9, 0xB


def pad8(b):
    return b + bytes(-len(b) % 8)


def packet(ptype, flags, trans_id, header, payload, start):
    """Descriptor {type, offset8, len8, flags, trans_id}, the type header,
    the payload, zero padding to 8, and the trailer (start offset << 32)."""
    offset8 = (16 + len(header)) // 8
    body = pad8(struct.pack("<HHHHQ", ptype, offset8, 0, flags, trans_id) + header + payload)
    body = body[:4] + struct.pack("<H", len(body) // 8) + body[6:]
    return body + struct.pack("<Q", start << 32)


def gpa_header(ranges):
    h = struct.pack("<II", 0, len(ranges))
    for byte_count, byte_offset, pfns in ranges:
        h += struct.pack("<II", byte_count, byte_offset) + b"".join(
            struct.pack("<Q", p) for p in pfns)
    return h


def xfer_header(set_id, ranges):
    return struct.pack("<HHI", set_id, 0, len(ranges)) + b"".join(
        struct.pack("<II", c, o) for c, o in ranges)


F_DOUBLE, F_RAW, F_SMALL, F_BATCH, F_HOOK, F_WRITER, F_BEGIN_END, F_READ_CALL = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80)


def ring_input(pages, flags, read_index, packets_bytes, write_index=None, small=0,
               script=b"", interrupt_mask=0, pending=0, features=1):
    if write_index is None:
        write_index = read_index + len(packets_bytes)
    size = pages * 4096
    head = bytes([pages - 1, flags]) + struct.pack(
        "<IIIII", write_index % size, read_index, interrupt_mask, pending, features)
    return head + bytes([small, len(script)]) + script + packets_bytes


def ring_seeds():
    t = "fuzz_ring_reader"
    # An in-band packet then a GPA-direct one, from offset 0 of a 1-page ring.
    p1 = packet(PKT_INBAND, 1, 0x1111, b"", b"hello, vmbus", 0)
    p2 = packet(PKT_GPA, 0, 0x2222, gpa_header([(6000, 100, [0x500, 0x501])]), b"req!", len(p1))
    write(t, "inband_and_gpa", ring_input(1, 0, 0, p1 + p2))
    # The same two packets read with a too-small buffer first, in a batch,
    # inside begin_read/end_read.
    write(t, "inband_and_gpa_small_buf", ring_input(1, F_SMALL | F_BATCH | F_BEGIN_END, 0, p1 + p2,
                                                    small=2))
    # Transfer pages and a completion, starting near the end of a 2-page
    # ring so the second packet wraps; double mapped.
    start = 8192 - 48
    p3 = packet(PKT_XFER, 1, 0x3333, xfer_header(0x10, [(1500, 0), (60, 4096)]), b"", start)
    p4 = packet(PKT_COMP, 0, 0x3333, b"", b"\x00\x00\x00\x00done", (start + len(p3)) % 8192)
    write(t, "xfer_and_completion_wrapping", ring_input(2, F_DOUBLE, start, p3 + p4))
    write(t, "xfer_and_completion_wrapping_single", ring_input(2, 0, start, p3 + p4))
    # A GPA packet with two ranges (2 pages at offset 4000, then 1 page).
    p5 = packet(PKT_GPA, 1, 0x5555, gpa_header([(200, 4000, [0x10, 0x11]), (4096, 0, [0x20])]),
                b"", 0)
    write(t, "gpa_two_ranges", ring_input(1, 0, 0, p5))
    # Corrupt rings: offset8 below 2; a write index not 8-aligned.
    bad = bytearray(p1)
    bad[2] = 1
    write(t, "corrupt_offset8", ring_input(1, 0, 0, bytes(bad)))
    write(t, "corrupt_write_index", ring_input(1, F_RAW, 0, p1, write_index=len(p1) + 4))
    # The reader with a hooked peer: rewrite the descriptor's len8 after it
    # was copied (kind 0, value = offset << 8 | byte), then publish a
    # plausible write index (kind 2).
    script = bytes([0]) + struct.pack("<I", 4 << 8 | 0xFF) + bytes([2]) + struct.pack("<I", 64)
    write(t, "hooked_peer", ring_input(1, F_HOOK, 0, p1 + p2, script=script))
    # A hooked peer that publishes a write index out of range (kind 1)
    # while the reader uses cvmbus_ring_read and begin/end_read.
    script = bytes([1]) + struct.pack("<I", 0x10001) + bytes([1]) + struct.pack("<I", 4100)
    write(t, "hooked_peer_bad_write_index", ring_input(1, F_HOOK | F_READ_CALL | F_BEGIN_END, 0,
                                                       p1 + p2, script=script))
    write(t, "inband_and_gpa_read_call", ring_input(1, F_READ_CALL, 0, p1 + p2))
    # Writer mode over an empty 2-page ring: in-band, completion, GPA,
    # transfer pages, a raw framed packet, a wait request, an oversize one.
    ops = b"".join(bytes([k, a]) + struct.pack("<H", n) for k, a, n in [
        (0, 1, 40), (1, 0, 3), (2, 2, 77), (3, 3, 12), (4, 9, 20), (5, 0, 4000), (7, 0, 3000)])
    write(t, "writer_all_kinds", ring_input(2, F_WRITER, 0, b"", write_index=0, script=ops))
    # Writer attaching behind unread data (read 64, write 4096), then the
    # peer moving read_index to garbage (kind 6, a odd: raw value).
    ops2 = b"".join(bytes([k, a]) + struct.pack("<H", n) for k, a, n in [
        (0, 0, 100), (0, 0, 2000), (6, 1, 0x1234), (0, 0, 8)])
    write(t, "writer_hostile_read_index", ring_input(2, F_WRITER, 64, b"", write_index=4096,
                                                     script=ops2))


if __name__ == "__main__":
    wire_seeds()
    envelope_seeds()
    ring_seeds()
