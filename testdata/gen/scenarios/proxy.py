"""proxy: an XSUB/XPUB proxy (zmq.proxy, a thread of this process) between a
PUB and two SUBs: the PUB connects to the XSUB front, the SUBs to the XPUB
back, one subscribed to "weather", one to everything. The SUBs'
subscriptions travel SUB -> XPUB (SUBSCRIBE commands), through the proxy,
and XSUB -> PUB (libzmq 4.3.4: each a SUBSCRIBE command or a legacy 0x01
data message, as its pipes' timing has it); once the capture shows them at
the PUB, it publishes 20 [topic, body] messages, alternately "weather" and
"sports", and the SUBs read theirs. For message tracing: a plain pcap in
which the proxy is recognised as a forwarder by what it forwards."""
import threading

from common import *

FRONT, BACK = 16540, 16541
PUBP, SUB1, SUB2 = 26540, 26541, 26542
N = 20


def main():
    out = case_dir("proxy")
    wait_ports_free([FRONT, BACK, PUBP, SUB1, SUB2])
    t = Truth("proxy", "PUB -> XSUB|XPUB via zmq.proxy -> 2 SUBs ('weather', ''); 20 [topic, body] messages.")
    t.note("The XSUB sends the subscriptions upstream (libzmq 4.3.4) each as a SUBSCRIBE command or a legacy "
           "0x01 data message (counted in the PUB connection's s2c messages), which differs between runs.")
    cp = t.conn("pub", "PUB", "XSUB", PUBP, FRONT)
    c1 = t.conn("sub-weather", "SUB", "XPUB", SUB1, BACK)
    c2 = t.conn("sub-all", "SUB", "XPUB", SUB2, BACK)
    with Capture(os.path.join(out, "capture.pcap"), [FRONT, BACK]) as cap:
        ctx = zctx()
        xsub = ctx.socket(zmq.XSUB)
        xsub.bind("tcp://127.0.0.1:%d" % FRONT)
        xpub = ctx.socket(zmq.XPUB)
        xpub.bind("tcp://127.0.0.1:%d" % BACK)

        def proxy():
            try:
                zmq.proxy(xsub, xpub)
            except zmq.ContextTerminated:
                pass
            xsub.close(linger=0)
            xpub.close(linger=0)

        th = threading.Thread(target=proxy, daemon=True)
        th.start()
        sock = socket_maker(ctx)
        s1 = sock(zmq.SUB, SUBSCRIBE=b"weather")
        s1.connect(src(SUB1, BACK))
        s2 = sock(zmq.SUB, SUBSCRIBE=b"")
        s2.connect(src(SUB2, BACK))
        pub = sock(zmq.PUB)
        pub.connect(src(PUBP, FRONT))
        # Both subscriptions at the PUB's host, then a bounded moment for its
        # I/O thread to read them. libzmq 4.3.4's XSUB sends each as a legacy
        # 0x01 data message or as a SUBSCRIBE command, as its pipes' timing
        # has it: the truth takes which from the capture (counts only).
        key = (("127.0.0.1", FRONT), ("127.0.0.1", PUBP))

        def subs(ss):
            p = zmtp3_parse(ss[key]["data"]) if key in ss else {"messages": 0, "commands": [], "bytes": 0}
            return p["messages"] + p["commands"].count("SUBSCRIBE"), p
        ss = cap.wait_for(lambda ss: subs(ss)[0] >= 2, what="subscriptions at the PUB")
        settle_pub(pub)
        p = subs(ss)[1]
        legacy = {0: [], 1: {1: [b"\x01"], 8: [b"\x01weather"]}.get(p["bytes"]), 2: [b"\x01weather", b"\x01"]}[p["messages"]]
        assert legacy is not None, p
        for m in legacy:
            cp.s2c.msg([m])
        cp.s2c.legacy_subscriptions = len(legacy)
        s2c_cmds = ["READY"] + ["SUBSCRIBE"] * (2 - len(legacy))
        for i in range(N):
            tp = [b"weather", b"sports"][i % 2]
            body = b"%s report %d" % (tp, i) + bytes(i)
            pub.send_multipart([tp, body])
            cp.c2s.msg([tp, body])
            if tp == b"weather":
                assert s1.recv_multipart() == [tp, body]
                c1.s2c.msg([tp, body])
            assert s2.recv_multipart() == [tp, body]
            c2.s2c.msg([tp, body])
        for s in (s1, s2):
            assert s.poll(200) == 0
        cp.c2s.cmds("READY")
        cp.s2c.cmds(*s2c_cmds)
        c1.c2s.cmds("READY", "SUBSCRIBE")
        c2.c2s.cmds("READY", "SUBSCRIBE")
        c1.s2c.cmds("READY")
        c2.s2c.cmds("READY")
        cp.set(subscriptions=["", "weather"])  # the XSUB's, for both SUBs
        c1.set(subscriptions=["weather"])
        c2.set(subscriptions=[""])
        for s in (pub, s1, s2):
            s.close(linger=1000)
        ctx.term()
        th.join(10)
        cap.wait_closed(conns=3)
    verify(out, t.write(out))


main()
