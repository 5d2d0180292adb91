package modeltest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestWithoutPostgreSQLSkipsOrFailsWhenRequired runs PostgresURL in a
// child without a server: it skips saying why, or, with EnvRequire=1
// (as .ci/run sets it), fails.
func TestWithoutPostgreSQLSkipsOrFailsWhenRequired(t *testing.T) {
	if os.Getenv("MODELTEST_CHILD") == "1" {
		PostgresURL(t)
		return
	}
	for _, require := range []string{"", "1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWithoutPostgreSQLSkipsOrFailsWhenRequired$", "-test.v")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, EnvURL+"=") && !strings.HasPrefix(kv, EnvRequire+"=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "MODELTEST_CHILD=1", EnvRequire+"="+require)
		out, err := cmd.CombinedOutput()
		if !strings.Contains(string(out), SkipMessage) {
			t.Errorf("require=%q: output does not say why:\n%s", require, out)
		}
		if failed := err != nil; failed != (require == "1") {
			t.Errorf("require=%q: failed=%v (%v), want %v:\n%s", require, failed, err, require == "1", out)
		}
		if require == "" && !strings.Contains(string(out), "--- SKIP") {
			t.Errorf("without the requirement the test should skip:\n%s", out)
		}
	}
}
