// Package schemas embeds the JSON Schemas of agentid's credential types and
// the agentid JSON-LD context (https://agentid.dev/ns/v1), and validates
// documents against them. It is a library: no HTTP server, no database.
package schemas
