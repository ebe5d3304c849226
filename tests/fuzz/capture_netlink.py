#!/usr/bin/env python3
"""Captures rtnetlink messages as the kernel sends them (link, address,
route, neighbour and FDB dumps, an error with extended ack) as seed inputs
for fuzz_netlink. Runs inside a throwaway network namespace made by
capture_netlink.sh; writes one message per file into the given directory.
With --synthetic it writes small hand-made link messages instead (no
kernel needed)."""
import os
import socket
import struct
import sys

NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_GETLINK, RTM_GETADDR, RTM_NEWROUTE, RTM_GETROUTE, RTM_GETNEIGH = 18, 22, 24, 26, 30
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11
AF_BRIDGE = 7


def nlmsg(mtype, flags, seq, body):
    return struct.pack("=LHHLL", 16 + len(body), mtype, flags, seq, 0) + body


def attr(atype, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, atype) + payload + b"\0" * ((4 - n % 4) % 4)


def messages(buf):
    off = 0
    while off + 16 <= len(buf):
        ln, mtype = struct.unpack_from("=LH", buf, off)
        if ln < 16 or off + ln > len(buf):
            break
        yield mtype, buf[off:off + ln]
        off += (ln + 3) & ~3


def talk(sock, req, seq):
    sock.send(req)
    out = []
    while True:
        data = sock.recv(65536)
        for mtype, msg in messages(data):
            out.append((mtype, msg))
            if mtype in (NLMSG_DONE, NLMSG_ERROR):
                return out


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    sock.settimeout(5)
    sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    seq = 1
    dumps = [
        ("link", RTM_GETLINK, struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0)),
        ("addr", RTM_GETADDR, struct.pack("=BBBBI", socket.AF_INET, 0, 0, 0, 0)),
        ("route", RTM_GETROUTE, struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)),
        ("neigh", RTM_GETNEIGH, struct.pack("=BxxxiHBB", socket.AF_INET, 0, 0, 0, 0)),
        ("fdb", RTM_GETNEIGH, struct.pack("=BxxxiHBB", AF_BRIDGE, 0, 0, 0, 0)),
    ]
    for name, mtype, body in dumps:
        seq += 1
        msgs = talk(sock, nlmsg(mtype, NLM_F_REQUEST | NLM_F_DUMP, seq, body), seq)
        for i, (t, msg) in enumerate(msgs):
            kind = "done" if t == NLMSG_DONE else name
            with open(os.path.join(outdir, "%s_%02d" % (kind, i)), "wb") as f:
                f.write(msg)
        # The whole dump as one read, as the receive loop sees it.
        with open(os.path.join(outdir, "%s_dump" % name), "wb") as f:
            f.write(b"".join(m for _, m in msgs))

    # A route via an unreachable gateway: NLMSG_ERROR with extack text,
    # first echoing the request, then capped.
    rtm = struct.pack("=BBBBBBBBI", socket.AF_INET, 24, 0, 0, 254, 3, 0, 1, 0)
    body = rtm + attr(1, socket.inet_aton("10.99.0.0")) + attr(5, socket.inet_aton("10.98.0.1"))
    for name, cap in (("error_extack", 0), ("error_extack_capped", 1)):
        sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, cap)
        seq += 1
        msgs = talk(sock, nlmsg(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | 0x600, seq, body), seq)
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(msgs[-1][1])


def synthetic(outdir):
    """Small link messages shaped like weft's own requests: few attributes,
    so that mutations land on the nests the parser descends into."""
    ifi = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 7, 1, 1)
    vxlan = attr(18, attr(1, b"vxlan\0") + attr(2, attr(1, struct.pack("=I", 1)) +
        attr(4, socket.inet_aton("198.18.0.1")) + attr(15, struct.pack("!H", 8472)) +
        attr(7, b"\0") + attr(3, struct.pack("=I", 2)) + attr(5, b"\x40") + attr(18, b"\0")))
    peer = attr(1, struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0) + attr(3, b"eth0\0") +
        attr(28, struct.pack("=I", 5)) + attr(4, struct.pack("=I", 1450)) +
        attr(1, b"\x02\x00\x00\x00\x00\x03"))
    veth = attr(3, b"veth0a1b2c3d\0") + attr(10, struct.pack("=I", 4)) + \
        attr(20, b"weft:ctr1:eth0\0") + attr(18, attr(1, b"veth\0") + attr(2, peer) +
        attr(4, b"bridge\0") + attr(5, attr(4, b"\x01")))
    msgs = {
        "syn_link_vxlan": ifi + attr(3, b"weft.1\0") + attr(4, struct.pack("=I", 1450)) + vxlan,
        "syn_link_veth": ifi + veth,
    }
    for name, body in msgs.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(nlmsg(16, 0, 0, body))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] == "--synthetic":
        synthetic(sys.argv[1])
    else:
        main()
