"""x_routing: ROUTER-to-ROUTER with identities, ROUTER_HANDOVER, DEALER with
ZMQ_ROUTING_ID, REQ with REQ_CORRELATE/REQ_RELAXED, REQ->ROUTER and
DEALER->REP."""
from common import *

S1, S2, S3, S4 = 16320, 16321, 16322, 16323
C1, C2, C3, C4, C5 = 26420, 26421, 26422, 26423, 26424


def main():
    out = case_dir("x_routing")
    wait_ports_free([S1, S2, S3, S4, C1, C2, C3, C4, C5])
    t = Truth("x_routing", "ROUTER/ROUTER, handover, REQ correlate/relaxed, REQ->ROUTER, DEALER->REP")
    with Capture(os.path.join(out, "capture.pcap"), [S1, S2, S3, S4]) as cap:
        ctx = zctx()
        sock = socket_maker(ctx)
        # 1. ROUTER to ROUTER: both with routing ids.
        rs = sock(zmq.ROUTER, ROUTING_ID=b"srv-1"); rs.bind("tcp://127.0.0.1:%d" % S1)
        rc = sock(zmq.ROUTER, ROUTING_ID=b"cli-1", ROUTER_MANDATORY=1); rc.connect(src(C1, S1))
        c = t.conn("router-router", "ROUTER", "ROUTER", C1, S1)
        c.identity("client", "cli-1").identity("server", "srv-1")
        c.c2s.cmds("READY"); c.s2c.cmds("READY")
        for i in range(20):
            try:
                rc.send_multipart([b"srv-1", b"hello"])
                break
            except zmq.ZMQError:
                time.sleep(0.05)
        assert rs.recv_multipart() == [b"cli-1", b"hello"]
        c.c2s.msg([b"hello"])
        for i in range(5):
            m = [b"", b"part%d" % i, bytes(i * 100)]
            rc.send_multipart([b"srv-1"] + m)
            assert rs.recv_multipart() == [b"cli-1"] + m
            c.c2s.msg(m)
            rs.send_multipart([b"cli-1"] + m[::-1])
            assert rc.recv_multipart() == [b"srv-1"] + m[::-1]
            c.s2c.msg(m[::-1])
        # 2. REQ with CORRELATE + RELAXED to a ROUTER.
        r2 = sock(zmq.ROUTER); r2.bind("tcp://127.0.0.1:%d" % S2)
        rq = sock(zmq.REQ, REQ_CORRELATE=1, REQ_RELAXED=1); rq.connect(src(C2, S2))
        c = t.conn("req-correlate", "REQ", "ROUTER", C2, S2)
        c.c2s.cmds("READY"); c.s2c.cmds("READY")
        for i in range(4):
            rq.send(b"req %d" % i)
            m = r2.recv_multipart()
            assert len(m) == 4 and m[2] == b"" and m[3] == b"req %d" % i, m
            c.c2s.msg(m[1:])  # request id, delimiter, body
            if i == 1:
                continue  # unanswered: relaxed lets the REQ send again
            r2.send_multipart(m[:3] + [b"rep %d" % i])
            assert rq.recv() == b"rep %d" % i
            c.s2c.msg(m[1:3] + [b"rep %d" % i])
        # 3. DEALER with routing id to a REP.
        rep = sock(zmq.REP); rep.bind("tcp://127.0.0.1:%d" % S3)
        dl = sock(zmq.DEALER, ROUTING_ID=b"dealer-x"); dl.connect(src(C3, S3))
        c = t.conn("dealer-rep", "DEALER", "REP", C3, S3)
        c.identity("client", "dealer-x")
        c.c2s.cmds("READY"); c.s2c.cmds("READY")
        for i in range(5):
            dl.send_multipart([b"", b"q%d" % i, b"x" * i])
            assert rep.recv_multipart() == [b"q%d" % i, b"x" * i]
            c.c2s.msg([b"", b"q%d" % i, b"x" * i])
            rep.send_multipart([b"a%d" % i])
            assert dl.recv_multipart() == [b"", b"a%d" % i]
            c.s2c.msg([b"", b"a%d" % i])
        # 4. ROUTER_HANDOVER: two DEALERs with the same id, one after the other.
        r4 = sock(zmq.ROUTER, ROUTER_HANDOVER=1); r4.bind("tcp://127.0.0.1:%d" % S4)
        d1 = sock(zmq.DEALER, ROUTING_ID=b"same"); d1.connect(src(C4, S4))
        c = t.conn("handover-1", "DEALER", "ROUTER", C4, S4)
        c.identity("client", "same")
        c.c2s.cmds("READY"); c.s2c.cmds("READY")
        d1.send(b"from d1"); assert r4.recv_multipart() == [b"same", b"from d1"]; c.c2s.msg([b"from d1"])
        r4.send_multipart([b"same", b"to d1"]); assert d1.recv() == b"to d1"; c.s2c.msg([b"to d1"])
        d2 = sock(zmq.DEALER, ROUTING_ID=b"same"); d2.connect(src(C5, S4))
        c2 = t.conn("handover-2", "DEALER", "ROUTER", C5, S4)
        c2.identity("client", "same")
        c2.c2s.cmds("READY"); c2.s2c.cmds("READY")
        d2.send(b"from d2"); assert r4.recv_multipart() == [b"same", b"from d2"]; c2.c2s.msg([b"from d2"])
        r4.send_multipart([b"same", b"to d2"]); assert d2.recv() == b"to d2"; c2.s2c.msg([b"to d2"])
        assert d1.poll(200) == 0
        for s in (rc, rq, dl, d1, d2, rs, r2, rep, r4):
            s.close()
        ctx.term()
        cap.wait_closed(conns=5)
    verify(out, t.write(out))


main()
