package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentid/agentid/credential/statuslist"
)

// maxStatusInput bounds what `agentid status decode` reads.
const maxStatusInput = 32 << 20

func newStatusCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "status", Short: "Work with status lists (revocation, suspension)"}
	var statusSize int
	decode := &cobra.Command{
		Use:   "decode LIST|FILE|-",
		Short: "Print which entries of a status list are set",
		Long: `Decode a status list and print the index and value of every entry that is not 0.
LIST is a W3C Bitstring Status List (an encodedList string, or a
BitstringStatusListCredential as JSON) or an IETF Token Status List (a status
list JWT, or its base64url "lst" with --bits). It is read from the argument, a
file, or standard input ("-"). Nothing is fetched and no signature is checked:
this shows what a list says, not whether to trust it.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			input, err := readStatusInput(cmd.InOrStdin(), args[0])
			if err != nil {
				return usageError{err}
			}
			res, err := decodeStatusList(input, statusSize)
			if err != nil {
				return usageError{err}
			}
			if g.json {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d entries of %d bit(s), %d set\n", res.Kind, res.Entries, res.Bits, len(res.Set))
			for _, e := range res.Set {
				fmt.Fprintf(cmd.OutOrStdout(), "%d\t%d\n", e.Index, e.Value)
			}
			return nil
		},
	}
	decode.Flags().IntVar(&statusSize, "bits", 0, "bits per entry (statusSize); default 1, or what the list says")
	cmd.AddCommand(decode)
	return cmd
}

// statusEntry is one set entry of a decoded list.
type statusEntry struct {
	Index int  `json:"index"`
	Value uint `json:"value"`
}

// decodedStatus is what `status decode` prints.
type decodedStatus struct {
	Kind    string        `json:"kind"`
	Entries int           `json:"entries"`
	Bits    int           `json:"bits"`
	Set     []statusEntry `json:"set"`
}

// readStatusInput returns the argument itself when it looks like a list,
// else the contents of the file it names ("-": standard input).
func readStatusInput(stdin io.Reader, arg string) (string, error) {
	var r io.Reader
	switch {
	case arg == "-":
		r = stdin
	case looksLikeList(arg):
		return arg, nil
	default:
		f, err := os.Open(arg)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxStatusInput+1))
	if err != nil {
		return "", err
	}
	if len(data) > maxStatusInput {
		return "", fmt.Errorf("status list input is larger than %d bytes", maxStatusInput)
	}
	return strings.TrimSpace(string(data)), nil
}

func looksLikeList(s string) bool {
	return strings.HasPrefix(s, "u") && !strings.ContainsAny(s, "/.") || strings.HasPrefix(s, "H4sI") || strings.HasPrefix(s, "eyJ") || strings.HasPrefix(s, "eN")
}

// decodeStatusList recognises the input's form and decodes it.
func decodeStatusList(input string, bits int) (*decodedStatus, error) {
	switch {
	case strings.HasPrefix(input, "{"):
		var doc map[string]any
		dec := json.NewDecoder(strings.NewReader(input))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("status list credential: %w", err)
		}
		subject, err := statuslist.SubjectOf(doc)
		if err != nil {
			return nil, err
		}
		if bits == 0 {
			bits = subject.StatusSize
		}
		return decodeBitstring(subject.EncodedList, bits)
	case strings.Count(input, ".") == 2 && strings.HasPrefix(input, "eyJ"):
		return decodeStatusJWT(input)
	case strings.HasPrefix(input, "eN"): // base64url of a zlib stream: a Token Status List "lst"
		if bits == 0 {
			bits = 1
		}
		l, err := statuslist.DecodeTokenList(input, bits)
		if err != nil {
			return nil, err
		}
		return tokenEntries(l), nil
	}
	return decodeBitstring(input, bits)
}

func decodeBitstring(encoded string, bits int) (*decodedStatus, error) {
	if bits == 0 {
		bits = 1
	}
	b, err := statuslist.Decode(encoded, bits)
	if err != nil {
		return nil, err
	}
	out := &decodedStatus{Kind: "BitstringStatusList", Entries: b.Len(), Bits: bits, Set: []statusEntry{}}
	for i := range b.Len() {
		if v, _ := b.Get(i); v != 0 {
			out.Set = append(out.Set, statusEntry{i, v})
		}
	}
	return out, nil
}

// decodeStatusJWT reads the status_list claim of a status list token
// without verifying it.
func decodeStatusJWT(token string) (*decodedStatus, error) {
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("status list token payload: %w", err)
	}
	var claims struct {
		StatusList *statuslist.StatusListClaim `json:"status_list"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&claims); err != nil || claims.StatusList == nil {
		return nil, fmt.Errorf("status list token payload has no status_list claim (%v)", err)
	}
	l, err := claims.StatusList.Decode()
	if err != nil {
		return nil, err
	}
	return tokenEntries(l), nil
}

func tokenEntries(l *statuslist.TokenList) *decodedStatus {
	out := &decodedStatus{Kind: "TokenStatusList", Entries: l.Len(), Bits: l.Bits(), Set: []statusEntry{}}
	for i := range l.Len() {
		if v, _ := l.Get(i); v != 0 {
			out.Set = append(out.Set, statusEntry{i, uint(v)})
		}
	}
	return out
}
