/* SPDX-License-Identifier: MIT */
/*
 * DPDK 22.11's VMBus channel, as seen from outside the library: the peer
 * of the interop test (tests/interop) and the baseline of the ring benchmark
 * (bench/). Debian ships librte-bus-vmbus23 (DPDK 22.11) with its exported
 * functions but without drivers/bus/vmbus/private.h, where struct
 * vmbus_channel and struct vmbus_br live, and rte_vmbus_chan_open() needs
 * sysfs and uio. So we build a channel ourselves over our own ring memory,
 * which needs the private layout: it is written here from the facts of
 * DPDK v22.11 (private.h, rte_vmbus_reg.h) and was checked against the
 * machine code of librte_bus_vmbus.so.23 (22.11.11): rte_vmbus_chan_recv
 * uses rxbr at offset 0x20, rte_vmbus_chan_send txbr at 0x30,
 * rte_vmbus_chan_signal_read reads rxbr.dsize at 0x28, monitor_id at 0x44
 * and monitor_page at 0x48, and the channel is allocated with 0x50 bytes.
 * Because the layout is private it may change in any other release: users
 * must call dpdk2211_check_version() first and skip when it fails.
 *
 * 22.11 signatures differ from later DPDK (since 2025 send/recv/signal take
 * a struct rte_vmbus_device * first): we declare the 22.11 ones.
 */
#ifndef CVMBUS_TEST_DPDK_VMBUS_2211_H
#define CVMBUS_TEST_DPDK_VMBUS_2211_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* struct vmbus_br: one ring as DPDK tracks it. */
struct dpdk2211_br {
	void *vbr;       /* struct vmbus_bufring *: the 4 KiB control page; data follows at +page size */
	uint32_t dsize;  /* data area size: ring length minus one page */
	uint32_t windex; /* private next write offset (writers reserve with a CAS on it) */
};
_Static_assert(sizeof(struct dpdk2211_br) == 16, "vmbus_br");

/* struct vmbus_channel (22.11, x86-64). */
struct dpdk2211_channel {
	void *subchan_first;   /* @0  STAILQ_HEAD stqh_first */
	void **subchan_last;   /* @8  STAILQ_HEAD stqh_last */
	void *next;            /* @16 STAILQ_ENTRY stqe_next */
	const void *device;    /* @24 struct rte_vmbus_device * (unused by the calls we make) */
	struct dpdk2211_br rxbr; /* @32 */
	struct dpdk2211_br txbr; /* @48 */
	uint16_t relid;        /* @64 */
	uint16_t subchannel_id; /* @66 */
	uint8_t monitor_id;    /* @68 */
	void *monitor_page;    /* @72 struct vmbus_mon_page *: where 22.11 signals */
};
_Static_assert(offsetof(struct dpdk2211_channel, device) == 0x18, "device");
_Static_assert(offsetof(struct dpdk2211_channel, rxbr) == 0x20, "rxbr");
_Static_assert(offsetof(struct dpdk2211_channel, txbr) == 0x30, "txbr");
_Static_assert(offsetof(struct dpdk2211_channel, relid) == 0x40, "relid");
_Static_assert(offsetof(struct dpdk2211_channel, monitor_id) == 0x44, "monitor_id");
_Static_assert(offsetof(struct dpdk2211_channel, monitor_page) == 0x48, "monitor_page");
_Static_assert(sizeof(struct dpdk2211_channel) == 0x50, "vmbus_channel");

/* struct vmbus_mon_page (rte_vmbus_reg.h): trigger_state u32 @0, reserved
 * u32 @4, then 4 trigger groups of {pending u32, armed u32} from @8. 22.11
 * signals the host by setting bit (monitor_id % 32) of
 * trigs[monitor_id / 32].pending, so a "signal" is a bit we can observe. */
#define DPDK2211_MON_TRIG_OFFSET(monitor_id) (8u + 8u * ((monitor_id) / 32u))
#define DPDK2211_MON_TRIG_BIT(monitor_id)    (1u << ((monitor_id) % 32u))

/* struct vmbus_gpa (rte_bus_vmbus.h), packed: one GPA-direct range of one page. */
struct dpdk2211_gpa {
	uint32_t len;
	uint32_t ofs;
	uint64_t page;
};
_Static_assert(sizeof(struct dpdk2211_gpa) == 16, "vmbus_gpa");

/* The exported functions, with their 22.11 signatures. struct vmbus_channel
 * stays incomplete; we pass our dpdk2211_channel cast to it. */
struct vmbus_channel;
int rte_vmbus_chan_send(struct vmbus_channel *chan, uint16_t type, void *data, uint32_t dlen,
			uint64_t xact, uint32_t flags, bool *need_sig);
int rte_vmbus_chan_send_sglist(struct vmbus_channel *chan, struct dpdk2211_gpa gpa[],
			       uint32_t gpa_count, void *data, uint32_t dlen, uint64_t xact,
			       bool *need_sig);
int rte_vmbus_chan_recv(struct vmbus_channel *chan, void *data, uint32_t *len,
			uint64_t *request_id);
int rte_vmbus_chan_recv_raw(struct vmbus_channel *chan, void *data, uint32_t *len);
bool rte_vmbus_chan_rx_empty(const struct vmbus_channel *chan);
void rte_vmbus_chan_signal_read(struct vmbus_channel *chan, uint32_t bytes_read);
void rte_vmbus_chan_signal_tx(const struct vmbus_channel *chan);

static inline struct vmbus_channel *dpdk2211_chan(struct dpdk2211_channel *c)
{
	return (struct vmbus_channel *)(void *)c;
}

/* What vmbus_br_setup() does (it is not exported): point at the control
 * page, take the data size, and start the private write index at the
 * shared one, or the writer would wait forever for write_index to reach
 * its own (22.11 publishes only when the shared index equals its start). */
static inline void dpdk2211_br_setup(struct dpdk2211_br *br, void *control, uint32_t data_size)
{
	br->vbr = control;
	br->dsize = data_size;
	br->windex = __atomic_load_n((uint32_t *)control, __ATOMIC_ACQUIRE);
}

/* A channel with the given rings (either may be NULL) and a monitor page
 * of at least 4 KiB for its signals. */
static inline void dpdk2211_channel_init(struct dpdk2211_channel *c, void *tx_control,
					 void *rx_control, uint32_t data_size,
					 void *monitor_page, uint8_t monitor_id)
{
	memset(c, 0, sizeof(*c));
	c->subchan_first = NULL;
	c->subchan_last = &c->subchan_first; /* STAILQ_INIT */
	c->relid = 1;
	c->monitor_id = monitor_id;
	c->monitor_page = monitor_page;
	if (tx_control)
		dpdk2211_br_setup(&c->txbr, tx_control, data_size);
	if (rx_control)
		dpdk2211_br_setup(&c->rxbr, rx_control, data_size);
}

/* The installed package version must be 22.11.*: the layouts above are
 * private to DPDK and only known to match that release. Fills ver (may be
 * empty if dpkg-query is missing) and returns whether it matches. */
static inline bool dpdk2211_check_version(char *ver, size_t len)
{
	FILE *p = popen("dpkg-query -W -f='${Version}' librte-bus-vmbus23 2>/dev/null", "r");
	size_t n = 0;

	if (len)
		ver[0] = '\0';
	if (!p)
		return false;
	if (len)
		n = fread(ver, 1, len - 1, p);
	pclose(p);
	if (len)
		ver[n] = '\0';
	return n >= 6 && strncmp(ver, "22.11.", 6) == 0;
}

#endif
