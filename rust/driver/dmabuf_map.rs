// SPDX-License-Identifier: GPL-2.0

//! mmap() of a DMABUF of ours, and its faults.
//!
//! A VMA keeps the offset mmap() was given: page `vm_pgoff` of the DMABUF is
//! at the VMA's start. Its memory type is the DMABUF's memory attribute at
//! mmap() time, held in the BAR's layout as for the device file's own
//! mappings ([`super::bars`], [`super::windows`]):
//!
//! - each uncached VMA of the DMABUF holds an uncached mapping of the BAR,
//!   as the BAR region's VMAs do, counted without a lock (`EBUSY` while the
//!   BAR is write-combining as a whole), and its faults are refused the
//!   pages of active windows;
//! - its first write-combining VMA makes each of its ranges a window, in a
//!   window slot of its own: their pages are write-combining in the kernel
//!   and for every user mapping while it exists.
//!
//! An uncached VMA gives its hold back when it goes, the last
//! write-combining one the windows, unless a revoke gave them up first. A
//! fault of a revoked DMABUF gets SIGBUS.

use super::{
    alias::Span,
    dmabuf::{DmaBuf, NC_RELEASED},
};
use crate::staging::{
    dma_buf::{DmaBufMmap, Exported},
    mm::pfnmap::{self, Fault, PfnMapOps, VmFault, VM_FAULT_FALLBACK, VM_FAULT_SIGBUS},
    uapi,
    vfio::{self, NUM_BARS},
};
use kernel::{
    mm::virt::VmaRef,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    sync::atomic::{Full, Relaxed},
};

/// VMA operations of a DMABUF mapping; write-combining if `WC`.
struct DmaBufMap<const WC: bool>;

impl<const WC: bool> PfnMapOps for DmaBufMap<WC> {
    type Owner = Exported<DmaBuf>;

    fn open(buf: &Exported<DmaBuf>, _tag: usize, _vma: &VmaRef) {
        if !WC {
            // The original VMA holds the BAR uncached: no switch can happen.
            buf.dev.bars.dup(buf.bar, false);
            if !count_nc(buf) {
                buf.dev.bars.unmap(buf.dev.core(), buf.bar, false);
            }
            return;
        }
        buf.maps.lock().wc += 1;
    }

    fn close(buf: &Exported<DmaBuf>, _tag: usize, _vma: &VmaRef) {
        let (dev, bar) = (&buf.dev, buf.bar);
        if !WC {
            if uncount_nc(buf) {
                dev.bars.unmap(dev.core(), bar, false);
            }
            return;
        }
        let mut maps = buf.maps.lock();
        maps.wc = maps.wc.saturating_sub(1);
        if maps.wc > 0 || maps.released {
            return;
        }
        dev.bars
            .unmap_dmabuf_windows(dev.core(), bar, &maps.windows);
        maps.windows.clear();
    }

    fn fault(buf: &Exported<DmaBuf>, _tag: usize, vmf: &Fault, order: u32) -> VmFault {
        fault(buf, vmf, order, WC)
    }
}

/// Counts an uncached VMA of `buf` that has taken its hold: `false` if a
/// revoke gave the holds back, and the VMA must give its own back.
fn count_nc(buf: &DmaBuf) -> bool {
    let mut old = buf.nc.load(Relaxed);
    while old & NC_RELEASED == 0 {
        match buf.nc.cmpxchg(old, old + 1, Full) {
            Ok(_) => return true,
            Err(now) => old = now,
        }
    }
    false
}

/// Uncounts an uncached VMA of `buf` that went: `true` if it still had its
/// hold to give back.
fn uncount_nc(buf: &DmaBuf) -> bool {
    let mut old = buf.nc.load(Relaxed);
    while old & NC_RELEASED == 0 && old > 0 {
        match buf.nc.cmpxchg(old, old - 1, Full) {
            Ok(_) => return true,
            Err(now) => old = now,
        }
    }
    false
}

/// Serves a fault of a mapping of `buf` at page order `order`: a huge entry
/// must fit in the VMA and in one range, and be aligned in both.
#[inline]
fn fault(buf: &Exported<DmaBuf>, vmf: &Fault, order: u32, wc: bool) -> VmFault {
    let (start, end, pgoff) = vmf.vma_span();
    let span = PAGE_SIZE << order;
    let addr = vmf.address() & !(span - 1);
    if order > 0 && (addr < start || addr + span > end) {
        return VM_FAULT_FALLBACK;
    }
    let (pmd, pud) = pfnmap::huge_orders();
    if order > 0 && order != pmd && order != pud {
        return VM_FAULT_FALLBACK;
    }
    let page = (pgoff + (addr - start) / PAGE_SIZE) as u64;
    let Some((range, in_range)) = buf.locate(page) else {
        return VM_FAULT_SIGBUS;
    };
    // Aligned to the order within the range too (the PFN's alignment is
    // checked where it is made).
    if in_range & ((1 << order) - 1) != 0 {
        return VM_FAULT_FALLBACK;
    }
    let dev = &buf.dev;
    let at = buf.ranges[range].bar_off + (in_range << PAGE_SHIFT);
    // Under `memory_lock`, which a revoke and window changes hold for
    // writing.
    let refuse = || {
        if buf.revoked.load(Relaxed) {
            return Some(VM_FAULT_SIGBUS);
        }
        let hit = !wc && dev.bars.cache().hit(buf.bar, at, at + span as u64);
        match (hit, order) {
            (false, _) => None,
            (true, 0) => Some(VM_FAULT_SIGBUS),
            (true, _) => Some(VM_FAULT_FALLBACK),
        }
    };
    dev.core()
        .insert_range_pfn(vmf, buf.phys(), range, in_range, order, refuse)
}

/// mmap() of `buf`: `MAP_SHARED` only (`EINVAL`), `ENODEV` once revoked;
/// dma-buf core checked that the mapping lies within the DMABUF.
///
/// The VMA sits at the DMABUF's offsets in the device file's mapping, and
/// core zaps the offsets of the BARs only, `[0, offset of the ROM)`, when
/// memory decoding goes off or the device resets: a mapping that ends past
/// them would keep its PTEs, so it gets `EINVAL` (a DMABUF of more than
/// 6 TiB repeats a range many times over).
pub(super) fn mmap(buf: &Exported<DmaBuf>, vma: &DmaBufMmap<'_, DmaBuf>) -> Result {
    if !vma.is_shared() {
        return Err(EINVAL);
    }
    let end = (vma.pgoff() as u64)
        .checked_add((vma.len() >> PAGE_SHIFT) as u64)
        .and_then(|pages| pages.checked_mul(PAGE_SIZE as u64))
        .ok_or(EINVAL)?;
    if end > vfio::index_to_offset(NUM_BARS as u32) {
        return Err(EINVAL);
    }
    let wc = buf.memattr.load(Relaxed) == uapi::MEMATTR_WC;
    let (dev, bar) = (&buf.dev, buf.bar);
    let core = dev.core();
    if !wc {
        // Without a lock, as for the BAR region's uncached mmap(): a revoke
        // after the check gives the VMA's hold back, or has (`count_nc`).
        if buf.revoked.load(Relaxed) {
            return Err(ENODEV);
        }
        dev.bars.bar_usable(core, bar)?;
        dev.bars.map(core, bar, false)?;
        if !count_nc(buf) {
            dev.bars.unmap(core, bar, false);
            return Err(ENODEV);
        }
        vma.install::<DmaBufMap<false>>(false);
        return Ok(());
    }
    let mut maps = buf.maps.lock();
    if buf.revoked.load(Relaxed) || maps.released {
        return Err(ENODEV);
    }
    if maps.wc == 0 {
        let mut spans = KVec::with_capacity(buf.ranges.len(), GFP_KERNEL)?;
        for r in buf.ranges.iter() {
            spans.push(
                Span {
                    index: bar as u32,
                    start: r.bar_off,
                    size: r.len,
                },
                GFP_KERNEL,
            )?;
        }
        maps.windows = dev.bars.map_dmabuf_windows(core, bar, &spans)?;
    }
    maps.wc += 1;
    vma.install::<DmaBufMap<true>>(true);
    Ok(())
}
