#!/usr/bin/env bash
# Chaining: weft first, Debian's portmap second, run the way a runtime runs
# a conflist (prevResult handed on, CHECK and DEL with the final result, DEL
# in reverse order). A published port on the node reaches the pod's server.
# labels: cni;root
# timeout: 300
source "$WEFT_SRC/tests/integration/cni_common.sh"
cni_setup underlay
h_ext_add
cni_pod web
weft=$(cni_conf)
pm=$(jq -c --arg n "$NET" '{cniVersion: "1.0.0", name: $n, type: "portmap",
	capabilities: {portMappings: true},
	runtimeConfig: {portMappings: [{hostPort: 8080, containerPort: 80, protocol: "tcp"}]}}' <<<'{}')

r1=$(cni_run ADD ctr-web web <<<"$weft") || h_fail "weft ADD: $r1"
r2=$(CNI_PLUGIN=/usr/lib/cni/portmap cni_run ADD ctr-web web <<<"$(cni_with_prev "$pm" "$r1")") ||
	h_fail "portmap ADD: $r2"
# portmap hands our result on unchanged: it must have understood it.
h_assert_eq "$(jq -S -c 'del(.cniVersion)' <<<"$r1")" "$(jq -S -c 'del(.cniVersion)' <<<"$r2")" \
	"result after portmap"
pod_ip=$(jq -r '.ips[0].address | split("/")[0]' <<<"$r2")

mkdir -p "$H_TMP/www"
echo "hello from $pod_ip" >"$H_TMP/www/index.html"
h_bg "$H_RUN-web" "$H_TMP/httpd.log" busybox httpd -f -p 80 -h "$H_TMP/www"
h_wait_for 10 "pod server" ip netns exec "$H_RUN-web" curl -sf -m 1 -o /dev/null \
	"http://$pod_ip/index.html" || h_fail "pod server did not start"
body=$(ip netns exec "$H_RUN-ext" curl -sf -m 5 http://198.18.0.1:8080/index.html) ||
	h_fail "published port unreachable from outside the node"
h_assert_eq "hello from $pod_ip" "$body" "answer through the published port"

cni_run CHECK ctr-web web <<<"$(cni_with_prev "$weft" "$r2")" || h_fail "weft CHECK with the final result"

# DEL in reverse order, each with the final result.
CNI_PLUGIN=/usr/lib/cni/portmap cni_run DEL ctr-web web <<<"$(cni_with_prev "$pm" "$r2")" ||
	h_fail "portmap DEL"
cni_run DEL ctr-web web <<<"$(cni_with_prev "$weft" "$r2")" || h_fail "weft DEL"
h_lacks "DNAT chain left" 'CNI-DN-' ip netns exec "$NODE" iptables -t nat -S
h_assert_eq 0 "$(cni_store_ips | wc -l)" "reservations after DEL"
h_assert_eq "" "$(cni_host_veths)" "host veths after DEL"
# The probe still reaches the node; only the published port is gone.
ip netns exec "$H_RUN-ext" ping -q -c 1 -W 2 198.18.0.1 >/dev/null ||
	h_fail "probe broken: the external host cannot reach the node"
ip netns exec "$H_RUN-ext" curl -sf -m 2 http://198.18.0.1:8080/index.html \
	>/dev/null 2>&1 && h_fail "port still published after DEL"
exit 0
