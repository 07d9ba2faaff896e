// SPDX-License-Identifier: GPL-2.0

//! Write-combining by policy: the BARs of a device that are write-combining
//! for every mapping of the BAR's own region, for programs that know nothing
//! of ALIAS_REGION (DPDK maps BARs with a plain mmap() of their regions).
//!
//! An administrator chooses them per device in sysfs (`wc_bars`) or for
//! every newly bound device with the `wc` module parameter. Both take the
//! same text: BAR numbers separated by commas or blanks, `none` (or
//! nothing), or `prefetchable`: every prefetchable memory BAR that does not
//! hold the MSI-X table. See Documentation/vfio-pci-alias.rst.

use crate::staging::{
    params,
    vfio::{self, CoreDevice, MsixTable, NUM_BARS},
};
use core::fmt;
use kernel::prelude::*;

/// A set of BARs, bit `n` for BAR `n`.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BarSet(u8);

impl BarSet {
    /// Whether `bar` is in the set.
    pub(crate) fn contains(self, bar: usize) -> bool {
        bar < NUM_BARS && self.0 & (1 << bar) != 0
    }

    /// The set with `bar` added.
    pub(crate) fn with(self, bar: usize) -> Self {
        Self(self.0 | (1 << bar))
    }

    /// The BARs of the set, in order.
    pub(crate) fn iter(self) -> impl Iterator<Item = usize> {
        (0..NUM_BARS).filter(move |&b| self.contains(b))
    }
}

impl fmt::Display for BarSet {
    /// The form the parser takes back: `none`, or `2` or `2,4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        for (i, bar) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{bar}")?;
        }
        Ok(())
    }
}

/// A parsed policy, not yet applied to a device.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spec {
    /// These BARs.
    Bars(BarSet),
    /// Every prefetchable memory BAR that can be write-combining.
    Prefetchable,
}

impl Spec {
    /// Parses the text of `wc_bars` or of the `wc` parameter. `EINVAL` for
    /// anything but BAR numbers 0 to 5, `none` or `prefetchable`.
    pub(crate) fn parse(text: &[u8]) -> Result<Self> {
        let text = core::str::from_utf8(text).map_err(|_| EINVAL)?.trim();
        match text {
            "" | "none" => return Ok(Self::Bars(BarSet::default())),
            "prefetchable" => return Ok(Self::Prefetchable),
            _ => {}
        }
        let mut set = BarSet::default();
        for word in text.split(|c: char| c == ',' || c.is_ascii_whitespace()) {
            if word.is_empty() {
                continue;
            }
            // Decimal digits only: no sign, no prefix.
            if !word.bytes().all(|b| b.is_ascii_digit()) {
                return Err(EINVAL);
            }
            match word.parse::<usize>() {
                Ok(bar) if bar < NUM_BARS => set = set.with(bar),
                _ => return Err(EINVAL),
            }
        }
        Ok(Self::Bars(set))
    }
}

/// Why `bar` of `core`, whose MSI-X table is at `msix`, cannot be
/// write-combining, if it cannot.
pub(crate) fn refusal(core: &CoreDevice, msix: MsixTable, bar: usize) -> Option<&'static str> {
    if !vfio::wc_supported() {
        Some("this platform cannot map I/O memory write-combining with PAT")
    } else if !core.bar_mmap_capable(bar) {
        Some("not an mmap-capable memory BAR")
    } else {
        msix_refusal(msix, bar)
    }
}

/// Why the MSI-X table's location, as read at probe, keeps `bar` uncached,
/// if it does. The PCI core maps the MSI-X table uncached while MSI-X is on,
/// and PAT allows one memory type per range; a table that could be anywhere
/// keeps every BAR uncached.
fn msix_refusal(msix: MsixTable, bar: usize) -> Option<&'static str> {
    match msix {
        MsixTable::Bar(table) if table == bar => Some("holds the MSI-X table"),
        MsixTable::Unknown => Some("the device did not say where its MSI-X table is"),
        _ => None,
    }
}

/// The BARs of `core` that `spec` makes write-combining. With `strict`, a
/// listed BAR that cannot be write-combining is `EINVAL`; otherwise it is
/// left out with a message (a module-wide default meets devices it was not
/// written for).
pub(crate) fn resolve(
    core: &CoreDevice,
    msix: MsixTable,
    spec: Spec,
    strict: bool,
) -> Result<BarSet> {
    let mut set = BarSet::default();
    for bar in 0..NUM_BARS {
        let wanted = match spec {
            Spec::Bars(bars) => bars.contains(bar),
            Spec::Prefetchable => core.bar_mmap_capable(bar) && core.bar_prefetchable(bar),
        };
        if !wanted {
            continue;
        }
        match refusal(core, msix, bar) {
            None => set = set.with(bar),
            Some(why) if strict => {
                dev_dbg!(core.device(), "wc_bars: BAR {bar} refused: {why}\n");
                return Err(EINVAL);
            }
            // `prefetchable` only takes the BARs that qualify, silently.
            Some(_) if spec == Spec::Prefetchable => {}
            Some(why) => dev_info!(core.device(), "wc: BAR {bar} stays uncached: {why}\n"),
        }
    }
    Ok(set)
}

/// The `wc` module parameter, parsed. `EINVAL` with a message naming the
/// parameter if it is not valid, which refuses the load.
pub(crate) fn module_default() -> Result<Spec> {
    let text = params::wc();
    Spec::parse(text.to_bytes()).inspect_err(|_| {
        pr_err!(
            "wc={:?}: expected BAR numbers 0-5 separated by commas, \"none\" or \"prefetchable\"\n",
            text
        );
    })
}

#[cfg(not(vpa_drop_in))]
#[kunit_tests(vfio_pci_alias_policy)]
mod tests {
    use super::*;

    #[test]
    fn msix_table_bar_stays_uncached() {
        assert!(msix_refusal(MsixTable::Bar(3), 3).is_some());
        assert!(msix_refusal(MsixTable::Bar(3), 2).is_none());
        assert!(msix_refusal(MsixTable::None, 3).is_none());
    }

    #[test]
    fn unknown_msix_table_refuses_every_bar() {
        for bar in 0..NUM_BARS {
            assert!(msix_refusal(MsixTable::Unknown, bar).is_some());
        }
    }
}
