/* SPDX-License-Identifier: MIT */
/*
 * The partition's end of the host link (src/hw/hostlink.c) against a host
 * played by the test on the other end of the socket, datagram by datagram,
 * with the byte layouts of src/hw/hostlink_proto.h. A real host would be
 * cvmbus-host; this one is allowed to lie.
 *
 *   test_hello_and_visibility  HELLO carries the shared memfd (same inode)
 *                              and every visible page follows; a visibility
 *                              change is forwarded with its exact pages and
 *                              a number, and its hypercall does not return
 *                              before the host answers VISIBILITY_DONE
 *                              with that number.
 *   test_ports_and_requests    a message port's posts arrive as datagrams, an
 *                              event port's signals ring its eventfd; the
 *                              host may not remove the paravisor's port, post
 *                              an oversized message, pass a pipe as a
 *                              doorbell, unpin what it never pinned, or own
 *                              more than 16 message ports; a pin holds a
 *                              page's visibility; a lost host leaves no port
 *                              and no pin behind.
 *   test_malformed_closes      each kind of malformed datagram closes the
 *                              link and reports the host lost (-EPROTO),
 *                              a VISIBILITY_DONE for a number never sent
 *                              among them.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cvmbus/hostlink.h>
#include <cvmbus/log.h>

#include "hw/hostlink_proto.h"
#include "platform_test_util.h"

struct lost {
	_Atomic int calls;
	_Atomic int why;
};

static void on_lost(void *ctx, int why)
{
	struct lost *l = ctx;

	atomic_store(&l->why, why);
	atomic_fetch_add(&l->calls, 1);
}

/* One datagram from the link, waiting up to 5 s; the length, or -1. */
static ssize_t host_recv(int sock, void *buf, size_t cap, int *fd)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };

	*fd = -1;
	if (poll(&p, 1, 5000) != 1)
		return -1;
	return cvmbus_seqpacket_recv(sock, buf, cap, fd);
}

/* The next datagram of `type`, skipping VISIBILITY (the platform may make
 * pages visible at any time); its length or -1. */
static ssize_t host_recv_type(int sock, uint32_t type, void *buf, size_t cap, int *fd)
{
	for (;;) {
		ssize_t n = host_recv(sock, buf, cap, fd);
		struct hl_hdr h;

		if (n < (ssize_t)sizeof(h))
			return -1;
		memcpy(&h, buf, sizeof(h));
		if (h.type == type)
			return n;
		if (*fd >= 0)
			close(*fd);
	}
}

/* A request and its REPLY's rc. */
static int host_call(int sock, void *msg, size_t len, int fd, uint32_t seq)
{
	uint8_t buf[HL_MAX_DATAGRAM];
	struct hl_reply r;
	struct hl_hdr h;
	int rfd;

	memcpy(&h, msg, sizeof(h));
	h.seq = seq;
	memcpy(msg, &h, sizeof(h));
	assert_int_equal(cvmbus_seqpacket_send(sock, msg, len, fd), 0);
	assert_int_equal(host_recv_type(sock, HL_REPLY, buf, sizeof(buf), &rfd),
			 (ssize_t)sizeof(r));
	memcpy(&r, buf, sizeof(r));
	assert_int_equal(r.h.seq, seq);
	return r.rc;
}

/* cvmbus_platform_set_visibility on a thread of its own while the caller
 * plays the host: every VISIBILITY that arrives is kept in *seen (the last
 * one) and answered with its DONE. With check_wait, the hypercall must
 * still be waiting when the datagram is in hand and 20 ms later: the
 * partition may not go on before the host's window has the change. */
struct vis_call {
	struct cvmbus_platform *p;
	uint64_t gpa, pages;
	bool visible;
	_Atomic bool returned;
	int rc;
};

static int vis_call_main(void *arg)
{
	struct vis_call *c = arg;

	c->rc = cvmbus_platform_set_visibility(c->p, CVMBUS_MEM_PARTY_GUEST, c->gpa, c->pages,
					       c->visible, "test");
	atomic_store(&c->returned, true);
	return 0;
}

static int vis_call(struct cvmbus_exec *exec, struct cvmbus_platform *p, int host, uint64_t gpa,
		    uint64_t pages, bool visible, bool check_wait, struct hl_visibility *seen,
		    size_t *seen_len)
{
	struct vis_call c = { .p = p, .gpa = gpa, .pages = pages, .visible = visible };
	struct cvmbus_thread *t;
	uint8_t buf[HL_MAX_DATAGRAM];

	assert_int_equal(cvmbus_thread_spawn(exec, &t, "vis-call", vis_call_main, &c), 0);
	for (;;) {
		struct pollfd pfd = { .fd = host, .events = POLLIN };
		struct hl_visibility_done done = { .h = { .type = HL_VISIBILITY_DONE } };
		struct hl_hdr h;
		int fd = -1;
		ssize_t n;

		if (poll(&pfd, 1, 10) != 1) {
			if (atomic_load(&c.returned))
				break;
			continue;
		}
		n = cvmbus_seqpacket_recv(host, buf, sizeof(buf), &fd);
		assert_true(n >= (ssize_t)sizeof(h));
		memcpy(&h, buf, sizeof(h));
		assert_int_equal(h.type, HL_VISIBILITY);
		assert_int_not_equal(h.seq, 0);
		if (seen) {
			memcpy(seen, buf, (size_t)n);
			*seen_len = (size_t)n;
		}
		if (check_wait) {
			assert_false(atomic_load(&c.returned));
			cvmbus_exec_sleep_ns(exec, 20000000ull);
			assert_false(atomic_load(&c.returned));
		}
		done.h.seq = h.seq;
		assert_int_equal(cvmbus_seqpacket_send(host, &done, sizeof(done), -1), 0);
	}
	assert_int_equal(cvmbus_thread_join(t, NULL), 0);
	return c.rc;
}

struct rig {
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_hostlink *link;
	int host; /* the test's end */
	struct lost lost;
	int shared_fd; /* as received in HELLO */
};

static void rig_up(struct rig *r)
{
	struct cvmbus_hostlink_config lc = { .on_lost = on_lost, .ctx = &r->lost };
	uint8_t buf[HL_MAX_DATAGRAM];
	struct hl_hello hello;
	int sv[2];

	assert_int_equal(pt_platform(r->exec, CVMBUS_ARCH_X86_64, HV_ISOLATION_TYPE_SNP, true, 2,
				     &r->p), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	r->host = sv[1];
	assert_int_equal(cvmbus_hostlink_serve(r->p, sv[0], &lc, &r->link), 0);
	assert_int_equal(host_recv(r->host, buf, sizeof(buf), &r->shared_fd),
			 (ssize_t)sizeof(hello));
	memcpy(&hello, buf, sizeof(hello));
	assert_int_equal(hello.h.type, HL_HELLO);
	assert_int_equal(hello.magic, HL_MAGIC);
	assert_int_equal(hello.vcpus, 2);
	assert_int_equal(hello.isolation, HV_ISOLATION_TYPE_SNP);
	assert_int_equal(hello.bytes, cvmbus_mem_bytes(cvmbus_platform_mem(r->p)));
	assert_true(r->shared_fd >= 0);
}

static void rig_down(struct rig *r)
{
	cvmbus_hostlink_close(r->link);
	if (r->host >= 0)
		close(r->host);
	if (r->shared_fd >= 0)
		close(r->shared_fd);
	cvmbus_platform_destroy(r->p);
}

/* ---- test_hello_and_visibility ------------------------------------------------- */

static int hello_main(void *arg)
{
	struct rig *r = arg;
	struct cvmbus_mem *mem;
	uint8_t buf[HL_MAX_DATAGRAM];
	struct hl_visibility v;
	struct stat a, b;
	uint64_t gpa, visible_now = 0, got = 0;
	size_t len = 0;
	uint32_t seq;
	int fd;

	rig_up(r);
	mem = cvmbus_platform_mem(r->p);
	/* The fd is the shared memfd itself (not a copy of its bytes). */
	assert_int_equal(fstat(r->shared_fd, &a), 0);
	assert_int_equal(fstat(cvmbus_mem_shared_fd(mem), &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	assert_int_equal(a.st_dev, b.st_dev);

	/* Every page visible now, and nothing else, before anything new. */
	for (uint64_t pg = 0; pg < cvmbus_mem_bytes(mem) / PT_PAGE; pg++)
		visible_now += cvmbus_mem_host_view_visible(cvmbus_mem_host(mem), pg * PT_PAGE);
	assert_true(visible_now > 0); /* the paravisor-supplied SynIC pages, at least */
	while (got < visible_now) {
		ssize_t n = host_recv(r->host, buf, sizeof(buf), &fd);

		assert_true(n >= (ssize_t)offsetof(struct hl_visibility, pfns));
		memcpy(&v, buf, (size_t)n);
		assert_int_equal(v.h.type, HL_VISIBILITY);
		assert_int_equal(v.visible, 1);
		assert_int_equal((size_t)n, offsetof(struct hl_visibility, pfns) + v.count * 8u);
		for (uint32_t i = 0; i < v.count; i++)
			assert_true(cvmbus_mem_host_view_visible(cvmbus_mem_host(mem),
								 v.pfns[i] * PT_PAGE));
		got += v.count;
	}
	assert_int_equal(got, visible_now);

	/* A change: exactly its pages, shared then private, each numbered
	 * and each waiting for the host's DONE. */
	assert_int_equal(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 3, &gpa), 0);
	assert_int_equal(vis_call(r->exec, r->p, r->host, gpa, 3, true, true, &v, &len), 0);
	assert_int_equal(len, offsetof(struct hl_visibility, pfns) + 3 * 8);
	assert_int_equal(v.h.type, HL_VISIBILITY);
	assert_int_equal(v.visible, 1);
	assert_int_equal(v.count, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(v.pfns[i], gpa / PT_PAGE + i);
	seq = v.h.seq;
	assert_int_equal(vis_call(r->exec, r->p, r->host, gpa, 3, false, true, &v, &len), 0);
	assert_int_equal(len, offsetof(struct hl_visibility, pfns) + 3 * 8);
	assert_int_equal(v.visible, 0);
	assert_int_equal(v.pfns[0], gpa / PT_PAGE);
	assert_int_equal(v.h.seq, seq + 1);

	rig_down(r);
	/* Closed by us, not lost. */
	assert_int_equal(atomic_load(&r->lost.calls), 0);
	return 0;
}

static void test_hello_and_visibility(void **state)
{
	struct rig r = { .host = -1, .shared_fd = -1 };
	int ret = -1;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&r.exec), 0);
	assert_int_equal(cvmbus_exec_run(r.exec, hello_main, &r, &ret), 0);
	assert_int_equal(ret, 0);
	cvmbus_exec_destroy(r.exec);
}

/* ---- test_ports_and_requests ------------------------------------------------------ */

static void noop_message(void *ctx, const struct cvmbus_port_message *m)
{
	(void)ctx;
	(void)m;
}

static int ports_main(void *arg)
{
	struct rig *r = arg;
	struct cvmbus_mem *mem;
	uint8_t buf[HL_MAX_DATAGRAM];
	struct hl_port_add add = { .h = { .type = HL_PORT_ADD } };
	struct hl_port_remove rem = { .h = { .type = HL_PORT_REMOVE } };
	struct hl_post post;
	struct hl_synic_signal sig = { .h = { .type = HL_SYNIC_SIGNAL } };
	struct hl_pin pin = { .h = { .type = HL_PIN } };
	struct hl_port_message pm;
	struct cvmbus_port_config pv_port = {
		.connection_id = 0x4000,
		.kind = CVMBUS_PORT_MESSAGE,
		.owner = CVMBUS_MEM_PARTY_PARAVISOR,
		.on_message = noop_message,
	};
	uint64_t count = 0, gpa;
	uint16_t st = 0;
	uint32_t seq = 1;
	int efd, pipefd[2], fd;

	rig_up(r);
	mem = cvmbus_platform_mem(r->p);

	/* A message port: a post to it comes out as PORT_MESSAGE. */
	add.connection_id = 0x2000;
	add.kind = CVMBUS_PORT_MESSAGE;
	assert_int_equal(host_call(r->host, &add, sizeof(add), -1, seq++), 0);
	assert_int_equal(cvmbus_hv_post_message_from(r->p, CVMBUS_MEM_PARTY_PARAVISOR, 0, 0x2000, 1,
						     "hello", 5, &st), 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(host_recv_type(r->host, HL_PORT_MESSAGE, buf, sizeof(buf), &fd),
			 (ssize_t)sizeof(pm));
	memcpy(&pm, buf, sizeof(pm));
	assert_int_equal(pm.connection_id, 0x2000);
	assert_int_equal(pm.message_type, 1);
	assert_int_equal(pm.size, 5);
	assert_memory_equal(pm.payload, "hello", 5);
	assert_int_equal(pm.from, CVMBUS_MEM_PARTY_PARAVISOR);

	/* An event port: a signal rings the eventfd the host passed. */
	efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	add.connection_id = 0x3000;
	add.kind = CVMBUS_PORT_EVENT;
	assert_int_equal(host_call(r->host, &add, sizeof(add), efd, seq++), 0);
	assert_int_equal(cvmbus_hv_signal_event_from(r->p, CVMBUS_MEM_PARTY_PARAVISOR, 0, 0x3000, 0,
						     &st), 0);
	assert_int_equal(st, HV_STATUS_SUCCESS);
	assert_int_equal(read(efd, &count, sizeof(count)), (ssize_t)sizeof(count));
	assert_true(count >= 1);
	/* The partition set O_NONBLOCK on it: its writer may never block. */
	assert_true(fcntl(efd, F_GETFL) & O_NONBLOCK);

	/* Refused: no doorbell, a pipe as a doorbell, a message port with one. */
	add.connection_id = 0x3001;
	assert_int_equal(host_call(r->host, &add, sizeof(add), -1, seq++), -EINVAL);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_int_equal(host_call(r->host, &add, sizeof(add), pipefd[1], seq++), -EINVAL);
	add.kind = CVMBUS_PORT_MESSAGE;
	assert_int_equal(host_call(r->host, &add, sizeof(add), efd, seq++), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);

	/* The paravisor's port is not the host's to remove. */
	assert_int_equal(cvmbus_port_add(r->p, &pv_port), 0);
	rem.connection_id = 0x4000;
	assert_int_equal(host_call(r->host, &rem, sizeof(rem), -1, seq++), -ENOENT);
	assert_int_equal(cvmbus_port_remove(r->p, 0x4000), 0);

	/* Its own: gone, and a post finds no port. */
	rem.connection_id = 0x2000;
	assert_int_equal(host_call(r->host, &rem, sizeof(rem), -1, seq++), 0);
	assert_int_equal(cvmbus_hv_post_message_from(r->p, CVMBUS_MEM_PARTY_PARAVISOR, 0, 0x2000, 1,
						     "x", 1, &st), 0);
	assert_int_equal(st, HV_STATUS_INVALID_CONNECTION_ID);

	/* An oversized post; a signal nobody can take (not answered, and
	 * the link lives on: the next request is answered). */
	memset(&post, 0, sizeof(post));
	post.h.type = HL_SYNIC_POST;
	post.size = HV_MESSAGE_PAYLOAD_SIZE + 1;
	assert_int_equal(host_call(r->host, &post, sizeof(post), -1, seq++), -EINVAL);
	sig.vp = 99;
	sig.sint = 2;
	assert_int_equal(cvmbus_seqpacket_send(r->host, &sig, sizeof(sig), -1), 0);

	/* Pins: only what the host pinned, only inside the partition; a pin
	 * holds the page's visibility. */
	assert_int_equal(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 1, &gpa), 0);
	assert_int_equal(vis_call(r->exec, r->p, r->host, gpa, 1, true, false, NULL, NULL), 0);
	pin.gpa = gpa;
	pin.npages = 1;
	pin.delta = -1;
	assert_int_equal(host_call(r->host, &pin, sizeof(pin), -1, seq++), -EINVAL);
	pin.gpa = cvmbus_mem_bytes(mem);
	pin.delta = 1;
	assert_int_equal(host_call(r->host, &pin, sizeof(pin), -1, seq++), -EINVAL);
	pin.gpa = gpa;
	pin.delta = 2;
	assert_int_equal(host_call(r->host, &pin, sizeof(pin), -1, seq++), -EINVAL);
	pin.delta = 1;
	assert_int_equal(host_call(r->host, &pin, sizeof(pin), -1, seq++), 0);
	assert_int_equal(vis_call(r->exec, r->p, r->host, gpa, 1, false, false, NULL, NULL),
			 -EBUSY);

	/* At most 16 message ports. */
	add.kind = CVMBUS_PORT_MESSAGE;
	for (uint32_t i = 0; i < 16; i++) {
		add.connection_id = 0x5000 + i;
		assert_int_equal(host_call(r->host, &add, sizeof(add), -1, seq++), 0);
	}
	add.connection_id = 0x5010;
	assert_int_equal(host_call(r->host, &add, sizeof(add), -1, seq++), -ENOSPC);

	/* The host dies: reported once, its ports and its pin are gone. */
	close(r->host);
	r->host = -1;
	for (int i = 0; i < 5000 && !atomic_load(&r->lost.calls); i++)
		cvmbus_exec_sleep_ns(r->exec, 1000000ull);
	assert_int_equal(atomic_load(&r->lost.calls), 1);
	assert_int_equal(atomic_load(&r->lost.why), -ECONNRESET);
	assert_false(cvmbus_hostlink_alive(r->link));
	assert_int_equal(cvmbus_port_remove(r->p, 0x3000), -ENOENT);
	assert_int_equal(cvmbus_port_remove(r->p, 0x5000), -ENOENT);
	assert_int_equal(cvmbus_platform_set_visibility(r->p, CVMBUS_MEM_PARTY_GUEST, gpa, 1,
							false, "test"), 0);
	close(efd);
	rig_down(r);
	assert_int_equal(atomic_load(&r->lost.calls), 1);
	return 0;
}

static void test_ports_and_requests(void **state)
{
	struct rig r = { .host = -1, .shared_fd = -1 };
	int ret = -1;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&r.exec), 0);
	assert_int_equal(cvmbus_exec_run(r.exec, ports_main, &r, &ret), 0);
	assert_int_equal(ret, 0);
	cvmbus_exec_destroy(r.exec);
}

/* ---- test_malformed_closes ---------------------------------------------------------- */

struct bad_case {
	const char *name;
	uint8_t bytes[64];
	size_t len;
	bool with_fd;
};

static const struct bad_case bad_cases[] = {
	/* Shorter than a header. */
	{ "short", { 0x10, 0x00, 0x00 }, 3, false },
	/* PORT_REMOVE (17) with 4 bytes missing. */
	{ "truncated", { 17, 0, 0, 0, 1, 0, 0, 0, 0x00, 0x20, 0, 0 }, 12, false },
	/* An unknown type (99) of a plausible length. */
	{ "unknown type", { 99, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 16, false },
	/* PORT_REMOVE, well formed, but with an fd attached. */
	{ "stray fd", { 17, 0, 0, 0, 1, 0, 0, 0, 0x00, 0x20, 0, 0, 0, 0, 0, 0 }, 16, true },
	/* A partition-to-host type sent back (REPLY, 16 bytes). */
	{ "wrong direction", { 5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 16, false },
	/* VISIBILITY_DONE (23) for number 7, when none was sent. */
	{ "done from the future", { 23, 0, 0, 0, 7, 0, 0, 0 }, 8, false },
};

static int malformed_main(void *arg)
{
	struct rig *r = arg;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		uint8_t buf[HL_MAX_DATAGRAM];
		int efd = c->with_fd ? eventfd(0, EFD_CLOEXEC) : -1;
		int fd;
		ssize_t n;

		memset(&r->lost, 0, sizeof(r->lost));
		rig_up(r);
		assert_int_equal(cvmbus_seqpacket_send(r->host, c->bytes, c->len, efd), 0);
		/* The partition hangs up: EOF after whatever it had sent. */
		do
			n = host_recv(r->host, buf, sizeof(buf), &fd);
		while (n > 0);
		assert_int_equal(n, 0);
		for (int k = 0; k < 5000 && !atomic_load(&r->lost.calls); k++)
			cvmbus_exec_sleep_ns(r->exec, 1000000ull);
		print_message("%s: link closed, host lost (%d)\n", c->name,
			      atomic_load(&r->lost.why));
		assert_int_equal(atomic_load(&r->lost.calls), 1);
		assert_int_equal(atomic_load(&r->lost.why), -EPROTO);
		if (efd >= 0)
			close(efd);
		rig_down(r);
		r->host = r->shared_fd = -1;
	}
	return 0;
}

static void test_malformed_closes(void **state)
{
	struct rig r = { .host = -1, .shared_fd = -1 };
	int ret = -1;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&r.exec), 0);
	assert_int_equal(cvmbus_exec_run(r.exec, malformed_main, &r, &ret), 0);
	assert_int_equal(ret, 0);
	cvmbus_exec_destroy(r.exec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_and_visibility),
		cmocka_unit_test(test_ports_and_requests),
		cmocka_unit_test(test_malformed_closes),
	};

	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
