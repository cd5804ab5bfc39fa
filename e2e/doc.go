// Package e2e holds the end-to-end tests of docker-mlist: the real docker
// CLI runs the freshly built plugin against throwaway docker-registry
// processes. Run them with `make e2e`; the helpers live in the test files
// and in e2e/internal/harness.
package e2e
