#!/usr/bin/env bash
# The Kubernetes manifests pass schema validation against the Kubernetes
# OpenAPI schemas (kubernetes-models, strict about unknown fields) and weft's
# own rules; deliberately broken copies are rejected with the right reason;
# every weftd option the DaemonSet sets is one weftd knows.
# Needs no root and never skips. Uses the npm registry (or npm's cache).
# labels: deploy;npm
# timeout: 300
set -euo pipefail
: "${WEFT_SRC:?}" "${WEFT_BUILD:?}" "${WEFT_BIN:?}"

log() { echo "[$(date +%T)] $*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

# The validator's dependencies, installed from its lock file into the build
# tree (never into the source tree).
NODE_PATH=$(bash "$WEFT_SRC/tests/k8s/setup.sh") || fail "npm ci failed"
export NODE_PATH
work="$WEFT_SRC/tests/k8s"

tmp=$(mktemp -d /tmp/weft-manifests.XXXX)
trap 'rm -rf "$tmp"' EXIT

manifests=("$WEFT_SRC/deploy/kubernetes/weft.yml" "$WEFT_SRC/deploy/kubernetes/weft-etcd.yml"
	"$WEFT_SRC/deploy/kubernetes/etcd-secret.yml.tmpl")
validate() { node "$work/validate.js" "$@"; }
mutate() { node "$work/mutate.js" "$@"; }

validate "${manifests[@]}" 2>"$tmp/ok.log" || {
	cat "$tmp/ok.log" >&2
	fail "the shipped manifests do not validate"
}
grep -q "^6 objects checked, 0 problems$" "$tmp/ok.log" ||
	fail "expected 6 objects: $(cat "$tmp/ok.log")"
# Nothing of the install, comments included, points at kubeadm's etcd PKI.
grep -n "/etc/kubernetes/pki\|healthcheck-client" "${manifests[@]}" &&
	fail "the manifests reference kubeadm's etcd certificates"
log "shipped manifests: $(cat "$tmp/ok.log")"

# expect_reject NAME EXPECTED-SUBSTRING FILE KIND PATH set JSON | delete:
# queue a broken copy of FILE; the validator must name the reason for it.
# All copies are made in one mutate.js run and checked in one validate run
# (each problem line starts with the copy's file name).
names=()
wants=()
: >"$tmp/spec"
expect_reject() {
	local name=$1 want=$2
	shift 2
	names+=("$name")
	wants+=("$want")
	(IFS=$'\t'; echo "$name	$*") >>"$tmp/spec"
}
ds="$WEFT_SRC/deploy/kubernetes/weft.yml"
sec="$WEFT_SRC/deploy/kubernetes/etcd-secret.yml.tmpl"
eds="$WEFT_SRC/deploy/kubernetes/weft-etcd.yml"
c0=spec/template/spec/containers/0
# Schema: wrong types.
expect_reject port-type "containerPort must be integer" "$ds" DaemonSet \
	"$c0/ports/0/containerPort" set '"nine-eight-seven-two"'
expect_reject hostnetwork-type "/spec/template/spec/hostNetwork must be boolean" "$ds" DaemonSet \
	spec/template/spec/hostNetwork set '"true"'
expect_reject args-type "/args must be array" "$ds" DaemonSet "$c0/args" set '"--ip-masq"'
expect_reject configmap-data-type "/data/net-conf.json must be string" "$ds" ConfigMap \
	data/net-conf.json set '{"Network":"10.244.0.0/16"}'
expect_reject secret-data-type "/stringData/endpoints must be string" "$sec" Secret \
	stringData/endpoints set '["https://198.18.0.254:2379"]'
expect_reject quantity-type "/resources/requests/memory must match exactly one schema" "$ds" DaemonSet \
	"$c0/resources/requests/memory" set '{"Mi":16}'
# Schema: enums.
expect_reject pull-policy "imagePullPolicy must be equal to one of the allowed values" "$ds" DaemonSet \
	"$c0/imagePullPolicy" set '"Sometimes"'
expect_reject hostpath-type "hostPath/type must be equal to one of the allowed values" "$ds" DaemonSet \
	spec/template/spec/volumes/0/hostPath/type set '"Folder"'
# Schema: missing required fields.
expect_reject no-selector "/spec must have required property selector" "$ds" DaemonSet spec/selector delete
expect_reject no-container-name "containers/0 must have required property name" "$ds" DaemonSet \
	"$c0/name" delete
expect_reject no-volume-name "volumes/1 must have required property name" "$ds" DaemonSet \
	spec/template/spec/volumes/1/name delete
expect_reject no-env-name "env/0 must have required property name" "$ds" DaemonSet "$c0/env/0/name" delete
expect_reject no-probe-port "httpGet must have required property port" "$ds" DaemonSet \
	"$c0/livenessProbe/httpGet/port" delete
# Schema: fields Kubernetes does not know (a typo is not silently dropped).
expect_reject unknown-field "securityContext/privilegd is not a field" "$ds" DaemonSet \
	"$c0/securityContext/privilegd" set 'false'
expect_reject unknown-top "/spec/template/spec/hostnetwork is not a field" "$ds" DaemonSet \
	spec/template/spec/hostnetwork set 'true'
expect_reject unknown-kind "unknown apiVersion/kind apps/v1/DaemonSett" "$ds" DaemonSet kind set '"DaemonSett"'
expect_reject old-api "unknown apiVersion/kind extensions/v1/DaemonSet" "$ds" DaemonSet \
	apiVersion set '"extensions/v1"'
# weft's rules.
expect_reject extra-cap "capability SYS_ADMIN is more than weft needs" "$ds" DaemonSet \
	"$c0/securityContext/capabilities/add" set '["NET_ADMIN","NET_RAW","SYS_ADMIN"]'
expect_reject privileged "container weftd: must not be privileged" "$ds" DaemonSet \
	"$c0/securityContext/privileged" set 'true'
expect_reject no-drop "container weftd: must drop ALL capabilities" "$ds" DaemonSet \
	"$c0/securityContext/capabilities/drop" set '[]'
expect_reject cni-init "container install-cni: writes /etc/cni/net.d before weftd is ready" "$ds" DaemonSet \
	spec/template/spec/initContainers set \
	'[{"name":"install-cni","image":"weft:0.1.0","resources":{"requests":{"cpu":"10m"}},"securityContext":{"capabilities":{"drop":["ALL"]}},"volumeMounts":[{"name":"cni-conf","mountPath":"/host/etc/cni/net.d"}]}]'
expect_reject api-token "automountServiceAccountToken must be false" "$ds" DaemonSet \
	spec/template/spec/automountServiceAccountToken delete
expect_reject no-hostnet "hostNetwork must be true" "$ds" DaemonSet spec/template/spec/hostNetwork delete
expect_reject liveness-path "livenessProbe must GET /healthz" "$ds" DaemonSet \
	"$c0/livenessProbe/httpGet/path" set '"/metrics"'
expect_reject no-requests "container weftd: has no resource requests" "$ds" DaemonSet \
	"$c0/resources/requests" delete
expect_reject no-run-volume "hostPath volume /run/weft is missing" "$ds" DaemonSet \
	spec/template/spec/volumes/0/hostPath/path set '"/run/flannel"'
expect_reject cni-json "cni-conf.json is not valid JSON" "$ds" ConfigMap \
	data/cni-conf.json set '"{\"name\": \"weft\", \"plugins\": ["'
expect_reject cni-no-portmap "plugins must be [weft, portmap], got [weft]" "$ds" ConfigMap \
	data/cni-conf.json set '"{\"name\":\"weft\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"weft\"}]}"'
# The etcd credential: weft's own, scoped, never kubeadm's.
# (Paths that stay valid when volumes or env entries are added or reordered.)
expect_reject kubeadm-pki "/spec/template/spec/volumes/0/hostPath/path references kubeadm's PKI" "$ds" DaemonSet \
	spec/template/spec/volumes/0 set '{"name":"etcd-tls","hostPath":{"path":"/etc/kubernetes/pki/etcd"}}'
expect_reject kubeadm-cert "env/0/value references kubeadm's PKI" "$ds" DaemonSet \
	"$c0/env/0" set '{"name":"WEFTD_ETCD_KEYFILE","value":"/etc/kubernetes/pki/etcd/healthcheck-client.key"}'
expect_reject no-etcd-user "WEFTD_ETCD_USERNAME is missing" "$ds" DaemonSet \
	"$c0/env" set '[{"name":"WEFTD_ETCD_PASSWORD_FILE","value":"/etc/weft/etcd/password"}]'
expect_reject etcd-no-cca "--client-cert-auth=true is missing" "$eds" DaemonSet \
	spec/template/spec/containers/0/args/10 set '"--client-cert-auth=false"'
expect_reject etcd-cap "container etcd: capability NET_ADMIN is more than weft needs" "$eds" DaemonSet \
	spec/template/spec/containers/0/securityContext/capabilities/add set '["NET_ADMIN"]'
expect_reject etcd-pki "references kubeadm's PKI" "$eds" DaemonSet \
	spec/template/spec/volumes/1 set '{"name":"pki","hostPath":{"path":"/etc/kubernetes/pki/etcd"}}'
expect_reject netconf-backend 'Backend.Type must be "vxlan"' "$ds" ConfigMap \
	data/net-conf.json set '"{\"Network\":\"10.244.0.0/16\",\"Backend\":{\"Type\":\"udp\"}}"'

mkdir -p "$tmp/broken"
mutate --batch "$tmp/spec" "$tmp/broken" || fail "could not make the broken copies"
copies=()
for name in "${names[@]}"; do
	copies+=("$tmp/broken/$name.yml")
done
rc=0
validate "${copies[@]}" 2>"$tmp/broken.log" || rc=$?
[ "$rc" -eq 1 ] || fail "validator exit $rc on the broken copies, expected 1"
pass=0
for i in "${!names[@]}"; do
	name=${names[$i]}
	want=${wants[$i]}
	grep "^$name.yml#" "$tmp/broken.log" | grep -F -- "$want" >/dev/null ||
		fail "$name: expected '$want', got: $(grep "^$name.yml#" "$tmp/broken.log" || echo nothing)"
	pass=$((pass + 1))
	log "rejected $name: $(grep "^$name.yml#" "$tmp/broken.log" | grep -F -- "$want" | head -1)"
done
# One copy on its own: the exit status is 1 for a single bad file too.
rc=0
validate "$tmp/broken/${names[0]}.yml" 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "validator exit $rc on ${names[0]}, expected 1"

# Plain YAML damage is reported, not crashed on.
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n\tdata: {}\n' >"$tmp/tab.yml"
rc=0
validate "$tmp/tab.yml" 2>"$tmp/tab.log" || rc=$?
[ "$rc" -eq 1 ] && grep -q "YAML" "$tmp/tab.log" || fail "YAML syntax error not reported: $(cat "$tmp/tab.log")"
pass=$((pass + 1))

# Every weftd option the DaemonSet uses, as a flag or as WEFTD_<NAME>, must be
# one weftd --help lists. weftd runs in a throwaway network namespace.
if [ "$(id -u)" -eq 0 ]; then
	help=$(unshare --net "$WEFT_BIN/weftd" --help) || fail "weftd --help failed"
else
	help=$(unshare --user --map-root-user --net "$WEFT_BIN/weftd" --help) ||
		fail "weftd --help failed (unshare)"
fi
opts=$(validate --print-weftd-options "$ds")
[ -n "$opts" ] || fail "no weftd options found in the DaemonSet"
for o in $opts; do
	grep -qE -- "(^|[[:space:],])$o([[:space:]=,]|$)" <<<"$help" ||
		fail "the DaemonSet sets $o, which weftd --help does not list"
done
log "weftd options used by the DaemonSet are known: $(echo $opts)"

log "$pass broken copies rejected"
