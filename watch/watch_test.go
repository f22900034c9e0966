package watch

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

const debounce = 30 * time.Millisecond

// start watches dir/ringsup.toml, created with content "a = 1".
func start(t *testing.T) (string, *Watcher) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "ringsup.toml")
	write(t, path, "a = 1\n")
	w, err := New(path, Options{Debounce: debounce})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return path, w
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantChanges checks that exactly n changes are reported: it waits for each,
// then for a quiet period long enough for a stray second report to show.
func wantChanges(t *testing.T, w *Watcher, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-w.Changes():
		case <-time.After(5 * time.Second):
			t.Fatalf("change %d of %d not reported", i+1, n)
		}
	}
	select {
	case <-w.Changes():
		t.Fatalf("more than %d changes reported", n)
	case <-time.After(10 * debounce):
	}
}

func TestSavePatterns(t *testing.T) {
	for name, save := range map[string]func(t *testing.T, path string){
		"write in place": func(t *testing.T, path string) { write(t, path, "a = 2\n") },
		"rename over (editor)": func(t *testing.T, path string) {
			tmp := filepath.Join(filepath.Dir(path), ".ringsup.toml.swp")
			write(t, tmp, "a = 2\n")
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		},
		"truncate then write": func(t *testing.T, path string) {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * debounce) // the empty file is seen and ignored
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("a = 2\n")
			f.Close()
		},
		"delete and recreate": func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * debounce) // the missing file is seen and ignored
			write(t, path, "a = 2\n")
		},
		"burst of writes": func(t *testing.T, path string) {
			for i := range 20 {
				write(t, path, "a = "+string(rune('a'+i))+"\n")
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			path, w := start(t)
			save(t, path)
			wantChanges(t, w, 1)
		})
	}
}

func TestSameContentIsNoChange(t *testing.T) {
	path, w := start(t)
	write(t, path, "a = 1\n")
	os.Chtimes(path, time.Now(), time.Now())
	wantChanges(t, w, 0)
	write(t, path, "a = 3\n")
	wantChanges(t, w, 1)
}

// TestConfigMapSwap does what the kubelet does to a mounted ConfigMap:
// ringsup.toml -> ..data/ringsup.toml, ..data -> ..2026_1, and an update
// creates ..2026_2 and renames a new ..data symlink over the old one.
func TestConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	mustMkdir := func(p string) {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustSymlink := func(old, new string) {
		if err := os.Symlink(old, new); err != nil {
			t.Fatal(err)
		}
	}
	mustMkdir(filepath.Join(dir, "..2026_1"))
	write(t, filepath.Join(dir, "..2026_1", "ringsup.toml"), "a = 1\n")
	mustSymlink("..2026_1", filepath.Join(dir, "..data"))
	mustSymlink("..data/ringsup.toml", filepath.Join(dir, "ringsup.toml"))
	w, err := New(filepath.Join(dir, "ringsup.toml"), Options{Debounce: debounce})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	for i, next := range []string{"..2026_2", "..2026_3"} {
		mustMkdir(filepath.Join(dir, next))
		write(t, filepath.Join(dir, next, "ringsup.toml"), "a = "+string(rune('2'+i))+"\n")
		mustSymlink(next, filepath.Join(dir, "..data_tmp"))
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		wantChanges(t, w, 1)
	}
}

func TestDeletedFileKeepsQuiet(t *testing.T) {
	path, w := start(t)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	wantChanges(t, w, 0)
}

// TestAnyContent: an env file's removal, reappearance and emptying are
// changes, where a config file's are not.
func TestAnyContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.env")
	write(t, path, "A=1\n")
	w, err := New(path, Options{Debounce: debounce, AnyContent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write(t, path, "")
	wantChanges(t, w, 1)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	wantChanges(t, w, 1)
	write(t, path, "A=2\n")
	wantChanges(t, w, 1)
	write(t, path, "A=2\n")
	wantChanges(t, w, 0)
}

// TestAnyContentFromEmptyOrMissing: an env file empty or missing when the
// watch starts has that state as its baseline: an empty file written again
// is no change, content is one, and so is a missing file appearing empty.
func TestAnyContentFromEmptyOrMissing(t *testing.T) {
	dir := t.TempDir()
	empty, missing := filepath.Join(dir, "empty.env"), filepath.Join(dir, "missing.env")
	write(t, empty, "")
	we, err := New(empty, Options{Debounce: debounce, AnyContent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer we.Close()
	wm, err := New(missing, Options{Debounce: debounce, AnyContent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer wm.Close()

	write(t, empty, "")
	wantChanges(t, we, 0)
	write(t, empty, "A=1\n")
	wantChanges(t, we, 1)

	write(t, missing, "")
	wantChanges(t, wm, 1)
	if err := os.Remove(missing); err != nil {
		t.Fatal(err)
	}
	wantChanges(t, wm, 1)
}
