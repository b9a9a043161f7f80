package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/vigil-defense/vigil/sigma"
)

// Exit statuses.
const (
	exitOK      = 0
	exitPartial = 1 // ran, but some input could not be read
	exitUsage   = 2
)

// Version is vigil's version, set at build time with
// -ldflags "-X github.com/vigil-defense/vigil/internal/cli.Version=...".
var Version = "dev"

// env carries the streams of one invocation.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

func commands() []command {
	return []command{
		{"hunt", "scan logs with Sigma rules and report detections", runHunt},
		{"dump", "decode EVTX files to JSON lines, JSON or XML", runDump},
		{"rules", "check, test and update Sigma rules", runRules},
		{"intel", "look up values in threat intelligence feeds", runIntel},
		{"serve", "run continuous detection: ingest, detect, store, API", runServe},
		{"token", "create, list and revoke API tokens of a server", runToken},
		{"version", "print vigil's version", runVersion},
	}
}

// Run executes vigil with args (args[0] is the program name) and returns the
// process exit status.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) < 2 {
		usage(stderr)
		return exitUsage
	}
	name := args[1]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, e, args[2:])
		}
	}
	fmt.Fprintf(stderr, "vigil: unknown command %q%s\n", name, suggest(name))
	fmt.Fprintln(stderr, "Run 'vigil help' for the list of commands.")
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "vigil: AI-powered cyber defense for small organisations.")
	fmt.Fprintln(w, "\nUsage: vigil COMMAND [flags] [arguments]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'vigil COMMAND -h' for the flags of a command.")
}

func suggest(name string) string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	best, ok := sigma.Nearest(name, names)
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// parseFlags parses flags that may appear before, between or after the
// positional arguments, and returns the positional arguments. An argument
// "--" ends flag parsing.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a flag set that reports errors to e.stderr with the
// command's usage.
func newFlagSet(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: vigil %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

func runVersion(_ context.Context, e *env, args []string) int {
	fmt.Fprintf(e.stdout, "vigil %s\n", Version)
	return exitOK
}

// oneOf checks an enumerated flag value.
func oneOf(flagName, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("--%s %q is not one of %s", flagName, v, strings.Join(allowed, ", "))
}

// subcommand is one action of a command with actions (vigil rules check).
type subcommand struct {
	name, summary string
	run           func(ctx context.Context, e *env, args []string) int
}

// dispatch runs the action named by args[0], or prints the actions.
func dispatch(ctx context.Context, e *env, command, synopsis string, subs []subcommand, args []string) int {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	if len(args) == 0 {
		fmt.Fprintf(e.stderr, "Usage: vigil %s %s [flags] %s\n", command, strings.Join(names, "|"), synopsis)
		for _, s := range subs {
			fmt.Fprintf(e.stderr, "  %-7s %s\n", s.name, s.summary)
		}
		return exitUsage
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, e, args[1:])
		}
	}
	last := len(names) - 1
	fmt.Fprintf(e.stderr, "vigil %s: unknown subcommand %q: use %s or %s\n", command, args[0], strings.Join(names[:last], ", "), names[last])
	return exitUsage
}
