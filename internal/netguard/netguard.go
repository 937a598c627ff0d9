// Package netguard decides which addresses agentid may connect to when a
// request makes it fetch something — a did:web document today, status lists
// and schemas later. By default only public unicast addresses are allowed, so
// that a DID or URL chosen by a client cannot make the server reach into its
// own private network (server-side request forgery). The server's own public
// host and configured CIDR ranges (`--fetch-allow`) are the exceptions.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrRefused is an address the policy does not allow.
var ErrRefused = errors.New("address not allowed for outbound fetches")

// Policy is an outbound address policy. The zero value refuses every
// non-public address.
type Policy struct {
	allow []netip.Prefix
	hosts map[string]bool
}

// New returns a policy that allows public addresses, the given prefixes, and
// any address of the given host names (the server's own public host).
func New(allow []netip.Prefix, ownHosts ...string) *Policy {
	p := &Policy{allow: allow, hosts: map[string]bool{}}
	for _, h := range ownHosts {
		if h != "" {
			p.hosts[strings.ToLower(h)] = true
		}
	}
	return p
}

// ParseAllow parses a comma-separated list of CIDR prefixes or single
// addresses ("10.0.0.0/8,127.0.0.1,fd00::/8").
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if strings.Contains(part, "/") {
			p, err := netip.ParsePrefix(part)
			if err != nil {
				return nil, fmt.Errorf("fetch allow list: %q is not a CIDR prefix: %w", part, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("fetch allow list: %q is not an address or CIDR prefix: %w", part, err)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Check allows or refuses a connection to ip for host. It is called once
// with a nil ip before the host name is looked up (nothing to refuse yet
// unless the host is an own host, which is always allowed) and then for
// every address the host resolves to. Its signature is that of
// didmethods.DialCheck.
func (p *Policy) Check(_ context.Context, host string, ip net.IP) error {
	if p != nil && p.hosts[strings.ToLower(host)] {
		return nil
	}
	if ip == nil {
		return nil
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return fmt.Errorf("%w: %q is not an IP address", ErrRefused, ip)
	}
	addr = addr.Unmap()
	if p != nil {
		for _, pre := range p.allow {
			if pre.Contains(addr) {
				return nil
			}
		}
	}
	if reason := nonPublic(addr); reason != "" {
		return fmt.Errorf("%w: %s is %s (allow it with --fetch-allow)", ErrRefused, addr, reason)
	}
	return nil
}

// Special-purpose ranges beyond what netip classifies (RFC 6890 and
// successors) that must not be reached from a client's input.
var specialRanges = []struct {
	prefix netip.Prefix
	name   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network"`},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (carrier-grade NAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking space"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64 (may map to a private IPv4 address)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("2002::/16"), "6to4 (may embed a private IPv4 address)"},
}

// nonPublic names why addr is not a public unicast address, or returns "".
func nonPublic(addr netip.Addr) string {
	switch {
	case addr.IsLoopback():
		return "a loopback address"
	case addr.IsPrivate():
		return "a private address"
	case addr.IsLinkLocalUnicast():
		return "a link-local address"
	case addr.IsUnspecified():
		return "the unspecified address"
	case addr.IsMulticast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast():
		return "a multicast address"
	case !addr.IsGlobalUnicast():
		return "not a global unicast address"
	}
	for _, r := range specialRanges {
		if r.prefix.Contains(addr) {
			return r.name
		}
	}
	return ""
}
