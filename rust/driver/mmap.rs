// SPDX-License-Identifier: GPL-2.0

//! mmap() of BARs and of their aliases.
//!
//! Both get our own VMA operations: `open`/`close` count the BAR's mappings
//! for its memory type ([`super::bars`]) and the fault handler inserts the
//! BAR's PFNs through core's `vfio_pci_vmf_insert_pfn()` under
//! `memory_lock`, as core's handler does.
//!
//! An alias VMA's `vm_pgoff` is that of the same offset in the aliased BAR's
//! region. Core zaps BAR mappings (reset, memory decode off, low power, hot
//! reset) with `unmap_mapping_range()` over the BAR regions' offsets of the
//! device inode's mapping, so it zaps alias mappings too, with no hook into
//! core. The price: `/proc/<pid>/maps` shows the aliased BAR's offset.
//!
//! A window alias's VMAs get operations of their own ([`WindowMap`]), tagged
//! with the alias's position, so that each mapping is counted against its
//! window. A fault of an uncached VMA of a BAR on a page of an active window
//! is refused: SIGBUS, or a fallback to smaller pages for a huge fault that
//! would cover one ([`super::alias_cache`]).

use super::{
    alias::{Alias, MAX_ALIASES},
    AliasDevice, Device,
};
use crate::staging::{
    mm::pfnmap::{self, Fault, PfnMapOps, VmFault, MAX_TAGS, VM_FAULT_FALLBACK, VM_FAULT_SIGBUS},
    vfio::{self, Mmap, NUM_BARS},
};
use kernel::{
    mm::virt::VmaRef,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
};

// Every alias can tag its window's VMAs.
const _: () = assert!(MAX_ALIASES <= MAX_TAGS);

/// Page offset bits of a region offset.
const PGOFF_SHIFT: u32 = vfio::OFFSET_SHIFT - PAGE_SHIFT as u32;

fn bar_of(vma: &VmaRef) -> usize {
    pfnmap::pgoff(vma) >> PGOFF_SHIFT
}

/// VMA operations of a BAR mapping; write-combining if `WC` (an alias).
struct BarMap<const WC: bool>;

impl<const WC: bool> PfnMapOps for BarMap<WC> {
    type Owner = Device;

    fn open(dev: &Device, _tag: usize, vma: &VmaRef) {
        dev.bars.dup(bar_of(vma), WC);
    }

    fn close(dev: &Device, _tag: usize, vma: &VmaRef) {
        dev.bars.unmap(dev.core(), bar_of(vma), WC);
    }

    fn fault(dev: &Device, _tag: usize, vmf: &Fault, order: u32) -> VmFault {
        fault(dev, vmf, order, !WC)
    }
}

/// VMA operations of a mapping of a window alias, tagged with the alias's
/// position and counted against its window ([`super::bars::Bars::map_window`]);
/// write-combining.
struct WindowMap;

impl PfnMapOps for WindowMap {
    type Owner = Device;

    fn open(dev: &Device, tag: usize, _vma: &VmaRef) {
        if let Some(slot) = dev.bars.cache().slot(tag) {
            dev.bars.dup_window(slot);
        }
    }

    fn close(dev: &Device, tag: usize, vma: &VmaRef) {
        if let Some(slot) = dev.bars.cache().slot(tag) {
            dev.bars.unmap_window(dev.core(), slot, bar_of(vma));
        }
    }

    fn fault(dev: &Device, _tag: usize, vmf: &Fault, order: u32) -> VmFault {
        fault(dev, vmf, order, false)
    }
}

/// Serves a fault of a BAR mapping at page order `order`. An uncached
/// mapping (`uncached`) is refused pages of active windows.
#[inline]
fn fault(dev: &Device, vmf: &Fault, order: u32, uncached: bool) -> VmFault {
    let (start, end, pgoff) = vmf.vma_span();
    let bar = pgoff >> PGOFF_SHIFT;
    let span = PAGE_SIZE << order;
    let addr = vmf.address() & !(span - 1);
    // Page of the BAR at `addr`: the VMA's offset in the region plus the
    // distance from the VMA's start.
    let in_region = pgoff & ((1 << PGOFF_SHIFT) - 1);
    let page_in_bar = (in_region + (addr.wrapping_sub(start)) / PAGE_SIZE) as u64;
    // As core's is_aligned_for_order(): a huge entry must fit in the VMA
    // (the PFN range's alignment is checked where the PFN is made).
    if order > 0 && (addr < start || addr + span > end) {
        return VM_FAULT_FALLBACK;
    }
    let (pmd, pud) = pfnmap::huge_orders();
    if order > 0 && order != pmd && order != pud {
        return VM_FAULT_FALLBACK;
    }
    let at = page_in_bar << PAGE_SHIFT;
    // Under `memory_lock`, which window changes hold for writing.
    let refuse = || {
        let hit = uncached && dev.bars.cache().hit(bar, at, at + span as u64);
        match (hit, order) {
            (false, _) => None,
            (true, 0) => Some(VM_FAULT_SIGBUS),
            (true, _) => Some(VM_FAULT_FALLBACK),
        }
    };
    dev.core()
        .insert_bar_pfn(vmf, bar, page_in_bar, order, refuse)
}

/// Checks an mmap() request for `bar` as `vfio_pci_core_mmap()` does: a
/// shared mapping of an mmap-capable BAR, within `size` bytes (the BAR
/// rounded up to a page, or a window) of the region.
fn check(dev: &Device, bar: usize, size: u64, vma: &Mmap<'_, AliasDevice>) -> Result {
    if !vma.is_shared() || !dev.core().bar_mmap_supported(bar) {
        return Err(EINVAL);
    }
    let start = (vma.page_in_region() as u64) << PAGE_SHIFT;
    if start.checked_add(vma.len()).is_none_or(|e| e > size) {
        return Err(EINVAL);
    }
    Ok(())
}

/// The BAR's size rounded up to a page: what mmap() may cover.
fn bar_size(dev: &Device, bar: usize) -> u64 {
    let page = PAGE_SIZE as u64;
    dev.core().bar_len(bar).div_ceil(page) * page
}

/// mmap() of a BAR's own region: uncached, as vfio-pci maps it, unless the
/// BAR is write-combining for an alias right now (`EBUSY`); write-combining
/// if the BAR is in the device's write-combining policy. With windows
/// active it maps the BAR's other pages.
pub(super) fn bar(dev: &Device, bar: usize, vma: &Mmap<'_, AliasDevice>) -> Result {
    // As core's mmap(), which we stand in for: it needs core's mapping of
    // the BAR (or ours in its place) to exist.
    check(dev, bar, bar_size(dev, bar), vma)?;
    dev.bars.bar_usable(dev.core(), bar)?;
    // A BAR of the write-combining policy is write-combining here too.
    let wc = dev.bars.is_policy_wc(bar);
    dev.bars.map(dev.core(), bar, wc)?;
    install(vma, bar, vma.page_in_region(), wc);
    Ok(())
}

/// mmap() of `alias`, at position `i` of the table: its BAR,
/// write-combining.
pub(super) fn alias(dev: &Device, i: usize, alias: Alias, vma: &Mmap<'_, AliasDevice>) -> Result {
    let t = alias.span;
    // SET only takes a BAR.
    let bar = t.index as usize;
    if bar >= NUM_BARS {
        return Err(EINVAL);
    }
    let wc = alias.attrs & crate::staging::uapi::VFIO_ALIAS_ATTR_WC != 0;
    if !t.is_window() {
        check(dev, bar, bar_size(dev, bar), vma)?;
        dev.bars.map(dev.core(), bar, wc)?;
        install(vma, bar, vma.page_in_region(), wc);
        return Ok(());
    }
    check(dev, bar, t.size, vma)?;
    dev.bars.bar_usable(dev.core(), bar)?;
    // The same page of the BAR's region.
    let page = vma.page_in_region() + (t.start >> PAGE_SHIFT) as usize;
    let cache = dev.bars.cache();
    let slot = cache.slot(i).ok_or(EINVAL)?;
    // A SET still on its way (its index guessed by another thread) has not
    // recorded the window yet; the layout needs it.
    if cache.get(i).is_none() {
        cache.set(i, t);
    }
    if !dev.bars.map_window(dev.core(), slot, bar)? {
        // Part of a BAR that is write-combining as a whole.
        install(vma, bar, page, true);
        return Ok(());
    }
    vma.install_tagged::<WindowMap>(bar as u32, page, true, i)
        .inspect_err(|_| dev.bars.unmap_window(dev.core(), slot, bar))
}

/// Gives `vma`, a mapping of `page` of `bar` accounted by
/// [`Bars::map`](super::bars::Bars::map), our VMA operations and the page
/// protection of its memory type.
fn install(vma: &Mmap<'_, AliasDevice>, bar: usize, page: usize, wc: bool) {
    if wc {
        vma.install::<BarMap<true>>(bar as u32, page, true);
    } else {
        vma.install::<BarMap<false>>(bar as u32, page, false);
    }
}
