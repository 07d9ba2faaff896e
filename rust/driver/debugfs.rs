// SPDX-License-Identifier: GPL-2.0

//! A read-only view of each bound device in debugfs,
//! `<debugfs>/<module>/<device>/bars`: per BAR its kernel mapping's memory
//! type, its policy and its users, so that an administrator can see that
//! write-combining is in effect without reading PAT's memtype list.

use super::{
    bars::{BarFlag, BarState, Bars},
    AliasDevice, Device,
};
use crate::staging::vfio::{CoreDevice, DeviceRef, NUM_BARS};
use core::fmt;
use kernel::{
    debugfs::{Dir, File, Writer},
    prelude::*,
    sync::atomic::Relaxed,
};

/// The device a view file shows; a reference, dropped with the file at
/// unbinding ([`AliasDevice::hide`]).
struct BarsFile(DeviceRef<AliasDevice>);

impl Writer for BarsFile {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.bars.show(self.0.core(), f)
    }
}

/// The debugfs entries of one device; removed when dropped.
pub(super) struct Files {
    // Field order is drop order: the file before its directory.
    _bars: Pin<KBox<File<BarsFile>>>,
    _dir: Dir,
}

impl Files {
    /// Creates `<root>/<device>/bars` for `dev`. Failures only cost the view.
    fn new(dev: &Device, root: &Dir) -> Option<Self> {
        let dir = root.subdir(dev.core().device().name());
        let file = BarsFile(dev.get_ref());
        let bars = KBox::pin_init(dir.read_only_file(c"bars", file), GFP_KERNEL).ok()?;
        Some(Self {
            _bars: bars,
            _dir: dir,
        })
    }
}

impl AliasDevice {
    /// Shows `dev` in debugfs under `root`.
    pub(super) fn show_in(dev: &Device, root: &Dir) {
        *dev.view.lock() = Files::new(dev, root);
    }

    /// Removes `dev`'s view, waiting for readers; this drops the view's
    /// reference on the device.
    pub(super) fn hide(dev: &Device) {
        let files = dev.view.lock().take();
        drop(files);
    }
}

/// The kind of `bar`: not mappable, prefetchable or plain memory.
fn kind(core: &CoreDevice, bar: usize) -> &'static str {
    if !core.bar_mmap_capable(bar) {
        "other"
    } else if core.bar_prefetchable(bar) {
        "pref"
    } else {
        "mem"
    }
}

impl Bars {
    /// The state of every BAR of `core`: one line per implemented BAR, then
    /// the chunks of each BAR we map.
    fn show(&self, core: &CoreDevice, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = self.users.lock();
        writeln!(f, "open: {}", if m.open { "yes" } else { "no" })?;
        writeln!(f, "wc_bars: {}", m.policy)?;
        writeln!(f, "bar  kind  type  policy  uc_maps  wc_maps  in_flight")?;
        for bar in 0..NUM_BARS {
            if core.bar_len(bar) == 0 {
                continue;
            }
            // The kernel mapping's type; none while the device is closed.
            let state = self.state(bar);
            let ty = match (
                m.open,
                state.contains(BarFlag::Wc),
                state.contains(BarFlag::Windowed),
            ) {
                (false, _, _) => "-",
                (true, true, _) => "wc",
                (true, false, true) => "win",
                (true, false, false) => "uc",
            };
            let pol = if m.policy.contains(bar) { "wc" } else { "-" };
            writeln!(
                f,
                "{bar:<4} {:<5} {ty:<5} {pol:<7} {:<8} {:<8} {}",
                kind(core, bar),
                self.uc_maps[bar].load(Relaxed),
                m.wc_maps[bar],
                self.maps.readers(bar)
            )?;
        }
        let mut ret = Ok(());
        for bar in 0..NUM_BARS {
            // Switches hold our lock: the gate is open, and what we read
            // stays while we are inside.
            let Some(read) = self.maps.read(bar) else {
                continue;
            };
            if let Some(map) = read.map() {
                ret = ret.and_then(|()| {
                    write!(f, "bar {bar} layout:")?;
                    for (start, end, wc) in map.chunks() {
                        let ty = if wc { "wc" } else { "uc" };
                        write!(f, " {start:#x}-{end:#x} {ty}")?;
                    }
                    writeln!(f)
                });
            }
            // A return due while we were inside is ours to do.
            if BarState::from_raw(read.leave()).contains(BarFlag::Restore) {
                self.restore(&mut m, core, bar);
            }
        }
        ret
    }
}
