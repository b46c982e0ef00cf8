"""Load generator for zspy's live-capture benchmark (e2e/capture_bench_test.go).

Two roles, each run with Debian's pyzmq (/usr/bin/python3) inside the
benchmark's network namespace, on loopback only:

  loadgen.py sink PORT ENDS
      binds a libzmq PULL on 127.0.0.1:PORT and drains it in C (zmq.proxy to
      an inproc PUB nobody reads), prints {"event":"ready"}, and
      {"event":"done"} once ENDS messages "END" came through (one per
      sending connection): everything sent before them has been received.

  loadgen.py push SRCPORT PORT RATE COUNT SIZE MAXSEC
      connects a libzmq PUSH from 127.0.0.1:SRCPORT, prints {"event":"ready"},
      waits for "go" on stdin, sends COUNT messages of SIZE bytes at RATE
      messages/s (a token bucket; RATE 0: as fast as it can) for at most
      MAXSEC seconds, then "END", and prints {"event":"done","sent":N,
      "seconds":S} (N counts END; S is the sending time).
"""

import json
import sys
import threading
import time

import zmq


def emit(obj):
    print(json.dumps(obj), flush=True)


def sink(port, ends):
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVHWM, 100000)
    pull.bind("tcp://127.0.0.1:%d" % port)
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.bind("inproc://sink")
    end = ctx.socket(zmq.SUB)
    end.connect("inproc://sink")
    end.setsockopt(zmq.SUBSCRIBE, b"END")
    threading.Thread(target=zmq.proxy, args=(pull, pub), daemon=True).start()
    emit({"event": "ready"})
    for _ in range(ends):
        end.recv()
    emit({"event": "done"})


def push(src_port, port, rate, count, size, max_sec):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.SNDHWM, 100000)
    s.setsockopt(zmq.LINGER, 30000)
    s.connect("tcp://127.0.0.1:%d;127.0.0.1:%d" % (src_port, port))
    emit({"event": "ready"})
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("loadgen: expected go")
    msg = b"m" * size
    send = s.send
    burst = max(1, int(rate / 1000)) if rate else 1000
    sent = 0
    t0 = time.perf_counter()
    deadline = t0 + max_sec
    while sent < count:
        now = time.perf_counter()
        if now > deadline:
            break
        allowed = count if not rate else min(count, int((now - t0) * rate) + burst)
        if allowed <= sent:
            time.sleep(0.0002)
            continue
        n = min(allowed - sent, 10000)
        for _ in range(n):
            send(msg)
        sent += n
    seconds = time.perf_counter() - t0
    send(b"END")
    s.close()
    ctx.term()
    emit({"event": "done", "sent": sent + 1, "seconds": seconds})


def main():
    role = sys.argv[1]
    a = [int(float(x)) for x in sys.argv[2:]]
    if role == "sink":
        sink(a[0], a[1])
    elif role == "push":
        push(*a)
    else:
        raise SystemExit("loadgen: unknown role %s" % role)


if __name__ == "__main__":
    main()
