"""A libzmq peer for the host package's tests (python3-zmq).

  peer.py pub  ENDPOINT [RATE [SIZE]]
                                 bind a PUB, publish messages of SIZE bytes (default
                                 64 KiB), RATE a second (default 20), until killed
  peer.py sub  ENDPOINT N        connect a SUB (RCVHWM 4), read N messages, then
                                 print "stopped" and read no more
  peer.py pull ENDPOINT          bind a PULL and read until killed
  peer.py push ENDPOINT          connect a PUSH and send one message a time a
                                 message is asked for on stdin

Each prints "ready ENDPOINT" (the bound endpoint, with its port) once set up.
"""
import sys
import time
import zmq

role, ep = sys.argv[1], sys.argv[2]
ctx = zmq.Context()
if role == "pub":
    s = ctx.socket(zmq.PUB)
    s.setsockopt(zmq.SNDHWM, 4)
    s.bind(ep)
    print("ready", s.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
    body = b"x" * (int(sys.argv[4]) if len(sys.argv) > 4 else 65536)
    pause = 1 / float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
    while True:
        s.send(body)
        time.sleep(pause)  # 1.3 MB/s by default: a queue that fills over a second, not at once
elif role == "sub":
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.RCVHWM, 4)
    s.setsockopt(zmq.SUBSCRIBE, b"")
    s.connect(ep)
    print("ready", ep, flush=True)
    for _ in range(int(sys.argv[3])):
        s.recv()
    print("stopped", flush=True)
    sys.stdin.read()  # until the test closes stdin or kills us
elif role == "pull":
    s = ctx.socket(zmq.PULL)
    s.bind(ep)
    print("ready", s.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
    while True:
        s.recv()
        print("got", flush=True)
elif role == "push":
    s = ctx.socket(zmq.PUSH)
    s.connect(ep)
    print("ready", ep, flush=True)
    for _ in sys.stdin:
        s.send(b"hello")
else:
    sys.exit("unknown role " + role)
