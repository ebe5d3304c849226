#!/usr/bin/env bash
# The DaemonSet as shipped, played by a real Kubernetes YAML consumer:
# `podman kube play` runs its pod template, with the image deploy/Dockerfile
# builds (image_common.sh), on each of two test nodes. A node is a network
# namespace plus a mount namespace where the node's own directories sit at
# /run/weft, /etc/cni/net.d, /opt/cni/bin and /var/lib/cni, so hostPath
# volumes, the conflist's paths and the runtime see what they would on a
# machine. tests/k8s/kubeplay.js does only what podman 4.3 cannot (DaemonSet
# kind, fieldRef status.hostIP, $(VAR) in args, decoded secret volumes,
# ports of a hostNetwork pod);
# the ConfigMap goes to podman as is, the Secret's data as a podman secret.
# etcd is set up like weft-etcd (client certificates, authentication, user
# weft scoped to the prefix; test_deploy_etcd.sh runs the real one).
# Checks: weftd ready on the node IP (where kubelet probes), not 127.0.0.1;
# leases name the node IPs; config from the ConfigMap; documented metrics;
# weftd writes the plugin and the conflist (from the ConfigMap) into the
# host directories; pods made afterwards by podman (a CNI runtime) through
# that conflist ping across nodes, reach the external host (masquerade) and
# serve a hostPort (portmap); time from `kube play` to the first cross-node
# pod ping is printed. Rolling update of node 1 (old pod stopped with its
# grace period, new image's pod played): zero pod packets lost, same
# subnet, conflist kept while no weftd runs. Uninstall as docs/operations.md
# says: nothing of weft left on the node.
# Skipped (exit 77, with the reason) where podman cannot run.
# labels: deploy;podman;image;root;etcd;npm
# timeout: 1500
: "${WEFT_SRC:?}"
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/image_common.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: integration tests need root" >&2; exit 77; }
img_usable || exit 77
h_init
img_build || h_fail "image build"

manifest="$WEFT_SRC/deploy/kubernetes/weft.yml"
work="$WEFT_SRC/tests/k8s"
NODE_PATH=$(bash "$work/setup.sh" 2>"$H_TMP/npm.log") || { cat "$H_TMP/npm.log" >&2; h_fail "npm ci"; }
export NODE_PATH

h_underlay
h_ext_add
for n in 1 2; do
	h_node_add "$n"
done

# etcd's PKI: a node certificate without a Common Name, as weft-etcd-certs.sh makes.
pki="$H_TMP/pki"
mkdir -p "$pki"
(
	cd "$pki" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
		-subj /CN=etcd-ca -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
	mkcert() { # name subject extensions
		openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
		openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out "$1.crt" -days 2 -extfile <(printf '%s\n' "$3")
	}
	mkcert server /CN=etcd "subjectAltName=IP:198.18.0.254,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
	mkcert node "/O=weft nodes" "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
) >"$H_TMP/pki.log" 2>&1 || { cat "$H_TMP/pki.log" >&2; h_fail "openssl"; }
H_ETCD_SCHEME=https
H_ETCDCTL_TLS="--cacert $pki/ca.crt --cert $pki/node.crt --key $pki/node.key"
h_etcd_start --cert-file "$pki/server.crt" --key-file "$pki/server.key" \
	--client-cert-auth --trusted-ca-file "$pki/ca.crt"
printf 'weftpw' >"$pki/weft.password"
{
	h_etcdctl user add root:rootpw && h_etcdctl role add root && h_etcdctl user grant-role root root &&
		h_etcdctl role add weft &&
		h_etcdctl role grant-permission weft --prefix=true readwrite /coreos.com/network/ &&
		h_etcdctl user add weft:weftpw && h_etcdctl user grant-role weft weft && h_etcdctl auth enable
} >"$H_TMP/auth.log" 2>&1 || { cat "$H_TMP/auth.log" >&2; h_fail "etcd auth setup"; }
H_ETCDCTL_TLS+=" --user root:rootpw"

# Each node's host directories, mounted in its mount namespace. The mount
# points must exist on the machine: made (empty) if absent, removed after.
HOST_DIRS=(/run/weft /etc/cni/net.d /opt/cni/bin /var/lib/cni)
for d in "${HOST_DIRS[@]}"; do
	[ -d "$d" ] && continue
	top=$d
	while [ ! -d "$(dirname "$top")" ]; do top=$(dirname "$top"); done
	mkdir -p "$d"
	h_on_cleanup "find '$top' -depth -type d -empty -delete"
done
mnt="$H_TMP/mnt"
mkdir -p "$mnt"
mount --bind "$mnt" "$mnt" && mount --make-private "$mnt" || h_fail "private mount for the node namespaces"
h_on_cleanup "umount -l '$mnt'"
hostdir() { echo "$H_TMP/n$1/$(tr / - <<<"${2#/}")"; } # N PATH
for n in 1 2; do
	for d in "${HOST_DIRS[@]}"; do mkdir -p "$(hostdir "$n" "$d")"; done
	touch "$mnt/n$n"
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount="$mnt/n$n" --propagation private sh -ec '
		n=$1; shift
		for d in "$@"; do mount --bind "$n/$(echo "${d#/}" | tr / -)" "$d"; done' \
		sh "$H_TMP/n$n" "${HOST_DIRS[@]}" || h_fail "mount namespace of node $n"
	h_on_cleanup "umount '$mnt/n$n'"
done
# on_node N CMD...: CMD on node N (its network and mount namespaces).
on_node() {
	local n=$1
	shift
	nsenter --mount="$mnt/n$n" --net="/run/netns/$(h_node_ns "$n")" "$@"
}

# podman as the node's container runtime: CNI from the node's
# /etc/cni/net.d and /opt/cni/bin (then Debian's reference plugins).
P="$H_TMP/podman"
mkdir -p "$P/tmp" "$P/kube-net.d"
h_podman_conf "$P" /opt/cni/bin /etc/cni/net.d weft \
	'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]'
pm() { # N ARGS...: podman on node N
	local n=$1
	shift
	CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf" timeout 120 \
		nsenter --mount="$mnt/n$n" --net="/run/netns/$(h_node_ns "$n")" podman --cgroup-manager cgroupfs "$@"
}
for n in 2 1; do
	h_on_cleanup "CONTAINERS_CONF='$P/containers.conf' CONTAINERS_STORAGE_CONF='$P/storage.conf' \
		timeout 60 nsenter --mount='$mnt/n$n' --net=/run/netns/$(h_node_ns "$n") \
		podman --cgroup-manager cgroupfs rm -a -f -t 0; \
		CONTAINERS_CONF='$P/containers.conf' CONTAINERS_STORAGE_CONF='$P/storage.conf' \
		timeout 60 nsenter --mount='$mnt/n$n' --net=/run/netns/$(h_node_ns "$n") \
		podman --cgroup-manager cgroupfs pod rm -a -f -t 0"
done

# The image into the nodes' store, under the manifest's name and as the
# next release for the rolling update.
t=$(date +%s%N)
image=$(yq_image() { node -e '
	const Y = require("yaml"), fs = require("fs");
	const ds = Y.parseAllDocuments(fs.readFileSync(process.argv[1], "utf8")).map((d) => d.toJS())
		.find((d) => d && d.kind === "DaemonSet");
	console.log(ds.spec.template.spec.containers.find((c) => c.name === "weftd").image);' "$1"; }
	yq_image "$manifest") || h_fail "image name from the manifest"
img_pm save -o "$H_TMP/weft-image.tar" "$IMG_REF" >/dev/null 2>&1 || h_fail "podman save"
pm 1 load -i "$H_TMP/weft-image.tar" >/dev/null 2>&1 || h_fail "podman load"
rm -f "$H_TMP/weft-image.tar"
pm 1 tag "$IMG_REF" "localhost/$image" "localhost/${image%:*}:next" || h_fail "podman tag"
h_log "image $image in the nodes' store: $((($(date +%s%N) - t) / 1000000)) ms"
# A busybox image for the pods the runtime makes later.
mkdir -p "$P/rootfs/bin" "$P/rootfs/www"
cp "$(command -v busybox)" "$P/rootfs/bin/"
for a in sh ip ping sleep cat httpd; do ln -s busybox "$P/rootfs/bin/$a"; done
mkdir -p "$P/rootfs/"{etc,proc,sys,dev,tmp,run}
tar -C "$P/rootfs" -cf "$P/busybox.tar" .
pm 1 import --change 'CMD ["/bin/sh"]' "$P/busybox.tar" localhost/busybox:weft >/dev/null 2>&1 ||
	h_fail "podman import busybox"

# The Secret as `kubectl create secret generic weft-etcd --from-literal
# --from-file` makes it: its data for podman's secretKeyRef, and the
# decoded files a secret volume holds.
secret="$H_TMP/secret"
mkdir -p "$secret"
printf '%s' "https://$H_ETCD_IP:2379" >"$secret/endpoints"
cp "$pki/ca.crt" "$secret/ca.crt"
cp "$pki/node.crt" "$secret/tls.crt"
cp "$pki/node.key" "$secret/tls.key"
cp "$pki/weft.password" "$secret/password"
chmod 0400 "$secret"/*
for f in "$secret"/*; do
	jq -n --arg k "${f##*/}" --arg v "$(base64 -w0 "$f")" '{($k): $v}'
done | jq -s add >"$H_TMP/secret.json"
pm 1 secret create weft-etcd "$H_TMP/secret.json" >/dev/null || h_fail "podman secret create"
node "$work/kubeplay.js" configmap "$manifest" weft-config >"$H_TMP/configmap.yml" || h_fail "ConfigMap"
cm="$H_TMP/configmap"
node "$work/kubeplay.js" configmap-dir "$manifest" weft-config "$cm" || h_fail "ConfigMap files"

# play N NAME [IMAGE]: the DaemonSet's pod on node N.
play() {
	local n=$1 name=$2
	node "$work/kubeplay.js" pod "$manifest" --node-ip "198.18.0.$n" --name "$name" \
		--secret-dir "weft-etcd=$secret" ${3:+--image "$3"} >"$H_TMP/$name.yml" || h_fail "pod of node $n"
	# kube play writes a default network config of its own: not into the
	# node's CNI directory, which only weft's conflist may enter.
	pm "$n" --network-config-dir "$P/kube-net.d" kube play --configmap "$H_TMP/configmap.yml" "$H_TMP/$name.yml" >"$H_TMP/$name.play.log" 2>&1 ||
		{ cat "$H_TMP/$name.play.log" >&2; h_fail "kube play on node $n"; }
}
probe() { # N PATH: GET as kubelet's httpGet probe does (pod IP = node IP)
	ip netns exec "$(h_node_ns "$1")" curl -sf -m 2 "http://198.18.0.$1:9872$2"
}
logs() { pm "$1" logs "$2-weftd" 2>&1 | tail -20 >&2; }

# No network config in etcd yet: the ConfigMap's net-conf.json becomes it.
t_play=$(date +%s%N)
for n in 1 2; do
	play "$n" "weft-n$n"
done
for n in 1 2; do
	h_wait_for 60 "node $n /readyz on its node IP" probe "$n" /readyz ||
		{ logs "$n" "weft-n$n"; h_fail "node $n not ready"; }
	h_assert_eq ok "$(probe "$n" /healthz)" "node $n /healthz"
	ip netns exec "$(h_node_ns "$n")" curl -s -m 2 -o /dev/null http://127.0.0.1:9872/healthz &&
		h_fail "node $n also serves on 127.0.0.1"
	grep -q "^FLANNEL_NETWORK=10.244.0.0/16$" "$(hostdir "$n" /run/weft)/subnet.env" ||
		h_fail "node $n: subnet.env not in the /run/weft host path"
done
h_log "weftd pods ready $((($(date +%s%N) - t_play) / 1000000)) ms after kube play"
h_assert_eq "$(jq -c . "$cm/net-conf.json")" \
	"$(h_etcdctl get --print-value-only /coreos.com/network/config | jq -c .)" "config in etcd (from the ConfigMap)"
leases=$(h_etcdctl get --prefix --print-value-only /coreos.com/network/subnets/)
for n in 1 2; do
	grep -q "\"PublicIP\":\"198.18.0.$n\"" <<<"$leases" || h_fail "no lease with node $n's InternalIP: $leases"
done
h_log "both weftd pods ready; leases carry the node IPs"

# docs/operations.md names exactly the metric families weftd serves.
served=$(probe 1 /metrics | sed -n 's/^# TYPE \(weft_[a-z0-9_]*\) .*/\1/p' | sort -u)
documented=$(sed -n '/^Metrics (Prometheus text format)/,/^$/p' "$WEFT_SRC/docs/operations.md" |
	grep -o 'weft_[a-z0-9_]*' | sort -u)
[ -n "$served" ] || h_fail "no weft_ metrics served"
[ "$served" = "$documented" ] ||
	h_fail "docs/operations.md metrics differ from /metrics: $(diff <(echo "$documented") <(echo "$served") | grep '^[<>]' | tr '\n' ' ')"

# The CNI files come from weftd (--cni-conf-dir, --cni-bin-dir), not from
# an init container.
if ! help=$(img_pm run --rm --network none --pull never "$IMG_REF" --help 2>&1) ||
	! grep -q -- --cni-conf-dir <<<"$help"; then
	h_fail "this weftd has no --cni-conf-dir/--cni-bin-dir: the DaemonSet needs them to write the conflist"
fi
for n in 1 2; do
	conf="$(hostdir "$n" /etc/cni/net.d)/10-weft.conflist"
	plugin="$(hostdir "$n" /opt/cni/bin)/weft"
	h_wait_for 10 "node $n: conflist and plugin written" test -s "$conf" -a -x "$plugin" ||
		{ logs "$n" "weft-n$n"; h_fail "node $n: weftd wrote no conflist or plugin"; }
	h_assert_eq "$(jq -cS . "$cm/cni-conf.json")" "$(jq -cS . "$conf")" "node $n conflist (the ConfigMap's cni-conf.json)"
	v=$(echo '{"cniVersion":"1.0.0"}' | on_node "$n" env CNI_COMMAND=VERSION /opt/cni/bin/weft) ||
		h_fail "node $n: installed plugin does not run: $v"
	# The probe first: find sees the files weftd wrote (and the lock podman,
	# the runtime, keeps there), then no temporary one.
	h_assert_eq "10-weft.conflist weft " \
		"$(find "$(hostdir "$n" /etc/cni/net.d)" "$(hostdir "$n" /opt/cni/bin)" -mindepth 1 -printf '%f\n' | grep -vx cni.lock | sort | tr '\n' ' ')" \
		"files in node $n's CNI directories"
	h_assert_eq "" "$(find "$(hostdir "$n" /etc/cni/net.d)" "$(hostdir "$n" /opt/cni/bin)" -name '.*')" \
		"temporary files in the CNI directories"
done

# Pods made afterwards by the node's runtime through weftd's conflist.
declare -A POD_IP POD_PID
run_pod() { # N NAME ARGS...
	local n=$1 name=$2
	shift 2
	pm "$n" run -d --name "$name" --runtime runc --network weft "$@" >/dev/null ||
		h_fail "podman run $name on node $n"
	POD_IP[$name]=$(pm "$n" inspect -f '{{(index .NetworkSettings.Networks "weft").IPAddress}}' "$name")
	POD_PID[$name]=$(pm "$n" inspect -f '{{.State.Pid}}' "$name")
	h_log "pod $name on node $n: ${POD_IP[$name]}"
}
in_pod() { local p=$1; shift; nsenter --target "${POD_PID[$p]}" --net "$@"; }
run_pod 1 p1 -p 8080:80 localhost/busybox:weft httpd -f -p 80 -h /www
run_pod 2 p2 localhost/busybox:weft sleep 600
pod_ping() { in_pod "$1" ping -q -c 1 -W 1 "$2" >/dev/null; }
h_wait_for 10 "pod on node 2 reaches pod on node 1" pod_ping p2 "${POD_IP[p1]}" ||
	h_fail "no pod-to-pod traffic across nodes"
FIRST_PING_MS=$((($(date +%s%N) - t_play) / 1000000))
h_log "first cross-node pod ping $FIRST_PING_MS ms after kube play"
pod_ping p1 "${POD_IP[p2]}" || h_fail "pod 1 -> pod 2"
pod_ping p2 "$H_EXT_IP" || h_fail "pod 2 cannot reach the external host (masquerade)"

# portmap from the conflist: hostPort 8080 on node 1 reaches the pod's port 80.
echo "hello from ${POD_IP[p1]}" | pm 1 exec -i p1 sh -c 'cat >/www/index.html' || h_fail "web page"
body=$(ip netns exec "$H_RUN-ext" curl -sf -m 5 http://198.18.0.1:8080/index.html) ||
	h_fail "hostPort 8080 on node 1 unreachable from outside"
h_assert_eq "hello from ${POD_IP[p1]}" "$body" "answer through the conflist's portmap"

# Rolling update of node 1: the old pod stops with its grace period, the
# new image's pod is played; pod traffic across nodes never drops.
before=$(cat "$(hostdir 1 /run/weft)/subnet.env")
nsenter --target "${POD_PID[p2]}" --net ping -i 0.05 -W 1 "${POD_IP[p1]}" >"$H_TMP/upgrade-ping.log" 2>&1 &
ping_pid=$!
h_on_cleanup "kill $ping_pid" 
sleep 0.5
t=$(date +%s%N)
pm 1 pod stop -t 10 weft-n1 >/dev/null || h_fail "pod stop"
pm 1 pod rm weft-n1 >/dev/null || h_fail "pod rm"
[ -s "$(hostdir 1 /etc/cni/net.d)/10-weft.conflist" ] || h_fail "conflist gone with the old weftd"
pod_ping p2 "${POD_IP[p1]}" || h_fail "traffic stopped while no weftd ran on node 1"
play 1 weft-n1-next "localhost/${image%:*}:next"
h_wait_for 60 "node 1 ready again" probe 1 /readyz || { logs 1 weft-n1-next; h_fail "node 1 not ready after the update"; }
h_log "node 1 updated in $((($(date +%s%N) - t) / 1000000)) ms"
sleep 1
kill -INT "$ping_pid"
wait "$ping_pid"
stats=$(grep 'packets transmitted' "$H_TMP/upgrade-ping.log")
sent=$(awk '{print $1}' <<<"$stats")
got=$(awk '{print $4}' <<<"$stats")
h_log "during the update: $stats"
[ "${sent:-0}" -ge 20 ] || h_fail "too few probes during the update: $stats"
h_assert_eq "$sent" "$got" "pod packets received during the rolling update"
h_assert_eq "$before" "$(cat "$(hostdir 1 /run/weft)/subnet.env")" "subnet.env after the update"
pod_ping p1 "${POD_IP[p2]}" || h_fail "pod traffic after the update"

# Uninstall (docs/operations.md): pods and weft's pod gone, then what weft
# left on the node removed by hand. First show each probe finds the thing.
for n in 1 2; do
	pm "$n" rm -f -t 0 "p$n" >/dev/null || h_fail "podman rm p$n"
done
pm 1 pod rm -f -t 10 weft-n1-next >/dev/null && pm 2 pod rm -f -t 10 weft-n2 >/dev/null || h_fail "pod rm"
leftover() { # N: weft's objects on node N, one per line ("probe-broken" if the probe fails)
	local out
	out=$(on_node "$1" sh -c 'ip -o link show weft.1 2>/dev/null | cut -d: -f2
		ip -o link show cni0 2>/dev/null | cut -d: -f2
		nft list table ip weft >/dev/null 2>&1 && echo "nft table ip weft"
		ip route show proto 87 | sed "s/^/route /"
		ls /etc/cni/net.d/10-weft.conflist /opt/cni/bin/weft /run/weft/subnet.env 2>/dev/null
		ls -d /var/lib/cni/networks/weft 2>/dev/null
		ip -o link show lo >/dev/null && nft list tables >/dev/null && echo probe-ok')
	grep -qx probe-ok <<<"$out" || { echo "probe-broken on node $1"; return 0; }
	grep -vx probe-ok <<<"$out" || true
}
for n in 1 2; do
	left=$(leftover "$n")
	for want in weft.1 cni0 "nft table ip weft" "route 10.244." 10-weft.conflist /opt/cni/bin/weft subnet.env networks/weft; do
		grep -qF -- "$want" <<<"$left" || h_fail "node $n: probe does not see $want before the uninstall: $left"
	done
	on_node "$n" sh -ec "$(sed -n '/^<!-- uninstall -->$/,/^<!-- \/uninstall -->$/p' "$WEFT_SRC/docs/operations.md" |
		sed -n '/^```sh$/,/^```$/p' | grep -v '^```')" || h_fail "node $n: the documented uninstall failed"
	h_assert_eq "" "$(leftover "$n")" "node $n: weft's objects after the uninstall"
done
h_etcdctl del --prefix /coreos.com/network/ >/dev/null
h_log "PASS: first cross-node pod ping $FIRST_PING_MS ms after kube play"
exit 0
