#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Generate Rust bindings for the kernel headers our module needs beyond what
# the kernel crate's `bindings` covers (vfio, vfio_pci_core, our uapi), with
# the kernel's own bindgen, bindgen parameters and final C flags.
#
# Called from Kbuild:
#   bindgen.sh BINDGEN SRCTREE OBJTREE HEADER OUTPUT
#
# The C flags are those the kernel used for its own bindings, read back from
# the saved command of rust/bindings/bindings_generated.rs. Every type that the
# kernel crate's bindings already define is blocklisted, so the generated code
# refers to `kernel::bindings::<type>` (glob-imported by rust/staging/bindings.rs)
# and `struct pci_dev` stays one Rust type across the two crates.

set -euo pipefail
bindgen=$1 srctree=$2 objtree=$3
header=$(realpath "$4")
mkdir -p "$(dirname "$5")"
output=$(realpath "$5")

cmdfile=$objtree/rust/bindings/.bindings_generated.rs.cmd
kbind=$objtree/rust/bindings/bindings_generated.rs
[ -r "$cmdfile" ] && [ -r "$kbind" ] ||
	{ echo "bindgen.sh: $objtree has no Rust bindings (CONFIG_RUST?)" >&2; exit 1; }

# The C flags follow " -- " on the saved command line, up to the sed that
# post-processes the output. Drop the dependency-file and per-object defines.
cflags=$(sed -n '1{s/^[^=]*:= //;s/.* -- //;s/ ; sed.*//;p}' "$cmdfile")
eval "set -- $cflags"
keep=()
for f in "$@"; do
	case $f in
	-Wp,-MMD,*|-DKBUILD_*|-D__KBUILD_MODNAME=*) ;;
	*) keep+=("$f") ;;
	esac
done

params=()
while IFS= read -r line; do
	case $line in ''|'#'*) continue ;; esac
	eval "params+=($line)"
done <"$srctree/rust/bindgen_parameters"

blocklist=()
while IFS= read -r name; do
	blocklist+=(--blocklist-type "$name")
done < <(grep -oE '^pub (struct|union|type|enum) [A-Za-z0-9_]+' "$kbind" |
	 awk '$3 !~ /^_bindgen_ty_/ {print $3}' | sort -u)

# The kernel's C flags name generated headers relative to its build directory.
cd "$objtree"
"$bindgen" "$header" "${params[@]}" "${blocklist[@]}" \
	--rust-target 1.85 --use-core --with-derive-default --ctypes-prefix ffi \
	--no-layout-tests --no-debug '.*' --enable-function-attribute-detection \
	--allowlist-type 'vfio_.*' --allowlist-function '_{0,2}vfio_.*|vpa_.*|dma_buf_.*|dma_resv_.*' \
	--allowlist-item 'VFIO_.*|VPA_.*' --allowlist-var 'vfio_.*' \
	--allowlist-item 'pci_error_handlers' \
	-o "$output.tmp" -- "${keep[@]}" \
	-DKBUILD_MODNAME='"vfio_pci_alias"' -I"$(dirname "$header")/../../include"
mv "$output.tmp" "$output"
