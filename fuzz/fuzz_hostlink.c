/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the partition's end of the host link (layer src/hw,
 * src/hw/hostlink.c): a hostile host's datagrams, fed over the real socket
 * to a link served on a real platform (SNP with a paravisor, 2 vCPUs; made
 * once), and read back the link's replies. Each input gets a fresh link.
 *
 * Input: up to 64 steps, each
 *   byte  the datagram's type (any value: unknown ones included);
 *   byte  its body length / 2 (0..510 bytes after the 8-byte header);
 *   byte  bit 0 attach an eventfd, bit 1 attach a pipe's write end,
 *         bit 2 read the reply before the next step;
 *   the body bytes.
 *
 * Checked: nothing crashes or hangs, the link answers or hangs up, and once
 * the host's end is closed and the link is closed no port the host named in
 * a PORT_ADD is left on the platform and no page it pinned is still pinned
 * (an unpin of each is refused: nobody else pins here).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cvmbus/exec.h>
#include <cvmbus/hostlink.h>
#include <cvmbus/log.h>
#include <cvmbus/platform.h>

#include "fuzz_util.h"
#include "hw/hostlink_proto.h"

#define FZ_STEPS 64u

static struct cvmbus_exec *g_exec;
static struct cvmbus_platform *g_p;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cvmbus_platform_config cfg = {
		.isolation = HV_ISOLATION_TYPE_SNP,
		.paravisor = true,
		.vcpus = 2,
		.vtl0_bytes = 1u << 20,
		.vtl2_bytes = 256u << 10,
	};

	(void)argc;
	(void)argv;
	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	FZ_CHECK(cvmbus_exec_native_create(&g_exec) == 0);
	cfg.exec = g_exec;
	FZ_CHECK(cvmbus_platform_create(&cfg, &g_p, NULL, 0) == 0);
	return 0;
}

/* Read (and drop) whatever the link sent, without waiting. */
static void drain(int sock, bool wait)
{
	uint8_t buf[HL_MAX_DATAGRAM];

	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		int fd = -1;

		if (poll(&p, 1, wait ? 1000 : 0) != 1)
			return;
		wait = false;
		if (cvmbus_seqpacket_recv(sock, buf, sizeof(buf), &fd) <= 0)
			return;
		if (fd >= 0)
			close(fd);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = fz_in_make(data, size);
	struct cvmbus_hostlink *link = NULL;
	uint32_t added[FZ_STEPS];
	uint64_t pinned[FZ_STEPS];
	size_t nadded = 0, npinned = 0;
	int sv[2];

	if (!g_p && LLVMFuzzerInitialize(NULL, NULL))
		return 0;
	FZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	FZ_CHECK(cvmbus_hostlink_serve(g_p, sv[0], NULL, &link) == 0);
	drain(sv[1], false);

	for (unsigned int step = 0; step < FZ_STEPS && in.n; step++) {
		uint8_t dg[8 + 510];
		uint8_t type = fz_u8(&in);
		size_t len = 8u + 2u * fz_u8(&in);
		uint8_t flags = fz_u8(&in);
		struct hl_hdr h = { .type = type, .seq = step };
		int fd = -1, pipefd[2] = { -1, -1 };

		memcpy(dg, &h, sizeof(h));
		fz_take(&in, dg + sizeof(h), len - sizeof(h));
		if (type == HL_PORT_ADD && len >= 12 && nadded < FZ_STEPS)
			memcpy(&added[nadded++], dg + 8, 4);
		if (type == HL_PIN && len >= 16 && npinned < FZ_STEPS)
			memcpy(&pinned[npinned++], dg + 8, 8);
		if (flags & 1)
			fd = eventfd(0, EFD_CLOEXEC);
		else if ((flags & 2) && pipe2(pipefd, O_CLOEXEC) == 0)
			fd = pipefd[1];
		if (cvmbus_seqpacket_send(sv[1], dg, len, fd))
			step = FZ_STEPS; /* the link hung up: nothing more gets in */
		if (fd >= 0)
			close(fd);
		if (pipefd[0] >= 0)
			close(pipefd[0]);
		drain(sv[1], flags & 4);
	}
	/* The host goes away, then the partition closes its end. */
	close(sv[1]);
	cvmbus_hostlink_close(link);
	for (size_t i = 0; i < nadded; i++)
		FZ_CHECK(cvmbus_port_remove(g_p, added[i]) == -ENOENT);
	for (size_t i = 0; i < npinned; i++) {
		uint64_t gpa = pinned[i] & ~(uint64_t)(HV_PAGE_SIZE - 1);

		if (gpa < cvmbus_mem_bytes(cvmbus_platform_mem(g_p)))
			FZ_CHECK(cvmbus_mem_unpin(cvmbus_platform_mem(g_p), gpa, 1) == -EINVAL);
	}
	return 0;
}
