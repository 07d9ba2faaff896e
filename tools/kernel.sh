#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the Rust-enabled 7.3 test kernel out of tree into the cache, keyed by
# kernel version, variant and a hash of the config fragments and toolchain.
# Prints the build directory on stdout; a second run finds it and returns.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

tar=$(kernel_src_tar)
[ -n "$tar" ] || [ "${1:-}" != --print-dir ] || exit 1
[ -n "$tar" ] || die "no linux-source-7.3 in $CACHE/src: run tools/setup.sh"
src=$CACHE/src/$(basename "$tar" .tar.xz)
out=$(kernel_build_dir)

if [ -e "$out/.vpa-done" ]; then
	echo "$out"
	exit 0
fi
# --print-dir: only tell where a finished build is (for the Makefile's KDIR).
[ "${1:-}" != --print-dir ] || exit 1

if [ ! -e "$src/.vpa-unpacked" ]; then
	log "unpacking $(basename "$tar")"
	rm -rf "$src"
	tar -xf "$tar" -C "$CACHE/src"
	touch "$src/.vpa-unpacked"
fi

mapfile -t kargs < <(kmake_args)
mkdir -p "$out"
log "configuring $out"
make -s -C "$src" O="$out" "${kargs[@]}" tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${FRAGMENTS[@]}" >/dev/null
make -s -C "$src" O="$out" "${kargs[@]}" olddefconfig

# merge_config drops what Kconfig rejects without failing: insist on the
# options the tests depend on.
missing=0
for f in "${FRAGMENTS[@]}"; do
	while IFS= read -r line; do
		case $line in
		CONFIG_*=y|CONFIG_*=m)
			grep -qx "$line" "$out/.config" || { log "not set: $line"; missing=1; } ;;
		esac
	done <"$f"
done
if [ $missing = 1 ]; then
	make -s -C "$src" O="$out" "${kargs[@]}" rustavailable || true
	die "the kernel configuration lacks required options (see above)"
fi

log "building the $VARIANT test kernel (about 15 minutes on 2 cores)"
make -C "$src" O="$out" "${kargs[@]}" -j"$(nproc)" bzImage modules >"$out/build.log" 2>&1 ||
	{ tail -n 40 "$out/build.log" >&2; die "kernel build failed (log: $out/build.log)"; }
rm -rf "$out/modroot"
make -s -C "$src" O="$out" "${kargs[@]}" INSTALL_MOD_PATH="$out/modroot" modules_install >/dev/null
touch "$out/.vpa-done"
echo "$out"
