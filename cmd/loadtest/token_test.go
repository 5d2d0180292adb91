package main

import (
	"slices"
	"strings"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, run := range []int{0, 1, 1295, maxRuns - 1} {
		for _, sender := range []int{0, 1, 35, 36, 500, maxSenders - 1} {
			for _, seq := range []int{0, 1, 35, 36, 1295, 1296, 40000, maxSeq - 1} {
				want := tokenID{run, sender, seq}
				tok := makeToken(want)
				if len(tok) != tokenLen || tok[0] != 'Z' || strings.ContainsAny(tok[1:], "ZABCDEFGHIJKLMNOPQRSTUVWXY") {
					t.Fatalf("makeToken(%+v) = %q", want, tok)
				}
				if seen[tok] {
					t.Fatalf("duplicate token %q", tok)
				}
				seen[tok] = true
				id, ok := parseToken([]byte(tok))
				if !ok || id != want {
					t.Fatalf("parseToken(%q) = %v, %v; want %v", tok, id, ok, want)
				}
			}
		}
	}
}

func TestTokensUniqueAndPrefixFree(t *testing.T) {
	// All tokens of a realistic run: 40 senders × 500 messages.
	var toks []string
	for s := range 40 {
		for q := range 500 {
			toks = append(toks, makeToken(tokenID{7, s, q}))
		}
	}
	slices.Sort(toks)
	for i := 1; i < len(toks); i++ {
		if strings.HasPrefix(toks[i], toks[i-1]) {
			t.Fatalf("%q is a prefix of %q", toks[i-1], toks[i])
		}
	}
}

func TestParseTokenRejectsCorruption(t *testing.T) {
	tok := []byte(makeToken(tokenID{7, 7, 123}))
	for i := 1; i < tokenLen; i++ {
		for _, c := range []byte(base36) {
			if c == tok[i] {
				continue
			}
			bad := slices.Clone(tok)
			bad[i] = c
			if _, ok := parseToken(bad); ok {
				t.Fatalf("single substitution %q accepted", bad)
			}
		}
	}
	for _, s := range []string{"", "Z", "Z00000000", "z000000000", "Z00A000000", "Z00-000000"} {
		if _, ok := parseToken([]byte(s)); ok {
			t.Errorf("parseToken(%q) accepted", s)
		}
	}
}

func scanAll(row string, prevAlnum bool) []tokenID {
	var got []tokenID
	scanTokens([]byte(row), prevAlnum, func(id tokenID) { got = append(got, id) })
	return got
}

func TestScanTokens(t *testing.T) {
	a, b := makeToken(tokenID{7, 1, 2}), makeToken(tokenID{7, 3, 4})
	ida, idb := tokenID{7, 1, 2}, tokenID{7, 3, 4}
	tests := []struct {
		name      string
		row       string
		prevAlnum bool
		want      []tokenID
	}{
		{"alone", a, false, []tokenID{ida}},
		{"in message", "load0001: " + a + " ", false, []tokenID{ida}},
		{"two", "x " + a + " " + b + " y", false, []tokenID{ida, idb}},
		{"adjacent needs boundary", a + b, false, []tokenID{ida}},
		{"at end, nothing after", "  " + a, false, []tokenID{ida}},
		{"followed by old content", "  " + a + "qqqq", false, []tokenID{ida}},
		{"truncated", "  " + a[:tokenLen-1], false, nil},
		{"inside a word", "abc" + a, false, nil},
		{"window starts after alnum", a + " ", true, nil},
		{"window starts after space", a + " ", false, []tokenID{ida}},
		{"zero byte cells", "\x00\x00" + a + "\x00", false, []tokenID{ida}},
		{"lower case z", "z" + a[1:], false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scanAll(tt.row, tt.prevAlnum); !slices.Equal(got, tt.want) {
				t.Fatalf("scan(%q) = %v, want %v", tt.row, got, tt.want)
			}
		})
	}
}

func TestBitset(t *testing.T) {
	var b bitset
	for _, i := range []int{0, 63, 64, 1000, 5} {
		if b.testAndSet(i) {
			t.Fatalf("bit %d set before", i)
		}
		if !b.testAndSet(i) {
			t.Fatalf("bit %d not set after", i)
		}
	}
	if b.testAndSet(6) {
		t.Fatal("bit 6 set")
	}
}
