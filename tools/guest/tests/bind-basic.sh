#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Bind every test device to stock vfio-pci (control), then to vfio-pci-alias,
# through driver_override + drivers_probe; check the vfio nodes appear; then
# unbind, clear driver_override and rmmod vfio_pci_alias.
# Sub-results: bind-basic/<driver>, bind-basic/rmmod.

. /vpa/lib.sh

# check_nodes BDF: the group node (and in iommu mode the cdev) exist.
check_nodes() {
	local node cdev
	node=$(group_node_of "$1") || return 1
	[ -c "$node" ] || { fail "$1: no group node $node"; return 1; }
	info "$1: group node $node"
	[ "$VPA_MODE" = iommu ] || return 0
	cdev=$(cdev_of "$1") || return 1
	[ -c "$cdev" ] || { fail "$1: no cdev $cdev"; return 1; }
	info "$1: cdev $cdev"
}

# bind_all DRIVER: bind, check and release each device; 0 if all passed.
bind_all() {
	local drv=$1 bdf ok=0
	for bdf in $TEST_BDFS; do
		if bind_to "$bdf" "$drv" && check_nodes "$bdf"; then
			:
		else
			ok=1
		fi
		release "$bdf" || ok=1
		[ -z "$(driver_of "$bdf")" ] || { fail "$bdf still bound"; ok=1; }
	done
	return $ok
}

check_unload() {
	unload_alias || return 1
	[ ! -e "/sys/module/$ALIAS_MODNAME" ] ||
		{ fail "/sys/module/$ALIAS_MODNAME still exists"; return 1; }
	[ ! -e "/sys/bus/pci/drivers/$ALIAS_DRIVER" ] ||
		{ fail "driver $ALIAS_DRIVER still registered"; return 1; }
}

main() {
	local rc=0
	load_vfio_stack "$VPA_MODE" || return 1

	if bind_all vfio-pci; then report ok bind-basic/vfio-pci
	else report not-ok bind-basic/vfio-pci; rc=1; fi

	if load_alias && bind_all "$ALIAS_DRIVER"; then
		report ok "bind-basic/$ALIAS_DRIVER"
	else
		report not-ok "bind-basic/$ALIAS_DRIVER"; rc=1
	fi

	if is_loaded "$ALIAS_MODNAME" && check_unload; then report ok bind-basic/rmmod
	else report not-ok bind-basic/rmmod; rc=1; fi
	return $rc
}

main
