// Package wallet is the holder side: an agent's store of credentials and the
// presentations it builds from them, and a human's list of the agents they
// delegated to. It talks to issuers and verifiers over HTTP only, as any agent
// would.
package wallet
