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
 * RCU pointer primitives for rust/staging/sync/rcu_table.rs. The slot is a
 * `T __rcu *` owned by the table; keeping rcu_dereference() in C keeps its
 * PROVE_RCU check ("suspicious RCU usage") for the Rust readers.
 */
void *vpa_rcu_dereference(void **slot);
/* The caller holds the table's writer mutex (proven on the Rust side). */
void *vpa_rcu_dereference_protected(void **slot);
void vpa_rcu_assign_pointer(void **slot, void *p);

void vpa_cond_resched(void);

struct pci_dev;
struct vm_area_struct;

/*
 * Page protection of a BAR mapping, as vfio_pci_core_mmap() sets it, except
 * that @wc selects pgprot_writecombine() over pgprot_noncached(), and the
 * flags the kernel crate has no setter for (VM_PFNMAP, VM_ALLOW_ANY_UNCACHED).
 */
void vpa_vma_set_pfnmap(struct vm_area_struct *vma, bool wc);

/* PMD_ORDER and PUD_ORDER where the architecture maps PFNs that large, else 0. */
unsigned int vpa_pmd_pfnmap_order(void);
unsigned int vpa_pud_pfnmap_order(void);


/*
 * ioremap(), ioremap_wc() and pci_iomap(..., 0), as functions fail_function
 * may fail (ALLOW_ERROR_INJECTION): NULL then, as on a failed mapping.
 */
void __iomem *vpa_ioremap(phys_addr_t phys, size_t size);
void __iomem *vpa_ioremap_wc(phys_addr_t phys, size_t size);
void __iomem *vpa_pci_iomap(struct pci_dev *pdev, int bar);

/* pm_runtime_resume_and_get() and pm_runtime_put() of the PCI function. */
int vpa_pm_runtime_resume_and_get(struct pci_dev *pdev);
void vpa_pm_runtime_put(struct pci_dev *pdev);

/* pci_resource_flags() of a BAR (IORESOURCE_*). */
unsigned long vpa_bar_flags(struct pci_dev *pdev, int bar);

/*
 * Module parameters (params.c), vfio-pci's and ours: enable_sriov,
 * disable_denylist, the wc default policy string; ids= turned into dynamic
 * IDs of @drv; nointxmask, disable_idle_d3 and disable_vga latched into a
 * core device before vfio_pci_core_init_dev(), as vfio-pci's init op does.
 */
struct pci_driver;
struct pci_device_id;
bool vpa_enable_sriov(void);
bool vpa_disable_denylist(void);
const char *vpa_wc_param(void);
void vpa_latch_core_params(struct vfio_pci_core_device *vdev);
void vpa_add_ids(struct pci_driver *drv);
/* vfio-pci's ID table: any device, through driver_override only. */
const struct pci_device_id *vpa_pci_id_table(void);

/*
 * Whether core's VFIO_DEVICE_GET_INFO of @vdev can carry capabilities: the
 * zPCI ones (CONFIG_VFIO_PCI_ZDEV_KVM) or the AtomicOps completer one (the
 * physical function's DEVCAP2 has a completer bit). And @vdev->reset_works,
 * a bitfield.
 */
bool vpa_device_info_caps_possible(struct vfio_pci_core_device *vdev);
bool vpa_reset_works(struct vfio_pci_core_device *vdev);

/* Whether the platform can map I/O memory write-combining (x86: PAT). */
bool vpa_wc_supported(void);

/*
 * Per-CPU counters for rust/staging/sync/percpu_rw.rs: @n zeroed unsigned
 * longs per CPU (NULL if out of memory), and the sum of counter @i over the
 * possible CPUs. A reader makes one call each way, so that each is a single
 * call on the fd path: an increment of counter @i that is a full barrier,
 * then smp_load_acquire() of @word; or a full barrier, the increment, a full
 * barrier, then READ_ONCE() of @word.
 */
unsigned long __percpu *vpa_alloc_percpu_counters(unsigned int n);
void vpa_free_percpu_counters(unsigned long __percpu *counters);
unsigned int vpa_percpu_inc_mb_load_acquire(unsigned long __percpu *counters,
					    unsigned int i, const unsigned int *word);
unsigned int vpa_mb_percpu_inc_mb_load(unsigned long __percpu *counters,
				       unsigned int i, const unsigned int *word);
unsigned long vpa_percpu_sum(unsigned long __percpu *counters, unsigned int i);


/*
 * dma_buf_export() with DEFINE_DMA_BUF_EXPORT_INFO's name and owner (this
 * module), and the other fields given. dma_resv_lock() (uninterruptible, no
 * acquire context) and dma_resv_unlock(), which are inline.
 */
struct dma_buf;
struct dma_buf_ops;
struct dma_resv;
struct dma_buf *vpa_dma_buf_export(const struct dma_buf_ops *ops, size_t size,
				   int flags, void *priv);
void vpa_dma_resv_lock(struct dma_resv *resv);
void vpa_dma_resv_unlock(struct dma_resv *resv);

#endif
