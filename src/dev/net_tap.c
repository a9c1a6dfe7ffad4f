/* SPDX-License-Identifier: MIT */
/*
 * The TAP backend (include/cvmbus/net.h), layer src/dev: a Linux TAP
 * interface (/dev/net/tun, IFF_TAP | IFF_NO_PI, so every read and write is
 * exactly one Ethernet frame) that a network device uses as its wire. The
 * guest side's VSC hands its received frames to a TAP in the guest's
 * network namespace and sends what that TAP reads; the host side's VSP does
 * the same with a TAP in the host's namespace. A reader thread (an executor
 * thread that blocks in poll(2), so a native executor only) passes frames
 * on; writes come from any thread.
 *
 * Namespaces: the interface is created in the namespace of the thread that
 * opens /dev/net/tun. cvmbus_net_tap_open() can switch the calling thread
 * into a named namespace for the open and the ioctls, and back; the fd then
 * works from anywhere. Address configuration is left to `ip`.
 *
 * Offloads: with cfg.vnet_hdr the TAP is IFF_VNET_HDR and every read and
 * write carries a 10-byte struct virtio_net_hdr ahead of the frame (struct
 * cvmbus_net_offload has its layout); cvmbus_net_tap_set_offload() then
 * tells the kernel which partial frames it may hand us (TUNSETOFFLOAD:
 * checksums left to do, TCP segments up to 64 KiB). Without it the kernel
 * completes every frame before we read it, so a vnet_hdr TAP with no
 * offloads set reads what a plain one does, header aside.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include <cvmbus/net.h>

/* The largest frame we read: a jumbo MTU plus header, with room to spare
 * so that a longer frame is seen (and dropped) rather than cut. */
#define TAP_FRAME_MAX (CVMBUS_NET_MAX_MTU + CVMBUS_NET_ETH_HLEN + 64u)
/* ... and with IFF_VNET_HDR, where a GSO frame may be 64 KiB. */
#define TAP_GSO_FRAME_MAX (CVMBUS_NET_GSO_MAX_FRAME + 64u)

/* The kernel's header is ours, byte for byte. */
_Static_assert(sizeof(struct virtio_net_hdr) == sizeof(struct cvmbus_net_offload), "vnet hdr");
_Static_assert(offsetof(struct virtio_net_hdr, gso_size) ==
		       offsetof(struct cvmbus_net_offload, gso_size),
	       "vnet gso_size");
_Static_assert(offsetof(struct virtio_net_hdr, csum_offset) ==
		       offsetof(struct cvmbus_net_offload, csum_offset),
	       "vnet csum_offset");
_Static_assert(VIRTIO_NET_HDR_F_NEEDS_CSUM == CVMBUS_NET_OFF_NEEDS_CSUM &&
		       VIRTIO_NET_HDR_F_DATA_VALID == CVMBUS_NET_OFF_CSUM_VALID &&
		       VIRTIO_NET_HDR_GSO_TCPV4 == CVMBUS_NET_GSO_TCPV4 &&
		       VIRTIO_NET_HDR_GSO_TCPV6 == CVMBUS_NET_GSO_TCPV6,
	       "vnet flags");

struct cvmbus_net_tap {
	int fd;
	int stop_fd; /* eventfd: wakes the reader out of poll */
	char name[IFNAMSIZ];
	bool vnet; /* IFF_VNET_HDR: a header ahead of every frame */
	struct cvmbus_thread *thread;
	cvmbus_net_frame_fn *fn;
	void *ctx;
	struct cvmbus_mutex stats_lock;
	bool stats_ready;
	struct cvmbus_net_tap_stats stats;
	_Atomic uint64_t tx_frames, tx_bytes, tx_errors; /* writers: no lock */
};

/* Configure the interface through an AF_INET socket of the namespace the
 * calling thread is in (the TAP's own, during open). */
static int tap_configure(const char *name, const struct cvmbus_net_tap_config *cfg)
{
	struct ifreq ifr;
	int s, rc = 0;

	if (!cfg->mac && !cfg->mtu && !cfg->up)
		return 0;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (cfg->mac) {
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr.ifr_hwaddr.sa_data, cfg->mac, CVMBUS_NET_ETH_ALEN);
		if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0) {
			rc = -errno;
			goto out;
		}
	}
	if (cfg->mtu) {
		ifr.ifr_mtu = (int)cfg->mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
			rc = -errno;
			goto out;
		}
	}
	if (cfg->up) {
		if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
			rc = -errno;
			goto out;
		}
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
			rc = -errno;
			goto out;
		}
	}
out:
	close(s);
	return rc;
}

static int tap_create(const struct cvmbus_net_tap_config *cfg, struct cvmbus_net_tap *tap)
{
	struct ifreq ifr;
	int rc;

	tap->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (tap->fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	/* No packet-information prefix: one read, one Ethernet frame. */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (cfg->vnet_hdr ? IFF_VNET_HDR : 0);
	if (cfg->ifname && cfg->ifname[0])
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", cfg->ifname);
	if (ioctl(tap->fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		goto fail;
	}
	if (cfg->vnet_hdr) {
		/* The plain header, not the 12-byte one of mergeable buffers. */
		int hs = (int)sizeof(struct virtio_net_hdr);

		if (ioctl(tap->fd, TUNSETVNETHDRSZ, &hs) < 0) {
			rc = -errno;
			goto fail;
		}
		tap->vnet = true;
	}
	snprintf(tap->name, sizeof(tap->name), "%s", ifr.ifr_name);
	rc = tap_configure(tap->name, cfg);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	close(tap->fd);
	tap->fd = -1;
	return rc;
}

int cvmbus_net_tap_open(const struct cvmbus_net_tap_config *cfg, struct cvmbus_net_tap **out)
{
	struct cvmbus_net_tap *tap;
	char path[256];
	int home = -1, target = -1, rc;

	if (!cfg || !out)
		return -EINVAL;
	tap = calloc(1, sizeof(*tap));
	if (!tap)
		return -ENOMEM;
	tap->fd = -1;
	tap->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (tap->stop_fd < 0) {
		rc = -errno;
		goto fail_tap;
	}
	if (cfg->netns) {
		if (cfg->netns[0] == '/')
			snprintf(path, sizeof(path), "%s", cfg->netns);
		else
			snprintf(path, sizeof(path), "/run/netns/%s", cfg->netns);
		/* setns(2) moves only the calling thread: remember where it
		 * was, go, open, come back. */
		home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		target = open(path, O_RDONLY | O_CLOEXEC);
		if (home < 0 || target < 0) {
			rc = -errno;
			goto fail_ns;
		}
		if (setns(target, CLONE_NEWNET) < 0) {
			rc = -errno;
			goto fail_ns;
		}
	}
	rc = tap_create(cfg, tap);
	if (home >= 0 && setns(home, CLONE_NEWNET) < 0 && rc == 0)
		rc = -errno; /* could not come back: refuse rather than stay */
	if (home >= 0)
		close(home);
	if (target >= 0)
		close(target);
	if (rc < 0)
		goto fail_fd;
	*out = tap;
	return 0;

fail_ns:
	if (home >= 0)
		close(home);
	if (target >= 0)
		close(target);
fail_fd:
	if (tap->fd >= 0)
		close(tap->fd);
	close(tap->stop_fd);
fail_tap:
	free(tap);
	return rc;
}

const char *cvmbus_net_tap_name(const struct cvmbus_net_tap *tap)
{
	return tap->name;
}

int cvmbus_net_tap_fd(const struct cvmbus_net_tap *tap)
{
	return tap->fd;
}

static int tap_reader(void *arg)
{
	struct cvmbus_net_tap *tap = arg;
	size_t cap = tap->vnet ? TAP_GSO_FRAME_MAX : TAP_FRAME_MAX;
	uint8_t *buf = malloc(cap);
	struct cvmbus_net_offload off;
	struct iovec iov[2] = { { &off, sizeof(off) }, { NULL, cap } };

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = tap->fd, .events = POLLIN },
			{ .fd = tap->stop_fd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			break;
		/* Drain what is there: the fd is non-blocking. The offload
		 * state is dropped here: this reader's users take plain
		 * frames (a vnet TAP with offloads reads through its fd). */
		iov[1].iov_base = buf;
		while ((n = tap->vnet ? readv(tap->fd, iov, 2) : read(tap->fd, buf, cap)) > 0) {
			if (tap->vnet) {
				if ((size_t)n < sizeof(off))
					continue;
				n -= (ssize_t)sizeof(off);
			}
			cvmbus_mutex_lock(&tap->stats_lock);
			tap->stats.rx_frames++;
			tap->stats.rx_bytes += (uint64_t)n;
			cvmbus_mutex_unlock(&tap->stats_lock);
			if (tap->fn)
				tap->fn(tap->ctx, buf, (size_t)n);
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			cvmbus_mutex_lock(&tap->stats_lock);
			tap->stats.rx_errors++;
			cvmbus_mutex_unlock(&tap->stats_lock);
		}
	}
	free(buf);
	return 0;
}

int cvmbus_net_tap_start(struct cvmbus_net_tap *tap, struct cvmbus_exec *exec,
			 cvmbus_net_frame_fn *fn, void *ctx)
{
	if (tap->thread || !exec)
		return -EINVAL;
	tap->fn = fn;
	tap->ctx = ctx;
	if (!tap->stats_ready) {
		cvmbus_mutex_init(&tap->stats_lock, exec, "tap-stats");
		tap->stats_ready = true;
	}
	return cvmbus_thread_spawn(exec, &tap->thread, "tap", tap_reader, tap);
}

int cvmbus_net_tap_write(struct cvmbus_net_tap *tap, const void *frame, size_t len)
{
	static const struct cvmbus_net_offload plain;

	return cvmbus_net_tap_write_off(tap, &plain, frame, len);
}

int cvmbus_net_tap_write_off(struct cvmbus_net_tap *tap, const struct cvmbus_net_offload *off,
			     const void *frame, size_t len)
{
	struct iovec iov[2] = { { (void *)off, sizeof(*off) }, { (void *)frame, len } };
	size_t want = len + (tap->vnet ? sizeof(*off) : 0);
	ssize_t n;

	/* A plain TAP cannot carry a partial frame: refuse it rather than
	 * put a frame with a wrong checksum on the wire. */
	if (!tap->vnet && (off->flags & CVMBUS_NET_OFF_NEEDS_CSUM || off->gso_type))
		return -EOPNOTSUPP;
	n = tap->vnet ? writev(tap->fd, iov, 2) : write(tap->fd, frame, len);
	/* A full TAP queue (EAGAIN) drops the frame, as a wire would. */
	if (n < 0 || (size_t)n != want) {
		atomic_fetch_add(&tap->tx_errors, 1);
		return n < 0 ? -errno : -EIO;
	}
	atomic_fetch_add(&tap->tx_frames, 1);
	atomic_fetch_add(&tap->tx_bytes, len);
	return 0;
}

void cvmbus_net_tap_frame_out(void *tap, const void *frame, size_t len)
{
	(void)cvmbus_net_tap_write(tap, frame, len);
}

void cvmbus_net_tap_get_stats(struct cvmbus_net_tap *tap, struct cvmbus_net_tap_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (tap->stats_ready) {
		cvmbus_mutex_lock(&tap->stats_lock);
		*out = tap->stats;
		cvmbus_mutex_unlock(&tap->stats_lock);
	}
	out->tx_frames = atomic_load(&tap->tx_frames);
	out->tx_bytes = atomic_load(&tap->tx_bytes);
	out->tx_errors = atomic_load(&tap->tx_errors);
}

void cvmbus_net_tap_close(struct cvmbus_net_tap *tap)
{
	uint64_t one = 1;

	if (!tap)
		return;
	if (tap->thread) {
		if (write(tap->stop_fd, &one, sizeof(one)) < 0) {
			/* An eventfd write fails only on overflow: it is
			 * already signalled. */
		}
		(void)cvmbus_thread_join(tap->thread, NULL);
		tap->thread = NULL;
	}
	if (tap->stats_ready)
		cvmbus_mutex_destroy(&tap->stats_lock);
	close(tap->fd);
	close(tap->stop_fd);
	free(tap);
}

bool cvmbus_net_tap_vnet_hdr(const struct cvmbus_net_tap *tap)
{
	return tap->vnet;
}

int cvmbus_net_tap_offload_flags(uint32_t offloads)
{
	unsigned flags = 0;

	/* The kernel's rule: no segmentation without checksum offload. */
	if (offloads & (CVMBUS_NET_OFFLOAD_CSUM4 | CVMBUS_NET_OFFLOAD_CSUM6)) {
		flags |= TUN_F_CSUM;
		if (offloads & CVMBUS_NET_OFFLOAD_LSO4)
			flags |= TUN_F_TSO4;
		if (offloads & CVMBUS_NET_OFFLOAD_LSO6)
			flags |= TUN_F_TSO6;
	}
	return (int)flags;
}

int cvmbus_net_tap_fd_set_offload(int fd, uint32_t offloads)
{
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)cvmbus_net_tap_offload_flags(offloads)) < 0)
		return -errno;
	return 0;
}

int cvmbus_net_tap_set_offload(struct cvmbus_net_tap *tap, uint32_t offloads)
{
	if (!tap->vnet)
		return offloads ? -EINVAL : 0;
	return cvmbus_net_tap_fd_set_offload(tap->fd, offloads);
}
