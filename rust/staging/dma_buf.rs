// SPDX-License-Identifier: GPL-2.0

//! DMABUF exporters of device memory: the `dma_buf_ops` of a Rust exporter,
//! export and fd installation, lookup of an fd, mmap(), and peer-to-peer
//! importers of the exported ranges.
//!
//! C headers: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h),
//! [`include/linux/dma-buf-mapping.h`](srctree/include/linux/dma-buf-mapping.h)
//!
//! An [`Exported<T>`] is the `priv` of one `struct dma_buf`: it holds the
//! physical ranges and their P2P provider (what importers map), the state of
//! the importers, and the exporter's data `T`. It is reference counted: the
//! DMABUF holds one reference until its release, and the exporter may keep
//! others (a list of what it exported). The DMABUF holds the module (its
//! `owner`), so the operations table outlives it. Importers can be stopped
//! for a while (the memory is not there during a reset, with decoding off
//! or in low power) or for good (a revoke), as vfio-pci's own exporter does.
//!
//! Why here: 7.3's kernel crate has no DMABUF exporter abstraction (DRM's GEM
//! objects export through C helpers).

use crate::staging::{
    bindings,
    mm::pfnmap::{PfnMap, PfnMapOps},
};
use core::{marker::PhantomData, mem::ManuallyDrop, ptr::NonNull};
use kernel::{
    error::{from_result, to_result},
    ffi::c_int,
    mm::virt::{flags, VmaNew},
    new_condvar, new_spinlock,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, CondVar, SpinLock,
    },
};

/// The exporter of a DMABUF: what its file's operations do beyond P2P
/// importers, which [`Exported`] serves.
pub(crate) trait Exporter: Send + Sync + Sized + 'static {
    /// mmap() of the DMABUF: `vma` is being set up; dma-buf core checked
    /// that it lies within the DMABUF.
    fn mmap(buf: &Exported<Self>, vma: &DmaBufMmap<'_, Self>) -> Result;

    /// The DMABUF is released: its last file reference is gone, and no
    /// importer and no mapping is left. Other references on the
    /// [`Exported`] may still exist.
    fn release(buf: &Exported<Self>);

    /// The operations table of `Self`'s DMABUFs: one `static`, whose address
    /// tells them from other DMABUFs. Implemented by [`dma_buf_ops!`].
    fn ops() -> &'static Ops<Self>;
}

/// The `dma_buf_ops` of an [`Exporter`]'s DMABUFs.
///
/// Why a `static` of each exporter's own ([`dma_buf_ops!`]) and not an
/// associated `const`: a reference to a `const` may point to a different
/// copy at each use, and [`Exported::from_fd`] compares addresses.
#[repr(transparent)]
pub(crate) struct Ops<T: Exporter> {
    raw: bindings::dma_buf_ops,
    _t: PhantomData<T>,
}

impl<T: Exporter> Ops<T> {
    /// The table of `T`'s DMABUFs: [`Exported`]'s operations.
    pub(crate) const fn new() -> Self {
        Self {
            raw: bindings::dma_buf_ops {
                attach: Some(Exported::<T>::attach),
                map_dma_buf: Some(Exported::<T>::map),
                unmap_dma_buf: Some(Exported::<T>::unmap),
                release: Some(Exported::<T>::release),
                mmap: Some(Exported::<T>::mmap),
                // SAFETY: All-zero is a valid (empty) `dma_buf_ops`.
                ..unsafe { core::mem::zeroed() }
            },
            _t: PhantomData,
        }
    }

    fn as_raw(&'static self) -> *const bindings::dma_buf_ops {
        &self.raw
    }
}

/// Implements [`Exporter::ops`] for `$t` with a `static` table; used inside
/// `impl Exporter for $t`.
macro_rules! dma_buf_ops {
    ($t:ty) => {
        fn ops() -> &'static $crate::staging::dma_buf::Ops<$t> {
            static OPS: $crate::staging::dma_buf::Ops<$t> = $crate::staging::dma_buf::Ops::new();
            &OPS
        }
    };
}
pub(crate) use dma_buf_ops;

/// Physical ranges of device memory, in DMABUF order, and their P2P provider.
///
/// # Invariants
///
/// `provider` is the P2P provider of the memory of every range, valid while
/// the device's driver is bound, and the ranges are not empty.
pub(crate) struct PhysRanges {
    provider: *mut bindings::p2pdma_provider,
    vec: KVec<bindings::phys_vec>,
    size: usize,
}

// SAFETY: The provider is only passed back to dma-buf core, which may use it
// from any thread; the ranges are plain data.
unsafe impl Send for PhysRanges {}
// SAFETY: As above; nothing is mutated through `&PhysRanges`.
unsafe impl Sync for PhysRanges {}

impl PhysRanges {
    /// Ranges `vec` of `provider`'s memory.
    ///
    /// # Safety
    ///
    /// `provider` must be the P2P provider of every range's memory, valid as
    /// long as the DMABUF can be attached (the device's driver is bound while
    /// it is exported and unrevoked), and `vec` must not be empty.
    pub(crate) unsafe fn new(
        provider: *mut bindings::p2pdma_provider,
        vec: KVec<bindings::phys_vec>,
    ) -> Self {
        let size = vec.iter().map(|r| r.len).sum();
        // INVARIANT: By the safety requirements.
        Self {
            provider,
            vec,
            size,
        }
    }

    /// The ranges: physical address and length of each.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.vec.iter().map(|r| (r.paddr, r.len as u64))
    }
}

/// A DMABUF's `priv`: its ranges, its importers and the exporter's data.
///
/// # Invariants
///
/// `dmabuf` is the address of the DMABUF, set by [`Exported::export`] before
/// the DMABUF is shared, and cleared (0) by its `release` before it is freed:
/// while the lock is held a non-zero address is a valid `struct dma_buf`.
#[pin_data]
pub(crate) struct Exported<T: Exporter> {
    #[pin]
    dmabuf: SpinLock<usize>,
    phys: PhysRanges,
    /// Importers may map the ranges: cleared for good by
    /// [`Exported::revoke_importers`]. Written with the reservation lock held.
    mappable: Atomic<bool>,
    /// Importers may not map the ranges for now: set by
    /// [`Exported::pause_importers`], cleared by
    /// [`Exported::resume_importers`]. Written with the reservation lock
    /// held, by one caller at a time (the exporter serialises them).
    paused: Atomic<bool>,
    /// Scatter lists of importers that are mapped now.
    #[pin]
    maps: SpinLock<usize>,
    /// Notified when `maps` drops to 0.
    #[pin]
    unmapped: CondVar,
    #[pin]
    data: T,
}

impl<T: Exporter> core::ops::Deref for Exported<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

/// An exported DMABUF not installed in an fd yet: dropped, it is released.
///
/// # Invariants
///
/// Holds a reference on the valid `struct dma_buf` at `dmabuf`.
pub(crate) struct NewDmaBuf<T: Exporter> {
    dmabuf: NonNull<bindings::dma_buf>,
    buf: Arc<Exported<T>>,
}

impl<T: Exporter> Exported<T> {
    /// Exports a DMABUF of `phys` with the exporter data `data`: `open_flags`
    /// are the file's (`O_CLOEXEC`, `O_ACCMODE`), as for
    /// `VFIO_DEVICE_FEATURE_DMA_BUF`. Its importers start paused: the
    /// exporter resumes them ([`Self::resume_importers`]) once it knows the
    /// memory is there.
    pub(crate) fn export(
        phys: PhysRanges,
        open_flags: u32,
        data: impl PinInit<T, Error>,
    ) -> Result<NewDmaBuf<T>> {
        let size = phys.size;
        let buf = Arc::pin_init(
            try_pin_init!(Self {
                dmabuf <- new_spinlock!(0),
                phys,
                mappable: Atomic::new(true),
                paused: Atomic::new(true),
                maps <- new_spinlock!(0),
                unmapped <- new_condvar!(),
                data <- data,
            }),
            GFP_KERNEL,
        )?;
        let raw = Arc::into_raw(buf.clone());
        // SAFETY: The table is static; `raw` is a reference on `Exported<T>`
        // that the DMABUF owns from here and gives back in `release`.
        let dmabuf = unsafe {
            bindings::vpa_dma_buf_export(
                T::ops().as_raw(),
                size,
                open_flags as c_int,
                raw.cast_mut().cast(),
            )
        };
        let dmabuf = match kernel::error::from_err_ptr(dmabuf) {
            Ok(d) => d,
            Err(e) => {
                // SAFETY: The export failed: the reference is still ours.
                drop(unsafe { Arc::from_raw(raw) });
                return Err(e);
            }
        };
        // INVARIANT: Set before the DMABUF is shared.
        *buf.dmabuf.lock() = dmabuf as usize;
        Ok(NewDmaBuf {
            // SAFETY: `from_err_ptr` succeeded: a valid pointer.
            dmabuf: unsafe { NonNull::new_unchecked(dmabuf) },
            buf,
        })
    }

    /// A reference on the DMABUF, unless it is being released.
    pub(crate) fn active(&self) -> Option<DmaBufRef<T>> {
        let dmabuf = self.dmabuf.lock();
        if *dmabuf == 0 {
            return None;
        }
        let raw = *dmabuf as *mut bindings::dma_buf;
        // SAFETY: Non-zero under the lock: a valid DMABUF (type invariant).
        // A file reference that is still active keeps it from release.
        let file = unsafe { bindings::get_file_active(&raw mut (*raw).file) };
        if file.is_null() {
            return None;
        }
        // Files are freed by RCU and reused at once (`SLAB_TYPESAFE_BY_RCU`),
        // and the DMABUF's release (which clears our pointer) may come after
        // its file's: the file taken may already be another one.
        // SAFETY: `file` is a valid file we hold a reference on.
        if unsafe { (*file).private_data } != raw.cast() {
            // SAFETY: The reference taken by `get_file_active()`.
            unsafe { bindings::fput(file) };
            return None;
        }
        // INVARIANT: The file reference is one on the DMABUF, exported with
        // `T::ops()`; `dma_buf_put()` drops it.
        Some(DmaBufRef {
            // SAFETY: Non-zero, checked above.
            dmabuf: unsafe { NonNull::new_unchecked(raw) },
            _t: PhantomData,
        })
    }

    /// The exported ranges.
    pub(crate) fn phys(&self) -> &PhysRanges {
        &self.phys
    }

    /// Size of the DMABUF in bytes.
    pub(crate) fn size(&self) -> usize {
        self.phys.size
    }

    /// Takes the DMABUF of `fd`, if it is one of `T`'s: `EBADF` for a closed
    /// fd, `EINVAL` for a file that is not a DMABUF, `ENODEV` for another
    /// exporter's DMABUF.
    pub(crate) fn from_fd(fd: i32) -> Result<DmaBufRef<T>> {
        // SAFETY: Any fd number may be passed; the reference taken on
        // success is dropped by `DmaBufRef`.
        let dmabuf = kernel::error::from_err_ptr(unsafe { bindings::dma_buf_get(fd) })?;
        // SAFETY: A valid DMABUF, held by the reference just taken.
        let ops = unsafe { (*dmabuf).ops };
        if !core::ptr::eq(ops, T::ops().as_raw()) {
            // SAFETY: The reference taken above.
            unsafe { bindings::dma_buf_put(dmabuf) };
            return Err(ENODEV);
        }
        Ok(DmaBufRef {
            // SAFETY: `dma_buf_get` returned a valid pointer.
            dmabuf: unsafe { NonNull::new_unchecked(dmabuf) },
            _t: PhantomData,
        })
    }

    /// Revokes the importers for good: every importer mapping is invalidated
    /// and waited for (its unmap), and no importer can attach or map again.
    /// May sleep. Returns at once if the DMABUF is being released.
    pub(crate) fn revoke_importers(&self) {
        self.stop_importers(&self.mappable, false);
    }

    /// Pauses the importers, as [`Self::revoke_importers`] does, until
    /// [`Self::resume_importers`]. Nothing is done for importers paused or
    /// revoked already. May sleep.
    pub(crate) fn pause_importers(&self) {
        if self.paused.load(Relaxed) || !self.mappable.load(Relaxed) {
            return;
        }
        self.stop_importers(&self.paused, true);
    }

    /// Lets paused importers attach and map again, and tells those attached
    /// (their `invalidate_mappings`) that they may map. Nothing is done if
    /// they are not paused, or if the DMABUF is being released.
    pub(crate) fn resume_importers(&self) {
        if !self.paused.load(Relaxed) {
            return;
        }
        self.with_resv_locked(|dmabuf| {
            self.paused.store(false, Relaxed);
            if self.mappable.load(Relaxed) {
                // SAFETY: A valid DMABUF, its reservation lock held.
                unsafe { bindings::dma_buf_invalidate_mappings(dmabuf) };
            }
        });
    }

    /// Stores `to` in `state` (`mappable` or `paused`) with the reservation
    /// lock held, then invalidates every importer mapping and waits for the
    /// importers' fences and unmaps, as core's `vfio_pci_dma_buf_move()`
    /// does.
    fn stop_importers(&self, state: &Atomic<bool>, to: bool) {
        let stopped = self.with_resv_locked(|dmabuf| {
            state.store(to, Relaxed);
            // SAFETY: A valid DMABUF, its reservation lock held.
            unsafe {
                bindings::dma_buf_invalidate_mappings(dmabuf);
                bindings::dma_resv_wait_timeout(
                    (*dmabuf).resv,
                    bindings::dma_resv_usage_DMA_RESV_USAGE_BOOKKEEP,
                    false,
                    // MAX_SCHEDULE_TIMEOUT, as core waits.
                    kernel::ffi::c_long::MAX as kernel::ffi::c_ulong,
                );
            }
        });
        if !stopped {
            return;
        }
        // Importers unmap with the reservation lock held, and cannot map
        // again after seeing `state`: the count only falls from here.
        let mut maps = self.maps.lock();
        while *maps > 0 {
            self.unmapped.wait(&mut maps);
        }
    }

    /// Runs `f` on the DMABUF with its reservation lock held; `false`, and
    /// `f` is not run, if the DMABUF is being released. May sleep.
    fn with_resv_locked(&self, f: impl FnOnce(*mut bindings::dma_buf)) -> bool {
        let Some(held) = self.active() else {
            return false;
        };
        let dmabuf = held.dmabuf.as_ptr();
        // SAFETY: `dmabuf` is valid (`held` is a reference on it); its
        // reservation object is initialised; we hold no other resv lock.
        unsafe { bindings::vpa_dma_resv_lock((*dmabuf).resv) };
        f(dmabuf);
        // SAFETY: Taken above.
        unsafe { bindings::vpa_dma_resv_unlock((*dmabuf).resv) };
        true
    }

    /// Whether importers may attach and map now.
    fn importers_allowed(&self) -> bool {
        self.mappable.load(Relaxed) && !self.paused.load(Relaxed)
    }

    /// # Safety
    ///
    /// `dmabuf` is a DMABUF exported with `T::ops()`: its `priv` is a reference
    /// on an `Exported<T>`, valid until its `release`.
    unsafe fn from_dmabuf<'a>(dmabuf: *mut bindings::dma_buf) -> &'a Self {
        // SAFETY: By the safety requirements.
        unsafe { &*(*dmabuf).priv_.cast::<Self>() }
    }

    /// # Safety
    ///
    /// Called by dma-buf core on a DMABUF of ours.
    unsafe extern "C" fn attach(
        dmabuf: *mut bindings::dma_buf,
        att: *mut bindings::dma_buf_attachment,
    ) -> c_int {
        // SAFETY: A DMABUF of ours, being attached to by `att`.
        let (this, p2p) = unsafe { (Self::from_dmabuf(dmabuf), (*att).peer2peer) };
        // As vfio-pci's exporter: device memory has no pages, so only
        // importers that map peer-to-peer and accept a revoke.
        if !p2p {
            return EOPNOTSUPP.to_errno();
        }
        // As core's: not while the memory is gone, nor after a revoke.
        if !this.importers_allowed() {
            return ENODEV.to_errno();
        }
        // SAFETY: `att` is valid.
        if !unsafe { bindings::dma_buf_attach_revocable(att) } {
            return EOPNOTSUPP.to_errno();
        }
        0
    }

    /// # Safety
    ///
    /// Called by dma-buf core with the DMABUF's reservation lock held.
    unsafe extern "C" fn map(
        att: *mut bindings::dma_buf_attachment,
        dir: bindings::dma_data_direction,
    ) -> *mut bindings::sg_table {
        // SAFETY: `att` is an attachment of a DMABUF of ours.
        let this = unsafe { Self::from_dmabuf((*att).dmabuf) };
        if !this.importers_allowed() {
            return ENODEV.to_ptr();
        }
        let phys = &this.phys;
        // SAFETY: The provider and ranges are valid by `PhysRanges`'s
        // invariant; `att` is valid; the lock is held as required.
        let sgt = unsafe {
            bindings::dma_buf_phys_vec_to_sgt(
                att,
                phys.provider,
                phys.vec.as_ptr().cast_mut(),
                phys.vec.len(),
                phys.size,
                dir,
            )
        };
        if kernel::error::from_err_ptr(sgt).is_ok() {
            *this.maps.lock() += 1;
        }
        sgt
    }

    /// # Safety
    ///
    /// Called by dma-buf core with the reservation lock held, for a table
    /// [`Self::map`] returned.
    unsafe extern "C" fn unmap(
        att: *mut bindings::dma_buf_attachment,
        sgt: *mut bindings::sg_table,
        dir: bindings::dma_data_direction,
    ) {
        // SAFETY: As in `map`.
        let this = unsafe { Self::from_dmabuf((*att).dmabuf) };
        // 7.3's `dma_buf_phys_vec_to_sgt()` clears `orig_nents` (the table
        // has no CPU list), and `dma_buf_free_sgt()` then frees the table
        // with `sg_free_table()`, which frees `orig_nents` entries: none,
        // and kmemleak finds them (core's exporter leaks them alike). The
        // table was allocated with `nents` entries, all used, which the
        // helper leaves as they were: that is what is freed.
        // SAFETY: `sgt` was made by `dma_buf_phys_vec_to_sgt` for `att` and
        // is ours until it is freed here.
        unsafe {
            (*sgt).orig_nents = (*sgt).nents;
            bindings::dma_buf_free_sgt(att, sgt, dir);
        }
        let mut maps = this.maps.lock();
        *maps -= 1;
        if *maps == 0 {
            this.unmapped.notify_all();
        }
    }

    /// # Safety
    ///
    /// Called by dma-buf core once, as the DMABUF is freed.
    unsafe extern "C" fn release(dmabuf: *mut bindings::dma_buf) {
        // SAFETY: `priv` is the reference `export` gave the DMABUF.
        let this = unsafe { Arc::from_raw((*dmabuf).priv_.cast::<Self>().cast_const()) };
        // INVARIANT: Cleared before dma-buf core frees the DMABUF.
        *this.dmabuf.lock() = 0;
        T::release(&this);
    }

    /// # Safety
    ///
    /// Called by dma-buf core for mmap() of a DMABUF of ours, on a VMA being
    /// set up, within the DMABUF.
    unsafe extern "C" fn mmap(
        dmabuf: *mut bindings::dma_buf,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: A DMABUF of ours, alive for the call.
        let this = unsafe { Self::from_dmabuf(dmabuf) };
        // SAFETY: mmap() passes a VMA being set up, valid for the call.
        let vma = unsafe { VmaNew::from_raw(vma) };
        from_result(|| {
            T::mmap(this, &DmaBufMmap { buf: this, vma })?;
            Ok(0)
        })
    }
}

impl<T: Exporter> NewDmaBuf<T> {
    /// The exported DMABUF.
    pub(crate) fn buf(&self) -> &Arc<Exported<T>> {
        &self.buf
    }

    /// Makes the DMABUF's file share the page mapping of `mapping`'s inode,
    /// so that VMAs of the DMABUF are found (and zapped) in it, as VMAs of
    /// that file are.
    ///
    /// # Safety
    ///
    /// `mapping`'s owner must outlive every VMA of the DMABUF (the exporter
    /// data holds a reference on it).
    pub(crate) unsafe fn share_mapping(&self, mapping: *mut bindings::address_space) {
        // SAFETY: The DMABUF is not shared yet; its file is valid.
        unsafe { (*(*self.dmabuf.as_ptr()).file).f_mapping = mapping };
    }

    /// Installs the DMABUF in a new fd with `open_flags`: the fd, or the
    /// error (and the DMABUF is released).
    pub(crate) fn into_fd(self, open_flags: u32) -> Result<i32> {
        // The DMABUF reference goes to the fd, not to `Drop`; the `Arc` is
        // dropped as usual (the DMABUF holds its own reference).
        let this = ManuallyDrop::new(self);
        let dmabuf = this.dmabuf.as_ptr();
        // SAFETY: `this` is never dropped nor used again: the `Arc` is read
        // out of it once.
        drop(unsafe { core::ptr::read(&this.buf) });
        // SAFETY: We own a reference on `dmabuf`, which `dma_buf_fd()`
        // consumes on success.
        let fd = unsafe { bindings::dma_buf_fd(dmabuf, open_flags as c_int) };
        if let Err(e) = to_result(fd) {
            // SAFETY: The reference was not consumed.
            unsafe { bindings::dma_buf_put(dmabuf) };
            return Err(e);
        }
        Ok(fd)
    }
}

impl<T: Exporter> Drop for NewDmaBuf<T> {
    fn drop(&mut self) {
        // SAFETY: The reference held by the type invariant.
        unsafe { bindings::dma_buf_put(self.dmabuf.as_ptr()) };
    }
}

/// A reference on a DMABUF of `T`'s, taken from an fd
/// ([`Exported::from_fd`]).
///
/// # Invariants
///
/// Holds a reference on the valid `struct dma_buf` at `dmabuf`, exported
/// with `T::ops()`.
pub(crate) struct DmaBufRef<T: Exporter> {
    dmabuf: NonNull<bindings::dma_buf>,
    _t: PhantomData<T>,
}

impl<T: Exporter> core::ops::Deref for DmaBufRef<T> {
    type Target = Exported<T>;

    fn deref(&self) -> &Exported<T> {
        // SAFETY: A DMABUF of ours, held by the type invariant.
        unsafe { Exported::from_dmabuf(self.dmabuf.as_ptr()) }
    }
}

impl<T: Exporter> Drop for DmaBufRef<T> {
    fn drop(&mut self) {
        // SAFETY: The reference held by the type invariant.
        unsafe { bindings::dma_buf_put(self.dmabuf.as_ptr()) };
    }
}

/// A VMA being set up by mmap() of a DMABUF of `T`'s.
pub(crate) struct DmaBufMmap<'a, T: Exporter> {
    buf: &'a Exported<T>,
    vma: &'a VmaNew,
}

impl<T: Exporter> DmaBufMmap<'_, T> {
    /// The page of the DMABUF the mapping starts at.
    pub(crate) fn pgoff(&self) -> usize {
        crate::staging::mm::pfnmap::pgoff(self.vma)
    }

    /// The length of the mapping in bytes.
    pub(crate) fn len(&self) -> usize {
        self.vma.end() - self.vma.start()
    }

    /// Whether the mapping is shared (`MAP_SHARED`). `VM_MAYSHARE`: mmap()
    /// clears `VM_SHARED` of a shared mapping of a file opened read-only,
    /// as a DMABUF exported with `O_RDONLY` is.
    pub(crate) fn is_shared(&self) -> bool {
        self.vma.flags() & flags::MAYSHARE != 0
    }

    /// Makes the VMA a PFN map owned by the DMABUF, with `O`'s operations,
    /// write-combining if `wc`, else uncached. Its `vm_pgoff` stays the page
    /// of the DMABUF that mmap() asked for. `O::open` is not called for this
    /// first VMA; `O::close` is.
    pub(crate) fn install<O: PfnMapOps<Owner = Exported<T>>>(&self, wc: bool) {
        // SAFETY: The VMA holds the DMABUF's file, which holds a reference
        // on the `Exported<T>` until its release.
        unsafe { PfnMap::<O>::install(self.vma, self.buf, self.pgoff(), wc) }
    }
}
