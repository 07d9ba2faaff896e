// SPDX-License-Identifier: GPL-2.0

//! vfio-pci's device denylist: functions with errata that make them dangerous
//! to hand to an untrusted user. Refused with vfio-pci's messages, unless
//! the `disable_denylist` module parameter says otherwise.

use crate::staging::{params, pci::ids};
use kernel::{pci, prelude::*};

/// Intel device IDs vfio-pci refuses: QuickAssist PFs and VFs, DSA and IAA.
const INTEL: [u16; 8] = [
    ids::PCI_DEVICE_ID_INTEL_QAT_C3XXX,
    ids::PCI_DEVICE_ID_INTEL_QAT_C3XXX_VF,
    ids::PCI_DEVICE_ID_INTEL_QAT_C62X,
    ids::PCI_DEVICE_ID_INTEL_QAT_C62X_VF,
    ids::PCI_DEVICE_ID_INTEL_QAT_DH895XCC,
    ids::PCI_DEVICE_ID_INTEL_QAT_DH895XCC_VF,
    ids::PCI_DEVICE_ID_INTEL_DSA_SPR0,
    ids::PCI_DEVICE_ID_INTEL_IAX_SPR0,
];

/// Whether vfio-pci's denylist has the function with these IDs.
fn listed(vendor: u16, device: u16) -> bool {
    vendor == pci::Vendor::INTEL.as_raw() && INTEL.contains(&device)
}

/// Whether the `disable_denylist` module parameter is set.
pub(crate) fn disabled() -> bool {
    params::disable_denylist()
}

/// `EINVAL` if the function `pdev` is denylisted.
pub(super) fn check(pdev: &pci::Device) -> Result {
    let (vendor, device) = (pdev.vendor_id().as_raw(), pdev.device_id());
    let dev = pdev.as_ref();
    if !listed(vendor, device) {
        return Ok(());
    }
    if disabled() {
        dev_warn!(
            dev,
            "device denylist disabled - allowing device {vendor:04x}:{device:04x}.\n"
        );
        return Ok(());
    }
    dev_warn!(
        dev,
        "{vendor:04x}:{device:04x} exists in vfio-pci device denylist, driver probing disallowed.\n"
    );
    Err(EINVAL)
}

#[cfg(not(vpa_drop_in))]
#[kunit_tests(vfio_pci_alias_denylist)]
mod tests {
    use super::*;

    #[test]
    fn lists_vfio_pcis_devices() {
        for device in [
            0x19e2, 0x19e3, 0x37c8, 0x37c9, 0x0435, 0x0443, 0x0b25, 0x0cfe,
        ] {
            assert!(listed(0x8086, device));
        }
    }

    #[test]
    fn lists_nothing_else() {
        // The same device IDs from another vendor, and Intel NICs.
        assert!(!listed(0x1af4, 0x19e2));
        assert!(!listed(0x8086, 0x10c9));
        assert!(!listed(0x8086, 0x0b26));
    }
}
