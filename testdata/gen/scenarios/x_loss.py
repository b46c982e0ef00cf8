"""x_loss: real packet loss on loopback made with nftables (netem is not
available): 4% of the segments to and from the server port are dropped in
the output hook (before the capture point, so the capture misses them and
sees TCP's retransmissions) and 4% in the input hook (after it, so the
capture holds the original and the retransmission). Captured on lo and on
'any' (LINUX_SLL) at once."""
from common import *

SP, CP, SP2, CP2 = 16350, 26480, 16351, 26481


def nft(script):
    subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True)


def main():
    out = case_dir("x_loss")
    wait_ports_free([SP, CP, SP2, CP2])
    t = Truth("x_loss", "DEALER/ROUTER and PUSH/PULL under 4%+4% nftables packet loss")
    rules = """table inet zspyloss {
  chain o { type filter hook output priority 0; tcp dport { %d, %d } numgen random mod 100 < 4 drop; tcp sport { %d, %d } numgen random mod 100 < 4 drop; }
  chain i { type filter hook input priority 0; tcp dport { %d, %d } numgen random mod 100 < 4 drop; tcp sport { %d, %d } numgen random mod 100 < 4 drop; }
}
""" % ((SP, SP2) * 4)
    c = t.conn("dealer-router", "DEALER", "ROUTER", CP, SP)
    c.identity("client", "lossy")
    c.c2s.cmds("READY"); c.s2c.cmds("READY")
    c2 = t.conn("push-pull", "PUSH", "PULL", CP2, SP2)
    c2.c2s.cmds("READY"); c2.s2c.cmds("READY")
    c2.s2c.messages = 0
    cap2 = Capture(os.path.join(out, "capture-any.pcap"), [SP, SP2], iface="any", extra=["-y", "LINUX_SLL"])
    with Capture(os.path.join(out, "capture.pcap"), [SP, SP2]) as cap:
        cap2.start()
        nft(rules)
        try:
            ctx = zctx()
            r = ctx.socket(zmq.ROUTER); r.setsockopt(zmq.RCVTIMEO, 30000); r.bind("tcp://127.0.0.1:%d" % SP)
            d = ctx.socket(zmq.DEALER); d.setsockopt(zmq.RCVTIMEO, 30000); d.setsockopt(zmq.ROUTING_ID, b"lossy")
            d.connect(src(CP, SP))
            pull = ctx.socket(zmq.PULL); pull.setsockopt(zmq.RCVTIMEO, 30000); pull.bind("tcp://127.0.0.1:%d" % SP2)
            push = ctx.socket(zmq.PUSH); push.connect(src(CP2, SP2))
            for i in range(150):
                m = [b"req %d" % i, os.urandom((i * 37) % 3000)]
                d.send_multipart(m); assert r.recv_multipart() == [b"lossy"] + m; c.c2s.msg(m)
                rep = [b"rep %d" % i] + ([b"", os.urandom(i * 10)] if i % 4 == 0 else [])
                r.send_multipart([b"lossy"] + rep); assert d.recv_multipart() == rep; c.s2c.msg(rep)
            for i in range(40):
                m = [os.urandom(5000 + i * 111)]
                push.send_multipart(m); c2.c2s.msg(m)
            for i in range(40):
                pull.recv_multipart()
            for s in (d, push, r, pull):
                s.close(linger=3000)
            ctx.term()
            cap.wait_closed(conns=2, timeout=30)
        finally:
            subprocess.run(["nft", "delete", "table", "inet", "zspyloss"])
        cap2.stop()
    verify(out, t.write(out))


main()
