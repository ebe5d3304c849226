#!/usr/bin/env bash
# The default install's etcd, step by step as docs/operations.md walks it,
# without Kubernetes, for three control-plane nodes:
# deploy/kubernetes/weft-etcd-certs.sh makes the PKI and passwords; each
# weft-etcd member runs Debian's etcd with exactly the command and args of
# deploy/kubernetes/weft-etcd.yml (tests/k8s/podrun.js does the kubelet's
# part: env from fieldRef and the Secret, $(VAR), mounts mapped);
# weft-etcd-auth.sh turns authentication on with its own `kubectl exec`
# etcdctl commands (a kubectl on PATH runs them in the member, and only for
# the namespace, DaemonSet and container of the manifest); weftd from
# weft.yml, with the Secret the docs make, gets its lease on two nodes and
# moves to another member when the first one dies. The nodes' credential
# fails everywhere outside <prefix>/ (each probe shown to work as root or
# inside the prefix), and the liveness probe still answers.
# labels: deploy;root;etcd;npm
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
h_init
h_underlay
for n in 1 2; do
	h_node_add "$n"
done
kdir="$WEFT_SRC/deploy/kubernetes"
work="$WEFT_SRC/tests/k8s"
NODE_PATH=$(bash "$work/setup.sh" 2>"$H_TMP/npm.log") || { cat "$H_TMP/npm.log" >&2; h_fail "npm ci"; }
export NODE_PATH
# Control-plane nodes cp1..cp3 at 198.18.0.251..253.
CPS=(1 2 3)
cp_ns() { echo "$H_RUN-cp$1"; }
cp_ip() { echo "198.18.0.25$1"; }
for i in "${CPS[@]}"; do
	h_netns_add "$(cp_ns "$i")"
	h_attach "$(cp_ns "$i")" "cp$i" "$(cp_ip "$i")/24"
done

# container_cmd JSON: CMD=(env -i PATH=... K=V... ARGV...) from podrun.js.
container_cmd() {
	local k
	local -a envs=() argv=()
	while read -r k; do
		envs+=("$(base64 -d <<<"$k")")
	done < <(jq -r '.env | to_entries[] | "\(.key)=\(.value)" | @base64' <<<"$1")
	while read -r k; do
		argv+=("$(base64 -d <<<"$k")")
	done < <(jq -r '.argv[] | @base64' <<<"$1")
	CMD=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
	for k in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		[ -n "${!k:-}" ] && CMD+=("$k=${!k}")
	done
	CMD+=("${envs[@]}" "${argv[@]}")
}

# 1. The PKI and passwords, on "the control-plane node" cp1.
pki="$H_TMP/weft-etcd"
"$kdir/weft-etcd-certs.sh" "$pki" "cp1=$(cp_ip 1)" "cp2=$(cp_ip 2)" "cp3=$(cp_ip 3)" \
	>"$H_TMP/certs.log" 2>&1 || { cat "$H_TMP/certs.log" >&2; h_fail "weft-etcd-certs.sh"; }
"$kdir/weft-etcd-certs.sh" "$pki" "cp1=$(cp_ip 1)" >/dev/null 2>&1 &&
	h_fail "weft-etcd-certs.sh overwrote an existing CA"
h_assert_eq "" "$(find "$pki" -type f ! -perm 600)" "files readable by others"
openssl x509 -in "$pki/node.crt" -noout -subject | h_grep -v "CN" ||
	h_fail "the nodes' certificate has a Common Name"
openssl verify -CAfile "$pki/ca.crt" "$pki/server.crt" "$pki/node.crt" >/dev/null ||
	h_fail "certificates do not verify"

# 2. Secret weft-etcd-server, as `kubectl create secret --from-file` makes it.
srv="$H_TMP/secret-weft-etcd-server"
mkdir -p "$srv"
cp "$pki/ca.crt" "$pki/server.crt" "$pki/server.key" "$pki/initial-cluster" "$srv/"

# 3. The members, from the manifest.
declare -A MEMBER
for i in "${CPS[@]}"; do
	spec=$(node "$work/podrun.js" "$kdir/weft-etcd.yml" etcd --node-ip "$(cp_ip "$i")" \
		--node-name "cp$i" --host-path "/var/lib/weft-etcd=$H_TMP/cp$i-var-lib-weft-etcd" \
		--secret "weft-etcd-server=$srv") || h_fail "render weft-etcd"
	container_cmd "$spec"
	[ "$i" = 1 ] && h_log "weft-etcd on cp1: $(jq -r '.argv | join(" ")' <<<"$spec")"
	h_bg "$(cp_ns "$i")" "$H_TMP/etcd$i.log" "${CMD[@]}"
	MEMBER[$i]=$H_LAST_PID
done
# From the manifest: the liveness probe's URL, and where `kubectl exec`
# lands (namespace, DaemonSet, container, the mount of the member's PKI).
read -r probe_url k_ns k_ds k_ctr k_pki < <(node -e '
	const YAML = require("yaml");
	const d = YAML.parseAllDocuments(require("fs").readFileSync(process.argv[1], "utf8"))
		.map((x) => x.toJS()).find((x) => x && x.kind === "DaemonSet");
	const c = d.spec.template.spec.containers[0];
	const g = c.livenessProbe.httpGet;
	const pki = c.volumeMounts.find((m) => m.name === "pki").mountPath;
	console.log(`http://${g.host}:${g.port}${g.path}`, d.metadata.namespace, d.metadata.name, c.name, pki);
' "$kdir/weft-etcd.yml") || h_fail "reading weft-etcd.yml"
[ -n "$k_pki" ] || h_fail "reading weft-etcd.yml"
probe() { ip netns exec "$(cp_ns "$1")" curl -sf -m 2 "$probe_url"; }
for i in "${CPS[@]}"; do
	h_wait_for 60 "weft-etcd on cp$i healthy ($probe_url)" probe "$i" ||
		{ tail -20 "$H_TMP/etcd$i.log" >&2; h_fail "weft-etcd on cp$i did not start"; }
done

# 4. Authentication on, with the script the docs use; etcdctl reached the
# way `kubectl exec` reaches it in the member (its own certificate).
# The script's own etcdctl command runs: a kubectl on PATH that does what
# `kubectl exec -i` into that container does, for exactly that container.
mkdir -p "$H_TMP/bin"
cat >"$H_TMP/bin/kubectl" <<EOF
#!/usr/bin/env bash
[ "\${*:1:8}" = "-n $k_ns exec -i ds/$k_ds -c $k_ctr --" ] ||
	{ echo "kubectl (test): not an exec into $k_ns ds/$k_ds -c $k_ctr: \$*" >&2; exit 2; }
shift 8
from='$k_pki' to='$srv'
exec ip netns exec "$(cp_ns 1)" "\${@//"\$from"/"\$to"}"
EOF
chmod +x "$H_TMP/bin/kubectl"
PATH="$H_TMP/bin:$PATH" "$kdir/weft-etcd-auth.sh" "$pki" >"$H_TMP/auth.log" 2>&1 ||
	{ cat "$H_TMP/auth.log" >&2; h_fail "weft-etcd-auth.sh"; }
member_etcdctl() { # I: etcdctl inside member I, as the docs' `kubectl exec`
	echo "ip netns exec $(cp_ns "$1") etcdctl --endpoints=https://127.0.0.1:12379 \
--cacert=$srv/ca.crt --cert=$srv/server.crt --key=$srv/server.key"
}
# root, as docs/operations.md inspects the store (in member ROOT_AT).
ROOT_AT=1
root() {
	# shellcheck disable=SC2086
	$(member_etcdctl "$ROOT_AT") --dial-timeout=2s --command-timeout=5s --user root \
		--password "$(cat "$pki/root.password")" "$@"
}
OTHER=/registry/secrets/kube-system/not-weft
root put "$OTHER" secret >/dev/null || h_fail "root cannot write"
for i in "${CPS[@]}"; do
	probe "$i" || h_fail "cp$i: liveness probe fails once authentication is on"
done

# 5. Secret weft-etcd: the nodes' credential, as the docs create it.
sec="$H_TMP/secret-weft-etcd"
mkdir -p "$sec"
cp "$pki/endpoints" "$pki/ca.crt" "$sec/"
cp "$pki/node.crt" "$sec/tls.crt"
cp "$pki/node.key" "$sec/tls.key"
cp "$pki/weft.password" "$sec/password"

# 6. weftd from weft.yml on two nodes.
declare -A WEFTD
cm="$H_TMP/configmap"
node "$work/podrun.js" --write-config-map "$kdir/weft.yml" weft-config "$cm" || h_fail "ConfigMap"
for n in 1 2; do
	d="$H_TMP/n$n"
	mkdir -p "$d/run-weft" "$d/opt-cni-bin" "$d/etc-cni-net.d"
	spec=$(node "$work/podrun.js" "$kdir/weft.yml" weftd --node-ip "198.18.0.$n" --node-name "node$n" \
		--host-path "/run/weft=$d/run-weft" --host-path "/opt/cni/bin=$d/opt-cni-bin" \
		--host-path "/etc/cni/net.d=$d/etc-cni-net.d" --config-map "weft-config=$cm" \
		--secret "weft-etcd=$sec" --image-file "/usr/local/bin/weftd=$WEFT_BIN/weftd") ||
		h_fail "render weftd"
	container_cmd "$spec"
	h_bg "$(h_node_ns "$n")" "$H_TMP/weftd$n.log" "${CMD[@]}"
	WEFTD[$n]=$H_LAST_PID
done
for n in 1 2; do
	h_wait_for 30 "node $n subnet.env through weft-etcd" test -s "$H_TMP/n$n/run-weft/subnet.env" ||
		{ tail -20 "$H_TMP/weftd$n.log" >&2; h_fail "node $n got no lease"; }
done
h_assert_eq "$(jq -cS . "$cm/net-conf.json")" \
	"$(root get --print-value-only /coreos.com/network/config | jq -cS .)" "config written as weft"
for n in 1 2; do
	sub=$(sed -n 's/^FLANNEL_SUBNET=//p' "$H_TMP/n$((3 - n))/run-weft/subnet.env")
	sub=${sub%.*}.0/${sub#*/}
	h_wait_for 10 "node $n routes node $((3 - n))'s $sub" \
		bash -c "ip -n '$(h_node_ns "$n")' route show proto 87 | grep -q '^$sub '" ||
		h_fail "node $n has no route to $sub"
done
key1=$(root get --prefix --keys-only /coreos.com/network/subnets/ | grep . | head -1)
[ -n "$key1" ] || h_fail "no lease key"

# 7. The nodes' credential outside the prefix: through the gateway weftd uses
# and through etcdctl, refused; the same probe inside the prefix works.
gw() { # PATH JSON [token]: HTTP status, body in $H_TMP/gw.out
	ip netns exec "$(h_node_ns 1)" curl -s -o "$H_TMP/gw.out" -w '%{http_code}' -m 5 \
		--cacert "$sec/ca.crt" --cert "$sec/tls.crt" --key "$sec/tls.key" \
		${3:+-H "Authorization: $3"} -X POST "$(cut -d, -f1 "$sec/endpoints")$1" -d "$2"
}
b64() { printf '%s' "$1" | base64 -w0; }
h_assert_eq 200 "$(gw /v3/auth/authenticate "{\"name\":\"weft\",\"password\":\"$(cat "$sec/password")\"}")" \
	"weft logs in"
tok=$(jq -r .token "$H_TMP/gw.out")
h_assert_eq 200 "$(gw /v3/kv/range "{\"key\":\"$(b64 "$key1")\"}" "$tok")" "read inside the prefix"
[ "$(jq -r '.count' "$H_TMP/gw.out")" = 1 ] || h_fail "inside read found nothing: $(cat "$H_TMP/gw.out")"
refused() { # WHAT PATH JSON
	h_assert_eq 403 "$(gw "$2" "$3" "$tok")" "$1 (HTTP status)"
	h_grep "permission denied" "$H_TMP/gw.out" || h_fail "$1: $(cat "$H_TMP/gw.out")"
	h_log "refused: $1"
}
refused "read outside the prefix" /v3/kv/range "{\"key\":\"$(b64 "$OTHER")\"}"
refused "read of the whole store" /v3/kv/range '{"key":"AA==","range_end":"AA=="}'
refused "write outside the prefix" /v3/kv/put "{\"key\":\"$(b64 "$OTHER")\",\"value\":\"$(b64 x)\"}"
refused "adding a member" /v3/cluster/member/add '{"peerURLs":["https://198.18.0.9:12380"]}'
refused "adding a user" /v3/auth/user/add '{"name":"evil","password":"x"}'
refused "turning auth off" /v3/auth/disable '{}'
node_etcdctl() {
	ip netns exec "$(h_node_ns 1)" etcdctl --dial-timeout=2s --command-timeout=5s \
		--endpoints "${NODE_EP:-$(cat "$sec/endpoints")}" --cacert "$sec/ca.crt" --cert "$sec/tls.crt" \
		--key "$sec/tls.key" --user weft --password "$(cat "$sec/password")" "$@"
}
node_etcdctl get --keys-only "$key1" | h_grep -x "$key1" || h_fail "etcdctl as weft inside the prefix"
node_etcdctl get "$OTHER" >"$H_TMP/ctl.out" 2>&1 && h_fail "etcdctl as weft read $OTHER"
h_grep "permission denied" "$H_TMP/ctl.out" || h_fail "etcdctl as weft: $(cat "$H_TMP/ctl.out")"
NODE_EP=$(cut -d, -f1 "$sec/endpoints") node_etcdctl snapshot save "$H_TMP/snap.db" >"$H_TMP/ctl.out" 2>&1 && h_fail "weft took a snapshot"
h_grep "permission denied" "$H_TMP/ctl.out" || h_fail "snapshot as weft: $(cat "$H_TMP/ctl.out")"
h_assert_eq secret "$(root get --print-value-only "$OTHER")" "the key outside, as root"
h_assert_eq 3 "$(root member list | grep -c started)" "members"
root user list >"$H_TMP/users"
h_assert_eq "root weft" "$(sort "$H_TMP/users" | xargs)" "etcd users"
# Without the password the certificate alone is nobody.
h_assert_eq 400 "$(gw /v3/kv/range "{\"key\":\"$(b64 "$key1")\"}")" "read without a token"

# cp1, the first endpoint, dies: both nodes carry on through cp2/cp3 as
# weft (watch and keepalive), and see a lease written afterwards.
h_kill "${MEMBER[1]}" KILL
ROOT_AT=2
used=$(cat "$H_TMP"/n[12]/run-weft/subnet.env)
for third in 250 251 252; do
	[[ $used == *"=10.244.$third.1/"* ]] || break
done
# (cp1 may have been the leader: the write waits for a new one.)
h_wait_for 30 "root writes a lease through cp2" root put "/coreos.com/network/subnets/10.244.$third.0-24" \
	'{"PublicIP":"198.18.0.96","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:96"}}' ||
	h_fail "root write through cp2"
for n in 1 2; do
	h_wait_for 30 "node $n sees a lease written after cp1 died" \
		bash -c "ip -n '$(h_node_ns "$n")' route show proto 87 | grep -q '^10.244.$third.0/24 '" ||
		{ tail -20 "$H_TMP/weftd$n.log" >&2; h_fail "node $n lost etcd with cp1"; }
done
probe 2 || h_fail "cp2 liveness probe"
for n in 1 2; do
	kill -TERM "${WEFTD[$n]}" 2>/dev/null || h_fail "weftd of node $n is gone"
	h_wait_pid "${WEFTD[$n]}" 10 || h_fail "weftd of node $n did not stop"
	wait "${WEFTD[$n]}" || h_fail "weftd of node $n exited $? after SIGTERM"
done
exit 0
