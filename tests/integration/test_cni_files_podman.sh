#!/usr/bin/env bash
# A real runtime on the files weftd wrote: podman 4 (network_backend "cni")
# on node 1 reads the built-in conflist from weftd's --cni-conf-dir and runs
# the plugin weftd installed in --cni-bin-dir (then Debian's portmap); its
# container pings a pod on node 2 across the overlay, and `podman rm` gives
# the address back. podman and the plugins run in a mount namespace with a
# private /var/lib/cni (libcni's result cache and the plugin's default
# store), as if the node had its own disk.
# labels: cni;podman;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/dataplane_common.sh"
source "$WEFT_SRC/tests/integration/cnifiles_common.sh"
h_init
command -v podman >/dev/null || h_fail "podman is not installed"
h_cluster 2
for n in 1 2; do
	cf_start "$n"
done
for n in 1 2; do
	h_wait_for 30 "node $n CNI files" test -s "$(cf_conf "$n")" -a -s "$(cf_bin "$n")" ||
		{ tail -20 "$H_TMP/n$n.log" >&2; h_fail "node $n wrote no CNI files"; }
done
h_netns_add "$H_RUN-n2-p1"
r=$(cf_list 2 ADD ctr-n2 "$H_RUN-n2-p1") || h_fail "ADD on node 2: $r"
ip2=$(cf_pod_ip "$r")
h_wait_for 15 "node 1 has node 2" d_has_peer 1 2 || h_fail "mesh incomplete"

P="$H_TMP/podman"
store="$H_TMP/var-lib-cni-n1"
mkdir -p "$P/tmp" "$P/rootfs/bin" "$store"
h_podman_conf "$P" "/run/$H_RUN-n1/bin" "/run/$H_RUN-n1/net.d" weft 'netns = "private"'
# podman keeps its blob cache in a fixed host path: remove it afterwards
# unless it was there before.
[ -e /var/lib/containers ] || h_on_cleanup "rm -rf /var/lib/containers"

# One private mount namespace for every podman call (podman's netns mounts
# under /run/netns must outlive a call), holding node 1's /var/lib/cni.
unshare -m --propagation private sh -c 'mount --bind "$1" /var/lib/cni && exec sleep 600' _ \
	"$store" &
HOLDER=$!
H_PIDS+=("$HOLDER")
h_wait_for 5 "private /var/lib/cni" grep -q " /var/lib/cni " "/proc/$HOLDER/mountinfo" ||
	h_fail "no mount namespace for podman"
grep -q " /var/lib/cni " /proc/self/mountinfo && h_fail "the bind mount leaked to the host"
pm() {
	CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf" \
		timeout 60 nsenter --mount="/proc/$HOLDER/ns/mnt" --net="/run/netns/$(h_node_ns 1)" \
		podman --cgroup-manager cgroupfs "$@"
}
run_opts=(--runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 --network weft)
# Containers go before the holder: their netns mounts and CNI DEL with them.
h_on_cleanup "pm rm -a -f -t 0"

cp "$(command -v busybox)" "$P/rootfs/bin/"
for a in sh ip ping sleep; do ln -s busybox "$P/rootfs/bin/$a"; done
mkdir -p "$P/rootfs/"{etc,proc,sys,dev,tmp,run}
tar -C "$P/rootfs" -cf "$P/busybox.tar" .
pm import --change 'CMD ["/bin/sh"]' "$P/busybox.tar" localhost/busybox:weft >/dev/null ||
	h_fail "podman import"

pm network ls --format '{{.Name}} {{.Driver}}' | h_grep "^weft weft" ||
	h_fail "podman does not list weftd's conflist as network weft"
pm run -d --name "$H_RUN-a" "${run_opts[@]}" localhost/busybox:weft sleep 120 >/dev/null ||
	h_fail "podman run"
ip1=$(pm inspect -f '{{(index .NetworkSettings.Networks "weft").IPAddress}}' "$H_RUN-a")
h_log "container on node 1: $ip1; pod on node 2: $ip2"
case $ip1 in "$(d_base 1)".*) ;; *) h_fail "container got '$ip1', not an address of node 1" ;; esac
[ -e "$store/networks/weft/$ip1" ] || h_fail "no reservation for $ip1 in node 1's store"
out=$(pm exec "$H_RUN-a" ping -c 3 -W 2 "$ip2") || h_fail "container -> pod on node 2: $out"
ip netns exec "$H_RUN-n2-p1" ping -q -c 3 -i 0.2 -W 2 "$ip1" >/dev/null ||
	h_fail "pod on node 2 -> container"
h_log "container $ip1 (podman, node 1) and pod $ip2 (node 2) ping each other"

pm rm -f -t 0 "$H_RUN-a" >/dev/null || h_fail "podman rm"
h_no_file "$store/networks/weft/$ip1" "reservation for $ip1 left after podman rm"
h_lacks "host veth left after podman rm" veth ip -n "$(h_node_ns 1)" -o link show type veth
for n in 1 2; do
	l_stop "$n"
done
exit 0
