"""sll2: a DEALER/ROUTER exchange captured with tcpdump -i any, so the file's
link type is LINUX_SLL2 (276)."""
from common import *

SP, CP = 16210, 26310


def main():
    out = case_dir("sll2")
    wait_ports_free([SP, CP])
    t = Truth("sll2", "DEALER/ROUTER over NULL, 6 exchanges, captured on the 'any' "
              "pseudo-interface: link type LINUX_SLL2 (276).", link_type="LINUX_SLL2")
    path = os.path.join(out, "capture.pcap")
    with Capture(path, [SP], iface="any") as cap:
        dealer_router_exchange(t, cap, SP, CP)
    pk = read_pcap(path)
    assert pk and pk[0][1] == 276, "link type %s, want 276" % (pk[0][1] if pk else None)
    t.note("Each packet appears once (libpcap drops loopback's outgoing copy on 'any').")
    verify(out, t.write(out))


main()
