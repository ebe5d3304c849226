#!/usr/bin/env bash
# Turns on authentication in weft's own etcd, once, right after its members
# first came up (weft-etcd.yml):
#
#   weft-etcd-auth.sh DIR
#
# DIR is what weft-etcd-certs.sh made. Creates user root (password
# DIR/root.password) and user weft (DIR/weft.password) whose only role may
# read and write <prefix>/ (PREFIX, default /coreos.com/network) and nothing
# else, then enables authentication. Until then etcd takes any client
# certificate of its CA; the commands run inside a member with the member's
# own certificate, and passwords go through stdin, never onto a command line.
#
# ETCDCTL overrides how etcdctl is reached (default: kubectl exec into the
# weft-etcd DaemonSet).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
PREFIX=${PREFIX:-/coreos.com/network}
PREFIX=${PREFIX%/}
[[ $PREFIX == /* ]] || { echo "$0: PREFIX must start with /" >&2; exit 2; }
for f in root.password weft.password; do
	[ -s "$dir/$f" ] || { echo "$0: $dir/$f missing" >&2; exit 1; }
done
pki=/etc/weft-etcd/pki
read -ra etcdctl <<<"${ETCDCTL:-kubectl -n kube-weft exec -i ds/weft-etcd -c etcd -- etcdctl \
--endpoints=https://127.0.0.1:12379 --cacert=$pki/ca.crt --cert=$pki/server.crt --key=$pki/server.key}"
run() { "${etcdctl[@]}" "$@"; }

run user add root --interactive=false <"$dir/root.password"
run role add root
run user grant-role root root
run role add weft
# The trailing slash: /coreos.com/network-other stays out of reach.
run role grant-permission weft --prefix=true readwrite "$PREFIX/"
run user add weft --interactive=false <"$dir/weft.password"
run user grant-role weft weft
run auth enable
