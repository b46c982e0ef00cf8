"""reqrep: one REQ (libzmq) connects to one REP, 20 requests of varied sizes
(0 to 300 bytes, two of them multipart); REP answers each."""
from common import *

SP, CP = 16010, 26010


def main():
    out = case_dir("reqrep")
    wait_ports_free([SP, CP])
    t = Truth("reqrep", "REQ/REP over NULL, 20 requests with bodies of 0..300 bytes, "
              "two multipart requests; every request answered.")
    c = t.conn("req-rep", "REQ", "REP", CP, SP)
    c.c2s.cmds("READY")
    c.s2c.cmds("READY")
    sizes = [0, 1, 5, 10, 31, 64, 100, 127, 128, 200, 254, 255, 256, 257, 300, 0, 42, 300, 17, 3]
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        rep = ctx.socket(zmq.REP)
        rep.bind("tcp://127.0.0.1:%d" % SP)
        req = ctx.socket(zmq.REQ)
        req.connect(src(CP, SP))
        for i, n in enumerate(sizes):
            body = bytes((i + j) & 0xFF for j in range(n))
            parts = [body] if i not in (5, 12) else [b"part-a", body, b"part-c"]
            req.send_multipart(parts)
            got = rep.recv_multipart()
            assert got == parts, (got, parts)
            c.c2s.msg(parts, envelope=1)  # REQ adds the empty delimiter frame
            reply = [b"reply-%d" % i, bytes(n // 2)] if i % 4 == 0 else [b"ok-%d:%d" % (i, n)]
            rep.send_multipart(reply)
            assert req.recv_multipart() == reply
            c.s2c.msg(reply, envelope=1)  # REP echoes the delimiter
        req.close(linger=1000)
        rep.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=1)
    verify(out, t.write(out))


main()
