"""zmq4_pubsub: zmq4 PUB with two zmq4 SUBs ("alpha"; and "" = everything).
zmq4 sends subscriptions as ZMTP 3.0 legacy messages (0x01 + topic)."""
from common import *
from zmq4_reqrep import zmq4_notes

SP, C1, C2 = 16180, 26180, 26181


def main():
    out = case_dir("zmq4_pubsub")
    wait_ports_free([SP, C1, C2])
    t = Truth("zmq4_pubsub", "go-zeromq/zmq4 PUB with two zmq4 SUBs; 20 [topic, body, blob] "
              "messages over 4 topics.")
    ca = t.conn("sub-alpha", "SUB", "PUB", C1, SP, zmtp="3.0", client_lib=ZMQ4, server_lib=ZMQ4)
    cb = t.conn("sub-all", "SUB", "PUB", C2, SP, zmtp="3.0", client_lib=ZMQ4, server_lib=ZMQ4)
    ca.set(subscriptions=["alpha"])
    cb.set(subscriptions=[""])
    peer = GoPeer("pubsub", SP, C1)
    with Capture(os.path.join(out, "capture.pcap"), [SP]) as cap:
        peer.start()
        peer.expect("subscribed")
        for port in (C1, C2):
            key = (("127.0.0.1", port), ("127.0.0.1", SP))
            cap.wait_for(lambda ss, k=key: k in ss and zmtp3_parse(ss[k]["data"])["frames"] >= 1,
                         what="subscription from %d" % port)
        time.sleep(0.1)  # let zmq4's reader goroutine apply the subscription
        peer.go()
        stats = peer.done()
        cap.wait_closed(conns=2)
    for c in (ca, cb):
        set_counts(c, stats[c.d["id"]])
        c.c2s.legacy_subscriptions = 1
        c.c2s.cmds("READY")
        c.s2c.cmds("READY")
    zmq4_notes(t, ca)
    zmq4_notes(t, cb)
    t.note("Subscriptions are 0x01+topic data messages (ZMTP 3.0 style) and are counted in "
           "c2s; c2s.legacy_subscriptions says how many.")
    verify(out, t.write(out))


main()
