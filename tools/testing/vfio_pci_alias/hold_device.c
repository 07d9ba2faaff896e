// SPDX-License-Identifier: GPL-2.0
/*
 * hold_device BDF SECONDS: open the vfio device BDF (bound to vfio-pci or
 * vfio-pci-alias), print "held", keep it open for SECONDS and exit 0. Used to
 * check that unbinding or rmmod waits for the user, as vfio-pci does.
 */
#include "vpa_lib.h"

int main(int argc, char **argv)
{
	struct vpa_dev d;
	int ret;

	if (argc != 3) {
		fprintf(stderr, "usage: %s BDF SECONDS\n", argv[0]);
		return 2;
	}
	ret = vpa_open(argv[1], &d);
	if (ret) {
		fprintf(stderr, "hold_device: open %s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	printf("held\n");
	fflush(stdout);
	sleep(atoi(argv[2]));
	vpa_close(&d);
	return 0;
}
