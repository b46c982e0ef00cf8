"""mismatch: a PUB connects to a PUSH. Both exchange READY, find the socket
types incompatible and close the connection without an ERROR command. The
PUB does not reconnect (ZMQ_RECONNECT_IVL -1)."""
from common import *

SP, CP = 16150, 26150


def main():
    out = case_dir("mismatch")
    wait_ports_free([SP, CP])
    t = Truth("mismatch", "PUB connecting to PUSH: READY both ways, then libzmq drops the "
              "pair (no ERROR command); nothing else crosses.")
    c = t.conn("pub-to-push", "PUB", "PUSH", CP, SP)
    c.set(state="dropped", handshake_error="socket type mismatch (PUB/PUSH)")
    c.c2s.cmds("READY")
    c.s2c.cmds("READY")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        push = ctx.socket(zmq.PUSH)
        smon = monitor(ctx, push, "push")
        push.bind("tcp://127.0.0.1:%d" % SP)
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.RECONNECT_IVL, -1)
        cmon = monitor(ctx, pub, "pub")
        pub.connect(src(CP, SP))
        cev = wait_event(cmon, zmq.EVENT_DISCONNECTED)
        sev = wait_event(smon, zmq.EVENT_DISCONNECTED)
        cap.wait_closed(conns=1)
        c.set(notes=["PUB (client) monitor events: %s" % cev, "PUSH (server) monitor events: %s" % sev])
        for s, m in ((pub, cmon), (push, smon)):
            s.disable_monitor()
            m.close()
            s.close(linger=0)
        ctx.term()
    verify(out, t.write(out))


main()
