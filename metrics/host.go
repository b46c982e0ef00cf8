package metrics

import (
	"time"

	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/store"
	"github.com/zspy/zspy/tracker"
	"github.com/zspy/zspy/zmtp"
)

// SampleHost adds to the interval's points (call it after Sample, with the
// same snapshot) one zspy_socket_queue point per end of an open ZMTP
// connection that the host view found on this host at its latest sample;
// it returns all the interval's points. Ends the view kept from an earlier
// sample (their sockets are gone) have none.
func (c *Collector) SampleHost(end time.Time, snap *tracker.Snapshot, v *host.View) []store.Point {
	if v == nil {
		return c.pts
	}
	for _, r := range snap.Records {
		if r.Closed || r.Detection != zmtp.IsZMTP {
			continue
		}
		hc, ok := v.Conn(r.ID)
		if !ok || !v.Fresh(hc) {
			continue
		}
		client, server := r.Names()
		for i, t := range hc.Sides {
			if t == nil {
				continue
			}
			cmd, pid := "unknown", 0
			if p := t.First(); p != nil {
				cmd, pid = p.Comm, p.PID
			}
			pt := c.point(MeasSocketQueue, end)
			// Tags in key order, as the other points have them.
			pt.Tags = append(pt.Tags, tagClient.Of(client), tagCommand.Of(cmd), tagHost.Of(c.host), tagServer.Of(server),
				tagSide.Of([2]string{"client", "server"}[i]), tagSocket.Of(sockName(r.Sides[i].SocketType)))
			pt.AddField(fieldRecvQ.Int(int64(t.RecvQ)))
			pt.AddField(fieldSendQ.Int(int64(t.SendQ)))
			pt.AddField(fieldNotSent.Int(int64(t.NotSent)))
			pt.AddField(fieldRTT.Float(ms(t.RTT)))
			pt.AddField(fieldCwnd.Int(int64(t.Cwnd)))
			pt.AddField(fieldUnacked.Int(int64(t.Unacked)))
			pt.AddField(fieldPID.Int(int64(pid)))
		}
	}
	return c.pts
}
