/* SPDX-License-Identifier: MIT */
/*
 * Ring images in files, as `cvmbus ring` (ring.c) handles them, shared with
 * `cvmbus demo` (demo.c) so that the demo shows exactly what `cvmbus ring
 * dump` shows. An image is one ring: the 4096-byte control page followed by
 * the data area, file size = 4096 + data size (docs/RING_IMAGE.md). These
 * helpers sit on the public ring API (include/cvmbus/ring.h) and report
 * problems as lowercase sentences on the stream they are given, returning
 * the tool's exit codes (commands.h).
 */
#ifndef CVMBUS_TOOL_RING_IMAGE_H
#define CVMBUS_TOOL_RING_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cvmbus/ring.h>

/* An image opened and mapped (shared, so that another process mapping the
 * same file sees every store). */
struct ring_image {
	const char *path;
	int fd;
	uint64_t file_size;
	uint32_t data_size;
	struct cvmbus_ring_map map;
	bool mapped;
};

enum ring_image_access {
	RING_IMAGE_READONLY = 1, /* for inspection: PROT_READ, single mapping */
	RING_IMAGE_READWRITE,    /* for a reader or writer: double-mapped */
};

/* Open an existing image and check that its size can be a ring. `who`
 * prefixes messages ("cvmbus ring dump"). Returns CVMBUS_EXIT_OK,
 * CVMBUS_EXIT_FAILURE (cannot open or map), CVMBUS_EXIT_CORRUPT (the size
 * is not 4096 + a multiple of 4096). */
int ring_image_open(struct ring_image *img, const char *path, enum ring_image_access access,
		    FILE *err, const char *who);

/* Create or truncate an image with data_size bytes of data area (a valid
 * ring data size), zero-filled, and map it read-write. The caller formats
 * the control page (cvmbus_ring_init with CVMBUS_RING_FORMAT). */
int ring_image_create(struct ring_image *img, const char *path, uint32_t data_size,
		      FILE *err, const char *who);

void ring_image_close(struct ring_image *img);

/* `cvmbus ring dump PATH [--json]`: the control page and every readable
 * packet, or the corruption that stops the walk. Returns the exit code. */
int ring_image_dump(const char *path, bool json, FILE *out, FILE *err);

#endif
