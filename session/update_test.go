package session

import "testing"

func TestLatestWins(t *testing.T) {
	l := NewLatest()
	for i := range 5 {
		l.SessionUpdate(&Update{Warnings: uint64(i)})
	}
	u := <-l.C
	if u.Warnings != 4 || l.skipped.Load() != 4 || u.Skipped != 4 {
		t.Errorf("got update %d with %d skipped (counter %d), want the last and 4", u.Warnings, u.Skipped, l.skipped.Load())
	}
	select {
	case u := <-l.C:
		t.Errorf("a second update %d was queued", u.Warnings)
	default:
	}
}
