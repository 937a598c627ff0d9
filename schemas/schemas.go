package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// The IDs of the embedded JSON Schemas (JSON Schema 2020-12). Each
// validates a whole credential: the VC 2.0 shape plus the subject's claims.
const (
	AgentIdentityV1   = "https://agentid.dev/schemas/agent-identity/v1.json"
	AgentDelegationV1 = "https://agentid.dev/schemas/agent-delegation/v1.json"
)

// schemaBase is the URL prefix of every embedded schema; the rest of an ID
// is its file name under this package (and its path under /schemas/ on the
// server).
const schemaBase = "https://agentid.dev/schemas/"

// Errors that ForCredential and Validate wrap.
var (
	// ErrUnknownSchema: the schema ID is not one of the embedded schemas.
	// Schemas are never fetched, so a credential that names any other
	// schema cannot be checked against it.
	ErrUnknownSchema = errors.New("schemas: unknown schema (only embedded schemas are used; schemas are never fetched)")
	// ErrUnsupportedSchemaType: a credentialSchema entry of a type other
	// than JsonSchema (JsonSchemaCredential needs the schema credential
	// fetched and verified, which this package does not do).
	ErrUnsupportedSchemaType = errors.New("schemas: unsupported credentialSchema type")
	// ErrInvalid: the document does not conform to the schema.
	ErrInvalid = errors.New("schemas: document does not conform to its schema")
)

//go:embed agent-identity/v1.json agent-delegation/v1.json
var files embed.FS

// embedded reports whether id is the $id of an embedded schema (not its
// Path: a credential names a schema by its URL), without copying the schema
// text as Schema does.
func embedded(id string) bool {
	for _, in := range List() {
		if id == in.ID {
			return true
		}
	}
	return false
}

// Info describes one embedded schema.
type Info struct {
	// ID is the schema's $id, the URL credentials name in credentialSchema.
	ID string
	// Path is the file name relative to /schemas/, for example
	// "agent-identity/v1.json"; the server serves the schema there.
	Path string
}

// List returns the embedded schemas, sorted by ID.
func List() []Info {
	return []Info{
		{ID: AgentDelegationV1, Path: strings.TrimPrefix(AgentDelegationV1, schemaBase)},
		{ID: AgentIdentityV1, Path: strings.TrimPrefix(AgentIdentityV1, schemaBase)},
	}
}

// Schema returns the JSON text of the embedded schema with the given ID (a
// fresh copy each time), or false. It also accepts the Path form
// ("agent-identity/v1.json").
func Schema(id string) ([]byte, bool) {
	for _, in := range List() {
		if id == in.ID || id == in.Path {
			b, err := files.ReadFile(in.Path)
			return b, err == nil
		}
	}
	return nil, false
}

// FieldError is one way in which a document fails its schema: Pointer is
// the RFC 6901 JSON pointer of the offending value ("" for the whole
// document) and Reason is the schema's complaint. The JSON names match the
// errors[] members of the server's RFC 9457 problems.
type FieldError struct {
	Pointer string `json:"field"`
	Reason  string `json:"reason"`
}

// ValidationError lists every violation found. Err is ErrInvalid,
// ErrUnknownSchema or ErrUnsupportedSchemaType, so errors.Is works.
type ValidationError struct {
	SchemaID string
	Errors   []FieldError
	Err      error
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.SchemaID != "" {
		fmt.Fprintf(&b, " %s", e.SchemaID)
	}
	for i, fe := range e.Errors {
		if i == 3 {
			fmt.Fprintf(&b, " (and %d more)", len(e.Errors)-3)
			break
		}
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep)
		if fe.Pointer != "" {
			b.WriteString(fe.Pointer + ": ")
		}
		b.WriteString(fe.Reason)
	}
	return b.String()
}

// Unwrap returns the kind of failure.
func (e *ValidationError) Unwrap() error { return e.Err }

// compiled holds every embedded schema, compiled once on first use; it is
// safe for concurrent use and never changes afterwards.
var compiled = sync.OnceValues(compileAll)

// refuseLoader is the compiler's only URL loader: it refuses everything, so
// a $ref to anything but an embedded schema (or the JSON Schema
// meta-schemas, which the library carries) fails instead of reaching the
// network or the file system.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%w: %s", ErrUnknownSchema, url)
}

// compiledSchema is one embedded schema compiled by the library (full) and,
// unless it uses something the fast check does not know, into the fast
// check's form (fast; see fast.go).
type compiledSchema struct {
	full *jsonschema.Schema
	fast *fnode
}

func compileAll() (map[string]compiledSchema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuseLoader{})
	texts := map[string][]byte{}
	for _, in := range List() {
		b, err := files.ReadFile(in.Path)
		if err != nil {
			return nil, err
		}
		texts[in.ID] = b
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", in.Path, err)
		}
		if err := c.AddResource(in.ID, doc); err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", in.Path, err)
		}
	}
	out := map[string]compiledSchema{}
	for _, in := range List() {
		s, err := c.Compile(in.ID)
		if err != nil {
			return nil, fmt.Errorf("schemas: compile %s: %w", in.ID, err)
		}
		// A schema the fast check cannot compile is still validated, by
		// the library alone: slower, not weaker (TestFastFormsExist
		// notices).
		fast, _ := fastCompile(texts[in.ID])
		out[in.ID] = compiledSchema{full: s, fast: fast}
	}
	return out, nil
}

// Validate validates doc against the embedded schema schemaID. doc is
// decoded JSON (map[string]any and friends, numbers as json.Number or
// float64), raw JSON ([]byte or json.RawMessage), or any value that
// encoding/json can marshal. It returns nil, a *ValidationError wrapping
// ErrInvalid that lists every violation with its JSON pointer, or one
// wrapping ErrUnknownSchema.
func Validate(schemaID string, doc any) error {
	all, err := compiled()
	if err != nil {
		return err
	}
	sch, ok := all[schemaID]
	if !ok {
		return &ValidationError{SchemaID: schemaID, Err: ErrUnknownSchema}
	}
	v, err := normalize(doc)
	if err != nil {
		return &ValidationError{SchemaID: schemaID, Err: ErrInvalid,
			Errors: []FieldError{{Pointer: "", Reason: "not JSON: " + err.Error()}}}
	}
	// The fast check only ever answers "valid" when the library would;
	// anything else (an invalid document, or one it is unsure of) goes to
	// the library, for the verdict and the errors.
	if sch.fast != nil && fastValid(sch.fast, v) {
		return nil
	}
	err = sch.full.Validate(v)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("schemas: validate against %s: %w", schemaID, err)
	}
	return &ValidationError{SchemaID: schemaID, Err: ErrInvalid, Errors: leaves(verr)}
}

// normalize turns doc into the values the validator understands.
func normalize(doc any) (any, error) {
	switch d := doc.(type) {
	case []byte:
		return jsonschema.UnmarshalJSON(bytes.NewReader(d))
	case json.RawMessage:
		return jsonschema.UnmarshalJSON(bytes.NewReader(d))
	case map[string]any, []any, string, bool, json.Number, float64, nil:
		return d, nil
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// leaves flattens the validator's tree of errors into the leaf problems,
// each at the pointer of the instance value it is about, in a stable order.
func leaves(e *jsonschema.ValidationError) []FieldError {
	var out []FieldError
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		_, isContains := e.ErrorKind.(*kind.Contains)
		if len(e.Causes) == 0 || isContains {
			// a failed "contains" is about the array, not about each item
			if req, ok := e.ErrorKind.(*kind.Required); ok {
				// name each missing property by its own pointer
				for _, m := range req.Missing {
					fe := FieldError{Pointer: pointer(append(slices.Clip(e.InstanceLocation), m)), Reason: "is required"}
					if !slices.Contains(out, fe) {
						out = append(out, fe)
					}
				}
				return
			}
			reason := "invalid"
			if u := e.BasicOutput(); u != nil && u.Error != nil {
				reason = u.Error.String()
			}
			fe := FieldError{Pointer: pointer(e.InstanceLocation), Reason: reason}
			if !slices.Contains(out, fe) {
				out = append(out, fe)
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(e)
	slices.SortStableFunc(out, func(a, b FieldError) int { return strings.Compare(a.Pointer, b.Pointer) })
	return out
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// ForCredential validates a credential against each of its
// credentialSchema entries. Every entry must be of type JsonSchema and name
// an embedded schema: an entry naming any other schema yields a
// *ValidationError wrapping ErrUnknownSchema (nothing is fetched), one of
// another type (JsonSchemaCredential included) one wrapping
// ErrUnsupportedSchemaType, with the pointer of the entry. A credential
// without credentialSchema passes: it claims no schema. The problems of
// all entries are reported together.
func ForCredential(c map[string]any) error {
	var entries []any
	at := func(i int) string { return "/credentialSchema/" + strconv.Itoa(i) }
	switch v := c["credentialSchema"].(type) {
	case nil:
		if _, present := c["credentialSchema"]; !present {
			return nil
		}
		return &ValidationError{Err: ErrInvalid, Errors: []FieldError{{"/credentialSchema", "must be an object or an array of objects"}}}
	case map[string]any:
		entries = []any{v}
		at = func(int) string { return "/credentialSchema" }
	case []any:
		entries = v
	default:
		return &ValidationError{Err: ErrInvalid, Errors: []FieldError{{"/credentialSchema", "must be an object or an array of objects"}}}
	}
	var firstErr *ValidationError
	var all []FieldError
	note := func(e *ValidationError) {
		if firstErr == nil {
			firstErr = e
		}
		all = append(all, e.Errors...)
	}
	for i, raw := range entries {
		entry, ok := raw.(map[string]any)
		if !ok {
			note(&ValidationError{Err: ErrInvalid, Errors: []FieldError{{at(i), "must be an object"}}})
			continue
		}
		id, _ := entry["id"].(string)
		typ, _ := entry["type"].(string)
		if typ != "JsonSchema" {
			note(&ValidationError{SchemaID: id, Err: ErrUnsupportedSchemaType, Errors: []FieldError{{at(i) + "/type",
				fmt.Sprintf("credentialSchema type %q is not supported; use JsonSchema with an agentid schema", typ)}}})
			continue
		}
		if !embedded(id) {
			note(&ValidationError{SchemaID: id, Err: ErrUnknownSchema, Errors: []FieldError{{at(i) + "/id",
				fmt.Sprintf("schema %q is not one of the embedded agentid schemas, and schemas are never fetched", id)}}})
			continue
		}
		if err := Validate(id, c); err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) {
				return err
			}
			note(verr)
		}
	}
	if firstErr == nil {
		return nil
	}
	firstErr.Errors = all
	return firstErr
}
