// SPDX-License-Identifier: GPL-2.0

//! Staging: abstractions that Linux 7.3's kernel crate lacks, laid out as
//! `rust/kernel/` would hold them.
//!
//! Nothing here is specific to this driver's policy: the vfio-pci core
//! device and variant-driver glue ([`vfio`]), DMABUF exporters
//! ([`dma_buf`]), VMAs of device PFNs ([`mm::pfnmap`]), kernel mappings of
//! device memory ([`io::remap`]), sysfs
//! attribute groups ([`sysfs`]), the RCU-read table and the per-CPU
//! reader/writer gate ([`sync`]), the `struct pci_driver` adapter vfio needs
//! ([`pci`]), the uAPI values ([`uapi`]) and the generated bindings. Every
//! `unsafe` block and every use of the bindings of the crate is here; the
//! driver in `rust/driver/` uses only these safe interfaces.
//!
//! What upstream would need to take each piece, and what it replaces, is
//! listed in Documentation/vfio-pci-alias.rst ("Staging abstractions").

pub(crate) mod bindings;
pub(crate) mod dma_buf;
pub(crate) mod io;
pub(crate) mod mm;
pub(crate) mod params;
pub(crate) mod pci;
pub(crate) mod sync;
pub(crate) mod sysfs;
pub(crate) mod uapi;
pub(crate) mod vfio;
