"""dealer_router: ROUTER bound; DEALERs with routing ids "abc" and
"worker-2" send multipart requests of 3-5 frames; the ROUTER answers each
by routing id with 3-5 frames (the routing-id frame is not on the wire)."""
from common import *

SP, C1, C2 = 16040, 26040, 26041


def main():
    out = case_dir("dealer_router")
    wait_ports_free([SP, C1, C2])
    t = Truth("dealer_router", "DEALER/ROUTER over NULL with ZMQ_ROUTING_ID \"abc\" and "
              "\"worker-2\"; multipart messages of 3-5 frames both ways.")
    ids = {C1: b"abc", C2: b"worker-2"}
    cs = {}
    for p, ident in ids.items():
        c = t.conn("dealer-" + ident.decode(), "DEALER", "ROUTER", p, SP)
        c.identity("client", ident.decode())
        c.identity("server", "")
        c.c2s.cmds("READY")
        c.s2c.cmds("READY")
        cs[p] = c
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        router = ctx.socket(zmq.ROUTER)
        router.bind("tcp://127.0.0.1:%d" % SP)
        dealers = {}
        for p, ident in ids.items():
            d = ctx.socket(zmq.DEALER)
            d.setsockopt(zmq.ROUTING_ID, ident)
            d.setsockopt(zmq.RCVTIMEO, 10000)
            d.connect(src(p, SP))
            dealers[p] = d
        router.setsockopt(zmq.RCVTIMEO, 10000)
        for i in range(12):
            for p, d in dealers.items():
                n = 3 + (i % 3)
                req = [b"req-%d-%d" % (i, k) + bytes(k * i) for k in range(n)]
                d.send_multipart(req)
                cs[p].c2s.msg(req)
                got = router.recv_multipart()
                assert got == [ids[p]] + req, got
                m = 3 + ((i + 1) % 3)
                rep = [b"rep-%d-%d" % (i, k) + bytes(k * 3) for k in range(m)]
                router.send_multipart([ids[p]] + rep)
                assert d.recv_multipart() == rep
                cs[p].s2c.msg(rep)
        for d in dealers.values():
            d.close(linger=1000)
        router.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=2)
    verify(out, t.write(out))


main()
