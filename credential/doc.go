// Package credential models W3C Verifiable Credentials and Presentations and
// holds the proof formats agentid signs and verifies (Data Integrity, SD-JWT
// VC), the offline JSON-LD document loader and the status list codecs. It is a
// library: no HTTP server, no database.
package credential
