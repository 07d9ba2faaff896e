#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The drop-in build, vfio-pci.ko, in place of the kernel's vfio-pci:
# - it is module vfio_pci with PCI driver vfio-pci and vfio-pci's
#   parameters (with their permissions) plus ours;
# - a bad wc= refuses the load with a message naming the parameter, and
#   leaves nothing behind;
# - ids= binds matching devices at load, as vfio-pci's; a malformed entry
#   is reported and skipped, as vfio-pci does;
# - wc=prefetchable gives ivshmem (BAR 2 prefetchable) and not edu or igb a
#   policy; the debugfs view of the device shows it;
# - disable_denylist is announced at load, as vfio-pci does;
# - policy_test and dmabuf_test pass on it as on vfio-pci-alias.
# Sub-results: dropin/<what>.

. /vpa/lib.sh

PARAMS="ids nointxmask disable_idle_d3 enable_sriov disable_denylist wc alias_region_feature
	dma_buf_revoke_feature dma_buf_memattr_feature"

check() { # check NAME COMMAND...: a sub-result
	local name=$1
	shift
	if "$@"; then report ok "dropin/$name"; else report not-ok "dropin/$name"; RC=1; fi
}

refused() { # refused PARAM=VALUE WORD: the load fails and dmesg names it
	local n
	n=$(dmesg | wc -l)
	if load_dropin "$1" 2>/dev/null; then
		fail "insmod $1 succeeded"
		rmmod vfio_pci
		return 1
	fi
	! is_loaded vfio_pci || { fail "vfio_pci loaded after a refused $1"; return 1; }
	dmesg | tail -n +$((n + 1)) | grep -q "$2" ||
		{ fail "no message with '$2' for $1"; dmesg | tail -n 5; return 1; }
}

params_like_vfio_pci() {
	local p mode
	[ -d /sys/bus/pci/drivers/vfio-pci ] || { fail "no PCI driver vfio-pci"; return 1; }
	dropin_loaded || { fail "vfio_pci is not the drop-in"; return 1; }
	for p in $PARAMS; do
		case $p in
		ids) [ ! -e /sys/module/vfio_pci/parameters/ids ] ||
			{ fail "ids is visible (vfio-pci's is not)"; return 1; }; continue ;;
		nointxmask|disable_idle_d3|enable_sriov) mode=-rw-r--r-- ;;
		*) mode=-r--r--r-- ;;
		esac
		ls -l "/sys/module/vfio_pci/parameters/$p" | grep -q "^$mode" ||
			{ fail "parameter $p: $(ls -l /sys/module/vfio_pci/parameters/$p 2>&1)"; return 1; }
	done
}

ids_bind() {
	[ "$(driver_of "$IVSHMEM_BDF")" = vfio-pci ] ||
		{ fail "ivshmem not bound by ids= ('$(driver_of "$IVSHMEM_BDF")')"; return 1; }
	[ -z "$(driver_of "$EDU_BDF")" ] || { fail "edu bound without an ID"; return 1; }
	dmesg | grep -q 'vfio_pci: invalid id string "zz"' ||
		{ fail "no warning for the malformed ids entry"; return 1; }
}

default_policy() {
	local got
	got=$(cat "$PCI/devices/$IVSHMEM_BDF/wc_bars") || return 1
	[ "$got" = 2 ] || { fail "ivshmem wc_bars '$got', wanted 2"; return 1; }
	bind_to "$EDU_BDF" vfio-pci && bind_to "$IGB_BDF" vfio-pci || return 1
	got=$(cat "$PCI/devices/$EDU_BDF/wc_bars")
	[ "$got" = none ] || { fail "edu wc_bars '$got'"; return 1; }
	got=$(cat "$PCI/devices/$IGB_BDF/wc_bars")
	[ "$got" = none ] || { fail "igb wc_bars '$got'"; return 1; }
}

view() {
	local f=/sys/kernel/debug/vfio_pci/$IVSHMEM_BDF/bars
	[ -r "$f" ] || { fail "no $f"; return 1; }
	cat "$f"
	grep -q '^wc_bars: 2$' "$f" && grep -q '^2    pref  -     wc ' "$f" ||
		{ fail "view does not show the policy"; return 1; }
}

harness() {
	local rc=0 out=/tmp/policy_test.dropin
	for bdf in $TEST_BDFS; do
		bind_to "$bdf" vfio-pci || return 1
		echo none >"$PCI/devices/$bdf/wc_bars" || return 1
	done
	# The devices in the environment, where run-harness.sh passes them
	# as arguments: both ways stay tested.
	VPA_EDU_BDF=$EDU_BDF VPA_IGB_BDF=$IGB_BDF VPA_IVSHMEM_BDF=$IVSHMEM_BDF VPA_DEBUGFS=vfio_pci \
		"$VPA_DIR/bin/policy_test" >"$out" 2>&1 || rc=1
	cat "$out"
	grep -q '^ok [0-9]' "$out" || rc=1
	return $rc
}

# The DMABUF tests on the drop-in, the devices bound by harness().
dmabuf() {
	local rc=0 out=/tmp/dmabuf_test.dropin
	load_importer || return 1
	VPA_EDU_BDF=$EDU_BDF VPA_IGB_BDF=$IGB_BDF VPA_IVSHMEM_BDF=$IVSHMEM_BDF \
		"$VPA_DIR/bin/dmabuf_test" >"$out" 2>&1 || rc=1
	cat "$out"
	grep -q '^ok [0-9]' "$out" || rc=1
	return $rc
}

main() {
	local bdf
	RC=0
	load_vfio_stack "$VPA_MODE" || return 1
	for bdf in $TEST_BDFS; do release "$bdf" || return 1; done

	check refuses-bad-wc refused wc=garbage 'wc="garbage"'
	check refuses-wc-bar-6 refused wc=6 'wc="6"'
	check refuses-wc-list refused wc=2,x 'wc="2,x"'

	n=$(dmesg | wc -l)
	check loads load_dropin "ids=zz,1af4:1110" wc=prefetchable disable_denylist=1
	is_loaded vfio_pci || return 1
	check denylist-announced sh -c "dmesg | tail -n +$((n + 1)) | grep -q 'vfio_pci: device denylist disabled.'"
	check params-like-vfio-pci params_like_vfio_pci
	check ids-bind ids_bind
	check default-policy default_policy
	check debugfs-view view
	check policy-test harness
	check dmabuf-test dmabuf

	for bdf in $TEST_BDFS; do release "$bdf" || RC=1; done
	# The load-time policy is per device: a new binding starts from it.
	unload_dropin || RC=1
	return $RC
}

main
