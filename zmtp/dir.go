package zmtp

// Dir is the direction of a byte stream within a connection. It also indexes
// per-direction arrays: [ClientToServer] is what the client sent.
type Dir uint8

// The two directions of a connection.
const (
	ClientToServer Dir = 0
	ServerToClient Dir = 1
)

// Reverse returns the other direction.
func (d Dir) Reverse() Dir { return d ^ 1 }

// String returns "c2s" or "s2c".
func (d Dir) String() string {
	if d == ClientToServer {
		return "c2s"
	}
	return "s2c"
}

// MarshalText returns String's text.
func (d Dir) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Role is a peer's role in the TCP connection: the client connected, the
// server accepted. It indexes per-side arrays like Dir: a side's sending
// direction has the side's number.
type Role uint8

// The two roles.
const (
	Client Role = 0
	Server Role = 1
)

// String returns "client" or "server".
func (r Role) String() string {
	if r == Client {
		return "client"
	}
	return "server"
}

// MarshalText returns String's text.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Other returns the other role.
func (r Role) Other() Role { return r ^ 1 }

// Sends returns the direction in which this role's peer sends.
func (r Role) Sends() Dir { return Dir(r) }
