#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# 20 unbind/rebind cycles of every test device on vfio-pci-alias, opening
# each device in between, then rmmod. Leaks show up in the kmemleak scan of
# the KASAN variant; here the cycles must simply all work, with a clean dmesg.

. /vpa/lib.sh

main() {
	local i bdf
	load_vfio_stack "$VPA_MODE" && load_alias || return 1
	for i in $(seq 1 20); do
		for bdf in $TEST_BDFS; do
			bind_to "$bdf" "$ALIAS_DRIVER" >/dev/null || return 1
			"$VPA_DIR/bin/hold_device" "$bdf" 0 >/dev/null ||
				{ fail "cycle $i: cannot open $bdf"; return 1; }
			release "$bdf" || return 1
		done
	done
	info "20 cycles on $TEST_BDFS"
	unload_alias
}

main
