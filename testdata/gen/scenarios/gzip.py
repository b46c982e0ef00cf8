"""gzip: a DEALER/ROUTER exchange stored as a gzip-compressed classic pcap."""
from common import *

SP, CP = 16220, 26320


def main():
    out = case_dir("gzip")
    wait_ports_free([SP, CP])
    t = Truth("gzip", "DEALER/ROUTER over NULL, 6 exchanges, stored as capture.pcap.gz "
              "(gzip -n of a classic pcap).", capture="capture.pcap.gz")
    path = os.path.join(out, "capture.pcap")
    with Capture(path, [SP]) as cap:
        dealer_router_exchange(t, cap, SP, CP)
    verify(out, t.write(out))
    subprocess.run(["gzip", "-n", "-9", "-f", path], check=True)


main()
