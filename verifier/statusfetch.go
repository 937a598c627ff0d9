package verifier

import (
	"context"

	"github.com/agentid/agentid/verifier/statusfetch"
)

// HTTPStatusChecker adapts a statusfetch.Checker, which fetches status
// lists over HTTP(S), verifies their signatures and caches them within a
// staleness bound, to StatusChecker. Use it where the verifier does not
// share the issuer's database:
//
//	sc, err := statusfetch.New(resolver, statusfetch.WithPolicy(policy))
//	...
//	v := verifier.New(verifier.WithResolver(resolver),
//		verifier.WithStatusChecker(verifier.HTTPStatusChecker(sc)))
//
// Entry kinds pass through unchanged: StatusBitstring and StatusTokenList
// are the kinds statusfetch knows; any other fails the status check.
func HTTPStatusChecker(c *statusfetch.Checker) StatusChecker {
	return StatusCheckerFunc(func(ctx context.Context, e StatusEntry) (StatusResult, error) {
		res, err := c.Check(ctx, statusfetch.Entry{Kind: e.Kind, Issuer: e.Issuer, Entry: e.Entry})
		if err != nil {
			return StatusResult{}, err
		}
		return StatusResult{Purpose: res.Purpose, Valid: res.Valid, Message: res.Message}, nil
	})
}
