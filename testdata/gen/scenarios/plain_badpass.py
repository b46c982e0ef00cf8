"""plain_badpass: a PLAIN client with a wrong password; the ZAP handler
answers 400, so the server sends ERROR "400" instead of WELCOME and both sides
drop the connection. The client does not reconnect (ZMQ_RECONNECT_IVL -1)."""
from common import *

SP, CP = 16080, 26080


def main():
    out = case_dir("plain_badpass")
    wait_ports_free([SP, CP])
    t = Truth("plain_badpass", "PLAIN client (user admin, wrong password) rejected by ZAP "
              "with status 400: server answers HELLO with ERROR \"400\"; no data.")
    c = t.conn("plain-rejected", "DEALER", "ROUTER", CP, SP, mechanism="PLAIN")
    c.set(plain_username="admin", state="dropped", handshake_error="ERROR 400")
    c.c2s.cmds("HELLO")
    c.s2c.cmds("ERROR")
    t.note("libzmq's PLAIN ERROR command is encoded as 04 09 5E 'RROR' 03 '400' (the \\x05E "
           "escape bug, see zmtp-wire.md section 4); commands lists it as ERROR.")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        zap = ZapHandler(ctx, {"admin": "secret"})
        srv = ctx.socket(zmq.ROUTER)
        srv.setsockopt(zmq.PLAIN_SERVER, 1)
        srv.setsockopt(zmq.ZAP_DOMAIN, b"zspy")
        smon = monitor(ctx, srv, "srv")
        srv.bind("tcp://127.0.0.1:%d" % SP)
        cli = ctx.socket(zmq.DEALER)
        cli.setsockopt(zmq.PLAIN_USERNAME, b"admin")
        cli.setsockopt(zmq.PLAIN_PASSWORD, b"wrong")
        cli.setsockopt(zmq.RECONNECT_IVL, -1)
        cmon = monitor(ctx, cli, "cli")
        cli.connect(src(CP, SP))
        cev = wait_event(cmon, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        sev = wait_event(smon, zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        c.set(notes=["client monitor events: %s" % cev, "server monitor events: %s" % sev])
        cap.wait_closed(conns=1)
        assert [q["status"] for q in zap.requests] == ["400"], zap.requests
        for s, m in ((cli, cmon), (srv, smon)):
            s.disable_monitor()
            m.close()
            s.close(linger=0)
        zap.close()
        ctx.term()
    verify(out, t.write(out))


main()
