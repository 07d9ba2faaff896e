// SPDX-License-Identifier: GPL-2.0

//! mmap() of a device's file: the VMA being set up, and the VMA operations a
//! driver installs on it.
//!
//! C header: [`include/linux/vfio.h`](srctree/include/linux/vfio.h)
//!
//! A VMA of a vfio device file holds the file, which holds the device: the
//! device outlives the VMA, so it may own the VMA's operations
//! ([`Mmap::install`]) with no further requirement.

use super::{Device, Driver, OFFSET_SHIFT};
use crate::staging::mm::pfnmap::{PfnMap, PfnMapOps};
use kernel::{
    mm::virt::{flags, VmaNew},
    page::PAGE_SHIFT,
    prelude::*,
};

/// Page offset bits of a region offset.
const PGOFF_SHIFT: u32 = OFFSET_SHIFT - PAGE_SHIFT as u32;

/// A VMA being set up by mmap() of `dev`'s file.
pub(crate) struct Mmap<'a, T: Driver> {
    dev: &'a Device<T>,
    vma: &'a VmaNew,
}

impl<'a, T: Driver> Mmap<'a, T> {
    /// `vma` is being set up by mmap() of `dev`'s file.
    pub(super) fn new(dev: &'a Device<T>, vma: &'a VmaNew) -> Self {
        Self { dev, vma }
    }

    fn pgoff(&self) -> usize {
        crate::staging::mm::pfnmap::pgoff(self.vma)
    }

    /// The region index the mapping's offset is in.
    pub(crate) fn index(&self) -> u64 {
        self.pgoff() as u64 >> PGOFF_SHIFT
    }

    /// The page of the region the mapping starts at.
    pub(crate) fn page_in_region(&self) -> usize {
        self.pgoff() & ((1 << PGOFF_SHIFT) - 1)
    }

    /// Length of the mapping in bytes.
    pub(crate) fn len(&self) -> u64 {
        (self.vma.end() - self.vma.start()) as u64
    }

    /// Whether the mapping is shared (`MAP_SHARED`).
    pub(crate) fn is_shared(&self) -> bool {
        self.vma.flags() & flags::SHARED != 0
    }

    /// Makes the VMA a PFN map of page `page` of region `index` owned by the
    /// device, with `O`'s operations (tag 0), write-combining if `wc`, else
    /// uncached. `O::open` is not called for this first VMA; `O::close` is.
    pub(crate) fn install<O: PfnMapOps<Owner = Device<T>>>(
        &self,
        index: u32,
        page: usize,
        wc: bool,
    ) {
        let pgoff = ((index as usize) << PGOFF_SHIFT) | page;
        // SAFETY: The device outlives the VMA, which holds its file.
        unsafe { PfnMap::<O>::install(self.vma, self.dev, pgoff, wc) }
    }

    /// [`Self::install`] with tag `tag`, which `O`'s callbacks get:
    /// `EINVAL` if it is too large, and nothing is installed.
    pub(crate) fn install_tagged<O: PfnMapOps<Owner = Device<T>>>(
        &self,
        index: u32,
        page: usize,
        wc: bool,
        tag: usize,
    ) -> Result {
        let pgoff = ((index as usize) << PGOFF_SHIFT) | page;
        // SAFETY: As in `install`.
        unsafe { PfnMap::<O>::install_tagged(self.vma, self.dev, pgoff, wc, tag) }
    }

    /// `vfio_pci_core_mmap()` of the VMA (a region other than a BAR).
    pub(crate) fn core_mmap(&self) -> Result {
        self.dev.core().mmap(self.vma)
    }
}
