"""pair: PAIR to PAIR, 10 messages each way, alternating."""
from common import *

SP, CP = 16050, 26050


def main():
    out = case_dir("pair")
    wait_ports_free([SP, CP])
    t = Truth("pair", "PAIR/PAIR over NULL; 10 messages each way, some multipart.")
    c = t.conn("pair", "PAIR", "PAIR", CP, SP)
    c.c2s.cmds("READY")
    c.s2c.cmds("READY")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        a = ctx.socket(zmq.PAIR)
        a.bind("tcp://127.0.0.1:%d" % SP)
        b = ctx.socket(zmq.PAIR)
        b.connect(src(CP, SP))
        for s in (a, b):
            s.setsockopt(zmq.RCVTIMEO, 10000)
        for i in range(10):
            m = [b"ping %d" % i] + ([bytes(i * 30)] if i % 2 else [])
            b.send_multipart(m)
            assert a.recv_multipart() == m
            c.c2s.msg(m)
            r = [b"pong %d" % i, b"x" * i, b""] if i % 3 == 0 else [b"pong %d" % i]
            a.send_multipart(r)
            assert b.recv_multipart() == r
            c.s2c.msg(r)
        b.close(linger=1000)
        a.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=1)
    verify(out, t.write(out))


main()
