package main

import (
	"context"
	"errors"
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

// The cluster settings are read from flags and SSHCHAT_* variables (a
// flag wins); without them the server is one node on SQLite named after
// its host.
func TestClusterFlagsAndVariables(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--data-dir", filepath.Join(dir, "d"), "--host-key", filepath.Join(dir, "k")}
	env := map[string]string{
		"SSHCHAT_DATABASE_URL": "postgres://sshchat:secret@db1:5432/sshchat?sslmode=disable",
		"SSHCHAT_NATS_URL":     "nats://nats1:4222,nats://nats2:4222",
		"SSHCHAT_NODE_NAME":    "from-env",
	}
	cfg, err := parseConfig(append(base, "--node-name", "chat-2.eu_west"), func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL != env["SSHCHAT_DATABASE_URL"] || cfg.NATSURL != env["SSHCHAT_NATS_URL"] || cfg.NodeName != "chat-2.eu_west" {
		t.Fatalf("config %+v", cfg)
	}
	cfg, err = parseConfig(append(base, "--database-url", "postgresql:///sshchat?host=/run/postgresql", "--nats-url", "tls://user:pw@nats.example:4222"), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL != "postgresql:///sshchat?host=/run/postgresql" || cfg.NATSURL != "tls://user:pw@nats.example:4222" {
		t.Fatalf("config %+v", cfg)
	}
	def, err := parseConfig(base, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := hostNodeName(os.Hostname, false)
	if def.DatabaseURL != "" || def.NATSURL != "" || def.NodeName != host || def.DBPath != filepath.Join(dir, "d", "sshchat.db") {
		t.Fatalf("defaults %+v; want SQLite in the data directory, no NATS, node %q", def, host)
	}
}

// A bad cluster setting stops the server with one line naming it, and
// never prints the password a URL holds.
func TestBadClusterSettingsFailWithOneLine(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--data-dir", filepath.Join(dir, "d"), "--host-key", filepath.Join(dir, "k")}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--database-url", "mysql://root:hunter2@db/chat"}, `unknown scheme "mysql"`},
		{[]string{"--database-url", "db.example/chat"}, "no scheme"},
		{[]string{"--database-url", "postgres://u:hunter2@db/%zz"}, "not a URL"},
		{[]string{"--database-url", "postgres://db/chat", "--db", filepath.Join(dir, "x.db")}, "both --db and --database-url"},
		{[]string{"--nats-url", "http://nats:4222"}, "want nats://HOST:4222 or tls://HOST:4222"},
		{[]string{"--nats-url", "nats://a:4222,ws://b:hunter2@c"}, `"ws://b:xxxxx@c"`},
		{[]string{"--nats-url", "nats://:4222"}, "no host"},
		{[]string{"--nats-url", "nats://a:99999"}, "bad port"},
		{[]string{"--node-name", "node 1"}, "invalid node name"},
		{[]string{"--node-name", "nöde"}, "invalid node name"},
		{[]string{"--node-name", strings.Repeat("n", 65)}, "at most 64"},
	} {
		_, err := parseConfig(append(base, c.args...), func(string) string { return "" }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: %v; want one line with %q and no password", c.args, err, c.want)
		}
	}
	if err := checkNodeName(strings.Repeat("n", 64)); err != nil {
		t.Errorf("64-byte node name: %v", err)
	}
}

// The default node name is the host name made valid; without one a single
// node still starts, while a cluster, where names must differ, asks for
// --node-name.
func TestNodeNameDefaultsToTheHostName(t *testing.T) {
	for host, want := range map[string]string{
		"chat1":                 "chat1",
		"chat1.example.org":     "chat1.example.org",
		"bad host/name":         "bad-host-name",
		strings.Repeat("h", 70): strings.Repeat("h", 64),
		"héte":                  "h-te",
	} {
		got, err := hostNodeName(func() (string, error) { return host, nil }, true)
		if err != nil || got != want || checkNodeName(got) != nil {
			t.Errorf("host %q: node name %q, %v; want %q", host, got, err, want)
		}
	}
	failing := func() (string, error) { return "", errors.New("no uts") }
	if got, err := hostNodeName(failing, false); err != nil || got != "sshchat" {
		t.Errorf("single node without a host name: %q, %v; want sshchat", got, err)
	}
	if _, err := hostNodeName(failing, true); err == nil || !strings.Contains(err.Error(), "--node-name") {
		t.Errorf("cluster without a host name: %v; want an error asking for --node-name", err)
	}
}

// Until the PostgreSQL store is wired, a server asked for it refuses to
// start in one line rather than serving alone on SQLite.
func TestClusterSettingsAreNotSilentlyIgnored(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"--database-url", "postgres://db/chat"}} {
		err := run(context.Background(), append([]string{"--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "d"), "--host-key", filepath.Join(dir, "k")}, args...),
			func(string) string { return "" }, io.Discard)
		if !errors.Is(err, errClusterUnavailable) {
			t.Errorf("%q: %v; want the server to refuse to start", args, err)
		}
	}
}
