"""x_frames: PAIR/PAIR and DEALER/ROUTER with frames at the short/long boundary
(0, 1, 254, 255, 256, 257, 65535, 65536 bytes), multipart messages with
empty delimiter frames, a 1000-frame message and a 3 MB message."""
from common import *

SP, CP, SP2, CP2 = 16300, 26400, 16301, 26401


def main():
    out = case_dir("x_frames")
    wait_ports_free([SP, CP, SP2, CP2])
    t = Truth("x_frames", "frame size edges, empty delimiters, 1000 frames, 3 MB")
    c = t.conn("pair", "PAIR", "PAIR", CP, SP)
    c.c2s.cmds("READY"); c.s2c.cmds("READY")
    c2 = t.conn("dealer-router", "DEALER", "ROUTER", CP2, SP2)
    c2.identity("client", "d\x7f".encode('latin-1').hex() and "0x" + b"\x00bin\xff".hex())
    c2.c2s.cmds("READY"); c2.s2c.cmds("READY")
    with Capture(os.path.join(out, "capture.pcap"), [SP, SP2]) as cap:
        ctx = zctx()
        a = ctx.socket(zmq.PAIR); a.bind("tcp://127.0.0.1:%d" % SP)
        b = ctx.socket(zmq.PAIR); b.connect(src(CP, SP))
        for s in (a, b):
            s.setsockopt(zmq.RCVTIMEO, 10000)
        sizes = [0, 1, 254, 255, 256, 257, 65535, 65536, 65537]
        msgs = [[bytes([7]) * n] for n in sizes]
        msgs += [[b"", b"", b"x"], [b"", bytes(255), b""], [bytes(256), b"", bytes(254)]]
        msgs += [[b"f%d" % i if i % 3 else b"" for i in range(1000)]]
        msgs += [[os.urandom(3 * 1024 * 1024 + 7), b"tail"]]
        for m in msgs:
            b.send_multipart(m)
            assert a.recv_multipart() == m
            c.c2s.msg(m)
            a.send_multipart(m)
            assert b.recv_multipart() == m
            c.s2c.msg(m)
        r = ctx.socket(zmq.ROUTER); r.bind("tcp://127.0.0.1:%d" % SP2)
        d = ctx.socket(zmq.DEALER); d.setsockopt(zmq.ROUTING_ID, b"\x00bin\xff")
        d.connect(src(CP2, SP2))
        r.setsockopt(zmq.RCVTIMEO, 10000); d.setsockopt(zmq.RCVTIMEO, 10000)
        for m in msgs[:12]:
            d.send_multipart(m)
            assert r.recv_multipart() == [b"\x00bin\xff"] + m
            c2.c2s.msg(m)
            r.send_multipart([b"\x00bin\xff"] + m)
            assert d.recv_multipart() == m
            c2.s2c.msg(m)
        for s in (a, b, d, r):
            s.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=2)
    verify(out, t.write(out))


main()
