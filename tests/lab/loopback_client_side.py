#!/usr/bin/env python3
"""The client side of a benchmark run with probes, all on 127.0.0.1.

Serves a DNS responder (UDP and TCP) that answers every A question with
127.0.0.1 (and no AAAA), and a listener that greets as TiDB (then holds the
connection), as tests/lab/netns.py's do; prints ONE line "DNS_PORT
TIDB_PORT" and serves until stdin reaches EOF. `tidbpe doctor --probe
--dns-server 127.0.0.1:DNS_PORT --port TIDB_PORT` then probes without
leaving loopback (scripts/bench.sh). Standard library only.
"""
import socket
import struct
import sys
import threading

import netns

LOOPBACK = "127.0.0.1"


def main():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((LOOPBACK, 0))
    dns_port = udp.getsockname()[1]
    tcp = socket.create_server((LOOPBACK, dns_port))

    def udp_loop():
        while True:
            try:
                q, peer = udp.recvfrom(1500)
            except OSError:
                return
            reply = netns.dns_reply(q, 0, LOOPBACK)
            if reply:
                udp.sendto(reply, peer)

    def tcp_conn(conn):
        conn.settimeout(10)
        try:
            head = conn.recv(2)
            if len(head) == 2:
                want = struct.unpack(">H", head)[0]
                q = b""
                while len(q) < want:
                    chunk = conn.recv(want - len(q))
                    if not chunk:
                        return
                    q += chunk
                reply = netns.dns_reply(q, 0, LOOPBACK)
                if reply:
                    conn.sendall(struct.pack(">H", len(reply)) + reply)
        except OSError:
            pass
        finally:
            conn.close()

    threading.Thread(target=udp_loop, daemon=True).start()
    netns.serve_tcp(tcp, tcp_conn)
    tidb = socket.create_server((LOOPBACK, 0))
    netns.serve_tcp(tidb, netns.listener_handler("tidb"))
    print(dns_port, tidb.getsockname()[1], flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
