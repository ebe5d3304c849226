# shellcheck shell=bash
# Shared by the test_cni_*.sh tests: one node namespace with a subnet.env
# written by the test (no weftd, no etcd), pods as namespaces, and the
# plugin invoked exactly as a runtime does.
#
#   cni_setup [underlay]           node $NODE, $SUBNET_FILE, $DATA_DIR, $NET;
#                                  with "underlay": node 1 of harness.sh's topology
#   cni_pod NAME                   netns $H_RUN-NAME (path $H_RUN-NAME -> /run/netns/...)
#   cni_conf [JQ-FILTER]           the network config, optionally edited
#   cni_run CMD CID POD [IFNAME]   plugin with the config on stdin; stdout = output
#   cni_code OUTPUT                the error code of an error object

# shellcheck source=../lib/harness.sh
source "$WEFT_SRC/tests/lib/harness.sh"

CNI_VERSION=${CNI_VERSION:-1.0.0}

cni_setup() {
	h_init
	NODE="$H_RUN-n1"
	if [ "${1:-}" = underlay ]; then
		h_underlay
		h_node_add 1
	else
		h_netns_add "$NODE"
	fi
	SUBNET_FILE="$H_TMP/subnet.env"
	DATA_DIR="$H_TMP/cni"
	NET=weftnet
	cni_subnet 10.244.3.1/24
}

# cni_subnet GW/LEN [MTU]: (re)write subnet.env for the node.
cni_subnet() {
	printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=%s\nFLANNEL_MTU=%s\nFLANNEL_IPMASQ=true\n' \
		"$1" "${2:-1450}" >"$SUBNET_FILE"
}

cni_pod() { h_netns_add "$H_RUN-$1"; }

cni_conf() {
	jq -c --arg sf "$SUBNET_FILE" --arg dd "$DATA_DIR" --arg v "$CNI_VERSION" --arg n "$NET" \
		"{cniVersion: \$v, name: \$n, type: \"weft\", subnetFile: \$sf, dataDir: \$dd} | ${1:-.}" <<<'{}'
}

# cni_run CMD CID POD [IFNAME]: stdin is the config. POD "" leaves CNI_NETNS
# out; a POD starting with / is used as the path itself.
cni_run() {
	local cmd=$1 cid=$2 pod=$3 ifname=${4:-eth0} netns
	case $pod in
	"") netns= ;;
	/*) netns=$pod ;;
	*) netns=/run/netns/$H_RUN-$pod ;;
	esac
	ip netns exec "$NODE" env CNI_COMMAND="$cmd" CNI_CONTAINERID="$cid" CNI_NETNS="$netns" \
		CNI_IFNAME="$ifname" CNI_PATH=/usr/lib/cni CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=x" \
		"${CNI_PLUGIN:-$WEFT_BIN/weft}"
}

cni_code() { jq -r '.code // empty' <<<"$1" 2>/dev/null; }

# cni_with_prev CONF RESULT: the config with prevResult set.
cni_with_prev() { jq -c --argjson r "$2" '. + {prevResult: $r}' <<<"$1"; }

# cni_store_ips: reserved addresses in the store, one per line (none before
# the first ADD made the store). A store that cannot be listed prints a
# "probe-broken" line, so counts and empty checks fail rather than pass.
cni_store_ips() {
	local dir="$DATA_DIR/$NET" names
	[ -d "$dir" ] || return 0
	names=$(ls "$dir") || { echo "probe-broken: ls $dir"; return 0; }
	grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' <<<"$names" || true
}

# cni_host_veths: weft's host veths in the node ("probe-broken" when the
# node's links cannot be listed).
cni_host_veths() {
	local links
	links=$(ip -n "$NODE" -o link show type veth) || { echo "probe-broken: no netns $NODE"; return 0; }
	awk -F': ' '{print $2}' <<<"$links" | cut -d@ -f1 | grep '^veth' || true
}
