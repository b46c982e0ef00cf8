package reassembly

// Add adds o's counters to s: the totals of several assemblers (the
// pipeline's workers). PeakBuffered adds up too, an upper bound of the
// peak of the sum.
func (s *Stats) Add(o Stats) {
	s.AckFlushes += o.AckFlushes
	s.AckWaits += o.AckWaits
	s.AfterClose += o.AfterClose
	s.AfterFIN += o.AfterFIN
	s.Buffered += o.Buffered
	s.CapFlushes += o.CapFlushes
	s.ClosedEnd += o.ClosedEnd
	s.ClosedFIN += o.ClosedFIN
	s.ClosedIdle += o.ClosedIdle
	s.ClosedRST += o.ClosedRST
	s.Connections += o.Connections
	s.DataBytes += o.DataBytes
	s.Evicted += o.Evicted
	s.EvictedForgotten += o.EvictedForgotten
	s.ForgotClosed += o.ForgotClosed
	s.GapBytes += o.GapBytes
	s.Gaps += o.Gaps
	s.LateFills += o.LateFills
	s.Open += o.Open
	s.OutOfOrder += o.OutOfOrder
	s.OutOfWindow += o.OutOfWindow
	s.OverlapDiffs += o.OverlapDiffs
	s.Overlaps += o.Overlaps
	s.PeakBuffered += o.PeakBuffered
	s.Refused += o.Refused
	s.Resumed += o.Resumed
	s.Retransmits += o.Retransmits
	s.Reused += o.Reused
	s.Segments += o.Segments
	s.SnapCutBytes += o.SnapCutBytes
	s.Stray += o.Stray
	s.Unjoined += o.Unjoined
}
