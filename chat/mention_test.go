package chat

import (
	"slices"
	"testing"
)

func TestMentionedFindsHandlesNotEmailsOrPunctuation(t *testing.T) {
	cases := []struct {
		body string
		want []string
	}{
		{"@alice hi", []string{"alice"}},
		{"hi @Alice, and @bob.", []string{"alice", "bob"}},
		{"thanks @carol-", []string{"carol"}},
		{"mail bob@example.com", nil},
		{"@alice @ALICE @alice", []string{"alice"}},
		{"(@dave) [@eve]", []string{"dave", "eve"}},
		{"@ alone", nil},
		{"@_x starts badly", nil},
		{"@a.b.c works", []string{"a.b.c"}},
		{"@" + "abcdefghijklmnopqrstuvwxyz", nil}, // longer than a handle
		{"@élan", nil},
		{"", nil},
	}
	for _, c := range cases {
		if got := Mentioned(c.body); !slices.Equal(got, c.want) {
			t.Errorf("Mentioned(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}

func TestMentionsMatchesOnlyTheKey(t *testing.T) {
	if !Mentions("ping @Bob now", "bob") {
		t.Error("@Bob does not mention bob")
	}
	if Mentions("ping @bobby", "bob") || Mentions("ping bob", "bob") || Mentions("@bob", "") {
		t.Error("mention matched more than the key")
	}
}
