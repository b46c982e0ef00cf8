#!/usr/bin/python3
"""The hard case of the v1 monitor merge, with real libzmq applications.

One server process (a ROUTER with PLAIN and a ZAP handler) and two client
processes (A and B), each with four DEALERs that connect to the server at the
same moment: two with the right password, one with a wrong one (ZAP 400) and
one with no mechanism (NULL: a mechanism mismatch). Every socket relays its
monitor events through contrib/python/zspy_monitor.py under its own source
name. The good DEALERs disconnect at different times.

  app.py server --forward EP --record FILE       prints "ready <endpoint>"
  app.py client --forward EP --record FILE --name A --server EP --start T

The ZAP handler takes one request at a time and waits until the server's
monitor reported that handshake's result before it takes the next: so the
server's HANDSHAKE_* events come in the order of the ZAP requests, whose
usernames name the client sockets (truth.py reads this from the record).
Scenario pacing uses sleeps (allowed here); every wait for an event is a
condition with a timeout.
"""

import argparse
import json
import sys
import threading
import time

import zmq

import zspy_monitor

TIMEOUT = 30.0
EVENT_NAMES = {getattr(zmq, n): n[len("EVENT_"):] for n in dir(zmq)
               if n.startswith("EVENT_") and not n.startswith("EVENT_ALL")}
HS = ("HANDSHAKE_SUCCEEDED", "HANDSHAKE_FAILED_AUTH", "HANDSHAKE_FAILED_PROTOCOL",
      "HANDSHAKE_FAILED_NO_DETAIL")
SOCKETS = [("good1", b"secret"), ("good2", b"secret"), ("badpw", b"wrong"), ("null", None)]


class Recorder:
    def __init__(self):
        self.cond = threading.Condition()
        self.records = []

    def hook(self, source):
        def on_forward(frames):
            ev = int.from_bytes(frames[-2][0:2], sys.byteorder)
            value = int.from_bytes(frames[-2][2:6], sys.byteorder)
            with self.cond:
                self.records.append({"t": time.time(), "source": source,
                                     "name": EVENT_NAMES.get(ev, hex(ev)), "value": value,
                                     "endpoint": frames[-1].decode("utf-8", "replace")})
                self.cond.notify_all()
        return on_forward

    def wait(self, pred, what):
        with self.cond:
            if not self.cond.wait_for(lambda: pred(self.records), TIMEOUT):
                sys.exit("timed out waiting for " + what)


def monitored(ctx, rec, kind, fwd_ep, source, relays):
    s = ctx.socket(kind)
    s.linger = 0
    relays.append(zspy_monitor.forward(s, fwd_ep, source=source, bind=False,
                                       socket_type=zmq.PUSH, on_forward=rec.hook(source)))
    return s


def finish(ctx, rec, relays, path, extra):
    for f in relays:
        f.join(TIMEOUT)
        f.stop(TIMEOUT)
    with open(path, "w") as f:
        json.dump({"events": rec.records, **extra}, f, indent=1)
    ctx.term()


def server(args):
    ctx = zmq.Context()
    rec = Recorder()
    relays = []
    zap = ctx.socket(zmq.REP)
    zap.linger = 0
    zap.bind("inproc://zeromq.zap.01")
    srv = monitored(ctx, rec, zmq.ROUTER, args.forward, "server/router", relays)
    srv.plain_server = True
    srv.zap_domain = b"zspy"
    srv.bind("tcp://127.0.0.1:*")
    zap_order = []  # usernames, in the order their handshakes ended

    def results(recs):  # only ZAP'd handshakes end these ways (a mismatch is a PROTOCOL failure)
        return sum(1 for r in recs if r["source"] == "server/router"
                   and r["name"] in ("HANDSHAKE_SUCCEEDED", "HANDSHAKE_FAILED_AUTH"))

    def handler():
        while len(zap_order) < 6:  # two processes, three PLAIN sockets each
            if not zap.poll(int(TIMEOUT * 1000)):
                return
            req = zap.recv_multipart()
            user, password = req[6], req[7]
            n = results(rec.records)
            zap_order.append(user.decode())
            if password == b"secret":
                zap.send_multipart([req[0], req[1], b"200", b"OK", user, b""])
            else:
                zap.send_multipart([req[0], req[1], b"400", b"bad password", b"", b""])
            rec.wait(lambda recs: results(recs) > n, "the server's handshake result")

    t = threading.Thread(target=handler, daemon=True)
    t.start()
    print("ready", srv.get(zmq.LAST_ENDPOINT).decode(), flush=True)
    # Echo until every client connection has ended: 8 ACCEPTED, 8 DISCONNECTED.
    poller = zmq.Poller()
    poller.register(srv, zmq.POLLIN)
    while True:
        with rec.cond:
            done = sum(1 for r in rec.records if r["name"] == "DISCONNECTED") >= 8
        if done:
            break
        if poller.poll(100):
            srv.send_multipart(srv.recv_multipart())
    t.join(TIMEOUT)
    zap.close()
    srv.close()
    finish(ctx, rec, relays, args.record, {"zap_order": zap_order})


def client(args):
    ctx = zmq.Context()
    rec = Recorder()
    relays = []
    socks = {}
    for name, pw in SOCKETS:
        src = "%s/%s" % (args.name, name)
        s = monitored(ctx, rec, zmq.DEALER, args.forward, src, relays)
        s.reconnect_ivl = -1  # one connection per socket
        if pw is not None:
            s.plain_username = src.encode()
            s.plain_password = pw
        socks[name] = s
    delay = args.start - time.time()
    if delay > 0:
        time.sleep(delay)  # both processes connect at the same moment
    for name, _ in SOCKETS:
        socks[name].connect(args.server)
    # Every socket's handshake ends one way or the other.
    for name, _ in SOCKETS:
        src = "%s/%s" % (args.name, name)
        rec.wait(lambda recs: any(r["source"] == src and r["name"] in HS for r in recs), src + " handshake")
    for name in ("good1", "good2"):
        socks[name].send(b"hello")
        assert socks[name].recv() == b"hello"
    # The good sockets leave at different times; A and B interleave.
    time.sleep(args.hold1)
    socks["good1"].close()
    time.sleep(args.hold2)
    socks["good2"].close()
    socks["badpw"].close()
    socks["null"].close()
    finish(ctx, rec, relays, args.record, {})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("--forward", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--name")
    p.add_argument("--server")
    p.add_argument("--start", type=float, default=0)
    p.add_argument("--hold1", type=float, default=0.05)
    p.add_argument("--hold2", type=float, default=0.05)
    args = p.parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
