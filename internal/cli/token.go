package cli

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/vigil-defense/vigil/internal/auth"
	"github.com/vigil-defense/vigil/internal/store"
)

const tokenSynopsis = "create --role admin|analyst|viewer|ingest [--name NAME] | list | revoke ID   (with --data-dir DIR or --db URL)"

// runToken manages API tokens directly in the database: it works whether
// or not the server runs.
func runToken(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "token", tokenSynopsis)
	dataDir := fs.String("data-dir", "", "the server's data `DIR` (env VIGIL_DATA_DIR)")
	dbURL := fs.String("db", "", "database `URL` when the server uses PostgreSQL (env VIGIL_DB)")
	roleName := fs.String("role", "", "role of a new token: admin, analyst, viewer or ingest")
	name := fs.String("name", "", "name of a new token (who or what uses it); default: the role")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) == 0 {
		fmt.Fprintf(e.stderr, "vigil token: say what to do: %s\n", tokenSynopsis)
		return exitUsage
	}
	if *dataDir == "" {
		*dataDir = os.Getenv("VIGIL_DATA_DIR")
	}
	if *dbURL == "" {
		*dbURL = os.Getenv("VIGIL_DB")
	}
	if *dataDir == "" && *dbURL == "" {
		fmt.Fprintln(e.stderr, "vigil token: give --data-dir DIR (the server's) or --db URL")
		return exitUsage
	}
	st, err := store.Open(ctx, *dbURL, *dataDir)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil token: %v\n", err)
		return exitUsage
	}
	defer st.Close()
	switch pos[0] {
	case "create":
		role, err := auth.ParseRole(*roleName)
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil token create: --role: %v\n", err)
			return exitUsage
		}
		if *name == "" {
			*name = string(role)
		}
		secret, t, err := auth.NewToken(*name, role)
		if err == nil {
			err = st.PutToken(ctx, t)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil token create: %v\n", err)
			return exitPartial
		}
		fmt.Fprintln(e.stdout, secret)
		fmt.Fprintf(e.stderr, "token %s (%s, role %s) created; it is shown only now: keep it secret\n", t.ID, t.Name, t.Role)
	case "list":
		toks, err := st.Tokens(ctx)
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil token list: %v\n", err)
			return exitPartial
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tLAST USED\tREVOKED")
		for _, t := range toks {
			last := "-"
			if !t.LastUsed.IsZero() {
				last = t.LastUsed.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", t.ID, t.Name, t.Role, t.Created.UTC().Format(time.RFC3339), last, t.Revoked)
		}
		tw.Flush()
	case "revoke":
		if len(pos) != 2 {
			fmt.Fprintln(e.stderr, "vigil token revoke: give one token ID ('vigil token list' shows them)")
			return exitUsage
		}
		if _, err := st.Token(ctx, pos[1]); err != nil {
			fmt.Fprintf(e.stderr, "vigil token revoke: %v\n", err)
			return exitUsage
		}
		if err := st.RevokeToken(ctx, pos[1]); err != nil {
			fmt.Fprintf(e.stderr, "vigil token revoke: %v\n", err)
			return exitPartial
		}
		fmt.Fprintf(e.stderr, "token %s revoked (servers stop accepting it within a minute)\n", pos[1])
	default:
		fmt.Fprintf(e.stderr, "vigil token: unknown action %q: %s\n", pos[0], tokenSynopsis)
		return exitUsage
	}
	return exitOK
}
