#!/usr/bin/env bash
# Makes everything weft's own etcd (weft-etcd.yml) and the weft nodes need,
# with openssl, into a new directory:
#
#   weft-etcd-certs.sh DIR NODE=IP [NODE=IP...]
#
# NODE is the Kubernetes name of a control-plane node that runs a weft-etcd
# member and IP its InternalIP (one member each; 1 or 3 nodes usually).
#
#   ca.crt ca.key          a CA for weft's etcd only (keep ca.key offline)
#   server.crt server.key  the members' certificate: serving (every IP, for
#                          clients and peers) and client (etcd's gateway and
#                          peers dial with it); its Common Name is no user
#   node.crt node.key      the nodes' client certificate: no Common Name (etcd
#                          refuses one on its gateway once authentication is
#                          on), so the user comes from the password alone
#   root.password          etcd user root (keep it on the control plane)
#   weft.password          etcd user weft: readwrite on /coreos.com/network/
#   initial-cluster        --initial-cluster of the members
#   endpoints              the client URLs weftd uses
#
# Nothing here comes from kubeadm's PKI, and nothing the nodes get opens
# anything else. Certificates are valid for DAYS days (default 3650).
set -euo pipefail
umask 077

usage() {
	echo "usage: $0 DIR NODE=IP [NODE=IP...]" >&2
	exit 2
}
[ $# -ge 2 ] || usage
dir=$1
shift
CLIENT_PORT=${CLIENT_PORT:-12379}
PEER_PORT=${PEER_PORT:-12380}
DAYS=${DAYS:-3650}

names=() ips=()
for m in "$@"; do
	name=${m%%=*} ip=${m#*=}
	[[ $m == *=* && $name =~ ^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$ ]] ||
		{ echo "$0: '$m' is not NODE=IP with a Kubernetes node name" >&2; exit 2; }
	[[ $ip =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ || $ip =~ ^[0-9a-fA-F:]+:[0-9a-fA-F:.]*$ ]] ||
		{ echo "$0: '$ip' is not an IP address" >&2; exit 2; }
	names+=("$name")
	ips+=("$ip")
done
if [ -e "$dir" ]; then
	echo "$0: $dir exists; refusing to overwrite a CA" >&2
	exit 1
fi
mkdir -p "$dir"
cd "$dir"

san="IP:127.0.0.1,DNS:localhost"
cluster="" endpoints=""
for i in "${!names[@]}"; do
	ip=${ips[$i]} url_ip=${ips[$i]}
	[[ $ip == *:* ]] && url_ip="[$ip]"
	san+=",IP:$ip"
	cluster+="${cluster:+,}${names[$i]}=https://$url_ip:$PEER_PORT"
	endpoints+="${endpoints:+,}https://$url_ip:$CLIENT_PORT"
done

{
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days "$DAYS" \
		-subj "/O=weft/CN=weft etcd CA" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign"
	# sign NAME SUBJECT EXTENSIONS
	sign() {
		openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
		openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
			-days "$DAYS" -out "$1.crt" -extfile <(printf '%s\n' "$3")
		rm -f "$1.csr"
	}
	sign server "/O=weft/CN=weft-etcd-server" "subjectAltName=$san
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth"
	sign node "/O=weft nodes" "keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
	rm -f ca.srl
} >openssl.log 2>&1 || { cat openssl.log >&2; exit 1; }
rm -f openssl.log
# No trailing newlines: kubectl puts a file into a Secret byte for byte, and
# these become flag values.
printf '%s' "$(openssl rand -hex 24)" >root.password
printf '%s' "$(openssl rand -hex 24)" >weft.password
printf '%s' "$cluster" >initial-cluster
printf '%s' "$endpoints" >endpoints
echo "made $(find . -type f | wc -l) files in $dir; members: $cluster"
