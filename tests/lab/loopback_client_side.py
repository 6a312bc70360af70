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
import sys

import netns

LOOPBACK = "127.0.0.1"


def main():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((LOOPBACK, 0))
    dns_port = udp.getsockname()[1]
    tcp = socket.create_server((LOOPBACK, dns_port))

    netns.serve_dns(udp, tcp, "public", answer=LOOPBACK)
    tidb = socket.create_server((LOOPBACK, 0))
    netns.serve_tcp(tidb, netns.listener_handler("tidb"))
    print(dns_port, tidb.getsockname()[1], flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
