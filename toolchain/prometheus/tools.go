//go:build tools

// Package tools pins Prometheus's server for `go build`.
package tools

import _ "github.com/prometheus/prometheus/cmd/prometheus"
