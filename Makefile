# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of vfio_pci_alias.ko, and the entry points of the tools.
#
#   make                 build the module against KDIR (default: the cached
#                        test kernel; `make kernel` builds it)
#   make setup           install the toolchain, QEMU and the 7.3 source
#   make kernel          build (or find) the cached Rust-enabled test kernel
#   make demo            set up, build, boot QEMU and show an alias at work
#   make check           the whole test suite (what .ci/run runs)
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

.PHONY: all modules clean setup kernel demo check fmt fmt-check clippy
all: modules

modules:
	@test -n "$(KDIR)" -a -e "$(KDIR)/Module.symvers" || \
		{ echo "no kernel build at KDIR='$(KDIR)': run 'make kernel' or pass KDIR="; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_ARGS) W=1 modules

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
	$(RUSTFMT) rust/vpa.rs

fmt-check:
	$(RUSTFMT) --check rust/vpa.rs

demo:
	bash $(TOOLS)/demo.sh

check:
	bash $(TOOLS)/test.sh
