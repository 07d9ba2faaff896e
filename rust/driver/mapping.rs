// SPDX-License-Identifier: GPL-2.0

//! mmap() of BARs and of their aliases.
//!
//! Both get our own VMA operations ([`crate::vma::PfnMap`]): `open`/`close`
//! count the BAR's mappings for its memory type ([`super::bars`]) and the
//! fault handler inserts the BAR's PFNs through core's
//! `vfio_pci_vmf_insert_pfn()` under `memory_lock`, as core's handler does.
//!
//! An alias VMA's `vm_pgoff` is that of the same offset in the aliased BAR's
//! region. Core zaps BAR mappings (reset, memory decode off, low power, hot
//! reset) with `unmap_mapping_range()` over the BAR regions' offsets of the
//! device inode's mapping, so it zaps alias mappings too, with no hook into
//! core. The price: `/proc/<pid>/maps` shows the aliased BAR's offset.
//!
//! A window alias's VMAs get operations of their own ([`WindowMap`]), whose
//! owner is the alias's slot, so that each mapping is counted against its
//! window. A fault of an uncached VMA of a BAR on a page of an active window
//! is refused: SIGBUS, or a fallback to smaller pages for a huge fault that
//! would cover one ([`super::windows`]).

use super::{windows::Slot, Device, Region};
use crate::{
    bindings, vfio,
    vma::{self, Fault, PfnMap, PfnMapOps, VmFault, VM_FAULT_FALLBACK, VM_FAULT_SIGBUS},
};
use kernel::{
    mm::virt::{VmaNew, VmaRef},
    prelude::*,
};

/// Page offset bits of a region offset.
const PGOFF_SHIFT: u32 = vfio::OFFSET_SHIFT - bindings::PAGE_SHIFT;

fn bar_of(pgoff: usize) -> usize {
    pgoff >> PGOFF_SHIFT
}

/// VMA operations of a BAR mapping; write-combining if `WC` (an alias).
struct BarMap<const WC: bool>;

impl<const WC: bool> PfnMapOps for BarMap<WC> {
    type Owner = Device;

    fn open(dev: &Device, vma: &VmaRef) {
        dev.bars.dup(bar_of(vma::pgoff(vma)), WC);
    }

    fn close(dev: &Device, vma: &VmaRef) {
        dev.bars.unmap(dev.core(), bar_of(vma::pgoff(vma)), WC);
    }

    fn fault(dev: &Device, vmf: &Fault, order: u32) -> VmFault {
        fault(dev, vmf, order, !WC)
    }
}

/// Serves a fault of a BAR mapping at page order `order`. An uncached
/// mapping (`uncached`) is refused pages of active windows.
#[inline]
fn fault(dev: &Device, vmf: &Fault, order: u32, uncached: bool) -> VmFault {
    let (start, end, pgoff) = vmf.vma_span();
    let bar = bar_of(pgoff);
    let page = bindings::PAGE_SIZE;
    let span = page << order;
    let addr = vmf.address() & !(span - 1);
    // Page of the BAR at `addr`: the VMA's offset in the region plus the
    // distance from the VMA's start.
    let in_region = pgoff & ((1 << PGOFF_SHIFT) - 1);
    let page_in_bar = (in_region + (addr.wrapping_sub(start)) / page) as u64;
    let pfn = (dev.core().bar_start(bar) >> bindings::PAGE_SHIFT) + page_in_bar;
    // As core's is_aligned_for_order(): a huge entry must fit in the VMA
    // and map an aligned PFN range.
    if order > 0 && (addr < start || addr + span > end || pfn & ((1 << order) - 1) != 0) {
        return VM_FAULT_FALLBACK;
    }
    let (pmd, pud) = vma::huge_orders();
    if order > 0 && order != pmd && order != pud {
        return VM_FAULT_FALLBACK;
    }
    let at = page_in_bar << bindings::PAGE_SHIFT;
    // Under `memory_lock`, which window changes hold for writing.
    let refuse = || {
        let hit = uncached && dev.bars.slots().hit(bar, at, at + span as u64);
        match (hit, order) {
            (false, _) => None,
            (true, 0) => Some(VM_FAULT_SIGBUS),
            (true, _) => Some(VM_FAULT_FALLBACK),
        }
    };
    dev.core().insert_pfn(vmf, pfn, order, refuse)
}

/// VMA operations of a mapping of a window alias, counted against its
/// window ([`super::bars::Bars::map_window`]); write-combining.
struct WindowMap;

impl WindowMap {
    fn device(slot: &Slot) -> &Device {
        // SAFETY: `mmap_alias()` stored the device before it installed the
        // first VMA pointing to this slot, and the device outlives its VMAs.
        unsafe { &*(slot.owner() as *const Device) }
    }
}

impl PfnMapOps for WindowMap {
    type Owner = Slot;

    fn open(slot: &Slot, _vma: &VmaRef) {
        Self::device(slot).bars.dup_window(slot);
    }

    fn close(slot: &Slot, vma: &VmaRef) {
        let dev = Self::device(slot);
        dev.bars
            .unmap_window(dev.core(), slot, bar_of(vma::pgoff(vma)));
    }

    fn fault(slot: &Slot, vmf: &Fault, order: u32) -> VmFault {
        fault(Self::device(slot), vmf, order, false)
    }
}

/// Checks an mmap() request for `bar` as `vfio_pci_core_mmap()` does: a
/// shared mapping of an mmap-capable BAR, within `size` bytes (the BAR
/// rounded up to a page, or a window) of the region.
fn check(dev: &Device, bar: usize, size: u64, vma: &VmaNew) -> Result {
    if vma.flags() & bindings::VM_SHARED == 0 || !dev.core().bar_mmap_supported(bar) {
        return Err(EINVAL);
    }
    let start = ((vma::pgoff(vma) as u64) & ((1 << PGOFF_SHIFT) - 1)) << bindings::PAGE_SHIFT;
    let len = (vma.end() - vma.start()) as u64;
    if start.checked_add(len).is_none_or(|e| e > size) {
        return Err(EINVAL);
    }
    Ok(())
}

/// The BAR's size rounded up to a page: what mmap() may cover.
fn bar_size(dev: &Device, bar: usize) -> u64 {
    let page = bindings::PAGE_SIZE as u64;
    dev.core().bar_len(bar).div_ceil(page) * page
}

/// mmap() of a BAR's own region: uncached, as vfio-pci maps it, unless the
/// BAR is write-combining for an alias right now (`EBUSY`); write-combining
/// if the BAR is in the device's write-combining policy. With windows
/// active it maps the BAR's other pages.
pub(super) fn mmap_bar(dev: &Device, bar: usize, vma: &VmaNew) -> Result {
    // As core's mmap(), which we stand in for: it needs core's mapping of
    // the BAR (or our layout in its place) to exist.
    check(dev, bar, bar_size(dev, bar), vma)?;
    dev.bars.bar_usable(dev.core(), bar)?;
    // A BAR of the write-combining policy is write-combining here too.
    let wc = dev.bars.is_policy_wc(bar);
    dev.bars.map(dev.core(), bar, wc)?;
    install(dev, vma, vma::pgoff(vma), wc);
    Ok(())
}

/// mmap() of alias `i`: its BAR, write-combining.
pub(super) fn mmap_alias(dev: &Device, i: usize, vma: &VmaNew) -> Result {
    let alias = dev.aliases.get(i).ok_or(EINVAL)?;
    let bar = match super::AliasDevice::classify(dev, u64::from(alias.target.index)) {
        Region::Bar(bar) => bar,
        _ => return Err(EINVAL),
    };
    let in_region = vma::pgoff(vma) & ((1 << PGOFF_SHIFT) - 1);
    let wc = alias.attrs & bindings::VFIO_ALIAS_ATTR_WC != 0;
    if !alias.target.is_window() {
        check(dev, bar, bar_size(dev, bar), vma)?;
        let pgoff = (bar << PGOFF_SHIFT) | in_region;
        dev.bars.map(dev.core(), bar, wc)?;
        install(dev, vma, pgoff, wc);
        return Ok(());
    }
    let t = alias.target;
    check(dev, bar, t.size, vma)?;
    dev.bars.bar_usable(dev.core(), bar)?;
    // The same page of the BAR's region.
    let pgoff = (bar << PGOFF_SHIFT) | (in_region + (t.start >> bindings::PAGE_SHIFT) as usize);
    let slots = dev.bars.slots();
    let slot = slots.slot(i).ok_or(EINVAL)?;
    // A SET still on its way (its index guessed by another thread) has not
    // recorded the window yet; the layout needs it.
    if slots.get(i).is_none() {
        slots.set(i, t);
    }
    slot.set_owner(core::ptr::from_ref(dev) as usize);
    if dev.bars.map_window(dev.core(), slot, bar)? {
        // SAFETY: The device outlives the VMA, which holds the device file;
        // the slot is part of the device.
        unsafe { PfnMap::<WindowMap>::install(vma, slot, pgoff, true) };
    } else {
        // Part of a BAR that is write-combining as a whole.
        install(dev, vma, pgoff, true);
    }
    Ok(())
}

/// Gives `vma`, a mapping of the BAR page `pgoff` accounted by
/// [`Bars::map`](super::bars::Bars::map), our VMA operations and
/// the page protection of its memory type.
fn install(dev: &Device, vma: &VmaNew, pgoff: usize, wc: bool) {
    if wc {
        // SAFETY: The device outlives the VMA, which holds the device file.
        unsafe { PfnMap::<BarMap<true>>::install(vma, dev, pgoff, true) };
    } else {
        // SAFETY: As above.
        unsafe { PfnMap::<BarMap<false>>::install(vma, dev, pgoff, false) };
    }
}
