package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// deployEnv reads the SSHCHAT_* settings a shipped deployment file gives
// the server: the Dockerfile's ENV, docker-compose.yml's environment, the
// systemd unit's Environment= lines.
func deployEnv(t *testing.T, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var re *regexp.Regexp
	switch filepath.Base(file) {
	case "Dockerfile":
		re = regexp.MustCompile(`(SSHCHAT_[A-Z_]+)=(\S+)`)
	case "docker-compose.yml":
		re = regexp.MustCompile(`(?m)^\s+(SSHCHAT_[A-Z_]+):\s*"([^"]*)"`)
	default:
		re = regexp.MustCompile(`(?m)^Environment=(SSHCHAT_[A-Z_]+)=(\S+)`)
	}
	env := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		env[m[1]] = m[2]
	}
	return env
}

// The Dockerfile, docker-compose.yml (on top of the image's environment)
// and docs/sshchat.service configure a server that starts, stores its
// database and host key in the data directory, serves /readyz when it
// sets a metrics address, passes `sshchat healthcheck` (the command their
// health checks run) and stops cleanly.
func TestShippedDeploymentConfigsRunAndPassTheirHealthcheck(t *testing.T) {
	docker := deployEnv(t, "Dockerfile")
	compose := deployEnv(t, "docker-compose.yml")
	for k, v := range docker {
		if _, ok := compose[k]; !ok {
			compose[k] = v
		}
	}
	for _, f := range []string{"Dockerfile", "docker-compose.yml"} {
		b, _ := os.ReadFile(f)
		if !strings.Contains(string(b), `"/usr/local/bin/sshchat", "healthcheck"]`) {
			t.Errorf("%s: no health check running sshchat healthcheck", f)
		}
	}
	for name, c := range map[string]struct {
		env  map[string]string
		data string // the data directory the file names
	}{
		"Dockerfile":         {docker, "/data"},
		"docker-compose.yml": {compose, "/data"},
		"sshchat.service":    {deployEnv(t, "docs/sshchat.service"), "/var/lib/sshchat"},
	} {
		t.Run(name, func(t *testing.T) {
			if c.env["SSHCHAT_DATA_DIR"] != c.data || c.env["SSHCHAT_ADDR"] != ":2222" {
				t.Fatalf("%s sets %v; want the data in %s and port 2222", name, c.env, c.data)
			}
			vol := filepath.Join(t.TempDir(), "data")
			env := map[string]string{}
			for k, v := range c.env {
				env[k] = strings.Replace(v, c.data, vol, 1)
			}
			env["SSHCHAT_ADDR"] = "127.0.0.1:0" // the container's :2222, on a free port
			if env["SSHCHAT_METRICS_ADDR"] != "" {
				env["SSHCHAT_METRICS_ADDR"] = "127.0.0.1:0"
			}
			t.Setenv("HOME", vol)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			logs := &syncBuffer{}
			done := make(chan error, 1)
			go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, logs) }()
			var addr string
			eventually(t, "the server to listen", func() bool {
				m := sshListening.FindStringSubmatch(logs.String())
				if m != nil {
					addr = m[1]
				}
				return m != nil
			})
			if _, err := os.Stat(filepath.Join(vol, "sshchat.db")); err != nil {
				t.Errorf("database not in the data directory: %v", err)
			}
			if _, err := os.Stat(strings.Replace(c.env["SSHCHAT_HOST_KEY"], c.data, vol, 1)); err != nil {
				t.Errorf("host key not created where configured: %v", err)
			}
			if m := metricsListening.FindStringSubmatch(logs.String()); m != nil {
				eventually(t, "/readyz", func() bool { code, _ := get(t, "http://"+m[1]+"/readyz"); return code == 200 })
			}
			hc := func(k string) string {
				if k == "SSHCHAT_ADDR" {
					return addr
				}
				return env[k]
			}
			if err := cli(ctx, []string{"healthcheck"}, hc, io.Discard, io.Discard); err != nil {
				t.Errorf("healthcheck: %v", err)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("run returned %v on shutdown; want nil", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("server did not stop")
			}
		})
	}
}
