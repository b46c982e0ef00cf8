"""zmtp20: a raw ZMTP 2.0 DEALER (Python socket, identity "old2") connects to
a libzmq ROUTER. libzmq answers with a 12-byte greeting (FF, padding, 7F,
major 03, socket type 06 = ROUTER) and a 2.0 identity frame, then both use
2.0 framing (flags MORE/LONG, no commands). 5 multipart exchanges."""
from common import *

SP, CP = 16240, 26340
DEALER = 5


def main():
    out = case_dir("zmtp20")
    wait_ports_free([SP, CP])
    t = Truth("zmtp20", "raw ZMTP 2.0 DEALER (identity \"old2\") to a libzmq 4.3.4 ROUTER; "
              "5 exchanges in 2.0 framing, one reply with a 300-byte (long) frame.")
    c = t.conn("zmtp20-dealer-router", "DEALER", "ROUTER", CP, SP, zmtp="2.0",
               client_lib="raw Python ZMTP 2.0 peer")
    c.set(client_zmtp="2.0", server_zmtp="2.0")
    c.identity("client", "old2")
    c.identity("server", "")
    t.note("Greetings: the raw client sends FF 00..05 7F 01 05 (12 bytes, revision 1, DEALER) "
           "then identity frame 00 04 'old2'; libzmq sends FF 00..01 7F 03 06 (12 bytes: major "
           "3, then socket type ROUTER) then identity frame 00 00. Identity frames are not "
           "counted as data frames. No commands exist in 2.0.")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        router = ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.RCVTIMEO, 10000)
        router.bind("tcp://127.0.0.1:%d" % SP)
        raw = Raw.connect(CP, SP)
        raw.send(b"\xff" + struct.pack(">Q", len(b"old2") + 1) + b"\x7f" + b"\x01" + bytes([DEALER]))
        raw.send2(b"old2")
        g = raw.recv(12)
        assert g[0] == 0xFF and g[9] == 0x7F and g[10] == 3 and g[11] == 6, g.hex()
        fl, ident = raw.recv2()
        assert (fl, ident) == (0, b""), (fl, ident)
        t.note("libzmq's greeting bytes in this capture: %s" % g.hex())
        for i in range(5):
            m = [b"old request %d" % i, bytes(i * 20)]
            raw.send2(m[0], more=True)
            raw.send2(m[1])
            assert router.recv_multipart() == [b"old2"] + m
            c.c2s.msg(m)
            r = [b"reply %d" % i] + ([bytes(300)] if i == 3 else [])
            router.send_multipart([b"old2"] + r)
            assert raw.recv_msg(raw.recv2) == r
            c.s2c.msg(r)
        raw.s.shutdown(socket.SHUT_WR)
        raw.wait_eof()
        raw.s.close()
        router.close(linger=0)
        ctx.term()
        cap.wait_closed(conns=1)
    t.write(out)
    c2s, s2c = verify_raw(out, CP, SP, raw)
    assert c2s == bytes(raw.sent) and s2c == bytes(raw.got), "capture differs from the raw peer's bytes"
    log("verified: capture holds exactly the raw peer's bytes")


main()
