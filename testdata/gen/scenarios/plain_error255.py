"""plain_error255: a libzmq PLAIN client (REQ) to a raw ZMTP 3.1 PLAIN server
that answers its HELLO with an ERROR whose reason is 255 bytes, the most its
1-byte length allows (libzmq's own server only ever sends a 3-digit ZAP
status, so a raw peer stands in for a server that says more). zspy's
dissector once panicked on it (1+255 wrapped to 0), dropped the reason and
reported "closed during the handshake".

A failed handshake raises handshake_failure, so this case is kept outside the
corpus (whose healthy cases must raise none): it is written to
e2e/testdata/plain_error255, where the end-to-end tests replay it."""
from common import *

SP, CP = 16510, 26510
REASON = ("400 " + "credentials refused by the raw PLAIN server; " * 8)[:255]
GREETING = (b"\xff" + bytes(8) + b"\x7f" + b"\x03\x01" + b"PLAIN".ljust(20, b"\0")
            + b"\x01" + bytes(31))


def main():
    out = os.path.join(REPO, "e2e", "testdata", "plain_error255")
    if os.environ.get("ZSPY_PCAPS"):
        out = os.path.join(PCAPS, "plain_error255")
    os.makedirs(out, exist_ok=True)
    wait_ports_free([SP, CP])
    assert len(REASON) == 255
    t = Truth("plain_error255", "libzmq PLAIN REQ client rejected by a raw PLAIN server with "
              "an ERROR whose reason is 255 bytes; no data.")
    c = t.conn("plain-error255", "REQ", "REP", CP, SP, mechanism="PLAIN",
               server_lib="raw Python ZMTP 3.1 PLAIN server")
    c.set(plain_username="admin", state="dropped", handshake_error="ERROR " + REASON)
    c.c2s.cmds("HELLO")
    c.s2c.cmds("ERROR")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", SP))
        ls.listen(1)
        ctx = zctx()
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.PLAIN_USERNAME, b"admin")
        req.setsockopt(zmq.PLAIN_PASSWORD, b"secret")
        req.setsockopt(zmq.RECONNECT_IVL, -1)
        mon = monitor(ctx, req, "cli")
        req.connect(src(CP, SP))
        ls.settimeout(10)
        conn, _ = ls.accept()
        raw = Raw(conn)
        raw.send(GREETING)
        g = raw.recv(64)
        assert g[12:17] == b"PLAIN" and g[32] == 0, g
        fl, hello = raw.recv3()
        assert fl == 4 and hello == b"\x05HELLO\x05admin\x06secret", hello
        raw.send3(b"\x05ERROR" + bytes([len(REASON)]) + REASON.encode(), command=True)
        # libzmq raises HANDSHAKE_FAILED_AUTH only for a 3-digit ZAP status
        # (mechanism_base_t::handle_error_reason); any other reason ends the
        # handshake as a protocol failure.
        ev = wait_event(mon, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
        c.set(notes=["client monitor events: %s" % ev])
        req.disable_monitor()
        mon.close()
        req.close(linger=0)
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
