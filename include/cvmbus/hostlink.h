/* SPDX-License-Identifier: MIT */
/*
 * The host in another process (layer src/hw). The partition (guest,
 * paravisor, and the hypervisor model, which is the partition's hardware)
 * stays in one process; the host party (its VMBus server and devices) runs
 * in another that holds only what a real host holds: the shared memfd, a
 * socket to the hypervisor, and one eventfd per event port it owns. The two
 * ends speak the protocol of src/hw/hostlink_proto.h over a SOCK_SEQPACKET
 * Unix socket.
 *
 *   partition end  cvmbus_hostlink_serve(): sends the shared memfd and the
 *                  layout, forwards visibility changes and messages posted
 *                  to the host's ports, writes the host's doorbells, and
 *                  carries out the host's requests (port add/remove, SynIC
 *                  posts and signals on the hypervisor's SynIC, hypercalls
 *                  as the root partition, pins) after checking them: the
 *                  host is untrusted, and may name neither the paravisor's
 *                  SynIC nor a private page's contents.
 *   host end       cvmbus_platform_attach(): a platform object whose port,
 *                  SynIC and hypercall calls travel the socket and whose
 *                  memory is a host-only partition memory (its host view,
 *                  built from the received shared memfd). The server glue
 *                  and the devices run on it unchanged.
 *
 * When the host's end goes away (a crash, a SIGKILL), the partition's end
 * removes every port the host owned, releases its pins, and calls on_lost
 * once, on its reader thread; the paravisor's relay uses that to rescind
 * the host's channels (docs/PROCESSES.md).
 *
 * Native executor only (the ends block in socket reads). Errors are
 * negative errno values: -EINVAL, -ENOMEM, -EPROTO (a malformed or
 * unexpected datagram), -ECONNRESET (the other end is gone), -ETIMEDOUT.
 */
#ifndef CVMBUS_HOSTLINK_H
#define CVMBUS_HOSTLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cvmbus/platform.h>

struct cvmbus_hostlink;

struct cvmbus_hostlink_stats {
	uint64_t port_messages;  /* forwarded to the host */
	uint64_t doorbells;      /* eventfd writes */
	uint64_t visibility;     /* VISIBILITY datagrams */
	uint64_t requests;       /* host requests carried out */
	uint64_t refused;        /* host requests refused (malformed, not allowed) */
	uint64_t signals;        /* SYNIC_SIGNAL from the host */
};

struct cvmbus_hostlink_config {
	/* Called once when the host's end is gone (EOF, error, or a
	 * malformed datagram, which closes the link), after its ports were
	 * removed. On the link's reader thread: may call the platform, must
	 * not close the link. */
	void (*on_lost)(void *ctx, int why);
	void *ctx;
};

/* Take `sock` (one end of a SOCK_SEQPACKET socketpair, owned by the link
 * from now on, even on failure), send HELLO with the shared memfd and every
 * page visible now, and start forwarding. 0 or a negative errno. */
int cvmbus_hostlink_serve(struct cvmbus_platform *p, int sock,
			  const struct cvmbus_hostlink_config *cfg,
			  struct cvmbus_hostlink **out);
/* Shut the socket, join the reader, remove the host's ports, release its
 * pins, free. Safe after the host is gone. */
void cvmbus_hostlink_close(struct cvmbus_hostlink *l);
bool cvmbus_hostlink_alive(const struct cvmbus_hostlink *l);
void cvmbus_hostlink_get_stats(const struct cvmbus_hostlink *l,
			       struct cvmbus_hostlink_stats *out);

/* The host's end: read HELLO from `sock` (owned from now on), open the host
 * view on the shared memfd it carries, start the reader. *out is a platform
 * for cvmbus_port_add/remove, cvmbus_synic_post/signal (hypervisor SynIC
 * only), cvmbus_hv_post_message_from/signal_event_from (as the host),
 * cvmbus_platform_mem (host-only: cvmbus_mem_host, pins, regions, aliases),
 * cvmbus_platform_config/vcpus/exec/trace; other calls fail with -EOPNOTSUPP
 * or return nothing. Free with cvmbus_platform_destroy. */
int cvmbus_platform_attach(struct cvmbus_exec *exec, int sock, struct cvmbus_platform **out,
			   char *err, size_t errlen);
/* Whether p is such a platform; whether its partition is still there. */
bool cvmbus_platform_is_remote(const struct cvmbus_platform *p);
bool cvmbus_platform_remote_alive(const struct cvmbus_platform *p);

/* A host-only partition memory (the host's end): the host view over
 * shared_fd and the layout, nothing private. pin_fn carries pins to the
 * partition (NULL: pins succeed locally and mean nothing). */
struct cvmbus_mem_remote_layout {
	enum hv_isolation_type isolation;
	unsigned int shared_gpa_bits;
	uint64_t boundary;
	uint64_t vtl0_base, vtl0_bytes;
	uint64_t vtl2_base, vtl2_bytes;
};
typedef int (*cvmbus_mem_pin_fn)(void *ctx, uint64_t gpa, uint64_t npages, int delta);
int cvmbus_mem_create_remote(int shared_fd, const struct cvmbus_mem_remote_layout *layout,
			     cvmbus_mem_pin_fn pin_fn, void *pin_ctx, struct cvmbus_mem **out);
bool cvmbus_mem_is_remote(const struct cvmbus_mem *mem);

/* One datagram of a SOCK_SEQPACKET socket with at most one fd (-1: none),
 * never raising SIGPIPE: 0, or -ECONNRESET once the other end is gone.
 * (hostlink_io.c; the VM's control socket to the host process uses it too.) */
int cvmbus_seqpacket_send(int sock, const void *buf, size_t len, int fd);
/* Receive one datagram (cap bytes) and at most one fd (*fd: -1 if none;
 * more than one, or a truncated datagram, is -EPROTO with every received
 * fd closed). The length, 0 at EOF, or a negative errno. */
ssize_t cvmbus_seqpacket_recv(int sock, void *buf, size_t cap, int *fd);

#endif /* CVMBUS_HOSTLINK_H */
