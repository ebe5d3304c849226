#!/usr/bin/env bash
# Slow and idle clients cannot starve the health endpoint. weftd serves
# /healthz on the node address; an attacker host on the underlay holds
# connections open from many source addresses, half idle, half dripping
# one header byte a second. Meanwhile a probe from the node (as the kubelet
# does) must get 200 within 1 s every time: first with 200 such clients,
# then with more than the endpoint's connection limit. One address alone
# holds no more than the per-client limit.
# labels: health;root;etcd
# timeout: 180
source "$WEFT_SRC/tests/lib/harness.sh"
source "$WEFT_SRC/tests/integration/lease_common.sh"
h_init
h_cluster 1
ns1=$(h_node_ns 1)
atk="$H_RUN-atk"
h_netns_add "$atk"
h_attach "$atk" atk 198.18.0.100/24
# 75 source addresses: 198.18.0.100..174
srcs=()
for i in $(seq 100 174); do
	srcs+=("198.18.0.$i")
done
printf 'addr add %s/24 dev eth0\n' "${srcs[@]:1}" | ip -n "$atk" -batch - ||
	h_fail "attacker addresses"

l_start 1 --health-addr 198.18.0.1:9872
url=http://198.18.0.1:9872/healthz
h_wait_for 10 "health endpoint up" ip netns exec "$ns1" curl -sf --max-time 1 "$url" ||
	h_fail "no health endpoint"

# probe_series N: N probes 0.5 s apart from the node; fails on any answer
# other than 200 or slower than 1 s. Prints the worst time; sets HELD to
# the most connections weftd held at once meanwhile.
probe_series() {
	local n=$1 worst=0 out code t bad=0 e i
	HELD=0
	for i in $(seq "$n"); do
		# ss -p is slow with many sockets: every other round
		if [ $((i % 2)) = 1 ]; then
			e=$(established)
			[ "$e" -gt "$HELD" ] && HELD=$e
		fi
		out=$(ip netns exec "$ns1" curl -s -o /dev/null --max-time 3 \
			-w '%{http_code} %{time_total}' "$url")
		read -r code t <<<"$out"
		awk -v t="$t" -v w="$worst" 'BEGIN {exit !(t > w)}' && worst=$t
		if [ "$code" != 200 ] || awk -v t="$t" 'BEGIN {exit !(t > 1.0)}'; then
			h_log "probe: $code in ${t}s"
			bad=$((bad + 1))
		fi
		sleep 0.5
	done
	h_log "probes: $n, failed or slower than 1 s: $bad, worst ${worst}s; weftd held up to $HELD"
	[ "$bad" -eq 0 ]
}

# established [ADDR]: connections to the endpoint weftd has accepted (ss
# shows weftd as their owner; ones still in the backlog have none), from
# ADDR if given.
established() {
	local f="( sport = :9872 )"
	[ -n "${1:-}" ] && f="( sport = :9872 and dst $1 )"
	ip netns exec "$ns1" ss -Htnp state established "$f" | grep -c '"weftd"'
}

# flood PER_SOURCE ADDRS...: the slow clients, in the background (for at
# most 40 s); flood_end stops them and shows their summary.
flood() {
	local per=$1
	shift
	h_bg "$atk" "$H_TMP/flood.log" python3 "$WEFT_SRC/tests/integration/slow_clients.py" \
		198.18.0.1 9872 40 "$per" "$@"
	flood_pid=$H_LAST_PID
}
flood_end() {
	h_kill "$flood_pid"
	tail -1 "$H_TMP/flood.log" >&2
}

# 1. 200 slow clients from 25 addresses (8 each).
# held_over N: weftd holds more than N connections.
held_over() { [ "$(established)" -gt "$1" ]; }
flood 8 "${srcs[@]:0:25}"
# The probe of the flood: weftd really holds them.
h_wait_for 15 "weftd holds the 200 slow clients" held_over 150 ||
	h_fail "the flood did not get through: weftd holds $(established)"
probe_series 12 || h_fail "probes failed under 200 slow clients"
flood_end

# 2. One address alone: at most the per-client limit is held, and the
# probe is unaffected.
flood 100 "${srcs[0]}"
holds_some() { [ "$(established "${srcs[0]}")" -ge 1 ]; }
h_wait_for 15 "the single-address flood connects" holds_some || {
	ip netns exec "$ns1" ss -Htnp state established | head -5 >&2
	ip netns exec "$ns1" ss -Htna | awk '{print $1}' | sort | uniq -c >&2
	h_wait_pid "$flood_pid" 10
	cat "$H_TMP/flood.log" >&2
	cat "$H_TMP/flood.log" >&2
	h_fail "the single-address flood holds nothing: the probe of ss is wrong"
}
probe_series 4 || h_fail "probes failed under a one-address flood"
[ "$HELD" -le 16 ] || h_fail "one address holds $HELD connections (limit 16)"
flood_end

# 3. More clients than the connection limit: 600 from 75 addresses.
flood 8 "${srcs[@]}"
# The flood presses on the limit (256); weftd keeps below it by closing the
# connections that waited longest (from 224 on).
h_wait_for 15 "the flood presses on the limit" held_over 200 ||
	h_fail "the flood did not get through: weftd holds $(established)"
probe_series 8 || h_fail "probes failed with the connection limit reached"
[ "$HELD" -lt 256 ] || h_fail "weftd held $HELD connections"
flood_end
l_alive 1 || h_fail "weftd died"
l_stop 1
