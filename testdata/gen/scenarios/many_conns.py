"""many_conns: 50 short REQ/REP connections one after another (each from its
own fixed source port), 1-3 requests each, for benchmarks."""
from common import *

SP, CP0, N = 16160, 26200, 50


def main():
    out = case_dir("many_conns")
    wait_ports_free([SP] + [CP0 + i for i in range(N)])
    t = Truth("many_conns", "50 sequential short REQ/REP connections to one REP, 1-3 "
              "requests each, every one closed before the next opens.")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        rep = ctx.socket(zmq.REP)
        rep.setsockopt(zmq.RCVTIMEO, 10000)
        rep.bind("tcp://127.0.0.1:%d" % SP)
        for i in range(N):
            c = t.conn("conn-%02d" % i, "REQ", "REP", CP0 + i, SP)
            c.c2s.cmds("READY")
            c.s2c.cmds("READY")
            req = ctx.socket(zmq.REQ)
            req.setsockopt(zmq.RCVTIMEO, 10000)
            req.connect(src(CP0 + i, SP))
            for k in range(1 + i % 3):
                m = b"conn %d request %d " % (i, k) + bytes(i)
                req.send(m)
                assert rep.recv() == m
                c.c2s.msg([m], envelope=1)
                r = b"conn %d reply %d" % (i, k)
                rep.send(r)
                assert req.recv() == r
                c.s2c.msg([r], envelope=1)
            req.close(linger=1000)
            # the next connection opens only once this one is closed both ways
            cap.wait_for(lambda ss, p=CP0 + i: all(
                ss.get(k, {}).get("fin") for k in ((("127.0.0.1", p), ("127.0.0.1", SP)),
                                                    (("127.0.0.1", SP), ("127.0.0.1", p)))),
                what="close of conn %d" % i)
        rep.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=N)
    verify(out, t.write(out))


main()
