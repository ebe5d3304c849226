#!/usr/bin/env bash
# Installs every Debian package weft's build, tests and demo need.
# Idempotent: quiet and quick when everything is present.
set -euo pipefail

PACKAGES=(
	# build
	build-essential cmake pkg-config clang-format
	libmnl-dev libnftnl-dev libcurl4-openssl-dev libssl-dev libjansson-dev
	libmicrohttpd-dev libsystemd-dev libcmocka-dev
	# fuzzing (libFuzzer runtime is only recommended by clang)
	clang libclang-rt-14-dev
	# real peers and tools used by tests and the demo
	etcd-server etcd-client iproute2 nftables iptables containernetworking-plugins
	podman runc busybox-static openssl curl jq iperf3 iputils-ping procps
	netcat-openbsd xxd prometheus
	# the image tests: a Debian base without a registry, kube play's pause
	mmdebstrap catatonit
	# systemd-analyze checks the systemd units offline
	systemd
)

missing=()
for p in "${PACKAGES[@]}"; do
	[[ $p == \#* ]] && continue
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages (${missing[*]}); run as root to install them" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# etcd-server's maintainer script would start etcd where systemd runs; the
# tests start their own, so keep services from starting.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.weft
chmod +x /usr/sbin/policy-rc.d.weft
if [ ! -e /usr/sbin/policy-rc.d ]; then
	ln -s /usr/sbin/policy-rc.d.weft /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.weft' EXIT
else
	rm -f /usr/sbin/policy-rc.d.weft
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
