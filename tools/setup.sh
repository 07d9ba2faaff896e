#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install, idempotently, everything the module build and the QEMU tests need,
# from Debian's archive and crates.io only:
#
#   - kernel build dependencies, rustc-web + rust-web-src (bookworm-security),
#     libclang-19-dev, busybox-static; Debian's DPDK (libdpdk-dev, dpdk for
#     dpdk-devbind.py), pciutils and pkg-config for the dpdk suite;
#   - qemu-system-x86 >= 8 from bookworm-backports (a backports suite is kept
#     at priority 100 by apt, so nothing is upgraded from it implicitly);
#   - bindgen-cli 0.72.1 via `cargo install --locked` into the cache;
#   - the newest linux-source-7.3.x from trixie-backports, downloaded with a
#     project-local apt configuration so the system's sources never name trixie.
#
# A user with a Rust-enabled 7.3 tree passes KDIR= to make and skips this.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive

bpo=/etc/apt/sources.list.d/vfio-pci-alias-bookworm-backports.sources
need_update=0
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	log "adding bookworm-backports (priority 100) to apt sources"
	$sudo tee "$bpo" >/dev/null <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	need_update=1
fi

pkgs=(build-essential flex bison bc cpio kmod libelf-dev libssl-dev
      python3 rsync xz-utils zstd git
      rustc-web rust-web-src rust-web-clippy libclang-19-dev llvm-19 clang-19 lld-19
      busybox-static file
      libdpdk-dev dpdk pciutils pkg-config)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
qemu_ok=0
if command -v qemu-system-x86_64 >/dev/null; then
	v=$(qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
	[ "${v:-0}" -ge 8 ] && qemu_ok=1
fi
if [ ${#missing[@]} -gt 0 ] || [ $qemu_ok = 0 ]; then
	if [ $need_update = 1 ] || [ ! -e /var/lib/apt/lists/lock ] ||
	   ! apt-cache policy rustc-web 2>/dev/null | grep -q 'Candidate: 1\.9'; then
		$sudo apt-get update -q
	fi
	# bookworm-backports may not have been in the lists yet.
	apt-cache policy qemu-system-x86 | grep -q bookworm-backports || $sudo apt-get update -q
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing: ${missing[*]}"
		$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
	if [ $qemu_ok = 0 ]; then
		log "installing qemu-system-x86 from bookworm-backports"
		$sudo apt-get install -y -q --no-install-recommends \
			-t bookworm-backports qemu-system-x86 qemu-system-data ipxe-qemu seabios
	fi
fi

# bindgen-cli, pinned, into the cache (never into the repository).
if [ ! -x "$BINDGEN" ] || ! "$BINDGEN" --version | grep -q "$BINDGEN_VERSION"; then
	log "cargo install bindgen-cli $BINDGEN_VERSION"
	LIBCLANG_PATH=$LIBCLANG_PATH cargo install --locked --root "$CACHE/bindgen" \
		bindgen-cli --version "$BINDGEN_VERSION"
fi

# linux-source-7.3 from trixie-backports through a private apt configuration.
src_tar=$(ls -1 "$CACHE"/src/linux-source-7.3*.tar.xz 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$src_tar" ]; then
	apt_root=$CACHE/apt
	mkdir -p "$apt_root/lists/partial" "$apt_root/archives/partial" "$CACHE/src"
	cat >"$apt_root/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
SRC
	aptopt=(-o Dir::Etc::SourceList="$apt_root/sources.list"
		-o Dir::Etc::SourceParts=/dev/null
		-o Dir::State::Lists="$apt_root/lists"
		-o Dir::Cache::Archives="$apt_root/archives"
		-o Dir::Cache::pkgcache="" -o Dir::Cache::srcpkgcache=""
		-o APT::Default-Release="" )
	log "fetching trixie-backports package lists (private apt state)"
	apt-get "${aptopt[@]}" update -q
	ver=$(apt-cache "${aptopt[@]}" madison linux-source-7.3 | awk '{print $3}' | sort -V | tail -n1)
	[ -n "$ver" ] || die "linux-source-7.3 not found in trixie-backports"
	log "downloading linux-source-7.3 $ver"
	(cd "$CACHE/src" && apt-get "${aptopt[@]}" download "linux-source-7.3=$ver")
	deb=$(ls -1 "$CACHE"/src/linux-source-7.3_*.deb | sort -V | tail -n1)
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$CACHE/src" --wildcards \
		--strip-components=3 './usr/src/linux-source-7.3*.tar.xz'
	rm -f "$deb"
	echo "$ver" >"$CACHE/src/linux-source-7.3.version"
	src_tar=$(ls -1 "$CACHE"/src/linux-source-7.3*.tar.xz | sort -V | tail -n1)
fi
log "kernel source: $src_tar"
