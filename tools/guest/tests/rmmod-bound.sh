#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# rmmod vfio_pci_alias while it is bound to every test device: the driver
# core must unbind them all, and the module must go away.

. /vpa/lib.sh

main() {
	local bdf rc=0
	load_vfio_stack "$VPA_MODE" && load_alias || return 1
	for bdf in $TEST_BDFS; do
		bind_to "$bdf" "$ALIAS_DRIVER" || rc=1
	done
	unload_alias || return 1
	for bdf in $TEST_BDFS; do
		[ -z "$(driver_of "$bdf")" ] ||
			{ fail "$bdf still bound to $(driver_of "$bdf")"; rc=1; }
		release "$bdf" || rc=1
	done
	return $rc
}

main
