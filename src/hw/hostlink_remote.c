/* SPDX-License-Identifier: MIT */
/*
 * The host's end of the host link (src/hw; API cvmbus/hostlink.h, protocol
 * hostlink_proto.h): a platform object for the host's process. It owns no
 * SynIC, vCPU or partition page; what the host's server glue and devices
 * ask of the platform travels the socket to the hypervisor model, and what
 * the model sends arrives here on three threads:
 *   reader      reads every datagram in order: applies VISIBILITY to the
 *               host view at once and answers VISIBILITY_DONE (the
 *               partition's hypercall waits for it: a ring packet naming
 *               the page may already be on its way), completes waiting
 *               requests on REPLY, and queues PORT_MESSAGE for the
 *               dispatcher. It never runs a
 *               handler: handlers make requests, whose replies only the
 *               reader can deliver.
 *   dispatcher  runs message-port handlers one message at a time, in order,
 *               as a platform port thread would.
 *   poller      waits on the event ports' eventfds (the doorbells) and runs
 *               their handlers, which must not block, as on the platform.
 * Requests wait for their REPLY at most HL_REQUEST_TIMEOUT_NS: the
 * partition answers at once, so a longer wait means it is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cvmbus/hostlink.h>
#include <cvmbus/log.h>

#include "hw/hostlink_proto.h"
#include "hw/platform_internal.h"

#define HL_REQUEST_TIMEOUT_NS (10ull * 1000000000ull)
#define HL_SLOTS              64u
/* epoll data of the poller's own wake-up eventfd. */
#define HL_WAKE_TOKEN         UINT64_MAX

struct hl_slot {
	bool used, done;
	uint32_t seq;
	int32_t rc;
	uint32_t status;
};

struct hl_rport {
	struct hl_rport *next;
	struct cvmbus_port_config cfg;
	int efd;
	unsigned int busy; /* handlers running now */
	bool removing;
};

struct hl_qmsg {
	struct hl_qmsg *next;
	struct hl_port_message m;
};

struct hw_remote {
	struct cvmbus_platform *p;
	int sock;
	int epfd, wake;
	struct cvmbus_thread *reader, *dispatcher, *poller;
	struct cvmbus_mutex lock; /* everything below */
	struct cvmbus_cond cond;  /* a reply, a message, a handler done, stop */
	uint32_t next_seq;
	struct hl_slot slots[HL_SLOTS];
	struct hl_rport *ports;
	struct hl_qmsg *qhead, *qtail;
	bool stop;
	_Atomic bool alive;
};

/* ---- requests --------------------------------------------------------------------- */

static int request(struct hw_remote *r, void *msg, size_t len, int fd, uint16_t *status)
{
	struct hl_hdr h;
	struct hl_slot *s = NULL;
	uint64_t deadline;
	int rc;

	cvmbus_mutex_lock(&r->lock);
	while (!s && atomic_load(&r->alive)) {
		for (unsigned int i = 0; i < HL_SLOTS; i++)
			if (!r->slots[i].used) {
				s = &r->slots[i];
				break;
			}
		if (!s)
			cvmbus_cond_wait(&r->cond, &r->lock);
	}
	if (!s) {
		cvmbus_mutex_unlock(&r->lock);
		return -ECONNRESET;
	}
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->seq = ++r->next_seq;
	memcpy(&h, msg, sizeof(h));
	h.seq = s->seq;
	memcpy(msg, &h, sizeof(h));
	cvmbus_mutex_unlock(&r->lock);

	rc = cvmbus_seqpacket_send(r->sock, msg, len, fd);

	cvmbus_mutex_lock(&r->lock);
	deadline = cvmbus_exec_deadline(r->p->exec, HL_REQUEST_TIMEOUT_NS);
	while (!rc && !s->done && atomic_load(&r->alive))
		if (cvmbus_cond_wait_until(&r->cond, &r->lock, deadline) == -ETIMEDOUT)
			rc = -ETIMEDOUT;
	if (!rc)
		rc = s->done ? s->rc : -ECONNRESET;
	if (status)
		*status = (uint16_t)s->status;
	s->used = false;
	cvmbus_cond_broadcast(&r->cond);
	cvmbus_mutex_unlock(&r->lock);
	return rc;
}

static struct hl_rport **rport_slot(struct hw_remote *r, uint32_t connection_id)
{
	for (struct hl_rport **pp = &r->ports; *pp; pp = &(*pp)->next)
		if ((*pp)->cfg.connection_id == connection_id)
			return pp;
	return NULL;
}

int hw_remote_port_add(struct cvmbus_platform *p, const struct cvmbus_port_config *cfg)
{
	struct hw_remote *r = p->remote;
	struct hl_port_add a;
	struct hl_rport *rp;
	int rc;

	if ((cfg->kind == CVMBUS_PORT_MESSAGE && !cfg->on_message) ||
	    (cfg->kind == CVMBUS_PORT_EVENT && !cfg->on_event) ||
	    (cfg->kind != CVMBUS_PORT_MESSAGE && cfg->kind != CVMBUS_PORT_EVENT) ||
	    cfg->owner != CVMBUS_MEM_PARTY_HOST || cfg->connection_id >> 24)
		return -EINVAL;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	rp->cfg = *cfg;
	rp->efd = -1;
	if (cfg->kind == CVMBUS_PORT_EVENT) {
		struct epoll_event ev = { .events = EPOLLIN };

		rp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (rp->efd < 0) {
			free(rp);
			return -errno;
		}
		ev.data.u64 = cfg->connection_id;
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, rp->efd, &ev) < 0) {
			rc = -errno;
			goto fail;
		}
	}
	/* Known here first, so that a message or a doorbell that comes right
	 * after the reply finds its handler. */
	cvmbus_mutex_lock(&r->lock);
	if (rport_slot(r, cfg->connection_id)) {
		cvmbus_mutex_unlock(&r->lock);
		rc = -EEXIST;
		goto fail;
	}
	rp->next = r->ports;
	r->ports = rp;
	cvmbus_mutex_unlock(&r->lock);

	memset(&a, 0, sizeof(a));
	a.h.type = HL_PORT_ADD;
	a.connection_id = cfg->connection_id;
	a.kind = (uint32_t)cfg->kind;
	a.queue_depth = cfg->queue_depth;
	rc = request(r, &a, sizeof(a), rp->efd, NULL);
	if (!rc)
		return 0;
	cvmbus_mutex_lock(&r->lock);
	*rport_slot(r, cfg->connection_id) = rp->next;
	cvmbus_mutex_unlock(&r->lock);
fail:
	if (rp->efd >= 0)
		close(rp->efd); /* also leaves the epoll set */
	free(rp);
	return rc;
}

int hw_remote_port_remove(struct cvmbus_platform *p, uint32_t connection_id)
{
	struct hw_remote *r = p->remote;
	struct hl_port_remove m;
	struct hl_rport **pp, *rp;
	int rc;

	memset(&m, 0, sizeof(m));
	m.h.type = HL_PORT_REMOVE;
	m.connection_id = connection_id;
	/* The partition first, so nothing new is sent; a partition that is
	 * gone has nothing to remove. */
	rc = request(r, &m, sizeof(m), -1, NULL);
	cvmbus_mutex_lock(&r->lock);
	pp = rport_slot(r, connection_id);
	rp = pp ? *pp : NULL;
	if (rp) {
		*pp = rp->next;
		rp->removing = true;
		while (rp->busy)
			cvmbus_cond_wait(&r->cond, &r->lock);
	}
	cvmbus_mutex_unlock(&r->lock);
	if (!rp)
		return -ENOENT;
	if (rp->efd >= 0)
		close(rp->efd);
	free(rp);
	return rc == -ECONNRESET || rc == -ETIMEDOUT ? 0 : rc;
}

/* SYNIC_POST and POST_FROM: one layout, one request. */
static int remote_post(struct cvmbus_platform *p, uint32_t type, uint32_t vp, uint32_t target,
		       uint32_t message_type, const void *payload, uint32_t size,
		       uint16_t *status)
{
	struct hl_post m;

	if (size > sizeof(m.payload) || (size && !payload))
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.h.type = type;
	m.vp = vp;
	m.target = target;
	m.message_type = message_type;
	m.size = size;
	if (size)
		memcpy(m.payload, payload, size);
	return request(p->remote, &m, sizeof(m), -1, status);
}

int hw_remote_synic_post(struct cvmbus_platform *p, uint32_t vp, uint32_t sint,
			 uint32_t message_type, const void *payload, uint32_t size)
{
	return remote_post(p, HL_SYNIC_POST, vp, sint, message_type, payload, size, NULL);
}

int hw_remote_synic_signal(struct cvmbus_platform *p, uint32_t vp, uint32_t sint, uint32_t flag)
{
	struct hl_synic_signal m = {
		.h = { .type = HL_SYNIC_SIGNAL },
		.vp = vp,
		.sint = sint,
		.flag = flag,
	};

	if (!atomic_load(&p->remote->alive))
		return -ECONNRESET;
	return cvmbus_seqpacket_send(p->remote->sock, &m, sizeof(m), -1);
}

int hw_remote_post_from(struct cvmbus_platform *p, uint32_t vp, uint32_t connection_id,
			uint32_t message_type, const void *payload, uint32_t size,
			uint16_t *status)
{
	if (!status)
		return -EINVAL;
	return remote_post(p, HL_POST_FROM, vp, connection_id, message_type, payload, size,
			   status);
}

int hw_remote_signal_from(struct cvmbus_platform *p, uint32_t vp, uint32_t connection_id,
			  uint16_t flag_number, uint16_t *status)
{
	struct hl_signal_from m = {
		.h = { .type = HL_SIGNAL_FROM },
		.vp = vp,
		.connection_id = connection_id,
		.flag_number = flag_number,
	};

	if (!status)
		return -EINVAL;
	return request(p->remote, &m, sizeof(m), -1, status);
}

static int remote_pin(void *ctx, uint64_t gpa, uint64_t npages, int delta)
{
	struct hl_pin m = {
		.h = { .type = HL_PIN },
		.gpa = gpa,
		.npages = npages,
		.delta = delta,
	};

	return request(ctx, &m, sizeof(m), -1, NULL);
}

/* ---- threads ------------------------------------------------------------------------ */

static void remote_down(struct hw_remote *r)
{
	cvmbus_mutex_lock(&r->lock);
	atomic_store(&r->alive, false);
	r->stop = true;
	cvmbus_cond_broadcast(&r->cond);
	cvmbus_mutex_unlock(&r->lock);
}

static int reader_main(void *arg)
{
	struct hw_remote *r = arg;
	uint8_t *buf = malloc(HL_MAX_DATAGRAM);

	while (buf) {
		struct hl_hdr h;
		int fd = -1;
		ssize_t n = cvmbus_seqpacket_recv(r->sock, buf, HL_MAX_DATAGRAM, &fd);

		if (n <= 0)
			break;
		if (fd >= 0)
			close(fd); /* the partition sends fds only in HELLO */
		if ((size_t)n < sizeof(h))
			continue;
		memcpy(&h, buf, sizeof(h));
		if (h.type == HL_VISIBILITY && (size_t)n >= offsetof(struct hl_visibility, pfns)) {
			struct hl_visibility *v = (struct hl_visibility *)buf;

			if (v->count <= HL_VIS_MAX &&
			    (size_t)n == offsetof(struct hl_visibility, pfns) +
						 v->count * sizeof(uint64_t))
				(void)cvmbus_mem_host_view_apply(r->p->host, v->pfns, v->count,
								 v->visible != 0);
			/* Mapped (or unmapped): the hypercall behind it may
			 * return. The snapshot after HELLO (seq 0) waits for
			 * nothing. */
			if (v->h.seq) {
				struct hl_visibility_done vd = {
					.h = { .type = HL_VISIBILITY_DONE, .seq = v->h.seq },
				};

				(void)cvmbus_seqpacket_send(r->sock, &vd, sizeof(vd), -1);
			}
		} else if (h.type == HL_REPLY && (size_t)n == sizeof(struct hl_reply)) {
			struct hl_reply rep;

			memcpy(&rep, buf, sizeof(rep));
			cvmbus_mutex_lock(&r->lock);
			for (unsigned int i = 0; i < HL_SLOTS; i++) {
				struct hl_slot *s = &r->slots[i];

				if (s->used && !s->done && s->seq == rep.h.seq) {
					s->done = true;
					s->rc = rep.rc;
					s->status = rep.status;
					cvmbus_cond_broadcast(&r->cond);
					break;
				}
			}
			cvmbus_mutex_unlock(&r->lock);
		} else if (h.type == HL_PORT_MESSAGE && (size_t)n == sizeof(struct hl_port_message)) {
			struct hl_qmsg *q = malloc(sizeof(*q));

			if (!q)
				continue;
			memcpy(&q->m, buf, sizeof(q->m));
			q->next = NULL;
			cvmbus_mutex_lock(&r->lock);
			if (r->qtail)
				r->qtail->next = q;
			else
				r->qhead = q;
			r->qtail = q;
			cvmbus_cond_broadcast(&r->cond);
			cvmbus_mutex_unlock(&r->lock);
		}
	}
	free(buf);
	remote_down(r);
	return 0;
}

static int dispatcher_main(void *arg)
{
	struct hw_remote *r = arg;

	cvmbus_mutex_lock(&r->lock);
	for (;;) {
		struct cvmbus_port_message m;
		struct hl_rport **pp, *rp;
		struct hl_qmsg *q;

		while (!r->qhead && !r->stop)
			cvmbus_cond_wait(&r->cond, &r->lock);
		q = r->qhead;
		if (!q)
			break;
		r->qhead = q->next;
		if (!r->qhead)
			r->qtail = NULL;
		pp = rport_slot(r, q->m.connection_id);
		rp = pp ? *pp : NULL;
		if (!rp || rp->removing || rp->cfg.kind != CVMBUS_PORT_MESSAGE) {
			free(q);
			continue;
		}
		rp->busy++;
		cvmbus_mutex_unlock(&r->lock);
		memset(&m, 0, sizeof(m));
		m.connection_id = q->m.connection_id;
		m.message_type = q->m.message_type;
		m.payload = q->m.payload;
		m.size = q->m.size <= sizeof(q->m.payload) ? q->m.size
							   : (uint32_t)sizeof(q->m.payload);
		m.trusted = q->m.trusted != 0;
		m.vp = q->m.vp;
		m.from = (enum cvmbus_mem_party)q->m.from;
		m.path = (enum cvmbus_path)q->m.path;
		rp->cfg.on_message(rp->cfg.ctx, &m);
		free(q);
		cvmbus_mutex_lock(&r->lock);
		rp->busy--;
		cvmbus_cond_broadcast(&r->cond);
	}
	cvmbus_mutex_unlock(&r->lock);
	return 0;
}

static int poller_main(void *arg)
{
	struct hw_remote *r = arg;
	struct epoll_event evs[16];

	for (;;) {
		int n = epoll_wait(r->epfd, evs, 16, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			struct cvmbus_port_event pe;
			struct hl_rport **pp, *rp;
			uint64_t count;

			if (evs[i].data.u64 == HL_WAKE_TOKEN)
				return 0;
			cvmbus_mutex_lock(&r->lock);
			pp = rport_slot(r, (uint32_t)evs[i].data.u64);
			rp = pp ? *pp : NULL;
			if (!rp || rp->removing) {
				cvmbus_mutex_unlock(&r->lock);
				continue;
			}
			rp->busy++;
			cvmbus_mutex_unlock(&r->lock);
			/* Many rings of the bell are one signal: the handler
			 * looks at the ring, which says how much there is. */
			if (read(rp->efd, &count, sizeof(count)) == (ssize_t)sizeof(count)) {
				memset(&pe, 0, sizeof(pe));
				pe.connection_id = rp->cfg.connection_id;
				pe.from = CVMBUS_MEM_PARTY_GUEST;
				rp->cfg.on_event(rp->cfg.ctx, &pe);
			}
			cvmbus_mutex_lock(&r->lock);
			rp->busy--;
			cvmbus_cond_broadcast(&r->cond);
			cvmbus_mutex_unlock(&r->lock);
		}
	}
	return 0;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static int read_hello(int sock, struct hl_hello *hello, int *memfd, char *err, size_t errlen)
{
	ssize_t n = cvmbus_seqpacket_recv(sock, hello, sizeof(*hello), memfd);

	if (n != (ssize_t)sizeof(*hello) || *memfd < 0 || hello->h.type != HL_HELLO ||
	    hello->magic != HL_MAGIC || hello->version != HL_VERSION) {
		if (*memfd >= 0)
			close(*memfd);
		*memfd = -1;
		snprintf(err, errlen, "no hello from the partition (%zd)", n);
		return n < 0 ? (int)n : -EPROTO;
	}
	if (!hello->vcpus || hello->vcpus > CVMBUS_PLATFORM_MAX_VCPUS ||
	    hello->isolation > HV_ISOLATION_TYPE_TDX) {
		close(*memfd);
		*memfd = -1;
		snprintf(err, errlen, "bad hello from the partition");
		return -EPROTO;
	}
	return 0;
}

int cvmbus_platform_attach(struct cvmbus_exec *exec, int sock, struct cvmbus_platform **out,
			   char *err, size_t errlen)
{
	struct cvmbus_mem_remote_layout lay;
	struct cvmbus_platform *p = NULL;
	struct hw_remote *r = NULL;
	struct hl_hello hello;
	char why[96] = "";
	int memfd = -1, rc;

	if (!exec || sock < 0 || !out) {
		if (sock >= 0)
			close(sock);
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	r = calloc(1, sizeof(*r));
	if (!p || !r) {
		rc = -ENOMEM;
		goto fail_early;
	}
	rc = read_hello(sock, &hello, &memfd, why, sizeof(why));
	if (rc)
		goto fail_early;
	r->p = p;
	r->sock = sock;
	r->epfd = r->wake = -1;
	cvmbus_mutex_init(&r->lock, exec, "hostlink-remote");
	cvmbus_cond_init(&r->cond, exec, "hostlink-remote");
	atomic_store(&r->alive, true);
	p->remote = r;
	p->exec = exec;
	p->cfg.exec = exec;
	p->cfg.isolation = (enum hv_isolation_type)hello.isolation;
	p->cfg.arch = (enum cvmbus_arch)hello.arch;
	p->cfg.vcpus = hello.vcpus;
	p->cfg.paravisor = hello.paravisor != 0;
	p->cfg.confidential_vmbus = hello.confidential_vmbus != 0;
	p->cfg.shared_gpa_bits = hello.shared_gpa_bits;
	p->cfg.vtl0_bytes = hello.vtl0_bytes;
	p->cfg.vtl2_bytes = hello.vtl2_bytes;
	p->cfg.port_queue_depth = hello.port_queue_depth;
	p->cfg.sint_queue_depth = hello.sint_queue_depth;
	p->boundary_bits = hello.shared_gpa_bits;
	p->boundary = hello.boundary;

	memset(&lay, 0, sizeof(lay));
	lay.isolation = p->cfg.isolation;
	lay.shared_gpa_bits = hello.shared_gpa_bits;
	lay.boundary = hello.boundary;
	lay.vtl0_base = hello.vtl0_base;
	lay.vtl0_bytes = hello.vtl0_bytes;
	lay.vtl2_base = hello.vtl2_base;
	lay.vtl2_bytes = hello.vtl2_bytes;
	rc = cvmbus_mem_create_remote(memfd, &lay, remote_pin, r, &p->mem);
	close(memfd); /* the view holds its own dup */
	if (rc) {
		snprintf(why, sizeof(why), "host view over the shared memfd (%d)", rc);
		goto fail;
	}
	p->host = cvmbus_mem_host(p->mem);
	rc = cvmbus_trace_create(exec, &p->trace);
	if (rc)
		goto fail;
	p->own_trace = true;

	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	r->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->epfd < 0 || r->wake < 0) {
		rc = -errno;
		goto fail;
	}
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = HL_WAKE_TOKEN };

		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->wake, &ev) < 0) {
			rc = -errno;
			goto fail;
		}
	}
	rc = cvmbus_thread_spawn(exec, &r->reader, "host-link", reader_main, r);
	if (!rc)
		rc = cvmbus_thread_spawn(exec, &r->dispatcher, "host-ports", dispatcher_main, r);
	if (!rc)
		rc = cvmbus_thread_spawn(exec, &r->poller, "host-doorbells", poller_main, r);
	if (rc) {
		snprintf(why, sizeof(why), "threads (%d)", rc);
		goto fail;
	}
	*out = p;
	return 0;

fail:
	hw_remote_destroy(p);
	if (err && errlen)
		snprintf(err, errlen, "%s", why[0] ? why : "attach failed");
	return rc;

fail_early:
	close(sock);
	free(r);
	free(p);
	if (err && errlen)
		snprintf(err, errlen, "%s", why[0] ? why : "attach failed");
	return rc;
}

void hw_remote_destroy(struct cvmbus_platform *p)
{
	struct hw_remote *r = p->remote;
	uint64_t one = 1;

	shutdown(r->sock, SHUT_RDWR);
	if (r->reader)
		cvmbus_thread_join(r->reader, NULL);
	remote_down(r);
	if (r->dispatcher)
		cvmbus_thread_join(r->dispatcher, NULL);
	if (r->wake >= 0 && write(r->wake, &one, sizeof(one)) < 0)
		cvmbus_log_warn("hostlink: cannot wake the doorbell thread");
	if (r->poller)
		cvmbus_thread_join(r->poller, NULL);
	while (r->qhead) {
		struct hl_qmsg *q = r->qhead;

		r->qhead = q->next;
		free(q);
	}
	while (r->ports) {
		struct hl_rport *rp = r->ports;

		r->ports = rp->next;
		if (rp->efd >= 0)
			close(rp->efd);
		free(rp);
	}
	if (r->epfd >= 0)
		close(r->epfd);
	if (r->wake >= 0)
		close(r->wake);
	close(r->sock);
	cvmbus_cond_destroy(&r->cond);
	cvmbus_mutex_destroy(&r->lock);
	cvmbus_mem_destroy(p->mem);
	if (p->own_trace)
		cvmbus_trace_destroy(p->trace);
	free(r);
	free(p);
}

bool cvmbus_platform_is_remote(const struct cvmbus_platform *p)
{
	return p && p->remote;
}

bool cvmbus_platform_remote_alive(const struct cvmbus_platform *p)
{
	return p && p->remote && atomic_load(&p->remote->alive);
}
