"""hostile_wire: two connections that once fooled zspy, captured for real.

  * x-custom: two raw ZMTP 3.1 peers whose greetings name a mechanism zspy
    does not know, "x-custom" (lower case), then exchange READY (REQ, REP)
    and 3 requests and replies. zspy took byte 12 ("x") for the flags of a
    2.0 identity frame: a PUB-PUB connection, false incompatible_sockets and
    handshake_failure alerts.
  * huge-frame: a raw NULL PUSH to a libzmq PULL whose first message frame
    declares 2^63-1 bytes (legal in the size field) followed by 11 bytes; it
    drew no warning from zspy.

Kept outside the corpus (the peers are raw, not libzmq's own traffic, and the
second connection is broken on purpose): written to e2e/testdata/hostile_wire,
where the end-to-end tests replay it."""
from common import *

SP, CP = 16520, 26520
SP2, CP2 = 16521, 26521


def greeting(mech, as_server):
    return (b"\xff" + bytes(8) + b"\x7f" + b"\x03\x01" + mech.ljust(20, b"\0")
            + (b"\x01" if as_server else b"\x00") + bytes(31))


def main():
    out = os.path.join(REPO, "e2e", "testdata", "hostile_wire")
    if os.environ.get("ZSPY_PCAPS"):
        out = os.path.join(PCAPS, "hostile_wire")
    os.makedirs(out, exist_ok=True)
    wait_ports_free([SP, CP, SP2, CP2])
    t = Truth("hostile_wire", "Raw ZMTP 3.1 peers with the unknown mechanism \"x-custom\" "
              "(REQ/REP, 3 requests); a raw NULL PUSH sending libzmq's PULL a frame that "
              "declares 2^63-1 bytes.")
    c = t.conn("x-custom", "REQ", "REP", CP, SP, mechanism="x-custom",
               client_lib="raw Python ZMTP 3.1 peer", server_lib="raw Python ZMTP 3.1 peer")
    c.c2s.cmds("READY")
    c.s2c.cmds("READY")
    h = t.conn("huge-frame", "PUSH", "PULL", CP2, SP2, client_lib="raw Python ZMTP 3.1 peer")
    h.c2s.cmds("READY")
    h.s2c.cmds("READY")
    with Capture(os.path.join(out, "capture.pcap"), [SP, SP2]) as cap:
        # x-custom: both sides raw.
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", SP))
        ls.listen(1)
        cli = Raw.connect(CP, SP)
        ls.settimeout(10)
        conn, _ = ls.accept()
        srv = Raw(conn)
        cli.send(greeting(b"x-custom", False))
        srv.send(greeting(b"x-custom", True))
        assert srv.recv(64)[12:20] == b"x-custom"
        assert cli.recv(64)[12:20] == b"x-custom"
        cli.send3(ready_body("REQ"), command=True)
        srv.send3(ready_body("REP"), command=True)
        assert srv.recv3()[1].startswith(b"\x05READY")
        assert cli.recv3()[1].startswith(b"\x05READY")
        for i in range(3):
            req = [b"", b"request %d" % i]
            cli.send3(req[0], more=True)
            cli.send3(req[1])
            assert srv.recv_msg(srv.recv3) == req
            c.c2s.msg(req, envelope=1)
            rep = [b"", b"reply %d" % i]
            srv.send3(rep[0], more=True)
            srv.send3(rep[1])
            assert cli.recv_msg(cli.recv3) == rep
            c.s2c.msg(rep, envelope=1)
        cli.s.shutdown(socket.SHUT_WR)
        srv.wait_eof()
        conn.close()
        cli.wait_eof()
        cli.s.close()
        ls.close()

        # huge-frame: libzmq PULL, raw PUSH.
        ctx = zctx()
        pull = ctx.socket(zmq.PULL)
        pull.bind("tcp://127.0.0.1:%d" % SP2)
        push = Raw.connect(CP2, SP2)
        push.send(greeting(b"NULL", False))
        g = push.recv(64)
        assert g[12:16] == b"NULL", g
        push.send3(ready_body("PUSH"), command=True)
        fl, body = push.recv3()
        assert fl == 4 and body.startswith(b"\x05READY"), body
        push.send(b"\x02" + struct.pack(">Q", (1 << 63) - 1) + b"first bytes")
        try:
            push.wait_eof()  # libzmq cannot take the frame and closes
            h.set(notes=["libzmq closed the connection after the frame header"])
        except socket.timeout:
            h.set(notes=["libzmq kept the connection open; the raw peer closed it"])
        push.s.close()
        pull.close(linger=0)
        ctx.term()
        cap.wait_closed(conns=2)
    d = t.write(out)
    c2s, s2c = verify_raw(out, CP, SP, cli)
    assert c2s == bytes(cli.sent) and s2c == bytes(cli.got), "x-custom: capture differs from the raw peers' bytes"
    c2s, s2c = verify_raw(out, CP2, SP2, push)
    assert c2s == bytes(push.sent) and s2c == bytes(push.got), "huge-frame: capture differs from the raw peer's bytes"


main()
