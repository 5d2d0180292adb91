package chat

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// TestUserErrorsListsEverySentinel keeps UserErrors in step with the
// sentinels declared in errors.go, so that the UI (which shows only known
// chat errors) knows every one of them.
func TestUserErrorsListsEverySentinel(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, sp := range g.Specs {
			for _, n := range sp.(*ast.ValueSpec).Names {
				if strings.HasPrefix(n.Name, "Err") {
					names = append(names, n.Name)
				}
			}
		}
	}
	list := UserErrors()
	if len(list) != len(names) {
		t.Fatalf("errors.go declares %d sentinels %v; UserErrors lists %d", len(names), names, len(list))
	}
	seen := map[error]bool{}
	for _, e := range list {
		if e == nil || seen[e] {
			t.Fatalf("UserErrors has a nil or repeated entry %v", e)
		}
		seen[e] = true
	}
}
