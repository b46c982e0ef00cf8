"""pcapng: a DEALER/ROUTER exchange captured by tcpdump (classic pcap) and
converted to pcapng with testdata/gen/pcap2ng (gopacket pcapgo.NgWriter)."""
from common import *

SP, CP = 16200, 26300


def main():
    out = case_dir("pcapng")
    wait_ports_free([SP, CP])
    t = Truth("pcapng", "DEALER/ROUTER over NULL, 6 exchanges, stored as pcapng (one "
              "section, one interface, nanosecond timestamps).", capture="capture.pcapng")
    tmp = os.path.join(out, "capture.tmp.pcap")
    with Capture(tmp, [SP]) as cap:
        dealer_router_exchange(t, cap, SP, CP)
    verify(out, t.write(out), capture="capture.tmp.pcap")
    subprocess.run(["go", "run", "./pcap2ng", tmp, os.path.join(out, "capture.pcapng")],
                   cwd=GEN_DIR, check=True)
    os.remove(tmp)
    with open(os.path.join(out, "capture.pcapng"), "rb") as f:
        assert f.read(4) == b"\x0a\x0d\x0d\x0a", "not pcapng"


main()
