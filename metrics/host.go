package metrics

import (
	"time"

	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// SetHostView gives the host view whose processes name the commands of
// the zspy_connection series' ends (sender_command, receiver_command) from
// the next Sample on; nil: none (unknown).
func (c *Collector) SetHostView(v *host.View) { c.view = v }

// commands returns the commands of connection id's client and server ends
// in the host view, "unknown" where it names none.
func (c *Collector) commands(id uint64) [2]string {
	cmds := [2]string{unknownCommand, unknownCommand}
	if hc, ok := c.view.Conn(id); ok {
		for i, t := range hc.Sides {
			if t != nil && t.First() != nil {
				cmds[i] = t.First().Comm
			}
		}
	}
	return cmds
}

// unknownCommand is the command tag of an end no process is known for.
const unknownCommand = "unknown"

// SampleHost adds to the interval's points (call it after Sample, with the
// same snapshot) the zspy_socket_queue points of the ends of open ZMTP
// connections that the host view found on this host at its latest sample;
// it returns all the interval's points. Ends the view kept from an earlier
// sample (their sockets are gone) have none. The client is tagged by its
// address, not its ephemeral port (bounded series, as every measurement): the
// ends that share a series — one client host's connections to one server, of
// one side, socket type and command — are one point, their queues summed,
// the highest round-trip time, the smallest congestion window, the first
// process's PID, and how many they were.
func (c *Collector) SampleHost(end time.Time, snap *tracker.Snapshot, v *host.View) []store.Point {
	if v == nil {
		return c.pts
	}
	type key struct {
		client, server, cmd string
		side                int
		sock                zmtp.SocketType
	}
	seen := map[key]int{} // index in c.pts
	const (
		fRecv = iota
		fSend
		fNotSent
		fRTT
		fCwnd
		fUnacked
		fPID
		fConns
	)
	for _, r := range snap.Records {
		if r.Closed || r.Detection != zmtp.IsZMTP {
			continue
		}
		hc, ok := v.Conn(r.ID)
		if !ok || !v.Fresh(hc) {
			continue
		}
		_, server := r.Names()
		client := r.Client.Addr().String()
		for i, t := range hc.Sides {
			if t == nil {
				continue
			}
			cmd, pid := "unknown", 0
			if p := t.First(); p != nil {
				cmd, pid = p.Comm, p.PID
			}
			k := key{client, server, cmd, i, r.Sides[i].SocketType}
			if at, ok := seen[k]; ok {
				f := c.pts[at].Fields
				f[fRecv] = fieldRecvQ.Int(f[fRecv].IntValue() + int64(t.RecvQ))
				f[fSend] = fieldSendQ.Int(f[fSend].IntValue() + int64(t.SendQ))
				f[fNotSent] = fieldNotSent.Int(f[fNotSent].IntValue() + int64(t.NotSent))
				f[fRTT] = fieldRTT.Float(max(f[fRTT].FloatValue(), ms(t.RTT)))
				f[fCwnd] = fieldCwnd.Int(min(f[fCwnd].IntValue(), int64(t.Cwnd)))
				f[fUnacked] = fieldUnacked.Int(f[fUnacked].IntValue() + int64(t.Unacked))
				if f[fPID].IntValue() == 0 {
					f[fPID] = fieldPID.Int(int64(pid))
				}
				f[fConns] = fieldConns.Int(f[fConns].IntValue() + 1)
				continue
			}
			seen[k] = len(c.pts)
			pt := c.point(MeasSocketQueue, end)
			// Tags in key order, as the other points have them.
			pt.Tags = append(pt.Tags, tagClientHost.Of(client), tagCommand.Of(cmd), tagHost.Of(c.host), tagServer.Of(server),
				tagSide.Of([2]string{"client", "server"}[i]), tagSocket.Of(sockName(r.Sides[i].SocketType)))
			pt.AddField(fieldRecvQ.Int(int64(t.RecvQ)))
			pt.AddField(fieldSendQ.Int(int64(t.SendQ)))
			pt.AddField(fieldNotSent.Int(int64(t.NotSent)))
			pt.AddField(fieldRTT.Float(ms(t.RTT)))
			pt.AddField(fieldCwnd.Int(int64(t.Cwnd)))
			pt.AddField(fieldUnacked.Int(int64(t.Unacked)))
			pt.AddField(fieldPID.Int(int64(pid)))
			pt.AddField(fieldConns.Int(1))
		}
	}
	return c.pts
}
