// SPDX-License-Identifier: GPL-2.0

//! Bindings for the C headers the kernel crate does not cover.
//!
//! `tools/bindgen.sh` generates them at build time from
//! `rust/bindings/vpa_bindings.h` (`linux/vfio.h`, `linux/vfio_pci_core.h`, our
//! uAPI header and the C helpers) with the kernel's bindgen and C flags. Types
//! the kernel crate's bindings already define are not generated again: the
//! glob import below supplies them, so `pci_dev` and friends are the kernel
//! crate's own types. Only the abstractions in this crate use this module.

#![allow(
    clippy::all,
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    unnecessary_transmutes,
    clippy::undocumented_unsafe_blocks,
    clippy::ptr_as_ptr,
    clippy::ref_as_ptr,
    clippy::cast_lossless,
    clippy::as_underscore
)]

#[allow(unused_imports)]
pub(crate) use kernel::bindings::*;
#[allow(unused_imports)]
use kernel::ffi;
#[allow(unused_imports)]
use pin_init::MaybeZeroable;

include!("../generated/vpa_bindings.rs");
