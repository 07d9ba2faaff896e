// SPDX-License-Identifier: GPL-2.0
/*
 * vpa_importer: a dynamic peer-to-peer DMABUF importer for vfio-pci-alias's
 * tests, standing in for an RDMA or GPU driver that imports a BAR range of
 * a VFIO device. It attaches as a PCI function (the tests pass the
 * exporting function itself: a peer at distance 0), maps on request, and
 * on invalidate_mappings() drops its mapping at once, as such importers do,
 * counting the mappings it dropped. Only built for the test guests.
 */

#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "vpa_importer.h"

struct importer {
	/* Serialises the ioctls of one open. */
	struct mutex lock;
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *att;
	struct pci_dev *pdev;
	/* Below: under the DMABUF's reservation lock. */
	struct sg_table *sgt;
	struct vpa_importer_status st;
};

/* With the reservation lock held. */
static void importer_unmap_locked(struct importer *imp)
{
	dma_resv_assert_held(imp->dmabuf->resv);
	if (!imp->sgt)
		return;
	dma_buf_unmap_attachment(imp->att, imp->sgt, DMA_BIDIRECTIONAL);
	imp->sgt = NULL;
	imp->st.mapped = 0;
	imp->st.nents = 0;
	imp->st.mapped_len = 0;
}

static void importer_invalidate(struct dma_buf_attachment *att)
{
	struct importer *imp = att->importer_priv;

	if (imp->sgt)
		imp->st.unmapped_by_invalidate++;
	importer_unmap_locked(imp);
}

static const struct dma_buf_attach_ops importer_ops = {
	.allow_peer2peer = true,
	.invalidate_mappings = importer_invalidate,
};

static int importer_attach(struct importer *imp, void __user *arg)
{
	struct vpa_importer_attach req;
	struct dma_buf_attachment *att;
	struct dma_buf *dmabuf;
	struct pci_dev *pdev;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (imp->att)
		return -EBUSY;
	pdev = pci_get_domain_bus_and_slot(req.domain, req.bus, req.devfn);
	if (!pdev)
		return -ENODEV;
	dmabuf = dma_buf_get(req.fd);
	if (IS_ERR(dmabuf)) {
		pci_dev_put(pdev);
		return PTR_ERR(dmabuf);
	}
	att = dma_buf_dynamic_attach(dmabuf, &pdev->dev, &importer_ops, imp);
	if (IS_ERR(att)) {
		dma_buf_put(dmabuf);
		pci_dev_put(pdev);
		return PTR_ERR(att);
	}
	imp->pdev = pdev;
	imp->dmabuf = dmabuf;
	imp->att = att;
	return 0;
}

static int importer_map(struct importer *imp)
{
	struct sg_table *sgt;
	struct scatterlist *sg;
	int ret = 0, i;

	if (!imp->att)
		return -EINVAL;
	dma_resv_lock(imp->dmabuf->resv, NULL);
	if (imp->sgt)
		goto out;
	sgt = dma_buf_map_attachment(imp->att, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto out;
	}
	imp->sgt = sgt;
	imp->st.mapped = 1;
	imp->st.nents = sgt->nents;
	imp->st.mapped_len = 0;
	for_each_sgtable_dma_sg(sgt, sg, i)
		imp->st.mapped_len += sg_dma_len(sg);
out:
	dma_resv_unlock(imp->dmabuf->resv);
	return ret;
}

static void importer_put(struct importer *imp)
{
	if (!imp->att)
		return;
	dma_resv_lock(imp->dmabuf->resv, NULL);
	importer_unmap_locked(imp);
	dma_resv_unlock(imp->dmabuf->resv);
	dma_buf_detach(imp->dmabuf, imp->att);
	dma_buf_put(imp->dmabuf);
	pci_dev_put(imp->pdev);
	imp->att = NULL;
}

static long importer_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct importer *imp = file->private_data;
	struct vpa_importer_status st;
	long ret;

	mutex_lock(&imp->lock);
	switch (cmd) {
	case VPA_IMPORTER_ATTACH:
		ret = importer_attach(imp, (void __user *)arg);
		break;
	case VPA_IMPORTER_MAP:
		ret = importer_map(imp);
		break;
	case VPA_IMPORTER_STATUS:
		ret = -EINVAL;
		if (!imp->att)
			break;
		dma_resv_lock(imp->dmabuf->resv, NULL);
		st = imp->st;
		dma_resv_unlock(imp->dmabuf->resv);
		ret = copy_to_user((void __user *)arg, &st, sizeof(st)) ? -EFAULT : 0;
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&imp->lock);
	return ret;
}

static int importer_open(struct inode *inode, struct file *file)
{
	struct importer *imp = kzalloc(sizeof(*imp), GFP_KERNEL);

	if (!imp)
		return -ENOMEM;
	mutex_init(&imp->lock);
	file->private_data = imp;
	return 0;
}

static int importer_release(struct inode *inode, struct file *file)
{
	struct importer *imp = file->private_data;

	importer_put(imp);
	mutex_destroy(&imp->lock);
	kfree(imp);
	return 0;
}

static const struct file_operations importer_fops = {
	.owner = THIS_MODULE,
	.open = importer_open,
	.release = importer_release,
	.unlocked_ioctl = importer_ioctl,
};

static struct miscdevice importer_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vpa_importer",
	.fops = &importer_fops,
};

module_misc_device(importer_misc);

MODULE_DESCRIPTION("Test P2P DMABUF importer for vfio-pci-alias");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMA_BUF");
