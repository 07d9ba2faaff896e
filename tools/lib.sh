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
