package ui

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"sshchat/chat"
)

// TestEveryChatSentinelIsShownNotAsInternalError: the UI shows only known
// chat errors; every sentinel chat declares must be one of them.
func TestEveryChatSentinelIsShownNotAsInternalError(t *testing.T) {
	for _, e := range chat.UserErrors() {
		err := fmt.Errorf("%w: the reason", e)
		got := userText(err)
		if got == internalError || !strings.Contains(got, "the reason") {
			t.Errorf("userText(%v) = %q", err, got)
		}
		if !isKnownChatError(err) {
			t.Errorf("%v is logged as unexpected", err)
		}
	}
	if got := userText(errors.New("disk full")); got != internalError {
		t.Errorf("unknown error shown as %q", got)
	}
}

func TestSentenceErrorsDropTheirSentinelPrefix(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("%w: carol is not in your contacts", chat.ErrNotListed):                   "carol is not in your contacts",
		fmt.Errorf("%w: bob is already blocked", chat.ErrAlreadyListed):                      "bob is already blocked",
		fmt.Errorf("%w: you blocked bob; /unblock bob to write to them", chat.ErrNotAllowed): "you blocked bob; /unblock bob to write to them",
		fmt.Errorf("%w: type a command after /, e.g. /help", chat.ErrUnknownCommand):         "type a command after /, e.g. /help",
		fmt.Errorf("%w: /msg HANDLE [TEXT]", chat.ErrUsage):                                  "usage: /msg HANDLE [TEXT]",
	} {
		if got := userText(err); got != want {
			t.Errorf("userText(%v) = %q; want %q", err, got, want)
		}
	}
}

func TestLoginReasonIsOneSentence(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("%w: %q is already taken; pick another", chat.ErrHandleTaken, "bob"):     `The handle "bob" is already taken.`,
		fmt.Errorf("%w: \"root\" is reserved for the system", chat.ErrHandleInvalid):        `Your SSH user name can't be a handle: "root" is reserved for the system.`,
		fmt.Errorf("%w: 'é' (U+00E9) is not allowed; handles are …", chat.ErrHandleInvalid): `Your SSH user name can't be a handle: 'é' (U+00E9) is not allowed; handles are ….`,
	} {
		if got := loginText("bob", err); got != want {
			t.Errorf("loginText(%v) = %q; want %q", err, got, want)
		}
	}
}

func TestHangingIndentNeverBreaksAWordThatFitsALine(t *testing.T) {
	fp := "SHA256:Q1X8xqFUASUW41XTzHOHo6TnPMiQTezFl1XVexVnJlo"
	got := wrapHanging("key:       "+fp, 58)
	if len(got) != 2 || strings.TrimSpace(got[1]) != fp {
		t.Fatalf("wrapHanging = %q", got)
	}
	for _, l := range got {
		if w := len(l); w > 58 {
			t.Fatalf("line %q is %d wide", l, w)
		}
	}
}
