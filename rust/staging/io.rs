// SPDX-License-Identifier: GPL-2.0

//! Kernel mappings of device memory (cf. `kernel::io`).
//!
//! C header: [`include/asm-generic/io.h`](srctree/include/asm-generic/io.h)

pub(crate) mod remap;
