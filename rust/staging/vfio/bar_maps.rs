// SPDX-License-Identifier: GPL-2.0

//! The kernel mappings of a device's BARs, and their hand-over between
//! `vfio_pci_core` and the variant driver.
//!
//! C header: [`include/linux/vfio_pci_core.h`](srctree/include/linux/vfio_pci_core.h)
//!
//! At open, core maps every memory BAR uncached and keeps the mapping in
//! `barmap[bar]` (or an error pointer, when it could not). Core dereferences
//! that entry in its read/write of the BAR and when it creates an ioeventfd,
//! which keeps the pointer; everything else only checks it for an error
//! (mmap, dma-buf export). A driver that needs another kernel mapping of a
//! BAR (write-combining, or in pieces of different memory types) takes the
//! BAR from core ([`BarWrite::take`]): core's mapping is unmapped and an
//! `EBUSY` error pointer takes its place, so that core refuses whatever it
//! is asked to do with the BAR, however the request reached it. The driver
//! then maps the BAR itself (an `M`, kept here) and serves its read/write,
//! until it gives the BAR back ([`BarWrite::give_back`]) or releases it at
//! close ([`BarWrite::release`]).
//!
//! The entry may only change while nothing dereferences it. Hence each BAR
//! has a per-CPU reader/writer gate ([`PercpuRw`]): every call into core that
//! may dereference `barmap[bar]` runs as its reader ([`BarRead::core_rw`],
//! [`BarMaps::ioeventfd`] inside every BAR's gate), and the hand-over runs
//! as its writer, which gets in only while no reader is inside. An ioeventfd
//! outlives the call that made it: a BAR is only taken while the device has
//! none (`EBUSY`), and none can be made on a taken BAR.
//!
//! Each gate also holds a few bits of the driver's own state of the BAR
//! ([`BarMaps::state`]), which a reader gets as of its leaving
//! ([`BarRead::leave`]).

use super::{offset_to_index, CoreDevice, Driver, NUM_BARS};
use crate::staging::{
    bindings,
    sync::percpu_rw::{PercpuRw, ReadGuard, WriteGuard},
};
use core::{cell::UnsafeCell, ptr};
use kernel::{ffi::c_int, prelude::*, uaccess::UserPtr};

/// What a BAR's kernel mapping is, as this type keeps it.
struct Own<M> {
    /// Core's `barmap` entry was taken from it ([`BarWrite::take`]).
    taken: bool,
    /// The driver's mapping of the BAR; only while `taken`.
    map: Option<M>,
}

/// Per BAR, [`Own`].
///
/// # Invariants
///
/// Only accessed through a [`BarRead`] (shared) or a [`BarWrite`]
/// (exclusive) of the same BAR, which the gate makes mutually exclusive.
struct OwnCell<M>(UnsafeCell<Own<M>>);

/// The kernel mappings of the BARs of one device, and who owns each.
///
/// # Invariants
///
/// - `core` is the address of the [`CoreDevice`] this was made for; every
///   method that is given a core device checks it is that one.
/// - For each BAR: while `own[bar].taken`, core's `barmap[bar]` holds an
///   error pointer and the BAR's region is requested for the driver; `map`
///   is `Some` only while `taken`. While not taken, `barmap[bar]` is core's.
/// - `barmap[bar]` is only dereferenced by core inside the BAR's gate, and
///   only changed by a [`BarWrite`] of it, which holds the gate with nobody
///   inside.
pub(crate) struct BarMaps<M> {
    gates: PercpuRw<NUM_BARS>,
    own: [OwnCell<M>; NUM_BARS],
    core: usize,
}

// SAFETY: The cells are only reached under the gate rule above; `M` is
// shared by readers of several threads (`Sync`) and dropped by a writer on
// any thread (`Send`).
unsafe impl<M: Send + Sync> Sync for BarMaps<M> {}
// SAFETY: As above.
unsafe impl<M: Send + Sync> Send for BarMaps<M> {}

impl<M: Send + Sync> BarMaps<M> {
    /// The BARs of `core`, a device of driver `T`, each core's, of state 0.
    ///
    /// `T` must serve read, write and ioctl itself, with core's calls made
    /// through [`BarRead::core_rw`] and [`BarMaps::ioeventfd`]: core's own
    /// ops would dereference a taken BAR's entry outside its gate. `EINVAL`
    /// otherwise.
    pub(crate) fn new<T: Driver>(core: &CoreDevice) -> Result<Self> {
        if !(T::HAS_READ && T::HAS_WRITE && T::HAS_IOCTL) {
            return Err(EINVAL);
        }
        Ok(Self {
            gates: PercpuRw::new()?,
            own: [const {
                OwnCell(UnsafeCell::new(Own {
                    taken: false,
                    map: None,
                }))
            }; NUM_BARS],
            core: ptr::from_ref(core) as usize,
        })
    }

    /// The driver's state bits of `bar` (0 for a BAR out of range).
    #[inline]
    pub(crate) fn state(&self, bar: usize) -> u32 {
        self.gates.value(bar)
    }

    /// The state bits of `bar` if its gate is open, else `None`.
    #[inline]
    pub(crate) fn open_state(&self, bar: usize) -> Option<u32> {
        self.gates.open_value(bar)
    }

    /// Sets the state bits of `bar`; the driver serialises its writers.
    pub(crate) fn set_state(&self, bar: usize, state: u32) {
        self.gates.set_value(bar, state);
    }

    /// Number of readers inside `bar`'s gate, for debugging output.
    pub(crate) fn readers(&self, bar: usize) -> usize {
        self.gates.inside(bar)
    }

    /// Enters `bar`'s gate as a reader: `None` while a writer holds it (or
    /// for a BAR out of range). Takes no lock, writes no shared memory.
    #[inline]
    pub(crate) fn read(&self, bar: usize) -> Option<BarRead<'_, M>> {
        let guard = self.gates.read(bar)?;
        Some(BarRead {
            maps: self,
            bar,
            guard,
        })
    }

    /// Holds `bar`'s gate as its writer: `None` while a reader is inside or
    /// another writer holds it. Never waits.
    pub(crate) fn try_write(&self, bar: usize) -> Option<BarWrite<'_, M>> {
        let guard = self.gates.try_write(bar)?;
        Some(BarWrite {
            maps: self,
            bar,
            _guard: guard,
        })
    }

    /// `VFIO_DEVICE_IOEVENTFD` at user address `arg`, by core, which reads
    /// the request from user memory itself. `readers` must hold every BAR's
    /// gate (in BAR order; `EINVAL` otherwise): whichever BAR core picks, its
    /// `barmap` entry cannot change meanwhile, and core finds a mapping to
    /// keep only on a BAR that is core's.
    pub(crate) fn ioeventfd(
        &self,
        core: &CoreDevice,
        readers: [Option<&BarRead<'_, M>>; NUM_BARS],
        arg: usize,
    ) -> Result<isize> {
        self.check(core)?;
        for (bar, r) in readers.iter().enumerate() {
            let r = r.ok_or(EINVAL)?;
            if !ptr::eq(r.maps, self) || r.bar != bar {
                return Err(EINVAL);
            }
        }
        core.raw_ioctl(crate::staging::uapi::VFIO_DEVICE_IOEVENTFD, arg)
    }
}

impl<M> BarMaps<M> {
    /// `EINVAL` unless `core` is the device these BARs are of.
    fn check(&self, core: &CoreDevice) -> Result {
        if ptr::from_ref(core) as usize == self.core {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }
}

/// A reader inside one BAR's gate: the BAR's kernel mapping does not change
/// until this is dropped.
pub(crate) struct BarRead<'a, M> {
    maps: &'a BarMaps<M>,
    bar: usize,
    guard: ReadGuard<'a, NUM_BARS>,
}

impl<'a, M> BarRead<'a, M> {
    /// The driver's own mapping of the BAR, if it has one.
    #[inline]
    pub(crate) fn map(&self) -> Option<&M> {
        // SAFETY: We are inside the BAR's gate: no writer changes the cell
        // while `self` lives (`OwnCell`'s invariant).
        unsafe { (*self.maps.own[self.bar].0.get()).map.as_ref() }
    }

    /// Leaves the gate; returns the BAR's state bits as read after leaving
    /// (see [`ReadGuard::leave`]).
    #[inline]
    pub(crate) fn leave(self) -> u32 {
        self.guard.leave()
    }

    /// Core's `read()` (or `write()`) of `count` bytes at the file offset
    /// `*pos`, which must be in this BAR's region (`EINVAL` otherwise).
    #[inline]
    pub(crate) fn core_rw(
        &self,
        core: &CoreDevice,
        buf: UserPtr,
        count: usize,
        pos: &mut i64,
        write: bool,
    ) -> Result<isize> {
        self.maps.check(core)?;
        if offset_to_index(*pos as u64) != self.bar as u64 {
            return Err(EINVAL);
        }
        core.raw_rw(buf, count, pos, write)
    }
}

/// The writer of one BAR's gate: no reader is inside, and none gets in,
/// until this is dropped.
pub(crate) struct BarWrite<'a, M> {
    maps: &'a BarMaps<M>,
    bar: usize,
    _guard: WriteGuard<'a, NUM_BARS>,
}

impl<M> BarWrite<'_, M> {
    fn own(&mut self) -> &mut Own<M> {
        // SAFETY: We hold the BAR's gate with nobody inside: exclusive access
        // (`OwnCell`'s invariant); `&mut self` excludes another borrow.
        unsafe { &mut *self.maps.own[self.bar].0.get() }
    }

    fn own_ref(&self) -> &Own<M> {
        // SAFETY: As in `own`; no `&mut` can exist while `&self` lives.
        unsafe { &*self.maps.own[self.bar].0.get() }
    }

    /// Whether the BAR is taken from core.
    pub(crate) fn is_taken(&self) -> bool {
        self.own_ref().taken
    }

    /// The driver's own mapping of the BAR, if it has one.
    pub(crate) fn map(&self) -> Option<&M> {
        self.own_ref().map.as_ref()
    }

    /// Takes the BAR's kernel mapping from core: unmaps core's uncached
    /// mapping and leaves an `EBUSY` error pointer in its place. The BAR's
    /// region stays requested, now for the driver. Nothing to do if taken.
    ///
    /// `EBUSY` while the device has an ioeventfd (it may point into the
    /// mapping); the errno core stored if core's entry is not a live mapping
    /// (a soft failure at open, or a failed [`Self::give_back`]). Nothing
    /// changes on an error.
    pub(crate) fn take(&mut self, core: &CoreDevice) -> Result {
        self.maps.check(core)?;
        if self.own_ref().taken {
            return Ok(());
        }
        core.barmap_status(self.bar)?;
        if core.ioeventfds() > 0 {
            return Err(EBUSY);
        }
        // SAFETY: We hold the BAR's gate with nobody inside, so no call into
        // core dereferences the entry; no ioeventfd exists (checked above;
        // one is only made inside every gate).
        unsafe { core.take_barmap(self.bar) }?;
        self.own().taken = true;
        Ok(())
    }

    /// Sets the driver's mapping of a taken BAR, in place of the old one
    /// (`EINVAL` if it is not taken, and `map` is dropped). A mapping whose
    /// memory type differs from the old one's must be made after
    /// [`Self::drop_map`] (PAT).
    pub(crate) fn set_map(&mut self, map: M) -> Result {
        if !self.own_ref().taken {
            return Err(EINVAL);
        }
        self.own().map = Some(map);
        Ok(())
    }

    /// Drops the driver's mapping of the BAR, if any; the BAR stays taken.
    pub(crate) fn drop_map(&mut self) {
        self.own().map = None;
    }

    /// Gives a taken BAR back to core, mapped uncached as core maps it at
    /// open, after dropping the driver's mapping. If that map fails the
    /// BAR's region is released and core keeps an `ENOMEM` error pointer,
    /// exactly as after core's own failed map at open (its close then
    /// releases nothing, and [`Self::take`] refuses the BAR). Nothing to do
    /// if the BAR is core's.
    pub(crate) fn give_back(&mut self, core: &CoreDevice) -> Result {
        self.maps.check(core)?;
        self.drop_map();
        if !self.own_ref().taken {
            return Ok(());
        }
        self.own().taken = false;
        // SAFETY: Taken by `take` and not given back since; nothing
        // dereferences the entry (we hold the gate), and the driver's mapping
        // of the BAR is gone.
        unsafe { core.restore_barmap(self.bar) }
    }

    /// Releases a taken BAR's region at close (or after a failed open), as
    /// core's close does for the BARs it mapped, after dropping the
    /// driver's mapping; core keeps an `ENODEV` error pointer, which its
    /// close skips. Nothing to do if the BAR is core's.
    pub(crate) fn release(&mut self, core: &CoreDevice) -> Result {
        self.maps.check(core)?;
        self.drop_map();
        if !self.own_ref().taken {
            return Ok(());
        }
        self.own().taken = false;
        // SAFETY: As in `give_back`.
        unsafe { core.release_barmap(self.bar) };
        Ok(())
    }
}

impl CoreDevice {
    /// Whether core's kernel mapping of `bar` is usable, as core's mmap()
    /// checks it: `Err` with the errno core stored instead of a mapping.
    pub(crate) fn barmap_status(&self, bar: usize) -> Result {
        if bar >= NUM_BARS {
            return Err(EINVAL);
        }
        // SAFETY: Valid by the type invariant; a racy read of a pointer-sized
        // value that only changes at open, close and through `BarWrite`, and
        // whose value is only compared here.
        let map = unsafe { ptr::read_volatile(&raw const (*self.as_raw()).barmap[bar]) };
        let err = map as isize;
        if err < 0 && err >= -(bindings::MAX_ERRNO as isize) {
            return Err(Error::from_errno(err as c_int));
        }
        if map.is_null() {
            return Err(ENODEV);
        }
        Ok(())
    }

    /// Unmaps core's live mapping of `bar` and leaves an `EBUSY` error
    /// pointer in its place.
    ///
    /// # Safety
    ///
    /// Nothing dereferences `barmap[bar]` during the call or keeps its value
    /// after it: no read/write of the BAR in flight through core, no
    /// ioeventfd.
    unsafe fn take_barmap(&self, bar: usize) -> Result {
        self.barmap_status(bar)?;
        let raw = self.as_raw();
        // SAFETY: Valid by the type invariant; exclusive use by the safety
        // requirements.
        let old = unsafe { (*raw).barmap[bar] };
        // SAFETY: `old` is live (checked above): core's `pci_iomap()` at open
        // or ours in `restore_barmap`, which `pci_iounmap()` undoes.
        unsafe { bindings::pci_iounmap(self.pdev(), old) };
        // SAFETY: Exclusive use by the safety requirements.
        unsafe { (*raw).barmap[bar] = EBUSY.to_ptr() };
        Ok(())
    }

    /// Maps `bar` uncached again after [`Self::take_barmap`], as core maps it
    /// at open; if that fails, releases its region and stores `ENOMEM`.
    ///
    /// # Safety
    ///
    /// As for [`Self::take_barmap`]; `bar` was taken by it and not restored
    /// since.
    unsafe fn restore_barmap(&self, bar: usize) -> Result {
        let raw = self.as_raw();
        // Through our wrapper, which fault injection can fail.
        // SAFETY: As core maps it at open.
        let map = unsafe { bindings::vpa_pci_iomap(self.pdev(), bar as c_int) };
        if map.is_null() {
            // SAFETY: Core requested the region at open and `take_barmap`
            // kept it; core's close releases it only for a mapped BAR.
            unsafe { bindings::pci_release_selected_regions(self.pdev(), 1 << bar) };
            // SAFETY: Exclusive use by the safety requirements.
            unsafe { (*raw).barmap[bar] = ENOMEM.to_ptr() };
            return Err(ENOMEM);
        }
        // SAFETY: Exclusive use by the safety requirements.
        unsafe { (*raw).barmap[bar] = map };
        Ok(())
    }

    /// Releases the region of a BAR taken by [`Self::take_barmap`] and stores
    /// `ENODEV`, which core's close skips.
    ///
    /// # Safety
    ///
    /// As for [`Self::restore_barmap`].
    unsafe fn release_barmap(&self, bar: usize) {
        // SAFETY: The region was requested by core at open and kept for us
        // by `take_barmap`.
        unsafe { bindings::pci_release_selected_regions(self.pdev(), 1 << bar) };
        // SAFETY: Exclusive use by the safety requirements.
        unsafe { (*self.as_raw()).barmap[bar] = ENODEV.to_ptr() };
    }
}
