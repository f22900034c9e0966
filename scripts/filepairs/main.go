// filepairs counts, for the non-test Go files of one package directory, the
// file pairs where one file uses a definition (type, func, var, const,
// field, method) of the other: one way, and both ways. It also prints the
// fields and methods of a named type.
//
//	go run ./scripts/filepairs DIR [TYPE]     (from the module root)
//
// For example, go run ./scripts/filepairs ./supervisor Supervisor. Uses are
// resolved by go/types: an identifier in one file whose object (a
// package-level name, a field or a method of the package) is declared in
// another.
package main

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	dir := os.Args[1]
	fset := token.NewFileSet()
	names, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			panic(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check("p", fset, files, info)
	if err != nil {
		panic(err)
	}
	base := func(p token.Pos) string { return filepath.Base(fset.Position(p).Filename) }
	uses := map[[2]string]bool{} // {user, definer}
	for id, obj := range info.Uses {
		if obj == nil || obj.Pkg() != pkg || !obj.Pos().IsValid() {
			continue
		}
		u, d := base(id.Pos()), base(obj.Pos())
		if u != d {
			uses[[2]string{u, d}] = true
		}
	}
	n := len(files)
	oneWay, bothWays := 0, 0
	var both []string
	seen := map[[2]string]bool{}
	for k := range uses {
		a, b := k[0], k[1]
		if a > b {
			a, b = b, a
		}
		if seen[[2]string{a, b}] {
			continue
		}
		seen[[2]string{a, b}] = true
		if uses[[2]string{a, b}] && uses[[2]string{b, a}] {
			bothWays++
			both = append(both, a+" <-> "+b)
		} else {
			oneWay++
		}
	}
	sort.Strings(both)
	fmt.Printf("files %d, possible pairs %d, pairs in use %d (one way %d, both ways %d)\n", n, n*(n-1)/2, oneWay+bothWays, oneWay, bothWays)
	for _, s := range both {
		fmt.Println("  both:", s)
	}
	if len(os.Args) > 2 {
		obj := pkg.Scope().Lookup(os.Args[2])
		named := obj.Type().(*types.Named)
		st := named.Underlying().(*types.Struct)
		fmt.Printf("type %s: %d fields, %d methods\n", os.Args[2], st.NumFields(), named.NumMethods())
		files := map[string]bool{}
		for i := 0; i < named.NumMethods(); i++ {
			files[base(named.Method(i).Pos())] = true
		}
		fmt.Printf("  methods in %d files\n", len(files))
	}
}
