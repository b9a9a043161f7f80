package cli

import (
	"strings"
	"testing"
)

// TestTokenCommand creates, lists and revokes tokens in a data directory,
// and never prints a secret except once at creation.
func TestTokenCommand(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "token", "create", "--data-dir", dir, "--role", "analyst", "--name", "alice")
	if code != 0 || !strings.HasPrefix(out, "vgl_") || !strings.Contains(errOut, "role analyst") {
		t.Fatalf("create: %d %q %q", code, out, errOut)
	}
	secret := strings.TrimSpace(out)
	id := strings.Split(secret, "_")[1]
	code, out, _ = runCLI(t, "token", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "alice") || strings.Contains(out, secret) {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, _, errOut = runCLI(t, "token", "revoke", id, "--data-dir", dir); code != 0 {
		t.Fatalf("revoke: %d %s", code, errOut)
	}
	if _, out, _ = runCLI(t, "token", "list", "--data-dir", dir); !strings.Contains(out, "true") {
		t.Errorf("revoked token not shown as revoked: %q", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "create", "--data-dir", dir, "--role", "root"}, "admin, analyst, viewer, ingest"},
		{[]string{"token", "create", "--role", "admin"}, "--data-dir"},
		{[]string{"token", "revoke", "nosuchid", "--data-dir", dir}, "nosuchid"},
		{[]string{"token", "frobnicate", "--data-dir", dir}, "unknown action"},
	} {
		code, _, errOut := runCLI(t, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: %d %q, want it to say %q", c.args, code, errOut, c.want)
		}
	}
}
