/* SPDX-License-Identifier: MIT */
/*
 * The main() of the fuzz replay tests (tests/fuzz_replay): runs one fuzz
 * target's LLVMFuzzerTestOneInput (fuzz/<target>.c, compiled into the same
 * executable) once on each file named on the command line or found in a
 * directory named there, in name order (after LLVMFuzzerInitialize, if the
 * target defines one), so a normal build replays the seed corpus and every
 * saved crash without libFuzzer. A target reports a bug by
 * crashing or aborting (FZ_CHECK, or a sanitizer in the ASan build), which
 * fails the test; the file name printed just before is the culprit. Files
 * whose names start with '.' (.gitkeep) are skipped. Exit status: 0, or 1
 * if an argument cannot be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

/* Weak: most targets do not define it, and then its address is NULL. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Reads a whole file into an allocation of exactly its size, so that a
 * target reading past its input trips ASan as it would under libFuzzer. */
static int replay_file(const char *path)
{
	struct stat sb;
	uint8_t *buf = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "rb");
	int rc = -1;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &sb) < 0 || sb.st_size < 0)
		goto out;
	n = (size_t)sb.st_size;
	buf = malloc(n ? n : 1);
	if (!buf || (n && fread(buf, 1, n, f) != n))
		goto out;
	fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
	LLVMFuzzerTestOneInput(buf, n);
	rc = 0;
out:
	if (rc < 0)
		fprintf(stderr, "replay: cannot read %s\n", path);
	free(buf);
	fclose(f);
	return rc;
}

static int replay_filter(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Returns how many inputs ran, or -1. */
static int replay_path(const char *path)
{
	struct dirent **names = NULL;
	struct stat sb;
	int n, i, ran = 0;

	if (stat(path, &sb) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode))
		return replay_file(path) < 0 ? -1 : 1;
	n = scandir(path, &names, replay_filter, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		size_t len = strlen(path) + strlen(names[i]->d_name) + 2;
		char *file = malloc(len);

		if (file) {
			snprintf(file, len, "%s/%s", path, names[i]->d_name);
			if (stat(file, &sb) == 0 && S_ISREG(sb.st_mode)) {
				if (replay_file(file) < 0)
					ran = -1;
				else if (ran >= 0)
					ran++;
			}
		} else {
			ran = -1;
		}
		free(file);
		free(names[i]);
	}
	free(names);
	return ran;
}

int main(int argc, char **argv)
{
	int i, n, total = 0, status = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
		return 1;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		n = replay_path(argv[i]);
		if (n < 0)
			status = 1;
		else
			total += n;
	}
	printf("replayed %d inputs\n", total);
	return status;
}
