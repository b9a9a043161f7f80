package store

import "os"

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

func statMode(path string) (os.FileMode, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Mode().Perm(), nil
}
