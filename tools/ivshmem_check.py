#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host side of wc_test's ivshmem check: the guest stored a xorshift32
stream (seed SEED) through a WC alias at OFFSET of ivshmem's BAR2; the bytes
must be in QEMU's backing FILE, exactly.

    ivshmem_check.py FILE OFFSET LENGTH SEED
"""
import struct
import sys


def xorshift32(seed, count):
    s = seed
    for _ in range(count):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        yield s


def main():
    path, off, length, seed = sys.argv[1], *map(int, sys.argv[2:5])
    want = struct.pack(f"<{length // 4}I", *xorshift32(seed, length // 4))
    with open(path, "rb") as f:
        f.seek(off)
        got = f.read(length)
    if got == want:
        return 0
    bad = next(i for i in range(min(len(got), len(want))) if got[i] != want[i]) \
        if len(got) == len(want) else len(got)
    print(f"ivshmem_check: {path}: first difference at byte {off + bad}", file=sys.stderr)
    return 1


sys.exit(main())
