#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# tools/testing/vfio_pci_alias/hardening_test.c on devices bound to vfio-pci-alias.
exec /vpa/run-harness.sh hardening_test
