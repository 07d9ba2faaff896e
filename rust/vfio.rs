// SPDX-License-Identifier: GPL-2.0

//! Safe abstractions for a vfio-pci variant driver built on `vfio_pci_core`.
//!
//! C headers: [`include/linux/vfio.h`](srctree/include/linux/vfio.h),
//! [`include/linux/vfio_pci_core.h`](srctree/include/linux/vfio_pci_core.h).
//!
//! A variant driver implements [`Driver`] for its per-device state. The state
//! is embedded in the allocation of the `struct vfio_pci_core_device`, as
//! `vfio_alloc_device()` does for C variant drivers, and reached through
//! [`Device`]. Every `vfio_device_ops` entry of vfio-pci exists; those the
//! driver does not implement go straight to the `vfio_pci_core` function, so
//! behaviour equals vfio-pci's unless a method overrides it.
//!
//! All of the unsafe glue between `vfio_device_ops` and [`Driver`] is in this
//! file.

use crate::bindings;
use core::{marker::PhantomData, ops::Deref, ptr};
use kernel::{
    device,
    error::{from_err_ptr, from_result, to_result, VTABLE_DEFAULT_ERROR},
    ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void},
    mm::virt::VmaNew,
    prelude::*,
    str::as_char_ptr_in_const_context,
    types::Opaque,
    uaccess::UserPtr,
};

/// A `struct vfio_pci_core_device`: the state `vfio_pci_core` keeps for one
/// PCI function.
///
/// # Invariants
///
/// The wrapped structure was initialised by `vfio_pci_core_init_dev()` and is
/// not yet released by `vfio_pci_core_release_dev()`.
#[repr(transparent)]
pub(crate) struct CoreDevice(Opaque<bindings::vfio_pci_core_device>);

// SAFETY: `vfio_pci_core` serialises access to its state with its own locks;
// the methods below only call functions that are safe to call from any thread.
unsafe impl Send for CoreDevice {}
// SAFETY: See `Send`.
unsafe impl Sync for CoreDevice {}

impl CoreDevice {
    /// Returns the raw `struct vfio_pci_core_device`.
    pub(crate) fn as_raw(&self) -> *mut bindings::vfio_pci_core_device {
        self.0.get()
    }

    /// Returns the embedded `struct vfio_device`.
    fn vfio(&self) -> *mut bindings::vfio_device {
        // SAFETY: `self.as_raw()` is valid by the type invariant; no reference
        // is created.
        unsafe { &raw mut (*self.as_raw()).vdev }
    }

    /// Returns the PCI function's `struct device`.
    pub(crate) fn device(&self) -> &device::Device {
        // SAFETY: `pdev` was set by `vfio_pci_core_init_dev()` and the PCI
        // device outlives its vfio device, which holds a reference on it.
        unsafe { device::Device::from_raw(&raw mut (*(*self.as_raw()).pdev).dev) }
    }

    /// `vfio_pci_core_enable()`: enable the device for a new user.
    pub(crate) fn enable(&self) -> Result {
        // SAFETY: `self.as_raw()` is valid by the type invariant.
        to_result(unsafe { bindings::vfio_pci_core_enable(self.as_raw()) })
    }

    /// `vfio_pci_core_finish_enable()`: complete [`Self::enable`].
    pub(crate) fn finish_enable(&self) {
        // SAFETY: `self.as_raw()` is valid by the type invariant.
        unsafe { bindings::vfio_pci_core_finish_enable(self.as_raw()) }
    }

    /// `vfio_pci_core_close_device()`: the last user is gone.
    pub(crate) fn close(&self) {
        // SAFETY: `self.vfio()` is valid by the type invariant.
        unsafe { bindings::vfio_pci_core_close_device(self.vfio()) }
    }

    /// `vfio_pci_core_ioctl()`.
    pub(crate) fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        // SAFETY: `self.vfio()` is valid by the type invariant; `arg` is
        // the user's argument, which core validates as any ioctl does.
        let ret = unsafe { bindings::vfio_pci_core_ioctl(self.vfio(), cmd, arg as c_ulong) };
        errno_or(ret as isize)
    }

    /// `vfio_pci_ioctl_get_region_info()`: fill `info` and `caps` for
    /// `info.index`.
    pub(crate) fn region_info(&self, info: &mut RegionInfo, caps: &mut InfoCaps) -> Result {
        // SAFETY: `self.vfio()` is valid by the type invariant; `info` and
        // `caps` are valid for writes as their types guarantee.
        to_result(unsafe {
            bindings::vfio_pci_ioctl_get_region_info(self.vfio(), info.as_raw(), caps.as_raw())
        })
    }

    /// `vfio_pci_core_ioctl_feature()`.
    pub(crate) fn device_feature(&self, flags: u32, arg: UserPtr, argsz: usize) -> Result {
        // SAFETY: `self.vfio()` is valid by the type invariant; `arg` is a
        // user pointer, which core only uses through `copy_{from,to}_user`.
        to_result(unsafe {
            bindings::vfio_pci_core_ioctl_feature(self.vfio(), flags, arg.as_mut_ptr(), argsz)
        })
    }

    /// `vfio_pci_core_read()`.
    pub(crate) fn read(&self, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        // SAFETY: `self.vfio()` is valid by the type invariant; `buf` is a
        // user pointer and `pos` a valid `loff_t`.
        errno_or(unsafe {
            bindings::vfio_pci_core_read(self.vfio(), buf.as_mut_ptr().cast(), count, pos)
        })
    }

    /// `vfio_pci_core_write()`.
    pub(crate) fn write(&self, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        // SAFETY: As in `read`.
        errno_or(unsafe {
            bindings::vfio_pci_core_write(self.vfio(), buf.as_const_ptr().cast(), count, pos)
        })
    }

    /// `vfio_pci_core_mmap()`.
    pub(crate) fn mmap(&self, vma: &VmaNew) -> Result {
        // SAFETY: `self.vfio()` is valid by the type invariant, `vma` is the
        // VMA being set up by the `mmap` call core is serving.
        to_result(unsafe { bindings::vfio_pci_core_mmap(self.vfio(), vma.as_ptr()) })
    }
}

/// Number of standard BARs, and the first region index after them.
pub(crate) const NUM_BARS: usize = bindings::PCI_STD_NUM_BARS as usize;
/// Number of fixed vfio-pci regions (BARs, ROM, config, VGA).
pub(crate) const NUM_REGIONS: u32 = bindings::VFIO_PCI_NUM_REGIONS;
/// Region offsets: `index << OFFSET_SHIFT | offset within the region`.
pub(crate) const OFFSET_SHIFT: u32 = bindings::VFIO_PCI_OFFSET_SHIFT;

/// Whether this platform maps BARs write-combining the way this crate's
/// design needs (x86 with PAT; see Documentation/vfio-pci-alias.rst).
pub(crate) fn wc_supported() -> bool {
    // SAFETY: A query without requirements.
    unsafe { bindings::vpa_wc_supported() }
}

/// Returns the file offset of region `index`.
pub(crate) const fn index_to_offset(index: u32) -> u64 {
    (index as u64) << OFFSET_SHIFT
}

/// Returns the region index a file offset falls in.
pub(crate) const fn offset_to_index(offset: u64) -> u64 {
    offset >> OFFSET_SHIFT
}

/// Returns the offset within its region of a file offset.
pub(crate) const fn offset_in_region(offset: u64) -> u64 {
    offset & ((1u64 << OFFSET_SHIFT) - 1)
}

impl CoreDevice {
    /// Number of device-specific regions core registered at open, which come
    /// after the fixed ones.
    pub(crate) fn dev_regions(&self) -> u32 {
        // SAFETY: Valid by the type invariant; only changes during open.
        unsafe { (*self.as_raw()).num_regions as u32 }
    }

    /// Whether core lets userspace mmap() `bar`.
    pub(crate) fn bar_mmap_supported(&self, bar: usize) -> bool {
        // SAFETY: Valid by the type invariant; set at open.
        bar < NUM_BARS && unsafe { (*self.as_raw()).bar_mmap_supported[bar] }
    }

    fn pdev(&self) -> *mut bindings::pci_dev {
        // SAFETY: Valid by the type invariant; `pdev` is set at init.
        unsafe { (*self.as_raw()).pdev }
    }

    /// `pci_resource_len()` of `bar`.
    pub(crate) fn bar_len(&self, bar: usize) -> u64 {
        // SAFETY: `pdev()` is valid; `bar` is a standard BAR.
        unsafe { bindings::vpa_bar_len(self.pdev(), bar as c_int) }
    }

    /// `pci_resource_start()` of `bar`.
    pub(crate) fn bar_start(&self, bar: usize) -> u64 {
        // SAFETY: `pdev()` is valid; `bar` is a standard BAR.
        unsafe { bindings::vpa_bar_start(self.pdev(), bar as c_int) }
    }

    /// The BAR holding the MSI-X table, if the device has MSI-X.
    pub(crate) fn msix_bar(&self) -> Option<usize> {
        // SAFETY: Valid by the type invariant; set at open.
        let bar = unsafe { (*self.as_raw()).msix_bar } as usize;
        (bar < NUM_BARS).then_some(bar)
    }

    /// Number of ioeventfds the user has registered.
    pub(crate) fn ioeventfds(&self) -> i32 {
        // SAFETY: Valid by the type invariant. A racy read: callers exclude
        // new ioeventfds by other means.
        unsafe { ptr::read_volatile(&raw const (*self.as_raw()).ioeventfds_nr) }
    }

    /// Replaces core's kernel mapping of `bar` (`barmap[bar]`, an uncached
    /// `pci_iomap()` since open) with a write-combining one, or back.
    ///
    /// The old mapping is removed first: x86 PAT allows one memory type per
    /// physical range, so the new type is only granted when no mapping of the
    /// other type is left.
    ///
    /// # Safety
    ///
    /// Nothing may use `barmap[bar]` during the call or hold on to the old
    /// value after it: no read/write of the BAR in flight, no ioeventfd on the
    /// device, no user mapping of the BAR.
    pub(crate) unsafe fn remap_bar(&self, bar: usize, wc: bool) -> Result {
        let core = self.as_raw();
        // SAFETY: Valid by the type invariant; exclusive use by the safety
        // requirements.
        let old = unsafe { (*core).barmap[bar] };
        if old.is_null() || (old as usize) >= (-(bindings::MAX_ERRNO as isize)) as usize {
            return Err(ENODEV);
        }
        // SAFETY: `old` came from `pci_iomap()` or from an earlier call.
        unsafe { bindings::pci_iounmap(self.pdev(), old) };
        let new = if wc {
            // SAFETY: Maps the BAR's own physical range.
            unsafe { bindings::ioremap_wc(self.bar_start(bar), self.bar_len(bar) as usize) }
        } else {
            // SAFETY: As core maps it at open.
            unsafe { bindings::pci_iomap(self.pdev(), bar as c_int, 0) }
        };
        if !new.is_null() {
            // SAFETY: Exclusive use by the safety requirements.
            unsafe { (*core).barmap[bar] = new };
            return Ok(());
        }
        // Go back to what core had, so that read/write keep working.
        // SAFETY: As core maps it at open.
        let back = unsafe { bindings::pci_iomap(self.pdev(), bar as c_int, 0) };
        let back = if back.is_null() {
            ENOMEM.to_ptr()
        } else {
            back
        };
        // SAFETY: Exclusive use by the safety requirements; core copes with an
        // error pointer there, as after a failed map at open.
        unsafe { (*core).barmap[bar] = back };
        Err(ENOMEM)
    }

    /// Inserts `pfn` for the fault `vmf` with `vfio_pci_vmf_insert_pfn()`
    /// under `memory_lock`, which fails with SIGBUS while the device's memory
    /// decoding is off or it is in low power.
    pub(crate) fn insert_pfn(&self, vmf: &crate::vma::Fault, pfn: u64, order: u32) -> u32 {
        // SAFETY: Valid by the type invariant.
        let lock = unsafe { &raw mut (*self.as_raw()).memory_lock };
        // SAFETY: `lock` is core's initialised rwsem; the fault path may sleep.
        unsafe { bindings::down_read(lock) };
        // SAFETY: `memory_lock` is held for read, as required; `vmf` is the
        // fault being handled.
        let ret = unsafe {
            bindings::vfio_pci_vmf_insert_pfn(self.as_raw(), vmf.as_raw(), pfn as usize, order)
        };
        // SAFETY: Taken above.
        unsafe { bindings::up_read(lock) };
        ret
    }
}

/// Converts a `ssize_t`-style return value into a [`Result`].
fn errno_or(ret: isize) -> Result<isize> {
    if ret < 0 {
        // The value is a negative errno, which fits in `c_int`.
        Err(Error::from_errno(ret as c_int))
    } else {
        Ok(ret)
    }
}

/// The `struct vfio_region_info` a `VFIO_DEVICE_GET_REGION_INFO` fills.
#[repr(transparent)]
pub(crate) struct RegionInfo(bindings::vfio_region_info);

impl RegionInfo {
    fn as_raw(&mut self) -> *mut bindings::vfio_region_info {
        &raw mut self.0
    }
}

impl Deref for RegionInfo {
    type Target = bindings::vfio_region_info;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl core::ops::DerefMut for RegionInfo {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// The capability chain (`struct vfio_info_cap`) of a region info reply.
#[repr(transparent)]
pub(crate) struct InfoCaps(bindings::vfio_info_cap);

impl InfoCaps {
    fn as_raw(&mut self) -> *mut bindings::vfio_info_cap {
        &raw mut self.0
    }

    /// Appends `cap` to the chain with `vfio_info_add_capability()`.
    ///
    /// `cap` must start with a `struct vfio_info_cap_header`.
    pub(crate) fn add<C: kernel::transmute::AsBytes>(&mut self, cap: &C) -> Result {
        let bytes = cap.as_bytes();
        if bytes.len() < core::mem::size_of::<bindings::vfio_info_cap_header>() {
            return Err(EINVAL);
        }
        // SAFETY: `self` is a valid chain; `bytes` is readable for its length
        // and starts with a header, which the function reads and copies.
        to_result(unsafe {
            bindings::vfio_info_add_capability(
                self.as_raw(),
                bytes.as_ptr().cast_mut().cast(),
                bytes.len(),
            )
        })
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
    /// payload `arg` of `argsz` bytes.
    fn device_feature(_dev: &Device<Self>, _flags: u32, _arg: UserPtr, _argsz: usize) -> Result {
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
    fn mmap(_dev: &Device<Self>, _vma: &VmaNew) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
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
    unsafe fn from_vfio<'a>(vdev: *mut bindings::vfio_device) -> &'a Self {
        // SAFETY: `Device<T>` starts with the core device, which starts with
        // the vfio device (see the assertion above and `repr(C)`); the caller
        // guarantees validity for `'a`.
        unsafe { &*vdev.cast::<Self>() }
    }

    /// Returns the core device.
    pub(crate) fn core(&self) -> &CoreDevice {
        &self.core
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
        from_result(|| T::ioctl(dev, cmd, arg).map(|r| r as c_long))
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
        from_result(|| T::region_info(dev, info, caps).map(|()| 0))
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
        from_result(|| T::device_feature(dev, flags, UserPtr::from_ptr(arg), argsz).map(|()| 0))
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
        from_result(|| T::read(dev, UserPtr::from_ptr(buf.cast()), count, pos))
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
        from_result(|| T::write(dev, UserPtr::from_ptr(buf.cast_mut().cast()), count, pos))
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
        from_result(|| T::mmap(dev, vma).map(|()| 0))
    }
}

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
    pub(crate) unsafe fn probe(pdev: *mut bindings::pci_dev) -> Result {
        // SAFETY: `pdev` is valid while it is being probed.
        let dev = unsafe { &raw mut (*pdev).dev };
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
        // SAFETY: By the type invariant the device is registered; this
        // unregisters it (waiting for users to go, as vfio-pci does) and drops
        // the initial reference.
        unsafe {
            bindings::vfio_pci_core_unregister_device(self.core);
            bindings::vpa_put_core_device(self.core);
        }
    }
}
