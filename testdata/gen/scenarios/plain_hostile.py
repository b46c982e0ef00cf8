"""plain_hostile: PLAIN credentials as long and as hostile as the protocol
allows, each accepted by a ZAP handler; REQ/REP with 3 requests each.

  * plain-255: a 255-byte username and a 255-byte password (the largest a
    1-byte length allows; 1+255 wrapped to 0 in zspy's dissector once).
  * plain-escapes: a username holding terminal control sequences (OSC 0 set
    title "ESC ] 0 ; ... BEL", "ESC [ 2J" clear screen, a C1 CSI) and a
    right-to-left override (U+202E), which zspy must never print raw."""
from common import *

SP, CP = 16500, 26500
SP2, CP2 = 16501, 26501

USER255 = ("user-255-" + "abcdefghijklmnopqrstuvwxyz0123456789" * 8)[:255]
PASS255 = ("pass-255-" + "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210" * 8)[:255]
USER_ESC = "\x1b]0;zspy-pwned\x07\x1b[2J\u009b31m\u202eadmin"


def exchange(ctx, t, cid, sp, cp, user, password, n=3):
    c = t.conn(cid, "REQ", "REP", cp, sp, mechanism="PLAIN")
    c.set(plain_username=user)
    c.identity("client", "")
    c.c2s.cmds("HELLO", "INITIATE")
    c.s2c.cmds("WELCOME", "READY")
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.PLAIN_SERVER, 1)
    rep.setsockopt(zmq.ZAP_DOMAIN, b"zspy")
    rep.setsockopt(zmq.RCVTIMEO, 10000)
    rep.bind("tcp://127.0.0.1:%d" % sp)
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.PLAIN_USERNAME, user.encode())
    req.setsockopt(zmq.PLAIN_PASSWORD, password.encode())
    req.setsockopt(zmq.RCVTIMEO, 10000)
    req.connect(src(cp, sp))
    for i in range(n):
        m = [b"%s request %d" % (cid.encode(), i)]
        req.send_multipart(m)
        assert rep.recv_multipart() == m
        c.c2s.msg(m, envelope=1)
        r = [b"%s reply %d" % (cid.encode(), i)]
        rep.send_multipart(r)
        assert req.recv_multipart() == r
        c.s2c.msg(r, envelope=1)
    req.close(linger=1000)
    rep.close(linger=1000)


def main():
    out = case_dir("plain_hostile")
    wait_ports_free([SP, CP, SP2, CP2])
    assert len(USER255.encode()) == 255 and len(PASS255.encode()) == 255
    t = Truth("plain_hostile", "PLAIN accepted by ZAP with a 255-byte username and password, "
              "and with a username holding terminal escape sequences and U+202E; "
              "REQ/REP, 3 requests each.")
    t.note("plain-escapes' username is ESC ] 0 ; zspy-pwned BEL (sets a terminal's title), "
           "ESC [ 2 J (clears the screen), U+009B (C1 CSI) 31m, U+202E (right-to-left "
           "override), then admin. zspy's text output must show it escaped.")
    with Capture(os.path.join(out, "capture.pcap"), [SP, SP2]) as cap:
        ctx = zctx()
        zap = ZapHandler(ctx, {USER255: PASS255, USER_ESC: "secret"})
        exchange(ctx, t, "plain-255", SP, CP, USER255, PASS255)
        exchange(ctx, t, "plain-escapes", SP2, CP2, USER_ESC, "secret")
        assert [q["status"] for q in zap.requests] == ["200", "200"], zap.requests
        assert [q["creds"][0] for q in zap.requests] == [USER255, USER_ESC], zap.requests
        zap.close()
        ctx.term()
        cap.wait_closed(conns=2)
    verify(out, t.write(out))


main()
