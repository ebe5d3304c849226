#!/usr/bin/env bash
# podman 4 as a real CNI client (network_backend = "cni"), run inside a node
# namespace: a container on a weft network reaches a second one on the same
# network, and `podman rm` gives its address back. Everything podman keeps
# lives under the scratch directory; the image is imported from a local
# busybox rootfs (no registry).
# labels: cni;podman;root
# timeout: 300
source "$WEFT_SRC/tests/integration/cni_common.sh"
cni_setup
command -v podman >/dev/null || h_fail "podman is not installed"
P="$H_TMP/podman"
mkdir -p "$P/net.d" "$P/bin" "$P/tmp" "$P/rootfs/bin"
ln -s "$WEFT_BIN/weft" "$P/bin/weft"
h_podman_conf "$P" "$P/bin" "$P/net.d" "$NET" 'netns = "private"'
jq -c --arg sf "$SUBNET_FILE" --arg dd "$DATA_DIR" --arg n "$NET" \
	'{cniVersion: "1.0.0", name: $n, plugins: [{type: "weft", subnetFile: $sf, dataDir: $dd}]}' \
	<<<'{}' >"$P/net.d/$NET.conflist"

# podman keeps its blob cache and libcni its result cache in fixed host
# paths: remove them afterwards unless they were there before.
[ -e /var/lib/containers ] || h_on_cleanup "rm -rf /var/lib/containers"
[ -e /var/lib/cni/results ] || h_on_cleanup "rm -rf /var/lib/cni/results/$NET-*; rmdir /var/lib/cni/results"

pm() {
	CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf" \
		timeout 60 nsenter --net="/run/netns/$NODE" podman --cgroup-manager cgroupfs "$@"
}
run_opts=(--runtime runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 --network "$NET")
h_on_cleanup "CONTAINERS_CONF='$P/containers.conf' CONTAINERS_STORAGE_CONF='$P/storage.conf' \
	timeout 30 nsenter --net=/run/netns/$NODE podman rm -a -f -t 0; \
	CONTAINERS_CONF='$P/containers.conf' CONTAINERS_STORAGE_CONF='$P/storage.conf' \
	timeout 30 podman system reset -f"

cp "$(command -v busybox)" "$P/rootfs/bin/"
for a in sh ip ping sleep cat; do ln -s busybox "$P/rootfs/bin/$a"; done
mkdir -p "$P/rootfs/"{etc,proc,sys,dev,tmp,run}
tar -C "$P/rootfs" -cf "$P/busybox.tar" .
pm import --change 'CMD ["/bin/sh"]' "$P/busybox.tar" localhost/busybox:weft >/dev/null ||
	h_fail "podman import"

pm network ls --format '{{.Name}} {{.Driver}}' | h_grep "^$NET weft" ||
	h_fail "podman does not list the weft network"
pm run -d --name "$H_RUN-a" "${run_opts[@]}" localhost/busybox:weft sleep 120 >/dev/null ||
	h_fail "podman run (first container)"
ip_a=$(pm inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$H_RUN-a")
h_log "first container: $ip_a"
case $ip_a in 10.244.3.*) ;; *) h_fail "first container got '$ip_a'" ;; esac
h_assert_eq 1 "$(cni_store_ips | wc -l)" "reservations with one container"

out=$(pm run --rm --name "$H_RUN-b" "${run_opts[@]}" localhost/busybox:weft \
	sh -c "ip -4 -o addr show eth0; ping -c 2 -W 2 $ip_a") ||
	h_fail "second container cannot reach the first: $out"
h_log "second container: $(head -1 <<<"$out" | awk '{print $4}')"
h_assert_eq 1 "$(cni_store_ips | wc -l)" "reservations after the --rm container"

pm rm -f -t 0 "$H_RUN-a" >/dev/null || h_fail "podman rm"
h_assert_eq 0 "$(cni_store_ips | wc -l)" "reservations after podman rm"
h_assert_eq "" "$(cni_host_veths)" "host veths after podman rm"
exit 0
