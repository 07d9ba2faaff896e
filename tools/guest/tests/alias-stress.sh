#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# tools/testing/vfio_pci_alias/alias_stress.c on devices bound to vfio-pci-alias,
# with the tests' P2P importer loaded.
. /vpa/lib.sh
load_importer || exit 1
exec /vpa/run-harness.sh alias_stress
