package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/zspy/zspy/host"
	"github.com/zspy/zspy/session"
)

// hostFlags configure capture's host view: the processes and kernel socket
// queues of the connections' ends on this host, and its ipc:// endpoints.
type hostFlags struct {
	off bool
	ipc []string
}

func (f *hostFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&f.off, "no-host", false, "no host view (processes, kernel socket queues, ipc:// endpoints of this host)")
	fl.StringArrayVar(&f.ipc, "ipc", nil, "also list Unix-socket endpoints whose path matches this pattern (repeatable; e.g. '/tmp/*.ipc')")
}

// apply opens the host view into cfg (before privileges are dropped); it
// returns the source for the caller to close, nil when there is none. A
// host view that cannot open is a warning: capture goes on without it.
func (f *hostFlags) apply(cfg *session.Config) *host.Source {
	if f.off {
		return nil
	}
	hs, err := host.New(host.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "zspy: warning: no host view:", err)
		return nil
	}
	cfg.Host, cfg.HostUnixPaths = hs, f.ipc
	return hs
}
