"""netlab: the production-network conditions for the capture scenarios.

Two network namespaces (A and B) joined by a veth pair, with the link's MTU
and offloads set (`ethtool -K`), loss and duplication by iptables
(`statistic` DROP and `TEE`), and capture taken where an appliance would
take it:

  * on the veth itself, as a host capture does, with delay, jitter and
    reordering on the path from an NFQUEUE program (nfqdelay.py: netem is
    not available);
  * as a SPAN port delivers it: each direction is captured where it enters
    its receiver (tcpdump -Q in on each veth end), and the two are merged
    by timestamp after one direction's copies are delayed by the mirror's
    skew, as when the two directions of a switch port reach the monitor
    port by different paths. The copies are the real packets; only the
    merge order is the mirror's (see Lab.span_merge).

The peers are real libzmq sockets of one Python process: Lab.enter(side)
moves the calling thread into namespace A or B (setns(2)), and a zmq
Context whose first socket is made there keeps its I/O thread (where
libzmq connects) in that namespace; bind runs in the calling thread. So
truth comes from the peers as in every other scenario.

What this kernel lacks (no loadable modules): netem, 8021q. Nothing here
needs them.
"""
import contextlib
import ctypes

from common import *

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


def sh(*argv, check=True):
    r = subprocess.run(list(argv), capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r.stdout


class Lab:
    """Namespaces zg-<name>-a (10.78.0.1, veth zga) and zg-<name>-b
    (10.78.0.2, veth zgb). offloads: {"tso": "off", ...} for ethtool -K on
    both ends."""

    A, B = "10.78.0.1", "10.78.0.2"

    def __init__(self, name, mtu=1500, offloads=None, port_range=None):
        self.ns = {"a": "zg-%s-a" % name, "b": "zg-%s-b" % name}
        self.dev = {"a": "zga", "b": "zgb"}
        self.addr = {"a": self.A, "b": self.B}
        self.mtu = mtu
        self.offloads = offloads or {}
        self.port_range = port_range
        self.root = "/proc/%d/task/%d/ns/net" % (os.getpid(), os.getpid())
        self.root_fd = None

    def __enter__(self):
        for ns in self.ns.values():
            sh("ip", "netns", "del", ns, check=False)
        # The caller's namespace, to come back to after enter().
        self.root_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
        for ns in self.ns.values():
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", self.dev["a"], "netns", self.ns["a"], "type", "veth",
           "peer", "name", self.dev["b"], "netns", self.ns["b"])
        for s in ("a", "b"):
            ns, dev = self.ns[s], self.dev[s]
            sh("ip", "-n", ns, "link", "set", dev, "mtu", str(self.mtu))
            sh("ip", "-n", ns, "addr", "add", self.addr[s] + "/30", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            if self.offloads:
                args = []
                for k, v in self.offloads.items():
                    args += [k, v]
                sh("ip", "netns", "exec", ns, "ethtool", "-K", dev, *args)
            if self.port_range:
                sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                   "net.ipv4.ip_local_port_range=%d %d" % self.port_range)
        log("lab up: %s %s mtu %d offloads %s" % (self.ns["a"], self.ns["b"], self.mtu, self.offloads or "default"))
        return self

    def __exit__(self, *exc):
        self.leave()
        if self.root_fd is not None:
            os.close(self.root_fd)
        for ns in self.ns.values():
            sh("ip", "netns", "del", ns, check=False)

    def enter(self, side):
        """Moves the calling thread into namespace side ("a" or "b")."""
        _setns("/var/run/netns/" + self.ns[side])

    def leave(self):
        if self.root_fd is not None and _libc.setns(self.root_fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")

    @contextlib.contextmanager
    def inside(self, side):
        self.enter(side)
        try:
            yield
        finally:
            self.leave()

    def context(self, side):
        """A zmq Context whose I/O thread lives in namespace side: its first
        socket is made there (libzmq starts the I/O thread then)."""
        with self.inside(side):
            ctx = zmq.Context()
            ctx.socket(zmq.PAIR).close()
        return ctx

    def iptables(self, side, *rule):
        sh("ip", "netns", "exec", self.ns[side], "iptables", *rule)

    def delay(self, side, queue, hold, delay_ms, seed):
        """Starts nfqdelay.py in namespace side on NFQUEUE queue (rules that
        send packets there: Lab.iptables with -j NFQUEUE --queue-num queue
        --queue-bypass). Returns the process; stop it with stop_delay."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[side], sys.executable,
                              os.path.join(os.path.dirname(os.path.abspath(__file__)), "nfqdelay.py"),
                              str(queue), str(hold), str(delay_ms), str(seed)],
                             stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline().strip()
        if line != "ready":
            raise SystemExit("nfqdelay did not start: %r (exit %s)" % (line, p.poll()))
        return p

    def stop_delay(self, p):
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
        log("nfqdelay:", out.strip())
        return out

    def capture(self, path, side, ports, direction=None, snap=0):
        """tcpdump on side's veth end; direction "in" keeps only what enters
        it. -B 64 MiB; Capture.stop fails the run on any kernel drop."""
        extra = []
        if direction:
            extra += ["-Q", direction]
        cap = Capture(path, ports, iface=self.dev[side], extra=extra)
        cap.cmd = ["ip", "netns", "exec", self.ns[side]] + cap.cmd
        if snap:
            i = cap.cmd.index("-s")
            cap.cmd[i + 1] = str(snap)
        return cap

    def span_merge(self, out_path, parts, skew=None, jitter=None, first=None):
        """Writes the SPAN-like capture: parts are {"a": pcap of what entered
        A, "b": pcap of what entered B}; skew {"b": 0.004} delays every copy
        of that part by 4 ms before the merge (stable by time); jitter
        {"b": (0.05, 0.003, seed)} delays a further 5% of that part's copies
        by up to 3 ms (a mirror fed by two paths, e.g. a LAG, reorders them).
        first, if given, drops the packets before that (merged) index: a
        mirror that started then."""
        skew = skew or {}
        jitter = jitter or {}
        recs = []
        lt = None
        for side, path in parts.items():
            rnd = None
            if side in jitter:
                import random
                frac, most, seed = jitter[side]
                rnd = random.Random(seed)
            for ts, l, pkt in read_pcap(path):
                lt = l
                at = ts + skew.get(side, 0.0)
                if rnd is not None and rnd.random() < frac:
                    at += rnd.uniform(most / 3, most)
                recs.append((at, len(recs), pkt))
        recs.sort()
        if first:
            recs = recs[first:]
        write_pcap(out_path, lt, [(ts, pkt) for ts, _, pkt in recs])
        return len(recs)


def write_pcap(path, linktype, recs, snap=262144):
    """Writes a classic little-endian microsecond pcap of (ts, bytes)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snap, linktype))
        for ts, pkt in recs:
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            f.write(struct.pack("<IIII", sec, usec, len(pkt), len(pkt)))
            f.write(pkt)


def lab_conn(t, lab, cid, ctype, stype, cport, sport, client="a", **kw):
    """A truth connection between the lab's namespaces (client in side client)."""
    c = t.conn(cid, ctype, stype, cport, sport, **kw)
    server = "b" if client == "a" else "a"
    c.d["client"]["addr"] = lab.addr[client]
    c.d["server"]["addr"] = lab.addr[server]
    return c


def verify_lab(out, truth_doc, capture="capture.pcap", strict=True):
    """verify() for lab addresses: rewrites the truth's 127.0.0.1 checks by
    mapping the lab's addresses (the reader keys streams by address)."""
    pkts = read_pcap(os.path.join(out, capture))
    ss = streams(pkts)
    bad = []
    for c in truth_doc["connections"]:
        cp, sp = c["client"]["port"], c["server"]["port"]
        ca, sa = (c["client"]["addr"], cp), (c["server"]["addr"], sp)
        if not cp:
            cands = [k for k in ss if k[1] == sa]
            if len(cands) != 1:
                bad.append("%s: %d candidate client ports" % (c["id"], len(cands)))
                continue
            ca = cands[0][0]
        greeting = c.get("handshake_captured", True)
        for dname, key in (("c2s", (ca, sa)), ("s2c", (sa, ca))):
            if key not in ss:
                bad.append("%s %s: no data in capture" % (c["id"], dname))
                continue
            if ss[key].get("gap"):
                continue  # the reader cannot follow a gap; zspy's test does
            p = zmtp3_parse(ss[key]["data"], skip_greeting=greeting, mechanism=c["mechanism"])
            want = c[dname]
            if c["mechanism"] == "CURVE":
                got = {"frames": p["curve_frames"], "bytes": p["curve_bytes"]}
            else:
                got = {"messages": p["messages"], "frames": p["frames"], "bytes": p["bytes"]}
            for k, v in got.items():
                if want.get(k) != v:
                    bad.append("%s %s %s: truth %s, capture %s" % (c["id"], dname, k, want.get(k), v))
    if bad:
        for b in bad:
            log("VERIFY:", b)
        if strict:
            raise SystemExit("verification failed for %s" % out)
    else:
        log("verified against capture")
    return bad


def wait_fins(paths, conns, timeout=30):
    """Waits until the captures in paths (each holding one direction) show
    conns connections with a FIN (or RST) from both ends."""
    deadline = time.time() + timeout
    while True:
        fins, rst, keys = {}, set(), set()
        for p in paths:
            try:
                pk = read_pcap(p)
            except (OSError, ValueError):
                pk = []
            for ts, s, d, flags, seq, payload, win in tcp_segments(pk):
                k = tuple(sorted([s, d]))
                keys.add(k)
                if flags & 0x04:
                    rst.add(k)
                if flags & 0x01:
                    fins.setdefault(k, set()).add(s)
        done = [k for k in keys if k in rst or len(fins.get(k, ())) == 2]
        if len(done) >= conns and len(done) == len(keys):
            return
        if time.time() > deadline:
            raise SystemExit("connections not closed in capture: %s" % sorted(keys - set(done)))
        time.sleep(0.05)
