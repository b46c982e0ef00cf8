"""longframe: PAIR/PAIR with frames of 300 bytes, 70000 bytes and 500 KB
(ZMTP long frames), and a multipart message mixing short and long frames."""
from common import *

SP, CP = 16110, 26110


def main():
    out = case_dir("longframe")
    wait_ports_free([SP, CP])
    t = Truth("longframe", "PAIR/PAIR over NULL: single frames of 300, 70000 and 500000 "
              "bytes, and multipart [10, 256, 70000] / [255, 300] messages.")
    c = t.conn("pair-long", "PAIR", "PAIR", CP, SP)
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

        def blob(n, seed):
            return bytes((seed + i * 7) & 0xFF for i in range(n))
        for m in ([blob(300, 1)], [blob(70000, 2)], [blob(500000, 3)],
                  [blob(10, 4), blob(256, 5), blob(70000, 6)]):
            b.send_multipart(m)
            assert a.recv_multipart() == m
            c.c2s.msg(m)
        for m in ([blob(255, 7), blob(300, 8)], [blob(70000, 9)]):
            a.send_multipart(m)
            assert b.recv_multipart() == m
            c.s2c.msg(m)
        b.close(linger=1000)
        a.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=1)
    verify(out, t.write(out))


main()
