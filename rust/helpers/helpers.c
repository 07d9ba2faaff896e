// SPDX-License-Identifier: GPL-2.0
#include <linux/vfio_pci_core.h>
#include "helpers.h"

struct vfio_pci_core_device *vpa_alloc_core_device(unsigned long size,
						   struct device *dev,
						   const struct vfio_device_ops *ops)
{
	struct vfio_device *vdev;

	/* As vfio_alloc_device(): the vfio_device comes first in the core device. */
	BUILD_BUG_ON(offsetof(struct vfio_pci_core_device, vdev) != 0);
	vdev = _vfio_alloc_device(size, dev, ops);
	if (IS_ERR(vdev))
		return ERR_CAST(vdev);
	return container_of(vdev, struct vfio_pci_core_device, vdev);
}

void vpa_put_core_device(struct vfio_pci_core_device *vdev)
{
	vfio_put_device(&vdev->vdev);
}

static const struct vfio_pci_device_ops vpa_pci_ops = {
	.get_dmabuf_phys = vfio_pci_core_get_dmabuf_phys,
};

const struct vfio_pci_device_ops *vpa_core_pci_ops(void)
{
	return &vpa_pci_ops;
}

void *vpa_rcu_dereference(void **slot)
{
	return rcu_dereference(*(void __rcu **)slot);
}

void *vpa_rcu_dereference_protected(void **slot)
{
	return rcu_dereference_protected(*(void __rcu **)slot, 1);
}

void vpa_rcu_assign_pointer(void **slot, void *p)
{
	rcu_assign_pointer(*(void __rcu **)slot, p);
}

void vpa_cond_resched(void)
{
	cond_resched();
}
