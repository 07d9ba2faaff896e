#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the busybox test initramfs.
#
#   tools/initramfs.sh KOUT OUT.cpio.gz [SRC[=DEST]...]
#
# KOUT        kernel build directory (tools/kernel.sh); its modroot/ and
#             usr/gen_init_cpio are used.
# SRC[=DEST]  extra files; DEST is the absolute path in the image
#             (default /vpa/extra/<basename of SRC>).
# Environment:
#   VPA_MODULE     the module to test, placed at /vpa/vfio_pci_alias.ko,
#                  with the drop-in vfio-pci.ko from the same directory at
#                  /vpa/vfio-pci.ko (default $REPO/vfio_pci_alias.ko; when that default is
#                  missing the image is built without it and says so).
#   VPA_GUEST_BIN  optional directory whose files go to /vpa/bin/.
#   VPA_MODROOT    the modules tree to take the modules from, as KOUT/modroot
#                  (default): its lib/modules/<release>/ (tools/dpdk/initramfs.sh
#                  passes a copy with the drop-in vfio-pci.ko in updates/).
#   VPA_EXTRA_LIST optional file of more entries, one per line:
#                  "file DEST SRC [MODE]", "slink DEST TARGET" or "dir DEST";
#                  parent directories are added as for everything else.
#
# Contents: /bin/busybox and its applet links, /init, /vpa/{lib.sh,tests,
# suites} from tools/guest/, the VFIO and IOMMU modules (plus their
# dependencies) of KOUT with the modules.* index files. All entries are
# root-owned with mtime 0 and the archive is gzipped with -n, so equal
# inputs give a byte-identical image.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
REPO=$(cd "$here/.." && pwd)
GUEST=$here/guest
BUSYBOX=${BUSYBOX:-/bin/busybox}

usage() { echo "usage: $0 KOUT OUT.cpio.gz [SRC[=DEST]...]" >&2; exit 2; }

# Emit gen_init_cpio lines. Directories are declared once, parents first.
declare -A DIRS=()
dir() {
	local d=$1
	[ "$d" = / ] && return 0
	[ -n "${DIRS[$d]:-}" ] && return 0
	dir "$(dirname "$d")"
	DIRS[$d]=1
	echo "dir $d 0755 0 0"
}
file() { # file DEST SRC [MODE]
	local mode=${3:-}
	[ -n "$mode" ] || { [ -x "$2" ] && mode=0755 || mode=0644; }
	dir "$(dirname "$1")"
	echo "file $1 $2 $mode 0 0"
}

list_base() {
	local d
	for d in /dev /proc /sys /tmp /root /etc /mnt; do dir "$d"; done
	# The kernel opens /dev/console for init before devtmpfs is mounted.
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "nod /dev/null 0666 0 0 c 1 3"
	file /bin/busybox "$BUSYBOX" 0755
	local app
	# --list-full gives each applet with its usual directory (bin/ls, ...).
	while read -r app; do
		case $app in bin/busybox|linuxrc) continue ;; esac
		dir "$(dirname "/$app")"
		echo "slink /$app /bin/busybox 0777 0 0"
	done < <("$BUSYBOX" --list-full | sort)
	file /init "$GUEST/init" 0755
	echo 'root:x:0:0:root:/root:/bin/sh' >"$WORK/passwd"
	file /etc/passwd "$WORK/passwd" 0644
}

# Modules under kernel/drivers/{vfio,iommu} and updates/ (where a modules
# tree puts replacements) and everything modules.dep says they need.
module_closure() {
	local mdir=$1
	awk -F: '
		{ sub(/:$/, "", $1) }
		$1 ~ /^(kernel\/drivers\/(vfio|iommu)|updates)\// {
			print $1; n = split($2, d, " "); for (i = 1; i <= n; i++) print d[i]
		}' "$mdir/modules.dep" | sort -u
}

list_modules() {
	local mroot=${VPA_MODROOT:-$KOUT/modroot}/lib/modules/$KREL m f
	[ -e "$mroot/modules.dep" ] || die "no $mroot/modules.dep (modules_install not done?)"
	while read -r m; do
		file "/lib/modules/$KREL/$m" "$mroot/$m" 0644
	done < <(module_closure "$mroot")
	for f in "$mroot"/modules.*; do
		file "/lib/modules/$KREL/${f##*/}" "$f" 0644
	done
}

list_vpa() {
	local f
	file /vpa/lib.sh "$GUEST/lib.sh" 0644
	file /vpa/run-harness.sh "$GUEST/run-harness.sh" 0755
	dir /vpa/tests
	dir /vpa/suites
	for f in "$GUEST"/tests/*; do file "/vpa/tests/${f##*/}" "$f" 0755; done
	for f in "$GUEST"/suites/*; do file "/vpa/suites/${f##*/}" "$f" 0644; done
	if [ -e "$MODULE" ]; then
		file /vpa/vfio_pci_alias.ko "$MODULE" 0644
	elif [ -n "${VPA_MODULE:-}" ]; then
		die "VPA_MODULE=$VPA_MODULE does not exist"
	else
		log "warning: $MODULE not built; the image has no vfio_pci_alias.ko"
	fi
	# The drop-in build, next to it: the guest loads it in place of the
	# kernel's vfio-pci where a test asks for it.
	if [ -e "$(dirname "$MODULE")/vfio-pci.ko" ]; then
		file /vpa/vfio-pci.ko "$(dirname "$MODULE")/vfio-pci.ko" 0644
	fi
	if [ -n "${VPA_GUEST_BIN:-}" ]; then
		[ -d "$VPA_GUEST_BIN" ] || die "VPA_GUEST_BIN=$VPA_GUEST_BIN is not a directory"
		dir /vpa/bin
		for f in "$VPA_GUEST_BIN"/*; do
			[ -f "$f" ] && file "/vpa/bin/${f##*/}" "$(realpath "$f")" 0755
		done
	fi
}

list_extra() {
	local arg src dest
	for arg in "$@"; do
		src=${arg%%=*}
		dest=/vpa/extra/$(basename "$src")
		[ "$arg" = "$src" ] || dest=${arg#*=}
		[ -f "$src" ] || die "extra file $src does not exist"
		case $dest in /*) ;; *) die "extra destination $dest is not absolute" ;; esac
		file "$dest" "$(realpath "$src")"
	done
}

# The entries of VPA_EXTRA_LIST.
list_list() {
	local what dest src mode
	[ -n "${VPA_EXTRA_LIST:-}" ] || return 0
	[ -r "$VPA_EXTRA_LIST" ] || die "VPA_EXTRA_LIST=$VPA_EXTRA_LIST is not readable"
	while read -r what dest src mode; do
		case $what in
		file)
			[ -f "$src" ] || die "$VPA_EXTRA_LIST: $src does not exist"
			file "$dest" "$src" "$mode" ;;
		slink)
			dir "$(dirname "$dest")"
			echo "slink $dest $src 0777 0 0" ;;
		dir) dir "$dest" ;;
		""|"#"*) ;;
		*) die "$VPA_EXTRA_LIST: unknown entry '$what'" ;;
		esac
	done <"$VPA_EXTRA_LIST"
}

main() {
	[ $# -ge 2 ] || usage
	KOUT=$(cd "$1" && pwd) || die "no kernel build directory $1"
	local out=$2
	shift 2
	KREL=$(cat "$KOUT/include/config/kernel.release")
	MODULE=${VPA_MODULE:-$REPO/vfio_pci_alias.ko}
	local gen=$KOUT/usr/gen_init_cpio
	[ -x "$gen" ] || die "no $gen (kernel built without CONFIG_BLK_DEV_INITRD?)"
	[ -x "$BUSYBOX" ] || die "no static busybox at $BUSYBOX"

	WORK=$(mktemp -d)
	trap 'rm -rf "$WORK"' EXIT
	{ list_base; list_modules; list_vpa; list_extra "$@"; list_list; } >"$WORK/list"
	# gen_init_cpio expands ${VAR} in paths; none of ours contain '$'.
	grep -q '\$' "$WORK/list" && die "a path contains '\$'"
	"$gen" -t 0 "$WORK/list" | gzip -n -6 >"$out.tmp"
	mv "$out.tmp" "$out"
	log "initramfs $out ($(du -h "$out" | cut -f1), kernel $KREL," \
		"module $( [ -e "$MODULE" ] && echo "$MODULE" || echo none))"
}

main "$@"
