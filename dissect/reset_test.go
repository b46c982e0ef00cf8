package dissect

import (
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/zspy/zspy/zmtp"
)

// TestMain makes every test and fuzz target of the package check reset's
// partial clearing of a frame after a frame: the Event must be what the
// full reset makes, so that no field a frame sets leaks into the next.
func TestMain(m *testing.M) {
	checkFrameReset = func(e *Event) {
		want := Event{Kind: KindFrame, Dir: e.Dir, TS: e.TS, Offset: e.Offset, SocketType: zmtp.SocketUnknown, Props: e.Props[:0]}
		if !reflect.DeepEqual(*e, want) {
			panic(fmt.Sprintf("frame reset left %+v, want %+v", *e, want))
		}
	}
	os.Exit(m.Run())
}

// TestFrameResetChecked: the check above runs, and fails on a field that a
// partial reset does not clear.
func TestFrameResetChecked(t *testing.T) {
	var h counter
	c := NewConn(&h, Options{}, true)
	e := c.reset(zmtp.ClientToServer, KindFrame, time.Unix(1, 0), 0)
	e.Size, e.Curve, e.Err = 9, true, ErrBadCommand
	c.reset(zmtp.ServerToClient, KindFrame, time.Unix(1, 0), 5) // cleared: no panic
	e.MechName = []byte("x")                                    // a field no frame sets
	defer func() {
		if recover() == nil {
			t.Error("a field left over from the previous frame went unnoticed")
		}
	}()
	c.reset(zmtp.ClientToServer, KindFrame, time.Unix(1, 0), 9)
}
