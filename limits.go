package main

import (
	"strings"

	"charm.land/ssh"
)

// maxEnvValue is the longest environment value a session may set; the
// variables acceptEnv lets through hold short names.
const maxEnvValue = 256

// acceptEnv is sshchat's AcceptEnv: a session may set only the variables
// its UI reads (the colour profile: TERM, COLORTERM, NO_COLOR, CLICOLOR,
// CLICOLOR_FORCE, TERM_PROGRAM; the time zone of timestamps: TZ) and the
// locale (LANG, LC_*), with short values. Anything else is refused, so
// env requests cannot grow a session's memory (the SSH fork bounds the
// count and total size, see third_party/ssh/PATCHES.md).
func acceptEnv(_ ssh.Context, key, value string) bool {
	if len(value) > maxEnvValue {
		return false
	}
	switch key {
	case "TERM", "COLORTERM", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM_PROGRAM", "TZ", "LANG":
		return true
	}
	return strings.HasPrefix(key, "LC_") && len(key) <= 32
}
