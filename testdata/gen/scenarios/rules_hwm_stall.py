"""rules_hwm_stall: a PUSH (bound, SNDHWM 20) feeds a PULL (RCVHWM 10,
SO_RCVBUF 8 KB) that stops reading: the PULL's TCP window drops to zero and
stays there for about 1.5 s while the PUSH, at its high-water mark, blocks
(send fails with EAGAIN). Then the PULL drains everything: PUSH drops
nothing, so the PULL's count is the truth. Made for the rules engine's HWM
saturation detector (zero window well past its 100 ms threshold)."""
from common import *

SP, CP = 16400, 26400
SIZE = 4096
STALL = 1.5


def main():
    out = case_dir("rules_hwm_stall")
    wait_ports_free([SP, CP])
    t = Truth("rules_hwm_stall", "PUSH (SNDHWM 20) bound, PULL (RCVHWM 10, SO_RCVBUF 8192) connected "
              "and not reading for %.1f s: zero window, PUSH blocks at its HWM (EAGAIN); then the PULL "
              "drains all %d-byte messages." % (STALL, SIZE))
    c = t.conn("pull-stalled", "PULL", "PUSH", CP, SP)
    path = os.path.join(out, "capture.pcap")
    with Capture(path, [SP]) as cap:
        ctx = zctx()
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, 20)
        push.setsockopt(zmq.SNDBUF, 16384)
        mon = monitor(ctx, push, "push")
        push.bind("tcp://127.0.0.1:%d" % SP)
        pull = ctx.socket(zmq.PULL)
        pull.setsockopt(zmq.RCVHWM, 10)
        pull.setsockopt(zmq.RCVBUF, 8192)
        pull.connect(src(CP, SP))
        wait_event(mon, zmq.EVENT_HANDSHAKE_SUCCEEDED)
        settle(push)
        sent = 0
        deadline = time.time() + 20
        # Send without blocking until the PUSH reports EAGAIN: its pipe and
        # both kernel buffers are full.
        while True:
            try:
                push.send(b"%08d" % sent + bytes(SIZE - 8), zmq.NOBLOCK)
                sent += 1
            except zmq.Again:
                break
            assert time.time() < deadline, "PUSH never reached its HWM"
        key_ack = (("127.0.0.1", CP), ("127.0.0.1", SP))
        cap.wait_for(lambda ss: ss.get(key_ack, {}).get("zero_window"), what="PULL zero window")
        c.set(zero_window=True)
        # The stall: the PULL reads nothing (wall-clock time in the generator
        # only; the capture's packet times are what zspy sees).
        time.sleep(STALL)
        # Still at the HWM: the PUSH takes at most what its I/O thread moved
        # into the kernel before the window closed, then EAGAIN again.
        while True:
            try:
                push.send(b"%08d" % sent + bytes(SIZE - 8), zmq.NOBLOCK)
                sent += 1
            except zmq.Again:
                break
            assert time.time() < deadline, "PUSH is not blocked"
        got = 0
        while got < sent:
            assert pull.poll(5000), "PULL got %d of %d" % (got, sent)
            m = pull.recv()
            assert m[:8] == b"%08d" % got, (got, m[:8])
            c.s2c.msg([m])
            got += 1
        assert not pull.poll(200), "PULL got more than was sent"
        c.c2s.cmds("READY")
        c.s2c.cmds("READY")
        c.set(notes=["PUSH sent %d messages until EAGAIN; the PULL received all of them after the stall." % sent])
        push.disable_monitor()
        mon.close()
        pull.close(linger=0)
        push.close(linger=1000)
        ctx.term()
        cap.wait_closed(conns=1)
    verify(out, t.write(out))


main()
