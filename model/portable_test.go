package model

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestQueriesAreValidOnPostgreSQLToo checks the package's SQL for
// constructs SQLite accepts and PostgreSQL refuses, so that the same
// queries can run on both: the two-argument max()/min() (PostgreSQL's
// are GREATEST/LEAST), a subquery in FROM without an alias, SQLite's
// INSERT OR ... and REPLACE INTO, its date and string functions, rowid,
// and Result.LastInsertId (not supported by the PostgreSQL drivers; use
// RETURNING id, which SQLite has too). Every string constant of the
// package (concatenations of constants included) is checked, and the
// queries built by functions. sqlite.go, which opens SQLite, is exempt.
func TestQueriesAreValidOnPostgreSQLToo(t *testing.T) {
	queries, srcs := packageQueries(t)
	for _, n := range []int{0, 2} {
		queries["historySQL("+strconv.Itoa(n)+")"] = historySQL(n)
		queries["unreadSQL("+strconv.Itoa(n)+")"] = unreadSQL(n)
		queries["mentionSQL("+strconv.Itoa(n)+")"] = mentionSQL(n)
	}
	checked := 0
	for name, q := range queries {
		if !looksLikeSQL(q) {
			continue
		}
		checked++
		for _, p := range sqliteOnly(q) {
			t.Errorf("%s: %s in %q", name, p, oneLine(q))
		}
	}
	if checked < 30 {
		t.Fatalf("checked only %d queries; the scan of the package is broken", checked)
	}
	for file, src := range srcs {
		if strings.Contains(src, ".LastInsertId()") {
			t.Errorf("%s: Result.LastInsertId is not supported on PostgreSQL; use INSERT ... RETURNING id", file)
		}
	}
}

func TestSQLiteOnlyConstructsAreFound(t *testing.T) {
	bad := []string{
		`UPDATE t SET a = max(t.a, excluded.a)`,
		`SELECT min(a, 3) FROM t`,
		`SELECT count(*) FROM (SELECT 1 FROM t LIMIT 5)`,
		`SELECT a FROM (SELECT a FROM t) ORDER BY a`,
		`INSERT OR IGNORE INTO t (a) VALUES (1)`,
		`REPLACE INTO t (a) VALUES (1)`,
		`SELECT datetime('now')`,
		`SELECT ifnull(a, 0) FROM t`,
		`SELECT rowid FROM t`,
	}
	for _, q := range bad {
		if len(sqliteOnly(q)) == 0 {
			t.Errorf("not found in %q", q)
		}
	}
	good := []string{
		`SELECT coalesce(max(id), 0) + 1 FROM rooms`,
		`SELECT count(*) FROM (SELECT 1 FROM t LIMIT 5) AS n`,
		`SELECT a FROM (SELECT a FROM t) sub ORDER BY a`,
		`SELECT EXISTS (SELECT 1 FROM t WHERE a IN (SELECT b FROM u))`,
		`UPDATE t SET a = CASE WHEN excluded.a > t.a THEN excluded.a ELSE t.a END`,
	}
	for _, q := range good {
		if p := sqliteOnly(q); len(p) != 0 {
			t.Errorf("%q: %v", q, p)
		}
	}
}

var (
	sqliteFuncs = regexp.MustCompile(`(?i)\b(datetime|strftime|julianday|unixepoch|ifnull|iif|group_concat|instr|printf|total_changes|changes|last_insert_rowid)\s*\(`)
	sqliteWords = regexp.MustCompile(`(?i)\bINSERT\s+OR\b|^\s*REPLACE\s+INTO\b|\browid\b|\bAUTOINCREMENT\b|\bGLOB\b`)
	minMax      = regexp.MustCompile(`(?i)\b(max|min)\s*\(`)
	fromParen   = regexp.MustCompile(`(?i)\bFROM\s*\(`)
	aliasAfter  = regexp.MustCompile(`(?i)^\s*(AS\s+)?([a-z_][a-z0-9_]*)`)
	clauseWord  = regexp.MustCompile(`(?i)^(ORDER|WHERE|GROUP|LIMIT|UNION|HAVING|ON|JOIN|LEFT|INNER|CROSS)$`)
	sqlStart    = regexp.MustCompile(`(?i)^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|WITH)\b`)
)

// sqliteOnly lists the constructs of q that PostgreSQL refuses.
func sqliteOnly(q string) []string {
	var out []string
	if m := sqliteFuncs.FindString(q); m != "" {
		out = append(out, "SQLite function "+m)
	}
	if m := sqliteWords.FindString(q); m != "" {
		out = append(out, "SQLite syntax "+strings.TrimSpace(m))
	}
	for _, loc := range minMax.FindAllStringIndex(q, -1) {
		args, _ := parenBody(q, loc[1]-1)
		if topLevelComma(args) {
			out = append(out, "two-argument "+q[loc[0]:loc[1]-1]+"() (PostgreSQL: GREATEST/LEAST, or CASE)")
		}
	}
	for _, loc := range fromParen.FindAllStringIndex(q, -1) {
		_, end := parenBody(q, loc[1]-1)
		m := aliasAfter.FindStringSubmatch(q[end:])
		if m == nil || m[1] == "" && clauseWord.MatchString(m[2]) {
			out = append(out, "subquery in FROM without an alias")
		}
	}
	return out
}

// parenBody returns what is between the parenthesis at open and its match,
// and the index after the match.
func parenBody(q string, open int) (string, int) {
	depth := 0
	for i := open; i < len(q); i++ {
		switch q[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return q[open+1 : i], i + 1
			}
		}
	}
	return q[open+1:], len(q)
}

func topLevelComma(s string) bool {
	depth := 0
	for _, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				return true
			}
		}
	}
	return false
}

func looksLikeSQL(s string) bool { return sqlStart.MatchString(s) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// packageQueries evaluates every string constant of the package's
// non-test files (but sqlite.go) that is a literal or a concatenation of
// literals and such constants, and returns them by name with the files'
// text.
func packageQueries(t *testing.T) (map[string]string, map[string]string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	exprs := map[string]ast.Expr{}
	srcs := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "sqlite.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[f] = string(b)
		af, err := parser.ParseFile(fset, f, b, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					exprs[name.Name] = vs.Values[i]
				}
			}
			return true
		})
	}
	var eval func(e ast.Expr, depth int) (string, bool)
	eval = func(e ast.Expr, depth int) (string, bool) {
		if depth > 20 {
			return "", false
		}
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		case *ast.Ident:
			x, ok := exprs[e.Name]
			if !ok {
				return "", false
			}
			return eval(x, depth+1)
		case *ast.BinaryExpr:
			if e.Op != token.ADD {
				return "", false
			}
			a, ok1 := eval(e.X, depth+1)
			b, ok2 := eval(e.Y, depth+1)
			return a + b, ok1 && ok2
		case *ast.ParenExpr:
			return eval(e.X, depth+1)
		}
		return "", false
	}
	out := map[string]string{}
	for name, e := range exprs {
		if s, ok := eval(e, 0); ok {
			out[name] = s
		}
	}
	return out, srcs
}

// TestQueriesPrepareOnPostgreSQL has PostgreSQL parse and plan every
// query of the package (as TestQueriesAreValidOnPostgreSQLToo collects
// them, and the built ones) against the migrated schema: a query that no
// test of the suite runs is checked too.
func TestQueriesPrepareOnPostgreSQL(t *testing.T) {
	d, _ := openOn(t, "postgres")
	queries, _ := packageQueries(t)
	for _, n := range []int{0, 2} {
		queries["historySQL("+strconv.Itoa(n)+")"] = historySQL(n)
		queries["historyAfterSQL("+strconv.Itoa(n)+")"] = historyAfterSQL(n)
		queries["unreadSQL("+strconv.Itoa(n)+")"] = unreadSQL(n)
		queries["mentionSQL("+strconv.Itoa(n)+")"] = mentionSQL(n)
		queries["searchSQLPostgres(2, "+strconv.Itoa(n)+")"] = searchSQLPostgres(2, n)
	}
	queries["valuesSQL(messages, 3)"] = valuesSQL(qInsertMessageHead, qInsertMessageRow, 3) + ` RETURNING id`
	queries["valuesSQL(deliveries, 3)"] = valuesSQL(qInsertPendingHead, qInsertPendingRow, 3)
	queries["valuesSQL(mentions, 3)"] = valuesSQL(qInsertMentionHead, qInsertMentionRow, 3)
	dml := regexp.MustCompile(`(?i)^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b`)
	checked := 0
	for name, q := range queries {
		if !dml.MatchString(q) {
			continue
		}
		if strings.HasSuffix(strings.TrimSpace(q), "IN (") {
			q += "?, ?)" // a prefix completed at run time (prune)
		}
		if strings.HasSuffix(strings.TrimSpace(q), "VALUES") {
			continue // a head of valuesSQL, prepared in full below
		}
		checked++
		stmt, err := d.rdb.PrepareContext(context.Background(), q)
		if err != nil {
			t.Errorf("%s: %v in %q", name, err, oneLine(q))
			continue
		}
		_ = stmt.Close()
	}
	if checked < 30 {
		t.Fatalf("prepared only %d queries", checked)
	}
}
