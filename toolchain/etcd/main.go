// Command etcd runs the etcd server from go.etcd.io/etcd/server/v3, pinned by go.mod.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
