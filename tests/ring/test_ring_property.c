/* SPDX-License-Identifier: MIT */
/*
 * Property test of the ring (tests/ring): tens of thousands of packets of
 * every type with random sizes (fixed seeds, so a failure reproduces), many
 * times around the ring, through a single-mapped data area, a double-mapped
 * one, and a writer and a reader that see the same memfd through different
 * kinds of mapping. Every packet read back is checked field by field and
 * byte by byte against an independent model: payload, sender padding,
 * ranges, the ring offset where the packet must start, and its trailer
 * (checked both through the API and directly in the shared bytes). A peek
 * iterator over the whole backlog, from the reader and from an inspector,
 * must agree with the model without consuming anything.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ring/ring_test_util.h"

#define MAX_QUEUE 2048
#define PACKETS   20000u

struct spec {
	uint64_t seq;
	uint16_t type;
	uint16_t flags;
	uint32_t payload_len;
	uint32_t ngpa;
	struct {
		uint32_t byte_count, byte_offset, npfn;
		uint64_t pfn[4];
	} gpa[3];
	uint32_t nxfer;
	struct cvmbus_ring_xfer_range xfer[4];
	uint16_t set_id;
	uint32_t header_len;
	uint32_t total;  /* ring space: padded body + trailer */
	uint32_t offset; /* where the model says it starts */
};

struct model {
	struct spec q[MAX_QUEUE];
	unsigned head, count;
	uint32_t w;       /* model write offset */
	uint32_t size;
	unsigned wraps;   /* times the model write offset went around */
	unsigned straddles; /* packets split across the end of the data area */
	uint64_t bytes;
};

static void gen_spec(struct tprng *g, uint64_t seq, uint32_t size, struct spec *s)
{
	uint32_t kind = tprng_range(g, 0, 9), i;
	uint64_t body;

	memset(s, 0, sizeof(*s));
	s->seq = seq;
	s->flags = (uint16_t)(tprng_next(g) & 1);
	s->type = kind < 5 ? CVMBUS_RING_PKT_INBAND
		: kind < 7 ? CVMBUS_RING_PKT_COMPLETION
		: kind < 9 ? CVMBUS_RING_PKT_GPA_DIRECT
			   : CVMBUS_RING_PKT_XFER_PAGES;
	/* Mostly small, sometimes a third of the ring, sometimes empty. */
	if (tprng_range(g, 0, 9) == 0)
		s->payload_len = tprng_range(g, 0, size / 3);
	else
		s->payload_len = tprng_range(g, 0, 300);
	if (s->type == CVMBUS_RING_PKT_GPA_DIRECT) {
		s->ngpa = tprng_range(g, 1, 3);
		s->header_len = 8;
		for (i = 0; i < s->ngpa; i++) {
			s->gpa[i].byte_offset = tprng_range(g, 0, 4095);
			s->gpa[i].byte_count = tprng_range(g, 1, 9000);
			s->gpa[i].npfn = (s->gpa[i].byte_offset + s->gpa[i].byte_count + 4095) / 4096;
			for (uint32_t j = 0; j < s->gpa[i].npfn; j++)
				s->gpa[i].pfn[j] = seq * 16 + i * 4 + j;
			s->header_len += 8 + 8 * s->gpa[i].npfn;
		}
	} else if (s->type == CVMBUS_RING_PKT_XFER_PAGES) {
		s->nxfer = tprng_range(g, 1, 4);
		s->set_id = (uint16_t)seq;
		s->header_len = 8 + 8 * s->nxfer;
		for (i = 0; i < s->nxfer; i++) {
			s->xfer[i].byte_count = (uint32_t)tprng_next(g);
			s->xfer[i].byte_offset = (uint32_t)tprng_next(g);
		}
	}
	body = 16 + s->header_len + s->payload_len;
	s->total = (uint32_t)((body + 7) / 8 * 8 + 8);
}

static int send_spec(struct cvmbus_ring *w, struct tprng *g, const struct spec *s,
		     uint8_t *scratch, uint32_t *needed)
{
	struct cvmbus_ring_gpa_range gr[3];
	struct cvmbus_ring_iov iov[3];
	struct cvmbus_ring_outpkt p = {
		.type = s->type,
		.flags = s->flags,
		.trans_id = s->seq,
		.xfer_set_id = s->set_id,
	};
	uint32_t i, a, b;

	for (i = 0; i < s->payload_len; i++)
		scratch[i] = tpattern(s->seq, i);
	/* Gather from up to three pieces cut at random points. */
	a = tprng_range(g, 0, s->payload_len);
	b = tprng_range(g, a, s->payload_len);
	iov[0] = (struct cvmbus_ring_iov){ scratch, a };
	iov[1] = (struct cvmbus_ring_iov){ scratch + a, b - a };
	iov[2] = (struct cvmbus_ring_iov){ scratch + b, s->payload_len - b };
	p.payload = iov;
	p.payload_count = 3;
	for (i = 0; i < s->ngpa; i++)
		gr[i] = (struct cvmbus_ring_gpa_range){ .byte_count = s->gpa[i].byte_count,
							.byte_offset = s->gpa[i].byte_offset,
							.pfns = s->gpa[i].pfn,
							.pfn_count = s->gpa[i].npfn };
	if (s->ngpa) {
		p.gpa = gr;
		p.gpa_count = s->ngpa;
	}
	if (s->nxfer) {
		p.xfer = s->xfer;
		p.xfer_count = s->nxfer;
	}
	return cvmbus_ring_send(w, &p, NULL, needed);
}

/* The trailer, read by hand from the shared bytes (wrapping by hand too). */
static uint64_t shared_trailer(const struct tring *t, uint32_t offset, uint32_t len)
{
	uint32_t size = t->mem.data_size, at = (offset + len) % size;
	uint8_t b[8];

	for (unsigned i = 0; i < 8; i++)
		b[i] = tring_data(t)[(at + i) % size];
	return le64_at(b);
}

static void check_packet(const struct cvmbus_ring_packet *pkt, const struct spec *s,
			 const struct tring *t)
{
	uint32_t i, cur = 0;
	struct cvmbus_ring_gpa_view gv;
	struct cvmbus_ring_xfer_range xr;

	assert_int_equal(pkt->type, s->type);
	assert_int_equal(pkt->flags, s->flags);
	assert_int_equal(pkt->trans_id, s->seq);
	assert_int_equal(pkt->ring_offset, s->offset);
	assert_int_equal(pkt->total, s->total);
	assert_int_equal(pkt->len, s->total - 8);
	assert_int_equal(pkt->header_len, s->header_len);
	assert_int_equal(pkt->trailer, (uint64_t)s->offset << 32);
	assert_int_equal(shared_trailer(t, s->offset, pkt->len), (uint64_t)s->offset << 32);
	/* 16 + header is a multiple of 8, so the payload area is the payload
	 * rounded up to 8. */
	assert_int_equal(pkt->payload_len, (s->payload_len + 7) / 8 * 8);
	for (i = 0; i < s->payload_len; i++)
		if (pkt->payload[i] != tpattern(s->seq, i))
			fail_msg("packet %llu payload byte %u: %02x != %02x",
				 (unsigned long long)s->seq, i, pkt->payload[i], tpattern(s->seq, i));
	for (; i < pkt->payload_len; i++)
		assert_int_equal(pkt->payload[i], 0); /* our padding is zeros */
	if (s->type == CVMBUS_RING_PKT_GPA_DIRECT) {
		assert_int_equal(pkt->range_count, s->ngpa);
		for (i = 0; i < s->ngpa; i++) {
			assert_int_equal(cvmbus_ring_packet_gpa_range(pkt, &cur, &gv), 1);
			assert_int_equal(gv.byte_count, s->gpa[i].byte_count);
			assert_int_equal(gv.byte_offset, s->gpa[i].byte_offset);
			assert_int_equal(gv.pfn_count, s->gpa[i].npfn);
			for (uint32_t j = 0; j < gv.pfn_count; j++)
				assert_int_equal(cvmbus_ring_gpa_view_pfn(&gv, j), s->gpa[i].pfn[j]);
		}
		assert_int_equal(cvmbus_ring_packet_gpa_range(pkt, &cur, &gv), 0);
	} else if (s->type == CVMBUS_RING_PKT_XFER_PAGES) {
		assert_int_equal(pkt->range_count, s->nxfer);
		assert_int_equal(pkt->xfer_set_id, s->set_id);
		for (i = 0; i < s->nxfer; i++) {
			assert_int_equal(cvmbus_ring_packet_xfer_range(pkt, i, &xr), 0);
			assert_int_equal(xr.byte_count, s->xfer[i].byte_count);
			assert_int_equal(xr.byte_offset, s->xfer[i].byte_offset);
		}
	} else {
		assert_int_equal(pkt->range_count, 0);
	}
}

static void model_push(struct model *m, struct spec *s)
{
	assert_true(m->count < MAX_QUEUE);
	s->offset = m->w;
	if (s->offset + s->total > m->size)
		m->straddles++;
	m->w += s->total;
	if (m->w >= m->size) {
		m->w -= m->size;
		m->wraps++;
	}
	m->bytes += s->total;
	m->q[(m->head + m->count) % MAX_QUEUE] = *s;
	m->count++;
}

static void drain(struct cvmbus_ring *rd, struct model *m, struct tprng *g, unsigned n,
		  const struct tring *t, uint8_t *buf, size_t buflen)
{
	struct cvmbus_ring_packet pkt;
	bool batch = tprng_next(g) & 1;

	for (unsigned k = 0; k < n && m->count; k++) {
		const struct spec *s = &m->q[m->head];

		/* Alternate one-shot reads and recv batches committed once. */
		if (batch)
			assert_int_equal(cvmbus_ring_recv(rd, buf, buflen, &pkt), 0);
		else
			assert_int_equal(cvmbus_ring_read(rd, buf, buflen, &pkt, NULL), 0);
		check_packet(&pkt, s, t);
		m->head = (m->head + 1) % MAX_QUEUE;
		m->count--;
	}
	if (batch)
		assert_int_equal(cvmbus_ring_commit(rd, NULL), 0);
	if (m->count == 0)
		assert_int_equal(cvmbus_ring_recv(rd, buf, buflen, &pkt), -EAGAIN);
}

/* Walk the whole backlog without consuming it. */
static void peek_all(struct cvmbus_ring *r, const struct model *m, const struct tring *t,
		     uint8_t *buf, size_t buflen)
{
	struct cvmbus_ring_iter it;
	struct cvmbus_ring_packet pkt;
	unsigned k = 0;
	int rc;

	assert_int_equal(cvmbus_ring_iter_begin(r, &it), 0);
	while ((rc = cvmbus_ring_iter_next(r, &it, buf, buflen, &pkt)) == 0) {
		assert_true(k < m->count);
		check_packet(&pkt, &m->q[(m->head + k) % MAX_QUEUE], t);
		k++;
	}
	assert_int_equal(rc, -ENOENT);
	assert_int_equal(k, m->count);
}

static void run(const struct tring *tw, const struct tring *tr, uint64_t seed)
{
	static struct model m;
	struct cvmbus_ring w, rd, insp;
	struct tprng g = { seed };
	uint32_t size = tw->mem.data_size, needed;
	size_t buflen = size;
	uint8_t *scratch = malloc(size), *buf = malloc(buflen);
	struct spec s;
	int rc;

	assert_non_null(scratch);
	assert_non_null(buf);
	memset(&m, 0, sizeof(m));
	m.size = size;
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &tw->mem), 0);
	assert_int_equal(cvmbus_ring_init(&rd, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &tr->mem), 0);
	assert_int_equal(cvmbus_ring_init(&insp, CVMBUS_RING_INSPECT, CVMBUS_RING_ATTACH, &tr->mem), 0);

	for (uint64_t seq = 0; seq < PACKETS; seq++) {
		gen_spec(&g, seq, size, &s);
		for (;;) {
			rc = send_spec(&w, &g, &s, scratch, &needed);
			if (rc == 0)
				break;
			assert_int_equal(rc, -EAGAIN);
			assert_int_equal(needed, s.total);
			assert_true(m.count > 0); /* full only when something is queued */
			drain(&rd, &m, &g, tprng_range(&g, 1, m.count), tr, buf, buflen);
		}
		model_push(&m, &s);
		if (seq % 97 == 0) {
			peek_all(&rd, &m, tr, buf, buflen);
			peek_all(&insp, &m, tr, buf, buflen);
		}
	}
	drain(&rd, &m, &g, MAX_QUEUE, tr, buf, buflen);
	assert_int_equal(m.count, 0);
	assert_int_equal(cvmbus_ring_state(&w), CVMBUS_RING_STATE_READY);
	assert_int_equal(cvmbus_ring_state(&rd), CVMBUS_RING_STATE_READY);
	/* The run must really have gone around a lot, with packets cut in two
	 * at the end of the data area. */
	assert_true(m.wraps >= 100);
	assert_true(m.straddles >= 50);
	print_message("      %u packets, %llu bytes, %u wraps, %u straddling the end\n", PACKETS,
		      (unsigned long long)m.bytes, m.wraps, m.straddles);
	free(scratch);
	free(buf);
}

static void test_single_mapped(void **state)
{
	struct tring t;

	(void)state;
	assert_int_equal(tring_heap(&t, 8192), 0);
	assert_false(t.mem.double_mapped);
	run(&t, &t, 0x5eed0001);
	tring_free(&t);
}

static void test_double_mapped(void **state)
{
	struct tring t;

	(void)state;
	assert_int_equal(tring_memfd(&t, 12288, CVMBUS_RING_MAP_DOUBLE), 0);
	assert_true(t.mem.double_mapped);
	run(&t, &t, 0x5eed0002);
	tring_free(&t);
}

/* Writer on a double mapping, reader on a single mapping of the same
 * memfd: the two copy strategies must agree on every byte. */
static void test_mixed_mappings(void **state)
{
	struct tring tw, tr;

	(void)state;
	assert_int_equal(tring_memfd(&tw, 8192, CVMBUS_RING_MAP_DOUBLE), 0);
	assert_int_equal(tring_remap(&tr, &tw, 0), 0);
	assert_false(tr.mem.double_mapped);
	run(&tw, &tr, 0x5eed0003);
	tring_free(&tr);
	tring_free(&tw);
}

/* And the other way round. */
static void test_mixed_mappings_reversed(void **state)
{
	struct tring tw, tr;

	(void)state;
	assert_int_equal(tring_memfd(&tw, 4096, 0), 0);
	assert_int_equal(tring_remap(&tr, &tw, CVMBUS_RING_MAP_DOUBLE), 0);
	run(&tw, &tr, 0x5eed0004);
	tring_free(&tr);
	tring_free(&tw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_mapped),
		cmocka_unit_test(test_double_mapped),
		cmocka_unit_test(test_mixed_mappings),
		cmocka_unit_test(test_mixed_mappings_reversed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
