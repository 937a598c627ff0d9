package credential

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/multiformats/go-multibase"
)

// IsURL reports whether s is a URL in the sense of the VC Data Model: an
// absolute URI (RFC 3986) or IRI (RFC 3987), so that https:, did:, urn:uuid:
// and data: identifiers all count. It requires a scheme, something after the
// colon, no white space or other characters that can never appear in a URI,
// and well-formed percent escapes. Hierarchical web schemes (http, https,
// ws, wss) must also name a host, did: URLs a method and a method-specific
// id, and urn: a namespace and a namespace-specific string.
//
// It checks syntax only; it never dereferences anything.
func IsURL(s string) bool {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !validScheme(scheme) || rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c <= 0x20 || c == 0x7f:
			return false
		case strings.IndexByte(`"<>\^{|}`+"`", c) >= 0:
			return false
		case c == '%':
			if i+2 >= len(rest) || !isHex(rest[i+1]) || !isHex(rest[i+2]) {
				return false
			}
		}
	}
	if strings.ContainsRune(rest, '\u00a0') || strings.ContainsRune(rest, '\u3000') {
		return false
	}
	switch strings.ToLower(scheme) {
	case "http", "https", "ws", "wss":
		if !strings.HasPrefix(rest, "//") {
			return false
		}
		u, err := url.Parse(s)
		return err == nil && u.Host != "" && u.Hostname() != ""
	case "did":
		method, msid, ok := strings.Cut(rest, ":")
		if !ok || method == "" || msid == "" {
			return false
		}
		for i := 0; i < len(method); i++ {
			if c := method[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return false
			}
		}
		return true
	case "urn":
		nid, nss, ok := strings.Cut(rest, ":")
		return ok && nid != "" && nss != ""
	}
	return true
}

func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// ParseDateTimeStamp parses an XML Schema 1.1 dateTimeStamp, the lexical
// form that VC Data Model 2.0 requires for validFrom and validUntil:
//
//	-?YYYY-MM-DDThh:mm:ss(.s+)?(Z|(+|-)hh:mm)
//
// The year has at least four digits (at most nine are accepted here), the
// time may be 24:00:00 (the first instant of the next day), fractions of a
// second may have any number of digits (beyond nanoseconds they are
// truncated), and the time zone is required: "Z" or an offset of at most
// 14:00. The date must exist (no 30 February). The result is in UTC.
func ParseDateTimeStamp(s string) (time.Time, error) {
	return parseXSDDateTime(s, true)
}

// ParseDateTime parses an XML Schema dateTime, the form VC Data Model 1.1
// uses for issuanceDate and expirationDate. It is ParseDateTimeStamp with the
// time zone optional; a value without one is read as UTC.
func ParseDateTime(s string) (time.Time, error) {
	return parseXSDDateTime(s, false)
}

var errDateTime = errors.New("not an XML Schema dateTime")

func parseXSDDateTime(s string, tzRequired bool) (time.Time, error) {
	fail := func(why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%w: %s", errDateTime, why)
	}
	if len(s) > 64 {
		return fail("too long")
	}
	p := s
	neg := false
	if strings.HasPrefix(p, "-") {
		neg, p = true, p[1:]
	}
	// year: four or more digits, no leading zero when more than four
	n := 0
	for n < len(p) && isDigit(p[n]) {
		n++
	}
	if n < 4 || (n > 4 && p[0] == '0') {
		return fail("the year must have four digits, or more without a leading zero")
	}
	if n > 9 {
		return fail("the year is out of the supported range")
	}
	year := atoi(p[:n])
	if neg {
		year = -year
	}
	p = p[n:]
	// -MM-DDThh:mm:ss
	if len(p) < 15 || p[0] != '-' || p[3] != '-' || p[6] != 'T' && p[6] != 't' || p[9] != ':' || p[12] != ':' {
		return fail("expected YYYY-MM-DDThh:mm:ss")
	}
	for _, i := range []int{1, 2, 4, 5, 7, 8, 10, 11, 13, 14} {
		if !isDigit(p[i]) {
			return fail("expected YYYY-MM-DDThh:mm:ss")
		}
	}
	if p[6] == 't' {
		return fail("the date and time must be separated by an upper-case T")
	}
	month, day := atoi(p[1:3]), atoi(p[4:6])
	hour, minute, sec := atoi(p[7:9]), atoi(p[10:12]), atoi(p[13:15])
	p = p[15:]
	nsec := 0
	if strings.HasPrefix(p, ".") {
		k := 1
		for k < len(p) && isDigit(p[k]) {
			k++
		}
		if k == 1 {
			return fail("a decimal point must be followed by digits")
		}
		frac := p[1:k]
		if hour == 24 && strings.Trim(frac, "0") != "" {
			return fail("24:00:00 cannot have a non-zero fraction")
		}
		frac = (frac + "000000000")[:9]
		nsec = atoi(frac)
		p = p[k:]
	}
	if month < 1 || month > 12 {
		return fail("month out of range")
	}
	if day < 1 || day > daysIn(month, year) {
		return fail("day out of range for the month")
	}
	if hour == 24 {
		if minute != 0 || sec != 0 {
			return fail("hour 24 is only allowed as 24:00:00")
		}
	} else if hour > 23 || minute > 59 || sec > 59 {
		return fail("time out of range")
	}
	loc := time.UTC
	switch {
	case p == "Z":
	case p == "" && !tzRequired:
	case p == "":
		return fail("a time zone (Z or ±hh:mm) is required")
	case len(p) == 6 && (p[0] == '+' || p[0] == '-') && p[3] == ':' &&
		isDigit(p[1]) && isDigit(p[2]) && isDigit(p[4]) && isDigit(p[5]):
		oh, om := atoi(p[1:3]), atoi(p[4:6])
		if om > 59 || oh > 14 || oh == 14 && om != 0 {
			return fail("time zone offset out of range")
		}
		off := (oh*60 + om) * 60
		if p[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	default:
		return fail("the time zone must be Z or ±hh:mm")
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc).UTC(), nil
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// validLanguageTag is a shallow well-formedness check of a BCP 47 tag:
// subtags of one to eight letters or digits separated by hyphens, the first
// made of letters.
func validLanguageTag(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, sub := range strings.Split(s, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for j := 0; j < len(sub); j++ {
			c := sub[j]
			if !isAlpha(c) && !(i > 0 && isDigit(c)) {
				return false
			}
		}
	}
	return true
}

// sriSize returns the digest size in bytes of a Subresource Integrity hash
// algorithm, or 0 for an algorithm SRI does not define.
func sriSize(alg string) int {
	switch alg {
	case "sha256":
		return 32
	case "sha384":
		return 48
	case "sha512":
		return 64
	}
	return 0
}

// checkSRI checks a digestSRI value: one or more white-space separated SRI
// hash expressions "alg-base64value[?options]" (W3C Subresource Integrity),
// where alg is sha256, sha384 or sha512 and the value is standard base64
// (not base64url) of a digest of the algorithm's length.
func checkSRI(s string) error {
	exprs := strings.Fields(s)
	if len(exprs) == 0 {
		return errors.New("must be a Subresource Integrity hash expression such as sha384-<base64>")
	}
	for _, e := range exprs {
		e, _, _ = strings.Cut(e, "?")
		alg, val, ok := strings.Cut(e, "-")
		size := sriSize(alg)
		if !ok || size == 0 {
			return fmt.Errorf("hash expression %q must start with sha256-, sha384- or sha512-", truncate(e))
		}
		raw, err := base64.StdEncoding.DecodeString(val)
		if err != nil {
			return fmt.Errorf("the %s digest is not standard base64", alg)
		}
		if len(raw) != size {
			return fmt.Errorf("a %s digest is %d bytes, not %d", alg, size, len(raw))
		}
	}
	return nil
}

// checkMultibase checks a digestMultibase value: a multibase string (a base
// prefix such as "u" for base64url or "z" for base58btc, then the encoded
// bytes) that decodes to a non-empty digest.
func checkMultibase(s string) error {
	_, raw, err := multibase.Decode(s)
	if err != nil {
		return errors.New("must be a multibase-encoded digest (for example u<base64url> or z<base58btc>)")
	}
	if len(raw) == 0 {
		return errors.New("the multibase value encodes no bytes")
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// DataURL is a parsed RFC 2397 data: URL, the identifier of an
// EnvelopedVerifiableCredential or EnvelopedVerifiablePresentation.
type DataURL struct {
	// MediaType is the media type, lower-cased, without parameters
	// ("application/vc+jwt"); empty when the URL names none.
	MediaType string
	// Params holds the media type parameters, and flags that are not
	// base64 (for example "base64url", which some implementations write
	// although RFC 2397 does not define it) with an empty value.
	Params map[string]string
	// Base64 is true when the URL carried the ";base64" flag.
	Base64 bool
	// Data is the decoded payload.
	Data []byte
}

// ParseDataURL parses "data:[<mediatype>][;base64],<data>". The payload is
// base64-decoded when the base64 flag is present and percent-decoded
// otherwise (a compact JWS needs no escaping, so it is its own payload).
func ParseDataURL(s string) (*DataURL, error) {
	if len(s) < 5 || !strings.EqualFold(s[:5], "data:") {
		return nil, errors.New("must be a data: URL")
	}
	header, payload, ok := strings.Cut(s[5:], ",")
	if !ok {
		return nil, errors.New("a data: URL needs a comma before its data")
	}
	d := &DataURL{Params: map[string]string{}}
	parts := strings.Split(header, ";")
	if mt := strings.TrimSpace(parts[0]); mt != "" {
		typ, sub, ok := strings.Cut(mt, "/")
		if !ok || typ == "" || sub == "" || strings.ContainsAny(mt, " \t\"(),:;<=>?@[\\]{}") {
			return nil, fmt.Errorf("media type %q is not type/subtype", truncate(mt))
		}
		d.MediaType = strings.ToLower(mt)
	}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		if k == "" {
			return nil, errors.New("empty media type parameter")
		}
		if strings.EqualFold(k, "base64") && v == "" {
			d.Base64 = true
			continue
		}
		d.Params[strings.ToLower(k)] = v
	}
	if d.Base64 {
		raw, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			if raw, err = base64.RawStdEncoding.DecodeString(payload); err != nil {
				return nil, errors.New("the data is not base64")
			}
		}
		d.Data = raw
		return d, nil
	}
	raw, err := url.PathUnescape(payload)
	if err != nil {
		return nil, errors.New("the data has a malformed percent escape")
	}
	d.Data = []byte(raw)
	return d, nil
}
