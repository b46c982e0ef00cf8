module github.com/zspy/zspy/testdata/gen

go 1.26.8

require (
	github.com/go-zeromq/zmq4 v0.17.0
	github.com/google/gopacket v1.1.19
)

require (
	github.com/go-zeromq/goczmq/v4 v4.2.2 // indirect
	golang.org/x/net v0.0.0-20190620200207-3b0461eec859 // indirect
	golang.org/x/sync v0.7.0 // indirect
	golang.org/x/sys v0.5.0 // indirect
	golang.org/x/text v0.15.0 // indirect
)
