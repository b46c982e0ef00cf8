"""rules_lone_sub: the best-known PUB/SUB mistake, alone: a PUB publishes
200 messages over 2.5 s to its only SUB, which never subscribed
(setsockopt(SUBSCRIBE) forgotten). The wire shows a handshake and then
silence: the PUB sends nothing to a peer without a subscription. Made for
pub_no_subscribers (which must fire with no other subscriber to compare
with) and the record's derived fact (NoSubscription)."""
from common import *

SP, CP = 16450, 26450
N = 200
SPAN = 2.5


def main():
    out = case_dir("rules_lone_sub")
    wait_ports_free([SP, CP])
    t = Truth("rules_lone_sub", "PUB bound; its only SUB never subscribes; %d messages over %.1f s "
              "reach nobody." % (N, SPAN))
    c = t.conn("sub-none", "SUB", "PUB", CP, SP)
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        pub = ctx.socket(zmq.PUB)
        mon = monitor(ctx, pub, "pub")
        pub.bind("tcp://127.0.0.1:%d" % SP)
        sub = ctx.socket(zmq.SUB)
        sub.connect(src(CP, SP))
        wait_event(mon, zmq.EVENT_HANDSHAKE_SUCCEEDED)
        cap.wait_commands(CP, SP, ["READY"])
        settle_pub(pub)
        for i in range(N):
            pub.send(b"tick %04d" % i)
            time.sleep(SPAN / N)  # pacing the publisher, not synchronisation
        assert not sub.poll(200), "the SUB without a subscription received a message"
        c.c2s.cmds("READY")
        c.s2c.cmds("READY")
        pub.disable_monitor()
        mon.close()
        sub.close(linger=0)
        pub.close(linger=0)
        ctx.term()
        cap.wait_closed(conns=1)
    verify(out, t.write(out))


main()
