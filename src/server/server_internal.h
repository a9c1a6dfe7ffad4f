/* SPDX-License-Identifier: MIT */
/*
 * Internal to src/server: the state the VMBus server keeps (clients,
 * channels, GPADLs) and the helpers its four files share. server.c owns the
 * entry points, dispatch, rejections and sending; connection.c negotiation,
 * unload and reconnect; channels.c offers, open/close/modify and relid
 * release; gpadl.c GPADL creation and teardown. Nothing outside src/server
 * includes this file.
 */
#ifndef CVMBUS_SERVER_INTERNAL_H
#define CVMBUS_SERVER_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "cvmbus/server.h"

/* ---- Clients ------------------------------------------------------------- */

/* What a client's connection does once its last channel and GPADL are gone. */
enum srv_next_action {
	SRV_NEXT_NONE = 0,      /* reset: just become disconnected */
	SRV_NEXT_UNLOAD,        /* send UnloadResponse */
	SRV_NEXT_RECONNECT,     /* process the stored InitiateContact */
};

/* An InitiateContact, decoded and reduced to what negotiation needs; kept
 * when it must wait for an old connection to drain. */
struct srv_contact {
	uint32_t version;
	uint32_t features;      /* requested (0 below 6.0) */
	struct cvmbus_server_target target;
	uint64_t interrupt_page;
	uint64_t p2c_monitor;
	uint64_t c2p_monitor;
	struct cvmbus_guid client_id;
	uint32_t connection_id; /* where it arrived, 0 unknown */
	bool trusted;
};

struct srv_gpadl {
	uint32_t id;
	uint32_t relid;
	enum cvmbus_server_gpadl_state state;
	uint16_t range_count;
	uint32_t nvalues;  /* range_buflen / 8: values the whole GPADL has */
	uint32_t filled;   /* values received so far (BUILDING) */
	uint32_t npages;   /* known once complete */
	uint64_t *values;  /* only while BUILDING; freed once the device is told */
};

struct srv_client {
	bool used;
	uint32_t key;
	unsigned index; /* slot number: the column in srv_channel.offer_state */
	enum cvmbus_server_conn_state state;
	enum srv_next_action next;
	struct srv_contact pending;     /* SRV_NEXT_RECONNECT */
	struct cvmbus_server_target target; /* where replies go */
	/* Valid in NEGOTIATED / CONNECTED, trusted also while DISCONNECTING. */
	struct cvmbus_server_connection conn;
	bool counted_trusted;           /* included in srv->trusted_clients */
	struct srv_gpadl **gpadls;
	uint32_t ngpadls;
	uint32_t cap_gpadls;
	uint32_t nbuilding;
	uint32_t nowned;                /* channels with owner == index */
};

/* ---- Channels ------------------------------------------------------------ */

/* One OpenChannel request, as stored for the owner. */
struct srv_open {
	uint32_t open_id;
	uint32_t ring_gpadl_id;
	uint32_t ring_gpadl_pages;      /* filled when the open starts */
	uint32_t target_vp;
	uint32_t downstream_page_offset;
	uint8_t user_data[CVMBUS_USER_DEFINED_SIZE];
	bool guest_specified_signal;
	uint32_t connection_id;
	uint16_t event_flag;
	bool redirect_interrupt;
};

struct srv_channel {
	uint32_t relid;
	uint32_t connection_id;
	struct cvmbus_offer_params offer; /* flags as the server will offer them */
	bool rescinded;                   /* device gone, relid held by clients */
	enum cvmbus_server_chan_state state;
	int owner;                        /* client slot, -1 when CLOSED */
	struct srv_open open;             /* owner's current request */
	struct srv_open reopen;           /* CLOSING_REOPEN */
	bool modifying;                   /* modify_channel sent, completion due */
	bool modify_pending;              /* pre-5.3: a newer target waits */
	uint32_t modify_pending_vp;
	uint8_t offer_state[CVMBUS_SERVER_MAX_CLIENTS]; /* enum cvmbus_server_offer_state */
};

/* ---- The server ---------------------------------------------------------- */

struct cvmbus_server {
	struct cvmbus_server_config cfg;
	struct cvmbus_server_notifier n;
	unsigned depth;                   /* >0 inside an entry point */
	struct srv_client clients[CVMBUS_SERVER_MAX_CLIENTS];
	unsigned trusted_clients;         /* clients with a trusted connection */
	struct srv_channel *chan[CVMBUS_SERVER_MAX_RELID + 1]; /* by relid */
	size_t nchannels;
	uint64_t rejects[CVMBUS_SERVER_REJ_COUNT];
	uint64_t reject_total;
};

/* ---- server.c ------------------------------------------------------------ */

/* Counts reason, logs (rate-limited) "client K: <what>: <reason>[: detail]"
 * and returns the reason's negative errno. key may be CVMBUS_SERVER_NO_CLIENT. */
int srv_reject(struct cvmbus_server *srv, uint32_t key, enum cvmbus_server_reject reason,
	       const char *what, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Encodes msg and hands it to the notifier for cl at cl->target. */
void srv_send(struct cvmbus_server *srv, const struct srv_client *cl,
	      const struct cvmbus_wire_msg *msg);
void srv_send_to(struct cvmbus_server *srv, uint32_t key, const struct cvmbus_server_target *t,
		 const struct cvmbus_wire_msg *msg);
struct srv_client *srv_client_find(struct cvmbus_server *srv, uint32_t key);
static inline bool srv_nt_success(uint32_t status)
{
	return (status & 0x80000000u) == 0;
}
static inline bool srv_client_negotiated(const struct srv_client *cl)
{
	return cl->state == CVMBUS_SERVER_CONN_NEGOTIATED ||
	       cl->state == CVMBUS_SERVER_CONN_CONNECTED;
}

/* Finds key's slot, or takes a free (or disconnected) one. NULL if full. */
struct srv_client *srv_client_get(struct cvmbus_server *srv, uint32_t key);

/* ---- connection.c -------------------------------------------------------- */

void srv_reset(struct cvmbus_server *srv);
/* Fills out with cl's connection as the notifier reports it. */
void srv_connection_of(const struct srv_client *cl, struct cvmbus_server_connection *out);

int srv_handle_initiate_contact(struct cvmbus_server *srv, uint32_t key,
				const struct cvmbus_wire_msg *m,
				const struct cvmbus_server_msg_info *info);
int srv_handle_unload(struct cvmbus_server *srv, struct srv_client *cl);
int srv_handle_modify_connection(struct cvmbus_server *srv, struct srv_client *cl,
				 const struct cvmbus_wire_msg *m);
/* Starts releasing everything cl holds; the client goes DISCONNECTING (or
 * straight on to next if nothing is outstanding). */
int srv_disconnect(struct cvmbus_server *srv, struct srv_client *cl, enum srv_next_action next);
/* Call whenever a client may have dropped its last channel or GPADL. If
 * that finishes a disconnect, runs the next action and returns its result
 * (a reconnect's negotiation may be refused); 0 otherwise. */
int srv_check_disconnected(struct cvmbus_server *srv, struct srv_client *cl);

/* ---- channels.c ---------------------------------------------------------- */

int srv_handle_request_offers(struct cvmbus_server *srv, struct srv_client *cl);
int srv_handle_open(struct cvmbus_server *srv, struct srv_client *cl,
		    const struct cvmbus_wire_msg *m);
int srv_handle_close(struct cvmbus_server *srv, struct srv_client *cl,
		     const struct cvmbus_wire_msg *m);
int srv_handle_relid_released(struct cvmbus_server *srv, struct srv_client *cl,
			      const struct cvmbus_wire_msg *m);
int srv_handle_modify_channel(struct cvmbus_server *srv, struct srv_client *cl,
			      const struct cvmbus_wire_msg *m);
/* Drops cl's hold on ch (offer state, ownership, GPADLs); frees ch if it
 * was rescinded and nobody holds it any more. Returns true if ch was freed. */
bool srv_release_channel(struct cvmbus_server *srv, struct srv_client *cl,
			 struct srv_channel *ch);
/* The channel cl may address as relid, or NULL. */
struct srv_channel *srv_channel_of(struct cvmbus_server *srv, const struct srv_client *cl,
				   uint32_t relid);
bool srv_channel_confidential_ring(const struct srv_channel *ch, const struct srv_client *cl);
bool srv_channel_confidential_ext(const struct srv_channel *ch, const struct srv_client *cl);
int srv_offer(struct cvmbus_server *srv, const struct cvmbus_offer_params *params,
	      uint32_t *relid);
int srv_rescind(struct cvmbus_server *srv, uint32_t relid);
int srv_open_complete(struct cvmbus_server *srv, uint32_t relid, uint32_t status);
int srv_close_complete(struct cvmbus_server *srv, uint32_t relid);
int srv_modify_complete(struct cvmbus_server *srv, uint32_t relid, uint32_t status);
/* Ownership of a channel by a client, kept in step with cl->nowned. */
void srv_chan_own(struct cvmbus_server *srv, struct srv_channel *ch, struct srv_client *cl);
struct srv_client *srv_chan_disown(struct cvmbus_server *srv, struct srv_channel *ch);
/* Frees ch if it is rescinded and no client holds it. */
bool srv_channel_maybe_free(struct cvmbus_server *srv, struct srv_channel *ch);
void srv_channel_free_all(struct cvmbus_server *srv);

/* ---- gpadl.c ------------------------------------------------------------- */

int srv_handle_gpadl_header(struct cvmbus_server *srv, struct srv_client *cl,
			    const struct cvmbus_wire_msg *m);
int srv_handle_gpadl_body(struct cvmbus_server *srv, struct srv_client *cl,
			  const struct cvmbus_wire_msg *m);
int srv_handle_gpadl_teardown(struct cvmbus_server *srv, struct srv_client *cl,
			      const struct cvmbus_wire_msg *m);
int srv_gpadl_complete(struct cvmbus_server *srv, uint32_t key, uint32_t relid,
		       uint32_t gpadl_id, uint32_t status);
int srv_gpadl_teardown_complete(struct cvmbus_server *srv, uint32_t key, uint32_t relid,
				uint32_t gpadl_id);
struct srv_gpadl *srv_gpadl_find(const struct srv_client *cl, uint32_t id);
/* Removes g from cl and frees it. */
void srv_gpadl_remove(struct srv_client *cl, struct srv_gpadl *g);
/* The client let go of relid (release or disconnect): its GPADLs on it go
 * away, through the device if the device may be using them. */
void srv_gpadls_release(struct cvmbus_server *srv, struct srv_client *cl,
			const struct srv_channel *ch);
/* The device of ch is gone: answer what it will never answer. */
void srv_gpadls_rescind(struct cvmbus_server *srv, const struct srv_channel *ch);
void srv_gpadls_free_all(struct srv_client *cl);

#endif /* CVMBUS_SERVER_INTERNAL_H */
