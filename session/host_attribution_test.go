package session

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/host"
)

// fakeHost hands out the samples a test made, in order.
type fakeHost struct{ samples []*host.Sample }

func (f *fakeHost) Sample(time.Time) (*host.Sample, error) {
	s := f.samples[0]
	f.samples = f.samples[1:]
	return s, nil
}
func (f *fakeHost) Invalidate()            {}
func (f *fakeHost) Track([]host.ConnAddrs) {}
func (f *fakeHost) Refresh()               {}
func (f *fakeHost) Stats() host.Stats      { return host.Stats{} }

// The attribution of a connection's ends from samples: an end no process
// holds stays unknown; a closed connection keeps the processes it was seen
// with when a new socket reuses its ports, and keeps them (not fresh) once
// its sockets are gone. The records are a real capture's (reqrep); the
// samples are made by hand, since port reuse cannot be had on demand.
func TestHostAttribution(t *testing.T) {
	src, err := capture.OpenFile(filepath.Join(corpus, "reqrep", "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := New(Config{Files: []capture.Source{src}})
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap := s.p.Tracker.Snapshot(s.p.LastTS())
	r := snap.Records[0]
	if !r.Closed {
		t.Fatalf("record %d is open; the test needs a closed one", r.ID)
	}
	req := &host.Process{PID: 10, Comm: "req"}
	reuser := &host.Process{PID: 20, Comm: "reuser"}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// sock is this host's socket of r's client or server end.
	sock := func(end string, p *host.Process) host.TCPSocket {
		ts := host.TCPSocket{State: 1, Inode: 7, RecvQ: 5}
		ts.Local, ts.Remote = r.Client, r.Server
		if end == "server" {
			ts.Local, ts.Remote = r.Server, r.Client
		}
		if p != nil {
			ts.Procs = []*host.Process{p}
		}
		return ts
	}
	f := &fakeHost{samples: []*host.Sample{
		host.NewSample(t0, []host.TCPSocket{sock("client", req), sock("server", nil)}, nil),
		host.NewSample(t0.Add(time.Second), []host.TCPSocket{sock("client", reuser)}, nil),
		host.NewSample(t0.Add(2*time.Second), nil, nil),
	}}
	s.host = &hostState{src: f, kick: make(chan struct{}, 1)}
	apply := func() host.Conn {
		t.Helper()
		smp, err := f.Sample(time.Time{})
		s.applyHost(hostSample{at: smp.Time, smp: smp, err: err}, snap)
		c, ok := s.host.view.Conn(r.ID)
		if !ok {
			t.Fatalf("connection %d not in the view", r.ID)
		}
		return c
	}
	c := apply()
	if p := c.Sides[0].First(); p != req || c.Sides[1] == nil || c.Sides[1].Known() || !s.host.view.Fresh(c) {
		t.Fatalf("first sample: client %+v, server %+v", c.Sides[0], c.Sides[1])
	}
	if c = apply(); c.Sides[0].First() != req || s.host.view.Fresh(c) {
		t.Fatalf("ports reused: client %+v (fresh %v), want the closed connection's own process", c.Sides[0].First(), s.host.view.Fresh(c))
	}
	if c = apply(); c.Sides[0].First() != req || !c.Seen.Equal(t0) || s.host.view.Fresh(c) {
		t.Fatalf("sockets gone: %+v seen %v", c.Sides[0].First(), c.Seen)
	}
}
