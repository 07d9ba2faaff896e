#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# DMABUFs that client processes map: tools/testing/vfio_pci_alias/
# dmabuf_test.c on devices bound to vfio-pci-alias, then (with an IOMMU,
# where devices have a vfio cdev) the sample samples/vfio_pci_alias/
# dmabuf_delegate on ivshmem's BAR 2, WC: the client writes through the
# DMABUF and gets SIGBUS after the primary's revoke. Sub-result
# dmabuf/delegate-sample. The pci-testdev behind its own root port
# ($RESET_BDF) is bound too, for the hot reset test (VPA_RESET_BDF), and
# the test P2P importer vpa_importer.ko is loaded.

. /vpa/lib.sh

sample() {
	local cdev out
	bind_all_alias || return 1
	cdev=$(cdev_of "$IVSHMEM_BDF") || return 1
	out=$("$VPA_DIR/bin/dmabuf_delegate" "$cdev" 2 0x3c00000 0x10000 wc 2>&1)
	echo "$out" | sed 's/^/# /'
	echo "$out" | grep -q "^client: SIGBUS after the revoke" ||
		{ fail "dmabuf_delegate"; release_all_alias; return 1; }
	release_all_alias
}

# The device for the hot reset test, bound to vfio-pci-alias; its name, or
# nothing (the test then skips) if this guest has none.
reset_dev() {
	[ -e "$PCI/devices/$RESET_BDF" ] || { info "no $RESET_BDF: no hot reset test" >&2; return 0; }
	{ load_vfio_stack "$VPA_MODE" && load_alias &&
		bind_to "$RESET_BDF" "$ALIAS_DRIVER"; } >&2 || return 1
	echo "$RESET_BDF"
}

main() {
	local rc=0 reset
	load_importer || rc=1
	reset=$(reset_dev) || { fail "bind $RESET_BDF"; rc=1; }
	# run-harness.sh unloads the module at the end, which unbinds it.
	VPA_RESET_BDF=$reset /vpa/run-harness.sh dmabuf_test || rc=1
	[ -z "$reset" ] || release "$reset" || rc=1
	if [ "$VPA_MODE" = iommu ]; then
		if sample; then
			report ok dmabuf/delegate-sample
		else
			report not-ok dmabuf/delegate-sample
			rc=1
		fi
	fi
	return $rc
}

main
