/* SPDX-License-Identifier: MIT */
/*
 * Names and text for the wire layer: message type and layout names (read
 * from the protocol table), protocol versions ("5.3" <-> 0x00050003), the
 * feature and offer flag sets, hex dumps and GUIDs. Traces, logs, reports
 * and the command-line tool print through these, so every layer spells a
 * message or a flag the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "wire/wire_internal.h"

const char *cvmbus_wire_type_name(uint32_t type)
{
	const struct wire_type_row *row = wire_row(type);

	return row ? row->info.name : "unknown";
}

const char *cvmbus_wire_variant_name(enum cvmbus_wire_variant variant)
{
	const struct cvmbus_wire_variant_info *v = cvmbus_wire_variant_info(variant, NULL);

	return v ? v->name : "none";
}

/* ---- Versions ----------------------------------------------------------- */

static const uint32_t wire_versions[] = {
	CVMBUS_VERSION_0_13, CVMBUS_VERSION_1_1, CVMBUS_VERSION_2_4, CVMBUS_VERSION_3_0,
	CVMBUS_VERSION_4_0,  CVMBUS_VERSION_4_1, CVMBUS_VERSION_5_0, CVMBUS_VERSION_5_1,
	CVMBUS_VERSION_5_2,  CVMBUS_VERSION_5_3, CVMBUS_VERSION_6_0,
};

size_t cvmbus_wire_known_versions(const uint32_t **versions)
{
	if (versions)
		*versions = wire_versions;
	return sizeof(wire_versions) / sizeof(wire_versions[0]);
}

bool cvmbus_wire_version_known(uint32_t version)
{
	for (size_t i = 0; i < sizeof(wire_versions) / sizeof(wire_versions[0]); i++)
		if (wire_versions[i] == version)
			return true;
	return false;
}

int cvmbus_wire_version_format(uint32_t version, char *buf, size_t cap)
{
	return snprintf(buf, cap, "%u.%u", CVMBUS_VERSION_MAJOR(version),
			CVMBUS_VERSION_MINOR(version));
}

/* One decimal field of 1-5 digits, <= 65535. Returns the position after it,
 * or NULL. */
static const char *wire_parse_u16(const char *p, uint32_t *out)
{
	uint32_t v = 0;
	int digits = 0;

	while (*p >= '0' && *p <= '9') {
		if (++digits > 5)
			return NULL;
		v = v * 10u + (uint32_t)(*p - '0');
		p++;
	}
	if (digits == 0 || v > 0xFFFFu)
		return NULL;
	*out = v;
	return p;
}

int cvmbus_wire_version_parse(const char *text, uint32_t *version)
{
	uint32_t major, minor;
	const char *p;

	if (!text || !version)
		return -EINVAL;
	p = wire_parse_u16(text, &major);
	if (!p || *p != '.')
		return -EINVAL;
	p = wire_parse_u16(p + 1, &minor);
	if (!p || *p != '\0')
		return -EINVAL;
	*version = CVMBUS_MAKE_VERSION(major, minor);
	return 0;
}

/* ---- Flag sets ---------------------------------------------------------- */

struct wire_flag_name {
	uint32_t bit;
	const char *name;
};

static const struct wire_flag_name feature_names[] = {
	{ CVMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS, "guest_specified_signal_parameters" },
	{ CVMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION, "channel_interrupt_redirection" },
	{ CVMBUS_FEATURE_MODIFY_CONNECTION, "modify_connection" },
	{ CVMBUS_FEATURE_CLIENT_ID, "client_id" },
	{ CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS, "confidential_channels" },
	{ CVMBUS_FEATURE_PAUSE_RESUME, "pause_resume" },
	{ CVMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES, "server_specified_monitor_pages" },
	{ CVMBUS_FEATURE_GPA_PINNING, "gpa_pinning" },
};

static const struct wire_flag_name offer_flag_names[] = {
	{ CVMBUS_OFFER_ENUMERATE_DEVICE_INTERFACE, "enumerate_device_interface" },
	{ CVMBUS_OFFER_CONFIDENTIAL_RING_BUFFER, "confidential_ring_buffer" },
	{ CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY, "confidential_external_memory" },
	{ CVMBUS_OFFER_REQUIRE_PINNED_EXTERNAL_MEMORY, "require_pinned_external_memory" },
	{ CVMBUS_OFFER_NAMED_PIPE_MODE, "named_pipe_mode" },
	{ CVMBUS_OFFER_LOOPBACK, "loopback" },
	{ CVMBUS_OFFER_PARENT_OFFER, "parent_offer" },
	{ CVMBUS_OFFER_REQUEST_MONITORED_NOTIFICATION, "request_monitored_notification" },
	{ CVMBUS_OFFER_TLNPI_PROVIDER, "tlnpi_provider" },
};

static int wire_flags_format(uint32_t flags, const struct wire_flag_name *names, size_t n,
			     char *buf, size_t cap)
{
	size_t at = 0;
	uint32_t left = flags;
	int w;

	if (cap > 0)
		buf[0] = '\0';
	if (flags == 0)
		return snprintf(buf, cap, "0");
	for (size_t i = 0; i < n; i++) {
		if (!(flags & names[i].bit))
			continue;
		left &= ~names[i].bit;
		w = snprintf(at < cap ? buf + at : NULL, at < cap ? cap - at : 0, "%s%s",
			     at ? "|" : "", names[i].name);
		at += w > 0 ? (size_t)w : 0;
	}
	if (left) {
		w = snprintf(at < cap ? buf + at : NULL, at < cap ? cap - at : 0, "%s0x%x",
			     at ? "|" : "", left);
		at += w > 0 ? (size_t)w : 0;
	}
	return (int)at;
}

int cvmbus_wire_features_format(uint32_t features, char *buf, size_t cap)
{
	return wire_flags_format(features, feature_names,
				 sizeof(feature_names) / sizeof(feature_names[0]), buf, cap);
}

int cvmbus_wire_offer_flags_format(uint16_t flags, char *buf, size_t cap)
{
	return wire_flags_format(flags, offer_flag_names,
				 sizeof(offer_flag_names) / sizeof(offer_flag_names[0]), buf, cap);
}

/* ---- Hex and GUIDs ------------------------------------------------------ */

size_t cvmbus_wire_hex(const void *bytes, size_t n, char *buf, size_t cap)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = bytes;
	size_t at = 0;

	if (cap == 0)
		return 2 * n;
	for (size_t i = 0; i < n && at + 2 < cap; i++) {
		buf[at++] = digits[p[i] >> 4];
		buf[at++] = digits[p[i] & 0xF];
	}
	buf[at] = '\0';
	return 2 * n;
}

void cvmbus_guid_format(const struct cvmbus_guid *g, char buf[CVMBUS_GUID_STRLEN])
{
	snprintf(buf, CVMBUS_GUID_STRLEN,
		 "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", g->data1, g->data2,
		 g->data3, g->data4[0], g->data4[1], g->data4[2], g->data4[3], g->data4[4],
		 g->data4[5], g->data4[6], g->data4[7]);
}

static int wire_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int cvmbus_guid_parse(const char *text, struct cvmbus_guid *g)
{
	/* The 32 hex digits, in text order; '-' expected at these positions. */
	uint8_t nib[32];
	unsigned k = 0;

	if (!text || !g || strlen(text) != 36)
		return -EINVAL;
	for (unsigned i = 0; i < 36; i++) {
		int v;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i] != '-')
				return -EINVAL;
			continue;
		}
		v = wire_hexval(text[i]);
		if (v < 0)
			return -EINVAL;
		nib[k++] = (uint8_t)v;
	}
	g->data1 = 0;
	for (unsigned i = 0; i < 8; i++)
		g->data1 = (g->data1 << 4) | nib[i];
	g->data2 = (uint16_t)(nib[8] << 12 | nib[9] << 8 | nib[10] << 4 | nib[11]);
	g->data3 = (uint16_t)(nib[12] << 12 | nib[13] << 8 | nib[14] << 4 | nib[15]);
	for (unsigned i = 0; i < 8; i++)
		g->data4[i] = (uint8_t)(nib[16 + 2 * i] << 4 | nib[17 + 2 * i]);
	return 0;
}
