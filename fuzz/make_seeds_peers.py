#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of the fuzz targets that play a peer of a whole
party or device: fuzz_server_messages, fuzz_client_messages,
fuzz_vstor_completion, fuzz_rndis_nvsp and fuzz_channel_gpa
(fuzz/corpus/<target>/). fuzz/make_seeds.py does the same for the wire and
ring targets.

Every byte is laid out here by hand from the documented layouts
(include/cvmbus/wire.h, storage.h, net.h, ring.h) and the input formats in
the top comment of each fuzz/<target>.c, never produced by the code under
test. Each seed is a whole plausible session (contact, offers, GPADLs,
open, close, unload ...) so that the fuzzer starts deep in the state
machines instead of having to discover the handshake byte by byte. The
generated files are committed; run this again (python3
fuzz/make_seeds_peers.py) only after changing it.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def ver(major, minor):
    return major << 16 | minor


# Feature flags (wire.h).
F_SIGNAL, F_REDIRECT, F_MODIFY_CONN, F_CLIENT_ID = 0x01, 0x02, 0x04, 0x08
F_CONFIDENTIAL = 0x10

# ---- channel messages (wire.h layouts) -------------------------------------


def hdr(msgtype):
    return struct.pack("<II", msgtype, 0)


def initiate_contact(version, features=0, sint=2, vtl=0, vcpu=0,
                     p2c=0x10000000, c2p=0x10001000, client_id=None):
    # @8 version, @12 target_vcpu, @16 sint, @17 vtl, @18 reserved,
    # @20 feature flags (from 5.0 on; before, @16 is the interrupt page),
    # @24/@32 the monitor pages, [@40 the client id GUID].
    if version >= ver(5, 0):
        mid = struct.pack("<BBHI", sint, vtl, 0, features)
    else:
        mid = struct.pack("<Q", 0x0FFFF000)
    m = hdr(14) + struct.pack("<II", version, vcpu) + mid + struct.pack("<QQ", p2c, c2p)
    if client_id is not None:
        m += client_id
    return m


def request_offers():
    return hdr(3)


def range_value(byte_count, byte_offset):
    return byte_count | byte_offset << 32


def gpadl_messages(relid, gpadl, pfns, byte_offset=0, byte_count=None):
    """One range over pfns: the header takes the range value and 26 PFNs,
    each GpadlBody 28 more (wire.h)."""
    if byte_count is None:
        byte_count = len(pfns) * 4096 - byte_offset
    values = [range_value(byte_count, byte_offset)] + list(pfns)
    first = values[:27]
    msgs = [hdr(8) + struct.pack("<IIHH", relid, gpadl, 8 * len(values), 1) +
            b"".join(struct.pack("<Q", v) for v in first)]
    rest = values[27:]
    while rest:
        chunk, rest = rest[:28], rest[28:]
        msgs.append(hdr(9) + struct.pack("<II", 0, gpadl) +
                    b"".join(struct.pack("<Q", v) for v in chunk))
    return msgs


def open_channel(relid, openid, gpadl, downstream, vp=0, open2=False,
                 conn_id=0, event_flag=0, flags=0):
    m = hdr(5) + struct.pack("<IIIII", relid, openid, gpadl, vp, downstream) + bytes(120)
    assert len(m) == 148
    if open2:
        m += struct.pack("<IHH", conn_id, event_flag, flags)
        assert len(m) == 156
    return m


def close_channel(relid):
    return hdr(7) + struct.pack("<I", relid)


def gpadl_teardown(relid, gpadl):
    return hdr(11) + struct.pack("<II", relid, gpadl)


def relid_released(relid):
    return hdr(13) + struct.pack("<I", relid)


def unload():
    return hdr(16)


def modify_channel(relid, vp):
    return hdr(22) + struct.pack("<II", relid, vp)


def modify_connection(p2c, c2p):
    return hdr(25) + struct.pack("<QQ", p2c, c2p)


CLIENT_GUID = struct.pack("<IHH", 0xC0FFEE00, 0x1111, 0x2222) + bytes(range(8))

# ---- fuzz_server_messages ------------------------------------------------------
#
# Config bytes c0 c1 c2, then steps: a message is h (bit 0 trusted, bits 1-2
# client, bits 3-4 device policy after the call, bit 5 probe re-entry), a
# length byte, the bytes; a device event is 0x80 | kind | slot << 3 (an
# unasked-for completion, EV_BOGUS, takes a GPADL id byte after it).
# Offers get relids 1, 2, 3 in order.

PARAVISOR, HOST = 0x00, 0x01
ANSWER, FAIL, DEFER, ONE = 0, 1, 2, 3
EV_RESCIND, EV_OFFER, EV_RESET, EV_ALL, EV_BOGUS, EV_REOFFER = 0, 1, 2, 3, 4, 5
EV_ANY_OK, EV_ANY_FAIL = 6, 7


def srv_msg(m, client=0, trusted=True, policy=ANSWER, probe=False):
    assert len(m) <= 255
    h = (1 if trusted else 0) | client << 1 | policy << 3 | (0x20 if probe else 0)
    return bytes([h, len(m)]) + m


def srv_event(kind, slot=0):
    return bytes([0x80 | kind | slot << 3])


def srv_cfg(role=PARAVISOR, relay_third=False, ext_second=False, ignore_excess=False,
            max_clients=4, max_version_sel=0, building=0, gpadls_half=0, minus_features=0):
    c0 = role | (0x02 if relay_third else 0) | (0x04 if ext_second else 0) | \
        (0x08 if ignore_excess else 0) | (max_clients - 1) << 4 | max_version_sel << 6
    return bytes([c0, building | gpadls_half << 4, minus_features])


def pfns(base, n):
    return [base + i for i in range(n)]


def server_seeds():
    t = "fuzz_server_messages"
    conf = F_CONFIDENTIAL | F_SIGNAL | F_REDIRECT | F_MODIFY_CONN

    # A whole confidential session with the paravisor: contact, offers, a
    # ring GPADL, OpenChannel2, modify, a 30-page buffer GPADL in a header
    # and a body, its teardown, close, ModifyConnection, a rescind and the
    # release, a hot re-add, unload.
    s = srv_cfg(ext_second=True)
    s += srv_msg(initiate_contact(ver(6, 0), conf))
    s += srv_msg(request_offers())
    s += b"".join(srv_msg(m) for m in gpadl_messages(1, 0xE1E10, pfns(0x100, 4)))
    s += srv_msg(open_channel(1, 1, 0xE1E10, 2, open2=True, conn_id=0x2001, event_flag=1))
    s += srv_msg(modify_channel(1, 1))
    s += b"".join(srv_msg(m) for m in gpadl_messages(1, 0xE1E11, pfns(0x200, 30), 100))
    s += srv_msg(gpadl_teardown(1, 0xE1E11))
    s += srv_msg(close_channel(1))
    s += srv_msg(modify_connection(0x10002000, 0x10003000))
    s += srv_event(EV_RESCIND, 1)
    s += srv_msg(relid_released(2))
    s += srv_event(EV_OFFER, 1)
    s += srv_msg(unload())
    write(t, "paravisor_confidential_session", s)

    # The host role, an untrusted 5.3 guest: OpenChannel (148 bytes).
    s = srv_cfg(role=HOST, relay_third=True)
    s += srv_msg(initiate_contact(ver(5, 3)), trusted=False)
    s += srv_msg(request_offers(), trusted=False)
    s += b"".join(srv_msg(m, trusted=False) for m in gpadl_messages(3, 0xE1E10, pfns(0x40, 8)))
    s += srv_msg(open_channel(3, 3, 0xE1E10, 4), trusted=False)
    s += srv_msg(modify_channel(3, 2), trusted=False)
    s += srv_msg(close_channel(3), trusted=False)
    s += srv_msg(open_channel(3, 4, 0xE1E10, 4), trusted=False)
    s += srv_msg(unload(), trusted=False)
    write(t, "host_untrusted_5_3", s)

    # Device slow: the open and the GPADL wait; the client unloads meanwhile;
    # then the device answers everything.
    s = srv_cfg()
    s += srv_msg(initiate_contact(ver(6, 0), F_CONFIDENTIAL | F_CLIENT_ID,
                                  client_id=CLIENT_GUID))
    s += srv_msg(request_offers())
    s += srv_msg(gpadl_messages(2, 7, pfns(0x300, 6))[0], policy=DEFER)
    s += srv_event(EV_ALL)
    s += srv_msg(open_channel(2, 9, 7, 3), policy=DEFER)
    s += b"".join(srv_msg(m, policy=DEFER) for m in gpadl_messages(2, 8, pfns(0x400, 2)))
    s += srv_msg(unload(), policy=DEFER)
    s += srv_event(EV_ALL)
    write(t, "deferred_device_then_unload", s)

    # Reconnect on a live connection, and a version walk: 7.0 and 6.0 are
    # refused by a 5.3 server, 5.3 is taken.
    s = srv_cfg(max_version_sel=1)
    s += srv_msg(initiate_contact(ver(7, 0), F_CONFIDENTIAL))
    s += srv_msg(initiate_contact(ver(6, 0), F_CONFIDENTIAL))
    s += srv_msg(initiate_contact(ver(5, 3)))
    s += srv_msg(request_offers())
    s += srv_msg(gpadl_messages(1, 0x10, pfns(0x10, 4))[0])
    s += srv_msg(open_channel(1, 1, 0x10, 2), policy=DEFER)
    s += srv_msg(initiate_contact(ver(5, 0)), policy=ONE)
    s += srv_event(EV_ALL)
    s += srv_msg(request_offers())
    write(t, "reconnect_and_version_walk", s)

    # Two clients: a trusted one, then an untrusted one (refused while the
    # trusted one is connected) and a trusted second client that fights for
    # the same channel; device failures; reset.
    s = srv_cfg()
    s += srv_msg(initiate_contact(ver(6, 0), conf), client=0)
    s += srv_msg(request_offers(), client=0)
    s += srv_msg(initiate_contact(ver(6, 0), conf), client=1, trusted=False)
    s += srv_msg(initiate_contact(ver(5, 2)), client=1)
    s += srv_msg(request_offers(), client=1)
    s += srv_msg(gpadl_messages(1, 1, pfns(0x500, 4))[0], client=0)
    s += srv_msg(gpadl_messages(1, 1, pfns(0x600, 4))[0], client=1, policy=FAIL)
    s += srv_msg(open_channel(1, 1, 1, 2, open2=True), client=0, probe=True)
    s += srv_msg(open_channel(1, 1, 1, 2), client=1)
    s += srv_event(EV_REOFFER, 2)
    s += srv_event(EV_RESET)
    write(t, "two_clients_and_reset", s)

    # GPADL bounds: one GPADL being built at a time, four in all; a body
    # with more PFNs than announced; ranges that do not add up.
    s = srv_cfg(building=1, gpadls_half=2)
    s += srv_msg(initiate_contact(ver(6, 0)))
    s += srv_msg(request_offers())
    msgs = gpadl_messages(1, 0x20, pfns(0x700, 40))
    s += srv_msg(msgs[0])
    s += srv_msg(gpadl_messages(1, 0x21, pfns(0x800, 40))[0])
    s += srv_msg(msgs[1] + struct.pack("<Q", 0x999))
    s += srv_msg(hdr(8) + struct.pack("<IIHH", 1, 0x22, 24, 1) +
                 struct.pack("<QQQ", range_value(3 * 4096, 0), 1, 2))
    for g in range(0x30, 0x35):
        s += srv_msg(gpadl_messages(1, g, pfns(0x900, 1))[0])
    write(t, "gpadl_limits", s)

    # The same, with excess PFNs ignored (UEFI's full-size bodies).
    s = srv_cfg(ignore_excess=True)
    s += srv_msg(initiate_contact(ver(5, 3)))
    s += srv_msg(request_offers())
    msgs = gpadl_messages(2, 0x40, pfns(0xA00, 30))
    s += srv_msg(msgs[0])
    s += srv_msg(msgs[1] + bytes(8 * 10))
    s += srv_msg(open_channel(2, 1, 0x40, 15))
    write(t, "gpadl_excess_pfns_ignored", s)

    # Devices answering out of order across channels (in order within
    # one): two rings, two opens, a modify and a close all pending, then
    # answered newest channel first, one failing.
    s = srv_cfg()
    s += srv_msg(initiate_contact(ver(5, 3)))
    s += srv_msg(request_offers())
    s += srv_msg(gpadl_messages(1, 0x51, pfns(0xB00, 4))[0], policy=DEFER)
    s += srv_msg(gpadl_messages(2, 0x52, pfns(0xC00, 4))[0], policy=DEFER)
    s += srv_event(EV_ANY_OK, 1) + srv_event(EV_ANY_OK, 0)
    s += srv_msg(open_channel(1, 1, 0x51, 2), policy=DEFER)
    s += srv_msg(open_channel(2, 2, 0x52, 2), policy=DEFER)
    s += srv_event(EV_ANY_OK, 1) + srv_event(EV_ANY_OK, 0)
    s += srv_msg(modify_channel(1, 3), policy=DEFER)
    s += srv_msg(close_channel(1), policy=DEFER)
    s += srv_msg(modify_channel(2, 3), policy=DEFER)
    s += srv_msg(gpadl_teardown(1, 0x51), policy=DEFER)
    s += srv_event(EV_ANY_FAIL, 1) + srv_event(EV_ANY_OK, 2) + srv_event(EV_ANY_OK, 0)
    s += srv_event(EV_ALL)
    write(t, "devices_out_of_order", s)

    # Completions nobody asked for, of every kind, against live state.
    s = srv_cfg()
    s += srv_msg(initiate_contact(ver(6, 0), F_CONFIDENTIAL))
    s += srv_msg(request_offers())
    s += srv_msg(gpadl_messages(1, 0x70, pfns(0xD00, 4))[0])
    s += srv_msg(open_channel(1, 1, 0x70, 2))
    for sel in range(15):
        s += srv_event(EV_BOGUS, sel) + bytes([0x70 if sel % 2 else 0x71])
    write(t, "device_bogus_completions", s)

    # A client reopens while the close is still with the device
    # (CLOSING_REOPEN); a 4.1 client stacks two modifies (the second waits
    # for the first); the ring GPADL may not go while the channel is open;
    # a teardown still pending when the client unloads.
    s = srv_cfg()
    s += srv_msg(initiate_contact(ver(4, 1)))
    s += srv_msg(request_offers())
    s += srv_msg(gpadl_messages(1, 0x80, pfns(0xE00, 4))[0])
    s += srv_msg(gpadl_messages(1, 0x81, pfns(0xE10, 2))[0])
    s += srv_msg(open_channel(1, 1, 0x80, 2))
    s += srv_msg(gpadl_teardown(1, 0x80))
    s += srv_msg(modify_channel(1, 1), policy=DEFER)
    s += srv_msg(modify_channel(1, 2), policy=DEFER)
    s += srv_event(EV_ANY_OK, 0)
    s += srv_msg(close_channel(1), policy=DEFER)
    s += srv_msg(open_channel(1, 2, 0x80, 2), policy=DEFER)
    s += srv_event(EV_ALL)
    s += srv_msg(gpadl_teardown(1, 0x81), policy=DEFER)
    s += srv_event(EV_RESCIND, 1)
    s += srv_msg(unload(), policy=DEFER)
    s += srv_event(EV_ALL)
    write(t, "reopen_modify_teardown", s)

    # Ranges whose headers sit in a GpadlBody, where the header's own check
    # cannot see them: a good second range, an empty one, and a range
    # claiming more PFNs than remain.
    def two_range_gpadl(gid, second, extra_ranges=0):
        first = [range_value(30 * 4096, 0)] + pfns(0xF00, 30)
        values = first + second
        buflen = 8 * (len(values) + 2 * extra_ranges)
        head = hdr(8) + struct.pack("<IIHH", 1, gid, buflen, 2 + extra_ranges) + \
            b"".join(struct.pack("<Q", v) for v in values[:27])
        body = hdr(9) + struct.pack("<II", 0, gid) + \
            b"".join(struct.pack("<Q", v) for v in values[27:] + [0x77] * (2 * extra_ranges))
        return srv_msg(head) + srv_msg(body)
    s = srv_cfg()
    s += srv_msg(initiate_contact(ver(5, 3)))
    s += srv_msg(request_offers())
    s += two_range_gpadl(0x90, [range_value(4096, 0), 0xF40])
    s += two_range_gpadl(0x91, [range_value(0, 0), 0xF41])
    s += two_range_gpadl(0x92, [range_value(8192, 0x1000), 0xF42])
    s += two_range_gpadl(0x93, [range_value(3 * 4096, 0), 0xF43])
    s += two_range_gpadl(0x94, [range_value(4096, 0), 0xF44], extra_ranges=1)
    s += srv_event(EV_RESCIND, 0)
    s += two_range_gpadl(0x95, [range_value(4096, 0), 0xF45])
    write(t, "gpadl_ranges_in_body", s)


# ---- fuzz_vstor_completion --------------------------------------------------------
#
# version selector, request kind, u32 request transfer length, [room],
# u32 max_transfer, u8 range_count, u32 range_bytes, then the payload.

VSTOR_WIN7, VSTOR_WIN8, VSTOR_WIN10, VSTOR_NONE = 1, 2, 4, 5
OP_COMPLETE_IO = 1
REQ_SRB_OUT, REQ_SRB_IN, REQ_SRB_NONE, REQ_QUERY_VERSION = 0x0, 0x4, 0x8, 0x1


def vstor_srb(srb_status, scsi_status, xfer, sense=b"", data_in=1, win8=True):
    # @0 length, @2 srb_status, @3 scsi_status, @4 port, path, target, lun,
    # @8 cdb_length, @9 sense_info_length, @10 data_in, @11 reserved,
    # @12 data_transfer_length, @16 20 bytes of cdb/sense, then from WIN8
    # @36 reserve, queue_tag, queue_action, @40 srb_flags, time_out, sort key.
    size = 0x34 if win8 else 0x24
    room = 20 if win8 else 18
    b = struct.pack("<HBBBBBBBBBBI", size, srb_status, scsi_status, 0, 0, 0, 0, 10,
                    len(sense), data_in, 0, xfer)
    b += sense.ljust(20, b"\0")[:20]
    if win8:
        b += struct.pack("<HBBIII", 0, 0, 0, 0x10A, 60, 0)
    assert len(b) == size and len(sense) <= room
    return b


def vstor_packet(op, status, body):
    return struct.pack("<III", op, 0, status) + body


def vstor_input(vsel, kind, xfer, payload, room=None, max_transfer=256 * 1024,
                range_count=1, range_bytes=1 << 20):
    b = bytes([vsel, kind | (0x10 if room is not None else 0)]) + struct.pack("<I", xfer)
    if room is not None:
        b += bytes([room])
    return b + struct.pack("<IBI", max_transfer, range_count, range_bytes) + payload


def vstor_seeds():
    t = "fuzz_vstor_completion"
    fixed_sense = bytes([0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0x00, 0, 0, 0, 0])
    desc_sense = bytes([0x72, 0x03, 0x11, 0x00, 0, 0, 0, 0])
    write(t, "win10_read_ok", vstor_input(
        VSTOR_WIN10, REQ_SRB_IN, 4096,
        vstor_packet(OP_COMPLETE_IO, 0, vstor_srb(0x01, 0, 4096))))
    write(t, "win10_check_condition", vstor_input(
        VSTOR_WIN10, REQ_SRB_IN, 4096,
        vstor_packet(OP_COMPLETE_IO, 0xC0000185, vstor_srb(0x84, 0x02, 0, fixed_sense))))
    write(t, "win8_descriptor_sense", vstor_input(
        VSTOR_WIN8, REQ_SRB_OUT, 512,
        vstor_packet(OP_COMPLETE_IO, 0xC0000185, vstor_srb(0x84, 0x02, 0, desc_sense,
                                                           data_in=0))))
    write(t, "win7_old_layout_short_read", vstor_input(
        VSTOR_WIN7, REQ_SRB_IN, 8192,
        vstor_packet(OP_COMPLETE_IO, 0, vstor_srb(0x01, 0, 4096, win8=False))))
    write(t, "win10_transfer_larger_than_asked", vstor_input(
        VSTOR_WIN10, REQ_SRB_IN, 4096,
        vstor_packet(OP_COMPLETE_IO, 0, vstor_srb(0x01, 0, 8192))))
    write(t, "win10_sense_room_raw_8", vstor_input(
        VSTOR_WIN10, REQ_SRB_NONE, 0,
        vstor_packet(OP_COMPLETE_IO, 0, vstor_srb(0x84, 0x02, 0, fixed_sense, data_in=2)),
        room=8))
    write(t, "handshake_query_version", vstor_input(
        VSTOR_NONE, REQ_QUERY_VERSION, 0,
        vstor_packet(OP_COMPLETE_IO, 0, struct.pack("<HH", 0x0602, 0).ljust(0x24, b"\0"))))
    write(t, "win10_payload_short", vstor_input(
        VSTOR_WIN10, REQ_SRB_IN, 4096, vstor_packet(OP_COMPLETE_IO, 0, bytes(20))))
    # An EXECUTE_SRB from a guest, as the VSP's check sees it.
    write(t, "execute_srb_request", vstor_input(
        VSTOR_WIN10, REQ_SRB_IN, 4096,
        vstor_packet(3, 0, vstor_srb(0, 0, 65536)), max_transfer=65536, range_count=1,
        range_bytes=65536))


# ---- fuzz_rndis_nvsp ---------------------------------------------------------------
#
# Byte 0 even: an RNDIS message follows. Odd: version selector (0 = 6.1 ..
# 4 = 2, 5 = before INIT), direction bit, u32 buffer bytes, u32
# min_section, u32 section count, u32 section size, the NVSP message.

def rndis(mtype, body, tail=b""):
    return struct.pack("<II", mtype, 8 + len(body) + len(tail)) + body + tail


def rndis_seeds():
    t = "fuzz_rndis_nvsp"
    frame = bytes([0xFF] * 6) + bytes([0, 0x15, 0x5D, 1, 2, 3]) + b"\x08\x06" + bytes(46)
    # PACKET: data_offset (from the body) 36, no oob, no ppi.
    write(t, "rndis_packet", b"\0" + rndis(1, struct.pack("<9I", 36, len(frame), 0, 0, 0,
                                                           0, 0, 0, 0), frame))
    # PACKET with one per-packet-info element (size 16, type 0, value @12)
    # before the frame.
    ppi = struct.pack("<III", 16, 0, 12) + struct.pack("<I", 0x1234)
    write(t, "rndis_packet_ppi", b"\0" + rndis(1, struct.pack(
        "<9I", 36 + len(ppi), len(frame), 0, 0, 0, 36, len(ppi), 0, 0), ppi + frame))
    write(t, "rndis_init_cmplt", b"\0" + rndis(0x80000002, struct.pack(
        "<11I", 1, 0, 1, 0, 1, 0, 8, 0x4000, 3, 0, 0)))
    mac = bytes([0, 0x15, 0x5D, 1, 2, 3])
    write(t, "rndis_query_cmplt_mac", b"\0" + rndis(0x80000004, struct.pack(
        "<IIII", 2, 0, len(mac), 16), mac))
    write(t, "rndis_indicate_connect", b"\0" + rndis(7, struct.pack(
        "<III", 0x4001000B, 0, 0)))
    write(t, "rndis_set_filter", b"\0" + rndis(5, struct.pack(
        "<IIIII", 3, 0x0001010E, 4, 20, 0), struct.pack("<I", 0x0B)))
    write(t, "rndis_query_request", b"\0" + rndis(4, struct.pack(
        "<IIIII", 4, 0x01010102, 0, 0, 0)))
    write(t, "rndis_set_cmplt", b"\0" + rndis(0x80000005, struct.pack("<II", 3, 0)))
    write(t, "rndis_keepalive", b"\0" + rndis(8, struct.pack("<I", 5)))
    write(t, "rndis_reset_cmplt", b"\0" + rndis(0x80000006, struct.pack("<II", 0, 1)))
    write(t, "rndis_halt", b"\0" + rndis(3, struct.pack("<I", 6)))
    write(t, "rndis_initialize", b"\0" + rndis(2, struct.pack("<IIII", 7, 1, 0, 0x4000)))
    # Offloads: an IPv4 TCP frame (00:15:5d:12:34:56 <- 00:15:5d:00:00:01,
    # 10.0.0.1 -> 10.0.0.2, ports 0x1234 -> 0x5678, PSH|ACK) with payload
    # bytes 0, 1, 2, ... and per-packet info elements (size 16, type,
    # offset 12, value): checksum (type 0) 0x00220005 = TCP over IPv4,
    # header at 34; LSOv2 (type 2) = v2 | IPv4 | header at 34 | mss.
    def tcp4(payload_len, ip_len):
        pl = bytes(i % 256 for i in range(payload_len))
        return (bytes.fromhex("00155d123456" "00155d000001" "0800") +
                bytes.fromhex("4500") + struct.pack(">H", ip_len) +
                bytes.fromhex("0001400040060000" "0a000001" "0a000002") +
                bytes.fromhex("12345678" "00000001" "00000002" "5018ffff" "00000000") + pl)

    def packet(ppis, frame):
        info = b"".join(struct.pack("<IIII", 16, typ, 12, val) for typ, val in ppis)
        return b"\0" + rndis(1, struct.pack("<9I", 36 + len(info), len(frame), 0, 0, 0,
                                            36, len(info), 0, 0), info + frame)

    write(t, "rndis_packet_csum", packet([(0, 0x00220005)], tcp4(100, 140)))
    # LSO frames leave the IPv4 total length 0 (NDIS does); the device
    # fixes it per segment.
    write(t, "rndis_packet_lso", packet([(2, 0x422005A8)], tcp4(3000, 0)))
    write(t, "rndis_packet_lso_bad_mss", packet([(2, 0x42200001)], tcp4(3000, 0)))
    write(t, "rndis_packet_csum_lso", packet([(0, 0x00220005), (2, 0x42200218)],
                                             tcp4(1200, 0)))


def nvsp(vsel, h2g, buf_bytes, min_section, count, ssize, msg):
    return bytes([1, vsel, 1 if h2g else 0]) + \
        struct.pack("<IIII", buf_bytes, min_section, count, ssize) + msg.ljust(40, b"\0")


def nvsp_seeds():
    t = "fuzz_rndis_nvsp"
    mb = 1 << 20
    write(t, "nvsp_init", nvsp(5, False, 0, 0, 0, 0, struct.pack("<III", 1, 0x60001, 0x60001)))
    write(t, "nvsp_init_complete", nvsp(5, True, 0, 0, 0, 0,
                                        struct.pack("<IIII", 2, 0x60001, 0, 1)))
    # SEND_RECV_BUF_COMPLETE: status 1, one section {0, 1728, 606, 1047168}.
    write(t, "nvsp_recv_buf_complete", nvsp(0, True, mb, 1558, 0, 0, struct.pack(
        "<IIIIIII", 102, 1, 1, 0, 1728, 606, 1728 * 606)))
    write(t, "nvsp_send_buf_complete", nvsp(0, True, mb, 1558, 0, 0,
                                            struct.pack("<III", 105, 1, 6144)))
    write(t, "nvsp_rndis_pkt_section", nvsp(0, False, mb, 0, 170, 6144,
                                            struct.pack("<IIII", 107, 0, 3, 100)))
    write(t, "nvsp_rndis_pkt_no_section", nvsp(1, True, 0, 0, 0, 0,
                                               struct.pack("<IIII", 107, 1, 0xFFFFFFFF, 0)))
    write(t, "nvsp_rndis_pkt_complete", nvsp(2, True, 0, 0, 0, 0, struct.pack("<II", 108, 1)))
    write(t, "nvsp_subchannel", nvsp(2, False, 0, 0, 0, 0, struct.pack("<III", 133, 1, 4)))
    write(t, "nvsp_ndis_config", nvsp(4, False, 0, 0, 0, 0,
                                      struct.pack("<IIIII", 125, 1514, 0, 0x10, 0)))
    write(t, "nvsp_ndis_version", nvsp(0, False, 0, 0, 0, 0, struct.pack("<III", 100, 6, 30)))


# ---- fuzz_client_messages --------------------------------------------------------
#
# c0 (bit 0 confidential, bit 1 paravisor path, bit 2 isolated, bit 3
# clear confidential offers, bit 4 no monitor pages, bits 5-6 extra
# features, bit 7 max 5.3), c1 (post_tries - 1), then steps: a host message
# is h (bit 0 source SynIC), a length byte, the bytes; an action is
# 0x80 | kind | selector << 4 and its argument bytes. The client has posted
# InitiateContact (6.0, or 5.3) before the first step; its GPADL handles
# count up from 0xE1E10.

A_OFFERS, A_OPEN, A_CLOSE, A_GPADL, A_TEARDOWN, A_RELEASE, A_UNLOAD, A_TICK = range(8)
A_CONNECT, A_POST_FAIL, A_VIS_FAIL, A_FOREIGN, A_OPEN_FOREIGN, A_TICK_DEADLINE = range(8, 14)
A_HV_MESSAGE = 14
T_1S, T_5S, T_10S, T_60S = 4, 5, 6, 7
NET_GUID = struct.pack("<IHH", 0xF8615163, 0xDF3E, 0x46C5) + \
    bytes([0x91, 0x3F, 0xF2, 0xD2, 0xF9, 0x65, 0xED, 0x0E])


def cli_msg(m, paravisor=True):
    assert len(m) <= 255
    return bytes([1 if paravisor else 0, len(m)]) + m


def cli_act(kind, sel=0, args=b""):
    return bytes([0x80 | kind | sel << 4]) + args


def version_response(supported=True, conn_id=4, features=None, state=0):
    m = hdr(15) + struct.pack("<BBHI", 1 if supported else 0, state, 0, conn_id)
    if features is not None:
        m += struct.pack("<I", features)
    return m


def offer(relid, flags=0, instance=0, conn_id=None):
    # @8 if_type, @24 if_instance, @40 16 reserved bytes, @56 flags,
    # @58 mmio, @60 user_defined, @180 sub-channel index, @182 mmio optional,
    # @184 relid, @188 monitor id, @189 monitor allocated, @190 dedicated
    # interrupt, @192 connection id.
    inst = struct.pack("<IHH", 0x12345678 + instance, 0x9ABC, 0xDEF0) + bytes(range(8))
    m = hdr(1) + NET_GUID + inst + bytes(16) + struct.pack("<HH", flags, 0) + bytes(120)
    m += struct.pack("<HHIBBHI", 0, 0, relid, 0xFF, 0, 1,
                     0x2000 + relid if conn_id is None else conn_id)
    assert len(m) == 196
    return m


def all_offers():
    return hdr(4)


def gpadl_created(relid, gpadl, status=0):
    return hdr(10) + struct.pack("<III", relid, gpadl, status)


def gpadl_torndown(gpadl):
    return hdr(12) + struct.pack("<I", gpadl)


def open_result(relid, openid, status=0):
    return hdr(6) + struct.pack("<III", relid, openid, status)


def rescind(relid):
    return hdr(2) + struct.pack("<I", relid)


def unload_response():
    return hdr(17)


def client_seeds():
    t = "fuzz_client_messages"
    g0 = 0xE1E10

    # Confidential 6.0 session with the paravisor: offers with a
    # confidential ring (1), ring and external memory (2) and none (3);
    # open 1 (private ring), a private buffer GPADL on 2, its teardown,
    # close, a rescind of 3 and its release, unload.
    s = bytes([0x03, 0x03])
    s += cli_msg(version_response(features=F_CONFIDENTIAL))
    s += cli_act(A_OFFERS)
    s += cli_msg(offer(1, 0x2)) + cli_msg(offer(2, 0x6, 1)) + cli_msg(offer(3, 0, 2))
    s += cli_msg(all_offers())
    s += cli_act(A_OPEN, 0, bytes([0x05]))
    s += cli_msg(gpadl_created(1, g0))
    s += cli_msg(open_result(1, 1))
    s += cli_act(A_GPADL, 1, bytes([3]))
    s += cli_msg(gpadl_created(2, g0 + 1))
    s += cli_act(A_TEARDOWN, 1, bytes([1]))
    s += cli_msg(gpadl_torndown(g0 + 1))
    s += cli_act(A_CLOSE, 0)
    s += cli_msg(gpadl_torndown(g0))
    s += cli_msg(rescind(3))
    s += cli_act(A_RELEASE, 2)
    s += cli_act(A_UNLOAD)
    s += cli_msg(unload_response())
    write(t, "confidential_session", s)

    # A plain 5.3 host (16-byte VersionResponse): a confidential offer is
    # refused, a plain one is opened over a host-visible ring; a buffer
    # GPADL is refused by the host; the open fails; unload.
    s = bytes([0x80, 0x03])
    s += cli_msg(version_response(), paravisor=False)
    s += cli_act(A_OFFERS)
    s += cli_msg(offer(5, 0x2), paravisor=False) + cli_msg(offer(6), paravisor=False)
    s += cli_msg(all_offers(), paravisor=False)
    s += cli_act(A_OPEN, 0, bytes([0x0F]))
    s += cli_msg(gpadl_created(6, g0), paravisor=False)
    s += cli_act(A_GPADL, 0, bytes([7]))
    s += cli_msg(gpadl_created(6, g0 + 1, 0xC0000001), paravisor=False)
    s += cli_msg(open_result(6, 6, 0xC0000001), paravisor=False)
    s += cli_msg(gpadl_torndown(g0), paravisor=False)
    s += cli_act(A_UNLOAD)
    s += cli_msg(unload_response(), paravisor=False)
    write(t, "plain_5_3_failures", s)

    # Version walk: 6.0 refused, 5.3 refused, 5.2 taken by an isolated
    # guest; then a reconnect after an unload that times out.
    s = bytes([0x04, 0x03])
    s += cli_msg(version_response(supported=False, conn_id=0), paravisor=False)
    s += cli_msg(version_response(supported=False, conn_id=0), paravisor=False)
    s += cli_msg(version_response(), paravisor=False)
    s += cli_act(A_OFFERS)
    s += cli_msg(offer(9), paravisor=False)
    s += cli_act(A_TICK, T_10S) + cli_act(A_TICK, T_1S)
    s += cli_act(A_UNLOAD)
    s += cli_act(A_TICK, T_10S)
    s += cli_act(A_CONNECT)
    s += cli_msg(version_response(features=0), paravisor=False)
    write(t, "version_walk_timeouts", s)

    # Hypercalls failing: posts (retried, then given up) and visibility
    # changes (pages leaked, never handed back shared); an open whose
    # result never comes; a GPADL teardown that times out.
    s = bytes([0x02, 0x01])
    s += cli_msg(version_response(features=0))
    s += cli_act(A_POST_FAIL, 1, bytes([0]))
    s += cli_act(A_OFFERS)
    s += cli_act(A_TICK_DEADLINE) + cli_act(A_TICK_DEADLINE)
    s += cli_msg(offer(4)) + cli_msg(all_offers())
    s += cli_act(A_VIS_FAIL, 0)
    s += cli_act(A_GPADL, 0, bytes([2]))
    s += cli_act(A_OPEN, 0, bytes([0]))
    s += cli_msg(gpadl_created(4, g0))
    s += cli_act(A_TICK, T_5S)
    s += cli_act(A_GPADL, 0, bytes([1]))
    s += cli_msg(gpadl_created(4, g0 + 1))
    s += cli_act(A_TEARDOWN, 0, bytes([1]))
    s += cli_act(A_TICK, T_60S)
    write(t, "hypercall_failures_and_timeouts", s)

    # A relay: guest-specified signal parameters, a foreign GPADL of four
    # pages (range {16384, 0} + 4 PFNs), OpenChannel2 over it at downstream
    # offset 2, close (no teardown: not ours), teardown by its owner.
    values = [range_value(4 * 4096, 0), 0x50, 0x51, 0x52, 0x53]
    foreign = bytes([5, 1, len(values)]) + b"".join(struct.pack("<Q", v) for v in values)
    s = bytes([0x33, 0x03])
    s += cli_msg(version_response(features=F_CONFIDENTIAL | F_SIGNAL))
    s += cli_act(A_OFFERS)
    s += cli_msg(offer(7, 0x2)) + cli_msg(all_offers())
    s += cli_act(A_FOREIGN, 0, foreign)
    s += cli_msg(gpadl_created(7, 0x105))
    s += cli_act(A_OPEN_FOREIGN, 0, bytes([2]))
    s += cli_msg(open_result(7, 7))
    s += cli_act(A_CLOSE, 0)
    s += cli_act(A_TEARDOWN, 7, bytes([7]) + struct.pack("<I", 0x105))
    s += cli_msg(gpadl_torndown(0x105))
    write(t, "relay_foreign_gpadl", s)

    # Whole SynIC messages through the envelope check, and a relay client
    # that clears confidential flags from host offers.
    s = bytes([0x19, 0x03])
    vr = version_response(features=F_CONFIDENTIAL)
    s += cli_act(A_HV_MESSAGE, 0, bytes([0, len(vr)]) + vr)
    s += cli_act(A_OFFERS)
    o = offer(8, 0x6)
    s += cli_act(A_HV_MESSAGE, 0, bytes([0, len(o)]) + o)
    s += cli_act(A_HV_MESSAGE, 0, bytes([0x10, 8]) + all_offers())
    s += cli_act(A_HV_MESSAGE, 0, bytes([0, 8]) + all_offers())
    s += cli_act(A_OPEN, 0, bytes([0x10]))
    s += cli_msg(gpadl_created(8, g0))
    s += cli_msg(open_result(8, 8))
    s += cli_msg(rescind(8))
    s += cli_act(A_RELEASE, 0)
    s += cli_msg(gpadl_torndown(g0))
    write(t, "hv_message_envelope_relay", s)


# ---- fuzz_channel_gpa ------------------------------------------------------------
#
# pages - 2, u32 downstream offset, flags (bit 0 host, bit 1 ATTACH, bit 2
# misaligned, bit 3 short, bit 4 memory fails), 72 bytes of each control
# page head (write_index @0, read_index @4), u16 length + the peer's packets,
# walk count + {u32 offset, u16 length, u8 write} each.

def ring_head(write_index=0, read_index=0):
    return struct.pack("<IIII", write_index, read_index, 0, 0).ljust(72, b"\0")


def ring_packet(ptype, trans_id, header, payload, start):
    """Descriptor {type, offset8, len8, flags, trans_id} (ring.h), the type
    header, the payload, zero padding to 8, and the 8-byte trailer
    (start offset << 32)."""
    offset8 = (16 + len(header)) // 8
    body = header + payload
    total = 16 + len(body)
    total += -total % 8
    desc = struct.pack("<HHHHQ", ptype, offset8, total // 8, 0, trans_id)
    pkt = (desc + body).ljust(total, b"\0")
    return pkt + struct.pack("<Q", start << 32)


def gpa_direct(ranges, payload, trans_id, start):
    """ranges: [(byte_count, byte_offset, [pfns])]; header {reserved,
    range_count} then each range {byte_count, byte_offset, pfns}."""
    hdr_ = struct.pack("<II", 0, len(ranges))
    for count, off, pfn_list in ranges:
        hdr_ += struct.pack("<II", count, off) + b"".join(struct.pack("<Q", p) for p in pfn_list)
    return ring_packet(0x9, trans_id, hdr_, payload, start)


def walks(items):
    return bytes([len(items)]) + b"".join(struct.pack("<IHB", o, n, w) for o, n, w in items)


def gpa_input(pages, offset, flags, head_up, head_down, packets, walk_list):
    return bytes([pages - 2]) + struct.pack("<I", offset) + bytes([flags]) + head_up + \
        head_down + struct.pack("<H", len(packets)) + packets + walks(walk_list)


def channel_gpa_seeds():
    t = "fuzz_channel_gpa"
    # The guest formats an 8-page region split at 4; the host's packet names
    # 6000 bytes at offset 100 of pages 0x10-0x11 and a page at 0x20.
    pkt = gpa_direct([(6000, 100, [0x10, 0x11]), (4096, 0, [0x20])], bytes(range(16)), 1, 0)
    write(t, "guest_format_two_ranges", gpa_input(
        8, 4, 0x00, ring_head(), ring_head(len(pkt)), pkt,
        [(0, 6000, 0), (4000, 2000, 1), (5999, 2, 0), (0, 4096, 1)]))
    # The host attaches to a 6-page region split at 2 (inbound: upstream,
    # one data page): an in-band packet, then a GPA range of 3 pages; the
    # external memory fails after the first chunk.
    inband = ring_packet(0x6, 2, b"", b"hello", 0)
    pkt = gpa_direct([(9000, 4000, [0x30, 0x31, 0x32, 0x33])], b"", 3, len(inband))
    both = inband + pkt
    write(t, "host_attach_memory_fails", gpa_input(
        6, 2, 0x13, ring_head(len(both)), ring_head(), both,
        [(0, 9000, 0), (100, 8000, 1)]))
    # A PFN whose address does not fit in 64 bits.
    pkt = gpa_direct([(8192, 0, [0x40, 0xFFFFFFFFFFFFFF4A])], b"", 4, 0)
    write(t, "guest_pfn_overflow", gpa_input(
        4, 2, 0x00, ring_head(), ring_head(len(pkt)), pkt, [(0, 8192, 0), (4096, 10, 1)]))
    write(t, "host_attach_ok", gpa_input(
        6, 2, 0x03, ring_head(len(both)), ring_head(0, 0), both, [(4096, 4096, 0)]))
    # Offsets a hostile OpenChannel can name: 0, the whole region, past
    # it, one page short of a data page; a misaligned or short region.
    for name, pages, off, fl in (("offset_zero", 4, 0, 0), ("offset_all", 4, 4, 0),
                                 ("offset_huge", 4, 0x100000, 0), ("offset_one", 4, 1, 0),
                                 ("misaligned", 4, 2, 0x04), ("short_region", 4, 2, 0x08)):
        write(t, name, gpa_input(pages, off, fl, ring_head(), ring_head(), b"", []))
    # ATTACH over indices a peer left wrong: unaligned, past the data.
    write(t, "attach_bad_write_index", gpa_input(4, 2, 0x02, ring_head(13), ring_head(), b"", []))
    write(t, "attach_bad_read_index", gpa_input(4, 2, 0x03, ring_head(), ring_head(0, 8192),
                                                b"", []))


def main():
    channel_gpa_seeds()
    client_seeds()
    server_seeds()
    vstor_seeds()
    rndis_seeds()
    nvsp_seeds()


if __name__ == "__main__":
    main()
