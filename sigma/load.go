package sigma

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Refusal records a file that could not be loaded and why. Err is an
// ErrorList for parse errors, or the I/O error.
type Refusal struct {
	Path string
	Err  error
}

func (r Refusal) Error() string {
	if _, ok := r.Err.(ErrorList); ok {
		return r.Err.Error() // already positioned with the path
	}
	return fmt.Sprintf("%s: %v", r.Path, r.Err)
}

// Set is what a directory walk loaded: every file that parsed cleanly, and
// a refusal for every file that did not.
type Set struct {
	Files    []*File
	Refusals []Refusal
}

// Rules returns every detection rule of the set, in file order.
func (s *Set) Rules() []*Rule {
	var out []*Rule
	for _, f := range s.Files {
		out = append(out, f.Rules...)
	}
	return out
}

// Correlations returns every correlation rule of the set, in file order.
func (s *Set) Correlations() []*Correlation {
	var out []*Correlation
	for _, f := range s.Files {
		out = append(out, f.Correlations...)
	}
	return out
}

// Filters returns every filter rule of the set, in file order.
func (s *Set) Filters() []*Filter {
	var out []*Filter
	for _, f := range s.Files {
		out = append(out, f.Filters...)
	}
	return out
}

// IsRuleFile reports whether a path names a Sigma YAML file (.yml or .yaml).
func IsRuleFile(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".yml" || ext == ".yaml"
}

// LoadDir walks root (a directory or a single file) and parses every .yml
// and .yaml file, in lexical order. A file with any error is refused as a
// whole; a bad file never stops the walk. The returned error is non-nil
// only if root itself cannot be walked.
func LoadDir(root string) (*Set, error) {
	if st, err := os.Stat(root); err == nil && !st.IsDir() {
		// A single file: walk just it, from its folder.
		dir := filepath.Dir(root)
		return LoadFS(os.DirFS(dir), filepath.Base(root), dir)
	}
	return LoadFS(os.DirFS(root), ".", root)
}

// LoadFS is LoadDir over a file system: it walks dir in fsys and reports
// paths joined to prefix.
func LoadFS(fsys fs.FS, dir, prefix string) (*Set, error) {
	// Walk first (in lexical order), then parse the files on every CPU and
	// assemble the results in walk order, so the set is the same whatever
	// the parallelism.
	type item struct {
		display string
		path    string
		file    *File
		err     error
	}
	var items []*item
	err := fs.WalkDir(fsys, dir, func(p string, de fs.DirEntry, err error) error {
		display := filepath.Join(prefix, filepath.FromSlash(p))
		if err != nil {
			if p == dir {
				return err
			}
			items = append(items, &item{display: display, err: err})
			if de != nil && de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if de.IsDir() || !IsRuleFile(p) {
			return nil
		}
		items = append(items, &item{display: display, path: p})
		return nil
	})
	set := &Set{}
	if err != nil {
		return set, fmt.Errorf("load sigma rules from %s: %w", prefix, err)
	}
	next := make(chan *item)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				data, err := fs.ReadFile(fsys, it.path)
				if err != nil {
					it.err = err
					continue
				}
				it.file, it.err = ParseFile(it.display, data)
			}
		}()
	}
	for _, it := range items {
		if it.err == nil {
			next <- it
		}
	}
	close(next)
	wg.Wait()
	for _, it := range items {
		if it.err != nil {
			set.Refusals = append(set.Refusals, Refusal{Path: it.display, Err: it.err})
			continue
		}
		set.Files = append(set.Files, it.file)
	}
	return set, nil
}
