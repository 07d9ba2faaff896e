#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The demo (make demo): bind QEMU's edu device to vfio-pci-alias through
# driver_override, run samples/vfio_pci_alias/alias_wc on its vfio cdev, and
# show from this process's page tables that the alias maps write-combining;
# then samples/vfio_pci_alias/dmabuf_delegate: a client process writes to a
# page of the BAR through a DMABUF and loses it at the primary's revoke.

. /vpa/lib.sh

main() {
	local cdev
	load_vfio_stack "$VPA_MODE" && load_alias || return 1
	bind_to "$EDU_BDF" "$ALIAS_DRIVER" || return 1
	echo "VPA-DEMO: $ readlink /sys/bus/pci/devices/$EDU_BDF/driver  # -> $(driver_of "$EDU_BDF")"
	cdev=$(cdev_of "$EDU_BDF") || return 1
	echo "VPA-DEMO: $ alias_wc $cdev 0"
	"$VPA_DIR/bin/alias_wc" "$cdev" 0 2>&1 | sed 's/^/VPA-DEMO: /' || return 1
	echo "VPA-DEMO: $ dmabuf_delegate $cdev 0 0 0x1000 wc"
	"$VPA_DIR/bin/dmabuf_delegate" "$cdev" 0 0 0x1000 wc 2>&1 | sed 's/^/VPA-DEMO: /' || return 1
	echo "VPA-DEMO: $ wc_test -r edu.page_tables_show_wc_for_alias_and_ucm_for_bar"
	VPA_EDU_BDF=$EDU_BDF "$VPA_DIR/bin/wc_test" \
		-r edu.page_tables_show_wc_for_alias_and_ucm_for_bar 2>&1 |
		sed -n 's/^# wc_test.c:[0-9]*:[a-z_]*:/VPA-DEMO: /p; s/^\(not \)\{0,1\}ok .*/VPA-DEMO: &/p'
	release "$EDU_BDF" && unload_alias
}

main
