"""zmtp30: a libzmq SUB connects to a raw ZMTP 3.0 PUB (a Python socket that
greets with version 3.0). libzmq therefore sends its subscriptions as legacy
0x01+topic messages, not SUBSCRIBE commands. The raw PUB sends 5 messages."""
from common import *

SP, CP = 16230, 26330
GREETING30 = b"\xff" + bytes(8) + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") + b"\0" + bytes(31)


def main():
    out = case_dir("zmtp30")
    wait_ports_free([SP, CP])
    t = Truth("zmtp30", "libzmq 4.3.4 SUB (greets 3.1) against a raw ZMTP 3.0 PUB: "
              "subscriptions go out as legacy 0x01+topic messages; 5 [topic, body] messages.")
    c = t.conn("sub-to-zmtp30-pub", "SUB", "PUB", CP, SP, zmtp="3.0", server_lib="raw Python ZMTP 3.0 peer")
    c.set(client_zmtp="3.1", server_zmtp="3.0", subscriptions=["news", "top"])
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", SP))
        ls.listen(1)
        ctx = zctx()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVTIMEO, 10000)
        sub.setsockopt(zmq.SUBSCRIBE, b"top")
        sub.setsockopt(zmq.SUBSCRIBE, b"news")
        sub.connect(src(CP, SP))
        ls.settimeout(10)
        conn, _ = ls.accept()
        raw = Raw(conn)
        raw.send(GREETING30)
        g = raw.recv(64)
        assert g[10:12] == b"\x03\x01", g
        raw.send3(ready_body("PUB"), command=True)
        fl, body = raw.recv3()
        assert fl == 4 and body.startswith(b"\x05READY"), body
        c.c2s.cmds("READY")
        c.s2c.cmds("READY")
        subs = [raw.recv_msg(raw.recv3) for _ in range(2)]
        assert subs == [[b"\x01news"], [b"\x01top"]], subs  # resent from its trie, in byte order
        for m in subs:
            c.c2s.msg(m)
        c.c2s.legacy_subscriptions = 2
        for i in range(5):
            tp = [b"top", b"news"][i % 2]
            m = [tp, b"%s body %d" % (tp, i)]
            raw.send3(m[0], more=True)
            raw.send3(m[1])
            assert sub.recv_multipart() == m
            c.s2c.msg(m)
        sub.close(linger=0)
        ctx.term()
        raw.wait_eof()
        conn.close()
        ls.close()
        cap.wait_closed(conns=1)
    d = t.write(out)
    c2s, s2c = verify_raw(out, CP, SP, raw)
    assert c2s == bytes(raw.got) and s2c == bytes(raw.sent), "capture differs from the raw peer's bytes"
    verify(out, d)


main()
