package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/zspy/zspy/internal/textsafe"
	"github.com/zspy/zspy/patterns"
)

// Stage is a process acting as a broker, forwarder or pipeline worker (see
// package patterns), as the report shows it.
type Stage struct {
	Kind    string     `json:"kind"`
	PID     int        `json:"pid"`
	Command string     `json:"command"`
	Cmdline string     `json:"cmdline,omitempty"`
	Front   []StageEnd `json:"front"`
	Back    []StageEnd `json:"back"`
	In      uint64     `json:"messages_in"`
	Out     uint64     `json:"messages_out"`
	// FrontRecvQ is the bytes in its front ends' kernel receive queues.
	FrontRecvQ uint64 `json:"front_recv_q_bytes"`
	// Stalled: between the last two samples its input queue grew while
	// its output stayed idle.
	Stalled bool `json:"stalled,omitempty"`
}

// StageEnd is one connection end of a stage.
type StageEnd struct {
	Connection  uint64 `json:"connection"`
	Socket      string `json:"socket"`
	Local       string `json:"local"`
	Peer        string `json:"peer"`
	PeerPID     int    `json:"peer_pid,omitempty"`
	PeerCommand string `json:"peer_command,omitempty"`
	Received    uint64 `json:"received"`
	Sent        uint64 `json:"sent"`
	RecvQ       uint32 `json:"recv_q_bytes"`
}

// AttachStages adds the stages to r (nothing for none).
func AttachStages(r *Report, stages []patterns.Stage) {
	for _, st := range stages {
		s := Stage{Kind: string(st.Kind), PID: st.Process.PID, Command: st.Process.Comm, Cmdline: st.Process.Cmdline,
			In: st.In, Out: st.Out, FrontRecvQ: st.FrontRecvQ, Stalled: st.Stalled, Front: stageEnds(st.Front), Back: stageEnds(st.Back)}
		r.Stages = append(r.Stages, s)
	}
}

func stageEnds(es []patterns.End) []StageEnd {
	out := make([]StageEnd, 0, len(es))
	for _, e := range es {
		se := StageEnd{Connection: e.ConnID, Socket: sockName(e.Socket.String()), Local: e.Local, Peer: e.Peer,
			Received: e.Received, Sent: e.Sent, RecvQ: e.RecvQ}
		if p := e.PeerProcess; p != nil {
			se.PeerPID, se.PeerCommand = p.PID, p.Comm
		}
		out = append(out, se)
	}
	return out
}

func sockName(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// writeStagesText prints one line per stage: its kind and process, then
// front → back with the peers' processes and the message counts.
func writeStagesText(w io.Writer, stages []Stage) {
	for _, s := range stages {
		fmt.Fprintf(w, "stage: %s %s[%d]: %s → %s; %d messages in, %d out", s.Kind, textsafe.String(s.Command), s.PID,
			endsText(s.Front), endsText(s.Back), s.In, s.Out)
		if s.FrontRecvQ > 0 {
			fmt.Fprintf(w, ", %d bytes unread in its input queues", s.FrontRecvQ)
		}
		if s.Stalled {
			fmt.Fprint(w, ", STALLED (its input queue grows while its output idles)")
		}
		fmt.Fprintln(w)
	}
}

func endsText(es []StageEnd) string {
	if len(es) == 0 {
		return "-"
	}
	peers := make([]string, 0, len(es))
	for _, e := range es {
		p := e.Peer
		if e.PeerPID != 0 {
			p = fmt.Sprintf("%s[%d]", textsafe.String(e.PeerCommand), e.PeerPID)
		}
		peers = append(peers, p)
	}
	return fmt.Sprintf("%s %s (%s)", es[0].Socket, es[0].Local, strings.Join(peers, ", "))
}
