// Package api embeds Roster's OpenAPI 3.1 document, the machine-readable
// form of the HTTP contract.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document served at /api/v3/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte
