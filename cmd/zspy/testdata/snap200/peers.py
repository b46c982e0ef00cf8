"""Peers of the snap200 capture: a libzmq PUSH sends N messages of 60-140
bytes as fast as it can to a PULL over loopback (libzmq batches them into
segments of up to 8 KiB, many messages each); the PULL counts what it
received. Writes truth.json: what the peers themselves sent and received."""
import json
import random
import sys

import zmq

SP, CP, N = 16590, 26590, 20000


def main():
    rnd = random.Random(200)
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDHWM, 0)
    push.bind("tcp://127.0.0.1:%d" % SP)
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVHWM, 0)
    pull.connect("tcp://127.0.0.1:%d;127.0.0.1:%d" % (CP, SP))
    sent_bytes = 0
    for i in range(N):
        m = rnd.randbytes(rnd.randint(60, 140))
        push.send(m)
        sent_bytes += len(m)
    got, got_bytes = 0, 0
    while got < N:
        if not pull.poll(10000):
            sys.exit("the PULL stopped receiving at %d of %d" % (got, N))
        got_bytes += len(pull.recv())
        got += 1
    pull.close(linger=1000)
    push.close(linger=1000)
    ctx.term()
    json.dump({"client": "127.0.0.1:%d" % CP, "server": "127.0.0.1:%d" % SP, "library": "libzmq %s (pyzmq %s)" % (zmq.zmq_version(), zmq.__version__),
               "s2c_messages": got, "s2c_message_bytes": got_bytes, "sent": N, "sent_bytes": sent_bytes},
              open("truth.json", "w"), indent=2)
    print("sent %d, received %d" % (N, got))


main()
