// SPDX-License-Identifier: GPL-2.0

//! sysfs attributes that a driver adds to the devices it binds (the
//! `dev_groups` of its `struct device_driver`).
//!
//! C header: [`include/linux/device.h`](srctree/include/linux/device.h)
//!
//! A driver lists its attributes as [`Attr`] values of an owner type (its
//! per-device state); [`Groups`] turns the list into the attribute group the
//! driver core creates after probe and removes before remove, so that the
//! owner is alive whenever a callback runs.

use crate::staging::bindings;
use core::{fmt, marker::PhantomData, ptr};
use kernel::{error::from_result, ffi::c_char, prelude::*, types::Opaque};

/// Most attributes a driver may have.
const MAX_ATTRS: usize = 4;

/// The per-device state that the attributes of a driver read and write.
pub(crate) trait AttrOwner: Sized + Sync + 'static {
    /// The attributes, in the order sysfs lists them.
    const ATTRS: &'static [Attr<Self>];

    /// Returns the owner bound to `dev`.
    ///
    /// # Safety
    ///
    /// `dev` must be bound to the driver whose [`Groups`] of `Self` called
    /// this, from an attribute callback (the binding lasts for the call).
    unsafe fn from_device<'a>(dev: *mut bindings::device) -> &'a Self;
}

/// One attribute: mode 0644 if it has `store`, else 0444.
pub(crate) struct Attr<O> {
    /// The file name.
    pub(crate) name: &'static CStr,
    /// Fills the file's contents.
    pub(crate) show: fn(&O, &mut Page<'_>) -> fmt::Result,
    /// Takes a write; the whole write is accepted or none of it.
    pub(crate) store: Option<fn(&O, &[u8]) -> Result>,
}

/// The page a `show` callback writes to, as `sysfs_emit()` does.
pub(crate) struct Page<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl fmt::Write for Page<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        // Keep a byte free, as sysfs_emit() does.
        if end >= self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// An attribute as the driver core sees it, and where it is in the list.
#[repr(C)]
struct Slot {
    attr: bindings::device_attribute,
    index: usize,
}

/// The attribute group of an [`AttrOwner`], in place.
///
/// # Invariants
///
/// After [`Groups::init`], `ptrs` holds the first `O::ATTRS.len()` slots and
/// a NULL, `group.attrs` points to `ptrs` and `groups` to `group` and a
/// NULL: the structure points into itself, so it stays where it was
/// initialised (it lives in an [`Opaque`] of a pinned registration).
#[repr(C)]
pub(crate) struct Groups<O> {
    slots: [Slot; MAX_ATTRS],
    ptrs: [*mut bindings::attribute; MAX_ATTRS + 1],
    group: bindings::attribute_group,
    groups: [*const bindings::attribute_group; 2],
    _o: PhantomData<O>,
}

impl<O: AttrOwner> Groups<O> {
    const FITS: () = assert!(O::ATTRS.len() <= MAX_ATTRS);

    /// Initialises the group in place.
    pub(crate) fn new() -> impl PinInit<Opaque<Self>> {
        Opaque::ffi_init(|this: *mut Self| {
            let () = Self::FITS;
            // SAFETY: `this` is valid for writes; all-zero is a valid value
            // of every field (NULL pointers, no callbacks, index 0).
            unsafe { ptr::write_bytes(this, 0, 1) };
            for (i, a) in O::ATTRS.iter().enumerate() {
                // SAFETY: `this` is valid and `i < MAX_ATTRS` (`FITS`); the
                // name is static and the callbacks outlive the group.
                unsafe {
                    let slot = &raw mut (*this).slots[i];
                    (*slot).index = i;
                    (*slot).attr.attr.name = a.name.as_char_ptr();
                    (*slot).attr.attr.mode = if a.store.is_some() { 0o644 } else { 0o444 };
                    (*slot).attr.__bindgen_anon_1.show = Some(Self::show);
                    if a.store.is_some() {
                        (*slot).attr.__bindgen_anon_2.store = Some(Self::store);
                    }
                    (*this).ptrs[i] = &raw mut (*slot).attr.attr;
                }
            }
            // SAFETY: `this` is valid; the pointers are into `*this`, which
            // does not move (see the type invariants).
            unsafe {
                (*this).group.__bindgen_anon_2.attrs = &raw mut (*this).ptrs[0];
                (*this).groups[0] = &raw const (*this).group;
            }
        })
    }

    /// The NULL-terminated list for `device_driver.dev_groups`.
    ///
    /// # Safety
    ///
    /// `this` must have been initialised by [`Groups::new`].
    pub(crate) unsafe fn as_dev_groups(
        this: &Opaque<Self>,
    ) -> *const *const bindings::attribute_group {
        // SAFETY: Initialised by the safety requirement.
        unsafe { &raw const (*this.get()).groups[0] }
    }

    /// # Safety
    ///
    /// Called by the driver core for an attribute of this group on a bound
    /// device, with a `PAGE_SIZE` buffer.
    unsafe extern "C" fn show(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
        buf: *mut c_char,
    ) -> isize {
        // SAFETY: `attr` is the first field of one of our `Slot`s.
        let index = unsafe { (*attr.cast::<Slot>()).index };
        // SAFETY: The device is bound while its attributes exist.
        let owner = unsafe { O::from_device(dev) };
        // SAFETY: sysfs hands out a page for `show`.
        let buf = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), bindings::PAGE_SIZE) };
        let mut page = Page { buf, len: 0 };
        match (O::ATTRS[index].show)(owner, &mut page) {
            Ok(()) => page.len as isize,
            Err(_) => EINVAL.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Called by the driver core for an attribute of this group on a bound
    /// device, with `count` bytes at `buf`.
    unsafe extern "C" fn store(
        dev: *mut bindings::device,
        attr: *mut bindings::device_attribute,
        buf: *const c_char,
        count: usize,
    ) -> isize {
        // SAFETY: `attr` is the first field of one of our `Slot`s.
        let index = unsafe { (*attr.cast::<Slot>()).index };
        // SAFETY: The device is bound while its attributes exist.
        let owner = unsafe { O::from_device(dev) };
        // SAFETY: sysfs passes `count` readable bytes.
        let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
        let Some(store) = O::ATTRS[index].store else {
            return EACCES.to_errno() as isize;
        };
        from_result(|| store(owner, input).map(|()| count as isize))
    }
}
