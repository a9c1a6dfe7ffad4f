/* SPDX-License-Identifier: MIT */
/*
 * The port table of the simulated hypervisor (src/hw): which party owns each
 * connection id, and how what arrives there reaches it. A message port
 * (HvPostMessage) has a bounded queue, which is where INSUFFICIENT_BUFFERS
 * comes from, and its own executor thread that hands each message, in
 * order, to the owner's handler as a private copy with the facts the owner
 * needs to judge it: the message type, whether it was sent with no
 * host-visible mechanism (trusted), the sender's vCPU and the path. An event
 * port (HvSignalEvent) either calls its owner (host or paravisor) on the
 * signaller's thread or, when it belongs to the guest, sets an event flag in
 * one of the guest's SynICs and raises the SINT. A paravisor port may also
 * ask to run on the guest's signalling vCPU after the hypercall
 * (on_vtl_return): the model of a VTL switch, where VTL2's code runs on the
 * vCPU that trapped and no other thread is woken.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/platform_internal.h"

struct hw_pmsg {
	struct hw_msg m;
	bool trusted;
	uint32_t vp;
	enum cvmbus_mem_party from;
	enum cvmbus_path path;
};

struct hw_port {
	struct cvmbus_port_config cfg;
	struct cvmbus_platform *plat;
	struct hw_port *next;
	uint32_t busy;   /* event calls running outside the table lock */
	bool removing;

	/* Message ports. */
	struct cvmbus_mutex lock;
	struct cvmbus_cond cond;
	struct hw_pmsg *q;
	uint32_t head, count, cap;
	bool stop;
	struct cvmbus_thread *thread;
	char name[CVMBUS_THREAD_NAME_MAX];
};

static struct cvmbus_cond *table_cond(struct cvmbus_platform *p)
{
	return &p->ports.idle;
}

void hw_ports_init(struct cvmbus_platform *p)
{
	cvmbus_mutex_init(&p->ports.lock, p->exec, "port-table");
	cvmbus_cond_init(table_cond(p), p->exec, "port-idle");
	memset(p->ports.bucket, 0, sizeof(p->ports.bucket));
}

static struct hw_port **port_bucket(struct cvmbus_platform *p, uint32_t connection_id)
{
	return &p->ports.bucket[connection_id % HW_PORT_BUCKETS];
}

static struct hw_port *port_find(struct cvmbus_platform *p, uint32_t connection_id)
{
	for (struct hw_port *port = *port_bucket(p, connection_id); port; port = port->next)
		if (port->cfg.connection_id == connection_id)
			return port;
	return NULL;
}

static int port_thread(void *arg)
{
	struct hw_port *port = arg;
	struct hw_pmsg local;

	cvmbus_mutex_lock(&port->lock);
	for (;;) {
		struct cvmbus_port_message msg;

		while (!port->count && !port->stop)
			cvmbus_cond_wait(&port->cond, &port->lock);
		/* On stop, what is still queued is dropped by the remover. */
		if (port->stop)
			break;
		local = port->q[port->head];
		port->head = (port->head + 1) % port->cap;
		port->count--;
		cvmbus_mutex_unlock(&port->lock);

		msg.connection_id = port->cfg.connection_id;
		msg.message_type = local.m.message_type;
		msg.payload = local.m.payload;
		msg.size = local.m.size;
		msg.trusted = local.trusted;
		msg.vp = local.vp;
		msg.from = local.from;
		msg.path = local.path;
		port->cfg.on_message(port->cfg.ctx, &msg);

		cvmbus_mutex_lock(&port->lock);
	}
	cvmbus_mutex_unlock(&port->lock);
	return 0;
}

static void port_free(struct hw_port *port)
{
	if (port->cfg.kind == CVMBUS_PORT_MESSAGE) {
		cvmbus_cond_destroy(&port->cond);
		cvmbus_mutex_destroy(&port->lock);
	}
	free(port->q);
	free(port);
}

static int port_check(struct cvmbus_platform *p, const struct cvmbus_port_config *cfg)
{
	if (cfg->connection_id & ~HV_CONNECTION_ID_MASK)
		return -EINVAL;
	if (cfg->owner == CVMBUS_MEM_PARTY_PARAVISOR && !p->cfg.paravisor)
		return -EINVAL;
	switch (cfg->kind) {
	case CVMBUS_PORT_MESSAGE:
		if (!cfg->on_message || cfg->queue_depth > CVMBUS_PLATFORM_MAX_QUEUE)
			return -EINVAL;
		/* Guests receive messages in their SynICs, not through ports. */
		if (cfg->owner != CVMBUS_MEM_PARTY_HOST && cfg->owner != CVMBUS_MEM_PARTY_PARAVISOR)
			return -EINVAL;
		return 0;
	case CVMBUS_PORT_EVENT:
		if (cfg->owner == CVMBUS_MEM_PARTY_GUEST) {
			if (!hw_synic_of(p, cfg->synic) || cfg->vp >= p->cfg.vcpus ||
			    cfg->sint >= HV_SYNIC_SINT_COUNT || cfg->base_flag >= HV_EVENT_FLAGS_COUNT)
				return -EINVAL;
			return 0;
		}
		if (cfg->owner != CVMBUS_MEM_PARTY_HOST && cfg->owner != CVMBUS_MEM_PARTY_PARAVISOR)
			return -EINVAL;
		return cfg->on_event ? 0 : -EINVAL;
	}
	return -EINVAL;
}

int cvmbus_port_add(struct cvmbus_platform *p, const struct cvmbus_port_config *cfg)
{
	struct hw_port *port;
	int rc;

	if (!p || !cfg)
		return -EINVAL;
	if (p->remote)
		return hw_remote_port_add(p, cfg);
	rc = port_check(p, cfg);
	if (rc)
		return rc;
	if (atomic_load(&p->shutting_down))
		return -ESHUTDOWN;
	port = calloc(1, sizeof(*port));
	if (!port)
		return -ENOMEM;
	port->cfg = *cfg;
	port->plat = p;
	if (cfg->kind == CVMBUS_PORT_MESSAGE) {
		port->cap = cfg->queue_depth ? cfg->queue_depth : p->cfg.port_queue_depth;
		port->cfg.queue_depth = port->cap;
		port->q = calloc(port->cap, sizeof(*port->q));
		if (!port->q) {
			free(port);
			return -ENOMEM;
		}
		cvmbus_mutex_init(&port->lock, p->exec, "port");
		cvmbus_cond_init(&port->cond, p->exec, "port-queue");
	}

	cvmbus_mutex_lock(&p->ports.lock);
	if (port_find(p, cfg->connection_id)) {
		cvmbus_mutex_unlock(&p->ports.lock);
		port_free(port);
		return -EEXIST;
	}
	if (cfg->kind == CVMBUS_PORT_MESSAGE) {
		snprintf(port->name, sizeof(port->name), "port-0x%x", cfg->connection_id);
		rc = cvmbus_thread_spawn(p->exec, &port->thread, port->name, port_thread, port);
		if (rc) {
			cvmbus_mutex_unlock(&p->ports.lock);
			port_free(port);
			return rc;
		}
	}
	port->next = *port_bucket(p, port->cfg.connection_id);
	*port_bucket(p, port->cfg.connection_id) = port;
	cvmbus_mutex_unlock(&p->ports.lock);
	return 0;
}

/* The port is unlinked: no new message or event can reach it. */
static void port_retire(struct cvmbus_platform *p, struct hw_port *port)
{
	if (port->cfg.kind == CVMBUS_PORT_MESSAGE) {
		cvmbus_mutex_lock(&port->lock);
		port->stop = true;
		cvmbus_cond_signal(&port->cond);
		cvmbus_mutex_unlock(&port->lock);
		cvmbus_thread_join(port->thread, NULL);
		/* Whatever the owner never took is dropped, and said so. */
		while (port->count) {
			struct hw_pmsg *pm = &port->q[port->head];
			struct cvmbus_trace_event ev;

			cvmbus_trace_event_init(&ev, CVMBUS_TRACE_DROP);
			ev.vp = pm->vp;
			ev.from = pm->from;
			ev.to = port->cfg.owner;
			ev.path = pm->path;
			ev.trusted = pm->trusted;
			ev.message_type = pm->m.message_type;
			ev.bytes = pm->m.payload;
			ev.len = pm->m.size;
			ev.note = "port removed";
			ev.err = -ESHUTDOWN;
			cvmbus_trace_emit(p->trace, &ev);
			port->head = (port->head + 1) % port->cap;
			port->count--;
		}
	}
	port_free(port);
}

int cvmbus_port_remove(struct cvmbus_platform *p, uint32_t connection_id)
{
	struct hw_port **pp, *port = NULL;

	if (!p)
		return -EINVAL;
	if (p->remote)
		return hw_remote_port_remove(p, connection_id);
	cvmbus_mutex_lock(&p->ports.lock);
	for (pp = port_bucket(p, connection_id); *pp; pp = &(*pp)->next) {
		if ((*pp)->cfg.connection_id == connection_id) {
			port = *pp;
			*pp = port->next;
			break;
		}
	}
	if (!port) {
		cvmbus_mutex_unlock(&p->ports.lock);
		return -ENOENT;
	}
	/* An event call may still run with the port in hand. */
	port->removing = true;
	while (port->busy)
		cvmbus_cond_wait(table_cond(p), &p->ports.lock);
	cvmbus_mutex_unlock(&p->ports.lock);
	port_retire(p, port);
	return 0;
}

void hw_ports_fini(struct cvmbus_platform *p)
{
	for (;;) {
		uint32_t id;

		struct hw_port *any = NULL;

		cvmbus_mutex_lock(&p->ports.lock);
		for (size_t b = 0; b < HW_PORT_BUCKETS && !any; b++)
			any = p->ports.bucket[b];
		if (!any) {
			cvmbus_mutex_unlock(&p->ports.lock);
			break;
		}
		id = any->cfg.connection_id;
		cvmbus_mutex_unlock(&p->ports.lock);
		cvmbus_port_remove(p, id);
	}
	cvmbus_cond_destroy(table_cond(p));
	cvmbus_mutex_destroy(&p->ports.lock);
}

int cvmbus_port_queued(struct cvmbus_platform *p, uint32_t connection_id)
{
	struct hw_port *port;
	int n;

	if (!p)
		return -EINVAL;
	cvmbus_mutex_lock(&p->ports.lock);
	port = port_find(p, connection_id);
	if (!port || port->cfg.kind != CVMBUS_PORT_MESSAGE) {
		cvmbus_mutex_unlock(&p->ports.lock);
		return -ENOENT;
	}
	cvmbus_mutex_lock(&port->lock);
	n = (int)port->count;
	cvmbus_mutex_unlock(&port->lock);
	cvmbus_mutex_unlock(&p->ports.lock);
	return n;
}

/* Trust is about the sender's mechanism, and only the paravisor can act on
 * it: the host sees everything it receives through its own hypervisor, so
 * nothing reaches a host port as trusted. */
static bool delivered_trusted(const struct hw_origin *o, const struct hw_port *port)
{
	return o->trusted && port->cfg.owner == CVMBUS_MEM_PARTY_PARAVISOR;
}

unsigned int hw_port_owner(struct cvmbus_platform *p, uint32_t connection_id,
			   enum cvmbus_port_kind kind)
{
	struct hw_port *port;
	unsigned int owner = CVMBUS_TRACE_PARTY_NONE;

	cvmbus_mutex_lock(&p->ports.lock);
	port = port_find(p, connection_id);
	if (port && port->cfg.kind == kind)
		owner = port->cfg.owner;
	cvmbus_mutex_unlock(&p->ports.lock);
	return owner;
}

uint16_t hw_port_post(struct cvmbus_platform *p, const struct hw_origin *o,
		      uint32_t connection_id, uint32_t message_type, const uint8_t *payload,
		      uint32_t size, unsigned int *owner)
{
	struct hw_port *port;
	struct hw_pmsg *pm;
	uint16_t status = HV_STATUS_SUCCESS;

	*owner = CVMBUS_TRACE_PARTY_NONE;
	cvmbus_mutex_lock(&p->ports.lock);
	port = port_find(p, connection_id);
	if (!port || port->cfg.kind != CVMBUS_PORT_MESSAGE) {
		cvmbus_mutex_unlock(&p->ports.lock);
		return HV_STATUS_INVALID_CONNECTION_ID;
	}
	*owner = port->cfg.owner;
	cvmbus_mutex_lock(&port->lock);
	if (port->count == port->cap) {
		status = HV_STATUS_INSUFFICIENT_BUFFERS;
	} else {
		pm = &port->q[(port->head + port->count) % port->cap];
		memset(pm, 0, sizeof(*pm));
		pm->m.message_type = message_type;
		pm->m.size = size;
		pm->m.from = o->party;
		memcpy(pm->m.payload, payload, size);
		pm->trusted = delivered_trusted(o, port);
		pm->vp = o->vp;
		pm->from = o->party;
		pm->path = o->path;
		port->count++;
		cvmbus_cond_signal(&port->cond);
	}
	cvmbus_mutex_unlock(&port->lock);
	cvmbus_mutex_unlock(&p->ports.lock);
	return status;
}

void hw_port_vtl_return(struct cvmbus_platform *p, struct hw_vtl_return *r)
{
	struct hw_port *port = r->port;

	if (!port)
		return;
	/* cfg is not written while the port is busy (only add and remove
	 * touch it). */
	port->cfg.on_vtl_return(port->cfg.ctx, &r->ev);
	r->port = NULL;
	cvmbus_mutex_lock(&p->ports.lock);
	if (--port->busy == 0 && port->removing)
		cvmbus_cond_broadcast(table_cond(p));
	cvmbus_mutex_unlock(&p->ports.lock);
}

uint16_t hw_port_signal(struct cvmbus_platform *p, const struct hw_origin *o,
			uint32_t connection_id, uint16_t flag_number, unsigned int *owner)
{
	struct cvmbus_port_config cfg;
	struct hw_port *port;
	uint16_t status = HV_STATUS_SUCCESS;

	*owner = CVMBUS_TRACE_PARTY_NONE;
	cvmbus_mutex_lock(&p->ports.lock);
	port = port_find(p, connection_id);
	if (!port || port->cfg.kind != CVMBUS_PORT_EVENT) {
		cvmbus_mutex_unlock(&p->ports.lock);
		return HV_STATUS_INVALID_CONNECTION_ID;
	}
	cfg = port->cfg;
	*owner = cfg.owner;
	if (cfg.owner == CVMBUS_MEM_PARTY_GUEST &&
	    (uint32_t)cfg.base_flag + flag_number >= HV_EVENT_FLAGS_COUNT) {
		cvmbus_mutex_unlock(&p->ports.lock);
		return HV_STATUS_INVALID_PARAMETER;
	}
	/* Run the delivery without the table lock, so that an owner's
	 * callback may make hypercalls of its own; busy keeps the port alive. */
	port->busy++;
	cvmbus_mutex_unlock(&p->ports.lock);

	if (cfg.owner == CVMBUS_MEM_PARTY_GUEST) {
		/* A SIEFP the guest disabled is its own loss, as on Hyper-V:
		 * the hypercall still succeeds; the SynIC traces the refusal. */
		(void)hw_synic_signal(hw_synic_of(p, cfg.synic), o->party, cfg.vp, cfg.sint,
				      cfg.base_flag + flag_number);
	} else {
		struct cvmbus_port_event ev = {
			.connection_id = connection_id,
			.flag_number = flag_number,
			.trusted = delivered_trusted(o, port),
			.vp = o->vp,
			.from = o->party,
			.path = o->path,
		};

		/* VTL0 -> VTL2 on one vCPU: the paravisor's handler runs on
		 * this thread once the hypercall is done. The port stays
		 * busy until then, so it cannot be removed in between. */
		ev.vtl_return = cfg.on_vtl_return && cfg.owner == CVMBUS_MEM_PARTY_PARAVISOR &&
				o->party == CVMBUS_MEM_PARTY_GUEST && o->vtl_return &&
				!o->vtl_return->port;
		cfg.on_event(cfg.ctx, &ev);
		if (ev.vtl_return) {
			o->vtl_return->port = port;
			o->vtl_return->ev = ev;
			return status;
		}
	}

	cvmbus_mutex_lock(&p->ports.lock);
	if (--port->busy == 0 && port->removing)
		cvmbus_cond_broadcast(table_cond(p));
	cvmbus_mutex_unlock(&p->ports.lock);
	return status;
}
