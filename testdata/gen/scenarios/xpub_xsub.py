"""xpub_xsub: XPUB bound; an XSUB and a SUB connect. The XSUB subscribes by
sending legacy 0x01/0x00 messages (libzmq 4.3 sends them as data frames even
to a 3.1 peer), and one plain upstream message; the SUB subscribes with a
SUBSCRIBE command. The XPUB application reads every subscription, which is
the explicit synchronisation before publishing."""
from common import *

SP, CX, CS = 16060, 26060, 26061


def main():
    out = case_dir("xpub_xsub")
    wait_ports_free([SP, CX, CS])
    t = Truth("xpub_xsub", "XPUB with an XSUB (legacy 0x01/0x00 subscription messages plus "
              "one upstream data message) and a SUB (SUBSCRIBE command); [topic, body] messages.")
    cx = t.conn("xsub", "XSUB", "XPUB", CX, SP)
    cs = t.conn("sub", "SUB", "XPUB", CS, SP)
    t.note("XSUB's subscriptions travel as data messages 0x01+topic / 0x00+topic even on "
           "ZMTP 3.1 (libzmq 4.3.4); they are counted in c2s messages/frames/bytes and "
           "c2s.legacy_subscriptions says how many of those frames are subscription/cancel messages.")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        xpub = ctx.socket(zmq.XPUB)
        xpub.setsockopt(zmq.RCVTIMEO, 10000)
        xpub.bind("tcp://127.0.0.1:%d" % SP)
        xsub = ctx.socket(zmq.XSUB)
        xsub.setsockopt(zmq.RCVTIMEO, 10000)
        xsub.connect(src(CX, SP))
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVTIMEO, 10000)
        sub.connect(src(CS, SP))
        # XSUB upstream traffic, in order; the XPUB application sees each one.
        for m in (b"\x01weather", b"\x01news", b"hello-up"):
            xsub.send(m)
            assert xpub.recv() == m
            cx.c2s.msg([m])
        cx.c2s.legacy_subscriptions = 2
        sub.setsockopt(zmq.SUBSCRIBE, b"sports")
        assert xpub.recv() == b"\x01sports"
        xsubs = [b"weather", b"news"]
        subs = [b"sports"]

        def publish(r, n):
            for i in range(n):
                tp = [b"weather", b"news", b"sports", b"other"][i % 4]
                body = b"%s %d.%d" % (tp, r, i) + bytes(i)
                xpub.send_multipart([tp, body])
                for s, tl, c in ((xsub, xsubs, cx), (sub, subs, cs)):
                    if any(tp.startswith(x) for x in tl):
                        assert s.recv_multipart() == [tp, body]
                        c.s2c.msg([tp, body])

        publish(1, 12)
        xsub.send(b"\x00news")
        assert xpub.recv() == b"\x00news"
        cx.c2s.msg([b"\x00news"])
        cx.c2s.legacy_subscriptions = 3
        xsubs.remove(b"news")
        publish(2, 8)
        for s in (xsub, sub):
            assert s.poll(200) == 0
        cx.c2s.cmds("READY")
        cs.c2s.cmds("READY", "SUBSCRIBE")
        cx.s2c.cmds("READY")
        cs.s2c.cmds("READY")
        cx.set(subscriptions=["weather"])
        cs.set(subscriptions=["sports"])
        xsub.close(linger=0)
        sub.close(linger=0)
        xpub.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=2)
    verify(out, t.write(out))


main()
