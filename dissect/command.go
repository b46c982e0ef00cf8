package dissect

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/zspy/zspy/zmtp"
)

// command reports the command frame that just completed in direction d.
func (c *Conn) command(d zmtp.Dir, ts time.Time) {
	s := &c.s[d]
	e := c.reset(d, KindCommand, ts, s.start)
	e.Size = s.size
	e.Long = s.long
	e.Body = s.buf
	e.Complete = uint64(len(s.buf)) == s.size
	e.Lost = s.lost
	if s.flags&1 != 0 {
		e.Err = ErrBadFlags // a command cannot have MORE
	}
	body := s.buf
	if len(body) == 0 {
		e.Cmd = zmtp.CmdOther
		e.Err = ErrBadCommand
		c.h.Event(e)
		return
	}
	n := int(body[0])
	var data []byte
	switch {
	case len(body) >= 5 && body[0] == 0x5E && string(body[1:5]) == "RROR":
		// libzmq's PLAIN server writes "\x05ERROR" as "\x5E" "RROR".
		e.CmdName = body[1:5]
		e.Cmd = zmtp.CmdERROR
		data = body[5:]
	case n == 0 || 1+n > len(body):
		e.CmdName = body[1:min(len(body), 1+n)]
		e.Cmd = zmtp.CmdOther
		e.Err = ErrBadCommand
		c.h.Event(e)
		return
	default:
		e.CmdName = body[1 : 1+n]
		e.Cmd = zmtp.LookupCommand(e.CmdName)
		data = body[1+n:]
		if e.Cmd == zmtp.CmdOther && string(e.CmdName) == "WELCO" && len(data) >= 2 && string(data[:2]) == "ME" && c.mech == zmtp.MechPLAIN {
			// libzmq 4.3.0-4.3.1 clients sent HELLO named "WELCOME" with the
			// length of "HELLO" (libzmq#3500).
			e.Cmd = zmtp.CmdHELLO
			data = data[2:]
		}
	}
	switch e.Cmd {
	case zmtp.CmdREADY:
		if c.mech == zmtp.MechCURVE {
			if len(data) >= 8 {
				e.Nonce = binary.BigEndian.Uint64(data[:8])
			}
			break
		}
		c.metadata(e, d, data)
	case zmtp.CmdINITIATE:
		if c.mech == zmtp.MechCURVE {
			if len(data) >= 104 {
				e.Nonce = binary.BigEndian.Uint64(data[96:104])
			}
			break
		}
		c.metadata(e, d, data)
	case zmtp.CmdHELLO:
		if c.mech == zmtp.MechCURVE {
			if len(data) >= 112 {
				e.Nonce = binary.BigEndian.Uint64(data[104:112])
			}
			break
		}
		// PLAIN: username and password, each with a 1-byte length (up to
		// 255: the lengths are widened before 1 is added).
		user, rest, ok := shortString(data)
		if !ok {
			e.Err = ErrBadCommand
			break
		}
		e.Username = user
		pass, _, ok := shortString(rest)
		if !ok {
			e.Err = ErrBadCommand
			break
		}
		e.Password = pass
	case zmtp.CmdERROR:
		reason, _, ok := shortString(data)
		if !ok {
			e.Reason = data[min(1, len(data)):]
			if e.Complete {
				// Not cut by the capture: a reason without its length byte,
				// as go-zeromq/zmq4 writes it ("invalid command").
				e.Reason = data
			}
			e.Err = ErrBadCommand
			break
		}
		e.Reason = reason
	case zmtp.CmdSUBSCRIBE, zmtp.CmdCANCEL, zmtp.CmdJOIN, zmtp.CmdLEAVE:
		e.Topic = data
	case zmtp.CmdPING:
		if len(data) < 2 {
			e.Err = ErrBadCommand
			break
		}
		e.TTL = binary.BigEndian.Uint16(data[:2])
		e.Context = data[2:]
	case zmtp.CmdPONG:
		e.Context = data
	case zmtp.CmdMESSAGE:
		c.curveMessage(e)
	}
	c.h.Event(e)
}

// shortString splits b into a string with a 1-byte length (0-255) and what
// follows it; ok is false when b is too short to hold it.
func shortString(b []byte) (str, rest []byte, ok bool) {
	if len(b) < 1 {
		return nil, b, false
	}
	n := 1 + int(b[0])
	if len(b) < n {
		return nil, b, false
	}
	return b[1:n], b[n:], true
}

// metadata decodes READY/INITIATE properties into e.Props and notes the
// sender's Socket-Type.
func (c *Conn) metadata(e *Event, d zmtp.Dir, b []byte) {
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 || len(b) < 1+n+4 {
			if !e.Complete && len(b) < 1+n+4 {
				return // cut by the capture cap: keep what was whole
			}
			e.Err = ErrBadMetadata
			return
		}
		name := b[1 : 1+n]
		vlen := binary.BigEndian.Uint32(b[1+n : 5+n])
		rest := b[5+n:]
		if vlen>>31 != 0 {
			e.Err = ErrBadMetadata
			return
		}
		value := rest
		if uint64(vlen) <= uint64(len(rest)) {
			value = rest[:vlen]
		} else if e.Complete {
			e.Err = ErrBadMetadata
			return
		}
		e.Props = append(e.Props, Property{Name: name, Value: value, ValueLen: vlen})
		if bytes.EqualFold(name, []byte("Socket-Type")) {
			c.s[d].sock = zmtp.ParseSocketType(value)
		}
		b = rest[len(value):]
	}
}
