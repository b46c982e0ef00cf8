"""REQ/REP traffic for zspy's tcpreplay benchmark (e2e/tcpreplay_bench_test.go).

Run with Debian's pyzmq (/usr/bin/python3) inside the benchmark's network
namespaces, while tcpdump records the exchange for tcpreplay to replay:

  reqrep_load.py server ADDR PORT
      binds a libzmq ROUTER on tcp://ADDR:PORT and answers every request with
      its own body (what a REP does, without one round trip at a time), prints
      {"event":"ready"}, and exits when "stop" comes on stdin.

  reqrep_load.py client ADDR PORT SOCKETS ROUNDS SIZE
      connects SOCKETS libzmq REQ sockets to tcp://ADDR:PORT and runs ROUNDS
      request/reply round trips of SIZE-byte messages on each, all sockets
      in flight at once, then closes them and prints {"event":"done",
      "requests":N}.
"""

import json
import sys

import zmq


def emit(obj):
    print(json.dumps(obj), flush=True)


def server(addr, port):
    ctx = zmq.Context()
    s = ctx.socket(zmq.ROUTER)
    s.bind("tcp://%s:%d" % (addr, port))
    poller = zmq.Poller()
    poller.register(s, zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    emit({"event": "ready"})
    while True:
        for sock, _ in poller.poll():
            if sock == s:
                # Drain what is queued without blocking.
                while True:
                    try:
                        msg = s.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    s.send_multipart(msg)
            else:
                if sys.stdin.readline().strip() in ("stop", ""):
                    s.close(linger=0)
                    ctx.term()
                    return


def client(addr, port, sockets, rounds, size):
    ctx = zmq.Context()
    socks = []
    for _ in range(sockets):
        r = ctx.socket(zmq.REQ)
        r.connect("tcp://%s:%d" % (addr, port))
        socks.append(r)
    body = b"r" * size
    left = {r: rounds for r in socks}
    poller = zmq.Poller()
    for r in socks:
        poller.register(r, zmq.POLLIN)
        r.send(body)
    done = 0
    while left:
        for r, _ in poller.poll():
            r.recv()
            done += 1
            left[r] -= 1
            if left[r] == 0:
                poller.unregister(r)
                del left[r]
            else:
                r.send(body)
    for r in socks:
        r.close(linger=1000)
    ctx.term()
    emit({"event": "done", "requests": done})


def main():
    role = sys.argv[1]
    if role == "server":
        server(sys.argv[2], int(sys.argv[3]))
    elif role == "client":
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    else:
        sys.exit("unknown role " + role)


if __name__ == "__main__":
    main()
