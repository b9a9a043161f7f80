package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// expandPaths turns the command's PATH arguments into a list of files:
// files are taken as given; directories are walked recursively for files
// whose name ends in one of exts (case-insensitive), in lexical order.
func expandPaths(args []string, exts ...string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", a, unwrapPathErr(err))
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("walking %s: %w", p, unwrapPathErr(err))
			}
			if d.IsDir() {
				return nil
			}
			name := strings.ToLower(d.Name())
			for _, x := range exts {
				if strings.HasSuffix(name, x) {
					out = append(out, p)
					break
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
