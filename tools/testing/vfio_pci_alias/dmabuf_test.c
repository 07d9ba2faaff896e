// SPDX-License-Identifier: GPL-2.0
/*
 * mmap()able DMABUFs of BAR ranges (VFIO_DEVICE_FEATURE_DMA_BUF, flags 0),
 * their permanent revoke and their memory attribute
 * (VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE, _MEMATTR), on ivshmem's BAR 2 unless
 * said otherwise:
 *
 * - uAPI: the three features PROBE; the feature numbers are the module's
 *   parameters; export fails as core's does (EINVAL, ENODEV), and revoke and
 *   MEMATTR give the errnos of the series (EBADF, EINVAL, ENODEV for another
 *   device's or a system heap's DMABUF, EBADFD, ENOENT, EOPNOTSUPP on igb's
 *   MSI-X BAR);
 * - mmap(): offset 0 is the first byte of the first range and the ranges
 *   follow each other; a non-zero offset works; too long, past the end,
 *   MAP_PRIVATE and growing fail; /proc/self/maps shows the offset given;
 *   a read-only DMABUF maps shared for reading only;
 * - delegation: a child that never had the device fd gets a DMABUF over a
 *   unix socket, maps it, writes a pattern the host finds in ivshmem's
 *   backing file ("VPA-HOSTCHECK: ..."), and cannot map past its range;
 * - revoke: a child storing in a loop gets SIGBUS, as do mappings made
 *   through a dup()ed fd; the DMABUF cannot be mapped again; the BAR's own
 *   mapping and another DMABUF of the same pages keep working, and a new
 *   DMABUF of the range works;
 * - WC: a WC DMABUF's pages are write-combining in the page tables and in
 *   PAT (BAR split in three), uncached mappings of them (BAR region, NC
 *   DMABUF) get SIGBUS, the rest of the BAR stays uncached; PAT is back as
 *   before open after close;
 * - lifetime and device events: the last close revokes (SIGBUS, ENODEV on
 *   mmap, ENODEV on revoke after a new open); memory decode off (ivshmem),
 *   VFIO_DEVICE_RESET and D3hot (igb) zap DMABUF mappings, which fault
 *   back; a 2 MiB aligned range faults in PMD entries;
 * - iommufd's IOMMU_IOAS_MAP_FILE of our DMABUF fails with EOPNOTSUPP;
 * - P2P importers (vpa_importer.ko, a dynamic importer attached as the
 *   exporting function itself): they map; memory decode off, D3hot, low
 *   power, VFIO_DEVICE_RESET and a hot reset invalidate their mapping and
 *   refuse a new one (ENODEV) until the memory is back; a DMABUF exported
 *   with decoding off cannot be attached until it is on; a revoke
 *   invalidates them for good.
 *
 * - next to windows: a WC window and a WC DMABUF side by side, an NC DMABUF
 *   and the BAR's uncached mapping next to them, each page one PAT entry of
 *   its owner's type;
 * - surprise removal (sysfs remove) with a client storing through a WC
 *   DMABUF: the primary closes on the device request, the client gets
 *   SIGBUS, no PAT entry is left, the DMABUF outlives its device.
 *
 * Areas of BAR 2 (see window_test.c for the others): [48M, 48M + 64K) the
 * delegation pattern the host checks, [52M, 64M) scratch.
 */
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/dma-heap.h>
#include <linux/iommufd.h>

#include "kselftest_harness.h"
#include "vpa_lib.h"
#include "vpa_pgtable.h"

#define SZ_4K		4096UL
#define SZ_64K		(64UL << 10)
#define SZ_1M		(1UL << 20)
#define SZ_2M		(2UL << 20)
#define BAR2		((uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40)
#define PAT_MAX		16

#define DELEGATE_OFF	(48 * SZ_1M)
#define DELEGATE_LEN	SZ_64K
#define SCRATCH		(52 * SZ_1M)
#define WC_OFF		(56 * SZ_1M)
#define WC_LEN		SZ_2M
#define NEXT_OFF	(58 * SZ_1M)

#define AT(p, bytes)	((volatile uint32_t *)((char *)(p) + (bytes)))

/* The feature number the loaded module publishes in parameter @name. */
static unsigned int feature_nr(const char *name, unsigned int dflt)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/sys/module/vfio_pci_alias/parameters/%s", name);
	if (vpa_sysfs_read(path, buf, sizeof(buf))) {
		snprintf(path, sizeof(path), "/sys/module/vfio_pci/parameters/%s", name);
		if (vpa_sysfs_read(path, buf, sizeof(buf)))
			return dflt;
	}
	return strtoul(buf, NULL, 0);
}

static unsigned int revoke_nr(void)
{
	return feature_nr("dma_buf_revoke_feature", VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE);
}

static unsigned int memattr_nr(void)
{
	return feature_nr("dma_buf_memattr_feature", VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR);
}

/* A DMABUF of the @n ranges (offset, length pairs) of @bar; its fd or -errno. */
static int export(int fd, uint32_t bar, const uint64_t *ranges, uint32_t n)
{
	return vpa_dmabuf_export(fd, bar, ranges, n, O_RDWR | O_CLOEXEC);
}

static int export1(int fd, uint32_t bar, uint64_t off, uint64_t len)
{
	uint64_t r[2] = { off, len };

	return export(fd, bar, r, 1);
}

static int dmabuf_revoke(int fd, int dmabuf)
{
	struct vfio_device_feature_dma_buf_revoke r = { .dmabuf_fd = dmabuf };

	return vpa_dev_feature(fd, revoke_nr(), VFIO_DEVICE_FEATURE_SET, &r, sizeof(r));
}

static int set_memattr(int fd, int dmabuf, uint32_t attr)
{
	struct vfio_device_feature_dma_buf_memattr m = { .dmabuf_fd = dmabuf, .memattr = attr };

	return vpa_dev_feature(fd, memattr_nr(), VFIO_DEVICE_FEATURE_SET, &m, sizeof(m));
}

static int64_t get_memattr(int fd, int dmabuf)
{
	struct vfio_device_feature_dma_buf_memattr m = { .dmabuf_fd = dmabuf, .memattr = ~0u };
	int ret = vpa_dev_feature(fd, memattr_nr(), VFIO_DEVICE_FEATURE_GET, &m, sizeof(m));

	return ret ? (int64_t)ret : (int64_t)m.memattr;
}

static void *map(int fd, size_t len, uint64_t off)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

static int sigbus(volatile void *p)
{
	uint32_t v;

	return vpa_read_sigbus(p, &v);
}

/*
 * The importer @imp lost its mapping to an invalidation (the count of
 * those is now @n) and cannot map again while the memory is gone.
 */
#define ASSERT_IMPORTER_STOPPED(imp, n, when) do {				\
	struct vpa_importer_status _st = vpa_importer_status(imp);		\
										\
	ASSERT_EQ(0, _st.mapped) TH_LOG("%s: still mapped", when);		\
	ASSERT_EQ(n, _st.unmapped_by_invalidate) TH_LOG("%s", when);		\
	ASSERT_EQ(-ENODEV, vpa_importer_map(imp)) TH_LOG("%s: mapped", when);	\
} while (0)

/* The importer @imp maps @len bytes again. */
#define ASSERT_IMPORTER_MAPS(imp, len, when) do {				\
	struct vpa_importer_status _st;						\
										\
	ASSERT_EQ(0, vpa_importer_map(imp)) TH_LOG("%s", when);			\
	_st = vpa_importer_status(imp);						\
	ASSERT_EQ(1, _st.mapped) TH_LOG("%s", when);				\
	ASSERT_EQ(len, _st.mapped_len) TH_LOG("%s", when);			\
} while (0)

/* Sends @fd over the unix socket @sock. */
static int send_fd(int sock, int fd)
{
	char c = 'F', ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

/* Receives an fd from the unix socket @sock; the fd or -1. */
static int recv_fd(int sock)
{
	char c, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* Whether this process has an fd open on a vfio device or group. */
static int has_vfio_fd(void)
{
	char path[64], target[256];
	ssize_t n;
	int fd;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (strstr(target, "vfio"))
			return 1;
	}
	return 0;
}

/* A SIGBUS handler: the child's exit status is the signal number. */
static void exit_with(int sig)
{
	_exit(sig);
}

FIXTURE(ivshmem) {
	struct vpa_dev d;
	int open;
	uint64_t len;
	uint64_t phys;
	struct pat_range pat0[PAT_MAX];
	int npat0;
};

FIXTURE_SETUP(ivshmem)
{
	VPA_NEED(VPA_IVSHMEM);
	self->phys = bar_phys(vpa_bdf(VPA_IVSHMEM), 2);
	self->len = bar_size(vpa_bdf(VPA_IVSHMEM), 2);
	ASSERT_GE(self->len, 64UL << 20);
	self->npat0 = pat_ranges(self->phys, self->phys + self->len, self->pat0, PAT_MAX);
	ASSERT_GE(PAT_MAX, self->npat0);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &self->d));
	self->open = 1;
}

FIXTURE_TEARDOWN(ivshmem)
{
	if (self->open)
		vpa_close(&self->d);
}

/* PAT of BAR 2 is as before open plus exactly @want (@n entries, by start). */
static void check_pat(struct __test_metadata *_metadata, FIXTURE_DATA(ivshmem) *self,
		      const struct pat_range *want, int n, const char *when)
{
	struct pat_range now[PAT_MAX];
	int i, total, added;

	if (self->npat0 < 0)
		return;
	total = pat_ranges(self->phys, self->phys + self->len, now, PAT_MAX);
	ASSERT_LE(0, total);
	added = pat_ranges_new(now, total, self->pat0, self->npat0);
	for (i = 0; i < added; i++)
		TH_LOG("%s: PAT [BAR + %#llx, BAR + %#llx) %s", when,
		       (unsigned long long)(now[i].start - self->phys),
		       (unsigned long long)(now[i].end - self->phys), now[i].type);
	ASSERT_EQ(self->npat0 + n, total) TH_LOG("%s", when);
	ASSERT_EQ(n, added) TH_LOG("%s", when);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(want[i].start, now[i].start) TH_LOG("%s: entry %d", when, i);
		ASSERT_EQ(want[i].end, now[i].end) TH_LOG("%s: entry %d", when, i);
		ASSERT_STREQ(want[i].type, now[i].type) TH_LOG("%s: entry %d", when, i);
	}
}

TEST_F(ivshmem, features_probe_and_numbers)
{
	uint32_t probe = VFIO_DEVICE_FEATURE_PROBE;

	ASSERT_EQ(0, vpa_dev_feature(self->d.fd, VFIO_DEVICE_FEATURE_DMA_BUF,
			     probe | VFIO_DEVICE_FEATURE_GET, NULL, 0));
	ASSERT_EQ(-EINVAL, vpa_dev_feature(self->d.fd, VFIO_DEVICE_FEATURE_DMA_BUF,
				   probe | VFIO_DEVICE_FEATURE_SET, NULL, 0));
	ASSERT_EQ(0, vpa_dev_feature(self->d.fd, revoke_nr(), probe | VFIO_DEVICE_FEATURE_SET, NULL, 0));
	ASSERT_EQ(-EINVAL, vpa_dev_feature(self->d.fd, revoke_nr(), probe | VFIO_DEVICE_FEATURE_GET,
				   NULL, 0));
	ASSERT_EQ(0, vpa_dev_feature(self->d.fd, memattr_nr(), probe | VFIO_DEVICE_FEATURE_GET |
			     VFIO_DEVICE_FEATURE_SET, NULL, 0));
	/* The header's numbers, as vfio_pci_alias publishes them. */
	ASSERT_EQ(VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE, revoke_nr());
	ASSERT_EQ(VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR, memattr_nr());
}

TEST_F(ivshmem, export_fails_as_core)
{
	char buf[sizeof(struct vfio_device_feature_dma_buf) + 16] = { 0 };
	struct vfio_device_feature_dma_buf *req = (void *)buf;
	uint64_t two[4] = { SCRATCH, SZ_4K, SCRATCH, 0 };
	int fd = self->d.fd;

	ASSERT_EQ(-EINVAL, export(fd, 2, NULL, 0));
	ASSERT_EQ(-EINVAL, export1(fd, 2, SCRATCH, 0));
	ASSERT_EQ(-EINVAL, export1(fd, 2, SCRATCH + 8, SZ_4K));
	ASSERT_EQ(-EINVAL, export1(fd, 2, SCRATCH, 100));
	ASSERT_EQ(-EINVAL, export1(fd, 2, self->len - SZ_4K, 2 * SZ_4K));
	ASSERT_EQ(-EINVAL, export(fd, 2, two, 2));
	ASSERT_EQ(-EOVERFLOW, export1(fd, 2, ~0ULL & ~(SZ_4K - 1), SZ_4K));
	/* Not a BAR, a BAR that is not there (ivshmem has no BAR 3). */
	ASSERT_EQ(-ENODEV, export1(fd, VFIO_PCI_ROM_REGION_INDEX, 0, SZ_4K));
	ASSERT_EQ(-ENODEV, export1(fd, 3, 0, SZ_4K));
	/* flags must be 0; SET is not an operation of the feature. */
	req->region_index = 2;
	req->nr_ranges = 1;
	req->flags = 1;
	req->dma_ranges[0].offset = SCRATCH;
	req->dma_ranges[0].length = SZ_4K;
	ASSERT_EQ(-EINVAL, vpa_dev_feature(fd, VFIO_DEVICE_FEATURE_DMA_BUF, VFIO_DEVICE_FEATURE_GET,
				   req, sizeof(buf)));
	req->flags = 0;
	ASSERT_EQ(-EINVAL, vpa_dev_feature(fd, VFIO_DEVICE_FEATURE_DMA_BUF, VFIO_DEVICE_FEATURE_SET,
				   req, sizeof(buf)));
	/* Too short for the header. */
	ASSERT_EQ(-EINVAL, vpa_dev_feature(fd, VFIO_DEVICE_FEATURE_DMA_BUF, VFIO_DEVICE_FEATURE_GET,
				   req, 8));
}

TEST_F(ivshmem, errnos_of_revoke_and_memattr)
{
	struct dma_heap_allocation_data heap = { .len = SZ_4K, .fd_flags = O_RDWR | O_CLOEXEC };
	struct vpa_dev edu;
	int fd = self->d.fd, buf, efd, hfd, other, closed;

	buf = export1(fd, 2, SCRATCH, SZ_4K);
	ASSERT_LE(0, buf);
	/* A closed fd number, an fd that is not a DMABUF. */
	closed = dup(buf);
	close(closed);
	ASSERT_EQ(-EBADF, dmabuf_revoke(fd, closed));
	ASSERT_EQ(-EBADF, get_memattr(fd, closed));
	efd = eventfd(0, 0);
	ASSERT_EQ(-EINVAL, dmabuf_revoke(fd, efd));
	ASSERT_EQ(-EINVAL, set_memattr(fd, efd, VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_NC));
	close(efd);
	/* Another exporter's DMABUF. */
	hfd = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	if (hfd >= 0) {
		ASSERT_EQ(0, ioctl(hfd, DMA_HEAP_IOCTL_ALLOC, &heap));
		ASSERT_EQ(-ENODEV, dmabuf_revoke(fd, heap.fd));
		ASSERT_EQ(-ENODEV, get_memattr(fd, heap.fd));
		close(heap.fd);
		close(hfd);
	} else {
		TH_LOG("no /dev/dma_heap/system: %s", strerror(errno));
	}
	/* Another device's DMABUF. */
	if (*vpa_bdf(VPA_EDU) && vpa_open(vpa_bdf(VPA_EDU), &edu) == 0) {
		other = export1(edu.fd, 0, 0, SZ_4K);
		ASSERT_LE(0, other);
		ASSERT_EQ(-ENODEV, dmabuf_revoke(fd, other));
		ASSERT_EQ(-ENODEV, set_memattr(fd, other, VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC));
		ASSERT_EQ(-ENODEV, dmabuf_revoke(edu.fd, buf));
		ASSERT_EQ(0, dmabuf_revoke(edu.fd, other));
		close(other);
		vpa_close(&edu);
	}
	/* MEMATTR: NC by default, WC kept, unknown values refused. */
	ASSERT_EQ(VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_NC, get_memattr(fd, buf));
	ASSERT_EQ(-ENOENT, set_memattr(fd, buf, 2));
	ASSERT_EQ(-ENOENT, set_memattr(fd, buf, ~0u));
	ASSERT_EQ(0, set_memattr(fd, buf, VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC));
	ASSERT_EQ(VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC, get_memattr(fd, buf));
	ASSERT_EQ(0, set_memattr(fd, buf, VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_NC));
	/* Revoked: once only, and no attribute for it any more. */
	ASSERT_EQ(0, dmabuf_revoke(fd, buf));
	ASSERT_EQ(-EBADFD, dmabuf_revoke(fd, buf));
	ASSERT_EQ(-EBADFD, set_memattr(fd, buf, VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC));
	ASSERT_EQ(VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_NC, get_memattr(fd, buf));
	close(buf);
}

TEST(msix_bar_has_no_wc_dmabuf)
{
	char bdf[32], cfg[256];
	struct vpa_dev d;
	int buf, pos;
	uint32_t bir;

	VPA_NEED(VPA_IGB);
	snprintf(bdf, sizeof(bdf), "%s", vpa_bdf(VPA_IGB));
	pos = vpa_pci_cap(bdf, PCI_CAP_ID_MSIX, 12, (unsigned char *)cfg);
	ASSERT_NE(0, pos);
	bir = *(uint32_t *)(cfg + pos + PCI_MSIX_TABLE) & PCI_MSIX_TABLE_BIR;
	ASSERT_EQ(0, vpa_open(bdf, &d));
	buf = export1(d.fd, bir, 0, SZ_4K);
	ASSERT_LE(0, buf);
	ASSERT_EQ(-EOPNOTSUPP, set_memattr(d.fd, buf, VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC));
	ASSERT_EQ(0, set_memattr(d.fd, buf, VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_NC));
	close(buf);
	vpa_close(&d);
}

TEST_F(ivshmem, mmap_offsets_and_bounds)
{
	uint64_t r[4] = { SCRATCH, 2 * SZ_4K, SCRATCH + 4 * SZ_4K, SZ_4K };
	char line[512], want[64];
	volatile uint32_t *bar, *p;
	int fd = self->d.fd, buf, found = 0;
	FILE *maps;

	bar = map(fd, 8 * SZ_4K, BAR2 + SCRATCH);
	ASSERT_NE(MAP_FAILED, bar);
	for (int i = 0; i < 8; i++)
		*AT(bar, i * SZ_4K) = 0xd0000000 | i;
	buf = export(fd, 2, r, 2);
	ASSERT_LE(0, buf);
	/* Pages 0, 1 of range A, then page 0 of range B (BAR page 4). */
	p = map(buf, 3 * SZ_4K, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0xd0000000, *AT(p, 0));
	ASSERT_EQ(0xd0000001, *AT(p, SZ_4K));
	ASSERT_EQ(0xd0000004, *AT(p, 2 * SZ_4K));
	*AT(p, 2 * SZ_4K + 4) = 0x5a5a;
	ASSERT_EQ(0x5a5a, *AT(bar, 4 * SZ_4K + 4));
	munmap((void *)p, 3 * SZ_4K);
	/* At a non-zero offset, seen as such in /proc/self/maps. */
	p = map(buf, 2 * SZ_4K, SZ_4K);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0xd0000001, *AT(p, 0));
	ASSERT_EQ(0xd0000004, *AT(p, SZ_4K));
	snprintf(want, sizeof(want), "%lx-", (unsigned long)p);
	maps = fopen("/proc/self/maps", "r");
	ASSERT_NE(NULL, maps);
	while (fgets(line, sizeof(line), maps))
		if (!strncmp(line, want, strlen(want))) {
			found = 1;
			ASSERT_NE(NULL, strstr(line, " 00001000 ")) TH_LOG("%s", line);
			ASSERT_NE(NULL, strstr(line, "dmabuf")) TH_LOG("%s", line);
		}
	fclose(maps);
	ASSERT_TRUE(found);
	/* It cannot grow. */
	ASSERT_EQ(MAP_FAILED, mremap((void *)p, 2 * SZ_4K, 3 * SZ_4K, 0));
	munmap((void *)p, 2 * SZ_4K);
	/* Larger than the DMABUF, past its end, private. */
	ASSERT_EQ(MAP_FAILED, map(buf, 4 * SZ_4K, 0));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(MAP_FAILED, map(buf, SZ_4K, 3 * SZ_4K));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(MAP_FAILED, mmap(NULL, SZ_4K, PROT_READ, MAP_PRIVATE, buf, 0));
	ASSERT_EQ(EINVAL, errno);
	close(buf);
	/* A read-only DMABUF maps shared for reading, not for writing. */
	buf = vpa_dmabuf_export(fd, 2, r, 1, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, buf);
	p = mmap(NULL, SZ_4K, PROT_READ, MAP_SHARED, buf, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("read-only shared mmap: %s", strerror(errno));
	ASSERT_EQ(0xd0000000, *AT(p, 0));
	ASSERT_NE(0, mprotect((void *)p, SZ_4K, PROT_READ | PROT_WRITE));
	munmap((void *)p, SZ_4K);
	ASSERT_EQ(MAP_FAILED, map(buf, SZ_4K, 0));
	ASSERT_EQ(EACCES, errno);
	close(buf);
	munmap((void *)bar, 8 * SZ_4K);
}

/*
 * The client: gets a DMABUF fd from @sock, maps it, writes the pattern of
 * @seed, checks it and that nothing past the range maps. Exit status 0 if
 * all went well.
 */
static int client(int sock, uint32_t seed)
{
	volatile uint32_t *p;
	uint32_t s = seed;
	size_t i;
	int buf;

	if (has_vfio_fd())
		return 10;
	buf = recv_fd(sock);
	if (buf < 0)
		return 11;
	p = map(buf, DELEGATE_LEN, 0);
	if (p == MAP_FAILED)
		return 12;
	for (i = 0; i < DELEGATE_LEN / 4; i++)
		p[i] = xorshift32(&s);
	s = seed;
	for (i = 0; i < DELEGATE_LEN / 4; i++)
		if (p[i] != xorshift32(&s))
			return 13;
	if (map(buf, 2 * DELEGATE_LEN, 0) != MAP_FAILED || errno != EINVAL)
		return 14;
	if (map(buf, SZ_4K, DELEGATE_LEN) != MAP_FAILED || errno != EINVAL)
		return 15;
	return write(sock, "d", 1) == 1 ? 0 : 16;
}

TEST(delegation_end_to_end)
{
	uint32_t seed = 0x5eed0d1b, s;
	volatile uint32_t *bar;
	size_t i;
	struct vpa_dev d;
	int sv[2], buf, status;
	char c;
	pid_t pid;

	VPA_NEED(VPA_IVSHMEM);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	/* Forked before the device is opened: the client never had its fd. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		_exit(client(sv[1], seed));
	}
	close(sv[1]);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &d));
	buf = export1(d.fd, 2, DELEGATE_OFF, DELEGATE_LEN);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, send_fd(sv[0], buf));
	close(buf);
	ASSERT_EQ(1, read(sv[0], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	/* The primary sees it through the BAR; the host in the backing file. */
	bar = map(d.fd, DELEGATE_LEN, BAR2 + DELEGATE_OFF);
	ASSERT_NE(MAP_FAILED, bar);
	s = seed;
	for (i = 0; i < DELEGATE_LEN / 4; i++)
		ASSERT_EQ(xorshift32(&s), bar[i]) TH_LOG("word %zu", i);
	munmap((void *)bar, DELEGATE_LEN);
	printf("VPA-HOSTCHECK: ivshmem %lu %lu %u\n", DELEGATE_OFF, DELEGATE_LEN, seed);
	vpa_close(&d);
	close(sv[0]);
}

TEST_F_TIMEOUT(ivshmem, revoke_under_load, 120)
{
	volatile uint32_t *bar, *p, *q, *r;
	int fd = self->d.fd, buf, dup_fd, again, other, pipefd[2], status;
	char c;
	pid_t pid;

	buf = export1(fd, 2, SCRATCH, SZ_64K);
	ASSERT_LE(0, buf);
	other = export1(fd, 2, SCRATCH, SZ_64K);
	ASSERT_LE(0, other);
	dup_fd = dup(buf);
	q = map(dup_fd, SZ_64K, 0);
	ASSERT_NE(MAP_FAILED, q);
	r = map(other, SZ_64K, 0);
	ASSERT_NE(MAP_FAILED, r);
	bar = map(fd, SZ_64K, BAR2 + SCRATCH);
	ASSERT_NE(MAP_FAILED, bar);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = exit_with };
		uint32_t i = 0;

		/* SIGBUS ends the child with status SIGBUS (7). */
		sigaction(SIGBUS, &sa, NULL);
		p = map(buf, SZ_64K, 0);
		if (p == MAP_FAILED)
			_exit(1);
		p[0] = 1;
		if (write(pipefd[1], "s", 1) != 1)
			_exit(2);
		for (;; i++)
			p[(i * 17) % (SZ_64K / 4)] = i;
	}
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	usleep(100 * 1000);
	ASSERT_EQ(0, dmabuf_revoke(fd, buf));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(SIGBUS, WEXITSTATUS(status));
	/* Through the dup()ed fd too; and it cannot be mapped again. */
	ASSERT_TRUE(sigbus(q));
	ASSERT_EQ(MAP_FAILED, map(buf, SZ_4K, 0));
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(MAP_FAILED, map(dup_fd, SZ_4K, 0));
	/* The BAR's mapping and the other DMABUF of the same pages work. */
	*AT(bar, 64) = 0x1234abcd;
	ASSERT_EQ(0x1234abcd, *AT(r, 64));
	/* A new DMABUF of the range works. */
	again = export1(fd, 2, SCRATCH, SZ_64K);
	ASSERT_LE(0, again);
	p = map(again, SZ_64K, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0x1234abcd, *AT(p, 64));
	munmap((void *)p, SZ_64K);
	munmap((void *)q, SZ_64K);
	munmap((void *)r, SZ_64K);
	munmap((void *)bar, SZ_64K);
	close(again);
	close(other);
	close(dup_fd);
	close(buf);
}

TEST_F_TIMEOUT(ivshmem, wc_pages_for_everyone, 120)
{
	struct pat_range want[3] = {
		{ self->phys, self->phys + WC_OFF, "uncached-minus" },
		{ self->phys + WC_OFF, self->phys + WC_OFF + WC_LEN, "write-combining" },
		{ self->phys + WC_OFF + WC_LEN, self->phys + self->len, "uncached-minus" },
	};
	struct pat_range whole[1] = { { self->phys, self->phys + self->len, "uncached-minus" } };
	volatile uint32_t *w, *n, *bar, *other;
	int fd = self->d.fd, wbuf, nbuf, obuf;
	char level[8] = "";

	if (access(PTDUMP, R_OK) || access(PATLIST, R_OK))
		SKIP(return, "no " PTDUMP " or " PATLIST);
	wbuf = export1(fd, 2, WC_OFF, WC_LEN);
	nbuf = export1(fd, 2, WC_OFF, WC_LEN);
	obuf = export1(fd, 2, SCRATCH, SZ_4K);
	ASSERT_LE(0, wbuf);
	ASSERT_LE(0, nbuf);
	ASSERT_LE(0, obuf);
	/* Uncached mappings first: the BAR region, an NC DMABUF. */
	bar = map(fd, self->len, BAR2);
	ASSERT_NE(MAP_FAILED, bar);
	n = map(nbuf, WC_LEN, 0);
	ASSERT_NE(MAP_FAILED, n);
	*AT(bar, WC_OFF) = 0xfeed;
	ASSERT_EQ(0xfeed, *AT(n, 0));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)n, level));
	check_pat(_metadata, self, whole, 1, "uncached");
	/* The WC DMABUF: its pages are write-combining for everyone. */
	ASSERT_EQ(0, set_memattr(fd, wbuf, VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC));
	w = map(wbuf, WC_LEN, 0);
	ASSERT_NE(MAP_FAILED, w);
	ASSERT_EQ(0xfeed, *AT(w, 0));
	*AT(w, 4) = 0xbeef;
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)w, level));
	check_pat(_metadata, self, want, 3, "WC DMABUF mapped");
	ASSERT_TRUE(sigbus(n));
	ASSERT_TRUE(sigbus(AT(bar, WC_OFF)));
	ASSERT_TRUE(vpa_write_sigbus(AT(bar, WC_OFF + WC_LEN - 4), 1));
	/* The rest of the BAR, another NC DMABUF: uncached as before. */
	*AT(bar, SCRATCH) = 0x77;
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)AT(bar, SCRATCH), level));
	other = map(obuf, SZ_4K, 0);
	ASSERT_NE(MAP_FAILED, other);
	ASSERT_EQ(0x77, *AT(other, 0));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)other, level));
	/* An ioeventfd on the BAR is refused while the window exists. */
	ASSERT_EQ(-EBUSY, vpa_ioeventfd(fd, BAR2 + SCRATCH, 1, eventfd(0, 0)));
	/* The last WC mapping gone: uncached again, for everyone. */
	munmap((void *)w, WC_LEN);
	check_pat(_metadata, self, whole, 1, "WC DMABUF unmapped");
	ASSERT_EQ(0xbeef, *AT(n, 4));
	ASSERT_EQ(0xbeef, *AT(bar, WC_OFF + 4));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)n, level));
	/* Mapped WC again, then the device closed with it mapped. */
	w = map(wbuf, WC_LEN, 0);
	ASSERT_NE(MAP_FAILED, w);
	ASSERT_EQ(0xbeef, *AT(w, 4));
	munmap((void *)bar, self->len);
	munmap((void *)n, WC_LEN);
	munmap((void *)other, SZ_4K);
	vpa_close(&self->d);
	self->open = 0;
	ASSERT_TRUE(sigbus(w));
	check_pat(_metadata, self, NULL, 0, "after close");
	munmap((void *)w, WC_LEN);
	close(wbuf);
	close(nbuf);
	close(obuf);
}

/* One PAT entry covers the page at @phys, of type @type. */
static int pat_page_is(uint64_t phys, const char *type)
{
	struct pat_range r[4];

	return pat_ranges(phys, phys + SZ_4K, r, 4) == 1 && !strcmp(r[0].type, type);
}

/*
 * A WC window (ALIAS_REGION) and a WC DMABUF side by side, an NC DMABUF and
 * the BAR's uncached mapping next to them: each has the page-table type it
 * asked for, every page of the BAR has one PAT entry of the type of its
 * owner, and each owner's pages go back to uncached alone when it goes.
 */
TEST_F_TIMEOUT(ivshmem, wc_dmabuf_next_to_window, 120)
{
	const uint64_t win_off = NEXT_OFF, buf_off = NEXT_OFF + SZ_2M;
	const uint64_t nc_off = NEXT_OFF + 2 * SZ_2M;
	volatile uint32_t *win, *w, *n, *bar;
	int fd = self->d.fd, alias, wbuf, nbuf;
	char level[8] = "";

	if (access(PTDUMP, R_OK) || access(PATLIST, R_OK))
		SKIP(return, "no " PTDUMP " or " PATLIST);
	alias = vpa_window(fd, 2, VFIO_ALIAS_ATTR_WC, win_off, SZ_2M);
	ASSERT_LE(0, alias);
	wbuf = export1(fd, 2, buf_off, SZ_2M);
	ASSERT_LE(0, wbuf);
	nbuf = export1(fd, 2, nc_off, SZ_64K);
	ASSERT_LE(0, nbuf);
	ASSERT_EQ(0, set_memattr(fd, wbuf, VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC));
	bar = map(fd, SZ_2M, BAR2 + nc_off);
	ASSERT_NE(MAP_FAILED, bar);
	n = map(nbuf, SZ_64K, 0);
	ASSERT_NE(MAP_FAILED, n);
	win = vpa_map_aligned(fd, SZ_2M, (uint64_t)alias << 40);
	ASSERT_NE(MAP_FAILED, win);
	w = vpa_map_aligned(wbuf, SZ_2M, 0);
	ASSERT_NE(MAP_FAILED, w);
	*AT(win, 0) = 0x11;
	*AT(w, 0) = 0x22;
	*AT(n, 0) = 0x33;
	ASSERT_EQ(0x33, *AT(bar, 0));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)win, level));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)w, level));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)n, level));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)bar, level));
	/* One entry per page, of its owner's type, on both sides of each edge. */
	ASSERT_TRUE(pat_page_is(self->phys + win_off - SZ_4K, "uncached-minus"));
	ASSERT_TRUE(pat_page_is(self->phys + win_off, "write-combining"));
	ASSERT_TRUE(pat_page_is(self->phys + buf_off - SZ_4K, "write-combining"));
	ASSERT_TRUE(pat_page_is(self->phys + buf_off, "write-combining"));
	ASSERT_TRUE(pat_page_is(self->phys + nc_off - SZ_4K, "write-combining"));
	ASSERT_TRUE(pat_page_is(self->phys + nc_off, "uncached-minus"));
	/* The window gone: its pages uncached, the DMABUF's still WC. */
	munmap((void *)win, SZ_2M);
	ASSERT_TRUE(pat_page_is(self->phys + win_off, "uncached-minus"));
	ASSERT_TRUE(pat_page_is(self->phys + buf_off - SZ_4K, "uncached-minus"));
	ASSERT_TRUE(pat_page_is(self->phys + buf_off, "write-combining"));
	ASSERT_EQ(0x22, *AT(w, 0));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)w, level));
	/* Mapped again, then the DMABUF's mapping gone: the reverse. */
	win = vpa_map_aligned(fd, SZ_2M, (uint64_t)alias << 40);
	ASSERT_NE(MAP_FAILED, win);
	ASSERT_EQ(0x11, *AT(win, 0));
	munmap((void *)w, SZ_2M);
	ASSERT_TRUE(pat_page_is(self->phys + win_off, "write-combining"));
	ASSERT_TRUE(pat_page_is(self->phys + buf_off, "uncached-minus"));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)win, level));
	ASSERT_EQ(0x33, *AT(n, 0));
	munmap((void *)win, SZ_2M);
	munmap((void *)n, SZ_64K);
	munmap((void *)bar, SZ_2M);
	close(wbuf);
	close(nbuf);
	vpa_close(&self->d);
	self->open = 0;
	check_pat(_metadata, self, NULL, 0, "after close");
}

TEST_F(ivshmem, last_close_revokes)
{
	volatile uint32_t *p;
	int buf, status;
	pid_t pid;

	buf = export1(self->d.fd, 2, SCRATCH, SZ_4K);
	ASSERT_LE(0, buf);
	p = map(buf, SZ_4K, 0);
	ASSERT_NE(MAP_FAILED, p);
	*AT(p, 0) = 0x42;
	/* A child holding only a mapping of the device keeps it open. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		void *held = map(self->d.fd, SZ_4K, BAR2 + SCRATCH);

		vpa_close(&self->d);
		usleep(300 * 1000);
		_exit(held == MAP_FAILED);
	}
	usleep(100 * 1000);
	vpa_close(&self->d);
	self->open = 0;
	ASSERT_EQ(0x42, *AT(p, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, status);
	/* The last user gone: revoked. */
	ASSERT_TRUE(sigbus(p));
	ASSERT_EQ(MAP_FAILED, map(buf, SZ_4K, 0));
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &self->d));
	self->open = 1;
	ASSERT_EQ(-ENODEV, dmabuf_revoke(self->d.fd, buf));
	ASSERT_EQ(-ENODEV, get_memattr(self->d.fd, buf));
	munmap((void *)p, SZ_4K);
	close(buf);
}

TEST_F(ivshmem, device_events_zap_and_fault_back)
{
	volatile uint32_t *p;
	int fd = self->d.fd, buf;
	long before, after;

	buf = export1(fd, 2, SCRATCH, SZ_64K);
	ASSERT_LE(0, buf);
	p = map(buf, SZ_64K, 0);
	ASSERT_NE(MAP_FAILED, p);
	*AT(p, 8) = 0xabc;
	ASSERT_EQ(0, vpa_set_memory(fd, 0));
	ASSERT_TRUE(sigbus(AT(p, 8)));
	ASSERT_EQ(0, vpa_set_memory(fd, 1));
	before = vpa_minflt();
	ASSERT_EQ(0xabc, *AT(p, 8));
	after = vpa_minflt();
	ASSERT_LT(0, after - before);
	munmap((void *)p, SZ_64K);
	close(buf);
}

/*
 * VFIO_DEVICE_RESET and D3hot zap DMABUF mappings too (igb: ivshmem has no
 * reset).
 */
TEST(reset_zaps_and_faults_back)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	uint64_t cfgsp = (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;
	unsigned char cfg[256];
	volatile uint32_t *p;
	long before, after;
	struct vpa_dev d;
	uint16_t pmcsr;
	int buf, pm;

	VPA_NEED(VPA_IGB);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IGB), &d));
	ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_GET_INFO, &info));
	if (!(info.flags & VFIO_DEVICE_FLAGS_RESET)) {
		vpa_close(&d);
		SKIP(return, "igb cannot be reset here");
	}
	buf = export1(d.fd, 0, 0, SZ_4K);
	ASSERT_LE(0, buf);
	p = map(buf, SZ_4K, 0);
	ASSERT_NE(MAP_FAILED, p);
	(void)*AT(p, 8);
	before = vpa_minflt();
	(void)*AT(p, 8);
	after = vpa_minflt();
	ASSERT_EQ(0, after - before);
	ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_RESET));
	before = vpa_minflt();
	(void)*AT(p, 8);
	after = vpa_minflt();
	ASSERT_LT(0, after - before) TH_LOG("no fault after VFIO_DEVICE_RESET");
	/* D3hot through PMCSR: SIGBUS; back in D0 it faults back. */
	pm = vpa_pci_cap(vpa_bdf(VPA_IGB), PCI_CAP_ID_PM, PCI_PM_SIZEOF, cfg);
	if (pm) {
		ASSERT_EQ(2, pread(d.fd, &pmcsr, 2, cfgsp + pm + PCI_PM_CTRL));
		pmcsr = (pmcsr & ~PCI_PM_CTRL_STATE_MASK) | 3;
		ASSERT_EQ(2, pwrite(d.fd, &pmcsr, 2, cfgsp + pm + PCI_PM_CTRL));
		ASSERT_TRUE(sigbus(AT(p, 8)));
		pmcsr &= ~PCI_PM_CTRL_STATE_MASK;
		ASSERT_EQ(2, pwrite(d.fd, &pmcsr, 2, cfgsp + pm + PCI_PM_CTRL));
		usleep(20 * 1000);
		ASSERT_FALSE(sigbus(AT(p, 8)));
	} else {
		TH_LOG("igb has no PM capability here");
	}
	munmap((void *)p, SZ_4K);
	close(buf);
	vpa_close(&d);
}

/*
 * A hot reset of the device set (VFIO_DEVICE_PCI_HOT_RESET) zaps DMABUF
 * mappings as it zaps BAR mappings, and they fault back; a P2P importer is
 * invalidated and maps again. The devices of
 * QEMU's root bus cannot be bus-reset: tools/qemu.sh puts a pci-testdev
 * behind a root port of its own, and tests/dmabuf-test.sh names it in
 * VPA_RESET_BDF.
 */
TEST(hot_reset_zaps_and_faults_back)
{
	char ibuf[sizeof(struct vfio_pci_hot_reset_info) +
		  8 * sizeof(struct vfio_pci_dependent_device)] __attribute__((aligned(8)));
	char rbuf[sizeof(struct vfio_pci_hot_reset) + sizeof(int)] __attribute__((aligned(8)));
	struct vfio_pci_hot_reset_info *info = (void *)ibuf;
	struct vfio_pci_hot_reset *reset = (void *)rbuf;
	const char *bdf = getenv("VPA_RESET_BDF");
	struct vfio_region_info *ri;
	volatile uint32_t *p, *q;
	char region[512];
	long before, after;
	struct vpa_dev d;
	int buf, bar = -1, i, imp;

	if (!bdf || !*bdf)
		SKIP(return, "no device behind a resettable bus (VPA_RESET_BDF)");
	ASSERT_EQ(0, vpa_open(bdf, &d));
	/* The first BAR a page can be mapped from. */
	for (i = VFIO_PCI_BAR0_REGION_INDEX; i <= VFIO_PCI_BAR5_REGION_INDEX && bar < 0; i++) {
		ASSERT_EQ(0, vpa_region_info(d.fd, i, region, sizeof(region)));
		ri = (void *)region;
		if ((ri->flags & VFIO_REGION_INFO_FLAG_MMAP) && ri->size >= SZ_4K)
			bar = i;
	}
	ASSERT_LE(0, bar) TH_LOG("%s has no mappable BAR of a page", bdf);
	memset(ibuf, 0, sizeof(ibuf));
	info->argsz = sizeof(ibuf);
	ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info))
		TH_LOG("GET_PCI_HOT_RESET_INFO: %s", strerror(errno));
	ASSERT_EQ(1, info->count) TH_LOG("%u devices share the reset", info->count);

	buf = export1(d.fd, bar, 0, SZ_4K);
	ASSERT_LE(0, buf);
	p = map(buf, SZ_4K, 0);
	ASSERT_NE(MAP_FAILED, p);
	q = mmap(NULL, SZ_4K, PROT_READ, MAP_SHARED, d.fd, (uint64_t)bar << 40);
	ASSERT_NE(MAP_FAILED, q);
	imp = vpa_importer_attach(bdf, buf);
	ASSERT_LE(0, imp) TH_LOG("attach: %s (is vpa_importer.ko loaded?)", strerror(-imp));
	ASSERT_IMPORTER_MAPS(imp, SZ_4K, "before the hot reset");
	(void)*AT(p, 0);
	(void)*AT(q, 0);
	before = vpa_minflt();
	(void)*AT(p, 0);
	after = vpa_minflt();
	ASSERT_EQ(0, after - before);

	reset->argsz = sizeof(rbuf);
	reset->flags = 0;
	reset->count = 1;
	reset->group_fds[0] = d.group;
	ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_PCI_HOT_RESET, reset))
		TH_LOG("PCI_HOT_RESET: %s", strerror(errno));
	/* Both mappings lost their PTEs: each faults again. */
	before = vpa_minflt();
	(void)*AT(p, 0);
	after = vpa_minflt();
	ASSERT_LT(0, after - before) TH_LOG("DMABUF: %ld faults after the hot reset",
					    after - before);
	before = vpa_minflt();
	(void)*AT(q, 0);
	after = vpa_minflt();
	ASSERT_LT(0, after - before) TH_LOG("BAR: %ld faults after the hot reset",
					    after - before);
	/* The importer was invalidated, and maps again. */
	ASSERT_EQ(1, vpa_importer_status(imp).unmapped_by_invalidate);
	ASSERT_IMPORTER_MAPS(imp, SZ_4K, "after the hot reset");
	/* A revoked DMABUF's mapping stays gone across the next one. */
	ASSERT_EQ(0, dmabuf_revoke(d.fd, buf));
	ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_PCI_HOT_RESET, reset));
	ASSERT_TRUE(sigbus(AT(p, 0)));
	ASSERT_FALSE(sigbus(AT(q, 0)));
	ASSERT_EQ(-ENODEV, vpa_importer_map(imp));
	close(imp);
	munmap((void *)q, SZ_4K);
	munmap((void *)p, SZ_4K);
	close(buf);
	vpa_close(&d);
}

/*
 * P2P importers of our DMABUFs follow the device's memory as core's own
 * exporter's do (igb: it has FLR, a PM capability and runtime PM). Each
 * event that takes the memory away invalidates the importer's mapping and
 * refuses a new one until the memory is back.
 */
TEST(importers_follow_device_events)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	uint64_t cfgsp = (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;
	const char *bdf = vpa_bdf(VPA_IGB);
	unsigned char cfg[256];
	struct vpa_dev d;
	int buf, buf2, imp, imp2, pm, n = 0;
	uint16_t pmcsr;

	VPA_NEED(VPA_IGB);
	ASSERT_EQ(0, vpa_open(bdf, &d));
	ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_GET_INFO, &info));
	buf = export1(d.fd, 0, SZ_4K, 2 * SZ_4K);
	ASSERT_LE(0, buf);
	imp = vpa_importer_attach(bdf, buf);
	ASSERT_LE(0, imp) TH_LOG("attach: %s (is vpa_importer.ko loaded?)", strerror(-imp));
	ASSERT_IMPORTER_MAPS(imp, 2 * SZ_4K, "first map");
	ASSERT_EQ(1, vpa_importer_status(imp).nents);

	/* Memory decoding off, then on. */
	ASSERT_EQ(0, vpa_set_memory(d.fd, 0));
	ASSERT_IMPORTER_STOPPED(imp, ++n, "decoding off");
	/* A DMABUF exported now cannot be attached to. */
	buf2 = export1(d.fd, 0, 0, SZ_4K);
	ASSERT_LE(0, buf2);
	ASSERT_EQ(-ENODEV, vpa_importer_attach(bdf, buf2));
	ASSERT_EQ(0, vpa_set_memory(d.fd, 1));
	ASSERT_IMPORTER_MAPS(imp, 2 * SZ_4K, "decoding on");
	imp2 = vpa_importer_attach(bdf, buf2);
	ASSERT_LE(0, imp2) TH_LOG("attach after decoding on: %s", strerror(-imp2));
	ASSERT_IMPORTER_MAPS(imp2, SZ_4K, "second DMABUF");

	/*
	 * A write to the command register that leaves decoding on: the driver
	 * cannot know what core will read, so the importers are invalidated
	 * and may map again at once.
	 */
	ASSERT_EQ(0, vpa_set_memory(d.fd, 1));
	ASSERT_EQ(++n, vpa_importer_status(imp).unmapped_by_invalidate);
	ASSERT_IMPORTER_MAPS(imp, 2 * SZ_4K, "decoding still on");
	ASSERT_IMPORTER_MAPS(imp2, SZ_4K, "decoding still on, second DMABUF");

	if (info.flags & VFIO_DEVICE_FLAGS_RESET) {
		ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_RESET));
		ASSERT_EQ(n + 1, vpa_importer_status(imp).unmapped_by_invalidate);
		n++;
		ASSERT_IMPORTER_MAPS(imp, 2 * SZ_4K, "after VFIO_DEVICE_RESET");
	} else {
		TH_LOG("igb cannot be reset here");
	}

	pm = vpa_pci_cap(bdf, PCI_CAP_ID_PM, PCI_PM_SIZEOF, cfg);
	if (pm) {
		ASSERT_EQ(2, pread(d.fd, &pmcsr, 2, cfgsp + pm + PCI_PM_CTRL));
		pmcsr = (pmcsr & ~PCI_PM_CTRL_STATE_MASK) | 3;
		ASSERT_EQ(2, pwrite(d.fd, &pmcsr, 2, cfgsp + pm + PCI_PM_CTRL));
		ASSERT_IMPORTER_STOPPED(imp, ++n, "D3hot");
		pmcsr &= ~PCI_PM_CTRL_STATE_MASK;
		ASSERT_EQ(2, pwrite(d.fd, &pmcsr, 2, cfgsp + pm + PCI_PM_CTRL));
		usleep(20 * 1000);
		ASSERT_IMPORTER_MAPS(imp, 2 * SZ_4K, "D0");
	} else {
		TH_LOG("igb has no PM capability here");
	}

	/* Low power entry and exit. */
	ASSERT_EQ(0, vpa_dev_feature(d.fd, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
				     VFIO_DEVICE_FEATURE_SET, NULL, 0))
		TH_LOG("LOW_POWER_ENTRY: %s", strerror(errno));
	ASSERT_IMPORTER_STOPPED(imp, ++n, "low power");
	ASSERT_EQ(0, vpa_dev_feature(d.fd, VFIO_DEVICE_FEATURE_LOW_POWER_EXIT,
				     VFIO_DEVICE_FEATURE_SET, NULL, 0));
	ASSERT_IMPORTER_MAPS(imp, 2 * SZ_4K, "low power exit");
	ASSERT_IMPORTER_MAPS(imp2, SZ_4K, "low power exit, second DMABUF");

	/* A revoke stops one DMABUF's importers for good, not the other's. */
	ASSERT_EQ(0, dmabuf_revoke(d.fd, buf));
	ASSERT_IMPORTER_STOPPED(imp, ++n, "revoke");
	ASSERT_EQ(1, vpa_importer_status(imp2).mapped);
	ASSERT_EQ(0, vpa_set_memory(d.fd, 0));
	ASSERT_EQ(0, vpa_set_memory(d.fd, 1));
	ASSERT_EQ(-ENODEV, vpa_importer_map(imp)) TH_LOG("revoked, after decoding on");
	ASSERT_EQ(-ENODEV, vpa_importer_attach(bdf, buf));
	ASSERT_IMPORTER_MAPS(imp2, SZ_4K, "other DMABUF after the revoke");

	/* The last close revokes a mapped importer's DMABUF too. */
	close(imp);
	close(buf);
	close(buf2);
	vpa_close(&d);
	ASSERT_EQ(0, vpa_importer_status(imp2).mapped) TH_LOG("mapped after the last close");
	ASSERT_EQ(-ENODEV, vpa_importer_map(imp2));
	close(imp2);
}

TEST_F(ivshmem, huge_faults)
{
	uint64_t r[4] = { WC_OFF, SZ_2M, SCRATCH, SZ_4K };
	volatile char *p;
	long before, after;
	int buf, bits;
	char level[8] = "";

	buf = export(self->d.fd, 2, r, 2);
	ASSERT_LE(0, buf);
	p = vpa_map_aligned(buf, SZ_2M + SZ_4K, 0);
	ASSERT_NE(MAP_FAILED, p);
	before = vpa_minflt();
	for (size_t i = 0; i < SZ_2M + SZ_4K; i += SZ_4K)
		(void)p[i];
	after = vpa_minflt();
	bits = pte_cache_bits((void *)p, level);
	TH_LOG("2 MiB + 4 KiB DMABUF: %ld faults, first entry %s", after - before, level);
	ASSERT_EQ(PTE_UCM, bits);
	ASSERT_STREQ("pmd", level) TH_LOG("no PMD entry for a 2 MiB aligned range");
	ASSERT_GE(4, after - before);
	munmap((void *)p, SZ_2M + SZ_4K);
	close(buf);
}

TEST(iommufd_map_file_refused)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_ioas_map_file mf = { .size = sizeof(mf) };
	struct vpa_dev d;
	int iommufd, buf;

	VPA_NEED(VPA_IVSHMEM);
	iommufd = open("/dev/iommu", O_RDWR);
	if (iommufd < 0)
		SKIP(return, "no /dev/iommu");
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc));
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &d));
	buf = export1(d.fd, 2, SCRATCH, SZ_64K);
	ASSERT_LE(0, buf);
	mf.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
	mf.ioas_id = alloc.out_ioas_id;
	mf.fd = buf;
	mf.length = SZ_64K;
	ASSERT_NE(0, ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &mf));
	ASSERT_EQ(EOPNOTSUPP, errno);
	close(buf);
	vpa_close(&d);
	close(iommufd);
}

/*
 * Surprise removal with a client storing through a WC DMABUF: sysfs remove
 * asks the primary through the request eventfd, the primary closes the
 * device as QEMU does, the client gets SIGBUS, the removal completes and
 * leaves no PAT entry over the BAR; the primary's DMABUF fd outlives the
 * device and cannot be mapped. A rescan brings ivshmem back, bound to
 * vfio-pci-alias again, for what runs next.
 */
TEST_F_TIMEOUT(ivshmem, surprise_removal_with_client_mappings, 180)
{
	const char *bdf = vpa_bdf(VPA_IVSHMEM);
	char path[128], drv[64];
	int buf, efd, pipefd[2], status, i;
	pid_t client, remover;
	uint64_t ev;
	struct pollfd pfd;
	char c;

	if (access(PATLIST, R_OK))
		SKIP(return, "no " PATLIST);
	ASSERT_EQ(0, vpa_dev_link(bdf, "driver", drv, sizeof(drv)));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vpa_set_req_eventfd(self->d.fd, efd));
	buf = export1(self->d.fd, 2, SCRATCH, SZ_2M);
	ASSERT_LE(0, buf);
	ASSERT_EQ(0, set_memattr(self->d.fd, buf, VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC));
	ASSERT_EQ(0, pipe(pipefd));
	client = fork();
	ASSERT_LE(0, client);
	if (client == 0) {
		struct sigaction sa = { .sa_handler = exit_with };
		volatile uint32_t *p;
		uint32_t n = 0;

		/* Only the DMABUF: the device's fds closed. */
		vpa_close(&self->d);
		sigaction(SIGBUS, &sa, NULL);
		p = map(buf, SZ_2M, 0);
		if (p == MAP_FAILED)
			_exit(1);
		p[0] = 1;
		if (write(pipefd[1], "s", 1) != 1)
			_exit(2);
		for (;; n++)
			p[(n * 31) % (SZ_2M / 4)] = n;
	}
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	ASSERT_TRUE(pat_page_is(self->phys + SCRATCH, "write-combining"));
	remover = fork();
	ASSERT_LE(0, remover);
	if (remover == 0) {
		/* Its copy of the device fd would keep the device from going. */
		vpa_close(&self->d);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", bdf);
		_exit(vpa_sysfs_write(path, "1") ? 1 : 0);
	}
	/* Core asks the user to let go; the primary does, as QEMU would. */
	pfd.fd = efd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 30 * 1000)) TH_LOG("no device request");
	ASSERT_EQ(8, read(efd, &ev, 8));
	vpa_close(&self->d);
	self->open = 0;
	ASSERT_EQ(remover, waitpid(remover, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("sysfs remove failed");
	ASSERT_EQ(client, waitpid(client, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(SIGBUS, WEXITSTATUS(status));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	ASSERT_NE(0, access(path, F_OK)) TH_LOG("%s still there", bdf);
	check_pat(_metadata, self, NULL, 0, "after removal");
	/* The DMABUF outlives its device: revoked, and released cleanly. */
	ASSERT_EQ(MAP_FAILED, map(buf, SZ_4K, 0));
	ASSERT_EQ(ENODEV, errno);
	close(buf);
	close(efd);
	/* Back for the next tests: rescan, bound to the same driver. */
	ASSERT_EQ(0, vpa_sysfs_write("/sys/bus/pci/rescan", "1"));
	for (i = 0; i < 50 && access(path, F_OK); i++)
		usleep(100 * 1000);
	ASSERT_EQ(0, access(path, F_OK)) TH_LOG("%s not back after rescan", bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	ASSERT_EQ(0, vpa_sysfs_write(path, drv));
	vpa_sysfs_write("/sys/bus/pci/drivers_probe", bdf);
	ASSERT_EQ(0, vpa_dev_link(bdf, "driver", path, sizeof(path)));
	ASSERT_STREQ(drv, path);
	ASSERT_EQ(0, vpa_open(bdf, &self->d));
	self->open = 1;
}

VPA_HARNESS_MAIN
