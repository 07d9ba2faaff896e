/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers for the few macros and inline functions Rust cannot call.
 * Every helper here is a thin, behaviour-free wrapper.
 */
#ifndef VPA_HELPERS_H
#define VPA_HELPERS_H

struct vfio_pci_core_device;
struct vfio_device_ops;
struct device;
struct vfio_pci_device_ops;

/* vfio_alloc_device() for a driver structure embedding the core device. */
struct vfio_pci_core_device *vpa_alloc_core_device(unsigned long size,
						   struct device *dev,
						   const struct vfio_device_ops *ops);
void vpa_put_core_device(struct vfio_pci_core_device *vdev);

/* The vfio_pci_device_ops vfio-pci uses (dma-buf export when configured). */
const struct vfio_pci_device_ops *vpa_core_pci_ops(void);

/*
 * RCU pointer primitives for rust/region_table.rs. The slot is a
 * `T __rcu *` owned by the table; keeping rcu_dereference() in C keeps its
 * PROVE_RCU check ("suspicious RCU usage") for the Rust readers.
 */
void *vpa_rcu_dereference(void **slot);
/* The caller holds the table's writer mutex (proven on the Rust side). */
void *vpa_rcu_dereference_protected(void **slot);
void vpa_rcu_assign_pointer(void **slot, void *p);

void vpa_cond_resched(void);

#endif
