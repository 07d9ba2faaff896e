#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# tools/testing/vfio_pci_alias/sriov_test.c: SR-IOV VFs of igb bound to
# vfio-pci-alias, and their VF tokens. The program sets the module's
# enable_sriov to Y for its run and puts back the value it found (N after
# the load by run-harness.sh); run-harness.sh unloads the module afterwards,
# and unbinding the PF removes any VF a crash would have left.
exec /vpa/run-harness.sh sriov_test
