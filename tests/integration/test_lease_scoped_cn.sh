#!/usr/bin/env bash
# Least privilege by certificate: etcd with client-certificate TLS and
# authentication on, user "weft" named by the client certificate's Common
# Name (no password) holding only readwrite on <prefix>/. weftd, given only
# that certificate, speaks gRPC (etcd's gateway refuses a Common Name once
# authentication is on) and does its whole job: writes the config, acquires,
# updates a reservation, keeps its lease alive, sees peers join and leave,
# restarts, survives an etcd restart. The same certificate is refused outside
# the prefix (etcdctl, gRPC too; each probe shown to work inside it first).
# labels: lease;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/scoped_common.sh"
h_init
h_underlay
for n in 1 2 3; do
	h_node_add "$n"
done

pki=$H_TMP/pki
mkdir -p "$pki"
(
	cd "$pki" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
		-subj "/CN=test etcd CA" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign"
	mkcert() { # name subject extensions
		openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
		openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out "$1.crt" -days 2 -extfile <(printf '%s\n' "$3")
	}
	mkcert server "/CN=weft-etcd-server" "subjectAltName=IP:198.18.0.254,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth"
	mkcert weft "/CN=weft" "extendedKeyUsage=clientAuth" # Common Name = user
	mkcert apiserver "/CN=kube-apiserver-etcd-client" "extendedKeyUsage=clientAuth"
) >"$H_TMP/pki.log" 2>&1 || { cat "$H_TMP/pki.log" >&2; h_fail "openssl"; }

H_ETCD_SCHEME=https
H_ETCDCTL_TLS="--cacert $pki/ca.crt --cert $pki/apiserver.crt --key $pki/apiserver.key"
ETCD_ARGS=(--cert-file "$pki/server.crt" --key-file "$pki/server.key" --client-cert-auth
	--trusted-ca-file "$pki/ca.crt")
h_etcd_start "${ETCD_ARGS[@]}"
SECRET_KEY=/registry/secrets/kube-system/bootstrap-token-abcdef
{
	h_etcdctl user add root:rootpw &&
		h_etcdctl role add root &&
		h_etcdctl user grant-role root root &&
		h_etcdctl user add kube-apiserver-etcd-client --no-password &&
		h_etcdctl user grant-role kube-apiserver-etcd-client root &&
		h_etcdctl role add weft &&
		h_etcdctl role grant-permission weft --prefix=true readwrite "$L_PREFIX/" &&
		h_etcdctl user add weft --no-password &&
		h_etcdctl user grant-role weft weft &&
		h_etcdctl put "$SECRET_KEY" "cluster-secret" &&
		h_etcdctl auth enable
} >"$H_TMP/auth.log" 2>&1 || { cat "$H_TMP/auth.log" >&2; h_fail "auth setup"; }
netconf='{"Network":"10.244.0.0/16","SubnetMax":"10.244.199.0","Backend":{"Type":"vxlan"}}'
printf '%s\n' "$netconf" >"$H_TMP/net-conf.json"
NODE=(--etcd-cafile "$pki/ca.crt" --etcd-certfile "$pki/weft.crt" --etcd-keyfile "$pki/weft.key"
	--lease-ttl 4)
L_ENDPOINTS=https://$H_ETCD_IP:2379

sc_lifecycle
# weftd chose gRPC for a certificate without a user name; only its log says.
h_grep "etcd transport: grpc" "$H_TMP/n1.log" || h_fail "node 1 did not choose gRPC"

# The same certificate outside the prefix (etcdctl speaks gRPC too). The
# probe works: inside the prefix it reads node 1's key.
cn() {
	ETCDCTL_API=3 ip netns exec "$H_RUN-etcd" etcdctl --dial-timeout=2s --command-timeout=5s \
		--endpoints https://127.0.0.1:2379 --cacert "$pki/ca.crt" --cert "$pki/weft.crt" \
		--key "$pki/weft.key" "$@"
}
h_assert_eq "$(l_value 198.18.0.1)" "$(cn get --print-value-only "$key1")" "CN=weft reads inside the prefix"
cn put "$L_PREFIX/probe" x >/dev/null || h_fail "CN=weft cannot write inside the prefix"
for probe in "get $SECRET_KEY" "get --prefix /" "put $SECRET_KEY stolen" "put ${L_PREFIX}X x" \
	"del $SECRET_KEY" "user add evil --no-password" "auth disable"; do
	# shellcheck disable=SC2086 # the probe is words
	cn $probe >"$H_TMP/cn.out" 2>&1 && h_fail "CN=weft did: $probe"
	h_grep "permission denied" "$H_TMP/cn.out" || h_fail "CN=weft $probe: $(cat "$H_TMP/cn.out")"
done
h_assert_eq cluster-secret "$(h_etcdctl get --print-value-only "$SECRET_KEY")" "the Secret as root"
h_assert_eq "" "$(h_etcdctl get --keys-only "${L_PREFIX}X")" "key beside the prefix"

for n in 1 3; do
	l_stop "$n"
	if grep -h "Sanitizer" "$H_TMP/n$n.log"; then
		h_fail "sanitizer report from node $n"
	fi
done
