package main

// Usage of the flags that bound connection tracking, shared by replay and
// capture (README, "Connection lifetime").
const (
	idleUsage       = "close connection attempts never established (SYN unanswered), half-closed flows and closed connections' tombstones after this much silence (packet time); an established connection lives until FIN or RST however quiet"
	maxConnsUsage   = "connections tracked at once (memory: about 5.6 KiB each when quiet); past it the oldest not established (tombstones, unanswered SYNs), else the established one whose last packet is oldest, is evicted, counted, and its traffic, if it comes back, continues it where the sequence numbers allow"
	keepClosedUsage = "closed connections kept for the report and dashboard (oldest dropped first, counted and added up in stats.lifetime.summarised; 0: all)"
)
