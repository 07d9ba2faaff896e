// SPDX-License-Identifier: GPL-2.0

//! VMAs whose pages are device PFNs inserted on fault, as vfio-pci maps BARs.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)
//!
//! An implementation of [`PfnMapOps`] gets its own `vm_operations_struct`,
//! one per tag ([`PfnMap::install`], [`PfnMap::install_tagged`]): `open` and
//! `close` for accounting (they run on mmap's success, fork, split and
//! unmap, so the owner can count live mappings), and `fault`/`huge_fault`
//! that insert PFNs.
//!
//! Why here: 7.3's `VmaNew` sets `VM_IO`, `VM_DONTEXPAND` and `VM_DONTDUMP`
//! (used below) but has no `VM_PFNMAP`, page protection, `vm_pgoff`,
//! `vm_private_data` or `vm_operations_struct`.

use crate::staging::bindings;
use core::marker::PhantomData;
use kernel::{
    ffi::c_uint,
    mm::virt::{VmaNew, VmaRef},
    prelude::*,
    types::Opaque,
};

/// A `vm_fault_t`.
pub(crate) type VmFault = bindings::vm_fault_t;
/// `VM_FAULT_FALLBACK`: the huge fault cannot be served at this order.
pub(crate) const VM_FAULT_FALLBACK: VmFault =
    bindings::vm_fault_reason_VM_FAULT_FALLBACK as VmFault;
/// `VM_FAULT_SIGBUS`: the access gets `SIGBUS`.
pub(crate) const VM_FAULT_SIGBUS: VmFault = bindings::vm_fault_reason_VM_FAULT_SIGBUS as VmFault;

/// A page fault being handled (`struct vm_fault`).
#[repr(transparent)]
pub(crate) struct Fault(Opaque<bindings::vm_fault>);

impl Fault {
    /// Returns the raw `struct vm_fault`.
    pub(crate) fn as_raw(&self) -> *mut bindings::vm_fault {
        self.0.get()
    }

    fn vma(&self) -> *mut bindings::vm_area_struct {
        // SAFETY: The fault is valid while handled; `vma` is set by the core.
        unsafe { (*self.as_raw()).__bindgen_anon_1.vma }
    }

    /// The faulting user address.
    pub(crate) fn address(&self) -> usize {
        // SAFETY: The fault is valid while handled.
        unsafe { (*self.as_raw()).__bindgen_anon_1.address }
    }

    /// Start, end and `vm_pgoff` of the faulting VMA.
    pub(crate) fn vma_span(&self) -> (usize, usize, usize) {
        let vma = self.vma();
        // SAFETY: The VMA is valid and its span stable while the fault holds
        // the mmap or VMA lock.
        unsafe {
            (
                (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_start,
                (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_end,
                (*vma).vm_pgoff,
            )
        }
    }
}

/// The callbacks of a PFN-mapped VMA owned by an `Owner`, which
/// `vm_private_data` points to and which outlives the VMA. A tag below
/// [`MAX_TAGS`] given at install tells the VMAs of one owner apart (the
/// operations table holds it: `vm_private_data` is taken by the owner).
pub(crate) trait PfnMapOps: Sized + Sync + 'static {
    /// The object the VMA belongs to.
    type Owner: Sync;

    /// A new VMA now shares the mapping (fork, split, mremap).
    fn open(owner: &Self::Owner, tag: usize, vma: &VmaRef);

    /// A VMA of the mapping goes away.
    fn close(owner: &Self::Owner, tag: usize, vma: &VmaRef);

    /// Serves a fault at page order `order` (0 for a page). Returns a
    /// `vm_fault_t`.
    fn fault(owner: &Self::Owner, tag: usize, vmf: &Fault, order: u32) -> VmFault;
}

/// Number of distinct tags of [`PfnMap::install_tagged`].
pub(crate) const MAX_TAGS: usize = 64;

/// The `vm_operations_struct` of a [`PfnMapOps`] for VMAs of tag `TAG`.
struct Tagged<T, const TAG: usize>(PhantomData<T>);

impl<T: PfnMapOps, const TAG: usize> Tagged<T, TAG> {
    const OPS: bindings::vm_operations_struct = bindings::vm_operations_struct {
        open: Some(Self::open),
        close: Some(Self::close),
        fault: Some(Self::fault),
        huge_fault: Some(Self::huge_fault),
        // SAFETY: All-zero is a valid (empty) `vm_operations_struct`.
        ..unsafe { core::mem::zeroed() }
    };

    /// # Safety
    ///
    /// `vma` must have been set up by [`PfnMap::install_ops`] for `T`.
    unsafe fn owner<'a>(vma: *mut bindings::vm_area_struct) -> &'a T::Owner {
        // SAFETY: `install_ops` stored a valid owner that outlives the VMA.
        unsafe { &*(*vma).vm_private_data.cast::<T::Owner>() }
    }

    /// # Safety
    ///
    /// Called by the mm on a VMA set up by [`PfnMap::install_ops`].
    unsafe extern "C" fn open(vma: *mut bindings::vm_area_struct) {
        // SAFETY: The mm calls `open` on a valid VMA of ours with the mmap
        // lock held.
        let (owner, vma) = unsafe { (Self::owner(vma), VmaRef::from_raw(vma)) };
        T::open(owner, TAG, vma)
    }

    /// # Safety
    ///
    /// Called by the mm on a VMA set up by [`PfnMap::install_ops`].
    unsafe extern "C" fn close(vma: *mut bindings::vm_area_struct) {
        // SAFETY: As for `open`.
        let (owner, vma) = unsafe { (Self::owner(vma), VmaRef::from_raw(vma)) };
        T::close(owner, TAG, vma)
    }

    /// # Safety
    ///
    /// Called by the mm for a fault on a VMA set up by [`PfnMap::install_ops`].
    unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> VmFault {
        // SAFETY: The mm passes a valid fault on a VMA of ours.
        let fault = unsafe { &*vmf.cast::<Fault>() };
        // SAFETY: As above.
        T::fault(unsafe { Self::owner(fault.vma()) }, TAG, fault, 0)
    }

    /// # Safety
    ///
    /// As for `fault`.
    unsafe extern "C" fn huge_fault(vmf: *mut bindings::vm_fault, order: c_uint) -> VmFault {
        // SAFETY: The mm passes a valid fault on a VMA of ours.
        let fault = unsafe { &*vmf.cast::<Fault>() };
        // SAFETY: As above.
        T::fault(unsafe { Self::owner(fault.vma()) }, TAG, fault, order)
    }
}

/// The operations table of tag `$tag` of `$t`, for a tag among `$n`.
macro_rules! tagged_ops {
    ($t:ty, $tag:expr; $($n:literal)*) => {
        match $tag {
            $($n => Some(&Tagged::<$t, $n>::OPS),)*
            _ => None,
        }
    };
}

/// Installs the VMAs of a [`PfnMapOps`].
pub(crate) struct PfnMap<T>(PhantomData<T>);

impl<T: PfnMapOps> PfnMap<T> {
    /// Sets up `vma`, being created by `mmap()`, as a PFN map of `owner`:
    /// flags and page protection as vfio-pci sets them (write-combining if
    /// `wc`), `vm_pgoff` (see the caller for what it means) and `T`'s
    /// operations, with tag 0.
    ///
    /// The caller accounts for this first mapping itself: `open` is not
    /// called for it, `close` is.
    ///
    /// # Safety
    ///
    /// `owner` must outlive the VMA (vfio: the VMA holds the device file).
    pub(crate) unsafe fn install(vma: &VmaNew, owner: &T::Owner, pgoff: usize, wc: bool) {
        // SAFETY: By the safety requirements.
        unsafe { Self::install_ops(vma, owner, pgoff, wc, &Tagged::<T, 0>::OPS) }
    }

    /// [`Self::install`] with tag `tag`: `EINVAL` unless below [`MAX_TAGS`],
    /// and the VMA is left as it was.
    ///
    /// # Safety
    ///
    /// As for [`Self::install`].
    pub(crate) unsafe fn install_tagged(
        vma: &VmaNew,
        owner: &T::Owner,
        pgoff: usize,
        wc: bool,
        tag: usize,
    ) -> Result {
        let ops = tagged_ops!(T, tag;
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27
            28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51
            52 53 54 55 56 57 58 59 60 61 62 63)
        .ok_or(EINVAL)?;
        // SAFETY: By the safety requirements.
        unsafe { Self::install_ops(vma, owner, pgoff, wc, ops) };
        Ok(())
    }

    /// # Safety
    ///
    /// As for [`Self::install`]; `ops` is a [`Tagged`] table of `T`.
    unsafe fn install_ops(
        vma: &VmaNew,
        owner: &T::Owner,
        pgoff: usize,
        wc: bool,
        ops: &'static bindings::vm_operations_struct,
    ) {
        vma.set_io();
        vma.set_dontexpand();
        vma.set_dontdump();
        let raw = vma.as_ptr();
        // SAFETY: The VMA is being set up by `mmap()`, so we may change its
        // flags, protection, offset, private data and ops; `ops` is static
        // and `owner` outlives the VMA.
        unsafe {
            bindings::vpa_vma_set_pfnmap(raw, wc);
            (*raw).vm_pgoff = pgoff;
            (*raw).vm_private_data = core::ptr::from_ref(owner).cast_mut().cast();
            (*raw).vm_ops = ops;
        }
    }
}

/// Largest PFN-map fault orders the architecture supports: (PMD, PUD), 0
/// where it does not.
pub(crate) fn huge_orders() -> (u32, u32) {
    // SAFETY: Constant helpers without requirements.
    unsafe {
        (
            bindings::vpa_pmd_pfnmap_order(),
            bindings::vpa_pud_pfnmap_order(),
        )
    }
}

/// `vm_pgoff` of a VMA.
pub(crate) fn pgoff(vma: &VmaRef) -> usize {
    // SAFETY: The VMA is valid for the reference's lifetime; `vm_pgoff` is
    // stable while the caller holds the mmap lock, as every caller does.
    unsafe { (*vma.as_ptr()).vm_pgoff }
}
