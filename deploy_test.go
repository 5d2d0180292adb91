package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// deployEnv reads the SSHCHAT_* settings a shipped deployment file gives
// the server: the Dockerfile's ENV, the Compose files' environment (every
// service's, merged), the systemd files' Environment= lines.
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
	case "docker-compose.yml", "compose.cluster.yml":
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

// The files of docs/deploy.md configure nodes this server accepts: the
// Compose file's and the systemd drop-in's settings parse, every node has
// its own name, the nodes trust exactly the balancer's address for PROXY
// headers, and HAProxy sends them one and checks the /readyz they serve.
func TestClusterDeployFilesConfigureValidNodes(t *testing.T) {
	read := func(f string) string {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	compose, haproxy := read("deploy/compose.cluster.yml"), read("deploy/haproxy.cfg")
	// Compose's ${VAR}, ${VAR:?message}: a password.
	interp := regexp.MustCompile(`\$\{[A-Z_]+(:\?[^}]*)?\}`)
	parse := func(name string, env map[string]string) Config {
		t.Helper()
		dir := t.TempDir()
		env["SSHCHAT_DATA_DIR"] = filepath.Join(dir, "data")
		env["SSHCHAT_HOST_KEY"] = filepath.Join(dir, "host_ed25519")
		cfg, err := parseConfig(nil, func(k string) string { return interp.ReplaceAllString(env[k], "secret") }, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return cfg
	}
	addrOf := func(service string) string {
		m := regexp.MustCompile(`(?ms)^  ` + service + `:\n.*?ipv4_address: (\S+)`).FindStringSubmatch(compose)
		if m == nil {
			t.Fatalf("compose.cluster.yml: no address for %s", service)
		}
		return m[1]
	}
	lb := addrOf("haproxy")

	env := deployEnv(t, "deploy/compose.cluster.yml") // the shared settings and one node's name
	cfg := parse("compose.cluster.yml", env)
	if !cfg.ProxyProtocol || fmt.Sprint(cfg.ProxyTrusted) != "["+lb+"/32]" {
		t.Errorf("compose nodes trust %v for PROXY headers; want HAProxy's %s only", cfg.ProxyTrusted, lb)
	}
	if cfg.DatabaseURL == "" || !strings.Contains(cfg.DatabaseURL, "@postgres:5432/") || strings.Count(cfg.NATSURL, "nats://") != 3 {
		t.Errorf("compose nodes: database %q, NATS %q; want the postgres service and the three NATS servers", cfg.DatabaseURL, cfg.NATSURL)
	}
	names := regexp.MustCompile(`SSHCHAT_NODE_NAME: "([^"]*)"`).FindAllStringSubmatch(compose, -1)
	seen := map[string]bool{}
	for i, m := range names {
		if err := checkNodeName(m[1]); err != nil || seen[m[1]] {
			t.Errorf("node name %q: %v (duplicate: %v)", m[1], err, seen[m[1]])
		}
		seen[m[1]] = true
		node := fmt.Sprintf("sshchat%d", i+1)
		if !regexp.MustCompile(`(?m)^\s+server \S+ ` + regexp.QuoteMeta(addrOf(node)) + `:2222$`).MatchString(haproxy) {
			t.Errorf("haproxy.cfg has no server line for %s at %s:2222", node, addrOf(node))
		}
	}
	if len(names) != 3 {
		t.Errorf("%d node names in compose.cluster.yml; want 3", len(names))
	}
	_, port, _ := net.SplitHostPort(cfg.MetricsAddr)
	for _, want := range []string{"mode tcp", "default-server send-proxy-v2 check port " + port + " ", "http-check send meth GET uri /readyz", "http-check expect status 200", "bind " + lb + ":"} {
		if !strings.Contains(haproxy, want) {
			t.Errorf("haproxy.cfg lacks %q", want)
		}
	}

	// systemd: the unit, the drop-in over it, the node's env file as the
	// drop-in's comment shows it (EnvironmentFile= wins over Environment=).
	unit := deployEnv(t, "docs/sshchat.service")
	for k, v := range deployEnv(t, "deploy/sshchat-cluster.conf") {
		unit[k] = v
	}
	for _, m := range regexp.MustCompile(`(?m)^#\s+(SSHCHAT_[A-Z_]+)=(\S+)`).FindAllStringSubmatch(read("deploy/sshchat-cluster.conf"), -1) {
		unit[m[1]] = m[2]
	}
	if unit["SSHCHAT_HOST_KEY"] != "%d/host_ed25519" || !strings.Contains(read("deploy/sshchat-cluster.conf"), "LoadCredential=host_ed25519:") {
		t.Errorf("the drop-in does not hand every node the one host key: SSHCHAT_HOST_KEY=%s", unit["SSHCHAT_HOST_KEY"])
	}
	cfg = parse("sshchat-cluster.conf", unit)
	if !cfg.ProxyProtocol || fmt.Sprint(cfg.ProxyTrusted) != "["+lb+"/32]" || cfg.NodeName != "node1" || cfg.DatabaseURL == "" || cfg.NATSURL == "" {
		t.Errorf("systemd node: %+v", cfg)
	}
}
