#!/usr/bin/env python3
"""Slow HTTP clients against one server, for the health endpoint tests.

slow_clients.py HOST PORT SECONDS PER_SOURCE SRC_ADDR...

Holds PER_SOURCE connections from each source address for SECONDS. Half of
them send nothing; the other half send a request line and then one header
byte a second, never finishing the headers. A connection the server closes
is opened again 50 ms later, so the pressure stays. Ends after SECONDS or
on SIGTERM with one line: connections opened, connect errors.
"""
import errno
import selectors
import signal
import socket
import sys
import time


def main():
    host, port, seconds, per = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    sources = sys.argv[5:]
    try:
        import resource
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sel = selectors.DefaultSelector()
    opened = 0
    slots = [(src, i % 2 == 1) for src in sources for i in range(per)]
    conns = {}
    errors = {}
    pending = []

    def connect(slot):
        nonlocal opened
        src, drip = slots[slot]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((src, 0))
        err = s.connect_ex((host, port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            errors[err] = errors.get(err, 0) + 1
            pending.append((time.monotonic() + 0.05, slot))
            return
        opened += 1
        conns[s] = [slot, 0, drip]
        sel.register(s, selectors.EVENT_READ)

    for i in range(len(slots)):
        connect(i)
    end = time.monotonic() + seconds
    next_drip = time.monotonic() + 0.2
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                connect(pending.pop(0)[1])
            for key, _ in sel.select(timeout=0.05):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    slot = conns.pop(s)[0]
                    sel.unregister(s)
                    s.close()
                    pending.append((time.monotonic() + 0.05, slot))
            if time.monotonic() >= next_drip:
                next_drip += 1.0
                for s, st in list(conns.items()):
                    if not st[2]:
                        continue
                    msg = b"GET /healthz HTTP/1.1\r\nX" if st[1] == 0 else b"x"
                    try:
                        s.send(msg)
                        st[1] += 1
                    except OSError:
                        pass
    except KeyboardInterrupt:
        pass
    print(f"opened {opened} connect-errors {errors}", flush=True)


if __name__ == "__main__":
    main()
