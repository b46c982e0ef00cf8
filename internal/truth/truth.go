// Package truth loads the ground truth recorded next to each capture in
// testdata/pcaps/<case>/truth.json, so dissector, tracker and report tests can
// compare what zspy saw in a real capture with what the ZeroMQ peers that
// produced it say crossed the wire. The format is described in
// testdata/pcaps/README.md; the files are written by testdata/gen.
package truth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// FileName is the name of the ground-truth file inside a case folder.
const FileName = "truth.json"

// Truth is the ground truth of one capture case.
type Truth struct {
	// Case is the case folder's name, e.g. "reqrep".
	Case string `json:"case"`
	// Description says what the peers did.
	Description string `json:"description"`
	// Capture is the capture file's name inside the case folder.
	Capture string `json:"capture"`
	// LinkType is the capture's link type name: "EN10MB" or "LINUX_SLL2".
	LinkType string `json:"link_type"`
	// Generator is the repository path of the program that produced the case.
	Generator string `json:"generator"`
	// Midstream is true when the capture starts after the connections' handshakes.
	Midstream bool `json:"midstream,omitempty"`
	// Notes are free-form remarks, including anything not deterministic.
	Notes []string `json:"notes"`
	// Connections lists every TCP connection (or attempt) in the capture.
	Connections []Conn `json:"connections"`

	// Dir is the case folder the truth was loaded from (not in the file).
	Dir string `json:"-"`
}

// Conn is the ground truth of one TCP connection between two ZeroMQ peers.
type Conn struct {
	// ID names the connection within the case.
	ID string `json:"id"`
	// Client is the side that connected; Server the side that bound.
	Client Peer `json:"client"`
	Server Peer `json:"server"`
	// IdentifyBy says how to find the connection in the capture: "client_port"
	// (default: the client used a fixed source port) or "server_port" (the
	// client port is ephemeral and the server port is unique to this connection).
	IdentifyBy string `json:"identify_by,omitempty"`
	// Mechanism is the security mechanism: "NULL", "PLAIN" or "CURVE".
	Mechanism string `json:"mechanism"`
	// PlainUsername is the PLAIN username sent in HELLO, if any.
	PlainUsername string `json:"plain_username,omitempty"`
	// ZMTPVersion is the ZMTP version the client and server announce, e.g. "3.1".
	ZMTPVersion string `json:"zmtp_version"`
	// ClientZMTP and ServerZMTP override ZMTPVersion per side when they differ
	// (simulated old peers), e.g. "2.0".
	ClientZMTP string `json:"client_zmtp,omitempty"`
	ServerZMTP string `json:"server_zmtp,omitempty"`
	// State is how the connection ended: "closed" (clean close by both sides),
	// "refused" (SYN answered by RST), "reset", "open" (still open when the
	// capture stopped) or "dropped" (closed by a peer after a failed handshake).
	State string `json:"state"`
	// HandshakeCaptured is false when the capture starts after the greeting.
	HandshakeCaptured bool `json:"handshake_captured"`
	// HandshakeError is the ERROR reason or failure seen in the handshake, if any.
	HandshakeError string `json:"handshake_error,omitempty"`
	// Subscriptions is the final topic set of a SUB/XSUB connection.
	Subscriptions []string `json:"subscriptions,omitempty"`
	// Heartbeat holds the ZMQ_HEARTBEAT_* options per side, when set.
	Heartbeat map[string]Heartbeat `json:"heartbeat,omitempty"`
	// Curve holds the CURVE public keys (Z85), when the mechanism is CURVE.
	Curve *CurveKeys `json:"curve,omitempty"`
	// ZeroWindow is true when the receiver advertised a zero TCP window.
	ZeroWindow bool `json:"zero_window,omitempty"`
	// RolesInferable is true when the socket types did not cross the wire in
	// the clear (a mid-stream capture, CURVE) but the traffic's shape decides
	// them: zspy must give them, marked roles_inferred.
	RolesInferable bool `json:"roles_inferable,omitempty"`
	// C2S and S2C are the traffic client→server and server→client.
	C2S Direction `json:"c2s"`
	S2C Direction `json:"s2c"`
	// Notes are free-form remarks about this connection.
	Notes []string `json:"notes,omitempty"`
}

// Heartbeat is the ZMTP heartbeat configuration of one socket.
type Heartbeat struct {
	IvlMs     int `json:"ivl_ms"`
	TTLMs     int `json:"ttl_ms"`
	TimeoutMs int `json:"timeout_ms"`
}

// CurveKeys are the long-term public keys of a CURVE connection, in Z85.
type CurveKeys struct {
	ServerPublicKey string `json:"server_public_key"`
	ClientPublicKey string `json:"client_public_key"`
}

// Peer is one end of a connection.
type Peer struct {
	// Addr and Port are the peer's IP address and TCP port (Port 0: not fixed).
	Addr string `json:"addr"`
	Port int    `json:"port"`
	// SocketType is the ZMTP Socket-Type name, e.g. "REQ".
	SocketType string `json:"socket_type"`
	// Library names the ZeroMQ implementation and version.
	Library string `json:"library"`
	// Identity is the routing id announced in READY; nil when none is sent.
	Identity *string `json:"identity,omitempty"`
}

// Direction counts what crossed the wire in one direction. Frames and Bytes
// count data frames only (not commands): for REQ/REP they include the empty
// delimiter frame. Under CURVE, Frames counts MESSAGE boxes carrying data,
// Bytes their plaintext sizes, and Messages is nil.
type Direction struct {
	Messages *int `json:"messages"`
	Frames   int  `json:"frames"`
	Bytes    int  `json:"bytes"`
	// Commands lists command names in wire order where deterministic: nil
	// when not recorded, empty (non-nil) when none crossed (midstream).
	Commands []string `json:"commands"`
	// LegacySubscriptions is how many of the data frames are ZMTP 3.0-style
	// subscribe/cancel messages (0x01/0x00 + topic), as an XSUB sends them.
	LegacySubscriptions int `json:"legacy_subscriptions,omitempty"`
}

// Load reads dir/truth.json.
func Load(dir string) (*Truth, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("load truth: %w", err)
	}
	var t Truth
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("load truth %s: %w", dir, err)
	}
	t.Dir = dir
	return &t, nil
}

// CapturePath is the capture file's path.
func (t *Truth) CapturePath() string {
	return filepath.Join(t.Dir, t.Capture)
}

// LoadAll loads every case folder under root (e.g. testdata/pcaps), sorted by name.
func LoadAll(root string) ([]*Truth, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("load truths: %w", err)
	}
	var out []*Truth
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, FileName)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		t, err := Load(dir)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Case < out[j].Case })
	return out, nil
}

// Conn returns the connection with the given id, or nil.
func (t *Truth) Conn(id string) *Conn {
	for i := range t.Connections {
		if t.Connections[i].ID == id {
			return &t.Connections[i]
		}
	}
	return nil
}

// ByPorts returns the connection between clientPort and serverPort, or nil.
// Refused attempts from the same ports (late_bind) are returned only when no
// established connection matches.
func (t *Truth) ByPorts(clientPort, serverPort int) *Conn {
	var refused *Conn
	for i := range t.Connections {
		c := &t.Connections[i]
		if c.Server.Port != serverPort || (c.Client.Port != clientPort && c.Client.Port != 0) {
			continue
		}
		if c.State != "refused" {
			return c
		}
		if refused == nil {
			refused = c
		}
	}
	return refused
}
