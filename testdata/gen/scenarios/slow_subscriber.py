"""slow_subscriber: a fast PUB (SNDHWM 100) sends 4000 x 1 KB messages to two
SUBs. sub-fast reads everything (the publisher paces itself on sub-fast's
progress, so sub-fast loses nothing); sub-slow (RCVHWM 10, SO_RCVBUF 16 KB)
reads nothing while the publisher runs, so its TCP window drops to zero and
the PUB drops what does not fit. Afterwards sub-slow drains what reached it.
Each SUB counts what it received; that is the truth."""
import threading

from common import *

SP, CF, CS = 16260, 26360, 26361
N, SIZE = 4000, 1024


def main():
    out = case_dir("slow_subscriber")
    wait_ports_free([SP, CF, CS])
    t = Truth("slow_subscriber", "PUB (SNDHWM 100, SO_SNDBUF 65536) sends %d x %d-byte messages; sub-fast "
              "receives all, sub-slow (RCVHWM 10, SO_RCVBUF 16384) stalls: zero window, "
              "PUB drops the rest for it." % (N, SIZE))
    cf = t.conn("sub-fast", "SUB", "PUB", CF, SP)
    cs = t.conn("sub-slow", "SUB", "PUB", CS, SP)
    path = os.path.join(out, "capture.pcap")
    with Capture(path, [SP]) as cap:
        ctx = zctx()
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.SNDHWM, 100)
        pub.setsockopt(zmq.SNDBUF, 65536)
        pub.bind("tcp://127.0.0.1:%d" % SP)
        fast = ctx.socket(zmq.SUB)
        fast.setsockopt(zmq.RCVTIMEO, 20000)
        fast.connect(src(CF, SP))
        fast.setsockopt(zmq.SUBSCRIBE, b"")
        slow = ctx.socket(zmq.SUB)
        slow.setsockopt(zmq.RCVHWM, 10)
        slow.setsockopt(zmq.RCVBUF, 16384)
        slow.connect(src(CS, SP))
        slow.setsockopt(zmq.SUBSCRIBE, b"")
        for p in (CF, CS):
            cap.wait_commands(p, SP, ["READY", "SUBSCRIBE"])
        settle_pub(pub)

        progress = [0]
        cond = threading.Condition()

        def fast_reader():
            for i in range(N):
                m = fast.recv()
                assert m[:8] == b"%08d" % i, (i, m[:8])
                cf.s2c.msg([m])
                with cond:
                    progress[0] = i + 1
                    cond.notify()
        th = threading.Thread(target=fast_reader)
        th.start()
        for i in range(N):
            # Keep sub-fast's pipe well under SNDHWM (its reader acknowledges
            # every 50 messages; settle() makes the PUB take the acks in), so
            # sub-fast loses nothing.
            with cond:
                if not cond.wait_for(lambda: progress[0] >= i - 20, timeout=20):
                    raise SystemExit("sub-fast stalled at %d" % progress[0])
            settle(pub)
            pub.send(b"%08d" % i + bytes(SIZE - 8))
        th.join()
        assert cf.s2c.messages == N

        key_ack = (("127.0.0.1", CS), ("127.0.0.1", SP))
        cap.wait_for(lambda ss: ss.get(key_ack, {}).get("zero_window"), what="sub-slow zero window")
        cs.set(zero_window=True)
        # Drain sub-slow until it has read every message the wire carried to it.
        key = (("127.0.0.1", SP), ("127.0.0.1", CS))
        seqs = []
        deadline = time.time() + 30
        while True:
            while slow.poll(100):
                m = slow.recv()
                seqs.append(int(m[:8]))
                cs.s2c.msg([m])
            on_wire = zmtp3_parse(streams(read_pcap(path))[key]["data"])["messages"]
            if on_wire == cs.s2c.messages and slow.poll(100) == 0:
                break
            if time.time() > deadline:
                raise SystemExit("sub-slow: read %d, capture shows %d" % (cs.s2c.messages, on_wire))
        assert seqs == sorted(seqs)
        for c in (cf, cs):
            c.c2s.cmds("READY", "SUBSCRIBE")
            c.s2c.cmds("READY")
            c.set(subscriptions=[""])
        gaps = sum(1 for a, b in zip(seqs, seqs[1:]) if b != a + 1)
        cs.set(notes=["sub-slow received %d of %d messages (seq %d..%d, %d gap(s) in "
                      "between); the PUB dropped every other message for it at SNDHWM." % (
                          len(seqs), N, seqs[0], seqs[-1], gaps)])
        t.note("How many messages reach sub-slow depends on buffer sizes and timing; the "
               "count is what sub-slow itself received (the scenario drains it until that "
               "matches the capture). sub-fast's count is exact: %d." % N)
        fast.close(linger=0)
        slow.close(linger=0)
        pub.close(linger=0)
        ctx.term()
        cap.wait_closed(conns=2, timeout=20)
    verify(out, t.write(out))


main()
