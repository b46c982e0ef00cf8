// Package store writes zspy's time series to InfluxDB, or keeps them locally
// (line-protocol files and an in-memory window) when no InfluxDB is configured.
package store
