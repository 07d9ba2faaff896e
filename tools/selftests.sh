#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the upstream VFIO selftests (tools/testing/selftests/vfio) of the
# cached 7.3 source tree as static binaries for the busybox guest.
#
#   tools/selftests.sh OUTDIR
#
# OUTDIR receives the test binaries (and nothing else at its top level, so it
# can be handed to tools/initramfs.sh as VPA_GUEST_BIN). The object files
# live in OUTDIR/.obj. A rebuild is skipped when OUTDIR/.vpa-selftests-key
# matches the source version and compiler. The upstream sources are not
# modified: the uapi headers come from `make headers_install` into the cache.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# Built in this order; the first four are required, the rest best effort.
REQUIRED_TESTS=(vfio_pci_device_test vfio_pci_driver_test
	vfio_dma_mapping_test vfio_iommufd_setup_test)
OPTIONAL_TESTS=(vfio_dma_mapping_mmio_test vfio_pci_device_init_perf_test
	vfio_pci_sriov_uapi_test)

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }

src_dir() {
	local tar
	tar=$(kernel_src_tar)
	[ -n "$tar" ] || die "no linux-source-7.3 in $CACHE/src: run tools/setup.sh"
	local src=$CACHE/src/$(basename "$tar" .tar.xz)
	[ -e "$src/.vpa-unpacked" ] || die "$src is not unpacked: run tools/kernel.sh"
	echo "$src"
}

# Everything the binaries depend on apart from the sources themselves.
build_key() {
	{ cat "$CACHE/src/linux-source-7.3.version"; gcc --version | head -n1
	  printf '%s\n' "${REQUIRED_TESTS[@]}" "${OPTIONAL_TESTS[@]}"
	  sha256sum "$0" | cut -d' ' -f1; } | sha256sum | cut -c1-16
}

# Sanitised uapi headers, installed once per source version. O= keeps the
# source tree clean (the kernel build uses O= too).
install_headers() {
	local src=$1 hdr=$2
	[ -e "$hdr/.vpa-done" ] && return 0
	log "installing uapi headers into $hdr"
	rm -rf "$hdr"
	mkdir -p "$hdr/obj"
	make -s -C "$src" O="$hdr/obj" ARCH=x86_64 INSTALL_HDR_PATH="$hdr" \
		headers_install >/dev/null
	rm -rf "$hdr/obj"
	touch "$hdr/.vpa-done"
}

# make one test program. The selftests Makefile puts objects under OUTPUT;
# LDFLAGS replaces the Makefile's own "-pthread", so repeat it.
make_test() {
	local src=$1 hdr=$2 obj=$3 t=$4
	make -C "$src/tools/testing/selftests/vfio" ARCH=x86_64 \
		OUTPUT="$obj" KHDR_INCLUDES="-isystem $hdr/include" \
		LDFLAGS="-static -pthread" "$obj/$t" >>"$obj/build.log" 2>&1
}

main() {
	[ $# = 1 ] || usage
	local out src hdr obj key t
	mkdir -p "$1"
	out=$(cd "$1" && pwd)
	src=$(src_dir)
	key=$(build_key)
	if [ "$(cat "$out/.vpa-selftests-key" 2>/dev/null)" = "$key" ]; then
		log "selftests already built in $out"
		return 0
	fi
	hdr=$CACHE/headers/$(cat "$CACHE/src/linux-source-7.3.version")
	install_headers "$src" "$hdr"

	obj=$out/.obj
	rm -rf "$obj" "$out"/vfio_*
	mkdir -p "$obj"
	for t in "${REQUIRED_TESTS[@]}" "${OPTIONAL_TESTS[@]}"; do
		log "building $t"
		if ! make_test "$src" "$hdr" "$obj" "$t"; then
			case " ${REQUIRED_TESTS[*]} " in
			*" $t "*) tail -n 30 "$obj/build.log" >&2
				  die "building $t failed (log: $obj/build.log)" ;;
			esac
			log "warning: optional $t did not build (log: $obj/build.log)"
			continue
		fi
		# Refuse anything that would need a dynamic loader in the guest.
		if file -L "$obj/$t" 2>/dev/null | grep -q 'dynamically linked'; then
			die "$t is not statically linked"
		fi
		install -m 0755 "$obj/$t" "$out/$t"
	done
	echo "$key" >"$out/.vpa-selftests-key"
	log "selftests in $out: $(cd "$out" && echo vfio_*)"
}

main "$@"
