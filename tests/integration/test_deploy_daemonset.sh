#!/usr/bin/env bash
# The Kubernetes DaemonSet as shipped, run without Kubernetes on two test
# nodes: tests/k8s/podrun.js does the kubelet's part (env from fieldRef and
# the Secret, $(VAR) expansion, volumes mapped to per-node directories, image
# paths taken from deploy/Dockerfile's COPY lines). etcd is set up like
# weft-etcd (client certificates, authentication, user weft scoped to the
# prefix; test_deploy_etcd.sh runs the real one), and the Secret holds what
# `kubectl create secret generic weft-etcd ...` in the docs puts there.
# Checks: the init container installs plugin and conflist (and again over
# an existing install); weftd from the container spec becomes ready on the
# node IP (where kubelet probes), not on 127.0.0.1; its lease names the
# node IP; the metrics it serves are the ones docs/operations.md lists; pods set up through the
# installed conflist (weft, then portmap) ping across nodes, reach the
# external host (masquerade) and serve a hostPort; a restart (rolling
# update) keeps traffic and subnet.
# labels: deploy
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
h_init
h_underlay
h_ext_add
for n in 1 2; do
	h_node_add "$n"
done

manifest="$WEFT_SRC/deploy/kubernetes/weft.yml"
work="$WEFT_SRC/tests/k8s"
NODE_PATH=$(bash "$work/setup.sh" 2>"$H_TMP/npm.log") || { cat "$H_TMP/npm.log" >&2; h_fail "npm ci"; }
export NODE_PATH

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

# The Secret as `kubectl create secret generic weft-etcd --from-literal
# --from-file` makes it (a secret volume holds one file per key).
secret="$H_TMP/secret"
mkdir -p "$secret"
printf '%s' "https://$H_ETCD_IP:2379" >"$secret/endpoints"
cp "$pki/ca.crt" "$secret/ca.crt"
cp "$pki/node.crt" "$secret/tls.crt"
cp "$pki/node.key" "$secret/tls.key"
cp "$pki/weft.password" "$secret/password"
cm="$H_TMP/configmap"
node "$work/podrun.js" --write-config-map "$manifest" weft-config "$cm" || h_fail "ConfigMap"

# Image paths from the Dockerfile: COPY --from=build /build/bin/X /dest.
image_args=()
while read -r _ _ src dst; do
	image_args+=(--image-file "$dst=$WEFT_BIN/${src##*/}")
done < <(grep -E '^COPY --from=' "$WEFT_SRC/deploy/Dockerfile")
[ "${#image_args[@]}" -eq 4 ] || h_fail "expected two COPY --from lines in deploy/Dockerfile"

PATH_IN_IMAGE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# render N CONTAINER: the container's argv and env for node N as JSON.
render() {
	local d="$H_TMP/n$1"
	node "$work/podrun.js" "$manifest" "$2" --node-ip "198.18.0.$1" \
		--host-path "/run/weft=$d/run-weft" --host-path "/opt/cni/bin=$d/opt-cni-bin" \
		--host-path "/etc/cni/net.d=$d/etc-cni-net.d" --config-map "weft-config=$cm" \
		--secret "weft-etcd=$secret" "${image_args[@]}"
}
# container_cmd JSON: "env -i K=V ... ARGV..." as an array in CMD.
container_cmd() {
	local k
	local -a envs=() argv=()
	# base64 per item: a value may hold newlines (the init script does).
	while read -r k; do
		envs+=("$(base64 -d <<<"$k")")
	done < <(jq -r '.env | to_entries[] | "\(.key)=\(.value)" | @base64' <<<"$1")
	while read -r k; do
		argv+=("$(base64 -d <<<"$k")")
	done < <(jq -r '.argv[] | @base64' <<<"$1")
	CMD=(env -i "PATH=$PATH_IN_IMAGE")
	for k in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		[ -n "${!k:-}" ] && CMD+=("$k=${!k}")
	done
	CMD+=("${envs[@]}" "${argv[@]}")
}

# install N: run the init container on node N; the files must be complete.
install_cni() {
	local n=$1 d="$H_TMP/n$1" spec
	mkdir -p "$d/run-weft" "$d/opt-cni-bin" "$d/etc-cni-net.d"
	spec=$(render "$n" install-cni) || h_fail "render install-cni"
	container_cmd "$spec"
	ip netns exec "$(h_node_ns "$n")" "${CMD[@]}" || h_fail "install-cni failed on node $n"
	cmp -s "$d/opt-cni-bin/weft" "$WEFT_BIN/weft" || h_fail "node $n: /opt/cni/bin/weft differs"
	[ -x "$d/opt-cni-bin/weft" ] || h_fail "node $n: plugin not executable"
	cmp -s "$d/etc-cni-net.d/10-weft.conflist" "$cm/cni-conf.json" ||
		h_fail "node $n: 10-weft.conflist differs from cni-conf.json"
	h_assert_eq 644 "$(stat -c %a "$d/etc-cni-net.d/10-weft.conflist")" "conflist mode"
	h_assert_eq "" "$(find "$d/opt-cni-bin" "$d/etc-cni-net.d" -name '*.tmp')" \
		"temporary files left by install-cni"
}

declare -A WEFTD
start_weftd() {
	local n=$1 spec
	spec=$(render "$n" weftd) || h_fail "render weftd"
	container_cmd "$spec"
	h_bg "$(h_node_ns "$n")" "$H_TMP/weftd$n.log" "${CMD[@]}"
	WEFTD[$n]=$H_LAST_PID
}
probe() { # N PATH: GET as kubelet's httpGet probe does (pod IP = node IP)
	ip netns exec "$(h_node_ns "$1")" curl -sf -m 2 "http://198.18.0.$1:9872$2"
}

# No network config in etcd yet: the ConfigMap's net-conf.json becomes it.
for n in 1 2; do
	install_cni "$n"
	start_weftd "$n"
done
for n in 1 2; do
	h_wait_for 30 "node $n /readyz on its node IP" probe "$n" /readyz ||
		{ tail -20 "$H_TMP/weftd$n.log" >&2; h_fail "node $n not ready"; }
	h_assert_eq ok "$(probe "$n" /healthz)" "node $n /healthz"
	ip netns exec "$(h_node_ns "$n")" curl -s -m 2 -o /dev/null http://127.0.0.1:9872/healthz &&
		h_fail "node $n also serves on 127.0.0.1"
	grep -q "^FLANNEL_NETWORK=10.244.0.0/16$" "$H_TMP/n$n/run-weft/subnet.env" ||
		h_fail "node $n: subnet.env not in the /run/weft host path"
done
h_assert_eq "$(jq -c . "$cm/net-conf.json")" "$(h_etcdctl get --print-value-only /coreos.com/network/config | jq -c .)" \
	"config in etcd (from the ConfigMap)"
for n in 1 2; do
	h_etcdctl get --prefix --print-value-only /coreos.com/network/subnets/ |
		grep -q "\"PublicIP\":\"198.18.0.$n\"" || h_fail "no lease with node $n's InternalIP"
done
h_log "both weftd pods ready; leases carry the node IPs"
h_assert_eq ready "$(probe 1 /readyz)" "/readyz body"

# docs/operations.md names exactly the metric families weftd serves.
served=$(probe 1 /metrics | sed -n 's/^# TYPE \(weft_[a-z0-9_]*\) .*/\1/p' | sort -u)
documented=$(sed -n '/^Metrics (Prometheus text format)/,/^$/p' "$WEFT_SRC/docs/operations.md" |
	grep -o 'weft_[a-z0-9_]*' | sort -u)
[ -n "$served" ] || h_fail "no weft_ metrics served"
[ "$served" = "$documented" ] ||
	h_fail "docs/operations.md metrics differ from /metrics: $(diff <(echo "$documented") <(echo "$served") | grep '^[<>]' | tr '\n' ' ')"
h_log "docs/operations.md lists the $(wc -l <<<"$served") metric families weftd serves"

# Pods through the installed conflist, run the way a runtime runs it: each
# plugin in order, found on CNI_PATH (the installed /opt/cni/bin first, then
# Debian's reference plugins for portmap), the previous result handed on,
# runtimeConfig for the capabilities a plugin declares. Only host paths are
# mapped (/run/weft, the address store).
declare -A POD_IP
pod_add() {
	local n=$1 d="$H_TMP/n$1" pod="$H_RUN-n$1-p1" list conf out="" i count type bin dir
	list="$d/etc-cni-net.d/10-weft.conflist"
	h_netns_add "$pod"
	count=$(jq '.plugins | length' "$list")
	for ((i = 0; i < count; i++)); do
		type=$(jq -r ".plugins[$i].type" "$list")
		bin=""
		for dir in "$d/opt-cni-bin" /usr/lib/cni; do
			[ -x "$dir/$type" ] && { bin="$dir/$type"; break; }
		done
		[ -n "$bin" ] || h_fail "plugin $type not on CNI_PATH"
		conf=$(jq -c --argjson i "$i" --arg sf "$d/run-weft/subnet.env" --arg dd "$(h_cni_dir "$n")" \
			--argjson prev "${out:-null}" '
			.plugins[$i] + {cniVersion, name}
			| if .type == "weft" then . + {subnetFile: $sf, dataDir: $dd} else . end
			| if $prev then . + {prevResult: $prev} else . end
			| if .capabilities.portMappings then . + {runtimeConfig: {portMappings:
				[{hostPort: 8080, containerPort: 80, protocol: "tcp"}]}} else . end' "$list")
		out=$(ip netns exec "$(h_node_ns "$n")" env CNI_COMMAND=ADD CNI_CONTAINERID="pod$n" \
			CNI_NETNS="/run/netns/$pod" CNI_IFNAME=eth0 CNI_PATH="$d/opt-cni-bin:/usr/lib/cni" \
			"$bin" <<<"$conf") || h_fail "ADD of $type on node $n: $out"
	done
	POD_IP[$n]=$(jq -r '.ips[0].address' <<<"$out")
	POD_IP[$n]=${POD_IP[$n]%/*}
}
pod_add 1
pod_add 2
pod_ping() { ip netns exec "$H_RUN-n$1-p1" ping -q -c 2 -i 0.2 -W 2 "$2" >/dev/null; }
h_wait_for 10 "pod on node 1 reaches pod on node 2" pod_ping 1 "${POD_IP[2]}" ||
	h_fail "no pod-to-pod traffic across nodes"
pod_ping 2 "${POD_IP[1]}" || h_fail "pod 2 -> pod 1"
pod_ping 1 "$H_EXT_IP" || h_fail "pod 1 cannot reach the external host (masquerade)"
h_log "pods ${POD_IP[1]} and ${POD_IP[2]} talk across nodes and reach $H_EXT_IP"

# portmap from the conflist: hostPort 8080 on node 1 reaches the pod's port 80.
mkdir -p "$H_TMP/www"
echo "hello from ${POD_IP[1]}" >"$H_TMP/www/index.html"
h_bg "$H_RUN-n1-p1" "$H_TMP/httpd.log" busybox httpd -f -p 80 -h "$H_TMP/www"
h_wait_for 10 "pod web server" ip netns exec "$H_RUN-n1-p1" curl -sf -m 1 -o /dev/null \
	"http://${POD_IP[1]}/index.html" || h_fail "pod web server did not start"
body=$(ip netns exec "$H_RUN-ext" curl -sf -m 5 http://198.18.0.1:8080/index.html) ||
	h_fail "hostPort 8080 on node 1 unreachable from outside"
h_assert_eq "hello from ${POD_IP[1]}" "$body" "answer through the conflist's portmap"

# Rolling update of node 1: the pod goes (SIGTERM), traffic keeps flowing,
# the init container runs again over the installed files, weftd comes back
# ready with the same subnet.
before=$(cat "$H_TMP/n1/run-weft/subnet.env")
h_kill "${WEFTD[1]}" TERM
pod_ping 2 "${POD_IP[1]}" || h_fail "traffic stopped while weftd on node 1 was down"
install_cni 1
start_weftd 1
h_wait_for 30 "node 1 ready again" probe 1 /readyz || h_fail "node 1 not ready after restart"
h_assert_eq "$before" "$(cat "$H_TMP/n1/run-weft/subnet.env")" "subnet.env after the restart"
pod_ping 1 "${POD_IP[2]}" || h_fail "pod traffic after the restart"
h_log "restart kept the subnet and the traffic"
exit 0
