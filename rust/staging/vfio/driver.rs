// SPDX-License-Identifier: GPL-2.0

//! The driver trait of a variant driver, its device type and the
//! `vfio_device_ops` glue between the two.
//!
//! C header: [`include/linux/vfio.h`](srctree/include/linux/vfio.h)
//!
//! All of the unsafe glue between `vfio_device_ops` and [`Driver`] is in this
//! file.

use super::{CoreDevice, InfoCaps, Mmap, RegionInfo};
use crate::staging::{
    bindings,
    sysfs::{Attr, AttrOwner},
};
use core::{marker::PhantomData, ops::Deref, ptr};
use kernel::{
    debugfs::Dir,
    error::{from_result, to_result, VTABLE_DEFAULT_ERROR},
    ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void},
    mm::virt::VmaNew,
    pci,
    prelude::*,
    str::as_char_ptr_in_const_context,
    uaccess::UserPtr,
};

/// `from_result()` for the hot ops (read, write, ioctl, region info), inlined,
/// so that the fd path adds no call of its own to vfio-pci's.
#[inline(always)]
fn ret_or_errno<T: From<i16>>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => T::from(e.to_errno() as i16),
    }
}

/// A variant driver's per-device state and its `vfio_device_ops`.
///
/// Methods left out go directly to the `vfio_pci_core` function of the same
/// name, exactly as in vfio-pci; a method that is implemented may still call
/// the core function through [`Device::core`] for the cases it leaves alone.
#[vtable]
pub(crate) trait Driver: Sized + Send + Sync + 'static {
    /// `vfio_device_ops.name`.
    const NAME: &'static CStr;

    /// Creates the per-device state, after the core device is initialised.
    fn new(core: &CoreDevice) -> impl PinInit<Self, Error>;

    /// `open_device`: the first user opened the device. vfio-pci enables the
    /// core device here, which the default does.
    fn open_device(_dev: &Device<Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `close_device`: the last user closed the device.
    fn close_device(_dev: &Device<Self>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `ioctl` on the device fd.
    fn ioctl(_dev: &Device<Self>, _cmd: u32, _arg: usize) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `get_region_info_caps`: fill in `info` for `info.index`.
    fn region_info(_dev: &Device<Self>, _info: &mut RegionInfo, _caps: &mut InfoCaps) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `device_feature`: `VFIO_DEVICE_FEATURE` with `flags` and the user's
    /// payload `arg` of `argsz` bytes. Returns what the ioctl returns: 0, or
    /// a new fd (`VFIO_DEVICE_FEATURE_DMA_BUF`).
    fn device_feature(
        _dev: &Device<Self>,
        _flags: u32,
        _arg: UserPtr,
        _argsz: usize,
    ) -> Result<i32> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `read` on the device fd.
    fn read(_dev: &Device<Self>, _buf: UserPtr, _count: usize, _pos: &mut i64) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `write` on the device fd.
    fn write(_dev: &Device<Self>, _buf: UserPtr, _count: usize, _pos: &mut i64) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `mmap` of the device fd.
    fn mmap(_dev: &Device<Self>, _vma: &Mmap<'_, Self>) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// sysfs attributes of the devices this driver binds.
    const ATTRS: &'static [Attr<Device<Self>>] = &[];

    /// Whether the driver may bind the PCI function `pdev`; the error fails
    /// the probe.
    fn may_bind(_pdev: &pci::Device) -> Result {
        Ok(())
    }

    /// The device was registered with vfio: `debugfs` is the driver's
    /// debugfs directory.
    fn bound(_dev: &Device<Self>, _debugfs: &Dir) {}

    /// The device is about to be unregistered from vfio.
    fn unbinding(_dev: &Device<Self>) {}

    /// The PCI core is about to reset the function (`reset_prepare`): an
    /// FLR or a bus reset, for `VFIO_DEVICE_RESET`, a hot reset of the
    /// device set through any of its devices, or a reset through sysfs.
    /// Core holds `memory_lock` for writing around the resets it starts.
    fn reset_prepare(_dev: &Device<Self>) {}

    /// The reset is over and config space is restored (`reset_done`).
    fn reset_done(_dev: &Device<Self>) {}
}

/// A variant driver's device: the core device followed by the driver's state.
///
/// # Invariants
///
/// The allocation was made by `_vfio_alloc_device()` with [`Ops::<T>::OPS`],
/// `core` is initialised (see [`CoreDevice`]) and `data` is initialised, from
/// the `init` op until the `release` op.
#[repr(C)]
pub(crate) struct Device<T> {
    core: CoreDevice,
    data: T,
}

// The C side reaches the core device, the vfio device and `Device<T>` through
// one pointer, as `vfio_alloc_device()` requires.
const _: () = assert!(core::mem::offset_of!(bindings::vfio_pci_core_device, vdev) == 0);

impl<T: Driver> Device<T> {
    /// Returns the device for a `struct vfio_device` of this driver.
    ///
    /// # Safety
    ///
    /// `vdev` must be the vfio device of a live `Device<T>`, valid for `'a`.
    pub(super) unsafe fn from_vfio<'a>(vdev: *mut bindings::vfio_device) -> &'a Self {
        // SAFETY: `Device<T>` starts with the core device, which starts with
        // the vfio device (see the assertion above and `repr(C)`); the caller
        // guarantees validity for `'a`.
        unsafe { &*vdev.cast::<Self>() }
    }

    /// Returns the device of this driver bound to `dev`.
    ///
    /// # Safety
    ///
    /// `dev` must be the PCI function's device, bound to this driver (probe
    /// made the core device its driver data) for `'a`: the caller is a
    /// callback the binding lasts for.
    pub(crate) unsafe fn from_bound<'a>(dev: *mut bindings::device) -> &'a Self {
        // SAFETY: Bound, so its driver data is the vfio device of a live
        // `Device<T>`, valid for `'a` by the safety requirement.
        unsafe { Self::from_vfio(bindings::dev_get_drvdata(dev).cast()) }
    }

    /// Returns the core device.
    pub(crate) fn core(&self) -> &CoreDevice {
        &self.core
    }
}

impl<T: Driver> AttrOwner for Device<T> {
    const ATTRS: &'static [Attr<Self>] = T::ATTRS;

    unsafe fn from_device<'a>(dev: *mut bindings::device) -> &'a Self {
        // SAFETY: The device is bound to our driver for the attribute
        // callback (safety requirement).
        unsafe { Self::from_bound(dev) }
    }
}

impl<T> Deref for Device<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.data
    }
}

/// The `vfio_device_ops` of a [`Driver`].
pub(crate) struct Ops<T>(PhantomData<T>);

type IoctlFn = unsafe extern "C" fn(*mut bindings::vfio_device, c_uint, c_ulong) -> c_long;
type RegionInfoFn = unsafe extern "C" fn(
    *mut bindings::vfio_device,
    *mut bindings::vfio_region_info,
    *mut bindings::vfio_info_cap,
) -> c_int;
type FeatureFn = unsafe extern "C" fn(*mut bindings::vfio_device, u32, *mut c_void, usize) -> c_int;
type ReadFn =
    unsafe extern "C" fn(*mut bindings::vfio_device, *mut c_char, usize, *mut i64) -> isize;
type WriteFn =
    unsafe extern "C" fn(*mut bindings::vfio_device, *const c_char, usize, *mut i64) -> isize;
type MmapFn =
    unsafe extern "C" fn(*mut bindings::vfio_device, *mut bindings::vm_area_struct) -> c_int;
type VoidFn = unsafe extern "C" fn(*mut bindings::vfio_device);
type IntFn = unsafe extern "C" fn(*mut bindings::vfio_device) -> c_int;

impl<T: Driver> Ops<T> {
    /// The ops table: every entry vfio-pci has, overridden where `T` says so.
    pub(crate) const OPS: bindings::vfio_device_ops = bindings::vfio_device_ops {
        name: as_char_ptr_in_const_context(T::NAME).cast_mut(),
        init: Some(Self::init),
        release: Some(Self::release),
        bind_iommufd: Some(bindings::vfio_iommufd_physical_bind),
        unbind_iommufd: Some(bindings::vfio_iommufd_physical_unbind),
        attach_ioas: Some(bindings::vfio_iommufd_physical_attach_ioas),
        detach_ioas: Some(bindings::vfio_iommufd_physical_detach_ioas),
        pasid_attach_ioas: Some(bindings::vfio_iommufd_physical_pasid_attach_ioas),
        pasid_detach_ioas: Some(bindings::vfio_iommufd_physical_pasid_detach_ioas),
        open_device: Some(if T::HAS_OPEN_DEVICE {
            Self::open_device as IntFn
        } else {
            Self::open_device_default
        }),
        close_device: Some(if T::HAS_CLOSE_DEVICE {
            Self::close_device as VoidFn
        } else {
            bindings::vfio_pci_core_close_device
        }),
        read: Some(if T::HAS_READ {
            Self::read as ReadFn
        } else {
            bindings::vfio_pci_core_read
        }),
        write: Some(if T::HAS_WRITE {
            Self::write as WriteFn
        } else {
            bindings::vfio_pci_core_write
        }),
        ioctl: Some(if T::HAS_IOCTL {
            Self::ioctl as IoctlFn
        } else {
            bindings::vfio_pci_core_ioctl
        }),
        get_region_info_caps: Some(if T::HAS_REGION_INFO {
            Self::region_info as RegionInfoFn
        } else {
            bindings::vfio_pci_ioctl_get_region_info
        }),
        mmap: Some(if T::HAS_MMAP {
            Self::mmap as MmapFn
        } else {
            bindings::vfio_pci_core_mmap
        }),
        request: Some(bindings::vfio_pci_core_request),
        match_: Some(bindings::vfio_pci_core_match),
        match_token_uuid: Some(bindings::vfio_pci_core_match_token_uuid),
        dma_unmap: None,
        device_feature: Some(if T::HAS_DEVICE_FEATURE {
            Self::device_feature as FeatureFn
        } else {
            bindings::vfio_pci_core_ioctl_feature
        }),
    };

    /// `init`: initialise the core device, then the driver's state in place.
    ///
    /// # Safety
    ///
    /// Called by `vfio_init_device()` on a zeroed allocation of
    /// `size_of::<Device<T>>()` bytes whose `vfio_device` is set up.
    unsafe extern "C" fn init(vdev: *mut bindings::vfio_device) -> c_int {
        let this = vdev.cast::<Device<T>>();
        from_result(|| {
            // As vfio-pci's init: latch its parameters into the core device,
            // so that later writes to them leave this device alone.
            // SAFETY: The allocation starts with the core device (`repr(C)`),
            // whose fields vfio core zeroed; nothing else uses it yet.
            unsafe { bindings::vpa_latch_core_params(this.cast()) };
            // SAFETY: `vdev` is a vfio device being initialised, as
            // `vfio_pci_core_init_dev()` expects.
            to_result(unsafe { bindings::vfio_pci_core_init_dev(vdev) })?;
            // SAFETY: The core device was just initialised; the allocation
            // lives until the `release` op.
            let core = unsafe { &(*this).core };
            // SAFETY: `data` is uninitialised memory inside an allocation that
            // never moves, so it may be initialised in place and stays pinned.
            if let Err(e) = unsafe { T::new(core).__init(&raw mut (*this).data) } {
                // SAFETY: Undo `vfio_pci_core_init_dev()`: vfio core does not
                // call `release` when `init` fails.
                unsafe { bindings::vfio_pci_core_release_dev(vdev) };
                return Err(e);
            }
            Ok(0)
        })
    }

    /// `release`: drop the driver's state, then release the core device.
    ///
    /// # Safety
    ///
    /// Called once by vfio core on a device whose `init` op succeeded.
    unsafe extern "C" fn release(vdev: *mut bindings::vfio_device) {
        let this = vdev.cast::<Device<T>>();
        // SAFETY: `init` initialised `data`, and nothing uses it any more: this
        // is the last reference to the vfio device.
        unsafe { ptr::drop_in_place(&raw mut (*this).data) };
        // SAFETY: Pairs with `vfio_pci_core_init_dev()` in `init`.
        unsafe { bindings::vfio_pci_core_release_dev(vdev) };
    }

    /// `open_device` of vfio-pci: enable, then finish enabling.
    ///
    /// # Safety
    ///
    /// Called by vfio core on a registered device of this driver.
    unsafe extern "C" fn open_device_default(vdev: *mut bindings::vfio_device) -> c_int {
        // SAFETY: By the function's safety requirement.
        let dev = unsafe { Device::<T>::from_vfio(vdev) };
        from_result(|| {
            dev.core().enable()?;
            dev.core().finish_enable();
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by vfio core on a registered device of this driver.
    unsafe extern "C" fn open_device(vdev: *mut bindings::vfio_device) -> c_int {
        // SAFETY: By the function's safety requirement.
        let dev = unsafe { Device::<T>::from_vfio(vdev) };
        from_result(|| T::open_device(dev).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by vfio core on an open device of this driver.
    unsafe extern "C" fn close_device(vdev: *mut bindings::vfio_device) {
        // SAFETY: By the function's safety requirement.
        T::close_device(unsafe { Device::<T>::from_vfio(vdev) })
    }

    /// # Safety
    ///
    /// Called by vfio core on an open device of this driver.
    unsafe extern "C" fn ioctl(
        vdev: *mut bindings::vfio_device,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: By the function's safety requirement.
        let dev = unsafe { Device::<T>::from_vfio(vdev) };
        ret_or_errno(T::ioctl(dev, cmd, arg).map(|r| r as c_long))
    }

    /// # Safety
    ///
    /// Called by vfio core on an open device of this driver, with `info` and
    /// `caps` valid for the duration of the call.
    unsafe extern "C" fn region_info(
        vdev: *mut bindings::vfio_device,
        info: *mut bindings::vfio_region_info,
        caps: *mut bindings::vfio_info_cap,
    ) -> c_int {
        // SAFETY: By the function's safety requirement.
        let dev = unsafe { Device::<T>::from_vfio(vdev) };
        // SAFETY: `RegionInfo` and `InfoCaps` are transparent wrappers; the
        // pointers are valid and unaliased for the call.
        let (info, caps) = unsafe { (&mut *info.cast(), &mut *caps.cast()) };
        ret_or_errno(T::region_info(dev, info, caps).map(|()| 0))
    }

    /// # Safety
    ///
    /// Called by vfio core on an open device of this driver.
    unsafe extern "C" fn device_feature(
        vdev: *mut bindings::vfio_device,
        flags: u32,
        arg: *mut c_void,
        argsz: usize,
    ) -> c_int {
        // SAFETY: By the function's safety requirement.
        let dev = unsafe { Device::<T>::from_vfio(vdev) };
        from_result(|| T::device_feature(dev, flags, UserPtr::from_ptr(arg), argsz))
    }

    /// # Safety
    ///
    /// Called by vfio core on an open device of this driver; `pos` is valid.
    unsafe extern "C" fn read(
        vdev: *mut bindings::vfio_device,
        buf: *mut c_char,
        count: usize,
        pos: *mut i64,
    ) -> isize {
        // SAFETY: By the function's safety requirement.
        let (dev, pos) = unsafe { (Device::<T>::from_vfio(vdev), &mut *pos) };
        ret_or_errno(T::read(dev, UserPtr::from_ptr(buf.cast()), count, pos))
    }

    /// # Safety
    ///
    /// Called by vfio core on an open device of this driver; `pos` is valid.
    unsafe extern "C" fn write(
        vdev: *mut bindings::vfio_device,
        buf: *const c_char,
        count: usize,
        pos: *mut i64,
    ) -> isize {
        // SAFETY: By the function's safety requirement.
        let (dev, pos) = unsafe { (Device::<T>::from_vfio(vdev), &mut *pos) };
        ret_or_errno(T::write(
            dev,
            UserPtr::from_ptr(buf.cast_mut().cast()),
            count,
            pos,
        ))
    }

    /// # Safety
    ///
    /// Called by vfio core from `mmap()` of an open device of this driver,
    /// with the VMA being set up.
    unsafe extern "C" fn mmap(
        vdev: *mut bindings::vfio_device,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: By the function's safety requirement.
        let dev = unsafe { Device::<T>::from_vfio(vdev) };
        // SAFETY: The VMA is being set up by `mmap()` and valid for the call.
        let vma = unsafe { VmaNew::from_raw(vma) };
        from_result(|| T::mmap(dev, &Mmap::new(dev, vma)).map(|()| 0))
    }
}
