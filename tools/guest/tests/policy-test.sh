#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# tools/testing/vfio_pci_alias/policy_test.c (wc_bars) on devices bound to
# vfio-pci-alias.
exec /vpa/run-harness.sh policy_test
