# SPDX-License-Identifier: GPL-2.0
# Shared settings for the tools/ scripts. Sourced, not executed.

VPA_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VPA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-pci-alias}
BINDGEN_VERSION=0.72.1
BINDGEN=$CACHE/bindgen/bin/bindgen
RUSTC=/usr/bin/rustc        # rustc-web 1.96 (bookworm-security)
RUSTDOC=/usr/bin/rustdoc
HOSTRUSTC=$RUSTC
LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
export LIBCLANG_PATH
mkdir -p "$CACHE"

log() { printf '[vfio-pci-alias] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The test kernel: variant "debug" (lockdep, RCU, atomic-sleep checks) or
# "kasan" (the same plus KASAN and kmemleak).
VARIANT=${VARIANT:-debug}
case $VARIANT in
debug) FRAGMENTS=("$VPA_TOOLS/kconfig/test.config") ;;
kasan) FRAGMENTS=("$VPA_TOOLS/kconfig/test.config" "$VPA_TOOLS/kconfig/kasan.config") ;;
*) echo "unknown VARIANT=$VARIANT" >&2; exit 2 ;;
esac

# Kernel make arguments shared by the kernel and the module build.
# Rust with KASAN needs a Clang-built kernel (init/Kconfig: !KASAN ||
# CC_IS_CLANG): the kasan variant builds with Debian's LLVM 19.
kmake_args() {
	printf '%s\n' ARCH=x86_64 "RUSTC=$RUSTC" "RUSTDOC=$RUSTDOC" \
		"HOSTRUSTC=$HOSTRUSTC" "BINDGEN=$BINDGEN"
	[ "$VARIANT" != kasan ] || echo LLVM=-19
}

kernel_src_tar() {
	ls -1 "$CACHE"/src/linux-source-7.3*.tar.xz 2>/dev/null | sort -V | tail -n1
}

# Cache key: source tarball, fragments, toolchain. Prints the build directory.
kernel_build_dir() {
	local tar key
	tar=$(kernel_src_tar)
	[ -n "$tar" ] || return 1
	key=$( { cat "$CACHE/src/linux-source-7.3.version"; cat "${FRAGMENTS[@]}"; "$RUSTC" --version;
		 gcc --version | head -n1; "$BINDGEN" --version 2>/dev/null; } |
		sha256sum | cut -c1-12)
	printf '%s/build/%s-%s-%s\n' "$CACHE" "$(cat "$CACHE/src/linux-source-7.3.version" | sed 's/[^0-9.].*//')" "$VARIANT" "$key"
}

# What tools/bench.sh and tools/soak.sh share: the test kernel, a test image
# with the module and our guest programs built into $OUT (the caller sets
# OUT), one QEMU boot of it and the header line of the report.
VPA_REPO=$(dirname "$VPA_TOOLS")

# build LOG COMMAND...: a quiet build step; its output in $OUT/LOG.
build() {
	local log=$OUT/$1
	shift
	"$@" >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "failed: $* (see $log)"; }
}

# KDIR if set, else set-up and the cached test kernel of VARIANT; exports
# KDIR and KSRC.
use_test_kernel() {
	if [ -z "${KDIR:-}" ]; then
		bash "$VPA_TOOLS/setup.sh"
		bash "$VPA_TOOLS/kernel.sh" >/dev/null
		KDIR=$(bash "$VPA_TOOLS/kernel.sh" --print-dir)
	fi
	KSRC=$(cd "$KDIR/source" && pwd)
	export KDIR KSRC
}

# importer_module BUILD DEST: the tests' P2P DMABUF importer
# (tools/testing/vfio_pci_alias/importer) built against $KDIR in BUILD, and
# its vpa_importer.ko copied into DEST.
importer_module() {
	local build=$1 dest=$2
	mkdir -p "$build" "$dest"
	# shellcheck disable=SC2046
	make -C "$KDIR" M="$VPA_REPO/tools/testing/vfio_pci_alias/importer" \
		MO="$build" $(kmake_args) W=1 modules || return 1
	cp "$build/vpa_importer.ko" "$dest/"
}

# our_guest_programs DIR: our guest programs into DIR (emptied first), not the
# cache's guest-bin/ that `make check` fills; the uapi headers come from the
# cache (tools/selftests.sh installs them, as for make check and make demo).
our_guest_programs() {
	local bin=$1 hdr
	hdr=$CACHE/headers/$(cat "$CACHE/src/linux-source-7.3.version")/include
	[ -d "$hdr" ] || bash "$VPA_TOOLS/selftests.sh" "$CACHE/guest-bin/upstream"
	[ -d "$hdr" ] || die "no uapi headers in $hdr"
	rm -rf "$bin"
	mkdir -p "$bin"
	make -C "$VPA_REPO/tools/testing/vfio_pci_alias" KSRC="$KSRC" \
		KHDR_INCLUDES="-isystem $hdr" OUTPUT="$bin" || return 1
	importer_module "$bin.importer" "$bin"
}

# test_image NAME: the module, the guest programs in $OUT/NAME-bin and a
# test image with them, $OUT/initramfs-NAME.cpio.gz; the build logs in
# $OUT/NAME-build.log, NAME-guest-programs.log and NAME-initramfs.log.
test_image() {
	build "$1-build.log" make -C "$VPA_REPO" KDIR="$KDIR" modules
	build "$1-guest-programs.log" our_guest_programs "$OUT/$1-bin"
	build "$1-initramfs.log" env VPA_GUEST_BIN="$OUT/$1-bin" \
		bash "$VPA_TOOLS/initramfs.sh" "$KDIR" "$OUT/initramfs-$1.cpio.gz"
}

# boot_image NAME TIMEOUT APPEND [QEMU.SH-ARGS...]: one QEMU boot (IOMMU
# mode) of test_image NAME's image, suite NAME, with the guest kernel
# arguments APPEND; the console log in $OUT/NAME.log, qemu.sh's results in
# $OUT/NAME.results. Returns qemu.sh's exit status.
boot_image() {
	bash "$VPA_TOOLS/qemu.sh" --kernel "$KDIR/arch/x86/boot/bzImage" \
		--initrd "$OUT/initramfs-$1.cpio.gz" --suite "$1" --mode iommu \
		--log "$OUT/$1.log" --timeout "$2" --append "$3" "${@:4}" >"$OUT/$1.results"
}

# The commit the module was built from, "+changes" if its sources differ.
module_rev() {
	local rev
	rev=$(git -C "$VPA_REPO" rev-parse --short HEAD 2>/dev/null) || { echo '?'; return; }
	[ -z "$(git -C "$VPA_REPO" status --porcelain -- rust include Kbuild)" ] || rev+="+changes"
	echo "$rev"
}

# run_header NAME DETAILS...: the header line of make NAME's report: date,
# host, QEMU, kernel, module, then DETAILS.
run_header() {
	local name=$1 cpu qemu
	shift
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	qemu=$(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([^ ]*\).*/\1/p')
	echo "vfio-pci-alias $name: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m)," \
		"host CPU ${cpu:-unknown} ($(nproc) threads), QEMU ${qemu:-?} (TCG)," \
		"kernel $(cat "$KDIR/include/config/kernel.release") ($VARIANT)," \
		"module $(module_rev)," "$@"
}
