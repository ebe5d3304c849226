#include "daemon/underlay.h"

#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"

/* The interface of the IPv4 default route, from this netns' /proc/net/route. */
static int default_route_iface(char name[IF_NAMESIZE])
{
	char line[512], ifn[64];
	unsigned dest, gw, flags, mask;
	int ret = -ENOENT;
	FILE *f;

	f = fopen("/proc/net/route", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %x %x %x %*d %*d %*d %x", ifn, &dest, &gw, &flags, &mask) !=
		    5)
			continue;
		if (dest == 0 && mask == 0 && (flags & 1 /* RTF_UP */)) {
			ret = str_copy(name, IF_NAMESIZE, ifn);
			break;
		}
	}
	fclose(f);
	return ret;
}

static uint32_t sa_addr(const struct sockaddr *sa)
{
	return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
}

/* The first IPv4 entry on name (any name when NULL) holding addr (any
 * address when NULL). */
static const struct ifaddrs *find_v4(const struct ifaddrs *ifa, const char *name,
				     const uint32_t *addr)
{
	for (const struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		if (name && strcmp(name, i->ifa_name))
			continue;
		if (addr && sa_addr(i->ifa_addr) != *addr)
			continue;
		return i;
	}
	return NULL;
}

static int iface_mtu(const char *name, unsigned *mtu)
{
	struct ifreq ifr = {0};
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		ret = -errno;
	else
		*mtu = (unsigned)ifr.ifr_mtu;
	close(fd);
	return ret;
}

/* The interface name and address from the options (see underlay.h). */
static int pick(const struct ifaddrs *ifa, const char *iface, const char *public_ip,
		struct underlay *u, char *err, size_t errlen)
{
	const struct ifaddrs *e;
	uint32_t addr;

	if (iface && ip4_parse_addr(iface, &addr) == 0) {
		e = find_v4(ifa, NULL, &addr);
		if (!e) {
			snprintf(err, errlen, "--iface %s: no interface has this address", iface);
			return -ENODEV;
		}
	} else if (iface) {
		e = find_v4(ifa, iface, NULL);
		if (!e) {
			snprintf(err, errlen, "--iface %s: no such interface with an IPv4 address",
				 iface);
			return -ENODEV;
		}
	} else if (public_ip) {
		ip4_parse_addr(public_ip, &addr);
		/* The interface holding the address, if any, else the default route's. */
		e = find_v4(ifa, NULL, &addr);
		if (!e && default_route_iface(u->iface) < 0) {
			snprintf(err, errlen,
				 "--public-ip %s is on no interface and there is no default "
				 "route; use --iface",
				 public_ip);
			return -ENODEV;
		}
	} else {
		e = default_route_iface(u->iface) < 0 ? NULL : find_v4(ifa, u->iface, NULL);
		if (!e) {
			snprintf(err, errlen,
				 "cannot find the underlay: no IPv4 default route (or its "
				 "interface has no address); use --iface or --public-ip");
			return -ENODEV;
		}
	}
	if (e) {
		str_copy(u->iface, sizeof(u->iface), e->ifa_name);
		u->public_ip = sa_addr(e->ifa_addr);
	}
	if (public_ip)
		ip4_parse_addr(public_ip, &u->public_ip);
	return 0;
}

int underlay_detect(const char *iface, const char *public_ip, struct underlay *out, char *err,
		    size_t errlen)
{
	struct underlay u = {0};
	const struct ifaddrs *e;
	struct ifaddrs *ifa;
	int ret;

	if (getifaddrs(&ifa) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot list the interfaces: %s", strerror(-ret));
		return ret;
	}
	ret = pick(ifa, iface, public_ip, &u, err, errlen);
	if (ret < 0)
		goto out;
	e = find_v4(ifa, u.iface, &u.public_ip);
	if (e && e->ifa_netmask) {
		uint32_t mask = sa_addr(e->ifa_netmask);

		u.net.prefix = (uint8_t)__builtin_popcount(mask);
		u.net.addr = u.public_ip & mask;
	}
	u.ifindex = (int)if_nametoindex(u.iface);
	ret = iface_mtu(u.iface, &u.mtu);
	if (ret < 0) {
		snprintf(err, errlen, "cannot read the MTU of %s: %s", u.iface, strerror(-ret));
		goto out;
	}
	*out = u;
out:
	freeifaddrs(ifa);
	return ret;
}

/* ------------------------------------------------------------------ IPv6 */

#define IF_INET6_PATH	  "/proc/net/if_inet6"
#define SCOPE_GLOBAL	  0x00
#define IFA_F_DADFAILED_  0x08
#define IFA_F_DEPRECATED_ 0x20
#define IFA_F_TENTATIVE_  0x40

int underlay_inet6_line(const char *line, struct in6_addr *a, char ifname[IF_NAMESIZE],
			unsigned *scope, unsigned *flags)
{
	char hex[33], ifn[IF_NAMESIZE + 1];
	unsigned idx, plen;

	if (sscanf(line, "%32s %x %x %x %x %16s", hex, &idx, &plen, scope, flags, ifn) != 6 ||
	    strlen(hex) != 32 || strlen(ifn) >= IF_NAMESIZE)
		return -EINVAL;
	for (int i = 0; i < 16; i++) {
		char byte[3] = {hex[2 * i], hex[2 * i + 1], 0}, *end;
		unsigned long v = strtoul(byte, &end, 16);

		if (*end || !isxdigit((unsigned char)byte[0]) || !isxdigit((unsigned char)byte[1]))
			return -EINVAL;
		a->s6_addr[i] = (uint8_t)v;
	}
	str_copy(ifname, IF_NAMESIZE, ifn);
	return 0;
}

/* True when addr on ifname is global, neither tentative, deprecated nor
 * failed duplicate address detection, as /proc/net/if_inet6 (this netns)
 * says. */
static bool inet6_good(const char *ifname, const struct in6_addr *addr)
{
	char line[256], ifn[IF_NAMESIZE];
	unsigned scope, flags;
	struct in6_addr a;
	bool good = false;
	FILE *f = fopen(IF_INET6_PATH, "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (underlay_inet6_line(line, &a, ifn, &scope, &flags) < 0 || strcmp(ifn, ifname) ||
		    !ip6_addr_equal(&a, addr))
			continue;
		good = scope == SCOPE_GLOBAL &&
		       !(flags & (IFA_F_TENTATIVE_ | IFA_F_DEPRECATED_ | IFA_F_DADFAILED_));
		break;
	}
	fclose(f);
	return good;
}

void underlay_detect_ipv6(const char *public_ipv6, struct underlay *u)
{
	struct ifaddrs *ifa;

	u->has_public_ipv6 = false;
	if (public_ipv6) {
		u->has_public_ipv6 = ip6_parse_addr(public_ipv6, &u->public_ipv6) == 0;
		return;
	}
	if (getifaddrs(&ifa) < 0)
		return;
	/* getifaddrs keeps the kernel's order of the interface's addresses. */
	for (const struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		const struct in6_addr *a;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6 ||
		    strcmp(i->ifa_name, u->iface))
			continue;
		a = &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		if (!ip6_addr_usable(a) || !inet6_good(u->iface, a))
			continue;
		u->public_ipv6 = *a;
		u->has_public_ipv6 = true;
		break;
	}
	freeifaddrs(ifa);
}
