// SPDX-License-Identifier: GPL-2.0
/* The C part of vfio_pci_alias.ko: helpers and module parameters. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#include "helpers.c"
#include "params.c"
