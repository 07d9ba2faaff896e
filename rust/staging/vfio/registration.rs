// SPDX-License-Identifier: GPL-2.0

//! Registration of a variant device with vfio, as vfio-pci's probe and
//! remove do it.
//!
//! C header: [`include/linux/vfio_pci_core.h`](srctree/include/linux/vfio_pci_core.h)

use super::{Device, Driver, Ops};
use crate::staging::bindings;
use core::marker::PhantomData;
use kernel::{debugfs::Dir, error::from_err_ptr, ffi::c_int, pci, prelude::*};

/// An owned reference to a registered variant device.
///
/// # Invariants
///
/// `core` is the core device of a `Device<T>` allocated with [`Ops::<T>::OPS`]
/// and registered with `vfio_pci_core_register_device()`; this owns the
/// allocation's initial reference.
pub(crate) struct Registration<T: Driver> {
    core: *mut bindings::vfio_pci_core_device,
    _t: PhantomData<T>,
}

impl<T: Driver> Registration<T> {
    /// Allocates a `Device<T>` for the PCI function `pdev`, makes it the PCI
    /// device's driver data and registers it with vfio, as vfio-pci's probe
    /// does.
    ///
    /// # Safety
    ///
    /// `pdev` must be a PCI device being probed by a driver whose `remove`
    /// calls [`Registration::from_drvdata`] and drops the result.
    pub(crate) unsafe fn probe(pdev: *mut bindings::pci_dev, debugfs: &Dir) -> Result {
        // SAFETY: `pdev` is valid while it is being probed.
        let dev = unsafe { &raw mut (*pdev).dev };
        // SAFETY: `pdev` is valid while it is being probed; `pci::Device` is
        // a transparent wrapper of `struct pci_dev`.
        T::may_bind(unsafe { &*pdev.cast::<pci::Device>() })?;
        // SAFETY: `dev` is a valid device; `Ops::<T>::OPS` is static and
        // matches the allocation size.
        let core = from_err_ptr(unsafe {
            bindings::vpa_alloc_core_device(core::mem::size_of::<Device<T>>(), dev, &Ops::<T>::OPS)
        })?;
        // SAFETY: `dev` is valid; core's error handlers and register expect
        // the core device as the driver data.
        unsafe { bindings::dev_set_drvdata(dev, core.cast()) };
        // SAFETY: `core` is valid; the ops are static.
        unsafe { (*core).pci_ops = bindings::vpa_core_pci_ops() };
        // SAFETY: `core` is a fully initialised, unregistered core device.
        let ret = unsafe { bindings::vfio_pci_core_register_device(core) };
        if ret != 0 {
            // SAFETY: Drops the reference from the allocation.
            unsafe { bindings::vpa_put_core_device(core) };
            return Err(Error::from_errno(ret));
        }
        // SAFETY: `core` is the core device of a live `Device<T>`, which the
        // registration keeps alive until `remove`.
        T::bound(unsafe { Device::<T>::from_vfio(core.cast()) }, debugfs);
        Ok(())
    }

    /// Takes back the registration that [`Registration::probe`] left in the
    /// driver data of `pdev`.
    ///
    /// # Safety
    ///
    /// `pdev` must have been probed successfully with [`Registration::probe`]
    /// for this `T`, and this must be called once, from `remove`.
    pub(crate) unsafe fn from_drvdata(pdev: *mut bindings::pci_dev) -> Self {
        // SAFETY: `pdev` is valid during `remove`.
        let core = unsafe { bindings::dev_get_drvdata(&raw mut (*pdev).dev) };
        // INVARIANT: `probe` stored the registered core device there.
        Self {
            core: core.cast(),
            _t: PhantomData,
        }
    }

    /// `vfio_pci_core_sriov_configure()` for the device bound to `pdev`, if the
    /// `enable_sriov` module parameter allows it (`ENOENT` otherwise), as in
    /// vfio-pci.
    ///
    /// # Safety
    ///
    /// `pdev` must be bound to a driver that registered it with
    /// [`Registration::probe`].
    pub(crate) unsafe fn sriov_configure(pdev: *mut bindings::pci_dev, nr_virtfn: c_int) -> c_int {
        // As vfio-pci: only with the `enable_sriov` module parameter.
        // SAFETY: Reads a module parameter.
        if !unsafe { bindings::vpa_enable_sriov() } {
            return ENOENT.to_errno();
        }
        // SAFETY: `pdev` is bound, so its driver data is our core device.
        let core = unsafe { bindings::dev_get_drvdata(&raw mut (*pdev).dev) };
        // SAFETY: As above.
        unsafe { bindings::vfio_pci_core_sriov_configure(core.cast(), nr_virtfn) }
    }
}

impl<T: Driver> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the device is registered and alive.
        T::unbinding(unsafe { Device::<T>::from_vfio(self.core.cast()) });
        // SAFETY: By the type invariant the device is registered; this
        // unregisters it (waiting for users to go, as vfio-pci does) and drops
        // the initial reference.
        unsafe {
            bindings::vfio_pci_core_unregister_device(self.core);
            bindings::vpa_put_core_device(self.core);
        }
    }
}
