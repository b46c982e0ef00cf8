#!/usr/bin/python3
"""A pyzmq (real libzmq) application for zspy's monitor tests.

It runs scenarios on monitored sockets, relays every monitor event to zspy
with contrib/python/zspy_monitor.py, records exactly what it relayed in a JSON
file, and exits 0 once every relay has ended.  Each scenario waits for the
events it is about (read off its own relay) before moving on: no sleeps.

  libzmq_app.py --forward ENDPOINT --mode connect|bind --socket push|pub|pair
                [--plain USER:PASSWORD] --record FILE SCENARIO...

connect mode: every relay connects to ENDPOINT (zspy binds, e.g. a PULL),
              with PLAIN credentials when --plain is given.
bind mode:    one relay binds ENDPOINT and prints "ready <endpoint>" on stdout;
              only single-socket scenarios (retry) are allowed.
"""

import argparse
import errno
import json
import socket
import sys
import threading

import zmq

import zspy_monitor

EVENT_NAMES = {getattr(zmq, n): n[len("EVENT_"):] for n in dir(zmq)
               if n.startswith("EVENT_") and not n.startswith("EVENT_ALL")}
PROTOCOL_ERRORS = {getattr(zmq, n): n[len("PROTOCOL_ERROR_"):] for n in dir(zmq)
                   if n.startswith("PROTOCOL_ERROR_")}
ERRNO_EVENTS = {zmq.EVENT_CONNECT_DELAYED, zmq.EVENT_BIND_FAILED, zmq.EVENT_ACCEPT_FAILED,
                zmq.EVENT_CLOSE_FAILED, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL}
TIMEOUT = 30.0  # seconds; a scenario that takes longer has failed


class Recorder:
    def __init__(self):
        self.cond = threading.Condition()
        self.records = []

    def hook(self, source):
        def on_forward(frames):
            ev = int.from_bytes(frames[-2][0:2], sys.byteorder)
            value = int.from_bytes(frames[-2][2:6], sys.byteorder)  # unsigned
            rec = {
                "source": frames[0].decode() if len(frames) == 3 else None,
                "frames_hex": [f.hex() for f in frames],
                "code": ev,
                "name": EVENT_NAMES.get(ev, hex(ev)),
                "value": value,
                "endpoint": frames[-1].decode("utf-8", "replace"),
            }
            if ev in ERRNO_EVENTS:
                rec["errno_name"] = errno.errorcode.get(value, "")
            if ev == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                rec["protocol_error"] = PROTOCOL_ERRORS.get(value, hex(value))
            with self.cond:
                self.records.append(rec)
                self.cond.notify_all()
        return on_forward

    def count(self, source, name):
        return sum(1 for r in self.records if r["source"] == source and r["name"] == name)

    def wait(self, source, name, n=1):
        with self.cond:
            ok = self.cond.wait_for(lambda: self.count(source, name) >= n, TIMEOUT)
        if not ok:
            sys.exit("timed out waiting for %d %s from %s; got %s" % (
                n, name, source, [(r["source"], r["name"]) for r in self.records]))


class App:
    def __init__(self, args):
        self.args = args
        self.ctx = zmq.Context()
        self.rec = Recorder()
        self.relays = []
        self.socket_type = {"push": zmq.PUSH, "pub": zmq.PUB, "pair": zmq.PAIR}[args.socket]

    def monitored(self, kind, source):
        sock = self.ctx.socket(kind)
        sock.linger = 0
        if self.args.mode == "connect":
            plain = tuple(self.args.plain.split(":", 1)) if self.args.plain else None
            fwd = zspy_monitor.forward(sock, self.args.forward, source=source, bind=False,
                                       socket_type=self.socket_type,
                                       on_forward=self.rec.hook(source), plain=plain)
        else:
            wait = 2 * TIMEOUT if self.socket_type == zmq.PUB else None
            fwd = zspy_monitor.forward(sock, self.args.forward, source=source, bind=True,
                                       socket_type=self.socket_type,
                                       on_forward=self.rec.hook(source),
                                       wait_subscriber=wait,
                                       on_bound=lambda ep: print("ready", ep, flush=True))
        self.relays.append(fwd)
        return sock

    def close(self, sock):
        sock.close()

    # Scenarios -----------------------------------------------------------

    def bind_connect(self):
        """ROUTER binds, DEALER connects, one request; the DEALER leaves."""
        srv = self.monitored(zmq.ROUTER, "bind_connect/router")
        srv.bind("tcp://127.0.0.1:*")
        ep = srv.get(zmq.LAST_ENDPOINT).decode()
        cli = self.monitored(zmq.DEALER, "bind_connect/dealer")
        cli.connect(ep)
        cli.send(b"hello")
        ident, body = srv.recv_multipart()
        assert body == b"hello"
        srv.send_multipart([ident, b"world"])
        assert cli.recv() == b"world"
        self.rec.wait("bind_connect/dealer", "HANDSHAKE_SUCCEEDED")
        self.rec.wait("bind_connect/router", "HANDSHAKE_SUCCEEDED")
        self.close(cli)
        self.rec.wait("bind_connect/router", "DISCONNECTED")
        self.close(srv)

    def mechanism_mismatch(self):
        """A PLAIN server meets a NULL client: both fail the handshake."""
        srv = self.monitored(zmq.REP, "mechanism_mismatch/plain_server")
        srv.plain_server = True
        srv.bind("tcp://127.0.0.1:*")
        ep = srv.get(zmq.LAST_ENDPOINT).decode()
        cli = self.monitored(zmq.REQ, "mechanism_mismatch/null_client")
        cli.reconnect_ivl = -1  # one attempt: a bounded event stream
        cli.connect(ep)
        self.rec.wait("mechanism_mismatch/plain_server", "HANDSHAKE_FAILED_PROTOCOL")
        self.rec.wait("mechanism_mismatch/null_client", "HANDSHAKE_FAILED_PROTOCOL")
        self.rec.wait("mechanism_mismatch/null_client", "DISCONNECTED")
        self.close(cli)
        self.close(srv)

    def bad_password(self):
        """A PLAIN client with a wrong password; a ZAP handler says 400."""
        zap = self.ctx.socket(zmq.REP)
        zap.linger = 0
        zap.bind("inproc://zeromq.zap.01")
        stop_r = self.ctx.socket(zmq.PAIR)
        stop_r.bind("inproc://zap-stop")
        stop_w = self.ctx.socket(zmq.PAIR)
        stop_w.connect("inproc://zap-stop")

        def handler():
            poller = zmq.Poller()
            poller.register(zap, zmq.POLLIN)
            poller.register(stop_r, zmq.POLLIN)
            while True:
                ready = dict(poller.poll())
                if stop_r in ready:
                    break
                req = zap.recv_multipart()
                version, request_id, mechanism = req[0], req[1], req[5]
                password = req[7] if mechanism == b"PLAIN" and len(req) > 7 else b""
                if password == b"secret":
                    zap.send_multipart([version, request_id, b"200", b"OK", b"admin", b""])
                else:
                    zap.send_multipart([version, request_id, b"400", b"bad password", b"", b""])
            zap.close()
            stop_r.close()

        t = threading.Thread(target=handler, daemon=True)
        t.start()
        srv = self.monitored(zmq.REP, "bad_password/plain_server")
        srv.plain_server = True
        srv.zap_domain = b"zspy-test"
        srv.bind("tcp://127.0.0.1:*")
        ep = srv.get(zmq.LAST_ENDPOINT).decode()
        cli = self.monitored(zmq.REQ, "bad_password/plain_client")
        cli.plain_username = b"admin"
        cli.plain_password = b"wrong"
        cli.reconnect_ivl = -1
        cli.connect(ep)
        self.rec.wait("bad_password/plain_server", "HANDSHAKE_FAILED_AUTH")
        self.rec.wait("bad_password/plain_client", "HANDSHAKE_FAILED_AUTH")
        self.rec.wait("bad_password/plain_client", "DISCONNECTED")
        self.close(cli)
        self.close(srv)
        stop_w.send(b"stop")
        t.join()
        stop_w.close()

    def retry(self):
        """A DEALER connects where nobody listens: libzmq retries."""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens on port now; connects are refused
        cli = self.monitored(zmq.DEALER, "retry/dealer")
        cli.reconnect_ivl = 100
        cli.reconnect_ivl_max = 0
        cli.connect("tcp://127.0.0.1:%d" % port)
        self.rec.wait("retry/dealer", "CONNECT_RETRIED", 3)
        self.close(cli)

    def run(self, scenarios):
        for name in scenarios:
            getattr(self, name)()
        for fwd in self.relays:
            fwd.join(TIMEOUT)
            fwd.stop(TIMEOUT)
        with self.rec.cond:
            records = list(self.rec.records)
        with open(self.args.record, "w") as f:
            json.dump(records, f, indent=1)
        self.ctx.term()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--forward", required=True)
    p.add_argument("--mode", choices=["connect", "bind"], default="connect")
    p.add_argument("--socket", choices=["push", "pub", "pair"], default="push")
    p.add_argument("--record", required=True)
    p.add_argument("--plain", help="USER:PASSWORD presented to zspy (connect mode)")
    p.add_argument("scenarios", nargs="+",
                   choices=["bind_connect", "mechanism_mismatch", "bad_password", "retry"])
    args = p.parse_args()
    if args.mode == "bind" and args.scenarios != ["retry"]:
        p.error("bind mode runs the single-socket scenario retry only")
    App(args).run(args.scenarios)


if __name__ == "__main__":
    main()
