/* SPDX-License-Identifier: MIT */
/*
 * tap_forward: the baseline of bench/net.sh. A plain TAP-to-TAP forwarder:
 * one TAP in each of two network namespaces, and one thread that polls both
 * and copies every frame it reads from one to the other, both directions.
 * No VMBus, no rings, no copies but the two the kernel makes: what a
 * userspace switch between two TAPs costs at least, so that `cvmbus net`'s
 * figure has something to be held against on the same machine and kernel.
 *
 * The TAPs are made by the same call `cvmbus net` uses
 * (cvmbus_net_tap_open: IFF_TAP | IFF_NO_PI, non-blocking, MTU set, up), so
 * both runs see identical interfaces; everything after that is plain
 * poll(2), read(2) and write(2) in this file. Addresses are the caller's
 * (bench/net.sh adds them with ip(8) once "ready" is printed).
 *
 *   tap_forward --ns-a G --ns-b H [--if-a cvmbus-g0] [--if-b cvmbus-h0]
 *               [--mtu 1500] [--duration SEC]
 *
 * Runs until SIGINT / SIGTERM or --duration; prints frame counters.
 * Exit 0, 1 on a failure, 2 on a bad command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <cvmbus/net.h>

/* Frames read from one side before the loop looks at the other: enough to
 * amortise poll(2), few enough that one busy direction cannot starve the
 * other (TCP's ACKs travel the quiet way). */
#define FWD_BATCH     64
#define FWD_FRAME_MAX (CVMBUS_NET_MAX_MTU + CVMBUS_NET_ETH_HLEN + 64u)

struct fwd_dir {
	int from, to;
	uint64_t frames, bytes, dropped;
};

static uint64_t fwd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Up to FWD_BATCH frames one way. Returns frames moved, or -1 when the
 * source is gone. */
static int fwd_pump(struct fwd_dir *d, uint8_t *buf)
{
	int moved = 0;

	while (moved < FWD_BATCH) {
		ssize_t n = read(d->from, buf, FWD_FRAME_MAX);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? moved : -1;
		if (n == 0)
			return -1;
		/* A full queue on the other side drops the frame, as a wire
		 * would; TCP recovers from it. */
		if (write(d->to, buf, (size_t)n) != n) {
			d->dropped++;
		} else {
			d->frames++;
			d->bytes += (uint64_t)n;
		}
		moved++;
	}
	return moved;
}

/* The forwarding loop on its own, so that callgrind reports its cost under
 * one name. */
static int fwd_loop(struct fwd_dir dirs[2], int sigfd, uint64_t deadline, uint8_t *buf)
{
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = dirs[0].from, .events = POLLIN },
			{ .fd = dirs[1].from, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
		};
		int timeout = -1;

		if (deadline) {
			uint64_t now = fwd_now_ns();

			if (now >= deadline)
				return 0;
			timeout = (int)((deadline - now) / 1000000u) + 1;
		}
		if (poll(p, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p[2].revents)
			return 0;
		for (int i = 0; i < 2; i++) {
			if (p[i].revents & (POLLERR | POLLHUP | POLLNVAL))
				return -1;
			if ((p[i].revents & POLLIN) && fwd_pump(&dirs[i], buf) < 0)
				return -1;
		}
	}
}

static void fwd_usage(FILE *out)
{
	fprintf(out, "usage: tap_forward --ns-a NS --ns-b NS [--if-a NAME] [--if-b NAME]\n"
		     "                   [--mtu N] [--duration SEC]\n");
}

int main(int argc, char **argv)
{
	const char *ns_a = NULL, *ns_b = NULL, *if_a = "cvmbus-g0", *if_b = "cvmbus-h0";
	unsigned long mtu = CVMBUS_NET_DEFAULT_MTU, secs = 0;
	struct cvmbus_net_tap *ta = NULL, *tb = NULL;
	struct fwd_dir dirs[2];
	uint8_t *buf = NULL;
	sigset_t mask;
	int sigfd, rc, ret = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fwd_usage(stdout);
			return 0;
		}
		if (!v) {
			fwd_usage(stderr);
			return 2;
		}
		i++;
		if (!strcmp(a, "--ns-a"))
			ns_a = v;
		else if (!strcmp(a, "--ns-b"))
			ns_b = v;
		else if (!strcmp(a, "--if-a"))
			if_a = v;
		else if (!strcmp(a, "--if-b"))
			if_b = v;
		else if (!strcmp(a, "--mtu"))
			mtu = strtoul(v, NULL, 10);
		else if (!strcmp(a, "--duration"))
			secs = strtoul(v, NULL, 10);
		else {
			fwd_usage(stderr);
			return 2;
		}
	}
	if (!ns_a || !ns_b || mtu < 68 || mtu > CVMBUS_NET_MAX_MTU) {
		fwd_usage(stderr);
		return 2;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sigfd < 0) {
		perror("tap_forward: signalfd");
		return 1;
	}
	{
		struct cvmbus_net_tap_config ca = {
			.ifname = if_a, .netns = ns_a, .mtu = (uint32_t)mtu, .up = true,
		};
		struct cvmbus_net_tap_config cb = {
			.ifname = if_b, .netns = ns_b, .mtu = (uint32_t)mtu, .up = true,
		};

		rc = cvmbus_net_tap_open(&ca, &ta);
		if (!rc)
			rc = cvmbus_net_tap_open(&cb, &tb);
		if (rc) {
			fprintf(stderr, "tap_forward: cannot make the taps: %s\n", strerror(-rc));
			goto out;
		}
	}
	memset(dirs, 0, sizeof(dirs));
	dirs[0].from = dirs[1].to = cvmbus_net_tap_fd(ta);
	dirs[0].to = dirs[1].from = cvmbus_net_tap_fd(tb);
	printf("ready: %s in '%s' <-> %s in '%s'\n", cvmbus_net_tap_name(ta), ns_a,
	       cvmbus_net_tap_name(tb), ns_b);
	fflush(stdout);

	buf = malloc(FWD_FRAME_MAX);
	if (!buf)
		goto out;
	rc = fwd_loop(dirs, sigfd, secs ? fwd_now_ns() + secs * 1000000000ull : 0, buf);
	printf("a -> b: %" PRIu64 " frames, %" PRIu64 " bytes, %" PRIu64 " dropped\n",
	       dirs[0].frames, dirs[0].bytes, dirs[0].dropped);
	printf("b -> a: %" PRIu64 " frames, %" PRIu64 " bytes, %" PRIu64 " dropped\n",
	       dirs[1].frames, dirs[1].bytes, dirs[1].dropped);
	ret = rc ? 1 : 0;
out:
	free(buf);
	cvmbus_net_tap_close(ta);
	cvmbus_net_tap_close(tb);
	close(sigfd);
	return ret;
}
