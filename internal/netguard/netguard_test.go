package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestDefaultPolicyRefusesNonPublicAddresses(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	refused := []string{
		"127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "fe80::1", "fc00::1", "fd12:3456::1", "0.0.0.0", "::", "0.1.2.3",
		"100.64.0.1", "224.0.0.1", "ff02::1", "255.255.255.255", "240.0.0.1", "198.18.0.5",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1",
	}
	for _, s := range refused {
		if err := p.Check(ctx, "example.com", net.ParseIP(s)); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want ErrRefused", s, err)
		}
	}
	allowed := []string{"93.184.215.14", "8.8.8.8", "2606:4700::6810:84e5", "172.32.0.1", "192.169.0.1"}
	for _, s := range allowed {
		if err := p.Check(ctx, "example.com", net.ParseIP(s)); err != nil {
			t.Errorf("%s: %v, want allowed", s, err)
		}
	}
	// Before the lookup there is nothing to judge.
	if err := p.Check(ctx, "example.com", nil); err != nil {
		t.Errorf("pre-lookup check: %v", err)
	}
	var zero *Policy
	if err := zero.Check(ctx, "x", net.ParseIP("127.0.0.1")); !errors.Is(err, ErrRefused) {
		t.Errorf("nil policy allowed loopback: %v", err)
	}
}

func TestAllowListAndOwnHost(t *testing.T) {
	allow, err := ParseAllow(" 10.0.0.0/8, 127.0.0.1 ,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("fd00::/8")}
	if len(allow) != len(want) {
		t.Fatalf("parsed %v", allow)
	}
	for i := range want {
		if allow[i] != want[i] {
			t.Fatalf("parsed %v, want %v", allow, want)
		}
	}
	p := New(allow, "Issuer.Example.com")
	ctx := context.Background()
	for _, s := range []string{"10.9.8.7", "127.0.0.1", "fd00::5", "::ffff:10.1.1.1"} {
		if err := p.Check(ctx, "example.com", net.ParseIP(s)); err != nil {
			t.Errorf("%s allowed by the list: %v", s, err)
		}
	}
	for _, s := range []string{"127.0.0.2", "192.168.0.1", "fc00::1"} {
		if err := p.Check(ctx, "example.com", net.ParseIP(s)); !errors.Is(err, ErrRefused) {
			t.Errorf("%s outside the list: %v", s, err)
		}
	}
	// The server's own host, whatever it resolves to.
	if err := p.Check(ctx, "issuer.example.com", net.ParseIP("192.168.7.7")); err != nil {
		t.Errorf("own host refused: %v", err)
	}
	for _, bad := range []string{"10.0.0.0/33", "not-an-ip", "10.0.0.1/x"} {
		if _, err := ParseAllow(bad); err == nil {
			t.Errorf("ParseAllow(%q) accepted", bad)
		}
	}
	if got, err := ParseAllow(""); err != nil || len(got) != 0 {
		t.Errorf("empty list: %v %v", got, err)
	}
}
