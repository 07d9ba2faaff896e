# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of vfio_pci_alias.ko, and the entry points of the tools.
#
#   make                 build the modules against KDIR (default: the cached
#                        test kernel; `make kernel` builds it):
#                        vfio_pci_alias.ko and the drop-in vfio-pci.ko
#   make install         install both into /lib/modules/<release>/updates/
#                        and run depmod: `modprobe vfio-pci` then loads the
#                        drop-in (INSTALL_MOD_PATH= to stage elsewhere)
#   make uninstall       remove them again and run depmod
#   make setup           install the toolchain, QEMU and the 7.3 source
#   make kernel          build (or find) the cached Rust-enabled test kernel
#   make demo            set up, build, boot QEMU and show an alias at work
#   make check           the whole test suite (what .ci/run runs)
#   make bench           vfio-pci against vfio-pci-alias: the device-fd paths
#                        timed in one QEMU boot (ROUNDS=5; not part of check)
#   make soak            the KASAN + kmemleak kernel under every kind of churn
#                        at once for DURATION= seconds (3600; not part of check)
#   make fmt / clippy    rustfmt, and the build with CLIPPY=1
#   VARIANT=kasan        any of the above with the KASAN + kmemleak kernel
#
# With your own Rust-enabled 7.3 tree: make KDIR=/path/to/build

TOOLS := $(CURDIR)/tools
# debug (lockdep, PROVE_RCU, DEBUG_ATOMIC_SLEEP) or kasan (+ KASAN, kmemleak).
VARIANT ?= debug
export VARIANT
KDIR ?= $(shell VARIANT=$(VARIANT) bash $(TOOLS)/kernel.sh --print-dir 2>/dev/null)
KMAKE_ARGS := $(shell VARIANT=$(VARIANT) bash -c '. $(TOOLS)/lib.sh && kmake_args')

.PHONY: all modules install uninstall clean setup kernel demo check bench soak fmt fmt-check clippy
all: modules

modules:
	@test -n "$(KDIR)" -a -e "$(KDIR)/Module.symvers" || \
		{ echo "no kernel build at KDIR='$(KDIR)': run 'make kernel' or pass KDIR="; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_ARGS) W=1 modules

# Out-of-tree modules go to updates/, which depmod ranks above the kernel's
# own directory: the drop-in shadows kernel/drivers/vfio/pci/vfio-pci.ko.
install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_ARGS) INSTALL_MOD_DIR=updates modules_install

KREL = $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
uninstall:
	rm -f $(INSTALL_MOD_PATH)/lib/modules/$(KREL)/updates/vfio-pci.ko \
		$(INSTALL_MOD_PATH)/lib/modules/$(KREL)/updates/vfio_pci_alias.ko
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KREL)

# Debian's rust-web-clippy matches rustc-web; rustup's clippy does not.
CLIPPY_DRIVER ?= /usr/bin/clippy-driver
clippy:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_ARGS) W=1 CLIPPY=1 CLIPPY_DRIVER=$(CLIPPY_DRIVER) modules

clean:
	@if [ -n "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_ARGS) clean; fi
	rm -rf rust/generated

setup:
	bash $(TOOLS)/setup.sh

kernel: setup
	bash $(TOOLS)/kernel.sh

RUSTFMT := rustfmt --edition 2021 --config-path $(KDIR)/source/.rustfmt.toml

fmt:
	$(RUSTFMT) rust/crate_common.rs rust/vfio_pci_alias.rs rust/vfio_pci.rs

fmt-check:
	$(RUSTFMT) --check rust/crate_common.rs rust/vfio_pci_alias.rs rust/vfio_pci.rs

demo:
	bash $(TOOLS)/demo.sh

check:
	bash $(TOOLS)/test.sh

bench:
	bash $(TOOLS)/bench.sh

# Always VARIANT=kasan; DURATION= from the command line reaches the script.
soak:
	VARIANT=kasan bash $(TOOLS)/soak.sh
