package main

import "github.com/zspy/zspy/tracker"

// portRangeFlag is a LO-HI port range flag (--ephemeral-ports).
type portRangeFlag struct{ r *tracker.PortRange }

func (f portRangeFlag) String() string {
	if f.r == nil || *f.r == (tracker.PortRange{}) {
		return tracker.DefaultEphemeral.String()
	}
	return f.r.String()
}

func (f portRangeFlag) Set(s string) error {
	r, err := tracker.ParsePortRange(s)
	if err != nil {
		return err
	}
	*f.r = r
	return nil
}

func (portRangeFlag) Type() string { return "LO-HI" }

const ephemeralUsage = "the port range clients connect from (Linux: net.ipv4.ip_local_port_range), evidence of which end connected when a capture joined without the SYN"
