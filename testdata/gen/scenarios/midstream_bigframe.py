"""midstream_bigframe: a capture that starts inside a 150 KB frame.

PUSH in namespace A, PULL in B, across a veth pair with MTU 1500 and
TSO/GSO/GRO off, captured on A's veth end. The PUSH sends a 150,000-byte
message, one of 700 bytes, another of 150,000, then ten of 3-9 KB . The PULL reads
slowly through small buffers (RCVHWM 1, SO_RCVBUF 32 KB), so the PUSH's
bytes queue in its socket buffer and leave in full segments: frame headers
lie anywhere in them. The case's capture is that capture from the
first packet whose payload starts 70% into the first 150 KB frame on, as a
tcpdump started at that moment writes it: no SYN, greeting or READY, and the
next frame header lies in the middle of a segment, with 150 KB of body
after it. Truth counts the messages whose header the capture holds: the
PUSH's list of sizes laid over the stream's offsets (greeting and READY
measured from the full capture, cross-checked against the sizes)."""
import random

from netlab import *

SP, CP = 16402, 26502
SIZES = [150000, 700, 150000] + [3000 + 613 * i for i in range(10)]


def frames_at(data):
    """(offset, flags, size) of each ZMTP 3.x frame of a direction's whole
    stream (after its 64-byte greeting)."""
    out, off = [], 64
    while off + 2 <= len(data):
        fl = data[off]
        if fl & 2:
            size, h = struct.unpack(">Q", data[off + 1:off + 9])[0], 9
        else:
            size, h = data[off + 1], 2
        out.append((off, fl, size))
        off += h + size
    return out


def main():
    out = case_dir("midstream_bigframe")
    tmp = "/tmp/zspy-gen-midstream_bigframe"
    os.makedirs(tmp, exist_ok=True)
    rnd = random.Random(3)
    t = Truth("midstream_bigframe", "PUSH/PULL across a veth pair (MTU 1500, offloads off): "
              "150 KB, 700 B and 150 KB messages, then ten of 3-9 KB; the capture starts 70% "
              "into the first 150 KB frame.")
    t.d["midstream"] = True
    full = os.path.join(tmp, "full.pcap")
    with Lab("bigframe", mtu=1500, offloads={"tso": "off", "gso": "off", "gro": "off"}) as lab:
        c = lab_conn(t, lab, "push-pull", "PUSH", "PULL", CP, SP)
        c.set(handshake_captured=False)
        c.c2s.cmds()
        c.s2c.cmds()
        ctxb = lab.context("b")
        ctxa = lab.context("a")
        sb, sa = socket_maker(ctxb), socket_maker(ctxa)
        cap = lab.capture(full, "a", [SP])
        cap.start()
        with lab.inside("b"):
            # A slow reader with small buffers: the PUSH's writes queue in its
            # socket buffer and leave in full segments, cut anywhere.
            pull = sb(zmq.PULL, RCVHWM=1, RCVBUF=32768)
            pull.bind("tcp://%s:%d" % (lab.B, SP))
        push = sa(zmq.PUSH, SNDHWM=100)
        push.connect("tcp://%s:%d;%s:%d" % (lab.A, CP, lab.B, SP))
        sent = [rnd.randbytes(n) for n in SIZES]
        for m in sent:
            push.send(m)
        for m in sent:
            time.sleep(0.1)
            assert pull.recv() == m
        push.close(linger=3000)
        pull.close(linger=3000)
        ctxa.term()
        ctxb.term()
        cap.wait_closed(conns=1, timeout=30)
        cap.stop()
    pk = read_pcap(full)
    ca, sa_ = (lab.A, CP), (lab.B, SP)
    data = streams(pk)[(ca, sa_)]["data"]
    fr = frames_at(data)
    # The READY command, then one frame per message.
    if not (fr[0][1] & 4) or [f[2] for f in fr[1:]] != SIZES:
        raise SystemExit("stream does not hold READY and the sent sizes: %s" % [f[2] for f in fr[:4]])
    first = fr[1]
    cut_at = first[0] + 9 + int(0.7 * first[2])
    # The stream offset of each captured client->server payload packet.
    isn = None
    keep = None
    for i, (ts, s, d, flags, seq, payload, win) in enumerate(tcp_segments(pk)):
        if (s, d) != (ca, sa_):
            continue
        if flags & 0x02:
            isn = seq
            continue
        o = (seq - isn - 1) & 0xFFFFFFFF
        if payload and o >= cut_at:
            keep = i
            start = o
            break
    if keep is None:
        raise SystemExit("no packet past the cut point")
    write_pcap(os.path.join(out, "capture.pcap"), pk[0][1], [(ts, p) for ts, _, p in pk[keep:]])
    inside = [(o, fl, n) for o, fl, n in fr[1:] if o >= start]
    for _, _, n in inside:
        c.c2s.messages += 1
        c.c2s.frames += 1
        c.c2s.bytes += n
    t.note("The capture starts at packet %d of the full capture (stream offset %d of the PUSH's "
           "direction, inside the first 150 KB frame at %d); it holds %d whole messages."
           % (keep + 1, start, first[0], len(inside)))
    t.write(out)


main()
