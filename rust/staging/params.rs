// SPDX-License-Identifier: GPL-2.0

//! The module parameters the driver reads, which are defined in C
//! (`rust/helpers/params.c`).
//!
//! C header: [`include/linux/moduleparam.h`](srctree/include/linux/moduleparam.h)
//!
//! Why C: 7.3's `module!` parameters are integers only and are not visible
//! in sysfs, and the drop-in build must offer vfio-pci's parameters under
//! vfio-pci's names and permissions.

use super::bindings;
use kernel::prelude::*;

/// `disable_denylist`: bind devices vfio-pci's denylist refuses.
pub(crate) fn disable_denylist() -> bool {
    // SAFETY: Reads a module parameter; no requirements.
    unsafe { bindings::vpa_disable_denylist() }
}

/// `wc`: the write-combining policy of newly bound devices, as written.
pub(crate) fn wc() -> &'static CStr {
    // SAFETY: `vpa_wc_param()` returns the parameter's NUL-terminated buffer,
    // which lives as long as the module and is only written at load (0444).
    unsafe { CStr::from_char_ptr(bindings::vpa_wc_param()) }
}
