// Command registry runs the CNCF distribution registry (github.com/distribution/distribution/v3),
// pinned by go.mod, with only the filesystem storage driver linked in: the local stack keeps
// module artifacts on disk, and the cloud drivers would triple the build for nothing.
package main

import (
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"

	"github.com/distribution/distribution/v3/registry"
)

func main() {
	// the same entry point as the upstream cmd/registry: "serve CONFIG", "garbage-collect CONFIG"
	if err := registry.RootCmd.Execute(); err != nil {
		panic(err)
	}
}
