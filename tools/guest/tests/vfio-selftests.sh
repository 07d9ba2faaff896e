#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the upstream VFIO selftests (static binaries in /vpa/bin, built by
# tools/selftests.sh) with the test devices bound to each driver in turn.
#
#   vfio-selftests.sh [DRIVER...]     default: vfio-pci vfio-pci-alias
#   env VPA_SELFTEST_DRIVERS          same, if no arguments
#   env VPA_SELFTEST_TIMEOUT          per binary run, seconds (default 300)
#   env VPA_SELFTEST_ONLY             run only these binaries (space list)
#
# One sub-result per run: "VPA-TEST: ok selftest/<test>/<driver>" for the
# igb device, ".../<driver>/edu" for the edu device, ".../<driver>/all" for
# runs over all three devices. Binary exit 4 (kselftest skip) is reported
# as "ok ... # SKIP".
#
# Exit status (the summary): 0 if every run that passed with vfio-pci also
# passed with every other driver, and at least one vfio-pci run passed; 1
# otherwise; 4 (skip) in noiommu mode, which libvfio does not support.

. /vpa/lib.sh

BIN=$VPA_DIR/bin
TIMEOUT=${VPA_SELFTEST_TIMEOUT:-300}
RESULTS=/tmp/selftest-results	# lines "driver run-name verdict"

# The plan: "binary device-tag". Tags: igb, edu, all (igb+edu+ivshmem).
PLAN="
vfio_pci_device_test igb
vfio_pci_device_test edu
vfio_pci_driver_test igb
vfio_dma_mapping_test igb
vfio_dma_mapping_test edu
vfio_iommufd_setup_test igb
vfio_iommufd_setup_test edu
vfio_dma_mapping_mmio_test igb
vfio_dma_mapping_mmio_test edu
vfio_pci_device_init_perf_test all
vfio_pci_sriov_uapi_test igb
"

bdfs_of() { # bdfs_of TAG
	case $1 in
	igb) echo "$IGB_BDF" ;;
	edu) echo "$EDU_BDF" ;;
	all) echo "$TEST_BDFS" ;;
	esac
}

run_name() { # run_name TEST DRIVER TAG
	case $3 in
	igb) echo "selftest/$1/$2" ;;
	*) echo "selftest/$1/$2/$3" ;;
	esac
}

# HugeTLB pages for the dma_mapping hugetlb variants: a few 2M pages; one
# 1G page only while vfio_dma_mapping_test runs (it would starve the 1G
# memcpy region of vfio_pci_driver_test in a 2G guest).
HP1G=/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
hugepages() { # hugepages on|off
	[ -e /proc/sys/vm/nr_hugepages ] || return 0
	echo 8 >/proc/sys/vm/nr_hugepages
	[ -e "$HP1G" ] || return 0
	if [ "$1" = on ]; then echo 1 >"$HP1G"; else echo 0 >"$HP1G"; fi
	info "hugepages: 2M $(cat /proc/sys/vm/nr_hugepages), 1G $(cat "$HP1G")"
}

# run_one TEST DRIVER TAG: bind the devices, run the binary, report.
run_one() {
	local t=$1 drv=$2 tag=$3 name bdf rc=0 verdict
	name=$(run_name "$t" "$drv" "$tag")
	if [ ! -x "$BIN/$t" ]; then
		info "$t was not built"
		echo "$drv $name missing" >>"$RESULTS"
		return 0
	fi
	for bdf in $(bdfs_of "$tag"); do
		bind_to "$bdf" "$drv" || rc=1
	done
	if [ $rc = 0 ]; then
		[ "$t" != vfio_dma_mapping_test ] || hugepages on
		info "running $BIN/$t $(bdfs_of "$tag")"
		timeout -s KILL "$TIMEOUT" "$BIN/$t" $(bdfs_of "$tag")
		rc=$?
		[ "$t" != vfio_dma_mapping_test ] || hugepages off
		[ $rc != 137 ] || info "$t killed after ${TIMEOUT}s"
	fi
	for bdf in $(bdfs_of "$tag"); do release "$bdf" || true; done
	case $rc in
	0) verdict=ok; echo "VPA-TEST: ok $name" ;;
	4) verdict=skip; echo "VPA-TEST: ok $name # SKIP" ;;
	*) verdict=fail; echo "VPA-TEST: not ok $name" ;;
	esac
	echo "$drv $name $verdict" >>"$RESULTS"
}

# Summary: runs that pass on vfio-pci but not on another driver.
compare() {
	local drv name verdict ref other base bad=0
	while read -r drv name verdict; do
		[ "$drv" = vfio-pci ] && [ "$verdict" = ok ] || continue
		base=${name#selftest/*/vfio-pci}
		for other in $DRIVERS; do
			[ "$other" != vfio-pci ] || continue
			ref=${name%%/vfio-pci*}/$other$base
			grep -q " $ref ok\$" "$RESULTS" && continue
			info "regression: $name passes, $ref does not"
			bad=1
		done
	done <"$RESULTS"
	info "results (driver, run, verdict):"
	sed 's/^/#   /' "$RESULTS"
	grep -q '^vfio-pci .* ok$' "$RESULTS" ||
		case " $DRIVERS " in *" vfio-pci "*) info "no selftest passed on vfio-pci"; bad=1 ;; esac
	return $bad
}

main() {
	local drv t tag
	DRIVERS=${*:-${VPA_SELFTEST_DRIVERS:-vfio-pci $ALIAS_DRIVER}}
	if [ "$VPA_MODE" != iommu ]; then
		info "the VFIO selftests need an IOMMU; skipping in $VPA_MODE mode"
		return 4
	fi
	load_vfio_stack iommu || return 1
	# vfio_pci_sriov_uapi_test needs vfio-pci to allow enabling VFs.
	echo Y >/sys/module/vfio_pci/parameters/enable_sriov 2>/dev/null ||
		info "cannot set vfio_pci enable_sriov"
	case " $DRIVERS " in *" $ALIAS_DRIVER "*) load_alias ;; esac
	: >"$RESULTS"
	for drv in $DRIVERS; do
		echo "$PLAN" | while read -r t tag; do
			[ -n "$t" ] || continue
			case " ${VPA_SELFTEST_ONLY:-$t} " in *" $t "*) ;; *) continue ;; esac
			run_one "$t" "$drv" "$tag"
		done
	done
	compare
}

main "$@"
