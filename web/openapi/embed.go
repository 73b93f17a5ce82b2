// Package openapi holds the OpenAPI 3.1 document of keyward's /v1 API,
// written by hand and embedded in the binary. The server serves it at
// GET /openapi.json and renders GET /docs from it; the API tests validate
// every /v1 response against it and check that it names every /v1 route
// with the scope the route enforces (the x-keyward-scope extension).
package openapi

import _ "embed"

// JSON is the document.
//
//go:embed openapi.json
var JSON []byte
