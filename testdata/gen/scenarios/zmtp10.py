"""zmtp10: a raw ZMTP 1.0 REQ (Python socket) connects to a libzmq REP. The
raw peer opens with the anonymous identity frame 01 00; libzmq's first 10
bytes FF 00..01 7F double as a 1.0 long-form identity frame (length 1,
flags 7F, empty body). Requests carry the 1.0 delimiter 01 01; one request
and one reply use a long (FF + 8-byte length) frame."""
from common import *

SP, CP = 16250, 26350


def main():
    out = case_dir("zmtp10")
    wait_ports_free([SP, CP])
    t = Truth("zmtp10", "raw ZMTP 1.0 REQ (anonymous) to a libzmq 4.3.4 REP; 4 requests in "
              "1.0 framing (length includes the flags byte), bodies up to 300 bytes.")
    c = t.conn("zmtp10-req-rep", "REQ", "REP", CP, SP, zmtp="1.0", client_lib="raw Python ZMTP 1.0 peer")
    c.set(client_zmtp="1.0", server_zmtp="1.0")
    del c.d["client"]["identity"]
    t.note("ZMTP 1.0 has no greeting and no socket type: the raw client sends identity frame "
           "01 00 first; libzmq sends FF 00 00 00 00 00 00 00 01 7F (read as a 1.0 long frame: "
           "length 1, flags 0x7F, empty identity). Identity frames are not counted as data.")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        rep = ctx.socket(zmq.REP)
        rep.setsockopt(zmq.RCVTIMEO, 10000)
        rep.bind("tcp://127.0.0.1:%d" % SP)
        raw = Raw.connect(CP, SP)
        raw.send1(b"")  # anonymous identity: 01 00
        g = raw.recv(10)
        assert g == b"\xff" + struct.pack(">Q", 1) + b"\x7f", g.hex()
        for i, n in enumerate((0, 5, 300, 253)):
            body = bytes((i + k) & 0xFF for k in range(n))
            raw.send1(b"", more=True)  # delimiter 01 01
            raw.send1(body)
            assert rep.recv() == body
            c.c2s.msg([body], envelope=1)
            r = b"reply %d " % i + bytes(300 if i == 1 else 0)
            rep.send(r)
            assert raw.recv_msg(raw.recv1) == [b"", r]
            c.s2c.msg([r], envelope=1)
        raw.s.shutdown(socket.SHUT_WR)
        raw.wait_eof()
        raw.s.close()
        rep.close(linger=0)
        ctx.term()
        cap.wait_closed(conns=1)
    t.write(out)
    c2s, s2c = verify_raw(out, CP, SP, raw)
    assert c2s == bytes(raw.sent) and s2c == bytes(raw.got), "capture differs from the raw peer's bytes"
    log("verified: capture holds exactly the raw peer's bytes")


main()
