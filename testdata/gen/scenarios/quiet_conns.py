"""quiet_conns: a PUB/SUB and a REQ/REP connection that fall silent for
3 s in the middle (TCP open, no packet at all: libzmq sends no heartbeats
by default), then carry traffic again. Replayed with an idle timeout below
the gap (zspy replay --idle-timeout 1s), each must stay one connection with
its socket types, subscription, mechanism, roles and latency: an
established connection lives until FIN or RST however quiet (issue 14)."""
from common import *

SPS, CPS = 16550, 26550  # PUB/SUB
SPR, CPR = 16551, 26551  # REQ/REP
GAP = 3.0


def main():
    out = case_dir("quiet_conns")
    wait_ports_free([SPS, CPS, SPR, CPR])
    t = Truth("quiet_conns", "PUB/SUB (SUB subscribes \"quiet\") and REQ/REP over NULL: "
              "3 messages or exchanges, %.0f s of silence on both connections, 3 more." % GAP)
    ps = t.conn("sub-pub", "SUB", "PUB", CPS, SPS)
    rr = t.conn("req-rep", "REQ", "REP", CPR, SPR)
    t.note("The gap is real: no packet on either connection for %.0f s (checked on the capture)." % GAP)
    with Capture(os.path.join(out, "capture.pcap"), [SPS, SPR]) as cap:
        ctx = zctx()
        pub = ctx.socket(zmq.PUB)
        pub.bind("tcp://127.0.0.1:%d" % SPS)
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVTIMEO, 10000)
        sub.connect(src(CPS, SPS))
        sub.setsockopt(zmq.SUBSCRIBE, b"quiet")
        rep = ctx.socket(zmq.REP)
        rep.setsockopt(zmq.RCVTIMEO, 10000)
        rep.bind("tcp://127.0.0.1:%d" % SPR)
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.RCVTIMEO, 10000)
        req.connect(src(CPR, SPR))
        cap.wait_commands(CPS, SPS, ["READY", "SUBSCRIBE"])
        settle_pub(pub)

        def burst(round_):
            for i in range(3):
                body = [b"quiet", b"round %d message %d" % (round_, i)]
                pub.send_multipart(body)
                assert sub.recv_multipart() == body
                ps.s2c.msg(body)
                q = b"request %d.%d" % (round_, i)
                req.send(q)
                assert rep.recv() == q
                rr.c2s.msg([q], envelope=1)
                a = b"reply %d.%d" % (round_, i)
                rep.send(a)
                assert req.recv() == a
                rr.s2c.msg([a], envelope=1)

        burst(1)
        time.sleep(GAP)
        burst(2)
        ps.c2s.cmds("READY", "SUBSCRIBE")
        ps.s2c.cmds("READY")
        ps.set(subscriptions=["quiet"])
        rr.c2s.cmds("READY")
        rr.s2c.cmds("READY")
        for s in (sub, req):
            s.close(linger=1000)
        for s in (pub, rep):
            s.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=2)
    d = t.write(out)
    verify(out, d)
    pkts = read_pcap(os.path.join(out, "capture.pcap"))
    gaps = [b[0] - a[0] for a, b in zip(pkts, pkts[1:])]
    assert max(gaps) >= GAP - 0.1, "no %.0f s gap in the capture: %s" % (GAP, max(gaps))


main()
