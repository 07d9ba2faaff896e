// SPDX-License-Identifier: GPL-2.0

//! A counted reference on a variant driver's device.
//!
//! C header: [`include/linux/device.h`](srctree/include/linux/device.h)
//!
//! The `struct device` embedded in a `struct vfio_device` counts references
//! on the allocation: its release (`vfio_device_release()`) calls the
//! driver's `release` op, which drops the driver's state, and frees. A
//! [`DeviceRef`] keeps the device, state included, alive; it does not keep
//! the device registered or bound. A reference kept in the device's own
//! state must be dropped at unbinding, or the device is never freed.

use super::{Device, Driver};
use crate::staging::bindings;
use core::{ops::Deref, ptr::NonNull};

/// A reference on a [`Device`].
///
/// # Invariants
///
/// Holds a reference (`get_device()`) on the `struct device` of the vfio
/// device at `dev`, which is therefore a live `Device<T>`.
pub(crate) struct DeviceRef<T: Driver> {
    dev: NonNull<Device<T>>,
}

// SAFETY: Only shares `&Device<T>`, which is `Sync` for a `Driver`; the
// reference can be dropped on any thread.
unsafe impl<T: Driver> Send for DeviceRef<T> {}
// SAFETY: As above.
unsafe impl<T: Driver> Sync for DeviceRef<T> {}

impl<T: Driver> Device<T> {
    /// A new reference on the device.
    pub(crate) fn get_ref(&self) -> DeviceRef<T> {
        // SAFETY: The vfio device is live (we have `&self`), so its embedded
        // `struct device` is initialised.
        unsafe { bindings::get_device(&raw mut (*self.core().vfio()).device) };
        // INVARIANT: The reference was just taken.
        DeviceRef {
            dev: NonNull::from(self),
        }
    }
}

impl<T: Driver> Deref for DeviceRef<T> {
    type Target = Device<T>;

    fn deref(&self) -> &Device<T> {
        // SAFETY: Alive by the type invariant.
        unsafe { self.dev.as_ref() }
    }
}

impl<T: Driver> Drop for DeviceRef<T> {
    fn drop(&mut self) {
        // SAFETY: The reference taken in `get_ref`, dropped once.
        unsafe { bindings::put_device(&raw mut (*self.core().vfio()).device) };
    }
}
