#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Debian's DPDK 22.11, unmodified, on the devices bound to vfio-pci (in the
# DPDK image, tools/dpdk/initramfs.sh, `modprobe vfio_pci` loads the drop-in
# vfio-pci.ko): dpdk-devbind.py binds, the e1000 PMD transmits on igb, DPDK's
# own VFIO code maps ivshmem's BARs for a PCI driver of ours (vpa_dpdk), and
# DPDK skips a device bound to vfio-pci-alias, a driver not named vfio-pci.
# In the current mode (VPA_MODE): IOMMU with IOVA as VA, or no-IOMMU with
# IOVA as PA, which needs hugepages (with --no-huge DPDK has no physical
# addresses); hugepages serve both.
#
# Sub-results:
#   dpdk/devbind-igb, dpdk/devbind-ivshmem   dpdk-devbind.py -b vfio-pci,
#       and --status shows the device with drv=vfio-pci
#   dpdk/igb-tx                   the e1000 PMD on igb: frames counted by
#       the device (rte_eth_stats_get opackets > 0)
#   dpdk/ivshmem-uc-default       ivshmem BAR2 as DPDK maps it, default
#       policy: data reaches the backing file, PTE and PAT uncached-minus
#   dpdk/ivshmem-wc-policy        with wc_bars=2 (the drop-in's policy):
#       the same mapping is write-combining (fails if there is no wc_bars)
#   dpdk/skipped-on-vfio-pci-alias  igb bound to vfio-pci-alias: DPDK
#       finds no port
# The two ivshmem runs write their own patterns at their own offsets, which
# the host then finds in the backing file (hostcheck/ivshmem-N). Every line
# of DPDK and of vpa_dpdk ("VPA-DPDK: ...", the counters) is in the log.

. /vpa/lib.sh

PROG=$VPA_DIR/bin/vpa_dpdk
DEVBIND=/usr/bin/dpdk-devbind.py
PMDS=$VPA_DIR/dpdk/pmds
IVSHMEM_BARS=/sys/kernel/debug/vfio_pci/$IVSHMEM_BDF/bars
HUGEPAGES=64		# 2 MiB each, of the guest's 2 GiB
# devbind's `ip -o route` (tools/dpdk/guest-ip); the devbind run writes no
# .pyc (the image has them).
export PATH=$VPA_DIR/dpdk/bin:$PATH
export PYTHONDONTWRITEBYTECODE=1

RC=0
sub() { # sub ok|not-ok NAME [REASON]
	[ "$1" = ok ] || RC=1
	if [ -n "${3:-}" ]; then
		echo "VPA-TEST: $( [ "$1" = ok ] && echo ok || echo not ok) $2 # $3"
	else
		report "$1" "$2"
	fi
}

# EAL arguments for one device, in the current mode.
eal_args() { # eal_args BDF
	local a p
	a="--no-telemetry --in-memory -l 0 -a $1"
	for p in $(cat "$PMDS"); do a="$a -d $p"; done
	if [ "$VPA_MODE" = noiommu ]; then
		a="$a --iova-mode=pa"
	else
		a="$a --iova-mode=va"
	fi
	echo "$a"
}

# dpdk BDF ARGS...: vpa_dpdk on BDF with ARGS after the EAL's; output in
# the log. Exit status that of vpa_dpdk.
dpdk() {
	local bdf=$1 eal rc t0
	shift
	eal=$(eal_args "$bdf")
	info "$PROG $eal -- $*"
	t0=$(cut -d' ' -f1 /proc/uptime)
	# shellcheck disable=SC2086
	"$PROG" $eal -- "$@" >/tmp/dpdk.out 2>&1
	rc=$?
	cat /tmp/dpdk.out
	info "vpa_dpdk exited $rc ($t0 s -> $(cut -d' ' -f1 /proc/uptime) s uptime)"
	return $rc
}

# devbind BDF: bind BDF to vfio-pci with dpdk-devbind.py, check --status.
devbind() {
	local bdf=$1 line
	"$DEVBIND" -b vfio-pci "$bdf" || { fail "dpdk-devbind.py -b vfio-pci $bdf"; return 1; }
	"$DEVBIND" --status >/tmp/devbind.out 2>&1 || { cat /tmp/devbind.out; fail "dpdk-devbind.py --status"; return 1; }
	cat /tmp/devbind.out
	line=$(grep "^$bdf " /tmp/devbind.out)
	case $line in
	*drv=vfio-pci*) ;;
	*) fail "--status shows '$line' for $bdf, not drv=vfio-pci"; return 1 ;;
	esac
	[ "$(driver_of "$bdf")" = vfio-pci ] || { fail "$bdf is bound to '$(driver_of "$bdf")'"; return 1; }
}

setup() {
	# EAL loads no plugin from a world-writable directory, / included (the
	# initramfs root is), and keeps its runtime directory in /var/run.
	chmod 755 /
	mkdir -p /var/run
	echo "$HUGEPAGES" >/proc/sys/vm/nr_hugepages
	grep -E '^Huge(Pages_(Total|Free)|pagesize)' /proc/meminfo
	[ "$(awk '/^HugePages_Free/ { print $2 }' /proc/meminfo)" -gt 0 ] ||
		{ fail "no hugepages"; return 1; }
	MODS_BEFORE=$(awk '{ print $1 }' /proc/modules)
	load_vfio_stack "$VPA_MODE" || return 1
	if dropin_loaded; then
		info "vfio_pci is the drop-in ($(grep -o '^[^:]*vfio-pci.ko' "/lib/modules/$(uname -r)/modules.dep"))"
	else
		info "vfio_pci is the kernel's (this image has no drop-in)"
	fi
}

# The loaded vfio_pci is the drop-in (it has the alias module's parameter).
command -v dropin_loaded >/dev/null 2>&1 || dropin_loaded() {
	[ -e /sys/module/vfio_pci/parameters/alias_region_feature ]
}

test_igb() {
	if devbind "$IGB_BDF"; then
		sub ok dpdk/devbind-igb
	else
		sub not-ok dpdk/devbind-igb
		return
	fi
	if dpdk "$IGB_BDF" igb --frames 160; then
		sub ok dpdk/igb-tx
	else
		sub not-ok dpdk/igb-tx
	fi
}

test_ivshmem() {
	local wc=/sys/bus/pci/devices/$IVSHMEM_BDF/wc_bars cat=
	if devbind "$IVSHMEM_BDF"; then
		sub ok dpdk/devbind-ivshmem
	else
		sub not-ok dpdk/devbind-ivshmem
		return
	fi
	[ -e "$IVSHMEM_BARS" ] && cat="--cat $IVSHMEM_BARS"
	if [ -e "$wc" ]; then
		info "wc_bars: '$(cat "$wc")'"
		echo >"$wc" || fail "clearing wc_bars"
	fi
	# shellcheck disable=SC2086
	if dpdk "$IVSHMEM_BDF" ivshmem --bar 2 --expect uc --offset 0x100000 --seed 0x75c0ffee $cat; then
		sub ok dpdk/ivshmem-uc-default
	else
		sub not-ok dpdk/ivshmem-uc-default
	fi
	if [ ! -e "$wc" ]; then
		info "attributes of $IVSHMEM_BDF:" $(ls "/sys/bus/pci/devices/$IVSHMEM_BDF")
		sub not-ok dpdk/ivshmem-wc-policy "no $wc"
		return
	fi
	if echo 2 >"$wc"; then
		info "wc_bars: '$(cat "$wc")'"
		# shellcheck disable=SC2086
		if dpdk "$IVSHMEM_BDF" ivshmem --bar 2 --expect wc --offset 0x200000 --seed 0x3c0ffee5 $cat; then
			sub ok dpdk/ivshmem-wc-policy
		else
			sub not-ok dpdk/ivshmem-wc-policy
		fi
	else
		sub not-ok dpdk/ivshmem-wc-policy "writing 2 to wc_bars failed"
	fi
	echo >"$wc" || fail "clearing wc_bars"
	[ ! -e "$IVSHMEM_BARS" ] || { info "$IVSHMEM_BARS after the runs:"; cat "$IVSHMEM_BARS"; }
}

# DPDK uses VFIO only for devices on a driver named vfio-pci: igb on
# vfio-pci-alias is no port of DPDK's.
test_alias_skipped() {
	local name=dpdk/skipped-on-vfio-pci-alias
	if [ ! -e "$VPA_MODULE" ]; then
		echo "VPA-TEST: ok $name # SKIP no $VPA_MODULE in the image"
		return
	fi
	release "$IGB_BDF" && load_alias && bind_to "$IGB_BDF" "$ALIAS_DRIVER" ||
		{ sub not-ok $name "binding igb to $ALIAS_DRIVER"; return; }
	if dpdk "$IGB_BDF" igb --expect-ports 0; then
		sub ok $name
	else
		sub not-ok $name
	fi
	release "$IGB_BDF" || RC=1
	unload_alias || RC=1
}

# Releases the devices, unloads every module this test loaded (in
# dependency order: what nothing uses first), frees the hugepages.
cleanup() {
	local bdf m pass before
	for bdf in $IGB_BDF $IVSHMEM_BDF; do
		release "$bdf" || RC=1
	done
	before=" $(echo $MODS_BEFORE) "
	for pass in 1 2 3 4 5 6; do
		for m in $(awk '$3 == 0 { print $1 }' /proc/modules); do
			case $before in *" $m "*) continue ;; esac
			rmmod "$m" || RC=1
		done
	done
	for m in $(awk '{ print $1 }' /proc/modules); do
		case $before in *" $m "*) continue ;; esac
		fail "module $m still loaded"
		RC=1
	done
	info "modules loaded after the test:" $(awk '{ print $1 }' /proc/modules)
	echo 0 >/proc/sys/vm/nr_hugepages
}

main() {
	if ! setup; then
		sub not-ok dpdk/setup
		return 1
	fi
	test_igb
	test_ivshmem
	test_alias_skipped
	cleanup
	return $RC
}

main
