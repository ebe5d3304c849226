#!/usr/bin/env bash
# Least privilege: etcd with client-certificate TLS and authentication on,
# user "weft" holding only readwrite on <prefix>/. weftd, logged in as weft
# (a client certificate without a Common Name plus a password), does its
# whole job: writes the config from --net-config-file, acquires, updates a
# reservation, keeps its lease alive, sees peers join and leave, restarts,
# survives an etcd restart. The same credential is refused outside the
# prefix (each probe shown to work inside it or as root). A certificate whose
# Common Name is the user scopes etcdctl (gRPC) the same way; etcd's gateway
# refuses it, so weftd speaks gRPC with it (and exits 1 with a clear message
# when forced onto the gateway).
# Users and certificates as docs/operations.md sets up kubeadm's etcd with
# authentication: the API server's certificate (Common Name
# kube-apiserver-etcd-client) is a password-less user with the root role and
# keeps full access; kubeadm's healthcheck certificate reaches nothing.
# labels: lease;root;etcd
# timeout: 300
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
source "$WEFT_SRC/tests/integration/scoped_common.sh"
h_init
h_underlay
for n in 1 2 3 4; do
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
	# The gateway dials etcd with the server certificate: clientAuth too, and
	# a Common Name that is no etcd user.
	mkcert server "/CN=weft-etcd-server" "subjectAltName=IP:198.18.0.254,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth"
	mkcert node "/O=weft" "extendedKeyUsage=clientAuth"  # no Common Name
	mkcert weft "/CN=weft" "extendedKeyUsage=clientAuth" # Common Name = user
	mkcert apiserver "/CN=kube-apiserver-etcd-client" "extendedKeyUsage=clientAuth"
	mkcert healthcheck "/CN=kube-etcd-healthcheck-client" "extendedKeyUsage=clientAuth"
) >"$H_TMP/pki.log" 2>&1 || { cat "$H_TMP/pki.log" >&2; h_fail "openssl"; }

H_ETCD_SCHEME=https
H_ETCDCTL_TLS="--cacert $pki/ca.crt --cert $pki/apiserver.crt --key $pki/apiserver.key"
ETCD_ARGS=(--cert-file "$pki/server.crt" --key-file "$pki/server.key" --client-cert-auth
	--trusted-ca-file "$pki/ca.crt" --auth-token-ttl 2)
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
		h_etcdctl user add weft:s3cret &&
		h_etcdctl user grant-role weft weft &&
		h_etcdctl put "$SECRET_KEY" "cluster-secret" &&
		h_etcdctl auth enable
} >"$H_TMP/auth.log" 2>&1 || { cat "$H_TMP/auth.log" >&2; h_fail "auth setup"; }
# From here h_etcdctl is the API server: its certificate's Common Name names
# a user with the root role (gRPC).
printf 's3cret\n' >"$H_TMP/pw"
netconf=$H_NET_CONFIG
printf '%s\n' "$netconf" >"$H_TMP/net-conf.json"
NODE=(--etcd-cafile "$pki/ca.crt" --etcd-certfile "$pki/node.crt" --etcd-keyfile "$pki/node.key"
	--etcd-username weft --etcd-password-file "$H_TMP/pw" --lease-ttl 4)
L_ENDPOINTS=https://$H_ETCD_IP:2379

sc_lifecycle

# The same credential outside the prefix, through the gateway weftd uses.
gw() { # PATH JSON [token]: HTTP status, body in $H_TMP/gw.out
	ip netns exec "$(h_node_ns 1)" curl -s -o "$H_TMP/gw.out" -w '%{http_code}' -m 5 \
		--cacert "$pki/ca.crt" --cert "$pki/${GW_CERT:-node}.crt" --key "$pki/${GW_CERT:-node}.key" \
		${3:+-H "Authorization: $3"} -X POST "$L_ENDPOINTS$1" -d "$2"
}
b64() { printf '%s' "$1" | base64 -w0; }
h_assert_eq 200 "$(gw /v3/auth/authenticate '{"name":"weft","password":"s3cret"}')" "weft logs in"
tok=$(jq -r .token "$H_TMP/gw.out")
# The probe works: inside the prefix the same read returns node 1's key.
h_assert_eq 200 "$(gw /v3/kv/range "{\"key\":\"$(b64 "$key1")\"}" "$tok")" "read inside the prefix"
h_assert_eq "$(l_value 198.18.0.1)" "$(jq -r '.kvs[0].value' "$H_TMP/gw.out" | base64 -d)" \
	"value read inside the prefix"
refused() { # WHAT PATH JSON
	local code
	code=$(gw "$2" "$3" "$tok")
	h_assert_eq 403 "$code" "$1 (HTTP status)"
	h_grep "permission denied" "$H_TMP/gw.out" || h_fail "$1: $(cat "$H_TMP/gw.out")"
	h_log "refused: $1 -> $code $(jq -r .error "$H_TMP/gw.out")"
}
refused "read of a cluster Secret" /v3/kv/range "{\"key\":\"$(b64 "$SECRET_KEY")\"}"
refused "read of the whole store" /v3/kv/range '{"key":"AA==","range_end":"AA=="}'
refused "write of a cluster Secret" /v3/kv/put "{\"key\":\"$(b64 "$SECRET_KEY")\",\"value\":\"$(b64 stolen)\"}"
refused "write beside the prefix" /v3/kv/put "{\"key\":\"$(b64 "${L_PREFIX}X")\",\"value\":\"$(b64 x)\"}"
refused "delete of a cluster Secret" /v3/kv/deleterange "{\"key\":\"$(b64 "$SECRET_KEY")\"}"
refused "adding a user" /v3/auth/user/add '{"name":"evil","password":"x"}'
refused "turning auth off" /v3/auth/disable '{}'
# ... while root still reads the Secret unchanged, and nothing was added.
h_assert_eq cluster-secret "$(h_etcdctl get --print-value-only "$SECRET_KEY")" "the Secret as root"
h_assert_eq "" "$(h_etcdctl get --keys-only "${L_PREFIX}X")" "key beside the prefix"
h_etcdctl user list >"$H_TMP/users"
h_assert_eq "kube-apiserver-etcd-client root weft" "$(sort "$H_TMP/users" | xargs)" "etcd users"
# The API server's identity keeps what it needs: writes anywhere, compaction.
h_etcdctl put /registry/pods/default/p1 pod >/dev/null || h_fail "API server identity cannot write"
rev=$(h_etcdctl get /registry/pods/default/p1 -w json | jq -r .header.revision)
h_etcdctl compaction "$rev" >/dev/null || h_fail "API server identity cannot compact"
# kubeadm's healthcheck certificate, a root credential without
# authentication, is nobody now.
ETCDCTL_API=3 ip netns exec "$H_RUN-etcd" etcdctl --dial-timeout=2s --command-timeout=5s \
	--endpoints https://127.0.0.1:2379 --cacert "$pki/ca.crt" --cert "$pki/healthcheck.crt" \
	--key "$pki/healthcheck.key" get "$SECRET_KEY" >"$H_TMP/hc.out" 2>&1 &&
	h_fail "the healthcheck certificate read a Secret"
h_grep "permission denied" "$H_TMP/hc.out" || h_fail "healthcheck certificate: $(cat "$H_TMP/hc.out")"
# Without a token the same certificate is nobody.
h_assert_eq 400 "$(gw /v3/kv/range "{\"key\":\"$(b64 "$key1")\"}")" "read without a token"
h_grep "user name is empty" "$H_TMP/gw.out" || h_fail "no token: $(cat "$H_TMP/gw.out")"

# The user named by the certificate's Common Name: etcdctl (gRPC) is weft,
# scoped like the password login.
cn() {
	ETCDCTL_API=3 ip netns exec "$H_RUN-etcd" etcdctl --dial-timeout=2s --command-timeout=5s \
		--endpoints https://127.0.0.1:2379 --cacert "$pki/ca.crt" --cert "$pki/weft.crt" \
		--key "$pki/weft.key" "$@"
}
h_assert_eq "$(l_value 198.18.0.1)" "$(cn get --print-value-only "$key1")" "CN=weft reads inside the prefix"
cn get "$SECRET_KEY" >"$H_TMP/cn.out" 2>&1 && h_fail "CN=weft read a Secret: $(cat "$H_TMP/cn.out")"
h_grep "permission denied" "$H_TMP/cn.out" || h_fail "CN=weft Secret read: $(cat "$H_TMP/cn.out")"
cn put "$SECRET_KEY" stolen >"$H_TMP/cn.out" 2>&1 && h_fail "CN=weft wrote a Secret"
h_grep "permission denied" "$H_TMP/cn.out" || h_fail "CN=weft Secret write: $(cat "$H_TMP/cn.out")"
# etcd's gateway refuses that certificate outright once auth is on ...
h_assert_eq 400 "$(GW_CERT=weft gw /v3/kv/range "{\"key\":\"$(b64 "$key1")\"}")" "gateway with CN=weft"
h_grep "CommonName of client" "$H_TMP/gw.out" || h_fail "CN=weft on the gateway: $(cat "$H_TMP/gw.out")"
# ... so weftd with only that certificate speaks gRPC and gets its lease
# (test_lease_scoped_cn.sh runs the whole lifecycle that way) ...
l_start 4 --etcd-cafile "$pki/ca.crt" --etcd-certfile "$pki/weft.crt" --etcd-keyfile "$pki/weft.key"
h_wait_for 15 "node 4 subnet.env as CN=weft" test -s "$(h_subnet_file 4)" ||
	{ cat "$H_TMP/n4.log" >&2; h_fail "no lease as CN=weft over gRPC"; }
# Which transport weftd chose shows only in its log.
h_grep "etcd transport: grpc" "$H_TMP/n4.log" || h_fail "node 4 did not choose gRPC"
h_assert_eq "$(l_value 198.18.0.4)" "$(h_etcdctl get --print-value-only "$(l_key_of 198.18.0.4)")" \
	"node 4 lease as CN=weft"
l_stop 4
rm -f "$(h_subnet_file 4)"
# ... while forced onto the gateway it stops with a clear message.
: >"$H_TMP/n4.log"
l_start 4 --etcd-cafile "$pki/ca.crt" --etcd-certfile "$pki/weft.crt" --etcd-keyfile "$pki/weft.key" \
	--etcd-transport json
h_wait_pid "${L_PID[4]}" 15 || h_fail "weftd kept running with a CN certificate on the gateway"
wait "${L_PID[4]}"
h_assert_eq 1 "$?" "exit status with a CN certificate on the gateway"
grep -q "authentication failed: etcd's gateway refuses a client certificate with a Common Name" \
	"$H_TMP/n4.log" || { cat "$H_TMP/n4.log" >&2; h_fail "no clear message for a CN certificate"; }
h_lacks "sanitizer report from node 4" Sanitizer cat "$H_TMP/n4.log"
# A certificate without a Common Name and no user: a clear message too.
: >"$H_TMP/n4.log"
l_start 4 --etcd-cafile "$pki/ca.crt" --etcd-certfile "$pki/node.crt" --etcd-keyfile "$pki/node.key"
h_wait_pid "${L_PID[4]}" 15 || h_fail "weftd kept running without a user"
wait "${L_PID[4]}"
h_assert_eq 1 "$?" "exit status without a user"
# The message is in the log only.
grep -q "authentication failed: etcdserver: permission denied (the client certificate's Common Name names no etcd user" \
	"$H_TMP/n4.log" || { cat "$H_TMP/n4.log" >&2; h_fail "no clear message without a user"; }
h_no_file "$(h_subnet_file 4)" "node 4 wrote a subnet.env"
# Exit 1 is the setup-error status: not a sanitizer report on the way out.
h_lacks "sanitizer report from node 4" Sanitizer cat "$H_TMP/n4.log"

for n in 1 3; do
	l_stop "$n"
done
