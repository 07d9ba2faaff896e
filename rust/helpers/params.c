// SPDX-License-Identifier: GPL-2.0
/*
 * Module parameters, which must be C: the kernel crate's module! parameters
 * are not visible in sysfs. Both builds of the crate carry the same set:
 * vfio-pci's own parameters with vfio-pci's names, meaning and permissions,
 * and ours (alias_region_feature, dma_buf_revoke_feature,
 * dma_buf_memattr_feature, wc). Compiled once per module through
 * module_*.c, so that each module gets its own parameter prefix.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/vfio_pci_core.h>
#include <uapi/linux/vfio_pci_alias.h>
#include "helpers.h"

/*
 * Userspace discovers the feature number here (see the uapi header).
 */
static unsigned int alias_region_feature = VFIO_DEVICE_FEATURE_ALIAS_REGION;
module_param(alias_region_feature, uint, 0444);
MODULE_PARM_DESC(alias_region_feature,
		 "VFIO_DEVICE_FEATURE number of ALIAS_REGION (read-only)");

static unsigned int dma_buf_revoke_feature = VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE;
module_param(dma_buf_revoke_feature, uint, 0444);
MODULE_PARM_DESC(dma_buf_revoke_feature,
		 "VFIO_DEVICE_FEATURE number of DMA_BUF_REVOKE (read-only)");

static unsigned int dma_buf_memattr_feature = VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR;
module_param(dma_buf_memattr_feature, uint, 0444);
MODULE_PARM_DESC(dma_buf_memattr_feature,
		 "VFIO_DEVICE_FEATURE number of DMA_BUF_MEMATTR (read-only)");

/* Only read at load, by vpa_add_ids(). */
static char ids[1024];
module_param_string(ids, ids, sizeof(ids), 0);
MODULE_PARM_DESC(ids, "PCI IDs added to the driver at load, as vfio-pci's parameter: comma-separated \"vendor:device[:subvendor[:subdevice[:class[:class_mask]]]]\" in hex");

static bool nointxmask;
module_param(nointxmask, bool, 0644);
MODULE_PARM_DESC(nointxmask, "Disable PCI 2.3 INTx masking, as vfio-pci's parameter (latched per device when it is bound)");

#ifdef CONFIG_VFIO_PCI_VGA
static bool disable_vga;
module_param(disable_vga, bool, 0444);
MODULE_PARM_DESC(disable_vga, "Disable VGA resource access, as vfio-pci's parameter");
#endif

static bool disable_idle_d3;
module_param(disable_idle_d3, bool, 0644);
MODULE_PARM_DESC(disable_idle_d3, "Keep idle, unused devices out of D3, as vfio-pci's parameter (latched per device when it is bound)");

static bool enable_sriov;
#ifdef CONFIG_PCI_IOV
module_param(enable_sriov, bool, 0644);
MODULE_PARM_DESC(enable_sriov, "Allow SR-IOV configuration of bound PFs, as vfio-pci's parameter");
#endif

static bool disable_denylist;
module_param(disable_denylist, bool, 0444);
MODULE_PARM_DESC(disable_denylist, "Bind devices vfio-pci's denylist refuses (devices with known errata), as vfio-pci's parameter");

static char wc[64];
module_param_string(wc, wc, sizeof(wc), 0444);
MODULE_PARM_DESC(wc, "Write-combining BARs of newly bound devices (their wc_bars): \"\" (none), \"prefetchable\" (every prefetchable memory BAR without the MSI-X table) or BAR numbers, e.g. \"2,4\"");

bool vpa_enable_sriov(void)
{
	return READ_ONCE(enable_sriov);
}

bool vpa_disable_denylist(void)
{
	return disable_denylist;
}

const char *vpa_wc_param(void)
{
	return wc;
}

void vpa_latch_core_params(struct vfio_pci_core_device *vdev)
{
	/* As vfio-pci's init op: later parameter writes leave this device alone. */
	vdev->nointxmask = READ_ONCE(nointxmask);
	vdev->disable_idle_d3 = READ_ONCE(disable_idle_d3);
#ifdef CONFIG_VFIO_PCI_VGA
	vdev->disable_vga = disable_vga;
#endif
}

void vpa_add_ids(struct pci_driver *drv)
{
	char *rest = ids, *entry;

	while ((entry = strsep(&rest, ","))) {
		unsigned int v, d, sv = PCI_ANY_ID, sd = PCI_ANY_ID, cls = 0, mask = 0;
		int err;

		if (!*entry)
			continue;
		if (sscanf(entry, "%x:%x:%x:%x:%x:%x", &v, &d, &sv, &sd, &cls, &mask) < 2) {
			pr_warn("invalid id string \"%s\"\n", entry);
			continue;
		}
		err = pci_add_dynid(drv, v, d, sv, sd, cls, mask, 0);
		if (err)
			pr_warn("failed to add dynamic id [%04x:%04x[%04x:%04x]] class %#08x/%08x (%d)\n",
				v, d, sv, sd, cls, mask, err);
		else
			pr_info("add [%04x:%04x[%04x:%04x]] class %#08x/%08x\n",
				v, d, sv, sd, cls, mask);
	}
}

/*
 * Any device, but only through driver_override (or ids=), as vfio-pci. Only
 * the drop-in build exports it as a module alias: two modules answering the
 * same "vfio_pci:" alias would make the lookup ambiguous.
 */
static const struct pci_device_id vpa_pci_table[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID) },
	{}
};
#ifdef VPA_DROP_IN
MODULE_DEVICE_TABLE(pci, vpa_pci_table);
#endif

const struct pci_device_id *vpa_pci_id_table(void)
{
	return vpa_pci_table;
}
