#!/usr/bin/env bash
# etcd with client-certificate auth (certificates made here with openssl):
# weftd works with the right CA, cert and key; with a CA that did not sign
# etcd's certificate it exits with a clear TLS error instead of retrying; a
# missing file is refused before any traffic.
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
	mkca() {
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 2 \
			-subj "/CN=$1" -addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
	}
	mkcert() { # name ca extensions
		openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1"
		openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial \
			-out "$1.crt" -days 2 -extfile <(printf '%s\n' "$3")
	}
	mkca ca
	mkca otherca
	# The 3.4 gateway dials etcd with the server cert: it needs clientAuth too.
	mkcert server ca "subjectAltName=IP:198.18.0.254,IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
	mkcert client ca "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
) >"$H_TMP/pki.log" 2>&1 || { cat "$H_TMP/pki.log" >&2; h_fail "openssl"; }

H_ETCD_SCHEME=https
H_ETCDCTL_TLS="--cacert $pki/ca.crt --cert $pki/client.crt --key $pki/client.key"
h_etcd_start --cert-file "$pki/server.crt" --key-file "$pki/server.key" \
	--client-cert-auth --trusted-ca-file "$pki/ca.crt"
h_net_config

TLS=(--etcd-cafile "$pki/ca.crt" --etcd-certfile "$pki/client.crt" --etcd-keyfile "$pki/client.key")
l_start 1 "${TLS[@]}"
h_wait_for 15 "node 1 subnet.env over TLS" test -s "$(h_subnet_file 1)" ||
	{ cat "$H_TMP/n1.log" >&2; h_fail "no lease over TLS"; }
key=$(l_key_of 198.18.0.1)
h_assert_eq "$(l_value 198.18.0.1)" "$(h_etcdctl get --print-value-only "$key")" "lease over TLS"
h_assert_eq "$(l_gw "$key")" "$(l_env_subnet 1)" "subnet.env over TLS"

# Wrong CA: a clear message and a non-zero exit (nothing to retry).
l_start 2 --etcd-cafile "$pki/otherca.crt" --etcd-certfile "$pki/client.crt" \
	--etcd-keyfile "$pki/client.key"
h_wait_pid "${L_PID[2]}" 15 || h_fail "weftd kept running with a wrong CA"
wait "${L_PID[2]}"
rc=$?
[ "$rc" -ne 0 ] || h_fail "exit status 0 with a wrong CA"
# Messages (here and below) are in the log only.
grep -q "TLS failure: .*certificate" "$H_TMP/n2.log" ||
	{ cat "$H_TMP/n2.log" >&2; h_fail "no clear TLS message"; }
h_log "wrong CA: exit $rc, $(grep -o 'TLS failure.*' "$H_TMP/n2.log")"
h_no_file "$(h_subnet_file 2)" "node 2 wrote a subnet.env"

# A missing key file is refused at start.
l_start 3 --etcd-cafile "$pki/ca.crt" --etcd-certfile "$pki/client.crt" \
	--etcd-keyfile "$pki/nope.key"
h_wait_pid "${L_PID[3]}" 10 || h_fail "weftd started with a missing key file"
wait "${L_PID[3]}" && h_fail "exit status 0 with a missing key file"
grep -q -- "--etcd-keyfile $pki/nope.key: No such file" "$H_TMP/n3.log" ||
	{ cat "$H_TMP/n3.log" >&2; h_fail "no clear message for the missing key"; }

# Plain http against the TLS port: retried (the operator may fix etcd), and
# the log says why.
l_start 3 --etcd-endpoints "http://$H_ETCD_IP:2379"
l_wait_log 3 10 "etcd read of the network config failed" || h_fail "no error logged for http"
l_alive 3 || h_fail "weftd exited on a plain-http endpoint"
l_stop 3
l_stop 1
