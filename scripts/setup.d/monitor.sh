# zspy monitor/: the C forwarder test (monitor/forwarder_c_test.go) builds
# contrib/c/zspy_monitor.c against libzmq; install its headers and a compiler.
# Idempotent; sourced by scripts/test.sh.
if [ ! -e /usr/include/zmq.h ] || ! command -v cc >/dev/null; then
  if [ "$(id -u)" = 0 ]; then _zspy_sudo=; else _zspy_sudo=sudo; fi
  $_zspy_sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $_zspy_sudo apt-get install -y -q libzmq3-dev gcc libc6-dev
  unset _zspy_sudo
fi
