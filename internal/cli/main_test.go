package cli

import (
	"context"
	"os"
	"testing"
)

// TestMain lets a test run the test binary as the vigil command: with
// VIGIL_TEST_RUN_CLI=1 the process is "vigil" with the given arguments
// (used to kill and restart real server processes).
func TestMain(m *testing.M) {
	if os.Getenv("VIGIL_TEST_RUN_CLI") == "1" {
		os.Exit(Run(context.Background(), append([]string{"vigil"}, os.Args[1:]...), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
