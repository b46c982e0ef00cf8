"""Shared helpers for the capture scenarios in testdata/gen/scenarios.

Each scenario is a small program that runs real ZeroMQ peers (pyzmq over
Debian's libzmq, or go-zeromq/zmq4 programs) on 127.0.0.1 while tcpdump
records loopback, and writes truth.json from what the peers themselves sent
and received. This module holds:

  * Capture: start tcpdump, wait for its "listening on" line, stop it with
    SIGINT after waiting (on the capture itself) for every TCP connection to
    close.
  * Truth / Conn / Dir: the ground-truth document (format in
    testdata/pcaps/README.md).
  * read_pcap / zmtp_summary: a tiny independent pcap reader and ZMTP 3.x
    frame counter, used only to cross-check the peers' accounting before a
    case is written (so a wrong envelope rule in a scenario fails loudly).
"""

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

import zmq

GEN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(GEN_DIR))
# ZSPY_PCAPS writes cases elsewhere (trying a scenario without touching the corpus).
PCAPS = os.environ.get("ZSPY_PCAPS") or os.path.join(REPO, "testdata", "pcaps")

LIBZMQ = "libzmq %s (pyzmq %s)" % (zmq.zmq_version(), zmq.__version__)


def log(*a):
    print("[%s]" % os.path.basename(sys.argv[0]), *a, file=sys.stderr, flush=True)


def case_dir(name):
    d = os.path.join(PCAPS, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("capture."):
            os.remove(os.path.join(d, f))
    return d


def src(client_port, server_port, host="127.0.0.1"):
    """libzmq endpoint that connects from a fixed source port."""
    return "tcp://%s:%d;%s:%d" % (host, client_port, host, server_port)


def wait_ports_free(ports, timeout=90):
    """Waits until none of ports is held by a socket (e.g. TIME_WAIT from a
    previous run of the same case), so fixed source ports can be bound."""
    deadline = time.time() + timeout
    while True:
        out = subprocess.run(["ss", "-tanH"], capture_output=True, text=True).stdout
        busy = set()
        for line in out.splitlines():
            f = line.split()
            if len(f) < 5:
                continue
            for ep in (f[3], f[4]):
                try:
                    p = int(ep.rsplit(":", 1)[1])
                except ValueError:
                    continue
                if p in ports:
                    busy.add(p)
        if not busy:
            return
        if time.time() > deadline:
            raise SystemExit("ports still busy: %s" % sorted(busy))
        time.sleep(0.5)


class Capture:
    """tcpdump on loopback, started before traffic and stopped after close."""

    def __init__(self, path, ports, iface="lo", extra=None, pcapng=False):
        self.path = path
        self.ports = list(ports)
        self.iface = iface
        filt = " or ".join("tcp port %d" % p for p in self.ports)
        cmd = ["tcpdump", "-Z", "root", "-i", iface, "-U", "-s", "0", "-B", "65536", "--immediate-mode", "-n"]
        if pcapng:
            # tcpdump writes pcapng only via --pcapng? 4.99 has no such flag;
            # pcapng is produced by converting (see pcapng.py).
            pass
        cmd += ["-w", path] + (extra or []) + [filt]
        self.cmd = cmd
        self.proc = None
        self.stats = ""

    def __enter__(self):
        return self.start()

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        buf = b""
        deadline = time.time() + 20
        while b"listening on" not in buf:
            r, _, _ = select.select([self.proc.stderr], [], [], max(0.0, deadline - time.time()))
            if not r:
                raise SystemExit("tcpdump did not start: %r" % buf)
            chunk = os.read(self.proc.stderr.fileno(), 4096)
            if not chunk:
                raise SystemExit("tcpdump exited: %r" % buf)
            buf += chunk
        log("tcpdump ready:", buf.decode().strip().splitlines()[-1])
        return self

    def __exit__(self, et, ev, tb):
        if self.proc and self.proc.poll() is None:
            if et is None:
                self.stop()
            else:  # keep the scenario's own error visible
                self.proc.send_signal(signal.SIGINT)
                self.proc.communicate(timeout=20)

    def wait_closed(self, timeout=10, conns=None):
        """Waits until the capture file shows every TCP connection closed in
        both directions (FIN each way, or an RST). conns: expected number of
        connections, if known (waits for them to appear as well)."""
        deadline = time.time() + timeout
        while True:
            try:
                st = tcp_states(read_pcap(self.path))
            except (OSError, ValueError):
                st = {}
            open_ = [k for k, v in st.items() if not v["closed"]]
            if not open_ and (conns is None or len(st) >= conns):
                return st
            if time.time() > deadline:
                log("warning: connections not closed in capture after %ss: %s" % (timeout, open_))
                return st
            time.sleep(0.05)

    def wait_for(self, pred, timeout=10, what="condition"):
        """Waits until pred(streams(capture so far)) is true: an explicit,
        bounded wait on what the capture already shows."""
        deadline = time.time() + timeout
        while True:
            try:
                ss = streams(read_pcap(self.path))
            except (OSError, ValueError):
                ss = {}
            if pred(ss):
                return ss
            if time.time() > deadline:
                raise SystemExit("timed out waiting for %s in capture" % what)
            time.sleep(0.02)

    def wait_commands(self, client_port, server_port, commands, timeout=10):
        """Waits until the client->server stream carries commands (in order,
        as a prefix). On loopback a segment in the capture is already in the
        receiver's socket buffer; the receiving libzmq I/O thread reads it
        within microseconds, which callers allow for with settle_pub()."""
        key = (("127.0.0.1", client_port), ("127.0.0.1", server_port))

        def ok(ss):
            st = ss.get(key)
            return st is not None and zmtp3_parse(st["data"])["commands"][:len(commands)] == commands
        return self.wait_for(ok, timeout, "commands %s on %d->%d" % (commands, client_port, server_port))

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=20)
        self.stats = err.decode()
        if "\n0 packets dropped by kernel" not in "\n" + self.stats.split("received by filter")[-1].lstrip():
            raise SystemExit("tcpdump lost packets: %s" % " ".join(self.stats.split()))
        if not os.path.exists(self.path) or os.path.getsize(self.path) <= 24:
            raise SystemExit("empty capture %s" % self.path)
        log("tcpdump done:", " ".join(self.stats.split()))


# ----------------------------------------------------------------- truth


class Dir:
    """What crossed the wire in one direction of one connection."""

    def __init__(self):
        self.messages = 0
        self.frames = 0
        self.bytes = 0
        self.commands = None
        self.legacy_subscriptions = None

    def msg(self, parts, envelope=0):
        """Counts one message of parts (bytes) plus envelope empty frames
        (REQ/REP delimiters) that the socket added on the wire."""
        self.messages += 1
        self.frames += len(parts) + envelope
        self.bytes += sum(len(p) for p in parts)

    def cmds(self, *names):
        self.commands = list(names)

    def to_json(self):
        d = {"messages": self.messages, "frames": self.frames, "bytes": self.bytes}
        if self.commands is not None:
            d["commands"] = self.commands
        if self.legacy_subscriptions is not None:
            d["legacy_subscriptions"] = self.legacy_subscriptions
        return d


class Conn:
    def __init__(self, cid, client_type, server_type, client_port, server_port,
                 mechanism="NULL", zmtp="3.1", client_lib=LIBZMQ, server_lib=LIBZMQ):
        self.d = {
            "id": cid,
            "client": {"addr": "127.0.0.1", "port": client_port, "socket_type": client_type,
                       "library": client_lib},
            "server": {"addr": "127.0.0.1", "port": server_port, "socket_type": server_type,
                       "library": server_lib},
            "mechanism": mechanism,
            "zmtp_version": zmtp,
            "state": "closed",
            "handshake_captured": True,
        }
        for side, st in (("client", client_type), ("server", server_type)):
            if st in ("REQ", "DEALER", "ROUTER"):
                self.d[side]["identity"] = ""  # libzmq sends an empty Identity property
        self.c2s = Dir()
        self.s2c = Dir()

    def set(self, **kw):
        self.d.update(kw)
        return self

    def identity(self, side, ident):
        self.d[side]["identity"] = ident
        return self

    def to_json(self):
        d = dict(self.d)
        d["c2s"] = self.c2s.to_json()
        d["s2c"] = self.s2c.to_json()
        return d


class Truth:
    def __init__(self, case, description, capture="capture.pcap", link_type="EN10MB"):
        self.case = case
        self.d = {
            "case": case,
            "description": description,
            "capture": capture,
            "link_type": link_type,
            "generator": "testdata/gen/scenarios/%s.py" % case,
            "notes": [],
        }
        self.conns = []

    def conn(self, *a, **kw):
        c = Conn(*a, **kw)
        self.conns.append(c)
        return c

    def note(self, s):
        self.d["notes"].append(s)

    def write(self, out):
        d = dict(self.d)
        d["connections"] = [c.to_json() for c in self.conns]
        with open(os.path.join(out, "truth.json"), "w") as f:
            json.dump(d, f, indent=2)
            f.write("\n")
        log("wrote", os.path.join(out, "truth.json"))
        return d


# ----------------------------------------------------------------- pcap


def read_pcap(path):
    """Yields (ts, linktype, packet bytes) from a classic pcap file (tolerates
    a truncated last record, as while tcpdump is still writing)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("not a pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    lt = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        if off + 16 + incl > len(data):
            break
        out.append((sec + frac / (1e9 if nano else 1e6), lt, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out


def ip_payload(lt, pkt):
    if lt == 1:  # EN10MB
        if len(pkt) < 14 or pkt[12:14] != b"\x08\x00":
            return None
        return pkt[14:]
    if lt == 276:  # LINUX_SLL2
        if len(pkt) < 20 or pkt[0:2] != b"\x08\x00":
            return None
        return pkt[20:]
    if lt == 113:  # LINUX_SLL
        if len(pkt) < 16 or pkt[14:16] != b"\x08\x00":
            return None
        return pkt[16:]
    if lt in (0, 108):  # NULL/LOOP
        return pkt[4:]
    return None


def tcp_segments(pkts):
    """Yields (ts, src, dst, flags, seq, payload) for IPv4/TCP packets."""
    for ts, lt, pkt in pkts:
        ip = ip_payload(lt, pkt)
        if ip is None or len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:tot]
        if len(tcp) < 20:
            continue
        sp, dp, seq = struct.unpack(">HHI", tcp[:8])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        win = struct.unpack(">H", tcp[14:16])[0]
        s = (socket.inet_ntoa(ip[12:16]), sp)
        d = (socket.inet_ntoa(ip[16:20]), dp)
        yield ts, s, d, flags, seq, tcp[doff:], win


def tcp_states(pkts):
    """Per connection (keyed by sorted endpoints): FIN/RST seen per direction."""
    st = {}
    for ts, s, d, flags, seq, payload, win in tcp_segments(pkts):
        k = tuple(sorted([s, d]))
        c = st.setdefault(k, {"fin": set(), "rst": False, "closed": False, "syn_rst": False})
        if flags & 0x04:
            c["rst"] = True
        if flags & 0x01:
            c["fin"].add(s)
        c["closed"] = c["rst"] or len(c["fin"]) == 2
    return st


def streams(pkts):
    """Reassembles each TCP direction in sequence order (drops retransmitted
    overlap). Returns {(src, dst): {"data": bytes, "syn": bool, "zero_window": bool}}."""
    out = {}
    for ts, s, d, flags, seq, payload, win in tcp_segments(pkts):
        st = out.setdefault((s, d), {"next": None, "chunks": [], "syn": False,
                                     "zero_window": False, "rst": False, "fin": False})
        if flags & 0x02:
            st["syn"] = True
            st["next"] = (seq + 1) & 0xFFFFFFFF
            continue
        if flags & 0x04:
            st["rst"] = True
        if flags & 0x01:
            st["fin"] = True
        if win == 0 and not flags & 0x04:
            st["zero_window"] = True
        if not payload:
            continue
        if st["next"] is None:
            st["next"] = seq
        delta = (seq - st["next"]) & 0xFFFFFFFF
        if delta >= 0x80000000:  # starts before next: overlap
            skip = (st["next"] - seq) & 0xFFFFFFFF
            payload = payload[skip:]
            delta = 0
        if delta != 0:
            st["gap"] = True
        if payload:
            st["chunks"].append(payload)
            st["next"] = (st["next"] + len(payload)) & 0xFFFFFFFF
    for st in out.values():
        st["data"] = b"".join(st.pop("chunks"))
    return out


def zmtp3_parse(data, skip_greeting=True, mechanism=None):
    """Counts ZMTP 3.x data frames, bytes and commands in one direction.
    Returns dict(messages, frames, bytes, commands, curve_messages, rest)."""
    r = {"messages": 0, "frames": 0, "bytes": 0, "commands": [], "curve_frames": 0,
         "curve_bytes": 0, "rest": 0, "version": None, "mechanism": mechanism}
    off = 0
    if skip_greeting:
        if len(data) < 64:
            r["rest"] = len(data)
            return r
        r["version"] = "%d.%d" % (data[10], data[11])
        r["mechanism"] = data[12:32].rstrip(b"\0").decode()
        off = 64
    while off + 2 <= len(data):
        fl = data[off]
        if fl & 2:
            if off + 9 > len(data):
                break
            size = struct.unpack(">Q", data[off + 1:off + 9])[0]
            h = 9
        else:
            size = data[off + 1]
            h = 2
        if off + h + size > len(data):
            break
        body = data[off + h:off + h + size]
        if fl & 4:
            if body[:5] == b"\x5eRROR":  # libzmq's PLAIN ERROR ("\x05E" read as 0x5E)
                name = "ERROR"
            else:
                name = body[1:1 + body[0]].decode("latin-1") if body else ""
            r["commands"].append(name)
        elif r["mechanism"] == "CURVE" and body[:8] == b"\x07MESSAGE":
            r["curve_frames"] += 1
            r["curve_bytes"] += size - 33
        else:
            r["frames"] += 1
            r["bytes"] += size
            if not fl & 1:
                r["messages"] += 1
        off += h + size
    r["rest"] = len(data) - off
    return r


def verify(out, truth_doc, capture="capture.pcap", zmtp3=True, strict=True):
    """Cross-checks truth_doc against an independent parse of the capture.
    Only for NULL/PLAIN/CURVE ZMTP 3.x connections with fixed client ports."""
    pkts = read_pcap(os.path.join(out, capture))
    ss = streams(pkts)
    bad = []
    for c in truth_doc["connections"]:
        cp, sp = c["client"]["port"], c["server"]["port"]
        if not cp or c.get("state") == "refused":
            continue
        greeting = c.get("handshake_captured", True)
        ca, sa = ("127.0.0.1", cp), ("127.0.0.1", sp)
        for dname, key in (("c2s", (ca, sa)), ("s2c", (sa, ca))):
            if key not in ss:
                bad.append("%s %s: no data in capture" % (c["id"], dname))
                continue
            p = zmtp3_parse(ss[key]["data"], skip_greeting=greeting, mechanism=c["mechanism"])
            want = c[dname]
            if c["mechanism"] == "CURVE":
                got = {"frames": p["curve_frames"], "bytes": p["curve_bytes"]}
            else:
                got = {"messages": p["messages"], "frames": p["frames"], "bytes": p["bytes"]}
            for k, v in got.items():
                if want.get(k) != v:
                    bad.append("%s %s %s: truth %s, capture %s" % (c["id"], dname, k, want.get(k), v))
            if "commands" in want and want["commands"] != p["commands"]:
                bad.append("%s %s commands: truth %s, capture %s" % (c["id"], dname, want["commands"], p["commands"]))
            wantv = c.get(("client" if dname == "c2s" else "server") + "_zmtp") or c["zmtp_version"]
            if p["version"] and p["version"] != wantv:
                bad.append("%s %s version: truth %s, capture %s" % (c["id"], dname, wantv, p["version"]))
            if p["rest"]:
                bad.append("%s %s: %d trailing bytes" % (c["id"], dname, p["rest"]))
    if bad:
        for b in bad:
            log("VERIFY:", b)
        if strict:
            raise SystemExit("verification failed for %s" % out)
    else:
        log("verified against capture")
    return bad


def zctx():
    return zmq.Context()


def socket_maker(ctx):
    """Returns sock(kind, **opts): a socket of ctx with a 10 s receive timeout,
    a 1 s linger, and each zmq option named in opts set (sock(zmq.ROUTER,
    ROUTING_ID=b"x"))."""
    def sock(kind, **o):
        s = ctx.socket(kind)
        s.setsockopt(zmq.RCVTIMEO, 10000)
        s.setsockopt(zmq.LINGER, 1000)
        for k, v in o.items():
            s.setsockopt(getattr(zmq, k), v)
        return s
    return sock


def monitor(ctx, sock, name):
    """Attaches a v1 socket monitor; returns the PAIR socket reading it."""
    ep = "inproc://mon-%s" % name
    sock.monitor(ep, zmq.EVENT_ALL)
    m = ctx.socket(zmq.PAIR)
    m.connect(ep)
    return m


def wait_event(mon, event, count=1, timeout=10):
    """Reads monitor events until count events of kind event were seen."""
    from zmq.utils.monitor import recv_monitor_message
    seen = []
    deadline = time.time() + timeout
    n = 0
    while n < count:
        left = deadline - time.time()
        if left <= 0 or not mon.poll(int(left * 1000)):
            raise SystemExit("timed out waiting for monitor event %d (seen %s)" % (event, seen))
        ev = recv_monitor_message(mon)
        try:
            seen.append(zmq.Event(ev["event"]).name)
        except ValueError:
            seen.append(ev["event"])
        if ev["event"] == int(event):
            n += 1
    return seen


def settle_pub(sock, grace=0.1):
    """After the capture shows subscriptions reached a PUB's host: allows
    the PUB's I/O thread a bounded moment to read them, then makes the
    socket process them. Scenarios then assert the SUBs' exact counts, so a
    lost race fails generation instead of writing a wrong truth."""
    time.sleep(grace)
    settle(sock)


def settle(sock):
    """getsockopt(ZMQ_EVENTS) makes libzmq process pending commands (pipe
    attach, subscriptions) without the throttling that send applies."""
    return sock.getsockopt(zmq.EVENTS)


class ZapHandler:
    """A ZAP (RFC 27) handler thread in the peers' context: approves PLAIN
    users whose password matches, answers 400 otherwise, and 200 to CURVE
    and NULL. Records every request it saw."""

    def __init__(self, ctx, users):
        import threading
        self.users = users
        self.requests = []
        self.sock = ctx.socket(zmq.REP)
        self.sock.bind("inproc://zeromq.zap.01")
        self.stop_flag = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_flag:
            if not self.sock.poll(50):
                continue
            m = self.sock.recv_multipart()
            version, rid, domain, addr, ident, mech = m[:6]
            creds = m[6:]
            status, text, user = b"200", b"OK", b""
            if mech == b"PLAIN":
                u, p = creds[0], creds[1]
                if self.users.get(u.decode()) != p.decode():
                    status, text = b"400", b"bad password"
                else:
                    user = u
            self.requests.append({"mechanism": mech.decode(), "status": status.decode(),
                                  "creds": [c.hex() if mech == b"CURVE" else c.decode() for c in creds]})
            self.sock.send_multipart([version, rid, status, text, user, b""])

    def close(self):
        self.stop_flag = True
        self.thread.join()
        self.sock.close(linger=0)


ZMQ4 = "go-zeromq/zmq4 v0.17.0"


class GoPeer:
    """Runs testdata/gen/zmq4peer (built before the capture starts) and
    talks to it over its stdin/stdout lines."""

    def __init__(self, mode, sp, cp):
        exe = os.path.join("/tmp", "zspy-zmq4peer")
        subprocess.run(["go", "build", "-o", exe, "./zmq4peer"], cwd=GEN_DIR, check=True)
        self.args = [exe, "-mode", mode, "-sp", str(sp), "-cp", str(cp)]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        return self

    def expect(self, event, timeout=30):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if r else ""
        if not line:
            raise SystemExit("zmq4peer: no %r event (exit %s)" % (event, self.proc.poll()))
        ev = json.loads(line)
        if ev.get("event") != event:
            raise SystemExit("zmq4peer: got %r, want event %r" % (ev, event))
        return ev

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def done(self):
        ev = self.expect("done")
        self.last = ev
        if self.proc.wait(timeout=30) != 0:
            raise SystemExit("zmq4peer failed")
        return ev["conns"]


def set_counts(conn, stats):
    """Copies a zmq4peer connection's counts into a Conn."""
    for name in ("c2s", "s2c"):
        d = getattr(conn, name)
        d.messages, d.frames, d.bytes = (stats[name][k] for k in ("messages", "frames", "bytes"))


def dealer_router_exchange(t, cap, sp, cp, n=6, ident=b"fmt-dealer"):
    """A small DEALER/ROUTER exchange used by the capture-format cases."""
    c = t.conn("dealer-router", "DEALER", "ROUTER", cp, sp)
    c.identity("client", ident.decode())
    c.c2s.cmds("READY")
    c.s2c.cmds("READY")
    ctx = zctx()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.RCVTIMEO, 10000)
    router.bind("tcp://127.0.0.1:%d" % sp)
    d = ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.ROUTING_ID, ident)
    d.setsockopt(zmq.RCVTIMEO, 10000)
    d.connect(src(cp, sp))
    for i in range(n):
        m = [b"format test %d" % i, bytes(i * 60)]
        d.send_multipart(m)
        assert router.recv_multipart() == [ident] + m
        c.c2s.msg(m)
        r = [b"format reply %d" % i]
        router.send_multipart([ident] + r)
        assert d.recv_multipart() == r
        c.s2c.msg(r)
    d.close(linger=1000)
    router.close(linger=1000)
    ctx.term()
    cap.wait_closed(conns=1)
    return c


class Raw:
    """A raw TCP peer that speaks an older ZMTP by hand and keeps every byte
    it sent and received, so its truth is exact."""

    def __init__(self, sock):
        self.s = sock
        self.s.settimeout(10)
        self.sent = bytearray()
        self.got = bytearray()

    @classmethod
    def connect(cls, cport, sport):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", cport))
        s.connect(("127.0.0.1", sport))
        return cls(s)

    def send(self, b):
        self.s.sendall(b)
        self.sent += b

    def recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise SystemExit("raw peer: EOF after %r" % buf)
            buf += chunk
        self.got += buf
        return buf

    def wait_eof(self):
        while True:
            chunk = self.s.recv(65536)
            if not chunk:
                return
            self.got += chunk

    # ZMTP 3.x frames
    def send3(self, body, more=False, command=False):
        fl = (1 if more else 0) | (4 if command else 0)
        if len(body) > 255:
            self.send(bytes([fl | 2]) + struct.pack(">Q", len(body)) + body)
        else:
            self.send(bytes([fl, len(body)]) + body)

    def recv3(self):
        fl = self.recv(1)[0]
        n = struct.unpack(">Q", self.recv(8))[0] if fl & 2 else self.recv(1)[0]
        return fl, self.recv(n)

    # ZMTP 2.0 frames (MORE, LONG only)
    def send2(self, body, more=False):
        self.send3(body, more)

    def recv2(self):
        return self.recv3()

    # ZMTP 1.0 frames: the length counts the flags byte
    def send1(self, body, more=False):
        n = len(body) + 1
        if n < 255:
            self.send(bytes([n, 1 if more else 0]) + body)
        else:
            self.send(b"\xff" + struct.pack(">Q", n) + bytes([1 if more else 0]) + body)

    def recv1(self):
        n = self.recv(1)[0]
        if n == 0xFF:
            n = struct.unpack(">Q", self.recv(8))[0]
        fl = self.recv(1)[0]
        return fl, self.recv(n - 1)

    def recv_msg(self, frame_fn):
        parts = []
        while True:
            fl, body = frame_fn()
            parts.append(body)
            if not fl & 1:
                return parts


def ready_body(socket_type, **props):
    b = b"\x05READY"
    for k, v in [("Socket-Type", socket_type)] + list(props.items()):
        k = k.encode()
        v = v.encode() if isinstance(v, str) else v
        b += bytes([len(k)]) + k + struct.pack(">I", len(v)) + v
    return b


def verify_raw(out, cport, sport, raw, capture="capture.pcap"):
    """Checks that the capture holds exactly the bytes the raw client (or
    server, by swapping ports) sent and received."""
    ss = streams(read_pcap(os.path.join(out, capture)))
    ca, sa = ("127.0.0.1", cport), ("127.0.0.1", sport)
    c2s = ss.get((ca, sa), {}).get("data", b"")
    s2c = ss.get((sa, ca), {}).get("data", b"")
    return c2s, s2c
