// SPDX-License-Identifier: GPL-2.0

//! Memory management (cf. `kernel::mm`).
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h)

pub(crate) mod pfnmap;
