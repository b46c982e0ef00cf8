"""The seed's broker for the tracing package's live test (python3-zmq): a
REQ client -> ROUTER|DEALER via zmq.proxy -> 2 REP workers, each app a
thread of this process, on 127.0.0.1 ports the kernel picks.

  broker.py N    prints "ready FRONT BACK", waits for a line on stdin (the
                 capture is on), sends N requests one at a time (the workers
                 answer each after 1-3 ms), then prints one JSON line of the
                 apps' own times (time.time_ns(), the capture's clock) and
                 "done", and keeps its sockets until the next line."""
import json
import sys
import threading
import time

import zmq

n = int(sys.argv[1])
ctx = zmq.Context()
front = ctx.socket(zmq.ROUTER)
front.bind("tcp://127.0.0.1:*")
back = ctx.socket(zmq.DEALER)
back.bind("tcp://127.0.0.1:*")
fep = front.getsockopt(zmq.LAST_ENDPOINT).decode()
bep = back.getsockopt(zmq.LAST_ENDPOINT).decode()


def proxy():
    try:
        zmq.proxy(front, back)
    except zmq.ContextTerminated:
        pass
    front.close(linger=0)
    back.close(linger=0)


threading.Thread(target=proxy, daemon=True).start()
print("ready", fep, bep, flush=True)
sys.stdin.readline()

times = {"client": [], "workers": []}
lock = threading.Condition()
stop = threading.Event()


def worker(wi):
    w = ctx.socket(zmq.REP)
    w.setsockopt(zmq.RCVTIMEO, 50)
    w.connect(bep)
    k = 0
    while not stop.is_set():
        try:
            body = w.recv()
        except zmq.Again:
            continue
        tr = time.time_ns()
        time.sleep(0.001 * (1 + (k + wi) % 3))
        ts = time.time_ns()
        w.send(b"reply to " + body)
        k += 1
        with lock:
            times["workers"].append({"recv_ns": tr, "send_ns": ts})
            lock.notify_all()
    w.close(linger=1000)


ws = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
for t in ws:
    t.start()
c = ctx.socket(zmq.REQ)
c.connect(fep)
for r in range(n):
    body = b"request %d" % r
    ts = time.time_ns()
    c.send(body)
    reply = c.recv()
    tr = time.time_ns()
    assert reply == b"reply to " + body
    times["client"].append({"send_ns": ts, "reply_ns": tr})
with lock:
    lock.wait_for(lambda: len(times["workers"]) == n, timeout=10)
    print(json.dumps(times), flush=True)
print("done", flush=True)
sys.stdin.readline()  # every socket open until the test has sampled them
c.close(linger=1000)
stop.set()
for t in ws:
    t.join()
ctx.term()
