package procexec

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyProcexecImportsOsExec: every process of ringsup, health checks and
// hooks included, is started here, so that Reap is the only waiter.
func TestOnlyProcexecImportsOsExec(t *testing.T) {
	fset := token.NewFileSet()
	for _, path := range goFilesOutside(t, false) {
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "os/exec" {
				t.Errorf("%s imports os/exec; start processes with procexec instead", rel(t, path))
			}
		}
	}
}

// goFilesOutside lists the Go files of the module outside procexec (and
// testdata, vendor, hidden directories); with ringsupOnly, only the
// non-test files outside scripts/ and internal/etcdtest, the files of
// ringsup itself.
func goFilesOutside(t *testing.T, ringsupOnly bool) []string {
	t.Helper()
	root := moduleRoot(t)
	own, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path == own || name == "testdata" || name == "vendor" ||
				(ringsupOnly && path == filepath.Join(root, "scripts")) ||
				(ringsupOnly && path == filepath.Join(root, "internal", "etcdtest")) ||
				(path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !(ringsupOnly && strings.HasSuffix(path, "_test.go")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// rel is path relative to the module root.
func rel(t *testing.T, path string) string {
	r, err := filepath.Rel(moduleRoot(t), path)
	if err != nil {
		return path
	}
	return r
}

// moduleRoot is the directory of the go.mod above the package.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package")
		}
		dir = parent
	}
}

// forkWait are the calls that start or wait for a process without os/exec.
var forkWait = map[string][]string{
	"syscall": {"ForkExec", "StartProcess", "Wait4", "RawSyscall", "RawSyscall6"},
	"unix":    {"Wait4", "Waitid", "RawSyscall", "RawSyscall6"},
	"os":      {"StartProcess"},
}

// TestOnlyProcexecForksAndWaits: beside os/exec, nothing of ringsup but
// procexec forks or waits for a process, so that Reap is the only waiter
// and no exit is taken from under it. Tests (which fork a floor to compare
// with, or themselves as a helper), the benchmark harness in scripts/ (a
// program of its own) and internal/etcdtest (which only tests import: it
// starts the etcd members of the cluster tests) are not ringsup.
func TestOnlyProcexecForksAndWaits(t *testing.T) {
	fset := token.NewFileSet()
	for _, path := range goFilesOutside(t, true) {
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && slices.Contains(forkWait[x.Name], sel.Sel.Name) {
				t.Errorf("%s:%d: %s.%s; start and reap processes with procexec instead",
					rel(t, path), fset.Position(sel.Pos()).Line, x.Name, sel.Sel.Name)
			}
			return true
		})
	}
}
