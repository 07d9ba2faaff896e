// SPDX-License-Identifier: GPL-2.0

//! Registration of a vfio-pci variant driver as a `struct pci_driver`.
//!
//! The kernel crate's `pci::Driver` cannot express what vfio needs
//! (`driver_managed_dma`, vfio_pci_core's error handlers, `sriov_configure`,
//! no ID table, the core device as driver data), so the `pci_driver` is filled
//! in here and its callbacks go to [`vfio::Registration`].

use crate::{bindings, vfio};
use core::marker::PhantomData;
use kernel::{
    error::{from_result, to_result},
    ffi::c_int,
    prelude::*,
    types::Opaque,
};

/// A registered `struct pci_driver` named [`vfio::Driver::NAME`] that binds
/// only through `driver_override` (it has no ID table) and creates a
/// [`vfio::Device`] of `T` for each device bound to it.
///
/// # Invariants
///
/// `drv` is registered with the PCI core from `new` until `drop`.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T: vfio::Driver> {
    #[pin]
    drv: Opaque<bindings::pci_driver>,
    _t: PhantomData<T>,
}

// SAFETY: The registration is only touched at registration and unregistration,
// which the PCI core serialises.
unsafe impl<T: vfio::Driver> Send for Registration<T> {}
// SAFETY: `&Registration` offers no method.
unsafe impl<T: vfio::Driver> Sync for Registration<T> {}

impl<T: vfio::Driver> Registration<T> {
    /// Registers the driver for `module`.
    pub(crate) fn new(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            drv <- Opaque::try_ffi_init(move |slot: *mut bindings::pci_driver| {
                // SAFETY: `slot` is valid for writes; all-zero is a valid
                // `pci_driver` (no ID table, no callbacks).
                unsafe { core::ptr::write_bytes(slot, 0, 1) };
                // SAFETY: `slot` is valid and initialised; registration
                // happens last, once every field is set. The name is static.
                unsafe {
                    (*slot).name = T::NAME.as_char_ptr();
                    (*slot).probe = Some(Self::probe);
                    (*slot).remove = Some(Self::remove);
                    (*slot).sriov_configure = Some(Self::sriov_configure);
                    (*slot).err_handler = &raw const bindings::vfio_pci_core_err_handlers;
                    (*slot).driver_managed_dma = true;
                    to_result(bindings::__pci_register_driver(
                        slot,
                        module.as_ptr(),
                        T::NAME.as_char_ptr(),
                    ))
                }
            }),
            _t: PhantomData,
        })
    }

    /// # Safety
    ///
    /// Called by the PCI core to probe `pdev` for this driver.
    unsafe extern "C" fn probe(
        pdev: *mut bindings::pci_dev,
        _id: *const bindings::pci_device_id,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `remove` below takes the registration back.
            unsafe { vfio::Registration::<T>::probe(pdev) }?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the PCI core to unbind `pdev`, which `probe` bound.
    unsafe extern "C" fn remove(pdev: *mut bindings::pci_dev) {
        // SAFETY: `probe` succeeded for `pdev`, and `remove` runs once.
        drop(unsafe { vfio::Registration::<T>::from_drvdata(pdev) });
    }

    /// # Safety
    ///
    /// Called by the PCI core for `pdev`, which is bound to this driver.
    unsafe extern "C" fn sriov_configure(pdev: *mut bindings::pci_dev, nr_virtfn: c_int) -> c_int {
        // SAFETY: `pdev` is bound to this driver, so `probe` registered it.
        unsafe { vfio::Registration::<T>::sriov_configure(pdev, nr_virtfn) }
    }
}

#[pinned_drop]
impl<T: vfio::Driver> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant the driver is registered.
        unsafe { bindings::pci_unregister_driver(self.drv.get()) };
    }
}
