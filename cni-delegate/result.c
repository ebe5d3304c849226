/* Result JSON per version (0.3.x/0.4.0 carry ips[].version; 1.x does not)
 * and prevResult reading. */
#include "cni-delegate/result.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void mac_str(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static json_t *iface(const char *name, const uint8_t mac[6], const char *sandbox)
{
	char m[18];

	mac_str(mac, m);
	if (sandbox)
		return json_pack("{s:s, s:s, s:s}", "name", name, "mac", m, "sandbox", sandbox);
	return json_pack("{s:s, s:s}", "name", name, "mac", m);
}

static int print_json(json_t *j)
{
	int ret;

	if (!j)
		return -ENOMEM;
	ret = json_dumpf(j, stdout, JSON_COMPACT) ? -EIO : 0;
	fputc('\n', stdout);
	json_decref(j);
	return ret;
}

/* One family's ips[] entry and route; 0.3.x/0.4.0 name the family. */
static void add_family(const struct cni_req *req, json_t *ips, json_t *routes, const char *addr,
		       const char *gw, const char *dst, const char *version)
{
	json_t *ip = json_pack("{s:i, s:s, s:s}", "interface", 2, "address", addr, "gateway", gw);

	if (ip && req->ver < VER_100)
		json_object_set_new(ip, "version", json_string(version));
	json_array_append_new(ips, ip);
	json_array_append_new(routes, json_pack("{s:s, s:s}", "dst", dst, "gw", gw));
}

static void add_v6(const struct cni_req *req, const struct attach_spec *sp, json_t *ips,
		   json_t *routes)
{
	char addr[IP6_NET_STRLEN], gw[IP6_ADDR_STRLEN], dst[IP6_NET_STRLEN];
	struct ip6_net a = {sp->addr6, sp->prefix6}, o = {sp->overlay6, sp->overlay6_prefix};

	ip6_format_net(&a, addr);
	ip6_format_addr(&sp->gateway6, gw);
	if (sp->default_gw)
		strcpy(dst, "::/0");
	else
		ip6_format_net(&o, dst);
	add_family(req, ips, routes, addr, gw, dst, "6");
}

int result_print_add(const struct cni_req *req, const struct attach_spec *sp,
		     const struct attach_macs *macs)
{
	char addr[IP4_NET_STRLEN], gw[IP4_ADDR_STRLEN], dst[IP4_NET_STRLEN];
	struct ip4_net o = ip4_net_canonical(&sp->overlay);
	json_t *ips = json_array(), *routes = json_array();

	if (!sp->v6_only) {
		ip4_format_net(&sp->addr, addr);
		ip4_format_addr(sp->gateway, gw);
		if (sp->default_gw)
			strcpy(dst, "0.0.0.0/0");
		else
			ip4_format_net(&o, dst);
		add_family(req, ips, routes, addr, gw, dst, "4");
	}
	if (sp->has_v6)
		add_v6(req, sp, ips, routes);
	return print_json(json_pack(
		"{s:s, s:[o,o,o], s:o, s:o, s:{}}", "cniVersion", req->version_str, "interfaces",
		iface(sp->bridge, macs->bridge, NULL), iface(sp->host_veth, macs->host, NULL),
		iface(sp->ifname, macs->pod, req->netns), "ips", ips, "routes", routes, "dns"));
}

void result_print_error(const struct cni_req *req, const struct cni_err *e)
{
	print_json(json_pack("{s:s, s:i, s:s, s:s}", "cniVersion", cni_req_version(req), "code",
			     e->code, "msg", e->msg, "details", e->details));
}

void result_print_version(const char *requested)
{
	json_t *list = json_array();
	const char *v = requested && cni_version_supported(requested, NULL) ? requested : "1.1.0";

	for (size_t i = 0; cni_supported_versions[i]; i++)
		json_array_append_new(list, json_string(cni_supported_versions[i]));
	print_json(json_pack("{s:s, s:o}", "cniVersion", v, "supportedVersions", list));
}

static int bad_prev(struct cni_err *e, const char *what)
{
	return cni_fail(e, CNI_ERR_CONFIG, NULL, "prevResult: %s", what);
}

/* One ips[] entry: the first address of each family counts. */
static int prev_ip(json_t *v, struct prev_result *out, struct cni_err *e)
{
	const char *a = json_string_value(json_object_get(v, "address"));
	const char *g = json_string_value(json_object_get(v, "gateway"));
	struct in6_addr gw6;
	struct ip4_net n;
	struct ip6_net n6;

	if (a && !out->has_v4 && ip4_parse_net(a, &n) == 0) {
		out->addr = n;
		if (g && ip4_parse_addr(g, &out->gateway))
			return bad_prev(e, "bad gateway");
		out->has_v4 = true;
	} else if (a && !out->has_v6 && ip6_parse_net(a, &n6) == 0) {
		if (g && ip6_parse_addr(g, &gw6))
			return bad_prev(e, "bad IPv6 gateway");
		out->addr6 = n6;
		out->has_v6 = true;
	}
	return 0;
}

static void prev_route(json_t *v, struct prev_result *out)
{
	const char *d = json_string_value(json_object_get(v, "dst"));
	const char *g = json_string_value(json_object_get(v, "gw"));
	struct attach_route r = {0};
	struct ip6_net d6;

	if (!d || out->n_routes == RESULT_MAX_ROUTES)
		return;
	if (ip4_parse_net(d, &r.dst) == 0) {
		if (g && ip4_parse_addr(g, &r.gw))
			return;
	} else if (ip6_parse_net(d, &d6) == 0) {
		d6 = ip6_net_canonical(&d6);
		r.v6 = true;
		r.dst6 = d6.addr;
		r.len6 = d6.len;
		if (g && ip6_parse_addr(g, &r.gw6))
			return;
		r.has_gw6 = g != NULL;
	} else {
		return;
	}
	out->routes[out->n_routes++] = r;
}

int result_parse_prev(json_t *prev, const char *ifname, struct prev_result *out, struct cni_err *e)
{
	json_t *ifaces = json_object_get(prev, "interfaces");
	json_t *ips = json_object_get(prev, "ips");
	json_t *routes = json_object_get(prev, "routes");
	json_t *v;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_array(ips))
		return bad_prev(e, "no \"ips\"");
	json_array_foreach(ips, i, v)
	{
		json_t *idx = json_object_get(v, "interface");

		/* Only the entries on our pod interface count, when they say. */
		if (json_is_integer(idx) && json_is_array(ifaces)) {
			json_t *it = json_array_get(ifaces, (size_t)json_integer_value(idx));
			const char *name = json_string_value(json_object_get(it, "name"));

			if (!name || strcmp(name, ifname))
				continue;
		}
		if (prev_ip(v, out, e))
			return -1;
	}
	if (!out->has_v4 && !out->has_v6)
		return bad_prev(e, "no IPv4 or IPv6 address for the pod interface");
	if (!json_is_array(routes))
		return 0;
	json_array_foreach(routes, i, v) prev_route(v, out);
	return 0;
}
