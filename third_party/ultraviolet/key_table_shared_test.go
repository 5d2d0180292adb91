package uv

import (
	"reflect"
	"strings"
	"testing"
)

// sshchat fork: readers built with the same flags share one keys table,
// and it holds what buildKeysTable builds.
func TestSharedKeysTable(t *testing.T) {
	a := NewTerminalReader(strings.NewReader(""), "xterm-256color")
	b := NewTerminalReader(strings.NewReader(""), "xterm")
	if reflect.ValueOf(a.table).Pointer() != reflect.ValueOf(b.table).Pointer() {
		t.Fatal("readers do not share the keys table")
	}
	if !reflect.DeepEqual(a.table, buildKeysTable(0, "xterm-256color", false)) {
		t.Fatal("shared table differs from a fresh one")
	}
	if reflect.ValueOf(sharedKeysTable(0, "xterm", true)).Pointer() == reflect.ValueOf(a.table).Pointer() {
		t.Fatal("terminfo table must be cached apart")
	}
}
