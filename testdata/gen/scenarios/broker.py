"""broker: the seed's broker. Two REQ clients connect to a ROUTER front;
zmq.proxy (a thread of this process) forwards to a DEALER back; three REP
workers connect to the back. Each client sends 30 requests, one at a time; the
workers (each app a thread) answer each after 1-4 ms of "work".
The apps record their own times (time.time_ns(), the capture's clock) in
apptimes.json: per request the client's send and reply, and the worker's
receive and send, so zspy's per-hop latencies can be checked against them."""
import threading

from common import *

FRONT, BACK = 16530, 16531
CLIENTS = [26530, 26531]
WORKERS = [26532, 26533, 26534]
ROUNDS = 30


def main():
    out = case_dir("broker")
    wait_ports_free([FRONT, BACK] + CLIENTS + WORKERS)
    t = Truth("broker", "REQ clients -> ROUTER|DEALER via zmq.proxy -> REP workers "
              "(the seed's broker); apptimes.json holds the apps' own times.")
    t.note("ROUTER -> DEALER adds the client's 5-byte routing id: the back connections "
           "carry [id, '', body] where the front ones carry ['', body].")
    cc = [t.conn("client%d" % i, "REQ", "ROUTER", p, FRONT) for i, p in enumerate(CLIENTS)]
    wc = [t.conn("worker%d" % i, "REP", "DEALER", p, BACK) for i, p in enumerate(WORKERS)]
    for c in cc + wc:
        c.c2s.cmds("READY")
        c.s2c.cmds("READY")
    times = {"clients": [], "workers": []}
    with Capture(os.path.join(out, "capture.pcap"), [FRONT, BACK]) as cap:
        ctx = zctx()
        front = ctx.socket(zmq.ROUTER)
        front.bind("tcp://127.0.0.1:%d" % FRONT)
        back = ctx.socket(zmq.DEALER)
        back.bind("tcp://127.0.0.1:%d" % BACK)
        proxy = threading.Thread(target=lambda: proxy_run(front, back), daemon=True)
        proxy.start()
        sock = socket_maker(ctx)
        workers = []
        for p in WORKERS:
            w = sock(zmq.REP)
            w.connect(src(p, BACK))
            workers.append(w)
        clients = []
        for p in CLIENTS:
            c = sock(zmq.REQ)
            c.connect(src(p, FRONT))
            clients.append(c)
        # Every worker connected before the first request (the DEALER
        # round-robins over the peers it has).
        cap.wait_commands(WORKERS[-1], BACK, ["READY"])
        cap.wait_commands(CLIENTS[-1], FRONT, ["READY"])
        # Each app in a thread of its own, blocked in recv when its message
        # comes, so its own times are taken as the message arrives.
        lock = threading.Lock()
        stop = threading.Event()

        def worker(wi, w):
            w.setsockopt(zmq.RCVTIMEO, 50)
            n = 0
            while not stop.is_set():
                try:
                    body = w.recv()
                except zmq.Again:
                    continue
                tr = time.time_ns()
                time.sleep(0.001 * (1 + (n + wi) % 4))
                reply = b"reply to " + body
                ts = time.time_ns()
                w.send(reply)
                n += 1
                with lock:
                    wc[wi].s2c.msg([b"12345", body], envelope=1)
                    wc[wi].c2s.msg([b"12345", reply], envelope=1)
                    times["workers"].append({"worker": wi, "body": body.decode(), "recv_ns": tr, "send_ns": ts})

        def client(i, c):
            for r in range(ROUNDS):
                body = b"request %d from client %d" % (r, i)
                ts = time.time_ns()
                c.send(body)
                reply = c.recv()
                tr = time.time_ns()
                assert reply == b"reply to " + body, (reply, body)
                with lock:
                    cc[i].c2s.msg([body], envelope=1)
                    cc[i].s2c.msg([reply], envelope=1)
                    times["clients"].append({"client": i, "body": body.decode(), "send_ns": ts, "reply_ns": tr})

        wt = [threading.Thread(target=worker, args=(i, w)) for i, w in enumerate(workers)]
        ct = [threading.Thread(target=client, args=(i, c)) for i, c in enumerate(clients)]
        for th in wt + ct:
            th.start()
        for th in ct:
            th.join()
        stop.set()
        for th in wt:
            th.join()
        for s in clients + workers:
            s.close(linger=1000)
        ctx.term()  # ends the proxy (ETERM) once front and back close
        proxy.join(10)
        cap.wait_closed(conns=len(CLIENTS) + len(WORKERS))
    with open(os.path.join(out, "apptimes.json"), "w") as f:
        json.dump(times, f, indent=1)
        f.write("\n")
    verify(out, t.write(out))


def proxy_run(front, back):
    try:
        zmq.proxy(front, back)
    except zmq.ContextTerminated:
        pass
    front.close(linger=0)
    back.close(linger=0)


main()
