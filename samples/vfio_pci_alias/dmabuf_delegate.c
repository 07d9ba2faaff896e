// SPDX-License-Identifier: GPL-2.0
/*
 * dmabuf_delegate: a primary process hands a client process some pages of a
 * BAR as a DMABUF, and takes them back.
 *
 *   dmabuf_delegate /dev/vfio/devices/vfioN [BAR [OFFSET [LENGTH [wc]]]]
 *
 * The primary owns the device fd (opened through its vfio cdev and bound to
 * iommufd). The client is forked before that, so it never holds the device
 * fd; all it gets is the DMABUF fd, over a unix socket. Steps:
 *
 *   1. primary: VFIO_DEVICE_FEATURE_DMA_BUF of [OFFSET, OFFSET + LENGTH) of
 *      the BAR (Linux 7.3's uAPI); with "wc", DMA_BUF_MEMATTR WC on it;
 *   2. primary: sends the DMABUF fd to the client (SCM_RIGHTS);
 *   3. client: mmap()s the DMABUF, stores a counter in each page and reads
 *      it back, and finds that nothing past the range maps;
 *   4. primary: DMA_BUF_REVOKE; the client's next access gets SIGBUS, which
 *      it reports before it exits.
 *
 * The feature numbers of REVOKE and MEMATTR are read from the module's
 * parameters, as the uAPI header asks.
 *
 * Build: cc -static -I<uapi headers> -I<repo>/include/uapi -o dmabuf_delegate dmabuf_delegate.c
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_alias.h>

#define PAGE 4096UL

static int die(const char *who, const char *what)
{
	fprintf(stderr, "dmabuf_delegate: %s: %s: %s\n", who, what, strerror(errno));
	exit(1);
}

/* Opens the vfio cdev and attaches it to a fresh IOAS of a new iommufd. */
static int open_cdev(const char *path)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	int fd = open(path, O_RDWR), iommufd = open("/dev/iommu", O_RDWR);

	if (fd < 0 || iommufd < 0)
		die("primary", "open");
	bind.iommufd = iommufd;
	if (ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		die("primary", "VFIO_DEVICE_BIND_IOMMUFD");
	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas))
		die("primary", "IOMMU_IOAS_ALLOC");
	attach.pt_id = ioas.out_ioas_id;
	if (ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		die("primary", "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	return fd;
}

/* The feature number in module parameter @name, or @dflt. */
static unsigned int feature_number(const char *name, unsigned int dflt)
{
	const char *mods[] = { "vfio_pci_alias", "vfio_pci" };
	unsigned int nr = dflt, i;
	char path[128];
	FILE *f;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", mods[i], name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%u", &nr) != 1)
			nr = dflt;
		fclose(f);
		return nr;
	}
	fprintf(stderr, "dmabuf_delegate: no parameter %s, assuming %#x\n", name, dflt);
	return nr;
}

/* VFIO_DEVICE_FEATURE @nr with @flags and @len bytes at @data. */
static int feature(int fd, uint32_t nr, uint32_t flags, void *data, size_t len)
{
	struct vfio_device_feature *f = calloc(1, sizeof(*f) + len);
	int ret;

	if (!f)
		return -1;
	f->argsz = sizeof(*f) + len;
	f->flags = flags | nr;
	memcpy(f->data, data, len);
	ret = ioctl(fd, VFIO_DEVICE_FEATURE, f);
	memcpy(data, f->data, len);
	free(f);
	return ret;
}

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/* The client: maps the DMABUF it is given and uses it until it is revoked. */
static int client(int sock, size_t len)
{
	char c, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct sigaction sa = { .sa_handler = on_sigbus };
	volatile uint32_t *p;
	struct cmsghdr *cm;
	size_t i;
	int buf;

	if (recvmsg(sock, &msg, 0) != 1 || !(cm = CMSG_FIRSTHDR(&msg)))
		die("client", "recvmsg");
	memcpy(&buf, CMSG_DATA(cm), sizeof(int));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
	if (p == MAP_FAILED)
		die("client", "mmap of the DMABUF");
	for (i = 0; i < len / PAGE; i++)
		p[i * PAGE / 4] = 0xc0de0000 | i;
	for (i = 0; i < len / PAGE; i++)
		if (p[i * PAGE / 4] != (0xc0de0000 | i)) {
			fprintf(stderr, "dmabuf_delegate: client: page %zu reads %#x\n", i,
				p[i * PAGE / 4]);
			return 1;
		}
	printf("client: wrote and read back %zu pages through the DMABUF\n", len / PAGE);
	if (mmap(NULL, len + PAGE, PROT_READ, MAP_SHARED, buf, 0) == MAP_FAILED)
		printf("client: a mapping past the range is refused (%s)\n", strerror(errno));
	fflush(stdout);
	/* Tell the primary, and wait for the revoke. */
	if (write(sock, "u", 1) != 1 || read(sock, &c, 1) != 1)
		die("client", "socket");
	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(bus_jmp, 1)) {
		printf("client: SIGBUS after the revoke\n");
		return 0;
	}
	p[0] = 1;
	printf("client: still mapped after the revoke\n");
	return 1;
}

int main(int argc, char **argv)
{
	uint32_t bar = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
	uint64_t off = argc > 3 ? strtoull(argv[3], NULL, 0) : 0;
	uint64_t len = argc > 4 ? strtoull(argv[4], NULL, 0) : PAGE;
	int wc = argc > 5 && !strcmp(argv[5], "wc");
	struct {
		struct vfio_device_feature_dma_buf hdr;
		struct vfio_region_dma_range range;
	} exp = {
		.hdr = { .region_index = bar, .open_flags = O_RDWR | O_CLOEXEC, .nr_ranges = 1 },
		.range = { .offset = off, .length = len },
	};
	struct vfio_device_feature_dma_buf_memattr attr = {
		.memattr = VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC,
	};
	struct vfio_device_feature_dma_buf_revoke rev;
	int sv[2], fd, buf, status;
	char c, ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = "F", .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: %s /dev/vfio/devices/vfioN [BAR [OFFSET [LENGTH [wc]]]]\n",
			argv[0]);
		return 2;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("primary", "socketpair");
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid = fork();
	if (pid < 0)
		die("primary", "fork");
	if (pid == 0) {
		close(sv[0]);
		_exit(client(sv[1], len));
	}
	close(sv[1]);

	fd = open_cdev(argv[1]);
	buf = feature(fd, VFIO_DEVICE_FEATURE_DMA_BUF, VFIO_DEVICE_FEATURE_GET, &exp, sizeof(exp));
	if (buf < 0)
		die("primary", "VFIO_DEVICE_FEATURE_DMA_BUF");
	printf("primary: DMABUF fd %d of BAR %u [%#" PRIx64 ", %#" PRIx64 ")\n", buf, bar, off,
	       off + len);
	if (wc) {
		attr.dmabuf_fd = buf;
		if (feature(fd, feature_number("dma_buf_memattr_feature",
					       VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR),
			    VFIO_DEVICE_FEATURE_SET, &attr, sizeof(attr)))
			die("primary", "DMA_BUF_MEMATTR WC");
		printf("primary: memory attribute WC\n");
	}
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &buf, sizeof(int));
	if (sendmsg(sv[0], &msg, 0) != 1)
		die("primary", "sendmsg");
	if (read(sv[0], &c, 1) != 1)
		die("primary", "the client ended early");
	rev.dmabuf_fd = buf;
	if (feature(fd, feature_number("dma_buf_revoke_feature", VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE),
		    VFIO_DEVICE_FEATURE_SET, &rev, sizeof(rev)))
		die("primary", "DMA_BUF_REVOKE");
	printf("primary: revoked\n");
	if (write(sv[0], "r", 1) != 1)
		die("primary", "socket");
	if (waitpid(pid, &status, 0) != pid)
		die("primary", "waitpid");
	close(buf);
	close(fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
