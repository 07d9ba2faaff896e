#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The driver folder holds policy only: no `unsafe` and no use of the
# bindings in rust/driver.rs and rust/driver/, outside comments. Every
# abstraction over the C side is in rust/staging/. Lists each offending line
# and exits 1 if there is one.

set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

# Code lines: drop `//` comments (doc comments included) before matching.
found=$(grep -nE '' rust/driver.rs $(find rust/driver -name '*.rs' | sort) |
	awk -F: '{ line = $0; code = substr(line, length($1) + length($2) + 3);
		   sub(/\/\/.*/, "", code);
		   if (code ~ /(^|[^A-Za-z0-9_])unsafe([^A-Za-z0-9_]|$)/ ||
		       code ~ /bindings::|staging::bindings|use[^;]*bindings/)
			   print line }')
if [ -n "$found" ]; then
	echo "rust/driver must hold policy only (no unsafe, no bindings):"
	echo "$found"
	exit 1
fi
echo "rust/driver: no unsafe, no bindings ($(cat rust/driver.rs rust/driver/*.rs | wc -l) lines)"
