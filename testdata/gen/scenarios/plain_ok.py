"""plain_ok: REQ (PLAIN client, user "admin", password "secret") to REP (PLAIN
server) with a ZAP handler thread approving the user; 5 requests."""
from common import *

SP, CP = 16070, 26070


def main():
    out = case_dir("plain_ok")
    wait_ports_free([SP, CP])
    t = Truth("plain_ok", "PLAIN mechanism accepted by a ZAP handler (user admin, password "
              "secret); REQ/REP with 5 requests.")
    c = t.conn("plain-req-rep", "REQ", "REP", CP, SP, mechanism="PLAIN")
    c.set(plain_username="admin")
    c.identity("client", "")
    c.c2s.cmds("HELLO", "INITIATE")
    c.s2c.cmds("WELCOME", "READY")
    t.note("The password (\"secret\") crosses the wire in clear text in HELLO.")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        zap = ZapHandler(ctx, {"admin": "secret"})
        rep = ctx.socket(zmq.REP)
        rep.setsockopt(zmq.PLAIN_SERVER, 1)
        rep.setsockopt(zmq.ZAP_DOMAIN, b"zspy")
        rep.setsockopt(zmq.RCVTIMEO, 10000)
        rep.bind("tcp://127.0.0.1:%d" % SP)
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.PLAIN_USERNAME, b"admin")
        req.setsockopt(zmq.PLAIN_PASSWORD, b"secret")
        req.setsockopt(zmq.RCVTIMEO, 10000)
        req.connect(src(CP, SP))
        for i in range(5):
            m = [b"plain request %d" % i]
            req.send_multipart(m)
            assert rep.recv_multipart() == m
            c.c2s.msg(m, envelope=1)
            r = [b"plain reply %d" % i + bytes(i * 10)]
            rep.send_multipart(r)
            assert req.recv_multipart() == r
            c.s2c.msg(r, envelope=1)
        req.close(linger=1000)
        rep.close(linger=1000)
        assert [q["status"] for q in zap.requests] == ["200"], zap.requests
        zap.close()
        ctx.term()
        cap.wait_closed(conns=1)
    verify(out, t.write(out))


main()
