// SPDX-License-Identifier: GPL-2.0

//! Registration of a vfio-pci variant driver as a `struct pci_driver`.
//!
//! C header: [`include/linux/pci.h`](srctree/include/linux/pci.h)
//!
//! The kernel crate's `pci::Driver` cannot express what vfio needs
//! (`driver_managed_dma`, vfio_pci_core's error handlers and the reset
//! callbacks next to them, `sriov_configure`,
//! an ID table that only matches through `driver_override`, the core device
//! as driver data), so the `pci_driver` is filled in here and its callbacks
//! go to [`vfio::Registration`]. The registration also owns what the driver
//! has per module: its sysfs attribute group ([`sysfs::Groups`]) and its
//! debugfs directory.

use crate::staging::{bindings, sysfs, vfio};
use core::marker::PhantomData;
use kernel::{
    debugfs::Dir,
    error::{from_result, to_result},
    ffi::c_int,
    prelude::*,
    types::Opaque,
};

/// A registered `struct pci_driver` named [`vfio::Driver::NAME`] that binds
/// as vfio-pci does (any device through `driver_override`, and the IDs of
/// the `ids` module parameter) and creates a [`vfio::Device`] of `T` for each
/// device bound to it.
///
/// # Invariants
///
/// `drv` is registered with the PCI core from `new` until `drop`, with
/// `attrs` as its `dev_groups`; `debugfs` outlives every bound device.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T: vfio::Driver> {
    debugfs: Dir,
    #[pin]
    attrs: Opaque<sysfs::Groups<vfio::Device<T>>>,
    #[pin]
    drv: Opaque<bindings::pci_driver>,
    _t: PhantomData<T>,
}

// SAFETY: The registration is only touched at registration and unregistration,
// which the PCI core serialises, and by the probe callback, which only reads.
unsafe impl<T: vfio::Driver> Send for Registration<T> {}
// SAFETY: `&Registration` offers no method.
unsafe impl<T: vfio::Driver> Sync for Registration<T> {}

impl<T: vfio::Driver> Registration<T> {
    /// `vfio_pci_core_err_handlers`, plus the driver's reset callbacks.
    const ERR_HANDLERS: bindings::pci_error_handlers = bindings::pci_error_handlers {
        error_detected: Some(bindings::vfio_pci_core_aer_err_detected),
        mmio_enabled: None,
        slot_reset: None,
        reset_prepare: Some(Self::reset_prepare),
        reset_done: Some(Self::reset_done),
        resume: None,
        cor_error_detected: None,
    };

    /// Registers the driver for `module`, with the debugfs directory
    /// `debugfs_name`, and adds the IDs of the `ids` parameter.
    pub(crate) fn new(
        module: &'static ThisModule,
        debugfs_name: &'static CStr,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(&this in Self {
            debugfs: Dir::new(debugfs_name),
            attrs <- sysfs::Groups::new(),
            drv <- Opaque::try_ffi_init(move |slot: *mut bindings::pci_driver| {
                // SAFETY: `this` is being initialised in place; `attrs` was
                // initialised above and does not move.
                let groups = unsafe {
                    sysfs::Groups::as_dev_groups(&(*this.as_ptr()).attrs)
                };
                // SAFETY: `slot` is valid for writes; all-zero is a valid
                // `pci_driver` (no ID table, no callbacks).
                unsafe { core::ptr::write_bytes(slot, 0, 1) };
                // SAFETY: `slot` is valid and initialised; registration
                // happens last, once every field is set. The name, the ID
                // table and the groups are static or outlive the driver.
                unsafe {
                    (*slot).name = T::NAME.as_char_ptr();
                    (*slot).id_table = bindings::vpa_pci_id_table();
                    (*slot).probe = Some(Self::probe);
                    (*slot).remove = Some(Self::remove);
                    (*slot).sriov_configure = Some(Self::sriov_configure);
                    (*slot).err_handler = &Self::ERR_HANDLERS;
                    (*slot).driver_managed_dma = true;
                    (*slot).dev_groups = groups.cast_mut();
                    to_result(bindings::__pci_register_driver(
                        slot,
                        module.as_ptr(),
                        T::NAME.as_char_ptr(),
                    ))?;
                    // As vfio-pci: the `ids` parameter, once registered.
                    bindings::vpa_add_ids(slot);
                }
                Ok::<(), Error>(())
            }),
            _t: PhantomData,
        })
    }

    /// The registration whose driver `pdev` is being bound to.
    ///
    /// # Safety
    ///
    /// `pdev` is being probed by this registration's driver.
    unsafe fn of_probed<'a>(pdev: *mut bindings::pci_dev) -> &'a Self {
        // SAFETY: The driver core sets `dev.driver` before calling probe; it
        // is the `driver` of our `pci_driver`, which is `drv` of a pinned
        // registration that outlives the binding.
        unsafe {
            let drv = (*pdev).dev.driver;
            let pci = kernel::container_of!(drv, bindings::pci_driver, driver);
            &*kernel::container_of!(pci.cast::<Opaque<bindings::pci_driver>>(), Self, drv)
        }
    }

    /// # Safety
    ///
    /// Called by the PCI core to probe `pdev` for this driver.
    unsafe extern "C" fn probe(
        pdev: *mut bindings::pci_dev,
        _id: *const bindings::pci_device_id,
    ) -> c_int {
        // SAFETY: `pdev` is being probed by this driver.
        let this = unsafe { Self::of_probed(pdev) };
        from_result(|| {
            // SAFETY: `remove` below takes the registration back.
            unsafe { vfio::Registration::<T>::probe(pdev, &this.debugfs) }?;
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
    /// Called by the PCI core, with the device lock held, before it resets
    /// `pdev`, which is bound to this driver.
    unsafe extern "C" fn reset_prepare(pdev: *mut bindings::pci_dev) {
        // SAFETY: Bound, and kept bound by the device lock for the call.
        T::reset_prepare(unsafe { vfio::Device::<T>::from_bound(&raw mut (*pdev).dev) })
    }

    /// # Safety
    ///
    /// Called by the PCI core, with the device lock held, after it reset
    /// `pdev`, which is bound to this driver.
    unsafe extern "C" fn reset_done(pdev: *mut bindings::pci_dev) {
        // SAFETY: As in `reset_prepare`.
        T::reset_done(unsafe { vfio::Device::<T>::from_bound(&raw mut (*pdev).dev) })
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
