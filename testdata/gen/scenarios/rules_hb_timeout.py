"""rules_hb_timeout: a libzmq DEALER with ZMQ_HEARTBEAT_IVL 200 ms and
ZMQ_HEARTBEAT_TIMEOUT 1000 ms connects to a raw ZMTP 3.1 ROUTER (a Python
socket) that completes the handshake and then never answers a PING: the
DEALER's heartbeat times out and it closes the connection (reconnection is
off). Made for the rules engine's heartbeat_timeout detector."""
from common import *

SP, CP = 16410, 26410
GREETING31 = b"\xff" + bytes(8) + b"\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0" + bytes(31)


def main():
    out = case_dir("rules_hb_timeout")
    wait_ports_free([SP, CP])
    t = Truth("rules_hb_timeout", "libzmq DEALER (HEARTBEAT_IVL 200 ms, HEARTBEAT_TIMEOUT 1000 ms, "
              "RECONNECT_IVL -1) against a raw ZMTP 3.1 ROUTER that never answers PINGs: the DEALER "
              "times out and closes.")
    c = t.conn("hb-unanswered", "DEALER", "ROUTER", CP, SP, server_lib="raw Python ZMTP 3.1 peer")
    c.set(heartbeat={"client": {"ivl_ms": 200, "ttl_ms": 0, "timeout_ms": 1000}})
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", SP))
        ls.listen(1)
        ctx = zctx()
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.HEARTBEAT_IVL, 200)
        d.setsockopt(zmq.HEARTBEAT_TIMEOUT, 1000)
        d.setsockopt(zmq.RECONNECT_IVL, -1)
        d.connect(src(CP, SP))
        ls.settimeout(10)
        conn, _ = ls.accept()
        raw = Raw(conn)
        raw.send(GREETING31)
        g = raw.recv(64)
        assert g[10:12] == b"\x03\x01", g
        raw.send3(ready_body("ROUTER"), command=True)
        fl, body = raw.recv3()
        assert fl == 4 and body.startswith(b"\x05READY"), body
        pings = 0
        while True:
            try:
                fl, body = raw.recv3()
            except SystemExit:
                break  # EOF: the DEALER gave up
            assert fl == 4 and body.startswith(b"\x04PING"), (fl, body)
            pings += 1
        assert pings >= 3, pings
        c.c2s.cmds("READY", *["PING"] * pings)
        c.s2c.cmds("READY")
        c.set(notes=["The DEALER sent %d PINGs, none answered, then closed." % pings])
        conn.close()
        ls.close()
        d.close(linger=0)
        ctx.term()
        cap.wait_closed(conns=1)
    dd = t.write(out)
    c2s, s2c = verify_raw(out, CP, SP, raw)
    assert c2s == bytes(raw.got) and s2c == bytes(raw.sent), "capture differs from the raw peer's bytes"
    verify(out, dd)


main()
