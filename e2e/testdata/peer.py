"""A libzmq peer for zspy's end-to-end tests (e2e/netns_test.go).

Run with Debian's pyzmq (/usr/bin/python3, python3-zmq) inside a network
namespace: `ip netns exec NS /usr/bin/python3 peer.py SPEC`, where SPEC is a
JSON object (the same format e2e/testdata/zmq4peer reads):

  id        name of the peer (for messages)
  socket    REQ, REP, PUB, SUB, PUSH, PULL, DEALER or ROUTER
  bind      endpoint to bind ("tcp://10.77.0.2:16001"), or
  connect   endpoint to connect, with libzmq's fixed source port syntax
            ("tcp://10.77.0.1:26001;10.77.0.2:16001")
  identity  routing id (DEALER, REQ, ROUTER); libzmq sends it in READY
  messages  what to send: a list of messages, each a list of frames; a frame
            "*N" is N pattern bytes, any other string is sent as it is
  replies   what REP and ROUTER answer: request i gets replies[i % len]
  count     how many messages to receive (REP, ROUTER, PULL)
  topics    SUB: subscriptions; cancel: topics cancelled after "ctl-end"
  hold      keep the socket open until "close" comes on stdin (servers: so
            that clients close first and never retry a vanished server)

It talks to the test through lines on stdout: {"event":"ready"} once bound or
connected (and subscribed), {"event":"synced"} when a SUB got its first
message, and last {"event":"done", ...} with what it sent and received as it
crossed the wire (envelope delimiters that REQ and REP add and strip are
counted; the routing id a ROUTER prepends is not, it never crosses the wire).
Commands count READY (one each way) and, for a SUB, every SUBSCRIBE and CANCEL
(libzmq speaks ZMTP 3.1 to the libzmq PUB of these tests). A PUB publishes
"ctl-sync" messages every 10 ms until it reads "go" on stdin, then its
messages, then "ctl-end".
"""

import json
import select
import sys

import zmq


def frames_of(spec_msg):
    out = []
    for f in spec_msg:
        if f.startswith("*"):
            n = int(f[1:])
            out.append(bytes((i * 7 + n) & 0xFF for i in range(n)))
        else:
            out.append(f.encode())
    return out


class Dir:
    def __init__(self):
        self.messages = 0
        self.frames = 0
        self.bytes = 0
        self.commands = 1  # READY

    def add(self, frames, envelope=0, skip=0):
        """Counts a message; envelope frames are empty delimiters on the
        wire that the application does not see, skip frames are seen by the
        application but never cross the wire (a ROUTER's routing id)."""
        frames = frames[skip:]
        self.messages += 1
        self.frames += len(frames) + envelope
        self.bytes += sum(len(f) for f in frames)

    def json(self):
        return {"messages": self.messages, "frames": self.frames,
                "bytes": self.bytes, "commands": self.commands}


def emit(obj):
    print(json.dumps(obj), flush=True)


def main():
    spec = json.loads(sys.argv[1])
    kind = spec["socket"]
    ctx = zmq.Context()
    s = ctx.socket(getattr(zmq, kind))
    s.setsockopt(zmq.LINGER, 5000)
    s.setsockopt(zmq.RCVTIMEO, 30000)
    s.setsockopt(zmq.SNDTIMEO, 30000)
    if spec.get("identity"):
        s.setsockopt(zmq.ROUTING_ID, spec["identity"].encode())
    sent, recv = Dir(), Dir()
    subs, history = [], []
    for tp in spec.get("topics", []):
        s.setsockopt(zmq.SUBSCRIBE, tp.encode())
        sent.commands += 1
        subs.append(tp)
        history.append("subscribe:" + tp)
    if spec.get("bind"):
        s.bind(spec["bind"])
    else:
        s.connect(spec["connect"])
    emit({"event": "ready", "id": spec["id"]})

    msgs = [frames_of(m) for m in spec.get("messages", [])]
    replies = [frames_of(m) for m in spec.get("replies", [])]
    count = spec.get("count", 0)

    if kind == "REQ":
        for m in msgs:
            s.send_multipart(m)
            sent.add(m, envelope=1)
            r = s.recv_multipart()
            recv.add(r, envelope=1)
    elif kind == "DEALER":
        for m in msgs:
            s.send_multipart(m)
            sent.add(m)
            r = s.recv_multipart()
            recv.add(r)
    elif kind == "REP":
        for i in range(count):
            m = s.recv_multipart()
            recv.add(m, envelope=1)
            r = replies[i % len(replies)]
            s.send_multipart(r)
            sent.add(r, envelope=1)
    elif kind == "ROUTER":
        for i in range(count):
            m = s.recv_multipart()
            recv.add(m, skip=1)
            r = replies[i % len(replies)]
            s.send_multipart([m[0]] + r)
            sent.add(r)
    elif kind == "PUSH":
        for m in msgs:
            s.send_multipart(m)
            sent.add(m)
    elif kind == "PULL":
        for _ in range(count):
            recv.add(s.recv_multipart())
    elif kind == "PUB":
        n = 0
        while True:
            r, _, _ = select.select([sys.stdin], [], [], 0.01)
            if r:
                if sys.stdin.readline().strip() != "go":
                    raise SystemExit("peer %s: expected go" % spec["id"])
                break
            m = [b"ctl-sync", b"%d" % n]
            s.send_multipart(m)
            n += 1
        for m in msgs + [[b"ctl-end"]]:
            s.send_multipart(m)
            sent.add(m)
        # What each subscriber got is in the subscribers' own records.
        sent.messages = sent.frames = sent.bytes = None
    elif kind == "SUB":
        synced = False
        while True:
            m = s.recv_multipart()
            recv.add(m)
            if not synced:
                emit({"event": "synced", "id": spec["id"]})
                synced = True
            if m[0] == b"ctl-end":
                break
        for tp in spec.get("cancel", []):
            s.setsockopt(zmq.UNSUBSCRIBE, tp.encode())
            sent.commands += 1
            subs.remove(tp)
            history.append("cancel:" + tp)
    else:
        raise SystemExit("peer %s: unknown socket %s" % (spec["id"], kind))

    if spec.get("hold"):
        emit({"event": "finished", "id": spec["id"]})
        if sys.stdin.readline().strip() != "close":
            raise SystemExit("peer %s: expected close" % spec["id"])
    s.close()
    ctx.term()
    emit({"event": "done", "id": spec["id"], "socket": kind,
          "library": "libzmq %s" % zmq.zmq_version(),
          "identity": spec.get("identity", ""),
          "sent": sent.json(), "recv": recv.json(), "subscriptions": subs, "history": history})


if __name__ == "__main__":
    main()
