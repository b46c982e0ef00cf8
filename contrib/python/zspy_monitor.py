"""Forward a pyzmq socket's libzmq monitor events to zspy.

libzmq reports what happens to a socket (connected, retried, accepted,
handshake failed, disconnected, ...) only on an inproc:// endpoint inside the
application.  One call relays those events, unchanged, to an endpoint that
``zspy monitor`` connects to, each preceded by a frame naming the source:

    import zmq, zspy_monitor
    sock = ctx.socket(zmq.DEALER)
    fwd = zspy_monitor.forward(sock, "tcp://127.0.0.1:7777", source="billing/dealer")
    ...
    fwd.stop()          # or just close sock: the relay ends after MONITOR_STOPPED

and on the zspy side:  zspy monitor tcp://127.0.0.1:7777

Each relayed message is [source, event frame, endpoint frame] (the v1 format
of zmq_socket_monitor: a 6-byte event frame, uint16 event + uint32 value in
host byte order, then the endpoint).  With source=None the source frame is
left out.  pyzmq has no binding for zmq_socket_monitor_versioned (v2, a draft
API), so this module forwards v1 events.

Only the Python standard library and pyzmq are needed.  Works with pyzmq >= 17.
"""

import sys
import threading

import zmq

__all__ = ["forward", "Forwarder"]

_ctrl_seq = 0
_ctrl_lock = threading.Lock()


def _ctrl_name():
    global _ctrl_seq
    with _ctrl_lock:
        _ctrl_seq += 1
        return "inproc://zspy-monitor-ctrl-%d-%d" % (id(_ctrl_lock), _ctrl_seq)


def _monitor_name():
    global _ctrl_seq
    with _ctrl_lock:
        _ctrl_seq += 1
        return "inproc://zspy-monitor-%d-%d" % (id(_ctrl_lock), _ctrl_seq)


class Forwarder:
    """Relays one socket's monitor events; created by forward()."""

    def __init__(self, sock, endpoint, source, bind, socket_type, events,
                 on_forward, linger_ms, wait_subscriber, on_bound, plain=None):
        self.endpoint = endpoint
        self.source = None if source is None else _as_bytes(source)
        self.forwarded = 0
        self._on_forward = on_forward
        self._sock = sock
        ctx = sock.context
        # Bind or connect the outgoing socket here, so that errors (address
        # in use, bad endpoint) reach the caller.
        if wait_subscriber is not None:
            if socket_type not in (zmq.PUB, zmq.XPUB):
                raise ValueError("wait_subscriber needs socket_type zmq.PUB")
            socket_type = zmq.XPUB  # a PUB that sees subscriptions
        self._xpub = socket_type == zmq.XPUB
        self._out = ctx.socket(socket_type)
        self._out.linger = linger_ms
        if plain is not None:
            if bind:
                self._out.close(0)
                raise ValueError("plain credentials are for connecting to a zspy that binds (bind=False)")
            user, password = plain
            self._out.plain_username = _as_bytes(user)
            self._out.plain_password = _as_bytes(password)
        if bind:
            self._out.bind(endpoint)
            self.endpoint = self._out.get(zmq.LAST_ENDPOINT).decode()
        else:
            self._out.connect(endpoint)
        if on_bound is not None:
            on_bound(self.endpoint)
        if wait_subscriber is not None:
            if not self._out.poll(int(wait_subscriber * 1000)):
                self._out.close(0)
                raise TimeoutError("no zspy subscriber on %s within %ss" % (self.endpoint, wait_subscriber))
            self._out.recv()
        # A unique inproc address: pyzmq's default names it after the
        # socket's file descriptor, which a new socket can reuse while the
        # monitor of a closed one is still being torn down ("Address already
        # in use").
        self._mon = sock.get_monitor_socket(events, addr=_monitor_name())
        ctrl_addr = _ctrl_name()
        self._ctrl_in = ctx.socket(zmq.PAIR)
        self._ctrl_in.bind(ctrl_addr)
        self._ctrl_out = ctx.socket(zmq.PAIR)
        self._ctrl_out.connect(ctrl_addr)
        self._thread = threading.Thread(target=self._run, name="zspy-monitor", daemon=True)
        self._thread.start()

    def _run(self):
        poller = zmq.Poller()
        poller.register(self._mon, zmq.POLLIN)
        poller.register(self._ctrl_in, zmq.POLLIN)
        if self._xpub:
            poller.register(self._out, zmq.POLLIN)
        try:
            while True:
                ready = dict(poller.poll())
                if self._mon in ready:
                    frames = self._mon.recv_multipart()
                    self._relay(frames)
                    if _is_monitor_stopped(frames):
                        return
                if self._out in ready:
                    self._out.recv()  # a (un)subscription: nothing to do
                if self._ctrl_in in ready:
                    self._ctrl_in.recv()
                    # Drain what libzmq already queued, then stop.
                    while self._mon.poll(0):
                        frames = self._mon.recv_multipart()
                        self._relay(frames)
                        if _is_monitor_stopped(frames):
                            return
                    return
        finally:
            self._mon.close()
            self._ctrl_in.close()
            self._out.close()

    def _relay(self, frames):
        out = frames if self.source is None else [self.source] + frames
        self._out.send_multipart(out)
        self.forwarded += 1
        if self._on_forward is not None:
            self._on_forward(out)

    def stop(self, timeout=None):
        """Stops relaying (after the events already queued) and waits for the thread."""
        if self._thread.is_alive():
            try:
                self._ctrl_out.send(b"stop", zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # the relay already ended
        self._thread.join(timeout)
        self._ctrl_out.close()

    def join(self, timeout=None):
        """Waits until the relay ends: after MONITOR_STOPPED (the socket was
        closed or its monitor disabled) or stop()."""
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._ctrl_out.close()


def _is_monitor_stopped(frames):
    if len(frames) != 2 or len(frames[0]) != 6:
        return False
    return int.from_bytes(frames[0][0:2], sys.byteorder) == zmq.EVENT_MONITOR_STOPPED


def _as_bytes(s):
    return s if isinstance(s, bytes) else str(s).encode("utf-8")


def forward(sock, endpoint, source=None, bind=True, socket_type=zmq.PUB,
            events=zmq.EVENT_ALL, on_forward=None, linger_ms=1000,
            wait_subscriber=None, on_bound=None, plain=None):
    """Starts relaying sock's monitor events to endpoint; returns a Forwarder.

    sock        the pyzmq socket to monitor (call before its bind/connect to
                see every event).
    endpoint    where zspy picks the events up, e.g. "tcp://127.0.0.1:7777"
                or "ipc:///run/app/zspy.sock".
    source      names the application and socket (e.g. "billing/dealer"); sent
                as a leading frame, so one zspy can tell many sources apart.
                None sends no source frame.
    bind        True: bind endpoint, zspy connects (zspy monitor tcp://host:port).
                False: connect to it, zspy binds (zspy monitor @tcp://127.0.0.1:port).
    socket_type zmq.PUB (zspy --socket sub, the default), zmq.PUSH (--socket
                pull) or zmq.PAIR (--socket pair).  PUB drops events while no
                subscriber is connected or its subscription has not arrived;
                PUSH and PAIR queue them (up to the high-water mark).
    events      the event mask (default zmq.EVENT_ALL).
    on_forward  optional callable given each relayed message (a list of
                frames), from the relay thread.
    linger_ms   how long unsent events are kept after the relay ends.
    wait_subscriber
                with a PUB: seconds to wait, in forward(), for the first
                subscription (forward() then uses an XPUB), so that no event
                is lost to the subscriber joining late; TimeoutError if none.
    on_bound    optional callable given the bound endpoint (e.g. to announce
                the port chosen for "tcp://127.0.0.1:*") before waiting.
    plain       (username, password): ZMTP PLAIN credentials presented to a
                zspy that binds with --plain-user (bind=False only); zspy
                refuses the relay (ERROR 400) if they are wrong.  PLAIN sends
                them in clear text: loopback, ipc:// or a private network.
    """
    return Forwarder(sock, endpoint, source, bind, socket_type, events,
                     on_forward, linger_ms, wait_subscriber, on_bound, plain)
