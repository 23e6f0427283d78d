package roster_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowedImports is the "Architecture" section of README.md: for each
// package, the Roster packages it may import. A new package, or a new
// dependency between packages, goes into both.
var allowedImports = map[string][]string{
	".":                   {},
	"api":                 {},
	"password":            {},
	"sqlstore":            {"."},
	"sqlite":              {".", "sqlstore"},
	"postgres":            {".", "sqlstore"},
	"postgres/pgtest":     {},
	"storetest":           {".", "internal/race"},
	"stream":              {"."},
	"scim":                {"."},
	"httpapi":             {".", "api", "console", "password", "scim", "stream"},
	"console":             {},
	"webhook":             {"."},
	"natsbus":             {"."},
	"oidc":                {"."},
	"app":                 {".", "httpapi", "natsbus", "oidc", "postgres", "sqlstore", "stream", "webhook"},
	"client":              {},
	"cmd/roster":          {".", "app", "httpapi", "password", "postgres", "sqlite", "sqlstore", "stream", "webhook"},
	"cmd/roster-bench":    {".", "postgres", "sqlite", "sqlstore"},
	"internal/clienttest": {},
	"internal/idptest":    {},
	"internal/race":       {},
	"internal/rostertest": {".", "app", "httpapi", "password", "postgres", "postgres/pgtest", "sqlite", "sqlstore", "stream"},
}

// TestArchitecture holds the packages' imports (not their tests') to the
// README's Architecture section, with `go list`.
func TestArchitecture(t *testing.T) {
	const module = "github.com/rosterhq/roster"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	rel := func(p string) string {
		if p == module {
			return "."
		}
		return strings.TrimPrefix(p, module+"/")
	}
	for line := range strings.Lines(strings.TrimSpace(string(out))) {
		fields := strings.Fields(line)
		pkg := rel(fields[0])
		allowed, ok := allowedImports[pkg]
		if !ok {
			t.Errorf("package %s is not in README.md's Architecture section (and allowedImports)", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			if !slices.Contains(allowed, rel(imp)) {
				t.Errorf("%s imports %s, which README.md's Architecture section does not allow", pkg, rel(imp))
			}
		}
	}
}
