// SPDX-License-Identifier: GPL-2.0
/*
 * vpa_dpdk: the distribution's DPDK (Debian bookworm, 22.11, ABI 23)
 * driving devices in the test guest through vfio-pci.
 *
 *   vpa_dpdk [EAL args] -- igb [--frames N] [--expect-ports N]
 *   vpa_dpdk [EAL args] -- ivshmem [--bar N] --expect wc|uc
 *                                  [--expect-probe 0|1] [--cat FILE]
 *                                  [--offset BYTES] [--seed N]
 *
 * igb: DPDK's e1000 PMD (net_e1000_igb, loaded with -d) drives QEMU's igb:
 * port 0 gets one rx and one tx queue, is started, sends N broadcast frames
 * (ARP requests for QEMU's user-mode gateway) in bursts; the port's
 * counters (rte_eth_stats_get) are printed as
 *   VPA-DPDK: igb ports=1 opackets=... obytes=... oerrors=... ipackets=...
 * Exit 0 if a port was found and opackets > 0. With --expect-ports N
 * (e.g. 0: the device is bound to a driver DPDK does not know), exit 0
 * only if DPDK found exactly N ports, and send nothing.
 *
 * ivshmem: a PCI driver of our own (vendor 0x1af4, device 0x1110,
 * RTE_PCI_DRV_NEED_MAPPING) is registered with DPDK's PCI bus, so that
 * DPDK's VFIO code maps the BARs (a plain mmap of each BAR's region) before
 * our probe runs. The probe writes 1 MiB of a xorshift32 stream (seed
 * --seed) into BAR N (default 2) at --offset (default 1 MiB), fences, reads
 * it back, prints "VPA-HOSTCHECK: ivshmem OFF LEN SEED" for the host to
 * compare with QEMU's backing file, and reads
 * how DPDK's mapping is cached: the PTE's PWT/PCD bits and the BAR's PAT
 * memtype (vpa_pgtable.h, as wc_test does):
 *   VPA-DPDK: ivshmem bar2 addr=0x... pte=WC pat=write-combining ...
 * --expect wc wants PWT without PCD and "write-combining", uc wants PCD and
 * "uncached-minus". Exit 0 iff the device was probed (or, with
 * --expect-probe 0, was not), the data read back and the mapping is as
 * expected. --cat FILE prints FILE (the drop-in's debugfs view of the BARs)
 * from the probe, while DPDK has the BARs mapped.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pci.h>
#include <rte_version.h>

#include "vpa_pgtable.h"

#define PFX "VPA-DPDK: "

/*
 * Our own PCI driver needs struct rte_pci_driver and struct rte_pci_device,
 * which DPDK keeps in its driver SDK header (bus_pci_driver.h); Debian does
 * not install that. The layouts below are ABI 23's (DPDK 22.11), written
 * from the library itself: the offsets were read from Debian's
 * librte_eal.so.23 (rte_dev_name() and the other rte_device accessors) and
 * librte_bus_pci.so.23.0 (its match, probe and cleanup code), and each
 * field the bus uses is pinned by a _Static_assert below. main() refuses
 * any DPDK other than 22.11, and the probe checks the device it is handed
 * against the public accessors before it trusts anything else in it.
 */
struct vpa_tailq_link {			/* RTE_TAILQ_ENTRY() */
	void *next;
	void **prev;
};

struct vpa_rte_driver {			/* struct rte_driver */
	struct vpa_tailq_link link;
	const char *name;
	const char *alias;
};

struct vpa_rte_device {			/* struct rte_device */
	struct vpa_tailq_link link;
	const char *name;		/* rte_dev_name() */
	const char *bus_info;		/* rte_dev_bus_info() */
	const void *driver;		/* rte_dev_driver() */
	const void *bus;		/* rte_dev_bus() */
	int numa_node;			/* rte_dev_numa_node() */
	void *devargs;			/* rte_dev_devargs() */
};

struct vpa_pci_driver;

struct vpa_pci_device {			/* struct rte_pci_device (the part we read) */
	struct vpa_tailq_link link;
	struct vpa_rte_device device;
	struct rte_pci_addr addr;
	struct rte_pci_id id;
	struct rte_mem_resource mem_resource[PCI_MAX_RESOURCE];
	void *intr_handle;
	struct vpa_pci_driver *driver;
	uint16_t max_vfs;
	int kdrv;
	char name[PCI_PRI_STR_SIZE + 1];
};

struct vpa_pci_driver {			/* struct rte_pci_driver */
	struct vpa_tailq_link link;
	struct vpa_rte_driver driver;
	int (*probe)(struct vpa_pci_driver *drv, struct vpa_pci_device *dev);
	int (*remove)(struct vpa_pci_device *dev);
	void *dma_map;
	void *dma_unmap;
	const struct rte_pci_id *id_table;
	uint32_t drv_flags;
};

#define VPA_PCI_DRV_NEED_MAPPING 0x0001	/* RTE_PCI_DRV_NEED_MAPPING */

_Static_assert(offsetof(struct vpa_rte_device, name) == 0x10, "rte_device.name");
_Static_assert(offsetof(struct vpa_rte_device, devargs) == 0x38, "rte_device.devargs");
_Static_assert(sizeof(struct vpa_rte_device) == 0x40, "sizeof(rte_device)");
_Static_assert(offsetof(struct vpa_pci_device, device) == 0x10, "rte_pci_device.device");
_Static_assert(offsetof(struct vpa_pci_device, addr) == 0x50, "rte_pci_device.addr");
_Static_assert(offsetof(struct vpa_pci_device, id) == 0x58, "rte_pci_device.id");
_Static_assert(offsetof(struct vpa_pci_device, mem_resource) == 0x68, "rte_pci_device.mem_resource");
_Static_assert(offsetof(struct vpa_pci_device, intr_handle) == 0xf8, "rte_pci_device.intr_handle");
_Static_assert(offsetof(struct vpa_pci_device, driver) == 0x100, "rte_pci_device.driver");
_Static_assert(offsetof(struct vpa_pci_device, name) == 0x110, "rte_pci_device.name");
_Static_assert(offsetof(struct vpa_pci_driver, driver.name) == 0x20, "rte_pci_driver.driver.name");
_Static_assert(offsetof(struct vpa_pci_driver, probe) == 0x30, "rte_pci_driver.probe");
_Static_assert(offsetof(struct vpa_pci_driver, remove) == 0x38, "rte_pci_driver.remove");
_Static_assert(offsetof(struct vpa_pci_driver, id_table) == 0x50, "rte_pci_driver.id_table");
_Static_assert(offsetof(struct vpa_pci_driver, drv_flags) == 0x58, "rte_pci_driver.drv_flags");

/* Exported by librte_bus_pci.so.23 (symbol version INTERNAL). */
void rte_pci_register(struct vpa_pci_driver *driver);
void rte_pci_unregister(struct vpa_pci_driver *driver);

static const char *prog = "vpa_dpdk";

static void usage(void)
{
	fprintf(stderr,
		"usage: %s [EAL args] -- igb [--frames N] [--expect-ports N]\n"
		"       %s [EAL args] -- ivshmem [--bar N] --expect wc|uc [--expect-probe 0|1]\n"
		"                                [--cat FILE] [--offset BYTES] [--seed N]\n",
		prog, prog);
	exit(2);
}

static long number(const char *opt, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "%s: bad number for %s: %s\n", prog, opt, s);
		usage();
	}
	return v;
}

/* ---------------------------------------------------------------- igb -- */

#define BURST 32
#define NB_DESC 256
#define NB_MBUFS 1023

/* QEMU's user-mode network: the guest's address and the gateway's. */
static const uint8_t GUEST_IP[4] = { 10, 0, 2, 15 };
static const uint8_t GATEWAY_IP[4] = { 10, 0, 2, 2 };

/* A broadcast ARP request "who has 10.0.2.2", padded to 60 bytes. */
static struct rte_mbuf *arp_request(struct rte_mempool *pool,
				    const struct rte_ether_addr *mac)
{
	const size_t len = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;
	char *p;

	if (!m)
		return NULL;
	p = rte_pktmbuf_append(m, len);
	if (!p) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(p, 0, len);
	eth = (struct rte_ether_hdr *)p;
	memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	rte_ether_addr_copy(mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp = (struct rte_arp_hdr *)(eth + 1);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(mac, &arp->arp_data.arp_sha);
	memcpy(&arp->arp_data.arp_sip, GUEST_IP, 4);
	memcpy(&arp->arp_data.arp_tip, GATEWAY_IP, 4);
	return m;
}

/* Prints the port's counters; returns opackets (0 if unreadable). */
static uint64_t print_stats(uint16_t nports, uint16_t port, unsigned int sent,
			    unsigned int received)
{
	struct rte_eth_stats st;
	int ret = rte_eth_stats_get(port, &st);

	if (ret) {
		printf(PFX "igb ports=%u rte_eth_stats_get: %d\n", nports, ret);
		return 0;
	}
	printf(PFX "igb ports=%u opackets=%" PRIu64 " obytes=%" PRIu64 " oerrors=%" PRIu64
	       " ipackets=%" PRIu64 " ibytes=%" PRIu64 " ierrors=%" PRIu64 " imissed=%" PRIu64
	       " rx_nombuf=%" PRIu64 " tx_burst_sent=%u rx_burst_received=%u\n",
	       nports, st.opackets, st.obytes, st.oerrors, st.ipackets, st.ibytes,
	       st.ierrors, st.imissed, st.rx_nombuf, sent, received);
	return st.opackets;
}

/* Waits up to @ms for the link to come up; returns the last link state. */
static struct rte_eth_link wait_link(uint16_t port, unsigned int ms)
{
	struct rte_eth_link link = { 0 };
	unsigned int t;

	for (t = 0; t <= ms; t += 100) {
		if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status)
			break;
		rte_delay_ms(100);
	}
	return link;
}

static int port_setup(uint16_t port, struct rte_mempool *pool)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nb_rxd = NB_DESC, nb_txd = NB_DESC;
	int ret, socket = rte_eth_dev_socket_id(port);

	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_info_get(port, &info);
	if (ret)
		return ret;
	printf(PFX "igb port %u driver %s\n", port, info.driver_name);
	ret = rte_eth_dev_configure(port, 1, 1, &conf);
	if (ret) {
		printf(PFX "rte_eth_dev_configure: %d\n", ret);
		return ret;
	}
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	if (ret)
		return ret;
	if (socket < 0)
		socket = SOCKET_ID_ANY;
	ret = rte_eth_rx_queue_setup(port, 0, nb_rxd, socket, NULL, pool);
	if (ret) {
		printf(PFX "rte_eth_rx_queue_setup: %d\n", ret);
		return ret;
	}
	ret = rte_eth_tx_queue_setup(port, 0, nb_txd, socket, NULL);
	if (ret) {
		printf(PFX "rte_eth_tx_queue_setup: %d\n", ret);
		return ret;
	}
	ret = rte_eth_dev_start(port);
	if (ret)
		printf(PFX "rte_eth_dev_start: %d\n", ret);
	return ret;
}

/* Sends @frames frames in bursts of BURST; returns the number accepted. */
static unsigned int transmit(uint16_t port, struct rte_mempool *pool,
			     const struct rte_ether_addr *mac, unsigned int frames,
			     unsigned int *received)
{
	struct rte_mbuf *tx[BURST], *rx[BURST];
	unsigned int sent = 0, n, i, tries = 0;
	uint16_t done, got;

	while (sent < frames && tries < 1000) {
		n = RTE_MIN(frames - sent, (unsigned int)BURST);
		for (i = 0; i < n; i++) {
			tx[i] = arp_request(pool, mac);
			if (!tx[i])
				break;
		}
		n = i;
		done = n ? rte_eth_tx_burst(port, 0, tx, n) : 0;
		for (i = done; i < n; i++)
			rte_pktmbuf_free(tx[i]);
		sent += done;
		if (done < n || !n) {
			tries++;
			rte_delay_ms(1);
		}
		/* Whatever came back (the gateway's ARP replies). */
		while ((got = rte_eth_rx_burst(port, 0, rx, BURST)) > 0) {
			*received += got;
			for (i = 0; i < got; i++)
				rte_pktmbuf_free(rx[i]);
		}
	}
	return sent;
}

static int cmd_igb(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frames", required_argument, NULL, 'f' },
		{ "expect-ports", required_argument, NULL, 'p' },
		{ 0 }
	};
	long frames = 160, expect_ports = -1;
	unsigned int sent, received = 0;
	struct rte_eth_stats st;
	struct rte_eth_link link;
	struct rte_ether_addr mac;
	struct rte_mempool *pool;
	uint16_t nports, port;
	int c, ok, t;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': frames = number("--frames", optarg); break;
		case 'p': expect_ports = number("--expect-ports", optarg); break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	nports = rte_eth_dev_count_avail();
	if (expect_ports >= 0) {
		ok = nports == expect_ports;
		printf(PFX "igb ports=%u expected=%ld: %s\n", nports, expect_ports,
		       ok ? "ok" : "FAIL");
		return ok ? 0 : 1;
	}
	if (nports < 1) {
		printf(PFX "igb ports=0: DPDK found no port\n");
		return 1;
	}
	RTE_ETH_FOREACH_DEV(port)
		break;

	pool = rte_pktmbuf_pool_create("vpa_mbufs", NB_MBUFS, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (!pool) {
		printf(PFX "rte_pktmbuf_pool_create: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (port_setup(port, pool))
		return 1;
	rte_eth_macaddr_get(port, &mac);
	link = wait_link(port, 5000);
	printf(PFX "igb port %u mac " RTE_ETHER_ADDR_PRT_FMT " link %s %u Mbps %s-duplex\n",
	       port, RTE_ETHER_ADDR_BYTES(&mac), link.link_status ? "up" : "down",
	       link.link_speed, link.link_duplex ? "full" : "half");
	rte_eth_stats_reset(port);

	sent = transmit(port, pool, &mac, frames, &received);
	/* The counters are the device's registers: give it time to post them. */
	for (t = 0; t < 20; t++) {
		if (rte_eth_stats_get(port, &st) == 0 && st.opackets >= sent)
			break;
		rte_delay_ms(50);
	}
	ok = print_stats(nports, port, sent, received) > 0;
	printf(PFX "igb tx %s (%u of %ld frames accepted by the PMD)\n",
	       ok ? "ok" : "FAIL: no packet counted", sent, frames);

	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_mempool_free(pool);
	return ok ? 0 : 1;
}

/* ------------------------------------------------------------ ivshmem -- */

#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110
#define PATTERN_LEN (1UL << 20)

static struct {
	int bar;
	unsigned long offset;		/* of the pattern in the BAR */
	uint32_t seed;
	const char *expect;		/* "wc" or "uc" */
	const char *cat;		/* file to show while mapped */
	int probed;			/* number of devices probed */
	int ok;				/* all checks of the last probe passed */
} iv = { .bar = 2, .offset = 1UL << 20, .seed = 0xd9d4c0de };

/* The device DPDK hands us must look like what the public API says it is. */
static int sane_device(struct vpa_pci_driver *drv, struct vpa_pci_device *dev)
{
	const struct rte_device *rd = (const struct rte_device *)&dev->device;
	const char *name = rte_dev_name(rd);

	if (!name || strcmp(name, dev->name) ||
	    dev->id.vendor_id != IVSHMEM_VENDOR || dev->id.device_id != IVSHMEM_DEVICE ||
	    dev->addr.function > 7) {
		printf(PFX "ivshmem: the rte_pci_device we were given does not match "
		       "this program's idea of DPDK 22.11's layout (name %s)\n",
		       name ? name : "(null)");
		return 0;
	}
	(void)drv;
	return 1;
}

static const char *pte_name(int bits)
{
	switch (bits) {
	case -2: return "no-ptdump";
	case -1: return "not-mapped";
	case 0: return "WB";
	case PTE_WC: return "WC";
	case PTE_UCM: return "UC-";
	default: return "UC";
	}
}

/* Prints @path, each line prefixed, or why not. */
static void show_file(const char *path)
{
	char line[256];
	FILE *f = fopen(path, "r");

	if (!f) {
		printf(PFX "ivshmem: %s: %s\n", path, strerror(errno));
		return;
	}
	printf(PFX "ivshmem: %s while DPDK has the BARs mapped:\n", path);
	while (fgets(line, sizeof(line), f))
		printf(PFX "  %s%s", line, strchr(line, '\n') ? "" : "\n");
	fclose(f);
}

static int ivshmem_probe(struct vpa_pci_driver *drv, struct vpa_pci_device *dev)
{
	struct rte_mem_resource *res;
	volatile uint32_t *bar;
	uint32_t s = iv.seed, *src, got = 0;
	size_t i, n = PATTERN_LEN / 4;
	char level[8] = "?", pat[64];
	int bits, want_bits, data_ok;
	const char *want_pat;
	uint64_t phys;

	iv.probed++;
	iv.ok = 0;
	if (!sane_device(drv, dev))
		return -1;
	if (iv.bar < 0 || iv.bar >= PCI_MAX_RESOURCE)
		return -1;
	res = &dev->mem_resource[iv.bar];
	printf(PFX "ivshmem %s probed by %s: bar%d phys=0x%" PRIx64 " len=%" PRIu64 " addr=%p\n",
	       dev->name, drv->driver.name, iv.bar, res->phys_addr, res->len, res->addr);
	if (!res->addr || res->len < iv.offset + PATTERN_LEN || iv.offset % 4096) {
		printf(PFX "ivshmem bar%d not mapped by DPDK or too small\n", iv.bar);
		return -1;
	}

	src = malloc(PATTERN_LEN);
	if (!src)
		return -1;
	for (i = 0; i < n; i++)
		src[i] = xorshift32(&s);
	bar = (volatile uint32_t *)((char *)res->addr + iv.offset);
	memcpy((void *)bar, src, PATTERN_LEN);
	__builtin_ia32_sfence();
	for (i = 0; i < n; i++) {
		got = bar[i];
		if (got != src[i])
			break;
	}
	data_ok = i == n;
	if (!data_ok)
		printf(PFX "ivshmem readback: word %zu is %#x, wrote %#x\n", i, got, src[i]);
	free(src);

	bits = pte_cache_bits((void *)bar, level);
	phys = bar_phys(dev->name, iv.bar);
	pat_type(phys, pat, sizeof(pat));
	if (!strcmp(iv.expect, "wc")) {
		want_bits = PTE_WC;
		want_pat = "write-combining";
	} else {
		want_bits = PTE_UCM;
		want_pat = "uncached-minus";
	}
	iv.ok = data_ok && bits == want_bits && !strcmp(pat, want_pat);
	printf(PFX "ivshmem bar%d addr=%p pte=%s%s%s (%s) pat=%s readback=%s expect=%s: %s\n",
	       iv.bar, (void *)bar, pte_name(bits),
	       bits > 0 && (bits & 1) ? " PWT" : "", bits > 0 && (bits & 2) ? " PCD" : "",
	       level, pat[0] ? pat : "(none)", data_ok ? "ok" : "FAIL", iv.expect,
	       iv.ok ? "ok" : "FAIL");
	if (data_ok)
		printf("VPA-HOSTCHECK: ivshmem %lu %lu %u\n", iv.offset, PATTERN_LEN, iv.seed);
	if (iv.cat)
		show_file(iv.cat);
	fflush(stdout);
	return 0;
}

static int ivshmem_remove(struct vpa_pci_device *dev)
{
	(void)dev;
	return 0;
}

static const struct rte_pci_id ivshmem_ids[] = {
	{ .class_id = RTE_CLASS_ANY_ID, .vendor_id = IVSHMEM_VENDOR,
	  .device_id = IVSHMEM_DEVICE, .subsystem_vendor_id = RTE_PCI_ANY_ID,
	  .subsystem_device_id = RTE_PCI_ANY_ID },
	{ .vendor_id = 0 },
};

static struct vpa_pci_driver ivshmem_driver = {
	.driver = { .name = "vpa_ivshmem" },
	.probe = ivshmem_probe,
	.remove = ivshmem_remove,
	.id_table = ivshmem_ids,
	.drv_flags = VPA_PCI_DRV_NEED_MAPPING,
};

/* Parses the ivshmem options; called before rte_eal_init() probes. */
static int parse_ivshmem(int argc, char **argv, long *expect_probe)
{
	static const struct option opts[] = {
		{ "bar", required_argument, NULL, 'b' },
		{ "expect", required_argument, NULL, 'e' },
		{ "expect-probe", required_argument, NULL, 'p' },
		{ "cat", required_argument, NULL, 'c' },
		{ "offset", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 's' },
		{ 0 }
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': iv.bar = number("--bar", optarg); break;
		case 'e': iv.expect = optarg; break;
		case 'p': *expect_probe = number("--expect-probe", optarg); break;
		case 'c': iv.cat = optarg; break;
		case 'o': iv.offset = number("--offset", optarg); break;
		case 's':
			if (number("--seed", optarg) > UINT32_MAX)
				usage();
			iv.seed = number("--seed", optarg);
			break;
		default: usage();
		}
	}
	if (optind != argc || !iv.expect || (strcmp(iv.expect, "wc") && strcmp(iv.expect, "uc")) ||
	    iv.bar >= PCI_MAX_RESOURCE || *expect_probe > 1 || !iv.seed)
		usage();
	return 0;
}

static int cmd_ivshmem(long expect_probe)
{
	int ok;

	if (!expect_probe) {
		ok = iv.probed == 0;
		printf(PFX "ivshmem probed=%d expected=0: %s\n", iv.probed, ok ? "ok" : "FAIL");
		return ok ? 0 : 1;
	}
	ok = iv.probed == 1 && iv.ok;
	printf(PFX "ivshmem probed=%d: %s\n", iv.probed, ok ? "ok" : "FAIL");
	return ok ? 0 : 1;
}

/* --------------------------------------------------------------- main -- */

int main(int argc, char **argv)
{
	long expect_probe = 1;
	char **cmd;
	int i, n, rc, ncmd;

	prog = argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Our arguments follow the first "--"; find them before EAL sees them. */
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		;
	if (i + 1 >= argc)
		usage();
	cmd = argv + i + 1;
	ncmd = argc - i - 1;
	if (strncmp(rte_version(), "DPDK 22.11", 10)) {
		fprintf(stderr, "%s: built for DPDK 22.11 (ABI 23), running on %s\n",
			prog, rte_version());
		return 1;
	}
	if (!strcmp(cmd[0], "ivshmem")) {
		parse_ivshmem(ncmd, cmd, &expect_probe);
		/* Before rte_eal_init(), which scans the bus and probes. */
		rte_pci_register(&ivshmem_driver);
	} else if (strcmp(cmd[0], "igb")) {
		usage();
	}

	n = rte_eal_init(i, argv);
	if (n < 0) {
		printf(PFX "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	printf(PFX "%s, IOVA as %s\n", rte_version(),
	       rte_eal_iova_mode() == RTE_IOVA_VA ? "VA" : "PA");

	if (!strcmp(cmd[0], "igb"))
		rc = cmd_igb(ncmd, cmd);
	else
		rc = cmd_ivshmem(expect_probe);
	rte_eal_cleanup();
	printf(PFX "%s exit %d\n", cmd[0], rc);
	return rc;
}
