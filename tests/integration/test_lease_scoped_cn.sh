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

lease_id() { h_etcdctl get "$1" -w fields | sed -n 's/^"Lease" : //p'; }
has_route() { ip -n "$(h_node_ns "$1")" route show proto 87 | h_grep "^$2 "; }
no_route() { ! has_route "$@"; }

# Fresh start: the config is absent, so node 1 writes it as weft (gRPC).
[ -z "$(h_etcdctl get "$L_PREFIX/config")" ] || h_fail "config present before the start"
t0=$(date +%s%N)
l_start 1 "${NODE[@]}" --net-config-file "$H_TMP/net-conf.json"
h_wait_for 15 "node 1 subnet.env as weft" test -s "$(h_subnet_file 1)" ||
	{ cat "$H_TMP/n1.log" >&2; h_fail "no lease as weft"; }
h_log "node 1 ready after $((($(date +%s%N) - t0) / 1000000)) ms"
h_grep "etcd transport: grpc" "$H_TMP/n1.log" || h_fail "node 1 did not choose gRPC"
h_assert_eq "$(jq -cS . <<<"$netconf")" "$(h_etcdctl get --print-value-only "$L_PREFIX/config" | jq -cS .)" \
	"config written by weft"
key1=$(l_key_of 198.18.0.1)
h_assert_eq "$(l_value 198.18.0.1)" "$(h_etcdctl get --print-value-only "$key1")" "node 1 lease"
id1=$(lease_id "$key1")
[ "${id1:-0}" != 0 ] || h_fail "node 1's key has no etcd lease"

# A reservation with an outdated value: node 3 takes it and updates it.
RES=$L_PREFIX/subnets/10.244.150.0-24
h_etcdctl put "$RES" '{"PublicIP":"198.18.0.3","BackendType":"vxlan"}' >/dev/null
l_start 3 "${NODE[@]}"
l_start 2 "${NODE[@]}"
for n in 2 3; do
	h_wait_for 15 "node $n subnet.env as weft" test -s "$(h_subnet_file "$n")" ||
		{ cat "$H_TMP/n$n.log" >&2; h_fail "node $n got no lease"; }
done
h_assert_eq 10.244.150.1/24 "$(l_env_subnet 3)" "node 3 took its reservation"
h_assert_eq "$(l_value 198.18.0.3)" "$(h_etcdctl get --print-value-only "$RES")" "reservation updated"
h_assert_eq 0 "$(l_field "$RES" lease)" "reservation stays without lease"
key2=$(l_key_of 198.18.0.2)
sub1=$(l_key_subnet "$key1") sub2=$(l_key_subnet "$key2") sub3=10.244.150.0/24
for pair in "1 $sub2" "1 $sub3" "2 $sub1" "2 $sub3" "3 $sub1" "3 $sub2"; do
	read -r n sub <<<"$pair"
	h_wait_for 10 "node $n routes $sub" has_route "$n" "$sub" || h_fail "node $n has no route to $sub"
done

# Keepalive: the lease TTL (4 s) runs out twice over; same etcd lease.
sleep 8
h_assert_eq "$id1" "$(lease_id "$key1")" "node 1's etcd lease after 8 s"
remaining=$(h_etcdctl lease timetolive "$(printf '%x' "$id1")" | sed -n 's/.*remaining(\(-*[0-9]*\)s).*/\1/p')
[ "${remaining:-0}" -gt 0 ] || h_fail "node 1's lease not renewed (remaining ${remaining:-?} s)"

# Restart: node 1 takes its own key back (same subnet, same etcd lease).
l_stop 1
: >"$H_TMP/n1.log"
l_start 1 "${NODE[@]}" --net-config-file "$H_TMP/net-conf.json"
l_wait_log 1 15 "subnet $sub1 acquired \(reused\)" ||
	{ cat "$H_TMP/n1.log" >&2; h_fail "node 1 did not reuse its lease after the restart"; }
h_assert_eq "$key1" "$(l_key_of 198.18.0.1)" "node 1 key after restart"
h_assert_eq "$id1" "$(lease_id "$key1")" "node 1 etcd lease after restart"

# A peer leaving: node 2 dies, its lease expires, nodes 1 and 3 drop it.
l_stop 2 KILL
for n in 1 3; do
	h_wait_for 15 "node $n drops $sub2" no_route "$n" "$sub2" || h_fail "node $n kept $sub2"
done
has_route 1 "$sub3" || h_fail "node 1 lost its route to node 3"

# etcd restarts: watch and keepalive come back over a new connection.
h_etcd_stop TERM
h_etcd_start "${ETCD_ARGS[@]}"
h_etcdctl put "$L_PREFIX/subnets/10.244.203.0-24" "$(l_value 198.18.0.96)" >/dev/null
for n in 1 3; do
	h_wait_for 20 "node $n sees a lease added after the etcd restart" has_route "$n" 10.244.203.0/24 ||
		{ tail -20 "$H_TMP/n$n.log" >&2; h_fail "node $n: no watch after the etcd restart"; }
done
sleep 6
h_assert_eq "$id1" "$(lease_id "$key1")" "node 1's etcd lease after the etcd restart"
for n in 1 3; do
	l_alive "$n" || h_fail "weftd of node $n exited"
done

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
