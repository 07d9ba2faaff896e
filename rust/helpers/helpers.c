// SPDX-License-Identifier: GPL-2.0
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/error-injection.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/percpu.h>
#include <linux/pm_runtime.h>
#include <linux/vfio_pci_core.h>
#include <uapi/linux/vfio_pci_alias.h>
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

void vpa_vma_set_pfnmap(struct vm_area_struct *vma, bool wc)
{
	vma->vm_page_prot = wc ? pgprot_writecombine(vma->vm_page_prot) :
				 pgprot_noncached(vma->vm_page_prot);
	vma->vm_page_prot = pgprot_decrypted(vma->vm_page_prot);
	vm_flags_set(vma, VM_ALLOW_ANY_UNCACHED | VM_PFNMAP);
}

unsigned int vpa_pmd_pfnmap_order(void)
{
	return IS_ENABLED(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP) ? PMD_ORDER : 0;
}

unsigned int vpa_pud_pfnmap_order(void)
{
	return IS_ENABLED(CONFIG_ARCH_SUPPORTS_PUD_PFNMAP) ? PUD_ORDER : 0;
}

/*
 * Every kernel mapping of device memory the driver makes goes through these
 * three, so that fail_function can fail each of them (tests of the error
 * paths); noinline keeps them the functions fail_function finds.
 */
noinline void __iomem *vpa_ioremap(phys_addr_t phys, size_t size)
{
	return ioremap(phys, size);
}
ALLOW_ERROR_INJECTION(vpa_ioremap, NULL);

noinline void __iomem *vpa_ioremap_wc(phys_addr_t phys, size_t size)
{
	return ioremap_wc(phys, size);
}
ALLOW_ERROR_INJECTION(vpa_ioremap_wc, NULL);

noinline void __iomem *vpa_pci_iomap(struct pci_dev *pdev, int bar)
{
	return pci_iomap(pdev, bar, 0);
}
ALLOW_ERROR_INJECTION(vpa_pci_iomap, NULL);

int vpa_pm_runtime_resume_and_get(struct pci_dev *pdev)
{
	return pm_runtime_resume_and_get(&pdev->dev);
}

void vpa_pm_runtime_put(struct pci_dev *pdev)
{
	pm_runtime_put(&pdev->dev);
}

unsigned long vpa_bar_flags(struct pci_dev *pdev, int bar)
{
	return pci_resource_flags(pdev, bar);
}

bool vpa_wc_supported(void)
{
	/* The memory-type design of Documentation/vfio-pci-alias.rst is x86 PAT's. */
	return IS_ENABLED(CONFIG_X86) && arch_can_pci_mmap_wc();
}

unsigned long __percpu *vpa_alloc_percpu_counters(unsigned int n)
{
	return __alloc_percpu(n * sizeof(unsigned long), sizeof(unsigned long));
}

void vpa_free_percpu_counters(unsigned long __percpu *counters)
{
	free_percpu(counters);
}

/*
 * The counters are incremented atomically on whatever CPU's copy
 * raw_cpu_ptr() gives (the CPU may change under it: only the sums matter), as
 * SRCU's NMI-safe readers do: on x86 the locked increment is the full
 * barrier, and smp_mb__{before,after}_atomic() cost nothing.
 */
unsigned int vpa_percpu_inc_mb_load_acquire(unsigned long __percpu *counters,
					    unsigned int i, const unsigned int *word)
{
	atomic_long_inc((atomic_long_t *)raw_cpu_ptr(&counters[i]));
	smp_mb__after_atomic();
	return smp_load_acquire(word);
}

unsigned int vpa_mb_percpu_inc_mb_load(unsigned long __percpu *counters,
				       unsigned int i, const unsigned int *word)
{
	smp_mb__before_atomic();
	atomic_long_inc((atomic_long_t *)raw_cpu_ptr(&counters[i]));
	smp_mb__after_atomic();
	return READ_ONCE(*word);
}

unsigned long vpa_percpu_sum(unsigned long __percpu *counters, unsigned int i)
{
	unsigned long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(*per_cpu_ptr(&counters[i], cpu));
	return sum;
}

bool vpa_device_info_caps_possible(struct vfio_pci_core_device *vdev)
{
	u32 devcap2 = 0;

	if (IS_ENABLED(CONFIG_VFIO_PCI_ZDEV_KVM))
		return true;
	pcie_capability_read_dword(pci_physfn(vdev->pdev), PCI_EXP_DEVCAP2, &devcap2);
	return devcap2 & (PCI_EXP_DEVCAP2_ATOMIC_COMP32 | PCI_EXP_DEVCAP2_ATOMIC_COMP64 |
			  PCI_EXP_DEVCAP2_ATOMIC_COMP128);
}

bool vpa_reset_works(struct vfio_pci_core_device *vdev)
{
	return vdev->reset_works;
}

struct dma_buf *vpa_dma_buf_export(const struct dma_buf_ops *ops, size_t size,
				   int flags, void *priv)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);

	exp_info.ops = ops;
	exp_info.size = size;
	exp_info.flags = flags;
	exp_info.priv = priv;
	return dma_buf_export(&exp_info);
}

void vpa_dma_resv_lock(struct dma_resv *resv)
{
	dma_resv_lock(resv, NULL);
}

void vpa_dma_resv_unlock(struct dma_resv *resv)
{
	dma_resv_unlock(resv);
}

MODULE_IMPORT_NS("DMA_BUF");
