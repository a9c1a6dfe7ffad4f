/* SPDX-License-Identifier: MIT */
/*
 * cvmbus-host: the host party of a cvmbus VM in its own process (a VM
 * configured with processes spawns it; docs/PROCESSES.md). It is not run
 * by hand: its only input is the control socket the VM hands it as fd 3,
 * and everything it serves comes over that socket.
 */
#include <stdio.h>
#include <string.h>

#include <cvmbus/vm.h>

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: cvmbus-host (spawned by a cvmbus VM run with --processes;\n"
		       "reads its control socket on fd 3)\n");
		return 0;
	}
	return cvmbus_host_process_main(3);
}
