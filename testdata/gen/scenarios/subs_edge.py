"""subs_edge: subscription edge cases. A SUB subscribes, re-subscribes (libzmq
refcounts: an unsubscribe goes on the wire only when the count drops to 0),
unsubscribes, subscribes to "" and to binary and long topics; an XSUB sends raw
0x01/0x00 messages, duplicates, an empty-topic pair and a multipart message
whose first frame starts with 0x01. Each talks to its own XPUB_VERBOSER, whose
application records every subscription message it got; probes published at
the end show the final set."""
from common import *

SPA, SPB, CA, CB = 16310, 16311, 26410, 26411


def pr(b):
    return b.decode() if all(0x20 <= ch <= 0x7E for ch in b) else "0x" + b.hex()


def drain(x):
    got = []
    while x.poll(300):
        parts = x.recv_multipart()
        got.append(parts)
    return got


def probe(pub, s, topics, c):
    got = set()
    for tp in topics:
        m = [tp, b"probe"]
        pub.send_multipart(m)
    while s.poll(300):
        m = s.recv_multipart()
        c.s2c.msg(m)
        got.add(m[0])
    return got


def main():
    out = case_dir("subs_edge")
    wait_ports_free([SPA, SPB, CA, CB])
    t = Truth("subs_edge", "SUB and XSUB subscription edge cases against XPUB_VERBOSER")
    ca = t.conn("sub", "SUB", "XPUB", CA, SPA)
    cb = t.conn("xsub", "XSUB", "XPUB", CB, SPB)
    L, H = b"L" * 300, b"H" * 4000
    with Capture(os.path.join(out, "capture.pcap"), [SPA, SPB]) as cap:
        ctx = zctx()
        xa = ctx.socket(zmq.XPUB); xa.setsockopt(zmq.XPUB_VERBOSER, 1); xa.bind("tcp://127.0.0.1:%d" % SPA)
        xb = ctx.socket(zmq.XPUB); xb.setsockopt(zmq.XPUB_VERBOSER, 1); xb.bind("tcp://127.0.0.1:%d" % SPB)
        sub = ctx.socket(zmq.SUB); sub.connect(src(CA, SPA))
        xsub = ctx.socket(zmq.XSUB); xsub.connect(src(CB, SPB))
        ops = [(1, b"alpha"), (1, b"beta"), (1, b"alpha"), (1, b""), (1, b"\x00\x01\xfe"), (1, L), (1, H),
               (0, b"alpha"), (0, b"beta"), (1, b"beta"), (0, b""), (1, b"gone"), (0, b"gone")]
        for op, tp in ops:
            sub.setsockopt(zmq.SUBSCRIBE if op else zmq.UNSUBSCRIBE, tp)
        got = drain(xa)
        cmds = ["READY"]
        final = set()
        for parts in got:
            assert len(parts) == 1, parts
            m = parts[0]
            cmds.append("SUBSCRIBE" if m[0] == 1 else "CANCEL")
            (final.add if m[0] == 1 else final.discard)(m[1:])
        log("sub wire ops:", [(p[0][0], p[0][1:20]) for p in got])
        ca.c2s.cmds(*cmds)
        ca.s2c.cmds("READY")
        probes = [b"alpha", b"beta", b"\x00\x01\xfe", L, H, b"gone", b"zzz"]
        delivered = probe(xa, sub, probes, ca)
        assert delivered == final, (delivered, final)
        ca.set(subscriptions=sorted(pr(x) for x in final))

        xops = [[b"\x01alpha"], [b"\x01alpha"], [b"\x00alpha"], [b"\x01"], [b"\x00"], [b"\x01beta"],
                [b"\x01multi", b"body"], [b"\x02data", b"\x01sneaky"], [b"\x02data"], [b"\x00"], [b"\x01\xff\x00"]]
        for m in xops:
            xsub.send_multipart(m)
        got = [f for parts in drain(xb) for f in parts]
        log("xsub frames the XPUB application got:", got)
        # The XPUB application gets each frame as a message of its own; the
        # wire carries what the XSUB sent, less what it filtered (an
        # unsubscribe of a topic it still holds: libzmq refcounts).
        k = 0
        leg = 0
        for m in xops:
            if got[k:k + len(m)] != m:
                log("not sent by the XSUB:", m)
                continue
            k += len(m)
            cb.c2s.msg(m)
            # libzmq 4.3.4's XPUB takes every frame that starts with 0x00/0x01
            # as an (un)subscription, in any position of a message.
            leg += sum(1 for f in m if f[:1] in (b"\x00", b"\x01"))
        assert k == len(got), (k, got)
        cb.c2s.legacy_subscriptions = leg
        cb.c2s.cmds("READY")
        cb.s2c.cmds("READY")
        delivered = probe(xb, xsub, [b"alpha", b"beta", b"multi", b"sneaky", b"\xff\x00", b"zzz"], cb)
        log("xsub delivered", delivered, "set semantics", final)
        cb.set(subscriptions=sorted(pr(x) for x in delivered))
        for s in (sub, xsub, xa, xb):
            s.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=2)
    verify(out, t.write(out))


main()
