"""rules_pipeline_stall: the classic ventilator → workers → sink pipeline
with one fault, a sink that stops reading. A ventilator PUSH (bound) feeds 3
workers (PULL connected to it, PUSH connected to the sink); the sink PULL
(bound, RCVHWM 5, SO_RCVBUF 8 KB) reads nothing until the capture shows a
zero window on all 6 connections: the sink's 3 connections first (the
workers block sending to it), then the ventilator's 3 (the blocked workers
stop reading). Then the sink drains everything. One root cause, six stalled
connections: made for the rules' grouping of hwm_saturation alerts under
the consumer that stopped reading."""
import threading

from common import *

VP, SKP = 16430, 16431
WP = [(26430, 26433), (26431, 26434), (26432, 26435)]  # (PULL from ventilator, PUSH to sink)
SIZE = 4096
N = 1500


def main():
    out = case_dir("rules_pipeline_stall")
    wait_ports_free([VP, SKP] + [p for w in WP for p in w])
    t = Truth("rules_pipeline_stall", "ventilator PUSH bound on %d, 3 workers (PULL connected to the "
              "ventilator, PUSH connected to the sink), sink PULL bound on %d (RCVHWM 5, SO_RCVBUF "
              "8192) that reads nothing until every connection shows a zero window, then drains all "
              "%d messages of %d bytes." % (VP, SKP, N, SIZE), capture="capture.pcap.gz")
    vconns = [t.conn("vent-w%d" % (i + 1), "PULL", "PUSH", a, VP) for i, (a, _) in enumerate(WP)]
    sconns = [t.conn("w%d-sink" % (i + 1), "PUSH", "PULL", b, SKP) for i, (_, b) in enumerate(WP)]
    with Capture(os.path.join(out, "capture.pcap"), [VP, SKP]) as cap:
        ctx = zctx()
        vent = ctx.socket(zmq.PUSH)
        vent.setsockopt(zmq.SNDHWM, 5)
        vent.setsockopt(zmq.SNDBUF, 16384)
        vmon = monitor(ctx, vent, "vent")
        vent.bind("tcp://127.0.0.1:%d" % VP)
        sink = ctx.socket(zmq.PULL)
        sink.setsockopt(zmq.RCVHWM, 5)
        sink.setsockopt(zmq.RCVBUF, 8192)
        smon = monitor(ctx, sink, "sink")
        sink.bind("tcp://127.0.0.1:%d" % SKP)
        workers = []
        counts = [[0, 0] for _ in WP]
        stop = threading.Event()
        for i, (a, b) in enumerate(WP):
            pull = ctx.socket(zmq.PULL)
            pull.setsockopt(zmq.RCVHWM, 5)
            pull.setsockopt(zmq.RCVBUF, 8192)
            pull.connect(src(a, VP))
            push = ctx.socket(zmq.PUSH)
            push.setsockopt(zmq.SNDHWM, 5)
            push.setsockopt(zmq.SNDBUF, 16384)
            push.connect(src(b, SKP))
            workers.append((pull, push))
        wait_event(vmon, zmq.EVENT_HANDSHAKE_SUCCEEDED, 3)
        wait_event(smon, zmq.EVENT_HANDSHAKE_SUCCEEDED, 3)
        settle(vent)

        def work(i):
            pull, push = workers[i]
            while True:
                if not pull.poll(200):
                    if stop.is_set():
                        return
                    continue
                m = pull.recv()
                counts[i][0] += 1
                push.send(m)  # blocks while the sink does not read
                counts[i][1] += 1

        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(WP))]
        for th in threads:
            th.start()
        sent = [0]

        def ventilate():
            for k in range(N):
                vent.send(b"%08d" % k + bytes(SIZE - 8))  # blocks at the HWM
                sent[0] += 1
        vt = threading.Thread(target=ventilate, daemon=True)
        vt.start()

        def zero(a, b):
            return lambda ss: ss.get((("127.0.0.1", a), ("127.0.0.1", b)), {}).get("zero_window")

        # The sink's side: the sink advertises the zero window to each worker.
        for _, b in WP:
            cap.wait_for(lambda ss, b=b: ss.get((("127.0.0.1", SKP), ("127.0.0.1", b)), {}).get("zero_window"),
                         timeout=30, what="sink zero window to %d" % b)
        # The workers' side: each blocked worker's PULL stops reading.
        for a, _ in WP:
            cap.wait_for(zero(a, VP), timeout=30, what="worker %d zero window" % a)
        # The stall, held past the detectors' thresholds in the capture's
        # own time (wall-clock time in the generator only).
        time.sleep(1.5)
        got = 0
        while got < N:
            assert sink.poll(10000), "sink got %d of %d" % (got, N)
            m = sink.recv()
            assert len(m) == SIZE
            got += 1
        vt.join(10)
        assert sent[0] == N
        stop.set()
        for th in threads:
            th.join(10)
        assert not sink.poll(200), "sink got more than was sent"
        for i in range(len(WP)):
            c = vconns[i]
            for _ in range(counts[i][0]):
                c.s2c.msg([bytes(SIZE)])
            c.c2s.cmds("READY")
            c.s2c.cmds("READY")
            c.set(zero_window=True)
            s = sconns[i]
            for _ in range(counts[i][1]):
                s.c2s.msg([bytes(SIZE)])
            s.c2s.cmds("READY")
            s.s2c.cmds("READY")
        t.note("per-worker counts (round-robin, timing-dependent): %s; all %d reached the sink" % (counts, N))
        vent.disable_monitor()
        sink.disable_monitor()
        vmon.close()
        smon.close()
        for pull, push in workers:
            pull.close(linger=0)
            push.close(linger=1000)
        vent.close(linger=0)
        sink.close(linger=0)
        ctx.term()
        cap.wait_closed(conns=6, timeout=20)
    verify(out, t.write(out))
    subprocess.run(["gzip", "-9", "-n", "-f", os.path.join(out, "capture.pcap")], check=True)


main()
