#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the upstream VFIO selftests (static binaries in /vpa/bin, built by
# tools/selftests.sh) with the test devices bound to each driver in turn.
#
#   vfio-selftests.sh [DRIVER...]     default: vfio-pci vfio-pci-alias
#                                     vfio-pci-dropin (the drop-in vfio-pci.ko,
#                                     loaded in place of the kernel's)
#   env VPA_SELFTEST_DRIVERS          same, if no arguments (space or comma list)
#   env VPA_SELFTEST_TIMEOUT          per binary run, seconds (default 600)
#   env VPA_SELFTEST_ONLY             run only these binaries (space or comma list)
# Kernel command-line words "NAME=VALUE" without a dot reach /init's
# environment, so e.g. tools/qemu.sh --append VPA_SELFTEST_ONLY=vfio_pci_device_test.
#
# One sub-result per run: "VPA-TEST: ok selftest/<test>/<driver>" for the
# igb device, ".../<driver>/edu" for the edu device, ".../<driver>/multi"
# for igb and edu together. Binary exit 4 (kselftest skip) is reported as
# "ok ... # SKIP".
#
# Exit status (the summary): 0 if every run that passed with vfio-pci also
# passed with every other driver, and at least one vfio-pci run passed; 1
# otherwise; 4 (skip) in noiommu mode, which libvfio does not support.
#
# Environment notes (QEMU TCG, 2G guest):
# - shmem THP is set to "always" while the tests run: vfio_pci_driver_test
#   maps a 1G MAP_SHARED region in every fixture; with 4K pages each case
#   takes 20-30s under TCG, against the harness's fixed 30s per-case limit.
# - ivshmem is left out: its 256-byte BAR0 makes libvfio's mmap_reserve()
#   munmap() an unaligned tail (EINVAL).
# - The 1G hugetlb variants of vfio_dma_mapping_test skip: the kernel has
#   no 1G hstate without CONFIG_CONTIG_ALLOC or hugepagesz=1G at boot.

. /vpa/lib.sh

BIN=$VPA_DIR/bin
TIMEOUT=${VPA_SELFTEST_TIMEOUT:-600}
RESULTS=/tmp/selftest-results	# lines "driver run-name verdict"
OUT=/tmp/selftest-output		# output of the last run

# The plan: "binary device-tag". Tags: igb, edu, multi (igb and edu).
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
vfio_pci_device_init_perf_test multi
vfio_pci_sriov_uapi_test igb
"

bdfs_of() { # bdfs_of TAG
	case $1 in
	igb) echo "$IGB_BDF" ;;
	edu) echo "$EDU_BDF" ;;
	multi) echo "$IGB_BDF $EDU_BDF" ;;
	esac
}

run_name() { # run_name TEST DRIVER TAG
	case $3 in
	igb) echo "selftest/$1/$2" ;;
	*) echo "selftest/$1/$2/$3" ;;
	esac
}

THP_SHMEM=/sys/kernel/mm/transparent_hugepage/shmem_enabled

# Memory set-up for the whole run: 2M hugetlb pages for the dma_mapping
# hugetlb variants, shmem THP for the 1G regions (see above).
memory_setup() {
	echo 16 >/proc/sys/vm/nr_hugepages || info "cannot reserve hugetlb pages"
	if [ -w "$THP_SHMEM" ]; then
		THP_SAVED=$(sed 's/.*\[\(.*\)\].*/\1/' "$THP_SHMEM")
		echo always >"$THP_SHMEM"
	fi
	info "hugetlb 2M pages: $(cat /proc/sys/vm/nr_hugepages)," \
		"shmem THP: $(cat "$THP_SHMEM" 2>/dev/null)"
}

memory_restore() {
	echo 0 >/proc/sys/vm/nr_hugepages
	[ -z "${THP_SAVED:-}" ] || echo "$THP_SAVED" >"$THP_SHMEM"
}

# vfio_pci_sriov_uapi_test asserts that the VF is bound to "vfio-pci"; a
# variant driver's VFs get driver_override set to its own name by
# vfio-pci-core, so on any other driver it fails there by design.
vf_driver_assert() { # vf_driver_assert TEST DRIVER
	[ "$1" = vfio_pci_sriov_uapi_test ] && [ "$2" != vfio-pci ] &&
		[ "$2" != "$DROPIN" ] &&
		grep -q 'strcmp(vf_driver, "vfio-pci") == 0' "$OUT" &&
		! grep -q '^ok [0-9]' "$OUT"
}

# The drop-in vfio-pci.ko under its own name in results; it binds as
# "vfio-pci".
DROPIN=vfio-pci-dropin

# run_one TEST DRIVER TAG: bind the devices, run the binary, report.
run_one() {
	local t=$1 drv=$2 tag=$3 name bdf rc=0 verdict t0 bind=$2
	[ "$drv" != "$DROPIN" ] || bind=vfio-pci
	name=$(run_name "$t" "$drv" "$tag")
	if [ ! -x "$BIN/$t" ]; then
		echo "VPA-TEST: ok $name # SKIP not built"
		echo "$drv $name missing" >>"$RESULTS"
		return 0
	fi
	for bdf in $(bdfs_of "$tag"); do
		bind_to "$bdf" "$bind" || rc=1
	done
	if [ $rc = 0 ]; then
		info "running $BIN/$t $(bdfs_of "$tag")"
		t0=$(cut -d' ' -f1 /proc/uptime)
		timeout -s KILL "$TIMEOUT" "$BIN/$t" $(bdfs_of "$tag") </dev/null >"$OUT" 2>&1
		rc=$?
		cat "$OUT"
		info "$t exited $rc after $(awk -v t0="$t0" '{ print $1 - t0 }' /proc/uptime)s"
		[ $rc != 137 ] || info "$t killed after ${TIMEOUT}s"
	fi
	for bdf in $(bdfs_of "$tag"); do release "$bdf" || true; done
	case $rc in
	0) verdict=ok; echo "VPA-TEST: ok $name" ;;
	4) verdict=skip; echo "VPA-TEST: ok $name # SKIP" ;;
	*)
		if vf_driver_assert "$t" "$drv"; then
			verdict=expected-skip
			echo "VPA-TEST: ok $name # SKIP the test requires the VF driver to be vfio-pci"
		else
			verdict=fail; echo "VPA-TEST: not ok $name"
		fi ;;
	esac
	echo "$drv $name $verdict" >>"$RESULTS"
}

# Summary: runs that pass on vfio-pci but not on another driver (where an
# expected-skip, see vf_driver_assert, counts as a pass).
compare() {
	local drv name verdict ref other base bad=0
	while read -r drv name verdict; do
		[ "$drv" = vfio-pci ] && [ "$verdict" = ok ] || continue
		base=${name#selftest/*/vfio-pci}
		for other in $DRIVERS; do
			[ "$other" != vfio-pci ] || continue
			ref=${name%%/vfio-pci*}/$other$base
			grep -qE " $ref (ok|expected-skip)\$" "$RESULTS" && continue
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

# vfio_pci_sriov_uapi_test needs the PF's driver to allow enabling VFs
# (vfio-pci, and vfio-pci-alias likewise, refuse unless enable_sriov=Y).
allow_sriov() {
	local m p
	for m in vfio_pci "$ALIAS_MODNAME"; do
		p=/sys/module/$m/parameters/enable_sriov
		[ -e "$p" ] || continue
		echo Y >"$p" 2>/dev/null || info "cannot set $m enable_sriov"
	done
}

main() {
	local drv t tag
	DRIVERS=${*:-${VPA_SELFTEST_DRIVERS:-vfio-pci $ALIAS_DRIVER $DROPIN}}
	DRIVERS=$(echo "$DRIVERS" | tr , ' ')
	ONLY=$(echo "${VPA_SELFTEST_ONLY:-}" | tr , ' ')
	if [ "$VPA_MODE" != iommu ]; then
		info "the VFIO selftests need an IOMMU; skipping in $VPA_MODE mode"
		return 4
	fi
	load_vfio_stack iommu || return 1
	case " $DRIVERS " in *" $ALIAS_DRIVER "*) load_alias ;; esac
	allow_sriov
	: >"$RESULTS"
	memory_setup
	for drv in $DRIVERS; do
		if [ "$drv" = "$DROPIN" ]; then
			# In place of the kernel's vfio-pci, as `make install` puts it.
			load_dropin enable_sriov=1 || return 1
			dropin_loaded || { fail "vfio_pci is not the drop-in"; return 1; }
		fi
		echo "$PLAN" | while read -r t tag; do
			[ -n "$t" ] || continue
			case " ${ONLY:-$t} " in *" $t "*) ;; *) continue ;; esac
			run_one "$t" "$drv" "$tag"
		done
	done
	memory_restore
	case " $DRIVERS " in *" $DROPIN "*) unload_dropin || return 1 ;; esac
	compare
}

main "$@"
