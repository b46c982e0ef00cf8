"""rules_nosub: a PUB publishes 200 messages over 1.5 s to two SUBs; one
subscribed to everything, the other never subscribed (the classic missing
setsockopt(SUBSCRIBE)): it receives nothing. Made for the rules engine's
pub_no_subscribers detector."""
from common import *

SP, C1, C2 = 16420, 26420, 26421
N = 200
SPAN = 1.5


def main():
    out = case_dir("rules_nosub")
    wait_ports_free([SP, C1, C2])
    t = Truth("rules_nosub", "PUB bound; sub-ok subscribes to everything, sub-none never subscribes; "
              "%d messages over %.1f s reach sub-ok only." % (N, SPAN))
    ok = t.conn("sub-ok", "SUB", "PUB", C1, SP)
    none = t.conn("sub-none", "SUB", "PUB", C2, SP)
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        pub = ctx.socket(zmq.PUB)
        mon = monitor(ctx, pub, "pub")
        pub.bind("tcp://127.0.0.1:%d" % SP)
        s1 = ctx.socket(zmq.SUB)
        s1.connect(src(C1, SP))
        s1.setsockopt(zmq.SUBSCRIBE, b"")
        s2 = ctx.socket(zmq.SUB)
        s2.connect(src(C2, SP))
        wait_event(mon, zmq.EVENT_HANDSHAKE_SUCCEEDED, 2)
        cap.wait_commands(C1, SP, ["READY", "SUBSCRIBE"])
        cap.wait_commands(C2, SP, ["READY"])
        settle_pub(pub)
        for i in range(N):
            pub.send(b"tick %04d" % i)
            time.sleep(SPAN / N)  # pacing the publisher, not synchronisation
        for i in range(N):
            assert s1.poll(5000), "sub-ok got %d of %d" % (i, N)
            ok.s2c.msg([s1.recv()])
        assert not s2.poll(200), "sub-none received a message"
        ok.c2s.cmds("READY", "SUBSCRIBE")
        ok.s2c.cmds("READY")
        ok.set(subscriptions=[""])
        none.c2s.cmds("READY")
        none.s2c.cmds("READY")
        pub.disable_monitor()
        mon.close()
        s1.close(linger=0)
        s2.close(linger=0)
        pub.close(linger=0)
        ctx.term()
        cap.wait_closed(conns=2)
    verify(out, t.write(out))


main()
