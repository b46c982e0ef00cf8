"""mech_onesided (written to e2e/testdata, as hostile_wire: raw peers): a greeting names a mechanism zspy does not know
("x-custom") on one side only.

  * to-libzmq: a raw ZMTP 3.1 client greets "x-custom" to a libzmq REP
    (NULL). libzmq cannot speak it and closes the connection without a
    greeting of its own (HANDSHAKE_FAILED_PROTOCOL ZMTP_MECHANISM_MISMATCH): a real
    handshake failure, which handshake_failure must raise.
  * agreed: a raw client greeting "x-custom" and a raw server greeting
    "NULL" exchange READY both ways and then 3 requests and replies: the
    peers agreed whatever their greetings said, so there is no handshake
    failure to raise (zspy still counts the mismatch as a protocol error)."""
import socket

from common import *

SP, CP = 16470, 26470
SP2, CP2 = 16471, 26471


def greeting(mech, as_server):
    return (b"\xff" + bytes(8) + b"\x7f" + b"\x03\x01" + mech.ljust(20, b"\0")
            + (b"\x01" if as_server else b"\x00") + bytes(31))


def main():
    out = os.path.join(REPO, "e2e", "testdata", "mech_onesided")
    if os.environ.get("ZSPY_PCAPS"):
        out = os.path.join(PCAPS, "mech_onesided")
    os.makedirs(out, exist_ok=True)
    wait_ports_free([SP, CP, SP2, CP2])
    t = Truth("mech_onesided", "A raw client greeting the unknown mechanism \"x-custom\" to a "
              "libzmq NULL REP, which closes after the greetings; and raw \"x-custom\" and \"NULL\" "
              "peers that exchange READY and 3 requests anyway.")
    a = t.conn("to-libzmq", "REQ", "REP", CP, SP, mechanism="x-custom", client_lib="raw Python ZMTP 3.1 peer")
    a.set(handshake_error="mechanism mismatch", server_zmtp="3.1", client_zmtp="3.1")
    b = t.conn("agreed", "REQ", "REP", CP2, SP2, mechanism="x-custom",
               client_lib="raw Python ZMTP 3.1 peer", server_lib="raw Python ZMTP 3.1 peer")
    b.c2s.cmds("READY")
    b.s2c.cmds("READY")
    with Capture(os.path.join(out, "capture.pcap"), [SP, SP2]) as cap:
        ctx = zctx()
        rep = ctx.socket(zmq.REP)
        mon = monitor(ctx, rep, "rep")
        rep.bind("tcp://127.0.0.1:%d" % SP)
        cli = Raw.connect(CP, SP)
        cli.send(greeting(b"x-custom", False))
        cli.wait_eof()  # libzmq 4.3.4 closes without greeting back
        cli.s.close()
        events = wait_event(mon, zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
        a.set(notes=["REP monitor: %s" % events])
        a.c2s.cmds()
        a.s2c.cmds()

        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", SP2))
        ls.listen(1)
        c2 = Raw.connect(CP2, SP2)
        ls.settimeout(10)
        conn, _ = ls.accept()
        srv = Raw(conn)
        c2.send(greeting(b"x-custom", False))
        srv.send(greeting(b"NULL", True))
        assert srv.recv(64)[12:20] == b"x-custom"
        assert c2.recv(64)[12:16] == b"NULL"
        c2.send3(ready_body("REQ"), command=True)
        srv.send3(ready_body("REP"), command=True)
        assert srv.recv3()[1].startswith(b"\x05READY")
        assert c2.recv3()[1].startswith(b"\x05READY")
        for i in range(3):
            req = [b"", b"request %d" % i]
            c2.send3(req[0], more=True)
            c2.send3(req[1])
            assert srv.recv_msg(srv.recv3) == req
            b.c2s.msg(req)  # the delimiter is req[0]
            rp = [b"", b"reply %d" % i]
            srv.send3(rp[0], more=True)
            srv.send3(rp[1])
            assert c2.recv_msg(c2.recv3) == rp
            b.s2c.msg(rp)
        c2.s.shutdown(socket.SHUT_WR)
        srv.wait_eof()
        conn.close()
        c2.wait_eof()
        c2.s.close()
        ls.close()
        rep.disable_monitor()
        mon.close()
        rep.close(linger=0)
        ctx.term()
        cap.wait_closed(conns=2)
    t.write(out)
    for cp, sp, raw in ((CP, SP, cli), (CP2, SP2, c2)):
        got_c2s, got_s2c = verify_raw(out, cp, sp, raw)
        assert got_c2s == bytes(raw.sent) and got_s2c == bytes(raw.got), "%d: capture differs from the raw peer's bytes" % cp


main()
