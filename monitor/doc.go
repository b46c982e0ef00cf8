// Package monitor subscribes to libzmq socket-monitor events that applications
// forward over tcp:// or ipc://, and decodes the v1 and v2 event formats.
package monitor
