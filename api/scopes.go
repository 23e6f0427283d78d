package api

import (
	"encoding/json"
	"slices"
	"strings"
)

// Security is what an operation of the document requires of its caller.
type Security struct {
	// Public is true for an operation with "security": [] (no token).
	Public bool
	// Scopes are the token scopes its security requirements name (every
	// alternative requirement names the same ones), sorted, without repeats.
	Scopes []string
}

// OperationSecurity reads the security requirements of every operation of
// an OpenAPI document, keyed "METHOD /path" as ServeMux patterns are. An
// operation without its own "security" inherits the document's.
func OperationSecurity(doc []byte) (map[string]Security, error) {
	var d struct {
		Security []map[string][]string                 `json:"security"`
		Paths    map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	ops := map[string]Security{}
	for path, item := range d.Paths {
		for method, raw := range item {
			if !slices.Contains([]string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}, method) {
				continue
			}
			var op struct {
				Security *[]map[string][]string `json:"security"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, err
			}
			reqs := d.Security
			if op.Security != nil {
				reqs = *op.Security
			}
			sec := Security{Public: len(reqs) == 0}
			for _, req := range reqs {
				for _, scopes := range req {
					sec.Scopes = append(sec.Scopes, scopes...)
				}
			}
			slices.Sort(sec.Scopes)
			sec.Scopes = slices.Compact(sec.Scopes)
			ops[strings.ToUpper(method)+" "+path] = sec
		}
	}
	return ops, nil
}
