package zmtp

// Detection says whether a connection carries ZMTP.
type Detection uint8

// Detection states.
const (
	Undecided Detection = iota
	IsZMTP
	NotZMTP
)

var detectionNames = [...]string{"undecided", "zmtp", "not-zmtp"}

func (d Detection) String() string {
	if int(d) < len(detectionNames) {
		return detectionNames[d]
	}
	return ""
}

// MarshalText returns String's text.
func (d Detection) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// ConnState is a TCP connection's state as the wire showed it.
type ConnState uint8

// Connection states. StateIdle is a connection that never got established
// (or was half closed) forgotten after a silence; StateEvicted an
// established one closed to make room for others (the cap on tracked
// connections), whose traffic may come back and continue it.
const (
	StateOpen ConnState = iota
	StateClosed
	StateReset
	StateRefused
	StateIdle
	StateEvicted
)

var connStateNames = [...]string{"open", "closed", "reset", "refused", "idle", "evicted"}

// String returns the state as the report prints it ("open", "closed", ...).
func (s ConnState) String() string {
	if int(s) < len(connStateNames) {
		return connStateNames[s]
	}
	return ""
}

// MarshalText returns String's text.
func (s ConnState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Ended reports whether the connection is over (anything but open).
func (s ConnState) Ended() bool { return s != StateOpen }

// HandshakeState is where a connection's ZMTP handshake stands.
type HandshakeState uint8

// Handshake states. HandshakeNone is a connection that is not ZMTP (a refused
// attempt); HandshakeUnknown one whose capture joined after the handshake.
const (
	HandshakeNone HandshakeState = iota
	HandshakePending
	HandshakeComplete
	HandshakeFailed
	HandshakeUnknown
)

var handshakeNames = [...]string{"", "pending", "complete", "failed", "unknown"}

// String returns the state as the report prints it ("" for HandshakeNone).
func (h HandshakeState) String() string {
	if int(h) < len(handshakeNames) {
		return handshakeNames[h]
	}
	return ""
}

// MarshalText returns String's text.
func (h HandshakeState) MarshalText() ([]byte, error) { return []byte(h.String()), nil }
