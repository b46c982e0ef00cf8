"""Real libzmq processes for the patterns tests (python3-zmq), one role each.

  broker  FRONT BACK   ROUTER bound on FRONT, DEALER bound on BACK, zmq.proxy
  rep     BACK         REP connected to BACK, echoes
  req     FRONT N      REQ connected to FRONT, N request/reply round trips
  proxy   XSUB XPUB    XSUB bound on XSUB, XPUB bound on XPUB, zmq.proxy
  pub     XSUB         PUB connected to XSUB, 20 messages a second
  sub     XPUB N       SUB connected to XPUB, reads N messages
  vent    EP           PUSH bound on EP, 20 messages a second
  worker  IN OUT       PULL connected to IN, PUSH connected to OUT, forwards
  sink    EP N         PULL bound on EP, reads N messages

Binders print "ready ENDPOINT..." with the bound endpoints; every role
prints "done" when its count is reached, then waits. Every role exits when
its stdin closes: when the test that started it ends, however it ends, no
process of it is left to show up in another run's capture of lo.
"""
import os
import sys
import threading
import time
import zmq


def exit_at_eof():
    sys.stdin.buffer.read()
    os._exit(0)


threading.Thread(target=exit_at_eof, daemon=True).start()

role, args = sys.argv[1], sys.argv[2:]
ctx = zmq.Context()


def bound(sock, ep):
    sock.bind(ep)
    return sock.getsockopt(zmq.LAST_ENDPOINT).decode()


def done():
    print("done", flush=True)
    threading.Event().wait()


if role in ("broker", "proxy"):
    a = ctx.socket(zmq.ROUTER if role == "broker" else zmq.XSUB)
    b = ctx.socket(zmq.DEALER if role == "broker" else zmq.XPUB)
    print("ready", bound(a, args[0]), bound(b, args[1]), flush=True)
    zmq.proxy(a, b)
elif role == "rep":
    s = ctx.socket(zmq.REP)
    s.connect(args[0])
    print("ready", flush=True)
    while True:
        s.send(s.recv())
elif role == "req":
    s = ctx.socket(zmq.REQ)
    s.connect(args[0])
    print("ready", flush=True)
    for i in range(int(args[1])):
        s.send(b"request %d" % i)
        s.recv()
    done()
elif role in ("pub", "vent"):
    s = ctx.socket(zmq.PUB if role == "pub" else zmq.PUSH)
    if role == "pub":
        s.connect(args[0])
        print("ready", flush=True)
    else:
        print("ready", bound(s, args[0]), flush=True)
    i = 0
    while True:
        s.send(b"message %d" % i)
        i += 1
        time.sleep(0.05)
elif role == "sub":
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(args[0])
    print("ready", flush=True)
    for _ in range(int(args[1])):
        s.recv()
    done()
elif role == "worker":
    i, o = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    i.connect(args[0])
    o.connect(args[1])
    print("ready", flush=True)
    while True:
        o.send(i.recv())
elif role == "sink":
    s = ctx.socket(zmq.PULL)
    print("ready", bound(s, args[0]), flush=True)
    for _ in range(int(args[1])):
        s.recv()
    done()
else:
    sys.exit("unknown role " + role)
