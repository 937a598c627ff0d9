// Package e2e holds end-to-end tests of agentid: they build the agentid
// binary, start real `agentid serve` processes on SQLite and PostgreSQL, and
// act as the agent (a key in the TPM simulator), the human principal (a
// did:key), the administrator and the relying party over HTTP only, with the
// project's own credential libraries. The command-line tools (`agentid vc
// verify`, `agentid audit verify`) are run as the built binary too.
//
// The package has no code outside its tests. PostgreSQL runs when
// AGENTID_TEST_POSTGRES is set (see internal/store/storetest); each test
// gets a schema of its own.
package e2e
