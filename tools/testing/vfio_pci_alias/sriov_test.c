// SPDX-License-Identifier: GPL-2.0
/*
 * SR-IOV on a PF bound to vfio-pci-alias, as on vfio-pci: with the
 * enable_sriov module parameter set, writing sriov_numvfs creates VFs that
 * vfio_pci_core captures for the PF's driver (driver_override), and the VFs
 * open only with the VF token the PF's user set (VFIO_DEVICE_FEATURE_PCI_VF_TOKEN
 * or "vf_token=" at the PF's open), through the group and through the cdev.
 * Without enable_sriov, sriov_numvfs is refused with ENOENT, as vfio-pci.
 *
 * The upstream vfio_pci_sriov_uapi_test checks the same but insists that the
 * VF's driver is named "vfio-pci"; this is its counterpart for a variant
 * driver, whose VFs correctly get the variant's name.
 *
 * Devices (BDF arguments or the environment, vpa_lib.h): QEMU's igb (the
 * PF; its VFs are igbvf) and edu (a device without SR-IOV), both bound to
 * vfio-pci-alias. The program sets enable_sriov=Y for the run and puts back
 * the value it found on exit, after removing any VF left behind.
 */
#include <dirent.h>
#include <stdbool.h>
#include <time.h>

#include "kselftest_harness.h"
#include "vpa_lib.h"

#define ALIAS_DRIVER	"vfio-pci-alias"
#define ENABLE_SRIOV	"/sys/module/vfio_pci_alias/parameters/enable_sriov"
#define TOKEN_A		"4f1c2a9e-7b3d-4e15-a0c6-5d8e9f201b37"
#define TOKEN_B		"c2d7e0f4-18a9-4b6c-9e3f-a75b0c4d6e81"

static const char *pf_bdf;
static pid_t main_pid;
static char enable_sriov_saved[8];

static int dev_read(const char *bdf, const char *attr, char *buf, size_t size)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	return vpa_sysfs_read(path, buf, size);
}

static int dev_int(const char *bdf, const char *attr)
{
	char buf[32];
	int ret = dev_read(bdf, attr, buf, sizeof(buf));

	return ret ? ret : atoi(buf);
}

static int set_numvfs(const char *bdf, int n)
{
	char path[PATH_MAX], val[16];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_numvfs", bdf);
	snprintf(val, sizeof(val), "%d", n);
	return vpa_sysfs_write(path, val);
}

static int set_enable_sriov(bool on)
{
	return vpa_sysfs_write(ENABLE_SRIOV, on ? "Y" : "N");
}

/*
 * Removes the VFs of @bdf if it has any. Disabling goes through the PF
 * driver's sriov_configure too, which enable_sriov gates as well, so it is
 * set first. The caller must not hold a VF open: removing an open vfio
 * device waits for its user.
 */
static int vfs_off(const char *bdf)
{
	int ret;

	if (dev_int(bdf, "sriov_numvfs") <= 0)
		return 0;
	ret = set_enable_sriov(true);
	return ret ? ret : set_numvfs(bdf, 0);
}

/* The driver of @bdf, waiting up to 5 s for the probe. */
static int wait_driver(const char *bdf, char *buf, size_t size)
{
	struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
	int i, ret = -ENOENT;

	for (i = 0; i < 50; i++) {
		ret = vpa_dev_link(bdf, "driver", buf, size);
		if (!ret)
			break;
		nanosleep(&ts, NULL);
	}
	return ret;
}

/* /dev/vfio/devices/vfioN of @bdf, if it has a cdev. */
static int cdev_path(const char *bdf, char *buf, size_t size)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dir;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((e = readdir(dir))) {
		if (strncmp(e->d_name, "vfio", 4))
			continue;
		snprintf(buf, size, "/dev/vfio/devices/%s", e->d_name);
		ret = access(buf, F_OK) ? -errno : 0;
		break;
	}
	closedir(dir);
	return ret;
}

/* VFIO_DEVICE_BIND_IOMMUFD, with @token (UUID string) if not NULL. */
static int bind_iommufd(int fd, int iommufd, const char *token)
{
	uint8_t uuid[16];
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind),
		.iommufd = iommufd,
	};

	if (token) {
		if (vpa_uuid_parse(token, uuid))
			return -EINVAL;
		bind.flags = VFIO_DEVICE_BIND_FLAG_TOKEN;
		bind.token_uuid_ptr = (uintptr_t)uuid;
	}
	if (ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return -errno;
	return 0;
}

/*
 * A PF bound to vfio-pci-alias, open, with VF token TOKEN_A set through
 * the feature, and one VF created while it is open.
 */
FIXTURE(sriov) {
	struct vpa_dev pf;
	bool pf_open;
	struct vpa_dev vf;
	bool vf_open;
	char vf_bdf[32];
};

FIXTURE_SETUP(sriov)
{
	char drv[64];

	VPA_NEED(VPA_IGB);
	if (dev_int(pf_bdf, "sriov_totalvfs") <= 0)
		SKIP(return, "%s cannot do SR-IOV", pf_bdf);
	ASSERT_EQ(0, set_enable_sriov(true));
	/* A VF left by an earlier case that failed in its set-up. */
	ASSERT_EQ(0, vfs_off(pf_bdf));
	ASSERT_EQ(0, vpa_dev_link(pf_bdf, "driver", drv, sizeof(drv)));
	ASSERT_STREQ(ALIAS_DRIVER, drv);

	ASSERT_EQ(0, vpa_open(pf_bdf, &self->pf));
	self->pf_open = true;
	ASSERT_EQ(0, vpa_vf_token(self->pf.fd, VFIO_DEVICE_FEATURE_SET, TOKEN_A));
	ASSERT_EQ(0, set_numvfs(pf_bdf, 1));
	ASSERT_EQ(0, vpa_dev_link(pf_bdf, "virtfn0", self->vf_bdf, sizeof(self->vf_bdf)));
	ASSERT_EQ(0, wait_driver(self->vf_bdf, drv, sizeof(drv)))
		TH_LOG("VF %s did not bind", self->vf_bdf);
}

FIXTURE_TEARDOWN(sriov)
{
	/* VF first: removing it while open would wait for us. */
	if (self->vf_open)
		vpa_close(&self->vf);
	self->vf_open = false;
	if (*self->vf_bdf) {
		EXPECT_EQ(0, vfs_off(pf_bdf));
		EXPECT_EQ(0, dev_int(pf_bdf, "sriov_numvfs"));
	}
	if (self->pf_open)
		vpa_close(&self->pf);
	self->pf_open = false;
}

/* Opens the VF with @token into self->vf; 0 or -errno. */
static int open_vf(FIXTURE_DATA(sriov) *self, const char *token)
{
	int ret = vpa_open_token(self->vf_bdf, token, &self->vf);

	if (!ret)
		self->vf_open = true;
	return ret;
}

static void close_vf(FIXTURE_DATA(sriov) *self)
{
	if (self->vf_open)
		vpa_close(&self->vf);
	self->vf_open = false;
}

TEST_F_TIMEOUT(sriov, vf_is_bound_to_the_pf_driver, 60)
{
	char buf[64], drv[64], pf_group[32], vf_group[32];

	ASSERT_EQ(1, dev_int(pf_bdf, "sriov_numvfs"));
	/* vfio_pci_bus_notifier sets the VF's driver_override to the PF driver's name. */
	ASSERT_EQ(0, dev_read(self->vf_bdf, "driver_override", buf, sizeof(buf)));
	ASSERT_STREQ(ALIAS_DRIVER, buf);
	ASSERT_EQ(0, vpa_dev_link(self->vf_bdf, "driver", drv, sizeof(drv)));
	ASSERT_STREQ(ALIAS_DRIVER, drv);
	ASSERT_EQ(0, vpa_dev_link(self->vf_bdf, "physfn", buf, sizeof(buf)));
	ASSERT_STREQ(pf_bdf, buf);
	/* The VF is a vfio device of its own, in an IOMMU group of its own. */
	ASSERT_EQ(0, vpa_dev_link(pf_bdf, "iommu_group", pf_group, sizeof(pf_group)));
	ASSERT_EQ(0, vpa_dev_link(self->vf_bdf, "iommu_group", vf_group, sizeof(vf_group)));
	ASSERT_STRNE(pf_group, vf_group);
	TH_LOG("PF %s (group %s), VF %s (group %s), VF driver %s",
	       pf_bdf, pf_group, self->vf_bdf, vf_group, drv);
}

TEST_F_TIMEOUT(sriov, vf_opens_only_with_the_pf_token, 60)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	ASSERT_EQ(-EACCES, open_vf(self, NULL));
	ASSERT_EQ(-EACCES, open_vf(self, TOKEN_B));
	ASSERT_EQ(0, open_vf(self, TOKEN_A));
	ASSERT_EQ(0, ioctl(self->vf.fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	ASSERT_EQ(VFIO_PCI_NUM_REGIONS, info.num_regions);
	/* Only a PF has a VF token to set. */
	ASSERT_EQ(-ENOTTY, vpa_vf_token(self->vf.fd, VFIO_DEVICE_FEATURE_PROBE |
					VFIO_DEVICE_FEATURE_SET, NULL));
	ASSERT_EQ(-ENOTTY, vpa_vf_token(self->vf.fd, VFIO_DEVICE_FEATURE_SET, TOKEN_A));
}

TEST_F_TIMEOUT(sriov, pf_needs_the_token_while_a_vf_is_open, 60)
{
	int fd;

	ASSERT_EQ(0, open_vf(self, TOKEN_A));
	/* A second open of the PF, through the group we hold. */
	ASSERT_EQ(-EACCES, vpa_group_device_fd(self->pf.group, pf_bdf, NULL));
	ASSERT_EQ(-EACCES, vpa_group_device_fd(self->pf.group, pf_bdf, TOKEN_B));
	fd = vpa_group_device_fd(self->pf.group, pf_bdf, TOKEN_A);
	ASSERT_LE(0, fd);
	close(fd);
	/* No VF user, no token needed. */
	close_vf(self);
	fd = vpa_group_device_fd(self->pf.group, pf_bdf, NULL);
	ASSERT_LE(0, fd);
	close(fd);
}

TEST_F_TIMEOUT(sriov, pf_open_with_a_token_sets_it, 60)
{
	int fd;

	/* Without VF users, a token given at the PF's open replaces the token. */
	fd = vpa_group_device_fd(self->pf.group, pf_bdf, TOKEN_B);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(-EACCES, open_vf(self, TOKEN_A));
	ASSERT_EQ(0, open_vf(self, TOKEN_B));
}

TEST_F_TIMEOUT(sriov, set_token_replaces_it, 60)
{
	ASSERT_EQ(0, vpa_vf_token(self->pf.fd, VFIO_DEVICE_FEATURE_SET, TOKEN_B));
	ASSERT_EQ(-EACCES, open_vf(self, TOKEN_A));
	ASSERT_EQ(0, open_vf(self, TOKEN_B));
}

TEST_F_TIMEOUT(sriov, token_outlives_the_pf_user, 60)
{
	vpa_close(&self->pf);
	self->pf_open = false;
	ASSERT_EQ(-EACCES, open_vf(self, NULL));
	ASSERT_EQ(-EACCES, open_vf(self, TOKEN_B));
	ASSERT_EQ(0, open_vf(self, TOKEN_A));
}

TEST_F_TIMEOUT(sriov, token_feature_is_set_only, 60)
{
	int fd = self->pf.fd;

	ASSERT_EQ(0, vpa_vf_token(fd, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET, NULL));
	/* No GET: it would show the token of the previous user. */
	ASSERT_EQ(-EINVAL, vpa_vf_token(fd, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET, NULL));
	ASSERT_EQ(-EINVAL, vpa_vf_token(fd, VFIO_DEVICE_FEATURE_GET, TOKEN_A));
	/* SET needs the 16 bytes. */
	ASSERT_EQ(-EINVAL, vpa_vf_token(fd, VFIO_DEVICE_FEATURE_SET, NULL));
	/* None of these changed the token. */
	ASSERT_EQ(0, open_vf(self, TOKEN_A));
}

TEST_F_TIMEOUT(sriov, malformed_vf_token_is_rejected, 60)
{
	ASSERT_EQ(-EINVAL, open_vf(self, "4f1c2a9e"));
	ASSERT_EQ(-EINVAL, open_vf(self, "zf1c2a9e-7b3d-4e15-a0c6-5d8e9f201b37"));
	ASSERT_EQ(-EINVAL, open_vf(self, TOKEN_A " extra"));
	ASSERT_EQ(-EINVAL, open_vf(self, TOKEN_A " vf_token=" TOKEN_A));
	ASSERT_EQ(0, open_vf(self, TOKEN_A " "));
}

TEST_F_TIMEOUT(sriov, cdev_bind_needs_the_pf_token, 60)
{
	char path[PATH_MAX];
	int iommufd, fd;

	if (cdev_path(self->vf_bdf, path, sizeof(path)))
		SKIP(return, "VF %s has no vfio cdev (no-IOMMU mode?)", self->vf_bdf);
	iommufd = open("/dev/iommu", O_RDWR);
	if (iommufd < 0)
		SKIP(return, "no /dev/iommu");
	fd = open(path, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EACCES, bind_iommufd(fd, iommufd, NULL));
	EXPECT_EQ(-EACCES, bind_iommufd(fd, iommufd, TOKEN_B));
	EXPECT_EQ(0, bind_iommufd(fd, iommufd, TOKEN_A));
	close(fd);
	close(iommufd);
}

/* The PF, closed, without VFs; left without VFs and with enable_sriov=Y. */
FIXTURE(pf) {
};

FIXTURE_SETUP(pf)
{
	VPA_NEED(VPA_IGB);
	if (dev_int(pf_bdf, "sriov_totalvfs") <= 0)
		SKIP(return, "%s cannot do SR-IOV", pf_bdf);
	ASSERT_EQ(0, vfs_off(pf_bdf));
}

FIXTURE_TEARDOWN(pf)
{
	EXPECT_EQ(0, vfs_off(pf_bdf));
	EXPECT_EQ(0, set_enable_sriov(true));
}

/* As vfio-pci: without enable_sriov, sriov_numvfs is refused both ways. */
TEST_F_TIMEOUT(pf, sriov_numvfs_needs_enable_sriov, 60)
{
	struct vpa_dev pf;

	ASSERT_EQ(0, set_enable_sriov(false));
	EXPECT_EQ(-ENOENT, set_numvfs(pf_bdf, 1));
	EXPECT_EQ(0, dev_int(pf_bdf, "sriov_numvfs"));
	/* Whether or not the PF is open. */
	ASSERT_EQ(0, vpa_open(pf_bdf, &pf));
	EXPECT_EQ(-ENOENT, set_numvfs(pf_bdf, 1));
	vpa_close(&pf);
	EXPECT_EQ(0, dev_int(pf_bdf, "sriov_numvfs"));

	/* Enabled with Y; then N refuses to disable them too. */
	ASSERT_EQ(0, set_enable_sriov(true));
	ASSERT_EQ(0, set_numvfs(pf_bdf, 1));
	ASSERT_EQ(0, set_enable_sriov(false));
	EXPECT_EQ(-ENOENT, set_numvfs(pf_bdf, 0));
	EXPECT_EQ(1, dev_int(pf_bdf, "sriov_numvfs"));
	ASSERT_EQ(0, set_enable_sriov(true));
	EXPECT_EQ(0, set_numvfs(pf_bdf, 0));
	EXPECT_EQ(0, dev_int(pf_bdf, "sriov_numvfs"));
}

/* A device without SR-IOV has no VF token, and refuses one at open. */
TEST(vf_token_on_a_device_without_sriov)
{
	const char *edu = vpa_bdf(VPA_EDU);
	struct vpa_dev d;

	VPA_NEED(VPA_EDU);
	ASSERT_EQ(-EINVAL, vpa_open_token(edu, TOKEN_A, &d));
	ASSERT_EQ(0, vpa_open(edu, &d));
	EXPECT_EQ(-ENOTTY, vpa_vf_token(d.fd, VFIO_DEVICE_FEATURE_PROBE |
					VFIO_DEVICE_FEATURE_SET, NULL));
	EXPECT_EQ(-ENOTTY, vpa_vf_token(d.fd, VFIO_DEVICE_FEATURE_SET, TOKEN_A));
	vpa_close(&d);
}

/* Whatever happened: no VF left behind, enable_sriov as it was found. */
static void restore(void)
{
	if (getpid() != main_pid)
		return;
	if (*pf_bdf && dev_int(pf_bdf, "sriov_numvfs") > 0 && vfs_off(pf_bdf))
		fprintf(stderr, "# could not remove the VFs of %s\n", pf_bdf);
	if (*enable_sriov_saved)
		vpa_sysfs_write(ENABLE_SRIOV, enable_sriov_saved);
}

int main(int argc, char **argv)
{
	vpa_take_bdfs(&argc, argv);
	pf_bdf = vpa_bdf(VPA_IGB);
	main_pid = getpid();
	if (vpa_sysfs_read(ENABLE_SRIOV, enable_sriov_saved, sizeof(enable_sriov_saved)))
		enable_sriov_saved[0] = 0;
	if (atexit(restore))
		return KSFT_FAIL;
	/* The fixtures set it again; this is for anything in between. */
	set_enable_sriov(true);
	return test_harness_run(argc, argv);
}
