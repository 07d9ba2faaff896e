// SPDX-License-Identifier: GPL-2.0

//! VMAs whose pages are device PFNs inserted on fault, as vfio-pci maps BARs.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)
//!
//! An implementation of [`PfnMapOps`] gets its own `vm_operations_struct`
//! ([`PfnMap::OPS`]): `open` and `close` for accounting (they run on mmap's
//! success, fork, split and unmap, so the owner can count live mappings),
//! and `fault`/`huge_fault` that insert PFNs.

use crate::bindings;
use core::marker::PhantomData;
use kernel::{
    ffi::c_uint,
    mm::virt::{VmaNew, VmaRef},
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
/// `vm_private_data` points to and which outlives the VMA.
pub(crate) trait PfnMapOps: Sized + Sync + 'static {
    /// The object the VMA belongs to.
    type Owner: Sync;

    /// A new VMA now shares the mapping (fork, split, mremap).
    fn open(owner: &Self::Owner, vma: &VmaRef);

    /// A VMA of the mapping goes away.
    fn close(owner: &Self::Owner, vma: &VmaRef);

    /// Serves a fault at page order `order` (0 for a page). Returns a
    /// `vm_fault_t`.
    fn fault(owner: &Self::Owner, vmf: &Fault, order: u32) -> VmFault;
}

/// The `vm_operations_struct` of a [`PfnMapOps`].
pub(crate) struct PfnMap<T>(PhantomData<T>);

impl<T: PfnMapOps> PfnMap<T> {
    const OPS: bindings::vm_operations_struct = bindings::vm_operations_struct {
        open: Some(Self::open),
        close: Some(Self::close),
        fault: Some(Self::fault),
        huge_fault: Some(Self::huge_fault),
        // SAFETY: All-zero is a valid (empty) `vm_operations_struct`.
        ..unsafe { core::mem::zeroed() }
    };

    /// Sets up `vma`, being created by `mmap()`, as a PFN map of `owner`:
    /// flags and page protection as vfio-pci sets them (write-combining if
    /// `wc`), `vm_pgoff` (see the caller for what it means) and these ops.
    ///
    /// The caller accounts for this first mapping itself: `open` is not
    /// called for it, `close` is.
    ///
    /// # Safety
    ///
    /// `owner` must outlive the VMA (vfio: the VMA holds the device file).
    pub(crate) unsafe fn install(vma: &VmaNew, owner: &T::Owner, pgoff: usize, wc: bool) {
        let raw = vma.as_ptr();
        // SAFETY: The VMA is being set up by `mmap()`, so we may change its
        // flags, protection, offset, private data and ops; `OPS` is static
        // (a promoted constant) and `owner` outlives the VMA.
        unsafe {
            bindings::vpa_vma_setup_pfnmap(raw, wc);
            (*raw).vm_pgoff = pgoff;
            (*raw).vm_private_data = core::ptr::from_ref(owner).cast_mut().cast();
            (*raw).vm_ops = &Self::OPS;
        }
    }

    /// # Safety
    ///
    /// `vma` must have been set up by [`Self::install`].
    unsafe fn owner<'a>(vma: *mut bindings::vm_area_struct) -> &'a T::Owner {
        // SAFETY: `install` stored a valid owner that outlives the VMA.
        unsafe { &*(*vma).vm_private_data.cast::<T::Owner>() }
    }

    /// # Safety
    ///
    /// Called by the mm on a VMA set up by [`Self::install`].
    unsafe extern "C" fn open(vma: *mut bindings::vm_area_struct) {
        // SAFETY: The mm calls `open` on a valid VMA of ours with the mmap
        // lock held.
        let (owner, vma) = unsafe { (Self::owner(vma), VmaRef::from_raw(vma)) };
        T::open(owner, vma)
    }

    /// # Safety
    ///
    /// Called by the mm on a VMA set up by [`Self::install`].
    unsafe extern "C" fn close(vma: *mut bindings::vm_area_struct) {
        // SAFETY: As for `open`.
        let (owner, vma) = unsafe { (Self::owner(vma), VmaRef::from_raw(vma)) };
        T::close(owner, vma)
    }

    /// # Safety
    ///
    /// Called by the mm for a fault on a VMA set up by [`Self::install`].
    unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> VmFault {
        // SAFETY: The mm passes a valid fault on a VMA of ours.
        let fault = unsafe { &*vmf.cast::<Fault>() };
        // SAFETY: As above.
        T::fault(unsafe { Self::owner(fault.vma()) }, fault, 0)
    }

    /// # Safety
    ///
    /// As for `fault`.
    unsafe extern "C" fn huge_fault(vmf: *mut bindings::vm_fault, order: c_uint) -> VmFault {
        // SAFETY: The mm passes a valid fault on a VMA of ours.
        let fault = unsafe { &*vmf.cast::<Fault>() };
        // SAFETY: As above.
        T::fault(unsafe { Self::owner(fault.vma()) }, fault, order)
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
