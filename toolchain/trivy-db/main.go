// Command trivy-db-fixtures writes Trivy's vulnerability database (a BoltDB file) from YAML
// fixtures in the format of Trivy's own tests (github.com/aquasecurity/bolt-fixtures), so the
// local stack scans for vulnerabilities fully offline, from advisories kept in the repository.
package main

import (
	"fmt"
	"os"

	fixtures "github.com/aquasecurity/bolt-fixtures"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: trivy-db-fixtures OUT/trivy.db FIXTURE.yaml...")
		os.Exit(2)
	}
	loader, err := fixtures.New(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "trivy-db-fixtures:", err)
		os.Exit(1)
	}
	if err := loader.Load(); err != nil {
		fmt.Fprintln(os.Stderr, "trivy-db-fixtures:", err)
		os.Exit(1)
	}
	if err := loader.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "trivy-db-fixtures:", err)
		os.Exit(1)
	}
}
