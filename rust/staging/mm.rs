// SPDX-License-Identifier: GPL-2.0

//! Memory management (cf. `kernel::mm`).

pub(crate) mod pfnmap;
