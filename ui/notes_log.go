package ui

import "sync"

// NotesLen bounds the notes a Notes keeps (the oldest go first, counted).
const NotesLen = 500

// Notes collects warnings that arise outside the session, on other
// goroutines (a socket-monitor forwarder's malformed event, a refused
// link), for the Warnings view: under the dashboard they cannot go to
// standard error, which the dashboard draws over. It keeps the last NotesLen
// and counts all. Safe for concurrent use; the zero value is ready.
type Notes struct {
	mu    sync.Mutex
	list  []string
	total uint64
}

// Add keeps one note.
func (n *Notes) Add(s string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.total++
	if len(n.list) >= NotesLen {
		n.list = append(n.list[:0:0], n.list[len(n.list)-NotesLen+1:]...)
	}
	n.list = append(n.list, s)
}

// List returns a copy of the notes kept, oldest first, and how many there
// were in all.
func (n *Notes) List() ([]string, uint64) {
	if n == nil {
		return nil, 0
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.list...), n.total
}
