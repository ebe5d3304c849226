#!/usr/bin/env bash
# As test_fault_etcd_member.sh, but the leader (first endpoint) is cut off
# from the underlay instead of killed: no reset reaches the daemons, so the
# keepalive timeout is what moves keepalive and watch to the next endpoint.
# Each node must still renew its own etcd lease (15 s TTL) through another
# member, program a peer lease written after the cut, and lose no ping.
# labels: fault;root;etcd
# timeout: 300
F_MEMBER_FAULT=partition
source "$WEFT_SRC/tests/integration/test_fault_etcd_member.sh"
