// Command vigil is the single binary of the vigil cyber defense platform.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigil-defense/vigil/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
