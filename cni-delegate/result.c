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

int result_print_add(const struct cni_req *req, const struct attach_spec *sp,
		     const struct attach_macs *macs)
{
	char addr[IP4_NET_STRLEN], gw[IP4_ADDR_STRLEN], dst[IP4_NET_STRLEN];
	struct ip4_net o = ip4_net_canonical(&sp->overlay);
	json_t *ip, *route;

	ip4_format_net(&sp->addr, addr);
	ip4_format_addr(sp->gateway, gw);
	if (sp->default_gw)
		strcpy(dst, "0.0.0.0/0");
	else
		ip4_format_net(&o, dst);
	ip = json_pack("{s:i, s:s, s:s}", "interface", 2, "address", addr, "gateway", gw);
	if (ip && req->ver < VER_100)
		json_object_set_new(ip, "version", json_string("4"));
	route = json_pack("{s:s, s:s}", "dst", dst, "gw", gw);
	return print_json(json_pack(
		"{s:s, s:[o,o,o], s:[o], s:[o], s:{}}", "cniVersion", req->version_str,
		"interfaces", iface(sp->bridge, macs->bridge, NULL),
		iface(sp->host_veth, macs->host, NULL), iface(sp->ifname, macs->pod, req->netns),
		"ips", ip, "routes", route, "dns"));
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

int result_parse_prev(json_t *prev, const char *ifname, struct prev_result *out, struct cni_err *e)
{
	json_t *ifaces = json_object_get(prev, "interfaces");
	json_t *ips = json_object_get(prev, "ips");
	json_t *routes = json_object_get(prev, "routes");
	json_t *v;
	size_t i;
	bool found = false;

	memset(out, 0, sizeof(*out));
	if (!json_is_array(ips))
		return bad_prev(e, "no \"ips\"");
	json_array_foreach(ips, i, v)
	{
		json_t *idx = json_object_get(v, "interface");
		const char *a = json_string_value(json_object_get(v, "address"));
		const char *g = json_string_value(json_object_get(v, "gateway"));
		struct ip4_net n;

		/* Only the entry on our pod interface counts, when it says. */
		if (json_is_integer(idx) && json_is_array(ifaces)) {
			json_t *it = json_array_get(ifaces, (size_t)json_integer_value(idx));
			const char *name = json_string_value(json_object_get(it, "name"));

			if (!name || strcmp(name, ifname))
				continue;
		}
		if (!a || ip4_parse_net(a, &n))
			continue; /* IPv6 or junk: not ours */
		out->addr = n;
		if (g && ip4_parse_addr(g, &out->gateway))
			return bad_prev(e, "bad gateway");
		found = true;
		break;
	}
	if (!found)
		return bad_prev(e, "no IPv4 address for the pod interface");
	if (!json_is_array(routes))
		return 0;
	json_array_foreach(routes, i, v)
	{
		const char *d = json_string_value(json_object_get(v, "dst"));
		const char *g = json_string_value(json_object_get(v, "gw"));
		struct attach_route r = {0};

		if (!d || ip4_parse_net(d, &r.dst))
			continue;
		if (g && ip4_parse_addr(g, &r.gw))
			continue;
		if (out->n_routes == RESULT_MAX_ROUTES)
			break;
		out->routes[out->n_routes++] = r;
	}
	return 0;
}
