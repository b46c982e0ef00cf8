package zmtp

// Command identifies a ZMTP command.
type Command uint8

// ZMTP commands. CmdOther is a well-formed command with a name zspy does not know.
const (
	CmdNone Command = iota
	CmdREADY
	CmdHELLO
	CmdWELCOME
	CmdINITIATE
	CmdERROR
	CmdSUBSCRIBE
	CmdCANCEL
	CmdPING
	CmdPONG
	CmdJOIN
	CmdLEAVE
	CmdMESSAGE
	CmdOther
)

var commandNames = [...]string{"", "READY", "HELLO", "WELCOME", "INITIATE", "ERROR", "SUBSCRIBE",
	"CANCEL", "PING", "PONG", "JOIN", "LEAVE", "MESSAGE", "OTHER"}

func (c Command) String() string {
	if int(c) < len(commandNames) {
		return commandNames[c]
	}
	return ""
}

// MarshalText returns String's text.
func (c Command) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// LookupCommand maps a command name to its Command (CmdOther for names zspy
// does not know).
func LookupCommand(name []byte) Command {
	for i := CmdREADY; i < CmdOther; i++ {
		if string(name) == commandNames[i] {
			return i
		}
	}
	return CmdOther
}
