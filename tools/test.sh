#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite (`make check`, and what .ci/run runs):
#
#   1. set-up (tools/setup.sh), unless KDIR= names a Rust-enabled 7.3 build;
#   2. the cached test kernel (tools/kernel.sh);
#   3. host checks: the module builds with W=1 and with CLIPPY=1 without a
#      warning, rustfmt is clean;
#   4. the guest programs: the upstream VFIO selftests (tools/selftests.sh)
#      and ours (tools/testing/vfio_pci_alias); for the dpdk suite, our
#      DPDK program against Debian's DPDK (tools/dpdk) and the DPDK image
#      (tools/dpdk/initramfs.sh);
#   5. QEMU runs (tools/qemu.sh), each with its dmesg scanned:
#      IOMMU mode: smoke, alias, upstream selftests on vfio-pci and ours,
#      dpdk, faults (the fault-injection sweep); no-IOMMU mode: smoke,
#      alias, dpdk.
#
# Prints one line per test, "ok N - name" / "not ok N - name", and closes
# with "N passed, N failed". Exit status 0 only if nothing failed.
#
# Environment: KDIR, VARIANT (debug|kasan), VPA_SUITES ("mode:suite ..." to
# run a subset), VPA_OUT (logs; default out/ in the repository),
# VPA_GUEST_BIN_DIR (the guest programs; default $CACHE/guest-bin, shared by
# every checkout: a second checkout's run wants its own).

set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
. "$here/lib.sh"

OUT=${VPA_OUT:-$repo/out}
GUEST_BIN=${VPA_GUEST_BIN_DIR:-$CACHE/guest-bin}
SUITES=${VPA_SUITES:-"iommu:smoke iommu:alias iommu:selftests noiommu:smoke noiommu:alias iommu:dpdk noiommu:dpdk iommu:faults"}
mkdir -p "$OUT"
N=0
PASSED=0
FAILED=0

result() { # result ok|not-ok NAME [COMMENT]
	N=$((N + 1))
	if [ "$1" = ok ]; then
		PASSED=$((PASSED + 1))
		echo "ok $N - $2${3:+ # $3}"
	else
		FAILED=$((FAILED + 1))
		echo "not ok $N - $2${3:+ # $3}"
	fi
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ]
	exit
}

# step NAME COMMAND...: a host step that is a test of its own; its output
# goes to $OUT/NAME.log.
step() {
	local name=$1 log=$OUT/${1//\//-}.log
	shift
	if "$@" >"$log" 2>&1; then
		result ok "$name"
	else
		result not-ok "$name" "see $log"
		tail -n 20 "$log" | sed 's/^/#   /'
		return 1
	fi
}

# The module build must not warn.
build_clean() { # build_clean MAKE-ARGS...
	touch "$repo/rust/vfio_pci_alias.rs" "$repo/rust/vfio_pci.rs"
	make -C "$repo" KDIR="$KDIR" "$@" 2>&1 | tee /dev/stderr |
		{ ! grep -E '^(warning|error)|: warning:'; }
}

# `make install` into a staging copy of the test kernel's module tree:
# modprobe must then resolve vfio-pci to the drop-in in updates/, and to
# the kernel's again after `make uninstall`.
install_check() {
	local stage=$OUT/install-root krel dep
	krel=$(cat "$KDIR/include/config/kernel.release")
	rm -rf "$stage"
	mkdir -p "$stage/lib/modules"
	cp -a "$KDIR/modroot/lib/modules/$krel" "$stage/lib/modules/"
	make -C "$repo" KDIR="$KDIR" INSTALL_MOD_PATH="$stage" install || return 1
	dep=$(/sbin/modprobe -d "$stage" -S "$krel" --show-depends vfio-pci | tail -n 1)
	echo "installed: modprobe vfio-pci -> $dep"
	case $dep in *"/updates/vfio-pci.ko"*) ;; *) return 1 ;; esac
	make -C "$repo" KDIR="$KDIR" INSTALL_MOD_PATH="$stage" uninstall || return 1
	dep=$(/sbin/modprobe -d "$stage" -S "$krel" --show-depends vfio-pci | tail -n 1)
	echo "uninstalled: modprobe vfio-pci -> $dep"
	case $dep in *"/kernel/drivers/vfio/pci/vfio-pci.ko"*) ;; *) return 1 ;; esac
	rm -rf "$stage"
}

guest_programs() {
	local dir=$1 hdr
	bash "$here/selftests.sh" "$dir/upstream" || return 1
	hdr=$CACHE/headers/$(cat "$CACHE/src/linux-source-7.3.version")/include
	mkdir -p "$dir/ours"
	make -C "$repo/tools/testing/vfio_pci_alias" KSRC="$KSRC" \
		KHDR_INCLUDES="-isystem $hdr" OUTPUT="$dir/ours" || return 1
	importer_module "$dir/importer" "$dir/ours" || return 1
	make -C "$repo/samples/vfio_pci_alias" KHDR="$hdr" OUT="$dir/ours" || return 1
	rm -rf "$dir/all"
	mkdir -p "$dir/all"
	cp -l "$dir"/upstream/vfio_* "$dir"/ours/* "$dir/all/"
}

# One guest run of a suite; its report goes to REPORT. Exit status of
# qemu.sh: 0 all passed, 3 QEMU itself crashed, anything else failures.
# The dpdk suite boots the DPDK image.
boot_suite() { # boot_suite MODE SUITE REPORT LOG
	local timeout=900 initrd=$OUT/initramfs.cpio.gz
	[ "$2" = selftests ] && timeout=3000
	# Under KASAN with a kmemleak scan after every sweep, ~25 minutes.
	[ "$2" = faults ] && timeout=3300
	[ "$2" = dpdk ] && initrd=$OUT/initramfs-dpdk.cpio.gz
	bash "$here/qemu.sh" --kernel "$KDIR/arch/x86/boot/bzImage" \
		--initrd "$initrd" --suite "$2" --mode "$1" \
		--log "$4" --timeout "$timeout" >"$3" 2>&1
}

# Runs a suite and reports its tests. If QEMU (the emulator, not the
# guest) crashes, its report is shown as comments and the suite runs once
# more; a second crash counts as the failures it causes.
run_suite() { # run_suite MODE SUITE
	local mode=$1 suite=$2 line report=$OUT/guest-$1-$2.report rc
	local log=$OUT/guest-$mode-$suite.log
	boot_suite "$mode" "$suite" "$report" "$log"
	rc=$?
	if [ "$rc" = 3 ]; then
		echo "# $mode/$suite: QEMU crashed; its report, then a second run:"
		sed 's/^/#   /' "$report"
		mv "$log" "$log.crashed"
		boot_suite "$mode" "$suite" "$report" "$log"
	fi
	while IFS= read -r line; do
		case $line in
		"ok - "*) result ok "$mode/$suite/${line#ok - }" ;;
		"not ok - "*) result not-ok "$mode/$suite/${line#not ok - }" ;;
		*) echo "# $line" ;;
		esac
	done <"$report"
}

main() {
	local start=$SECONDS s
	if [ -z "${KDIR:-}" ]; then
		step setup bash "$here/setup.sh" || finish
		step kernel bash "$here/kernel.sh" || finish
		KDIR=$(bash "$here/kernel.sh" --print-dir)
	fi
	KSRC=$(cd "$KDIR/source" && pwd)
	export KDIR KSRC
	echo "# kernel: $KDIR ($(( SECONDS - start ))s)"

	step build/clippy build_clean clippy
	step build/module-w1 build_clean modules || finish
	step build/rustfmt make -C "$repo" KDIR="$KDIR" fmt-check
	step build/policy-only bash "$here/policy-only.sh"
	step build/install install_check
	step build/guest-programs guest_programs "$GUEST_BIN" || finish
	step build/initramfs env VPA_GUEST_BIN="$GUEST_BIN/all" \
		bash "$here/initramfs.sh" "$KDIR" "$OUT/initramfs.cpio.gz" || finish
	# The dpdk suite's program and image, if it is to run.
	local dpdk=0
	case " $SUITES " in *:dpdk\ *)
		rm -f "$OUT/initramfs-dpdk.cpio.gz"
		mkdir -p "$GUEST_BIN/dpdk"
		step build/dpdk-program make -C "$here/dpdk" OUT="$GUEST_BIN/dpdk" &&
			step build/initramfs-dpdk bash "$here/dpdk/initramfs.sh" "$KDIR" \
				"$OUT/initramfs-dpdk.cpio.gz" "$GUEST_BIN/dpdk/vpa_dpdk" &&
			dpdk=1 ;;
	esac

	for s in $SUITES; do
		if [ "${s#*:}" = dpdk ] && [ $dpdk = 0 ]; then
			result not-ok "$s" "no DPDK image (see build/ above)"
			continue
		fi
		run_suite "${s%%:*}" "${s#*:}"
	done
	echo "# total $(( SECONDS - start ))s"
	finish
}

main "$@"
