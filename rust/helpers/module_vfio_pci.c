// SPDX-License-Identifier: GPL-2.0
/*
 * The C part of the drop-in vfio-pci.ko: helpers and module parameters, and
 * vfio-pci's module alias.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt
#define VPA_DROP_IN 1
#include "helpers.c"
#include "params.c"
