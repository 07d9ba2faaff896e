# SPDX-License-Identifier: GPL-2.0
# Helpers for the guest test scripts (busybox sh). Sourced from /vpa/lib.sh.
#
# Environment set by /init: VPA_MODE (iommu|noiommu), VPA_DIR (/vpa).

VPA_DIR=${VPA_DIR:-/vpa}
VPA_MODE=${VPA_MODE:-iommu}
VPA_MODULE=$VPA_DIR/vfio_pci_alias.ko
ALIAS_DRIVER=vfio-pci-alias
ALIAS_MODNAME=vfio_pci_alias
# The drop-in build: module vfio_pci, PCI driver vfio-pci.
DROPIN_MODULE=$VPA_DIR/vfio-pci.ko

# Fixed by tools/qemu.sh (-device ...,addr=).
EDU_BDF=0000:00:04.0
IGB_BDF=0000:00:05.0
IVSHMEM_BDF=0000:00:06.0
TEST_BDFS="$EDU_BDF $IGB_BDF $IVSHMEM_BDF"
# A pci-testdev behind a root port of its own: the one device whose bus
# can be reset (VFIO_DEVICE_PCI_HOT_RESET); the firmware numbers that bus 1.
RESET_BDF=0000:01:00.0

PCI=/sys/bus/pci

# cmdline VAR DEFAULT: the value of vpa.VAR= on the kernel command line.
cmdline() {
	local w
	for w in $(cat /proc/cmdline); do
		case $w in
		"vpa.$1="*) echo "${w#*=}"; return ;;
		esac
	done
	echo "$2"
}

info() { echo "# $*"; }
# Print a failure reason; returns 1 so callers can `|| { fail ...; return 1; }`.
fail() { echo "FAIL: $*"; return 1; }

# The tests' P2P DMABUF importer (tools/testing/vfio_pci_alias/importer),
# loaded once per boot: /dev/vpa_importer.
load_importer() {
	[ -e /dev/vpa_importer ] || insmod "$VPA_DIR/bin/vpa_importer.ko" ||
		fail "insmod vpa_importer.ko"
}

# Report one sub-result the way /init reports whole scripts.
report() { # report ok|not-ok NAME
	case $1 in
	ok) echo "VPA-TEST: ok $2" ;;
	*) echo "VPA-TEST: not ok $2" ;;
	esac
}

# Name of the driver bound to BDF, empty when none.
driver_of() {
	local link
	link=$(readlink "$PCI/devices/$1/driver" 2>/dev/null) || return 0
	echo "${link##*/}"
}

unbind() { # unbind BDF
	local drv
	drv=$(driver_of "$1")
	[ -n "$drv" ] || return 0
	echo "$1" >"$PCI/drivers/$drv/unbind" || { fail "unbind $1 from $drv"; return 1; }
	[ -z "$(driver_of "$1")" ] || { fail "$1 still bound to $(driver_of "$1")"; return 1; }
}

set_override() { # set_override BDF DRIVER|""
	# An empty write clears it; sysfs needs a newline-only write for that.
	echo "$2" >"$PCI/devices/$1/driver_override" ||
		{ fail "write driver_override of $1"; return 1; }
}

# Bind BDF to DRIVER through driver_override + drivers_probe.
bind_to() { # bind_to BDF DRIVER
	local bdf=$1 want=$2 got
	[ -e "$PCI/devices/$bdf" ] || { fail "no PCI device $bdf"; return 1; }
	unbind "$bdf" || return 1
	set_override "$bdf" "$want" || return 1
	echo "$bdf" >"$PCI/drivers_probe" 2>/dev/null ||
		info "drivers_probe write for $bdf returned an error"
	got=$(driver_of "$bdf")
	[ "$got" = "$want" ] || { fail "$bdf bound to '${got}', wanted '$want'"; return 1; }
	info "$bdf bound to $want"
}

# Unbind BDF and clear its driver_override.
release() { # release BDF
	unbind "$1" || return 1
	set_override "$1" "" || return 1
	case $(cat "$PCI/devices/$1/driver_override") in
	""|"(null)") ;;
	*) fail "driver_override of $1 not cleared"; return 1 ;;
	esac
}

iommu_group_of() { # iommu_group_of BDF
	local link
	link=$(readlink "$PCI/devices/$1/iommu_group") || return 1
	echo "${link##*/}"
}

# The vfio group node of a bound device, per mode.
group_node_of() { # group_node_of BDF
	local g
	g=$(iommu_group_of "$1") || { fail "$1 has no iommu_group"; return 1; }
	if [ "$VPA_MODE" = noiommu ]; then
		echo "/dev/vfio/noiommu-$g"
	else
		echo "/dev/vfio/$g"
	fi
}

# The vfio cdev of a bound device (/dev/vfio/devices/vfioN).
cdev_of() { # cdev_of BDF
	local d
	for d in "$PCI/devices/$1"/vfio-dev/vfio*; do
		[ -e "$d" ] || { fail "$1 has no vfio-dev"; return 1; }
		echo "/dev/vfio/devices/${d##*/}"
		return 0
	done
}

is_loaded() { grep -q "^$1 " /proc/modules; }

mod() { # mod NAME [PARAMS...]: modprobe, loud on failure
	is_loaded "$1" && return 0
	modprobe "$@" || { fail "modprobe $*"; return 1; }
}

# The vfio stack for MODE (iommu|noiommu). modprobe resolves the module
# dependencies (iommufd needs the generic page table module iommu_amdv1).
load_vfio_stack() { # load_vfio_stack [MODE]
	local mode=${1:-$VPA_MODE}
	if [ "$mode" = noiommu ]; then
		mod vfio enable_unsafe_noiommu_mode=1 || return 1
		[ "$(cat /sys/module/vfio/parameters/enable_unsafe_noiommu_mode)" = Y ] ||
			{ fail "vfio was loaded earlier without noiommu"; return 1; }
	else
		mod vfio || return 1
	fi
	mod vfio_iommu_type1 && mod iommufd && mod vfio_pci_core && mod vfio_pci
}

load_alias() {
	is_loaded "$ALIAS_MODNAME" && return 0
	[ -e "$VPA_MODULE" ] || { fail "$VPA_MODULE is not in the initramfs"; return 1; }
	insmod "$VPA_MODULE" || { fail "insmod $VPA_MODULE"; return 1; }
}

unload_alias() {
	rmmod "$ALIAS_MODNAME" || { fail "rmmod $ALIAS_MODNAME"; return 1; }
	! is_loaded "$ALIAS_MODNAME" || { fail "$ALIAS_MODNAME still loaded"; return 1; }
}

# Replace the kernel's vfio-pci by the drop-in build (insmod, with PARAMS).
# Nothing may be bound to vfio-pci. Returns 1 if the load fails.
load_dropin() { # load_dropin [PARAMS...]
	[ -e "$DROPIN_MODULE" ] || { fail "$DROPIN_MODULE is not in the initramfs"; return 1; }
	if is_loaded vfio_pci; then
		rmmod vfio_pci || { fail "rmmod vfio_pci"; return 1; }
	fi
	insmod "$DROPIN_MODULE" "$@"
}

# Whether the loaded vfio_pci is the drop-in (it has our parameter).
dropin_loaded() {
	[ -e /sys/module/vfio_pci/parameters/alias_region_feature ]
}

# Back to the kernel's vfio-pci.
unload_dropin() {
	if is_loaded vfio_pci; then
		rmmod vfio_pci || { fail "rmmod vfio_pci"; return 1; }
	fi
	mod vfio_pci
}

# The vfio stack of the mode and vfio_pci_alias loaded, every test device
# bound to vfio-pci-alias.
bind_all_alias() {
	local bdf
	load_vfio_stack "$VPA_MODE" && load_alias || return 1
	for bdf in $TEST_BDFS; do
		bind_to "$bdf" "$ALIAS_DRIVER" || return 1
	done
}

# Every test device released, vfio_pci_alias unloaded; 1 if any of it failed.
release_all_alias() {
	local bdf rc=0
	for bdf in $TEST_BDFS; do
		release "$bdf" || rc=1
	done
	unload_alias || rc=1
	return $rc
}

# A kselftest harness program's TAP output ("ok N fixture.case",
# "not ok N fixture.case # reason") as sub-results "VPA-TEST: ok
# PROG/fixture.case"; returns 1 if it ran no test.
harness_results() { # harness_results PROG OUTPUT-FILE
	sed -n -e "s/^ok [0-9]* \([^ #]*\).*/VPA-TEST: ok $1\/\1/p" \
	       -e "s/^not ok [0-9]* \([^ #]*\).*/VPA-TEST: not ok $1\/\1/p" "$2"
	grep -q '^ok [0-9]' "$2" || { fail "$1 ran no test"; return 1; }
}
