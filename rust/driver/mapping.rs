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

use super::{Device, Region};
use crate::{
    bindings, vfio,
    vma::{self, Fault, PfnMap, PfnMapOps, VmFault, VM_FAULT_FALLBACK},
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
        let (start, end, pgoff) = vmf.vma_span();
        let bar = bar_of(pgoff);
        let page = bindings::PAGE_SIZE;
        let span = page << order;
        let addr = vmf.address() & !(span - 1);
        // Page of the BAR at `addr`: the VMA's offset in the region plus the
        // distance from the VMA's start.
        let in_region = pgoff & ((1 << PGOFF_SHIFT) - 1);
        let pfn = (dev.core().bar_start(bar) >> bindings::PAGE_SHIFT)
            + (in_region + (addr.wrapping_sub(start)) / page) as u64;
        // As core's is_aligned_for_order(): a huge entry must fit in the VMA
        // and map an aligned PFN range.
        if order > 0 && (addr < start || addr + span > end || pfn & ((1 << order) - 1) != 0) {
            return VM_FAULT_FALLBACK;
        }
        let (pmd, pud) = vma::huge_orders();
        if order > 0 && order != pmd && order != pud {
            return VM_FAULT_FALLBACK;
        }
        dev.core().insert_pfn(vmf, pfn, order)
    }
}

/// Checks an mmap() request for `bar` as `vfio_pci_core_mmap()` does: a
/// shared mapping of an mmap-capable BAR, within the BAR (page aligned).
fn check(dev: &Device, bar: usize, vma: &VmaNew) -> Result {
    if vma.flags() & bindings::VM_SHARED == 0 || !dev.core().bar_mmap_supported(bar) {
        return Err(EINVAL);
    }
    let page = bindings::PAGE_SIZE as u64;
    let len = dev.core().bar_len(bar).div_ceil(page) * page;
    let start = ((vma::pgoff(vma) as u64) & ((1 << PGOFF_SHIFT) - 1)) << bindings::PAGE_SHIFT;
    let size = (vma.end() - vma.start()) as u64;
    if start.checked_add(size).is_none_or(|e| e > len) {
        return Err(EINVAL);
    }
    Ok(())
}

/// mmap() of a BAR's own region: uncached, as vfio-pci maps it, unless the
/// BAR is write-combining for an alias right now (`EBUSY`); write-combining
/// if the BAR is in the device's write-combining policy.
pub(super) fn mmap_bar(dev: &Device, bar: usize, vma: &VmaNew) -> Result {
    // A BAR of the write-combining policy is write-combining here too.
    let wc = dev.bars.is_policy_wc(bar);
    dev.bars.map(dev.core(), bar, wc)?;
    // Core validates and sets the VMA up; we take over its operations to
    // account for the mapping.
    if let Err(e) = dev.core().mmap(vma) {
        dev.bars.unmap(dev.core(), bar, wc);
        return Err(e);
    }
    install(dev, vma, vma::pgoff(vma), wc);
    Ok(())
}

/// mmap() of alias `i`: its BAR, write-combining.
pub(super) fn mmap_alias(dev: &Device, i: usize, vma: &VmaNew) -> Result {
    let alias = dev.aliases.get(i).ok_or(EINVAL)?;
    let bar = match super::AliasDevice::classify(dev, u64::from(alias.target)) {
        Region::Bar(bar) => bar,
        _ => return Err(EINVAL),
    };
    check(dev, bar, vma)?;
    let in_region = vma::pgoff(vma) & ((1 << PGOFF_SHIFT) - 1);
    let pgoff = (bar << PGOFF_SHIFT) | in_region;
    let wc = alias.attrs & bindings::VFIO_ALIAS_ATTR_WC != 0;
    dev.bars.map(dev.core(), bar, wc)?;
    install(dev, vma, pgoff, wc);
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
