// Package issuer is where an organization vouches for its agents: it holds
// organizations and their issuer identities, enrolls agents, issues
// credentials, keeps status lists and revokes. HTTP handlers in
// internal/server and the portal in web are thin adapters over its API.
package issuer
