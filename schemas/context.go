package schemas

import _ "embed"

// ContextURL is the URL of the agentid JSON-LD context.
const ContextURL = "https://agentid.dev/ns/v1"

//go:embed context/v1.jsonld
var contextV1 []byte

// Context returns the agentid JSON-LD context document (a copy).
func Context() []byte { return append([]byte(nil), contextV1...) }
