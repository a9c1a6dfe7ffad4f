/* SPDX-License-Identifier: MIT */
/*
 * Mapping helpers of the ring layer (tests/ring): the double mapping really
 * aliases the data pages (a byte written through one copy is read through
 * the other), a read-only mapping serves the inspector, bad arguments and
 * short files are refused instead of crashing later with SIGBUS, and a
 * channel region mapped twice (as two processes would) carries packets in
 * both directions to the file offsets the split promises.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ring/ring_test_util.h"

static void test_double_mapping_aliases(void **state)
{
	struct tring t;
	uint8_t *d;
	const uint32_t size = 8192;

	(void)state;
	assert_int_equal(tring_memfd(&t, size, CVMBUS_RING_MAP_DOUBLE), 0);
	d = tring_data(&t);
	assert_true(t.mem.double_mapped);
	assert_ptr_equal(t.mem.control, t.map.base);
	assert_ptr_equal(d, (uint8_t *)t.map.base + 4096);
	assert_int_equal(t.map.len, 4096 + 2 * size);
	d[size + 5] = 0x77; /* through the alias */
	assert_int_equal(d[5], 0x77);
	d[size - 1] = 0x66; /* through the first copy */
	assert_int_equal(d[2 * size - 1], 0x66);
	/* The control page is not aliased. */
	tring_ctl_bytes(&t)[0] = 0x11;
	assert_int_not_equal(d[size - 4096], 0x11);
	tring_free(&t);
}

static void test_readonly_inspect(void **state)
{
	struct tring t, ro;
	struct cvmbus_ring w, insp;
	struct cvmbus_ring_iter it;
	struct cvmbus_ring_packet pkt;
	uint8_t buf[64];
	unsigned n = 0;

	(void)state;
	assert_int_equal(tring_memfd(&t, 4096, 0), 0);
	assert_int_equal(cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &t.mem), 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(cvmbus_ring_send_inband(&w, 0, i, "abc", 3, NULL, NULL), 0);
	assert_int_equal(tring_remap(&ro, &t, CVMBUS_RING_MAP_READONLY | CVMBUS_RING_MAP_DOUBLE), 0);
	assert_int_equal(cvmbus_ring_init(&insp, CVMBUS_RING_INSPECT, CVMBUS_RING_ATTACH, &ro.mem), 0);
	assert_int_equal(cvmbus_ring_iter_begin(&insp, &it), 0);
	while (cvmbus_ring_iter_next(&insp, &it, buf, sizeof(buf), &pkt) == 0)
		assert_int_equal(pkt.trans_id, n++);
	assert_int_equal(n, 3);
	tring_free(&ro);
	tring_free(&t);
}

static void test_map_rejects(void **state)
{
	struct cvmbus_ring_map m;
	int fd = memfd_create("cvmbus-ring-map", MFD_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 * 4096), 0);
	assert_int_equal(cvmbus_ring_map_fd(&m, fd, 0, 4096, 0), -EINVAL);         /* no data page */
	assert_int_equal(cvmbus_ring_map_fd(&m, fd, 0, 3 * 4096 + 1, 0), -EINVAL); /* not pages */
	assert_int_equal(cvmbus_ring_map_fd(&m, fd, 100, 2 * 4096, 0), -EINVAL);  /* unaligned */
	assert_int_equal(cvmbus_ring_map_fd(&m, fd, 0, 2 * 4096, 0x8), -EINVAL);  /* flags */
	assert_int_equal(cvmbus_ring_map_fd(&m, -1, 0, 2 * 4096, 0), -EINVAL);
	/* Longer than the file: refused, not a SIGBUS on first touch. */
	assert_int_equal(cvmbus_ring_map_fd(&m, fd, 0, 5 * 4096, 0), -EINVAL);
	assert_int_equal(cvmbus_ring_map_fd(&m, fd, 4096, 4 * 4096, CVMBUS_RING_MAP_DOUBLE), -EINVAL);
	assert_null(m.base);
	assert_int_equal(cvmbus_ring_map_fd(&m, fd, 4096, 3 * 4096, CVMBUS_RING_MAP_DOUBLE), 0);
	assert_int_equal(m.mem.data_size, 2 * 4096);
	cvmbus_ring_unmap(&m);
	assert_null(m.base);
	cvmbus_ring_unmap(&m); /* twice is harmless */
	close(fd);
}

/* One channel region in a regular file, mapped by "guest" and "host"
 * separately (double-mapped), packets both ways, several times around. */
static void test_channel_map_file(void **state)
{
	enum { PAGES = 7, DPO = 3 };
	FILE *f = tmpfile();
	struct cvmbus_ring_channel_map gm, hm;
	struct cvmbus_ring_channel guest, host;
	struct cvmbus_ring_packet pkt;
	uint8_t buf[2048], msg[1000], at[16];
	int fd;

	(void)state;
	assert_non_null(f);
	fd = fileno(f);
	assert_int_equal(ftruncate(fd, PAGES * 4096), 0);
	assert_int_equal(cvmbus_ring_channel_map_fd(&gm, fd, 0, PAGES * 4096, 1, 0), -EINVAL);
	assert_int_equal(cvmbus_ring_channel_map_fd(&gm, fd, 0, PAGES * 4096, DPO, CVMBUS_RING_MAP_DOUBLE), 0);
	assert_int_equal(cvmbus_ring_channel_map_fd(&hm, fd, 0, PAGES * 4096, DPO, CVMBUS_RING_MAP_DOUBLE), 0);
	assert_int_equal(gm.upstream.mem.data_size, 2 * 4096);
	assert_int_equal(gm.downstream.mem.data_size, 3 * 4096);
	assert_int_equal(cvmbus_ring_channel_init(&guest, CVMBUS_RING_ENDPOINT_GUEST, CVMBUS_RING_FORMAT,
						  &gm.upstream.mem, &gm.downstream.mem), 0);
	assert_int_equal(cvmbus_ring_channel_init(&host, CVMBUS_RING_ENDPOINT_HOST, CVMBUS_RING_ATTACH,
						  &hm.upstream.mem, &hm.downstream.mem), 0);

	for (unsigned i = 0; i < 40; i++) {
		memset(msg, (int)i, sizeof(msg));
		assert_int_equal(cvmbus_ring_send_inband(&guest.out, 0, i, msg, sizeof(msg), NULL, NULL), 0);
		assert_int_equal(cvmbus_ring_read(&host.in, buf, sizeof(buf), &pkt, NULL), 0);
		assert_int_equal(pkt.trans_id, i);
		assert_memory_equal(pkt.payload, msg, sizeof(msg));
		assert_int_equal(cvmbus_ring_send_inband(&host.out, 0, i + 100, msg, sizeof(msg), NULL, NULL), 0);
		assert_int_equal(cvmbus_ring_read(&guest.in, buf, sizeof(buf), &pkt, NULL), 0);
		assert_int_equal(pkt.trans_id, i + 100);
		assert_memory_equal(pkt.payload, msg, sizeof(msg));
	}
	/* Each ring's write index sits at its control page in the file:
	 * 40 packets of 1024 bytes, modulo the data size. */
	assert_int_equal(pread(fd, at, 4, 0), 4);
	assert_int_equal(le32_at(at), 40 * 1024 % (2 * 4096));
	assert_int_equal(pread(fd, at, 4, DPO * 4096), 4);
	assert_int_equal(le32_at(at), 40 * 1024 % (3 * 4096));
	/* The guest's last upstream packet is in the file where the index
	 * says: its descriptor starts at data offset (40 - 1) * 1024 mod 8192. */
	assert_int_equal(pread(fd, at, 16, 4096 + (39 * 1024) % 8192), 16);
	assert_int_equal(le64_at(at + 8), 39);
	cvmbus_ring_channel_unmap(&hm);
	cvmbus_ring_channel_unmap(&gm);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_double_mapping_aliases),
		cmocka_unit_test(test_readonly_inspect),
		cmocka_unit_test(test_map_rejects),
		cmocka_unit_test(test_channel_map_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
