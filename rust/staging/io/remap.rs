// SPDX-License-Identifier: GPL-2.0

//! Owned kernel mappings of device memory: `ioremap()` (uncached-minus on
//! x86) or `ioremap_wc()` of a physical range, unmapped when dropped.
//!
//! C header: [`include/asm-generic/io.h`](srctree/include/asm-generic/io.h)
//!
//! On x86 each mapping holds a PAT memory-type reservation of its range for
//! as long as it lives: that is what makes later user mappings of the same
//! pages come out with the same type.
//!
//! Why not `kernel::io::mem::IoMem`: in 7.3 it maps a whole resource it
//! requests itself, uncached only. These are `ioremap_wc()` or `ioremap()`
//! of sub-ranges of a BAR whose region `vfio_pci_core` holds, through our
//! C wrappers, which fault injection can fail.

use crate::staging::bindings;
use kernel::{ffi::c_void, prelude::*};

/// A kernel mapping of `len` bytes of device memory.
///
/// # Invariants
///
/// `ptr` is the non-null result of `ioremap()` or `ioremap_wc()` of `len`
/// bytes, not yet unmapped.
pub(crate) struct IoMap {
    ptr: *mut c_void,
    len: usize,
    wc: bool,
}

// SAFETY: The mapping is plain device memory that any CPU may access and
// unmap; `IoMap` only hands out the raw address.
unsafe impl Send for IoMap {}
// SAFETY: As above; nothing is accessed through `&IoMap`.
unsafe impl Sync for IoMap {}

impl IoMap {
    /// Maps `len` bytes of device memory at physical address `phys`,
    /// write-combining if `wc`, else uncached (as `pci_iomap()` maps a
    /// memory BAR). `ENOMEM` if the mapping cannot be made.
    pub(crate) fn new(phys: u64, len: usize, wc: bool) -> Result<Self> {
        // Through our wrappers, which fault injection can fail.
        let ptr = if wc {
            // SAFETY: Maps a physical range; the caller owns that device memory.
            unsafe { bindings::vpa_ioremap_wc(phys, len) }
        } else {
            // SAFETY: As above.
            unsafe { bindings::vpa_ioremap(phys, len) }
        };
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: A non-null mapping of `len` bytes.
        Ok(Self { ptr, len, wc })
    }

    /// The mapping's kernel address, an `__iomem` pointer.
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.ptr
    }

    /// Length of the mapping in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is write-combining.
    pub(crate) fn wc(&self) -> bool {
        self.wc
    }
}

impl Drop for IoMap {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `ptr` is a live mapping, unmapped
        // only here.
        unsafe { bindings::iounmap(self.ptr) };
    }
}
