// SPDX-License-Identifier: GPL-2.0

//! PCI drivers (cf. `kernel::pci`).
//!
//! C headers: [`include/linux/pci.h`](srctree/include/linux/pci.h),
//! [`include/linux/pci_ids.h`](srctree/include/linux/pci_ids.h)

pub(crate) mod driver;

/// Config-space offset of the command register (`PCI_COMMAND`).
pub(crate) const PCI_COMMAND: u64 = crate::staging::bindings::PCI_COMMAND as u64;

/// PCI IDs of `include/linux/pci_ids.h` the kernel crate has no names for.
pub(crate) mod ids {
    use crate::staging::bindings;

    macro_rules! ids {
        ($($name:ident),* $(,)?) => {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                pub(crate) const $name: u16 = bindings::$name as u16;
            )*
        };
    }

    ids!(
        PCI_DEVICE_ID_INTEL_QAT_C3XXX,
        PCI_DEVICE_ID_INTEL_QAT_C3XXX_VF,
        PCI_DEVICE_ID_INTEL_QAT_C62X,
        PCI_DEVICE_ID_INTEL_QAT_C62X_VF,
        PCI_DEVICE_ID_INTEL_QAT_DH895XCC,
        PCI_DEVICE_ID_INTEL_QAT_DH895XCC_VF,
        PCI_DEVICE_ID_INTEL_DSA_SPR0,
        PCI_DEVICE_ID_INTEL_IAX_SPR0,
    );
}
