"""pubsub: one PUB (bound) and three SUBs (connecting from fixed ports).
sub-a subscribes "weather" and "sports", then cancels "sports"; sub-all
subscribes "" (everything); sub-news subscribes "news". Messages are
[topic, body] multipart."""
from common import *

SP = 16020
CA, CALL, CNEWS = 26020, 26021, 26022
TOPICS = [b"weather", b"sports", b"news", b"misc"]


def matches(subs, topic):
    return any(topic.startswith(s) for s in subs)


def main():
    out = case_dir("pubsub")
    wait_ports_free([SP, CA, CALL, CNEWS])
    t = Truth("pubsub", "PUB with three SUBs over NULL: topic prefixes, an empty "
              "subscription, and a CANCEL mid-run. Messages are [topic, body].")
    ca = t.conn("sub-a", "SUB", "PUB", CA, SP)
    call = t.conn("sub-all", "SUB", "PUB", CALL, SP)
    cnews = t.conn("sub-news", "SUB", "PUB", CNEWS, SP)
    t.note("Messages published before a subscription reached the PUB are not on the wire; "
           "the scenario waits (on the capture) for every SUBSCRIBE/CANCEL before publishing.")
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        ctx = zctx()
        pub = ctx.socket(zmq.PUB)
        pub.bind("tcp://127.0.0.1:%d" % SP)
        subs = {}
        for name, port, topics in (("a", CA, [b"weather", b"sports"]), ("all", CALL, [b""]),
                                   ("news", CNEWS, [b"news"])):
            s = ctx.socket(zmq.SUB)
            s.setsockopt(zmq.RCVTIMEO, 10000)
            s.connect(src(port, SP))
            for tp in topics:
                s.setsockopt(zmq.SUBSCRIBE, tp)
            subs[name] = (s, port, list(topics))
        for name, (s, port, topics) in subs.items():
            cap.wait_commands(port, SP, ["READY"] + ["SUBSCRIBE"] * len(topics))
        settle_pub(pub)
        conns = {"a": ca, "all": call, "news": cnews}

        def publish(round_, n):
            for i in range(n):
                tp = TOPICS[i % len(TOPICS)]
                body = b"%s #%d.%d " % (tp, round_, i) + bytes(i * 7 % 120)
                pub.send_multipart([tp, body])
                for name, (s, port, topics) in subs.items():
                    if matches(topics, tp):
                        got = s.recv_multipart()
                        assert got == [tp, body], (name, got)
                        conns[name].s2c.msg(got)

        publish(1, 24)
        s, port, topics = subs["a"]
        s.setsockopt(zmq.UNSUBSCRIBE, b"sports")
        topics.remove(b"sports")
        cap.wait_commands(CA, SP, ["READY", "SUBSCRIBE", "SUBSCRIBE", "CANCEL"])
        settle_pub(pub)
        publish(2, 16)
        for name, (s, port, topics) in subs.items():
            assert s.poll(200) == 0, "unexpected extra message on " + name
        ca.c2s.cmds("READY", "SUBSCRIBE", "SUBSCRIBE", "CANCEL")
        call.c2s.cmds("READY", "SUBSCRIBE")
        cnews.c2s.cmds("READY", "SUBSCRIBE")
        for c in (ca, call, cnews):
            c.s2c.cmds("READY")
        ca.set(subscriptions=["weather"])
        call.set(subscriptions=[""])
        cnews.set(subscriptions=["news"])
        for s, _, _ in subs.values():
            s.close(linger=0)
        pub.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=3)
    verify(out, t.write(out))


main()
