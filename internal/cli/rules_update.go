package cli

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"time"

	"github.com/vigil-defense/vigil/sigma"
)

// defaultRulesURL is SigmaHQ's release package with every rule folder.
const defaultRulesURL = "https://github.com/SigmaHQ/sigma/releases/latest/download/sigma_all_rules.zip"

// maxRulesZip bounds the download (the full release is a few MB).
const maxRulesZip = 200 << 20

// dataDir returns vigil's data directory: $VIGIL_DATA_DIR, else
// $XDG_DATA_HOME/vigil, else ~/.local/share/vigil.
func dataDir() (string, error) {
	if d := os.Getenv("VIGIL_DATA_DIR"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "vigil"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find a data directory (no $HOME): set VIGIL_DATA_DIR or pass --dir")
	}
	return filepath.Join(home, ".local", "share", "vigil"), nil
}

func runRulesUpdate(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "rules update", "[--dir DIR] [--url URL | --from FILE.zip]")
	dir := fs.String("dir", "", "install the rules in `DIR` (default: <data dir>/rules/sigma)")
	url := fs.String("url", defaultRulesURL, "download the release zip from `URL`")
	from := fs.String("from", "", "install from a release zip already downloaded (`FILE`), for machines without internet access")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up the download after this `duration`")
	if _, err := parseFlags(fs, args); err != nil {
		return flagExit(err)
	}
	if *dir == "" {
		d, err := dataDir()
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil rules update: %v\n", err)
			return exitUsage
		}
		*dir = filepath.Join(d, "rules", "sigma")
	}
	parent := filepath.Dir(*dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		fmt.Fprintf(e.stderr, "vigil rules update: %v\n", err)
		return exitUsage
	}
	zipPath := *from
	if zipPath == "" {
		tmp, err := os.CreateTemp(parent, ".sigma-*.zip")
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil rules update: %v\n", err)
			return exitUsage
		}
		defer os.Remove(tmp.Name())
		fmt.Fprintf(e.stderr, "downloading %s\n", *url)
		n, err := download(ctx, *url, tmp, *timeout)
		tmp.Close()
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil rules update: cannot download the rules: %v\n", err)
			fmt.Fprintln(e.stderr, "The installed rules were left as they were. Check the network, or download the release zip elsewhere and run 'vigil rules update --from FILE.zip'.")
			return exitPartial
		}
		fmt.Fprintf(e.stderr, "downloaded %.1f MB\n", float64(n)/1e6)
		zipPath = tmp.Name()
	}
	staging, err := os.MkdirTemp(parent, ".sigma-new-*")
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil rules update: %v\n", err)
		return exitUsage
	}
	defer os.RemoveAll(staging)
	if err := unzipRules(zipPath, staging); err != nil {
		fmt.Fprintf(e.stderr, "vigil rules update: the release zip is not usable: %v; the installed rules were left as they were\n", err)
		return exitPartial
	}
	set, err := sigma.LoadDir(staging)
	if err != nil || len(set.Files) == 0 {
		fmt.Fprintf(e.stderr, "vigil rules update: the release holds no loadable Sigma rule; the installed rules were left as they were\n")
		return exitPartial
	}
	rules := 0
	for _, f := range set.Files {
		rules += len(f.Rules) + len(f.Correlations) + len(f.Filters)
	}
	added, removed, changed, err := diffTrees(*dir, staging)
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil rules update: comparing with the installed rules: %v\n", err)
		return exitPartial
	}
	// Swap in the new tree: the old one is kept until the new one is in place.
	old := *dir + ".old"
	os.RemoveAll(old)
	hadOld := false
	if _, err := os.Stat(*dir); err == nil {
		if err := os.Rename(*dir, old); err != nil {
			fmt.Fprintf(e.stderr, "vigil rules update: %v\n", err)
			return exitPartial
		}
		hadOld = true
	}
	if err := os.Rename(staging, *dir); err != nil {
		if hadOld {
			os.Rename(old, *dir)
		}
		fmt.Fprintf(e.stderr, "vigil rules update: %v\n", err)
		return exitPartial
	}
	os.RemoveAll(old)
	fmt.Fprintf(e.stdout, "installed %d rules (%d files refused) in %s: %d files added, %d removed, %d changed\n",
		rules, len(set.Refusals), *dir, added, removed, changed)
	fmt.Fprintf(e.stdout, "use them with: vigil hunt --rules %s PATH...\n", *dir)
	return exitOK
}

func download(ctx context.Context, url string, w io.Writer, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "vigil/"+Version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: HTTP %s", url, resp.Status)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, maxRulesZip+1))
	if err == nil && n > maxRulesZip {
		err = fmt.Errorf("%s: larger than %d MB, refusing it", url, maxRulesZip>>20)
	}
	return n, err
}

// unzipRules extracts the YAML files of a release zip into dir, refusing
// entries that would land outside it. Reading an entry checks its CRC-32.
func unzipRules(zipPath, dir string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return err
	}
	defer zr.Close()
	n := 0
	var total int64
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !sigma.IsRuleFile(f.Name) {
			continue
		}
		name := filepath.FromSlash(f.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("entry %q points outside the rules folder", f.Name)
		}
		total += int64(f.UncompressedSize64)
		if total > 4*maxRulesZip {
			return errors.New("uncompressed size is implausibly large")
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := extract(f, dst); err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("no .yml file in the zip")
	}
	return nil
}

func extract(f *zip.File, dst string) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// diffTrees counts rule files added, removed and changed from old to new.
func diffTrees(oldDir, newDir string) (added, removed, changed int, err error) {
	hashes := func(root string) (map[string][32]byte, error) {
		m := map[string][32]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !sigma.IsRuleFile(p) {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			m[rel] = sha256.Sum256(b)
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			return m, nil
		}
		return m, err
	}
	o, err := hashes(oldDir)
	if err != nil {
		return 0, 0, 0, err
	}
	n, err := hashes(newDir)
	if err != nil {
		return 0, 0, 0, err
	}
	for k, h := range n {
		if oh, ok := o[k]; !ok {
			added++
		} else if oh != h {
			changed++
		}
	}
	for k := range o {
		if _, ok := n[k]; !ok {
			removed++
		}
	}
	return added, removed, changed, nil
}
