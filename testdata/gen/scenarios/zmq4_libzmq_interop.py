"""zmq4_libzmq_interop: a zmq4 DEALER ("go-dealer") talks to a libzmq ROUTER,
then a libzmq REQ talks to a zmq4 REP. The zmq4 side greets with ZMTP 3.0,
so libzmq speaks 3.0 to it."""
from common import *
from zmq4_reqrep import zmq4_notes

SP, CP = 16190, 26190


def main():
    out = case_dir("zmq4_libzmq_interop")
    wait_ports_free([SP, SP + 1, CP, CP + 1])
    t = Truth("zmq4_libzmq_interop", "zmq4 DEALER -> libzmq ROUTER (5 multipart exchanges), "
              "then libzmq REQ -> zmq4 REP (5 requests).")
    c1 = t.conn("zmq4-dealer-libzmq-router", "DEALER", "ROUTER", CP, SP, zmtp="3.0",
                client_lib=ZMQ4, server_lib=LIBZMQ)
    c1.identity("client", "go-dealer")
    c2 = t.conn("libzmq-req-zmq4-rep", "REQ", "REP", CP + 1, SP + 1, zmtp="3.0",
                client_lib=LIBZMQ, server_lib=ZMQ4)
    c1.set(client_zmtp="3.0", server_zmtp="3.1")
    c2.set(client_zmtp="3.1", server_zmtp="3.0")
    peer = GoPeer("interop", SP, CP)
    with Capture(os.path.join(out, "capture.pcap"), [SP, SP + 1]) as cap:
        ctx = zctx()
        router = ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.RCVTIMEO, 20000)
        router.bind("tcp://127.0.0.1:%d" % SP)
        peer.start()
        for i in range(5):
            m = router.recv_multipart()
            assert m[0] == b"go-dealer" and m[1] == b"go req %d" % i, m
            router.send_multipart([b"go-dealer", b"libzmq rep %d" % i])
        peer.expect("listening")
        req = ctx.socket(zmq.REQ)
        req.setsockopt(zmq.RCVTIMEO, 20000)
        req.connect(src(CP + 1, SP + 1))
        for i in range(5):
            req.send(b"libzmq req %d" % i)
            r = req.recv_multipart()
            assert r[0] == b"go rep %d" % i, r
        req.close(linger=1000)
        router.close(linger=1000)
        ctx.term()
        peer.go()
        stats = peer.done()
        cap.wait_closed(conns=2)
    set_counts(c1, stats[c1.d["id"]])
    set_counts(c2, stats[c2.d["id"]])
    for c in (c1, c2):
        zmq4_notes(t, c)
        c.c2s.cmds("READY")
        c.s2c.cmds("READY")
    t.note("Counts come from the zmq4 side (zmq4peer -mode interop); the libzmq side "
           "checked every message it received.")
    t.note("The libzmq peer greets with 3.1 (byte 11 = 1); zmq4 greets with 3.0. "
           "zmtp_version is the lower one, which both sides then speak.")
    verify(out, t.write(out))


main()
