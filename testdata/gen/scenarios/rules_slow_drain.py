"""rules_slow_drain: a PUB (SNDHWM 200, SO_SNDBUF 64 KB) sends 3000 x 1 KB
messages in about 1.5 s to two SUBs subscribed to everything. sub-fast reads
everything as it comes; sub-slow (RCVHWM 100, SO_RCVBUF 64 KB) reads about
150 messages a second from the start, so the PUB drops what does not fit its
pipe, and sub-slow is still draining its backlog for seconds after the PUB
stopped. Made for the subscriber ratio (only intervals in which the
publisher sent to both count: after the PUB stops the draining sub-slow is
not "best" and sub-fast is not slow) and the estimate of the messages
sub-slow lost at the PUB's HWM (what sub-fast got minus what sub-slow got,
exact here since sub-fast loses nothing)."""
import threading

from common import *

SP, CF, CS = 16460, 26460, 26461
N, SIZE = 3000, 1024
SLOW_RATE = 150.0


def main():
    out = case_dir("rules_slow_drain")
    wait_ports_free([SP, CF, CS])
    t = Truth("rules_slow_drain", "PUB (SNDHWM 200, SO_SNDBUF 65536) sends %d x %d-byte messages in "
              "about 1.5 s; sub-fast receives all; sub-slow (RCVHWM 100, SO_RCVBUF 65536) reads "
              "%.0f msg/s and drains its backlog after the PUB stopped; the PUB drops the rest "
              "for it." % (N, SIZE, SLOW_RATE), capture="capture.pcap.gz")
    cf = t.conn("sub-fast", "SUB", "PUB", CF, SP)
    cs = t.conn("sub-slow", "SUB", "PUB", CS, SP)
    path = os.path.join(out, "capture.pcap")
    with Capture(path, [SP]) as cap:
        ctx = zctx()
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.SNDHWM, 200)
        pub.setsockopt(zmq.SNDBUF, 65536)
        pub.bind("tcp://127.0.0.1:%d" % SP)
        fast = ctx.socket(zmq.SUB)
        fast.setsockopt(zmq.RCVTIMEO, 20000)
        fast.connect(src(CF, SP))
        fast.setsockopt(zmq.SUBSCRIBE, b"")
        slow = ctx.socket(zmq.SUB)
        slow.setsockopt(zmq.RCVHWM, 100)
        slow.setsockopt(zmq.RCVBUF, 65536)
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
        seqs = []
        done = threading.Event()

        def slow_reader():
            while not done.is_set():
                if slow.poll(50):
                    m = slow.recv()
                    seqs.append(int(m[:8]))
                    cs.s2c.msg([m])
                    time.sleep(1 / SLOW_RATE)  # the slow consumer's own pace
        th = threading.Thread(target=fast_reader)
        th.start()
        ts = threading.Thread(target=slow_reader)
        ts.start()
        for i in range(N):
            with cond:
                if not cond.wait_for(lambda: progress[0] >= i - 20, timeout=20):
                    raise SystemExit("sub-fast stalled at %d" % progress[0])
            settle(pub)
            pub.send(b"%08d" % i + bytes(SIZE - 8))
            time.sleep(0.0005)  # the publisher's pace: about 2000 msg/s
        th.join()
        assert cf.s2c.messages == N
        # sub-slow drains at its pace until it has read every message the
        # wire carried to it.
        key = (("127.0.0.1", SP), ("127.0.0.1", CS))
        deadline = time.time() + 60
        while True:
            on_wire = zmtp3_parse(streams(read_pcap(path))[key]["data"])["messages"]
            if on_wire == cs.s2c.messages and not slow.poll(300):
                if on_wire == cs.s2c.messages:
                    break
            if time.time() > deadline:
                raise SystemExit("sub-slow: read %d, capture shows %d" % (cs.s2c.messages, on_wire))
            time.sleep(0.1)  # polling the capture file, bounded by the deadline
        done.set()
        ts.join()
        assert seqs == sorted(seqs)
        assert len(seqs) < N, "sub-slow lost nothing: the case needs drops"
        for c in (cf, cs):
            c.c2s.cmds("READY", "SUBSCRIBE")
            c.s2c.cmds("READY")
            c.set(subscriptions=[""])
        cs.set(notes=["sub-slow received %d of %d messages: the PUB dropped %d for it at its HWM" % (
            len(seqs), N, N - len(seqs))])
        t.note("sub-fast's count is exact (%d); sub-slow's is what it read, timing-dependent." % N)
        fast.close(linger=0)
        slow.close(linger=0)
        pub.close(linger=0)
        ctx.term()
        cap.wait_closed(conns=2, timeout=20)
    verify(out, t.write(out))
    subprocess.run(["gzip", "-9", "-n", "-f", os.path.join(out, "capture.pcap")], check=True)


main()
