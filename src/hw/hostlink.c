/* SPDX-License-Identifier: MIT */
/*
 * The partition's end of the host link (src/hw; API cvmbus/hostlink.h,
 * protocol hostlink_proto.h). The host runs in another process; this is the
 * hypervisor model's side of the boundary: it hands the host the shared
 * memfd (never the private one), tells it which pages it may map, forwards
 * what the guest and the paravisor post or signal to the host's ports, and
 * carries out the host's requests.
 *
 * Every datagram from the host is hostile. It is copied into a buffer of
 * ours by recvmsg, its length must be exactly its type's, and then:
 *   - the host posts and signals only on the hypervisor's SynIC (the
 *     paravisor's is private: a host that names it gets -EPERM);
 *   - hypercalls run as the host party, whatever the host claims;
 *   - it removes only ports it added, and unpins only what it pinned;
 *   - it owns at most HL_MAX_MESSAGE_PORTS / HL_MAX_EVENT_PORTS ports;
 *   - a malformed datagram closes the link, as a lost host does.
 * The host's doorbells are eventfds it made (checked: an eventfd, nothing
 * else); we set O_NONBLOCK on them ourselves and write them from the
 * signaller's thread, inside its hypercall, which must never block (the
 * guest's vCPU is waiting for it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cvmbus/hostlink.h>
#include <cvmbus/log.h>

#include "hw/hostlink_proto.h"
#include "hw/platform_internal.h"

/* What a host may own at once. Each message port is a platform thread and
 * each event port a table entry: a host that asks for more is refused
 * (-ENOSPC), not allowed to grow the partition's process without bound.
 * A host needs two or three message ports and one event port per open
 * channel (relids stop at 2047). */
#define HL_MAX_MESSAGE_PORTS 16u
#define HL_MAX_EVENT_PORTS   4096u
/* How long a visibility hypercall waits for the host to map the change
 * (VISIBILITY_DONE). A live host answers from its reader at once; one that
 * does not only lags its own window: the hypercall then returns anyway
 * (the partition's state is already right) and we say so. */
#define HL_VIS_DONE_NS (5ull * 1000000000ull)

/* A port the host owns, as the platform's port table has it. */
struct hl_port {
	struct hl_port *next;
	struct cvmbus_hostlink *link;
	uint32_t connection_id;
	enum cvmbus_port_kind kind;
	int efd; /* EVENT: the host's doorbell */
};

struct cvmbus_hostlink {
	struct cvmbus_platform *p;
	struct cvmbus_hostlink_config cfg;
	int sock;
	struct cvmbus_thread *reader;
	struct cvmbus_mutex lock; /* ports, pins, vis_done */
	struct hl_port *ports;
	unsigned int nports[3]; /* by enum cvmbus_port_kind */
	uint16_t *pins; /* per page: what the host pinned and still holds */
	uint64_t pages;
	_Atomic bool alive;
	_Atomic bool closing;
	/* VISIBILITY numbering: the last sent (written under p->link_lock by
	 * the hypercall, read by the reader to refuse a DONE from the future)
	 * and the last the host said it applied (under lock), with the
	 * condition the hypercall waits on (broadcast on DONE and on loss). */
	_Atomic uint32_t vis_sent;
	uint32_t vis_done;
	struct cvmbus_cond vis_cond;
	_Atomic uint64_t st_port_messages, st_doorbells, st_visibility, st_requests,
		st_refused, st_signals;
};

/* ---- toward the host --------------------------------------------------------- */

static void link_send(struct cvmbus_hostlink *l, const void *buf, size_t len)
{
	if (!atomic_load(&l->alive))
		return;
	if (cvmbus_seqpacket_send(l->sock, buf, len, -1))
		/* The reader sees the same end of the socket and cleans up. */
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "hostlink: send to the host failed");
}

static void proxy_message(void *ctx, const struct cvmbus_port_message *m)
{
	struct hl_port *hp = ctx;
	struct hl_port_message pm;

	memset(&pm, 0, sizeof(pm));
	pm.h.type = HL_PORT_MESSAGE;
	pm.connection_id = m->connection_id;
	pm.message_type = m->message_type;
	pm.size = m->size <= sizeof(pm.payload) ? m->size : (uint32_t)sizeof(pm.payload);
	pm.vp = m->vp;
	pm.from = (uint32_t)m->from;
	pm.path = (uint32_t)m->path;
	pm.trusted = m->trusted;
	memcpy(pm.payload, m->payload, pm.size);
	atomic_fetch_add_explicit(&hp->link->st_port_messages, 1, memory_order_relaxed);
	link_send(hp->link, &pm, sizeof(pm));
}

static void proxy_event(void *ctx, const struct cvmbus_port_event *ev)
{
	struct hl_port *hp = ctx;
	struct pollfd pfd = { .fd = hp->efd, .events = POLLOUT };
	uint64_t one = 1;

	(void)ev;
	/* A counter the host saturated on purpose already says "signalled":
	 * skipping the write loses nothing and cannot block. */
	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT))
		return;
	if (write(hp->efd, &one, sizeof(one)) == (ssize_t)sizeof(one))
		atomic_fetch_add_explicit(&hp->link->st_doorbells, 1, memory_order_relaxed);
}

void hw_hostlink_visibility(struct cvmbus_hostlink *l,
			    const struct hv_input_modify_sparse_gpa_page_host_visibility *in,
			    uint32_t rep_count)
{
	struct hl_visibility v;
	uint32_t done = 0, seq = 0;
	uint64_t deadline;
	bool late = false;

	if (!l || !in || !atomic_load(&l->alive))
		return;
	while (done < rep_count) {
		uint32_t n = rep_count - done < HL_VIS_MAX ? rep_count - done : HL_VIS_MAX;

		/* Numbered past 0 (0: the snapshot, which nobody waits for). */
		seq = atomic_load(&l->vis_sent) + 1;
		if (!seq)
			seq = 1;
		atomic_store(&l->vis_sent, seq);
		memset(&v.h, 0, sizeof(v.h));
		v.h.type = HL_VISIBILITY;
		v.h.seq = seq;
		v.visible = in->host_visibility != HV_MAP_GPA_NOT_VISIBLE;
		v.count = n;
		memcpy(v.pfns, &in->gpa_page_list[done], n * sizeof(uint64_t));
		atomic_fetch_add_explicit(&l->st_visibility, 1, memory_order_relaxed);
		link_send(l, &v, offsetof(struct hl_visibility, pfns) + n * sizeof(uint64_t));
		done += n;
	}
	/* The host applies them in order: the last one's DONE covers all.
	 * Until then the host's window may lag, and the guest could already
	 * hand it a page it cannot map (hostlink_proto.h). The caller holds
	 * p->link_lock, which the reader takes only after it has marked the
	 * link dead and woken us (reader_main), so a host that dies here
	 * ends the wait at once. */
	deadline = cvmbus_exec_deadline(l->p->exec, HL_VIS_DONE_NS);
	cvmbus_mutex_lock(&l->lock);
	while (atomic_load(&l->alive) && (int32_t)(l->vis_done - seq) < 0) {
		if (cvmbus_cond_wait_until(&l->vis_cond, &l->lock, deadline) == -ETIMEDOUT) {
			late = (int32_t)(l->vis_done - seq) < 0;
			break;
		}
	}
	cvmbus_mutex_unlock(&l->lock);
	if (late)
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
			      "hostlink: the host did not apply a visibility change in time");
}

/* Every page the host may map now, in datagrams of HL_VIS_MAX. */
static int send_visible_now(struct cvmbus_hostlink *l)
{
	struct hl_visibility v;
	uint32_t n = 0;
	int rc;

	memset(&v, 0, sizeof(v));
	v.h.type = HL_VISIBILITY;
	v.visible = 1;
	for (uint64_t pg = 0; pg <= l->pages; pg++) {
		bool last = pg == l->pages;

		if (!last && cvmbus_mem_host_view_visible(l->p->host, pg * HV_PAGE_SIZE))
			v.pfns[n++] = pg;
		if (n && (n == HL_VIS_MAX || last)) {
			v.count = n;
			rc = cvmbus_seqpacket_send(l->sock, &v, offsetof(struct hl_visibility, pfns) +
							  n * sizeof(uint64_t), -1);
			if (rc)
				return rc;
			n = 0;
		}
	}
	return 0;
}

static void reply(struct cvmbus_hostlink *l, uint32_t seq, int rc, uint16_t status)
{
	struct hl_reply r = {
		.h = { .type = HL_REPLY, .seq = seq },
		.rc = rc,
		.status = status,
	};

	link_send(l, &r, sizeof(r));
}

/* ---- the host's requests ------------------------------------------------------- */

static struct hl_port **port_slot(struct cvmbus_hostlink *l, uint32_t connection_id)
{
	struct hl_port **pp;

	for (pp = &l->ports; *pp; pp = &(*pp)->next)
		if ((*pp)->connection_id == connection_id)
			return pp;
	return NULL;
}

static int do_port_add(struct cvmbus_hostlink *l, const struct hl_port_add *a, int *fd)
{
	struct cvmbus_port_config pc;
	struct hl_port *hp;
	int rc, fl;

	if ((a->kind != CVMBUS_PORT_MESSAGE && a->kind != CVMBUS_PORT_EVENT) ||
	    (a->kind == CVMBUS_PORT_EVENT) != (*fd >= 0) ||
	    a->queue_depth > CVMBUS_PLATFORM_MAX_QUEUE)
		return -EINVAL;
	if (*fd >= 0) {
		/* A doorbell must be an eventfd, which we can write without
		 * ever blocking; anything else (a pipe, a socket, a file the
		 * write would land in) is refused. */
		char path[48], what[32];
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", *fd);
		n = readlink(path, what, sizeof(what) - 1);
		if (n <= 0)
			return -EINVAL;
		what[n] = '\0';
		if (strcmp(what, "anon_inode:[eventfd]"))
			return -EINVAL;
		fl = fcntl(*fd, F_GETFL);
		if (fl < 0 || fcntl(*fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return -EINVAL;
	}
	hp = calloc(1, sizeof(*hp));
	if (!hp)
		return -ENOMEM;
	hp->link = l;
	hp->connection_id = a->connection_id;
	hp->kind = (enum cvmbus_port_kind)a->kind;
	hp->efd = *fd;
	memset(&pc, 0, sizeof(pc));
	pc.connection_id = a->connection_id;
	pc.kind = hp->kind;
	/* Whatever the host says, the port is the host's. */
	pc.owner = CVMBUS_MEM_PARTY_HOST;
	pc.queue_depth = a->queue_depth;
	pc.ctx = hp;
	if (hp->kind == CVMBUS_PORT_MESSAGE)
		pc.on_message = proxy_message;
	else
		pc.on_event = proxy_event;
	cvmbus_mutex_lock(&l->lock);
	if (l->nports[hp->kind] >= (hp->kind == CVMBUS_PORT_MESSAGE ? HL_MAX_MESSAGE_PORTS
								    : HL_MAX_EVENT_PORTS))
		rc = -ENOSPC;
	else
		rc = cvmbus_port_add(l->p, &pc);
	if (!rc) {
		hp->next = l->ports;
		l->ports = hp;
		l->nports[hp->kind]++;
		*fd = -1; /* the port has it now */
	}
	cvmbus_mutex_unlock(&l->lock);
	if (rc)
		free(hp);
	return rc;
}

static void port_free(struct hl_port *hp)
{
	if (hp->efd >= 0)
		close(hp->efd);
	free(hp);
}

static int do_port_remove(struct cvmbus_hostlink *l, uint32_t connection_id)
{
	struct hl_port **pp, *hp;

	cvmbus_mutex_lock(&l->lock);
	pp = port_slot(l, connection_id);
	hp = pp ? *pp : NULL;
	if (hp) {
		*pp = hp->next;
		l->nports[hp->kind]--;
	}
	cvmbus_mutex_unlock(&l->lock);
	/* Only the host's own ports: the paravisor's are not its to drop. */
	if (!hp)
		return -ENOENT;
	(void)cvmbus_port_remove(l->p, connection_id);
	port_free(hp);
	return 0;
}

static int do_pin(struct cvmbus_hostlink *l, const struct hl_pin *pin)
{
	uint64_t first;
	int rc;

	if ((pin->delta != 1 && pin->delta != -1) || pin->gpa % HV_PAGE_SIZE || !pin->npages ||
	    pin->gpa / HV_PAGE_SIZE >= l->pages || pin->npages > l->pages - pin->gpa / HV_PAGE_SIZE)
		return -EINVAL;
	first = pin->gpa / HV_PAGE_SIZE;
	cvmbus_mutex_lock(&l->lock);
	for (uint64_t i = 0; i < pin->npages; i++) {
		uint16_t n = l->pins[first + i];

		if ((pin->delta < 0 && !n) || (pin->delta > 0 && n == UINT16_MAX)) {
			cvmbus_mutex_unlock(&l->lock);
			return -EINVAL;
		}
	}
	rc = pin->delta > 0 ? cvmbus_mem_pin(l->p->mem, pin->gpa, pin->npages)
			    : cvmbus_mem_unpin(l->p->mem, pin->gpa, pin->npages);
	if (!rc)
		for (uint64_t i = 0; i < pin->npages; i++)
			l->pins[first + i] = (uint16_t)(l->pins[first + i] + pin->delta);
	cvmbus_mutex_unlock(&l->lock);
	return rc;
}

/* One datagram from the host. 0, or -EPROTO to close the link. */
static int handle(struct cvmbus_hostlink *l, const uint8_t *buf, size_t len, int *fd)
{
	struct hl_hdr h;
	uint16_t status = 0;
	int rc;

	if (len < sizeof(h))
		return -EPROTO;
	memcpy(&h, buf, sizeof(h));
	if (*fd >= 0 && h.type != HL_PORT_ADD)
		return -EPROTO;
#define HL_EXACT(type_) \
	if (len != sizeof(type_)) \
		return -EPROTO
	switch (h.type) {
	case HL_PORT_ADD: {
		struct hl_port_add a;

		HL_EXACT(a);
		memcpy(&a, buf, sizeof(a));
		rc = do_port_add(l, &a, fd);
		break;
	}
	case HL_PORT_REMOVE: {
		struct hl_port_remove r;

		HL_EXACT(r);
		memcpy(&r, buf, sizeof(r));
		rc = do_port_remove(l, r.connection_id);
		break;
	}
	case HL_SYNIC_POST: {
		struct hl_post sp;

		HL_EXACT(sp);
		memcpy(&sp, buf, sizeof(sp));
		rc = sp.size <= sizeof(sp.payload)
			     ? cvmbus_synic_post(l->p, CVMBUS_SYNIC_HYPERVISOR, sp.vp, sp.target,
						 sp.message_type, sp.payload, sp.size)
			     : -EINVAL;
		break;
	}
	case HL_SYNIC_SIGNAL: {
		struct hl_synic_signal ss;

		HL_EXACT(ss);
		memcpy(&ss, buf, sizeof(ss));
		atomic_fetch_add_explicit(&l->st_signals, 1, memory_order_relaxed);
		/* Not answered: the hot path. A bad vp or flag is the SynIC's
		 * to refuse, and it does (traced). */
		(void)cvmbus_synic_signal(l->p, CVMBUS_SYNIC_HYPERVISOR, ss.vp, ss.sint, ss.flag);
		return 0;
	}
	case HL_POST_FROM: {
		struct hl_post pf;

		HL_EXACT(pf);
		memcpy(&pf, buf, sizeof(pf));
		rc = pf.size <= sizeof(pf.payload)
			     ? cvmbus_hv_post_message_from(l->p, CVMBUS_MEM_PARTY_HOST, pf.vp,
							   pf.target, pf.message_type,
							   pf.payload, pf.size, &status)
			     : -EINVAL;
		break;
	}
	case HL_SIGNAL_FROM: {
		struct hl_signal_from sf;

		HL_EXACT(sf);
		memcpy(&sf, buf, sizeof(sf));
		rc = sf.flag_number <= UINT16_MAX
			     ? cvmbus_hv_signal_event_from(l->p, CVMBUS_MEM_PARTY_HOST, sf.vp,
							   sf.connection_id,
							   (uint16_t)sf.flag_number, &status)
			     : -EINVAL;
		break;
	}
	case HL_PIN: {
		struct hl_pin pin;

		HL_EXACT(pin);
		memcpy(&pin, buf, sizeof(pin));
		rc = do_pin(l, &pin);
		break;
	}
	case HL_VISIBILITY_DONE: {
		struct hl_visibility_done vd;

		HL_EXACT(vd);
		memcpy(&vd, buf, sizeof(vd));
		/* Not answered. A number we never sent is a lie about the
		 * host's own window: malformed. */
		if (!vd.h.seq || (int32_t)(vd.h.seq - atomic_load(&l->vis_sent)) > 0)
			return -EPROTO;
		cvmbus_mutex_lock(&l->lock);
		if ((int32_t)(vd.h.seq - l->vis_done) > 0)
			l->vis_done = vd.h.seq;
		cvmbus_cond_broadcast(&l->vis_cond);
		cvmbus_mutex_unlock(&l->lock);
		return 0;
	}
	default:
		return -EPROTO;
	}
#undef HL_EXACT
	if (rc == -EINVAL)
		atomic_fetch_add_explicit(&l->st_refused, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->st_requests, 1, memory_order_relaxed);
	reply(l, h.seq, rc, status);
	return 0;
}

/* The host is gone (or closed): nothing of it stays in the partition. */
static void link_lost(struct cvmbus_hostlink *l)
{
	struct hl_port *hp;

	atomic_store(&l->alive, false);
	for (;;) {
		cvmbus_mutex_lock(&l->lock);
		hp = l->ports;
		if (hp) {
			l->ports = hp->next;
			l->nports[hp->kind]--;
		}
		cvmbus_mutex_unlock(&l->lock);
		if (!hp)
			break;
		(void)cvmbus_port_remove(l->p, hp->connection_id);
		port_free(hp);
	}
	cvmbus_mutex_lock(&l->lock);
	/* Pins count: give back each one the host still held. */
	for (uint64_t pg = 0; pg < l->pages; pg++)
		for (; l->pins[pg]; l->pins[pg]--)
			(void)cvmbus_mem_unpin(l->p->mem, pg * HV_PAGE_SIZE, 1);
	cvmbus_mutex_unlock(&l->lock);
}

static int reader_main(void *arg)
{
	struct cvmbus_hostlink *l = arg;
	uint8_t *buf = malloc(HL_MAX_DATAGRAM);
	int why = -ECONNRESET;

	while (buf) {
		int fd = -1;
		ssize_t n = cvmbus_seqpacket_recv(l->sock, buf, HL_MAX_DATAGRAM, &fd);

		if (n <= 0) {
			why = n ? (int)n : -ECONNRESET;
			break;
		}
		why = handle(l, buf, (size_t)n, &fd);
		if (fd >= 0)
			close(fd);
		if (why) {
			cvmbus_log_warn("hostlink: malformed datagram from the host: link closed");
			break;
		}
	}
	free(buf);
	shutdown(l->sock, SHUT_RDWR);
	/* Dead before we take link_lock: a visibility hypercall holding it
	 * while it waits for a DONE that will never come wakes up, returns
	 * and lets go of it. */
	atomic_store(&l->alive, false);
	cvmbus_mutex_lock(&l->lock);
	cvmbus_cond_broadcast(&l->vis_cond);
	cvmbus_mutex_unlock(&l->lock);
	cvmbus_mutex_lock(&l->p->link_lock);
	l->p->link = NULL;
	cvmbus_mutex_unlock(&l->p->link_lock);
	link_lost(l);
	if (!atomic_load(&l->closing)) {
		/* Whoever gave us on_lost knows whether this was news (a host
		 * told to stop hangs up too) and says so; without it, we do. */
		if (l->cfg.on_lost)
			cvmbus_log_debug("hostlink: the host hung up (%d)", why);
		else
			cvmbus_log_warn("hostlink: the host is gone (%d)", why);
		if (l->cfg.on_lost)
			l->cfg.on_lost(l->cfg.ctx, why);
	}
	return 0;
}

/* ---- lifecycle --------------------------------------------------------------------- */

int cvmbus_hostlink_serve(struct cvmbus_platform *p, int sock,
			  const struct cvmbus_hostlink_config *cfg,
			  struct cvmbus_hostlink **out)
{
	struct cvmbus_hostlink *l;
	struct hl_hello hello;
	uint64_t base, bytes;
	int rc;

	if (!p || sock < 0 || !out || p->remote) {
		if (sock >= 0)
			close(sock);
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		close(sock);
		return -ENOMEM;
	}
	l->p = p;
	l->sock = sock;
	if (cfg)
		l->cfg = *cfg;
	l->pages = cvmbus_mem_bytes(p->mem) / HV_PAGE_SIZE;
	l->pins = calloc(l->pages, sizeof(*l->pins));
	if (!l->pins) {
		rc = -ENOMEM;
		goto fail;
	}
	cvmbus_mutex_init(&l->lock, p->exec, "hostlink");
	cvmbus_cond_init(&l->vis_cond, p->exec, "hostlink-visibility");
	atomic_store(&l->alive, true);

	memset(&hello, 0, sizeof(hello));
	hello.h.type = HL_HELLO;
	hello.magic = HL_MAGIC;
	hello.version = HL_VERSION;
	hello.isolation = (uint32_t)p->cfg.isolation;
	hello.arch = (uint32_t)p->cfg.arch;
	hello.vcpus = p->cfg.vcpus;
	hello.paravisor = p->cfg.paravisor;
	hello.confidential_vmbus = p->cfg.confidential_vmbus;
	hello.shared_gpa_bits = p->boundary_bits;
	hello.boundary = p->boundary;
	hello.bytes = cvmbus_mem_bytes(p->mem);
	cvmbus_mem_region(p->mem, CVMBUS_MEM_REGION_VTL0, &base, &bytes);
	hello.vtl0_base = base;
	hello.vtl0_bytes = bytes;
	cvmbus_mem_region(p->mem, CVMBUS_MEM_REGION_VTL2, &base, &bytes);
	hello.vtl2_base = base;
	hello.vtl2_bytes = bytes;
	hello.port_queue_depth = p->cfg.port_queue_depth;
	hello.sint_queue_depth = p->cfg.sint_queue_depth;
	cvmbus_mutex_lock(&p->link_lock);
	if (p->link) {
		cvmbus_mutex_unlock(&p->link_lock);
		rc = -EBUSY; /* one host at a time */
		goto fail_lock;
	}
	/* The one fd the host ever gets of partition memory. */
	rc = cvmbus_seqpacket_send(sock, &hello, sizeof(hello), cvmbus_mem_shared_fd(p->mem));
	if (!rc)
		rc = send_visible_now(l);
	if (rc) {
		cvmbus_mutex_unlock(&p->link_lock);
		goto fail_lock;
	}
	/* From here on every visibility change is forwarded (hypercall.c).
	 * The snapshot above and this are under the lock, so a change made
	 * meanwhile (a restarted host, with the guest running) is either in
	 * the snapshot or forwarded after it. */
	rc = cvmbus_thread_spawn(p->exec, &l->reader, "hostlink", reader_main, l);
	if (rc) {
		cvmbus_mutex_unlock(&p->link_lock);
		goto fail_lock;
	}
	p->link = l;
	cvmbus_mutex_unlock(&p->link_lock);
	*out = l;
	return 0;

fail_lock:
	cvmbus_cond_destroy(&l->vis_cond);
	cvmbus_mutex_destroy(&l->lock);
fail:
	free(l->pins);
	close(sock);
	free(l);
	return rc;
}

void cvmbus_hostlink_close(struct cvmbus_hostlink *l)
{
	if (!l)
		return;
	atomic_store(&l->closing, true);
	/* The reader sees EOF and removes what the host had. */
	shutdown(l->sock, SHUT_RDWR);
	cvmbus_thread_join(l->reader, NULL);
	close(l->sock);
	cvmbus_cond_destroy(&l->vis_cond);
	cvmbus_mutex_destroy(&l->lock);
	free(l->pins);
	free(l);
}

bool cvmbus_hostlink_alive(const struct cvmbus_hostlink *l)
{
	return l && atomic_load(&l->alive);
}

void cvmbus_hostlink_get_stats(const struct cvmbus_hostlink *l, struct cvmbus_hostlink_stats *out)
{
	if (!l || !out)
		return;
	out->port_messages = atomic_load(&l->st_port_messages);
	out->doorbells = atomic_load(&l->st_doorbells);
	out->visibility = atomic_load(&l->st_visibility);
	out->requests = atomic_load(&l->st_requests);
	out->refused = atomic_load(&l->st_refused);
	out->signals = atomic_load(&l->st_signals);
}
