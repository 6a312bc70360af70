#!/usr/bin/env python3
"""tidbpe test lab, network side: a client and a "VPC" in network namespaces.

Usage (root; standard library only, any python3):
    tests/lab/netns.py up --host H [--client-ip IP] [--endpoint IP:MODE ...]
        [--resolver IP:MODE ...] [--answer IP ...] [--nameserver IP ...]
        [--pin IP ...] [--port 4000] [--forward PORT ...] [--name NAME]
    tests/lab/netns.py down --name NAME

`up` builds the lab, prints ONE line of JSON on stdout, and keeps it up until
stdin reaches EOF or SIGTERM/SIGINT arrives; then it stops every process it
started (by PID) and deletes its namespaces and files. `down` removes what a
killed `up` left behind. Logs go to stderr.

Two namespaces joined by a veth pair:
- NAME-v, the VPC: the endpoint's addresses (as moto assigned them) and the
  resolvers' addresses on its end of the veth (the ENI's role); per endpoint address a listener
  on the port, or MariaDB, or an iptables rule; per resolver address a DNS
  server. It has no other link: nothing sent into it leaves it (a "public"
  answer is simply dropped there).
- NAME-c, the client: its address, a default route into NAME-v, and
  /etc/netns/NAME-c/{resolv.conf,hosts}, which `ip netns exec NAME-c` mounts
  over /etc/resolv.conf and /etc/hosts: the system resolver and hosts file
  that a process run there sees. `--forward PORT` makes 127.0.0.1:PORT inside
  the client reach 127.0.0.1:PORT of the host (moto, IMDS).

Endpoint MODEs: tidb (a TiDB greeting, TLS offered), mariadb (Debian's
mariadbd), err (an ERR packet, then close), garbage (an SSH banner), silent
(accepts, says nothing), close (accepts, hangs up at once), greet-close (a
TiDB greeting, then hangs up), none (nothing listens: refused), drop /
reject / unreachable (a TiDB listener behind an iptables rule: DROP, REJECT
with tcp-reset, REJECT with icmp-host-unreachable).

Resolver MODEs: answer (dnsmasq: the host has the --answer addresses, A
only; other names of its domain are NXDOMAIN), servfail, refused, nxdomain
(a small responder answering that code to every name), public (a small
responder answering every A question with the public address PUBLIC_ANSWER,
and no AAAA: what a resolver outside the VPC says), silent (receives, never
answers). Nothing is ever sent to PUBLIC_ANSWER beyond the VPC namespace,
which has no way out: packets to it die there.
"""

import argparse
import ctypes
import ipaddress
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

os.environ["PATH"] = "/usr/local/sbin:/usr/sbin:/sbin:" + os.environ.get("PATH", "/usr/bin:/bin")

CLONE_NEWNET = 0x40000000
LINK_VPC = "169.254.0.1"      # the VPC namespace's end of the veth
LINK_CLIENT = "169.254.0.2"   # the client's end, when it has no --client-ip
ENDPOINT_MODES = ("tidb", "mariadb", "err", "garbage", "silent", "close", "greet-close", "none",
                  "drop", "reject", "unreachable")
RESOLVER_MODES = ("answer", "servfail", "refused", "nxdomain", "public", "silent")
PUBLIC_ANSWER = "3.5.140.10"
TIDB_VERSION = "8.0.11-TiDB-v7.5.2-serverless"
READY_TIMEOUT = 20.0

_libc = ctypes.CDLL(None, use_errno=True)


def log(msg):
    print(f"netns.py: {msg}", file=sys.stderr, flush=True)


def run(*cmd, check=True):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


class InNetns:
    """Switch this thread into a named network namespace, and back.

    Namespaces are per thread: sockets created inside stay in the namespace;
    other threads are not affected. Never start a thread inside."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)

    def __exit__(self, *exc):
        try:
            _setns(self.home)
        finally:
            os.close(self.home)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


# --- MySQL packets ------------------------------------------------------------

def mysql_packet(payload, seq=0):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def tidb_greeting(version=TIDB_VERSION):
    caps = 0x0008_8a09  # LONG_PASSWORD CONNECT_WITH_DB PROTOCOL_41 SSL SECURE_CONNECTION PLUGIN_AUTH
    p = b"\x0a" + version.encode() + b"\x00" + struct.pack("<I", 42) + b"abcdefgh\x00"
    p += struct.pack("<HBHH", caps & 0xFFFF, 46, 2, caps >> 16) + bytes([21]) + bytes(10)
    p += b"ijklmnopqrst\x00" + b"mysql_native_password\x00"
    return mysql_packet(p)


def err_packet(code, message):
    return mysql_packet(b"\xff" + struct.pack("<H", code) + b"#HY000" + message.encode())


# --- servers in threads (their sockets live in a namespace) --------------------

def serve_tcp(sock, handler):
    def accept_loop():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(conn,), daemon=True).start()
    threading.Thread(target=accept_loop, daemon=True).start()


def hold(conn):
    """Wait for the client to hang up (bounded)."""
    conn.settimeout(60)
    try:
        while conn.recv(512):
            pass
    except OSError:
        pass
    conn.close()


def listener_handler(mode):
    def handle(conn):
        try:
            if mode in ("tidb", "drop", "reject", "unreachable"):
                conn.sendall(tidb_greeting())
            elif mode == "greet-close":
                conn.sendall(tidb_greeting())
                conn.close()
                return
            elif mode == "err":
                conn.sendall(err_packet(1105, "this endpoint is not allowed to connect to the cluster"))
                conn.close()
                return
            elif mode == "garbage":
                conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
            elif mode == "close":
                conn.close()
                return
        except OSError:
            pass
        hold(conn)
    return handle


def dns_reply(query, rcode, a_record=None):
    """A reply to `query` with this response code: no answer, or `a_record`
    (an IPv4 address) when the question is for an A record."""
    if len(query) < 12:
        return None
    at = 12
    while at < len(query) and query[at] != 0:
        at += 1 + query[at]
    end = at + 5
    if end > len(query):
        return None
    qtype = struct.unpack(">H", query[at + 1:at + 3])[0]
    answer = b""
    if a_record is not None and qtype == 1:
        # The name by a pointer to the question (offset 12), A, IN, TTL 60.
        answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(a_record)
    flags = struct.pack(">BB", 0x80 | (query[2] & 0x79), 0x80 | rcode)
    counts = struct.pack(">HHHH", 1, 1 if answer else 0, 0, 0)
    return query[:2] + flags + counts + query[12:end] + answer


def serve_dns(udp, tcp, mode, answer=PUBLIC_ANSWER):
    """Answer every question with `mode`'s code; "public" answers every A
    question with `answer` (PUBLIC_ANSWER unless given)."""
    rcode = {"servfail": 2, "refused": 5, "nxdomain": 3, "public": 0}.get(mode)
    a_record = answer if mode == "public" else None

    def udp_loop():
        while True:
            try:
                q, peer = udp.recvfrom(1500)
            except OSError:
                return
            reply = dns_reply(q, rcode, a_record) if rcode is not None else None
            if reply:
                udp.sendto(reply, peer)

    def tcp_conn(conn):
        conn.settimeout(60)
        try:
            while True:
                head = conn.recv(2)
                if len(head) < 2:
                    break
                q = b""
                want = struct.unpack(">H", head)[0]
                while len(q) < want:
                    chunk = conn.recv(want - len(q))
                    if not chunk:
                        return
                    q += chunk
                reply = dns_reply(q, rcode, a_record) if rcode is not None else None
                if reply:
                    conn.sendall(struct.pack(">H", len(reply)) + reply)
        except OSError:
            pass
        finally:
            conn.close()

    threading.Thread(target=udp_loop, daemon=True).start()
    serve_tcp(tcp, tcp_conn)


def forward(listen_sock, port):
    """127.0.0.1:port inside the client -> 127.0.0.1:port of the host."""
    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle(conn):
        try:
            up = socket.create_connection(("127.0.0.1", port), timeout=5)
            up.settimeout(None)
        except OSError:
            conn.close()
            return
        # Relayed as it comes: Nagle would hold a small second write for
        # the peer's delayed ACK (~40 ms a kept-alive IMDS answer).
        for s in (conn, up):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump, args=(conn, up), daemon=True).start()
        pump(up, conn)
    serve_tcp(listen_sock, handle)


# --- the lab ----------------------------------------------------------------

class Lab:
    def __init__(self, args):
        self.args = args
        self.name = args.name
        self.client_ns = f"{self.name}-c"
        self.vpc_ns = f"{self.name}-v"
        self.etc = f"/etc/netns/{self.client_ns}"
        self.state = tempfile.mkdtemp(prefix=f"{self.name}-")
        self.children = {}   # label -> Popen
        self.sockets = []
        self.port = args.port
        self.endpoints = [parse_pair(e, ENDPOINT_MODES, "--endpoint") for e in args.endpoint]
        self.resolvers = [parse_pair(r, RESOLVER_MODES, "--resolver") for r in
                          (args.resolver or ["169.254.169.253:answer"])]
        self.answers = args.answer or [ip for ip, _ in self.endpoints]
        self.nameservers = args.nameserver or [self.resolvers[0][0]]
        self.client_ip = args.client_ip or LINK_CLIENT

    # Namespaces, links, addresses, routes, files.
    def network(self):
        for ns in (self.client_ns, self.vpc_ns):
            if os.path.exists(f"/run/netns/{ns}"):
                raise RuntimeError(f"namespace {ns} exists: run `netns.py down --name {self.name}` first")
        run("ip", "netns", "add", self.client_ns)
        run("ip", "netns", "add", self.vpc_ns)
        c, v = ("ip", "-n", self.client_ns), ("ip", "-n", self.vpc_ns)
        run("ip", "link", "add", "eth0", "netns", self.client_ns, "type", "veth",
            "peer", "name", "eth0", "netns", self.vpc_ns)
        for ns in (c, v):
            run(*ns, "link", "set", "lo", "up")
            run(*ns, "link", "set", "eth0", "up")
        run(*v, "addr", "add", f"{LINK_VPC}/32", "dev", "eth0")
        for ip in dict.fromkeys([ip for ip, _ in self.endpoints] + [ip for ip, _ in self.resolvers]):
            run(*v, "addr", "add", f"{ip}/32", "dev", "eth0")
        run(*v, "route", "add", f"{self.client_ip}/32", "dev", "eth0")
        run(*c, "addr", "add", f"{self.client_ip}/32", "dev", "eth0")
        run(*c, "route", "add", f"{LINK_VPC}/32", "dev", "eth0")
        run(*c, "route", "add", "default", "via", LINK_VPC, "dev", "eth0", "src", self.client_ip)
        os.makedirs(self.etc, exist_ok=True)
        with open(f"{self.etc}/resolv.conf", "w") as f:
            f.write("# tidbpe lab\n" + "".join(f"nameserver {ns}\n" for ns in self.nameservers))
        with open(f"{self.etc}/hosts", "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")
            f.write("".join(f"{ip} {self.args.host}\n" for ip in self.args.pin))

    def firewall(self):
        rules = {"drop": ["-j", "DROP"],
                 "reject": ["-j", "REJECT", "--reject-with", "tcp-reset"],
                 "unreachable": ["-j", "REJECT", "--reject-with", "icmp-host-unreachable"]}
        for ip, mode in self.endpoints:
            if mode in rules:
                run("ip", "netns", "exec", self.vpc_ns, "iptables", "-A", "INPUT", "-d", ip, "-p", "tcp",
                    "--dport", str(self.port), *rules[mode])

    def spawn(self, label, *cmd):
        out = open(os.path.join(self.state, f"{label}.log"), "w")
        self.children[label] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                                start_new_session=True)

    def servers(self):
        # Listeners and small DNS responders: sockets bound inside the VPC.
        with InNetns(self.vpc_ns):
            bound = []
            for ip, mode in self.endpoints:
                if mode in ("mariadb", "none"):
                    continue
                s = socket.create_server((ip, self.port), backlog=64)
                bound.append(("listener", s, mode))
            for ip, mode in self.resolvers:
                if mode == "answer":
                    continue
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                udp.bind((ip, 53))
                tcp = socket.create_server((ip, 53))
                bound.append(("dns", (udp, tcp), mode))
        with InNetns(self.client_ns):
            fwd = [(socket.create_server(("127.0.0.1", p)), p) for p in self.args.forward]
        for kind, s, mode in bound:
            if kind == "listener":
                self.sockets.append(s)
                serve_tcp(s, listener_handler(mode))
            else:
                self.sockets.extend(s)
                serve_dns(*s, mode)
        for s, p in fwd:
            self.sockets.append(s)
            forward(s, p)

        answering = [ip for ip, mode in self.resolvers if mode == "answer"]
        if answering:
            hosts = os.path.join(self.state, "dns-hosts")
            with open(hosts, "w") as f:
                f.write("".join(f"{ip} {self.args.host}\n" for ip in self.answers))
            os.chmod(self.state, 0o755)
            domain = self.args.host.split(".", 1)[1] if "." in self.args.host else self.args.host
            self.spawn("dnsmasq", "ip", "netns", "exec", self.vpc_ns, "dnsmasq", "--keep-in-foreground",
                       "--conf-file=/dev/null", "--pid-file=", "--bind-interfaces", "--port=53",
                       *[f"--listen-address={ip}" for ip in answering], "--no-resolv", "--no-hosts",
                       f"--addn-hosts={hosts}", f"--local=/{domain}/", "--log-queries",
                       f"--log-facility={os.path.join(self.state, 'dnsmasq-queries.log')}")
        mariadb = [ip for ip, mode in self.endpoints if mode == "mariadb"]
        if mariadb:
            data = os.path.join(self.state, "mariadb")
            os.makedirs(data)
            # No system tables and no InnoDB: a greeting is all the probes read.
            self.spawn("mariadbd", "ip", "netns", "exec", self.vpc_ns, "mariadbd", "--no-defaults",
                       f"--datadir={data}", "--user=root", "--skip-grant-tables", "--skip-name-resolve",
                       f"--bind-address={','.join(mariadb)}", f"--port={self.port}",
                       f"--socket={os.path.join(self.state, 'mariadb.sock')}",
                       f"--pid-file={os.path.join(self.state, 'mariadb.pid')}",
                       "--innodb=OFF", "--default-storage-engine=Aria", "--default-tmp-storage-engine=Aria",
                       "--skip-log-bin", f"--log-error={os.path.join(self.state, 'mariadb.err')}")
        self.ready(answering, mariadb)

    def ready(self, answering, mariadb):
        """Wait until every server answers from the client's side."""
        deadline = time.monotonic() + READY_TIMEOUT
        pending = [("dns", ip) for ip in answering] + [("tcp", ip) for ip in mariadb]
        while pending:
            for label, child in self.children.items():
                if child.poll() is not None:
                    raise RuntimeError(f"{label} exited with {child.returncode}: "
                                       f"{self.tail(label)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {READY_TIMEOUT:.0f} s: {pending}")
            with InNetns(self.client_ns):
                pending = [p for p in pending if not probe_ready(*p, self.port, self.args.host)]
            if pending:
                time.sleep(0.05)

    def tail(self, label):
        try:
            with open(os.path.join(self.state, f"{label}.log")) as f:
                return f.read()[-500:].strip()
        except OSError:
            return ""

    def info(self):
        return {"name": self.name, "client_ns": self.client_ns, "vpc_ns": self.vpc_ns,
                "client_ip": self.client_ip, "host": self.args.host, "port": self.port,
                "endpoints": {ip: mode for ip, mode in self.endpoints},
                "resolvers": {ip: mode for ip, mode in self.resolvers},
                "answers": self.answers, "nameservers": self.nameservers, "pins": self.args.pin,
                "forwards": self.args.forward, "state_dir": self.state,
                "pids": {label: c.pid for label, c in self.children.items()}}

    def teardown(self):
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass
        for label, child in self.children.items():
            stop(child)
        teardown_names(self.name)
        shutil.rmtree(self.state, ignore_errors=True)


def probe_ready(kind, ip, port, host):
    try:
        if kind == "tcp":
            with socket.create_connection((ip, port), timeout=0.5) as s:
                return s.recv(4) != b""
        q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
        q += b"".join(bytes([len(label)]) + label.encode() for label in host.split(".")) + b"\x00\x00\x01\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.sendto(q, (ip, 53))
            return len(s.recv(512)) >= 12
    except OSError:
        return False


def stop(child):
    """Stop one process we started, by its PID: TERM, then KILL."""
    if child.poll() is not None:
        return
    try:
        os.kill(child.pid, signal.SIGTERM)
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=5)
    except ProcessLookupError:
        pass


def teardown_names(name):
    for ns in (f"{name}-c", f"{name}-v"):
        if os.path.exists(f"/run/netns/{ns}"):
            # Whatever still runs inside was started by this lab.
            pids = run("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            run("ip", "netns", "del", ns, check=False)
    shutil.rmtree(f"/etc/netns/{name}-c", ignore_errors=True)


def parse_pair(text, modes, flag):
    ip, sep, mode = text.rpartition(":")
    if not sep:
        ip, mode = text, modes[0]
    try:
        ip = str(ipaddress.IPv4Address(ip))
    except ValueError:
        raise SystemExit(f"netns.py: {flag} {text!r}: expected IPv4:MODE")
    if mode not in modes:
        raise SystemExit(f"netns.py: {flag} {text!r}: MODE is one of {', '.join(modes)}")
    return ip, mode


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up")
    up.add_argument("--name", default=f"tidbpe-{os.getpid()}", help="namespace prefix")
    up.add_argument("--host", required=True)
    up.add_argument("--port", type=int, default=4000)
    up.add_argument("--client-ip")
    up.add_argument("--endpoint", action="append", default=[], metavar="IP:MODE")
    up.add_argument("--resolver", action="append", default=[], metavar="IP:MODE")
    up.add_argument("--answer", action="append", default=[], metavar="IP")
    up.add_argument("--nameserver", action="append", default=[], metavar="IP")
    up.add_argument("--pin", action="append", default=[], metavar="IP")
    up.add_argument("--forward", action="append", type=int, default=[], metavar="PORT")
    down = sub.add_parser("down")
    down.add_argument("--name", required=True)
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("netns.py: must run as root (network namespaces, iptables)")
    if args.cmd == "down":
        teardown_names(args.name)
        return 0

    lab = Lab(args)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        t0 = time.monotonic()
        lab.network()
        lab.firewall()
        lab.servers()
        log(f"{lab.name} ready in {time.monotonic() - t0:.2f} s")
        print(json.dumps(lab.info()), flush=True)
        watcher = threading.Thread(target=lambda: (sys.stdin.read(), stopping.set()), daemon=True)
        watcher.start()
        while not stopping.wait(0.2):
            pass
        return 0
    except Exception as e:  # noqa: BLE001 - report and clean up whatever failed
        log(f"failed: {e}")
        return 1
    finally:
        lab.teardown()
        log(f"{lab.name} torn down")


if __name__ == "__main__":
    sys.exit(main())
