/* SPDX-License-Identifier: MIT */
/*
 * The one TCP/IPv4 frame header the offload tests (test_rndis.c,
 * test_net.c) build their frames on, written by hand: Ethernet
 * 00:15:5d:12:34:56 <- 00:15:5d:00:00:01, IPv4 10.0.0.1 -> 10.0.0.2 (id 1,
 * DF, TTL 64, TCP), ports 0x1234 -> 0x5678, seq 1, ack 2, data offset 5,
 * PSH|ACK, window 0xffff. Total length, header checksum and TCP checksum
 * are left zero, as the NDIS rule for LSO lets a guest send them; each
 * test fills in what its case needs.
 */
#ifndef TESTS_NET_TCP4_HEADER_H
#define TESTS_NET_TCP4_HEADER_H

#include <stdint.h>
#include <string.h>

#define TCP4_HEADER_LEN 54u

static inline void tcp4_header(uint8_t *f)
{
	static const uint8_t hdr[TCP4_HEADER_LEN] = {
		0x00, 0x15, 0x5d, 0x12, 0x34, 0x56, 0x00, 0x15, 0x5d, 0x00, 0x00, 0x01, 0x08, 0x00,
		0x45, 0x00, 0x00, 0x00, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
		0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
		0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x18, 0xff, 0xff,
		0x00, 0x00, 0x00, 0x00,
	};

	memcpy(f, hdr, sizeof(hdr));
}

#endif /* TESTS_NET_TCP4_HEADER_H */
