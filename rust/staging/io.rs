// SPDX-License-Identifier: GPL-2.0

//! Kernel mappings of device memory (cf. `kernel::io`).

pub(crate) mod remap;
