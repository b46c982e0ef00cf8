package session

import (
	"slices"

	"github.com/zspy/zspy/capture"
	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/patterns"
	"github.com/zspy/zspy/report"
	"github.com/zspy/zspy/tracker"
)

// annotator is a capture file source that carries zspy's custom blocks
// (capture.FileSource).
type annotator interface {
	TakeAnnotations() []capture.Annotation
	AnnotationsDropped() uint64
}

// recorded is a replay's host view from the attributions its files carry
// (a pcapng that capture -w wrote with the host view on).
type recorded struct {
	rec  host.Recorded
	view *host.View
	// warned: the drops and bad payloads said so far.
	dropped uint64
	bad     int
}

// annotate writes the host view's attribution to Config.Annotate when its
// ends changed since the last one written (live).
func (s *Session) annotate() {
	h := s.host
	if s.cfg.Annotate == nil || h.view == nil {
		return
	}
	a := h.view.Attribution()
	if slices.Equal(a.Ends, h.annotated) { // none yet, or the same
		return
	}
	h.annotated = a.Ends
	s.cfg.Annotate(a.Encode())
}

// takeRecorded folds the attributions the files read so far carried into
// the replay's recorded view, built for the snapshot's connections.
func (s *Session) takeRecorded(snap *tracker.Snapshot) *host.View {
	var dropped uint64
	for _, src := range s.cfg.Files {
		if a, ok := src.(annotator); ok {
			for _, an := range a.TakeAnnotations() {
				if s.rec == nil {
					s.rec = &recorded{}
				}
				s.rec.rec.Add(an.Payload)
			}
			dropped += a.AnnotationsDropped()
		}
	}
	if s.rec == nil {
		return nil
	}
	if rc := s.rec; dropped > rc.dropped || rc.rec.Bad > rc.bad {
		s.warn("host view recorded in the capture: %d attribution blocks not kept (more than 16 MiB between two intervals), %d unreadable (of %d read): processes may be missing",
			dropped, rc.rec.Bad, rc.rec.Blocks)
		rc.dropped, rc.bad = dropped, rc.rec.Bad
	}
	if s.rec.rec.Empty() {
		return nil
	}
	v := &host.View{Time: s.rec.rec.Latest, Conns: map[uint64]host.Conn{}}
	for _, r := range snap.Records {
		client, server := r.Names()
		if c, ok := s.rec.rec.Conn(client, server); ok {
			v.Conns[r.ID] = c
		}
	}
	s.rec.view = v
	return v
}

// attachRecorded adds a replay's recorded processes to its report.
func (s *Session) attachRecorded(r *report.Report) {
	snap := s.p.Tracker.Snapshot(s.p.LastTS())
	v := s.takeRecorded(snap)
	if v == nil {
		return
	}
	report.AttachHost(r, v)
	r.Host.Recorded = s.rec.rec.Blocks
	report.AttachStages(r, patterns.Find(snap.Records, v))
}

// hostView returns the view the processes come from: the live host view,
// or a replay's recorded one (nil: none).
func (s *Session) hostView(snap *tracker.Snapshot) *host.View {
	if s.host != nil {
		return s.host.view
	}
	if s.live {
		return nil
	}
	return s.takeRecorded(snap)
}
