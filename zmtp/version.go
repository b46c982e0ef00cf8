package zmtp

// Version is a ZMTP protocol version.
type Version uint8

// ZMTP versions, in increasing order so that the lower of two sides' versions is
// the one a connection speaks.
const (
	VersionUnknown Version = iota
	V10
	V20
	V30
	V31
)

func (v Version) String() string {
	switch v {
	case V10:
		return "1.0"
	case V20:
		return "2.0"
	case V30:
		return "3.0"
	case V31:
		return "3.1"
	}
	return ""
}

// MarshalText returns String's text.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// Mechanism is a ZMTP security mechanism.
type Mechanism uint8

// Security mechanisms. MechOther is a name zspy does not know (its bodies are
// treated as opaque).
const (
	MechUnknown Mechanism = iota
	MechNULL
	MechPLAIN
	MechCURVE
	MechGSSAPI
	MechOther
)

func (m Mechanism) String() string {
	switch m {
	case MechNULL:
		return "NULL"
	case MechPLAIN:
		return "PLAIN"
	case MechCURVE:
		return "CURVE"
	case MechGSSAPI:
		return "GSSAPI"
	case MechOther:
		return "OTHER"
	}
	return ""
}

// MarshalText returns String's text.
func (m Mechanism) MarshalText() ([]byte, error) { return []byte(m.String()), nil }
