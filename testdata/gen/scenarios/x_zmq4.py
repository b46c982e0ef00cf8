"""x_zmq4 (tried outside the corpus, like the other x_* scenarios): every
go-zeromq/zmq4 socket type, zmq4<->zmq4 and zmq4<->libzmq with either library
connecting, both bind/connect orientations of each pattern, big (256 B..1 MB)
and empty frames, zmq4's Send (one write per header and per body) and
SendMulti (one writev per message), PLAIN. Each job is one connection; each
side runs the same scripted steps (zmq4 sides in zmq4peer -mode matrix,
libzmq sides here) and reports what its application really sent and
received. X_ZMQ4_JOBS=substring keeps only matching job ids."""
import json
import queue
import threading

from common import *
from zmq4_reqrep import zmq4_notes

SP0, CP0 = 16400, 26400


def T(s):
    return "t:" + s


def B(n, seed):
    return "b:%d:%d" % (n, seed)


def H(b):
    return "h:" + b.hex()


def frame(spec):
    kind, rest = spec.split(":", 1)
    if kind == "t":
        return rest.encode()
    if kind == "h":
        return bytes.fromhex(rest)
    n, seed = (int(x) for x in rest.split(":"))
    return bytes((seed + i * 7) & 0xFF for i in range(n))


_cache = {}


def frames(specs):
    out = []
    for s in specs:
        if s not in _cache:
            _cache[s] = frame(s)
        out.append(_cache[s])
    return out


MB = 1000000


def pattern(name):
    """Returns (type_x, type_y, steps_x, steps_y, extra): x is the socket
    that connects in the normal orientation."""
    x, y = [], []
    if name in ("reqrep", "plain"):
        reqs = [[T("hello")], [B(0, 0)], [B(300, 1)], [B(MB, 2)], [T("head"), B(256, 4)], [B(255, 5)]]
        reps = [[T("r0")], [B(70000, 6)], [T("r2"), B(0, 7)], [T("r3")], [B(MB, 8)], [T("r5")]]
        if name == "plain":
            reqs, reps = reqs[:3], reps[:3]
        for i, (q, r) in enumerate(zip(reqs, reps)):
            x += [{"op": "send" if i % 2 else "sendmulti", "frames": q}, {"op": "recv", "frames": r}]
            y += [{"op": "recv", "frames": q}, {"op": "send" if i % 2 == 0 else "sendmulti", "frames": r}]
        return "REQ", "REP", x, y, {}
    if name == "dealer_router":
        ds = [[T("d0")], [T("d1"), B(0, 1), B(300, 2)], [B(MB, 3)], [B(0, 4)], [T("d4"), B(70000, 5), T("end")]]
        rs = [[T("r0"), B(0, 9)], [B(256, 10)], [T("r2")], [B(MB, 11), T("x")], [B(0, 12)]]
        for i, (d, r) in enumerate(zip(ds, rs)):
            x += [{"op": "sendmulti" if i % 2 else "send", "frames": d}, {"op": "recv", "frames": r}]
            y += [{"op": "recv", "frames": d, "routed": True},
                  {"op": "send" if i % 2 else "sendmulti", "frames": r, "routed": True}]
        return "DEALER", "ROUTER", x, y, {}
    if name in ("pubsub", "xpubxsub"):
        topics = ["alpha", "beta", "gam"]
        pubt = ["alpha", "beta", "gamma", "delta", "alphabet", "betamax"]
        sizes = [0, 300, 5, MB, 255, 256]

        def rnd(k, subs):
            sx, sy = [], []
            for i, tp in enumerate(pubt):
                m = [T(tp), T("%s body %d" % (tp, k)), B(sizes[(i + k) % len(sizes)], i + 10 * k)]
                sy.append({"op": "send" if i % 2 else "sendmulti", "frames": m})
                if any(tp.startswith(s) for s in subs):
                    sx.append({"op": "recv", "frames": m})
            return sx, sy
        for tp in topics:
            x.append({"op": "sub", "topic": tp} if name == "pubsub" else
                     {"op": "send", "frames": [H(b"\x01" + tp.encode())]})
        y.append({"op": "wait", "name": "subs1", "peer_frames": len(topics)})
        sx, sy = rnd(1, topics)
        x += sx
        y += sy
        x.append({"op": "unsub", "topic": "beta"} if name == "pubsub" else
                 {"op": "send", "frames": [H(b"\x00beta")]})
        y.append({"op": "wait", "name": "subs2", "peer_frames": len(topics) + 1})
        sx, sy = rnd(2, ["alpha", "gam"])
        x += sx
        y += sy
        types = ("SUB", "PUB") if name == "pubsub" else ("XSUB", "XPUB")
        return types[0], types[1], x, y, {"subscriptions": ["alpha", "gam"]}
    if name == "pushpull":
        ms = [[T("p0")], [B(0, 1)], [B(MB, 2)], [T("p3"), B(0, 4), B(300, 5)], [B(256, 6)], [B(70000, 7), B(0, 8)]]
        for i, m in enumerate(ms):
            x.append({"op": "sendmulti" if i % 2 else "send", "frames": m})
            y.append({"op": "recv", "frames": m})
        return "PUSH", "PULL", x, y, {}
    if name == "pair":
        xs = [[T("x0")], [B(MB, 1)], [B(0, 2), T("x2")], [B(256, 3)]]
        ys = [[T("y0"), B(70000, 3)], [B(0, 4)], [T("y2")], [B(255, 5), B(0, 6), B(MB, 7)]]
        for i, (a, b) in enumerate(zip(xs, ys)):
            x += [{"op": "send" if i % 2 else "sendmulti", "frames": a}, {"op": "recv", "frames": b}]
            y += [{"op": "recv", "frames": a}, {"op": "sendmulti" if i % 2 else "send", "frames": b}]
        return "PAIR", "PAIR", x, y, {}
    raise ValueError(name)


IDS = {("zmq4", "DEALER"): "z4-dealer", ("zmq4", "ROUTER"): "z4-router",
       ("libzmq", "DEALER"): "lz-dealer", ("libzmq", "ROUTER"): "lz-router"}


def make_jobs():
    jobs = []
    n = 0
    for pat in ("reqrep", "dealer_router", "pubsub", "xpubxsub", "pushpull", "pair", "plain"):
        tx, ty, sx, sy, extra = pattern(pat)
        for orient in (("normal", "reversed") if pat != "plain" else ("normal",)):
            for libs in (("zmq4", "zmq4"), ("zmq4", "libzmq"), ("libzmq", "zmq4")):
                if orient == "normal":
                    a, b = (tx, sx), (ty, sy)
                else:
                    a, b = (ty, sy), (tx, sx)
                jid = "%s-%s-%s%s" % (pat, orient[0], libs[0][0], libs[1][0])
                sides = {}
                for name, (typ, steps), lib in (("a", a, libs[0]), ("b", b, libs[1])):
                    steps = [{"op": "wait", "name": "connected"}] + steps
                    sides[name] = {"type": typ, "lib": lib, "id": IDS.get((lib, typ), ""), "steps": steps}
                jobs.append({"id": jid, "cp": CP0 + n, "sp": SP0 + n, "pattern": pat,
                             "mech": "PLAIN" if pat == "plain" else "NULL",
                             "user": "admin", "pass": "secret", "sides": sides, "extra": extra})
                n += 1
    only = os.environ.get("X_ZMQ4_JOBS")
    if only:
        jobs = [j for j in jobs if any(o in j["id"] for o in only.split(","))]
    return jobs


ZTYPES = {t: getattr(zmq, t) for t in ("REQ", "REP", "DEALER", "ROUTER", "PUB", "SUB", "XPUB",
                                        "XSUB", "PUSH", "PULL", "PAIR")}


class Events:
    def __init__(self):
        self.q = queue.Queue()
        self.seen = {}

    def put(self, ev):
        self.q.put(ev)

    def wait(self, job, side, event, timeout=60):
        key = (job, side, event)
        deadline = time.time() + timeout
        while key not in self.seen:
            try:
                ev = self.q.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                raise SystemExit("timed out waiting for %s" % (key,))
            if ev.get("event") == "error":
                raise SystemExit("side failed: %s" % ev)
            self.seen[(ev.get("job"), ev.get("side"), ev.get("event"))] = ev
        return self.seen[key]


class PySide(threading.Thread):
    """Runs one libzmq side of a job."""

    def __init__(self, ctx, job, name, events):
        super().__init__(daemon=True)
        self.ctx, self.job, self.name, self.events = ctx, job, name, events
        self.bars = {}

    def bar(self, name):
        return self.bars.setdefault(name, threading.Event())

    def release(self, name):
        self.bar(name).set()

    def wait(self, name):
        if not self.bar(name).wait(60):
            self.events.put({"event": "error", "job": self.job["id"], "why": "barrier " + name})
            raise SystemExit("barrier %s" % name)

    def run(self):
        try:
            self.run1()
        except BaseException as e:  # noqa
            self.events.put({"event": "error", "job": self.job["id"], "side": self.name, "why": repr(e)})
            raise

    def run1(self):
        j, sd = self.job, self.job["sides"][self.name]
        s = self.ctx.socket(ZTYPES[sd["type"]])
        s.setsockopt(zmq.RCVTIMEO, 30000)
        s.setsockopt(zmq.SNDTIMEO, 30000)
        s.setsockopt(zmq.LINGER, 2000)
        if sd["id"]:
            s.setsockopt(zmq.ROUTING_ID, sd["id"].encode())
        if j["mech"] == "PLAIN":
            if self.name == "b":
                s.plain_server = True
            else:
                s.plain_username, s.plain_password = j["user"].encode(), j["pass"].encode()
        if self.name == "b":
            s.bind("tcp://127.0.0.1:%d" % j["sp"])
            self.events.put({"event": "listening", "job": j["id"], "side": "b"})
        else:
            self.wait("listening")
            s.connect(src(j["cp"], j["sp"]))
        sent, recv, peer_ids = [], [], []
        peer = None
        for st in sd["steps"]:
            op = st["op"]
            if op == "wait":
                self.wait(st["name"])
                settle(s)
            elif op in ("send", "sendmulti"):
                fs = frames(st["frames"])
                sent.append([len(f) for f in fs])
                if st.get("routed"):
                    fs = [peer] + fs
                s.send_multipart(fs)
            elif op in ("sub", "unsub"):
                s.setsockopt(zmq.SUBSCRIBE if op == "sub" else zmq.UNSUBSCRIBE, st["topic"].encode())
                sent.append([1 + len(st["topic"])])
            elif op == "recv":
                got = s.recv_multipart()
                if st.get("routed"):
                    peer = got[0]
                    peer_ids.append(peer.hex())
                    got = got[1:]
                want = frames(st["frames"])
                if got != want and not (sd["type"] == "REQ" and got == [b""] + want):
                    raise SystemExit("%s/%s: got %s, want %s" % (j["id"], self.name, [len(g) for g in got],
                                                                 [len(w) for w in want]))
                recv.append([len(g) for g in got])
        self.events.put({"event": "finished", "job": j["id"], "side": self.name, "sent": sent,
                         "recv": recv, "peer_ids": peer_ids, "peer_ids_hex": True})
        self.wait("end")
        s.close()
        self.events.put({"event": "closed", "job": j["id"], "side": self.name})


class GoSides:
    def __init__(self, spec_path, events):
        exe = os.path.join("/tmp", "zspy-zmq4peer")
        subprocess.run(["go", "build", "-o", exe, "./zmq4peer"], cwd=GEN_DIR, check=True)
        self.proc = subprocess.Popen([exe, "-mode", "matrix", "-spec", spec_path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.events = events
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put({"event": "error", "why": "zmq4peer exited %s" % self.proc.wait()})

    def cmd(self, *words):
        self.proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.proc.stdin.flush()


def wire(sender_type, receiver_type, sender, receiver):
    """Wire counts of one direction from the two applications' records."""
    if receiver_type in ("PUB", "XPUB"):
        msgs = sender["sent"] or []  # subscriptions: zmq4's PUB never hands them up
    else:
        msgs = receiver["recv"] or []
    env = 1 if receiver_type in ("REQ", "REP") else 0
    return {"messages": len(msgs), "frames": sum(len(m) + env for m in msgs),
            "bytes": sum(sum(m) for m in msgs)}


def main():
    out = case_dir("x_zmq4")
    jobs = make_jobs()
    ports = [j["sp"] for j in jobs] + [j["cp"] for j in jobs]
    wait_ports_free(ports)
    spec = os.path.join(out, "jobs.json")
    with open(spec, "w") as f:
        json.dump(jobs, f)
    t = Truth("x_zmq4", "go-zeromq/zmq4 socket matrix: %d connections (zmq4<->zmq4, zmq4<->libzmq "
              "both ways, both bind/connect orientations)." % len(jobs))
    events = Events()
    gos = GoSides(spec, events)
    ctx = zctx()
    zap = ZapHandler(ctx, {"admin": "secret"})
    results = {}
    with Capture(os.path.join(out, "capture.pcap"), [j["sp"] for j in jobs]) as cap:
        for j in jobs:
            log("job", j["id"])
            jid = j["id"]
            py = {}

            def start(name):
                if j["sides"][name]["lib"] == "zmq4":
                    gos.cmd("start", jid, name)
                else:
                    py[name] = PySide(ctx, j, name, events)
                    py[name].start()

            def release(name, bar):
                if j["sides"][name]["lib"] == "zmq4":
                    gos.cmd("release", jid, name, bar)
                else:
                    py[name].release(bar)
            start("b")
            events.wait(jid, "b", "listening")
            start("a")
            release("a", "listening")
            ca, sa = ("127.0.0.1", j["cp"]), ("127.0.0.1", j["sp"])
            wantc = ["HELLO", "INITIATE"] if j["mech"] == "PLAIN" else ["READY"]
            wants = ["WELCOME", "READY"] if j["mech"] == "PLAIN" else ["READY"]
            cap.wait_for(lambda ss: (ca, sa) in ss and (sa, ca) in ss and
                         zmtp3_parse(ss[(ca, sa)]["data"])["commands"] == wantc and
                         zmtp3_parse(ss[(sa, ca)]["data"])["commands"] == wants, what="handshake " + jid)
            time.sleep(0.1)  # the accepting side attaches the connection after its READY
            release("a", "connected")
            release("b", "connected")
            for name in ("a", "b"):
                other = ("127.0.0.1", j["cp"] if name == "b" else j["sp"])
                me = ("127.0.0.1", j["sp"] if name == "b" else j["cp"])
                for st in j["sides"][name]["steps"]:
                    if st["op"] == "wait" and "peer_frames" in st:
                        n = st["peer_frames"]
                        cap.wait_for(lambda ss: (other, me) in ss and
                                     zmtp3_parse(ss[(other, me)]["data"])["frames"] >= n,
                                     what="%d frames to %s/%s" % (n, jid, name))
                        time.sleep(0.1)  # let the publisher's reader apply them
                        release(name, st["name"])
            fa = events.wait(jid, "a", "finished")
            fb = events.wait(jid, "b", "finished")
            # the connecting side closes first: a libzmq client whose server
            # went away first redials it (refused attempts in the capture)
            release("a", "end")
            events.wait(jid, "a", "closed")
            release("b", "end")
            events.wait(jid, "b", "closed")
            results[jid] = (fa, fb)
        gos.cmd("quit")
        if gos.proc.wait(timeout=60) != 0:
            raise SystemExit("zmq4peer failed")
        zap.close()
        ctx.term()
        cap.wait_closed(conns=len(jobs), timeout=30)
    for j in jobs:
        A, Bs = j["sides"]["a"], j["sides"]["b"]
        fa, fb = results[j["id"]]
        lib = lambda s: ZMQ4 if s["lib"] == "zmq4" else LIBZMQ
        c = t.conn(j["id"], A["type"], Bs["type"], j["cp"], j["sp"], mechanism=j["mech"], zmtp="3.0",
                   client_lib=lib(A), server_lib=lib(Bs))
        c.set(client_zmtp="3.0" if A["lib"] == "zmq4" else "3.1",
              server_zmtp="3.0" if Bs["lib"] == "zmq4" else "3.1")
        if j["mech"] == "PLAIN":
            c.set(plain_username=j["user"])
        for side, sd in (("client", A), ("server", Bs)):
            if sd["id"]:
                c.identity(side, sd["id"])
        for k, v in j["extra"].items():
            c.set(**{k: v})
        for k, val in wire(A["type"], Bs["type"], fa, fb).items():
            setattr(c.c2s, k, val)
        for k, val in wire(Bs["type"], A["type"], fb, fa).items():
            setattr(c.s2c, k, val)
        if j["mech"] == "PLAIN":
            c.c2s.cmds("HELLO", "INITIATE")
            c.s2c.cmds("WELCOME", "READY")
        else:
            c.c2s.cmds("READY")
            c.s2c.cmds("READY")
        subtype = {"SUB", "XSUB"}
        for d, sd in ((c.c2s, A), (c.s2c, Bs)):
            if sd["type"] in subtype:
                d.legacy_subscriptions = d.messages
        # what each side saw as its peer's routing id
        ids = {}
        for name, f in (("a", fa), ("b", fb)):
            if f.get("peer_ids"):
                pid = f["peer_ids"][0]
                ids[name] = bytes.fromhex(pid).decode("latin-1") if f.get("peer_ids_hex") else pid
        if ids:
            c.set(notes=["routing ids seen by the applications: %s" % ids])
        zmq4_notes(t, c)
    verify(out, t.write(out))


main()
