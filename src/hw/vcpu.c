/* SPDX-License-Identifier: MIT */
/*
 * The vCPUs of the simulated platform (src/hw): one executor thread per
 * vCPU, parked on a doorbell. A SINT interrupt that a SynIC decided to raise
 * rings one doorbell bit (hypervisor SINTs 0-15, paravisor SINTs 16-31), and
 * the vCPU thread runs the guest's interrupt handler for it on itself, as a
 * real vCPU would take the vector. Auto-EOI SINTs need nothing more; the
 * others stay "in service" until the guest's EOI, and a raise meanwhile is
 * latched and delivered after it (one in-service level per vCPU, a model
 * simplification of the APIC). cvmbus_vcpu_call() runs any function on a
 * chosen vCPU: the guest client uses it for per-CPU SynIC setup.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "hw/platform_internal.h"

struct hw_call {
	cvmbus_vcpu_fn fn;
	void *arg;
	struct cvmbus_completion done;
	struct hw_call *next;
};

static uint32_t bell_bit(enum cvmbus_synic_kind synic, uint32_t sint)
{
	return (synic == CVMBUS_SYNIC_PARAVISOR ? 16u : 0u) + sint;
}

static void run_calls(struct hw_vcpu *v)
{
	for (;;) {
		struct hw_call *c;

		cvmbus_mutex_lock(&v->lock);
		c = v->calls_head;
		if (c) {
			v->calls_head = c->next;
			if (!v->calls_head)
				v->calls_tail = NULL;
		}
		cvmbus_mutex_unlock(&v->lock);
		if (!c)
			return;
		c->fn(c->arg);
		cvmbus_completion_complete(&c->done);
	}
}

static void trace_spurious(struct cvmbus_platform *p, uint32_t vp,
			   enum cvmbus_synic_kind synic, uint32_t sint, uint32_t vector)
{
	struct cvmbus_trace_event ev;

	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_INTERRUPT);
	ev.vp = vp;
	ev.to = CVMBUS_MEM_PARTY_GUEST;
	ev.synic = synic;
	ev.sint = sint;
	ev.vector = vector;
	ev.note = "no handler";
	cvmbus_trace_emit(p->trace, &ev);
}

static void take_interrupt(struct hw_vcpu *v, uint32_t bit)
{
	struct cvmbus_platform *p = v->plat;
	enum cvmbus_synic_kind synic = bit >= 16 ? CVMBUS_SYNIC_PARAVISOR : CVMBUS_SYNIC_HYPERVISOR;
	uint32_t sint = bit % 16u, vector;
	uint64_t m = 1ull << bit;
	cvmbus_vcpu_isr_fn fn;
	void *ctx;

	cvmbus_mutex_lock(&v->lock);
	if (!(v->auto_eoi & m)) {
		if (v->in_service & m) {
			/* Not EOI'd yet: keep it for after the EOI. */
			v->latched |= m;
			cvmbus_mutex_unlock(&v->lock);
			return;
		}
		v->in_service |= m;
	}
	vector = v->vector[bit];
	cvmbus_mutex_unlock(&v->lock);

	cvmbus_mutex_lock(&p->isr_lock);
	fn = p->isr;
	ctx = p->isr_ctx;
	cvmbus_mutex_unlock(&p->isr_lock);
	atomic_fetch_add(&v->interrupts, 1);
	if (fn)
		fn(ctx, p, v->index, synic, sint, vector);
	else
		trace_spurious(p, v->index, synic, sint, vector);
}

static int vcpu_thread(void *arg)
{
	struct hw_vcpu *v = arg;
	uint64_t fired;

	atomic_store(&v->self, cvmbus_thread_self());
	for (;;) {
		if (cvmbus_doorbell_wait(&v->bell, HW_BELL_IRQS | HW_BELL_CALL | HW_BELL_STOP,
					 CVMBUS_EXEC_FOREVER, &fired))
			continue;
		/* Interrupts before calls, lowest bit first: a fixed order keeps
		 * det runs reproducible, and a caller whose call returns knows
		 * every interrupt raised before it was taken. */
		for (uint32_t bit = 0; bit < 32; bit++)
			if (fired & (1ull << bit))
				take_interrupt(v, bit);
		if (fired & HW_BELL_CALL)
			run_calls(v);
		if (fired & HW_BELL_STOP)
			break;
	}
	/* Nobody waits forever on a call that came in with the stop. */
	run_calls(v);
	return 0;
}

void hw_vcpu_raise(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_synic_kind synic,
		   uint32_t sint, uint32_t vector, bool auto_eoi)
{
	struct hw_vcpu *v;
	uint32_t bit = bell_bit(synic, sint);
	uint64_t m = 1ull << bit;

	if (!p->vcpus_started || vp >= p->cfg.vcpus)
		return;
	v = &p->vcpu[vp];
	cvmbus_mutex_lock(&v->lock);
	v->vector[bit] = vector;
	if (auto_eoi)
		v->auto_eoi |= m;
	else
		v->auto_eoi &= ~m;
	if (v->in_service & m) {
		v->latched |= m;
		cvmbus_mutex_unlock(&v->lock);
		return;
	}
	cvmbus_mutex_unlock(&v->lock);
	cvmbus_doorbell_ring(&v->bell, m);
}

int hw_vcpus_start(struct cvmbus_platform *p)
{
	char name[CVMBUS_THREAD_NAME_MAX];
	int rc;

	for (uint32_t vp = 0; vp < p->cfg.vcpus; vp++) {
		struct hw_vcpu *v = &p->vcpu[vp];

		v->plat = p;
		v->index = vp;
		atomic_init(&v->self, NULL);
		atomic_init(&v->interrupts, 0);
		cvmbus_doorbell_init(&v->bell, p->exec, "vcpu-doorbell");
		cvmbus_mutex_init(&v->lock, p->exec, "vcpu");
	}
	/* Raises before the threads exist would ring doorbells nobody takes
	 * yet, which is fine: the bits latch. */
	p->vcpus_started = true;
	for (uint32_t vp = 0; vp < p->cfg.vcpus; vp++) {
		snprintf(name, sizeof(name), "vcpu%u", vp);
		rc = cvmbus_thread_spawn(p->exec, &p->vcpu[vp].thread, name, vcpu_thread,
					 &p->vcpu[vp]);
		if (rc) {
			hw_vcpus_stop(p);
			return rc;
		}
	}
	return 0;
}

void hw_vcpus_stop(struct cvmbus_platform *p)
{
	if (!p->vcpus_started)
		return;
	for (uint32_t vp = 0; vp < p->cfg.vcpus; vp++) {
		struct hw_vcpu *v = &p->vcpu[vp];

		cvmbus_mutex_lock(&v->lock);
		v->stopping = true;
		cvmbus_mutex_unlock(&v->lock);
		if (v->thread)
			cvmbus_doorbell_ring(&v->bell, HW_BELL_STOP);
	}
	for (uint32_t vp = 0; vp < p->cfg.vcpus; vp++) {
		struct hw_vcpu *v = &p->vcpu[vp];

		if (v->thread)
			cvmbus_thread_join(v->thread, NULL);
		v->thread = NULL;
	}
	p->vcpus_started = false;
	for (uint32_t vp = 0; vp < p->cfg.vcpus; vp++) {
		cvmbus_mutex_destroy(&p->vcpu[vp].lock);
		cvmbus_doorbell_destroy(&p->vcpu[vp].bell);
	}
}

void cvmbus_platform_set_isr(struct cvmbus_platform *p, cvmbus_vcpu_isr_fn fn, void *ctx)
{
	if (!p)
		return;
	cvmbus_mutex_lock(&p->isr_lock);
	p->isr = fn;
	p->isr_ctx = ctx;
	cvmbus_mutex_unlock(&p->isr_lock);
}

uint32_t cvmbus_vcpu_self(const struct cvmbus_platform *p)
{
	struct cvmbus_thread *self = cvmbus_thread_self();

	if (!p || !self)
		return CVMBUS_TRACE_NO_VP;
	for (uint32_t vp = 0; vp < p->cfg.vcpus; vp++)
		if (atomic_load(&p->vcpu[vp].self) == self)
			return vp;
	return CVMBUS_TRACE_NO_VP;
}

int cvmbus_vcpu_call(struct cvmbus_platform *p, uint32_t vp, cvmbus_vcpu_fn fn, void *arg)
{
	struct hw_vcpu *v;
	struct hw_call call;

	if (!p || !fn || vp >= p->cfg.vcpus || !p->vcpus_started)
		return -EINVAL;
	if (cvmbus_vcpu_self(p) == vp) {
		fn(arg);
		return 0;
	}
	v = &p->vcpu[vp];
	call.fn = fn;
	call.arg = arg;
	call.next = NULL;
	cvmbus_completion_init(&call.done, p->exec, "vcpu-call");
	cvmbus_mutex_lock(&v->lock);
	if (v->stopping) {
		cvmbus_mutex_unlock(&v->lock);
		cvmbus_completion_destroy(&call.done);
		return -ESHUTDOWN;
	}
	if (v->calls_tail)
		v->calls_tail->next = &call;
	else
		v->calls_head = &call;
	v->calls_tail = &call;
	cvmbus_mutex_unlock(&v->lock);
	cvmbus_doorbell_ring(&v->bell, HW_BELL_CALL);
	cvmbus_completion_wait(&call.done, CVMBUS_EXEC_FOREVER);
	cvmbus_completion_destroy(&call.done);
	return 0;
}

int cvmbus_vcpu_eoi(struct cvmbus_platform *p, uint32_t vp)
{
	struct cvmbus_trace_event ev;
	struct hw_vcpu *v;
	uint64_t again;

	if (!p || vp >= p->cfg.vcpus || !p->vcpus_started)
		return -EINVAL;
	v = &p->vcpu[vp];
	cvmbus_mutex_lock(&v->lock);
	again = v->latched;
	v->latched = 0;
	v->in_service = 0;
	cvmbus_mutex_unlock(&v->lock);

	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_EOI);
	ev.vp = vp;
	ev.from = CVMBUS_MEM_PARTY_GUEST;
	ev.note = again ? "latched interrupts follow" : NULL;
	cvmbus_trace_emit(p->trace, &ev);
	if (again)
		cvmbus_doorbell_ring(&v->bell, again);
	return 0;
}

uint64_t cvmbus_vcpu_interrupts(const struct cvmbus_platform *p, uint32_t vp)
{
	if (!p || vp >= p->cfg.vcpus)
		return 0;
	return atomic_load(&p->vcpu[vp].interrupts);
}
