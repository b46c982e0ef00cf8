#!/usr/bin/env bash
# Regenerates the ZeroMQ capture corpus in testdata/pcaps: all cases, or the
# ones named on the command line (e.g. `testdata/gen/gen.sh reqrep pubsub`).
# Each case is testdata/gen/scenarios/<case>.py, run with Debian's python3-zmq
# (/usr/bin/python3); it starts tcpdump, runs real peers, writes
# testdata/pcaps/<case>/{capture.*,truth.json} and cross-checks truth.json
# against the capture. Needs root (tcpdump on lo; network namespaces for the
# cases of scenarios/netlab.py) and, for the zmq4 cases, Go.
set -euo pipefail
cd "$(dirname "$0")"
GEN=$(pwd)

if [ "$(id -u)" != 0 ]; then echo "gen.sh: run as root (tcpdump)" >&2; exit 1; fi
need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
/usr/bin/python3 -c 'import zmq' 2>/dev/null || need+=(python3-zmq)
command -v ss >/dev/null || need+=(iproute2)
command -v iptables >/dev/null || need+=(iptables)
command -v ethtool >/dev/null || need+=(ethtool)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi

if [ $# -gt 0 ]; then
  cases=("$@")
else
  cases=()
  while read -r c; do cases+=("$c"); done < "$GEN/cases.txt"
fi

failed=()
for c in "${cases[@]}"; do
  echo "== $c" >&2
  if ! (cd "$GEN/scenarios" && /usr/bin/python3 "$c.py"); then
    failed+=("$c")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "gen.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "gen.sh: ok: ${cases[*]}" >&2
