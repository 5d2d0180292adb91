package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// The headers are written by hand from HAProxy's specification
// (proxy-protocol.txt), not with the parser's own writer, so the tests
// check what a balancer sends.

// proxyV1 is a PROXY protocol v1 header from src ("ip:port") to dst.
func proxyV1(src, dst string) []byte {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	family := "TCP4"
	if s.Addr().Is6() {
		family = "TCP6"
	}
	return fmt.Appendf(nil, "PROXY %s %s %s %d %d\r\n", family, s.Addr(), d.Addr(), s.Port(), d.Port())
}

// proxyV2Sig is the v2 header's signature.
var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// proxyV2 is a PROXY protocol v2 header (command PROXY, TCP over IPv4)
// from src to dst, both IPv4 "ip:port".
func proxyV2(src, dst string) []byte {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	b := append(slices.Clone(proxyV2Sig), 0x21, 0x11, 0, 12) // version 2, PROXY; AF_INET, STREAM; 12 bytes
	b = append(b, s.Addr().AsSlice()...)
	b = append(b, d.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, s.Port())
	return binary.BigEndian.AppendUint16(b, d.Port())
}

// proxyDial connects to addr, sends header as a load balancer would, then
// runs the SSH handshake and authentication on the same connection.
func proxyDial(t *testing.T, addr string, header []byte, cfg *gossh.ClientConfig) (*gossh.Client, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(header); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Now().Add(waitTimeout))
	sc, chans, reqs, err := gossh.NewClientConn(c, addr, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	client := gossh.NewClient(sc, chans, reqs)
	t.Cleanup(func() { client.Close() })
	return client, nil
}

// proxyRefusal sends header and returns everything the server writes
// before it closes the connection.
func proxyRefusal(t *testing.T, addr string, header []byte) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(header)
	c.Write([]byte("SSH-2.0-test\r\n"))
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	b, _ := io.ReadAll(c)
	return string(b)
}

// proxyConfig is testConfig with the PROXY protocol on, trusting trusted.
func proxyConfig(t *testing.T, dir, trusted string, args ...string) Config {
	t.Helper()
	return testConfig(t, dir, append([]string{"--proxy-protocol", "true", "--proxy-trusted", trusted}, args...)...)
}

// Behind a balancer every connection comes from the balancer: the
// per-source limits must count the client address its PROXY header (v1
// or v2) gives, and the log must name it, while a connection without a
// header (a health check on the machine) counts as itself.
func TestProxiedClientAddressIsWhatPerSourceLimitsCount(t *testing.T) {
	ts := startServer(t, proxyConfig(t, t.TempDir(), "127.0.0.0/8", "--max-conns-per-source", "1", "--max-startups-per-source", "1"))
	if _, err := proxyDial(t, ts.addr, proxyV1("203.0.113.7:40001", ts.addr), sshConfig("alice", newKey(t))); err != nil {
		t.Fatalf("first client behind the balancer: %v", err)
	}
	if got := proxyRefusal(t, ts.addr, proxyV2("203.0.113.7:40002", ts.addr)); got != "sshchat: too many connections from your address (at most 1)\r\n" {
		t.Fatalf("second connection of 203.0.113.7 got %q; want the per-source refusal", got)
	}
	eventually(t, "the refusal to be logged with the client's address", func() bool {
		return strings.Contains(ts.logs.String(), "remote=203.0.113.7:40002")
	})
	// Same socket address (the balancer's), another client: not counted
	// with the first.
	if _, err := proxyDial(t, ts.addr, proxyV2("203.0.113.8:40003", ts.addr), sshConfig("bob", newKey(t))); err != nil {
		t.Fatalf("another client behind the same balancer: %v", err)
	}
	if _, err := proxyDial(t, ts.addr, proxyV1("[2001:db8::1]:40004", "[::1]:2222"), sshConfig("carol", newKey(t))); err != nil {
		t.Fatalf("an IPv6 client behind the balancer: %v", err)
	}
	// No header: the connection's own address, itself under its limit.
	if err := cli(context.Background(), []string{"healthcheck", "--addr", ts.addr}, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatalf("healthcheck without a header: %v", err)
	}
	ts.srv.admit.mu.Lock()
	defer ts.srv.admit.mu.Unlock()
	for _, src := range []string{"203.0.113.7", "203.0.113.8", "2001:db8::/64"} {
		if ts.srv.admit.connsBySource[src] != 1 {
			t.Errorf("connections counted by source %v; want one for %s", ts.srv.admit.connsBySource, src)
		}
	}
}

// An authorized_keys from= option is matched against the client's
// address from the PROXY header, not the balancer's.
func TestProxiedClientAddressIsWhatFromOptionsSee(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	keys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keys, append([]byte(`from="203.0.113.0/24" `), gossh.MarshalAuthorizedKey(key.PublicKey())...), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, proxyConfig(t, dir, "127.0.0.1", "--authorized-keys", keys))
	if _, err := proxyDial(t, ts.addr, proxyV2("203.0.113.9:5000", ts.addr), sshConfig("alice", key)); err != nil {
		t.Fatalf("key used from an address its from= allows: %v", err)
	}
	if _, err := proxyDial(t, ts.addr, proxyV1("198.51.100.1:5000", ts.addr), sshConfig("alice", key)); err == nil {
		t.Fatal("key admitted from 198.51.100.1, outside its from=")
	}
	eventually(t, "the from= refusal to be logged with the client's address", func() bool {
		logs := ts.logs.String()
		return strings.Contains(logs, "remote=198.51.100.1:5000") && strings.Contains(logs, "from= option")
	})
	if c, err := gossh.Dial("tcp", ts.addr, sshConfig("alice", key)); err == nil {
		c.Close()
		t.Fatal("key admitted from the balancer's own address, outside its from=")
	}
}

// Only --proxy-trusted addresses may send a PROXY header: one from any
// other address would let a client choose its address, so the connection
// is refused in one line and logged. Without a header the same address is
// served as itself.
func TestProxyHeaderFromAnUntrustedAddressIsRefused(t *testing.T) {
	ts := startServer(t, proxyConfig(t, t.TempDir(), "192.0.2.0/24,2001:db8::/32"))
	for name, h := range map[string][]byte{"v1": proxyV1("203.0.113.7:4000", ts.addr), "v2": proxyV2("203.0.113.7:4000", ts.addr)} {
		if got := proxyRefusal(t, ts.addr, h); got != "sshchat: "+errProxyUntrusted.Error()+"\r\n" {
			t.Errorf("%s header from loopback, not trusted: got %q; want it refused", name, got)
		}
	}
	if strings.Contains(ts.logs.String(), "203.0.113.7") || !strings.Contains(ts.logs.String(), errProxyUntrusted.Error()) {
		t.Fatalf("the log must name the refusal and the real address, never the claimed one:\n%s", ts.logs.String())
	}
	c, err := gossh.Dial("tcp", ts.addr, sshConfig("alice", newKey(t)))
	if err != nil {
		t.Fatalf("a connection without a header from an untrusted address: %v", err)
	}
	c.Close()
}

// The header is read on the connection's own goroutine: a peer that
// stalls inside its header, or sends nothing, holds up no one else, and
// is closed at the header timeout; a malformed header, or a v1 header
// split over several reads (the parser's rule against slow senders), is
// refused in one line. Neither ends the listener.
func TestStalledOrMalformedProxyHeaderDoesNotHangTheListener(t *testing.T) {
	stall := func(t *testing.T, addr string) []net.Conn {
		var conns []net.Conn
		for _, first := range []string{string(proxyV2Sig[:8]), ""} {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			c.Write([]byte(first))
			conns = append(conns, c)
		}
		return conns
	}
	t.Run("others are served meanwhile", func(t *testing.T) {
		cfg := proxyConfig(t, t.TempDir(), "127.0.0.1")
		cfg.proxyHeaderTimeout = time.Hour
		ts := startServer(t, cfg)
		stalled := stall(t, ts.addr)
		if _, err := proxyDial(t, ts.addr, proxyV2("203.0.113.7:4000", ts.addr), sshConfig("alice", newKey(t))); err != nil {
			t.Fatalf("a client behind stalled headers: %v", err)
		}
		for i, c := range stalled {
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			var ne net.Error
			if _, err := c.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("stalled connection %d: %v; want it still waiting", i, err)
			}
		}
	})
	t.Run("stalled peers are closed", func(t *testing.T) {
		cfg := proxyConfig(t, t.TempDir(), "127.0.0.1")
		cfg.proxyHeaderTimeout = 100 * time.Millisecond
		ts := startServer(t, cfg)
		for i, c := range stall(t, ts.addr) {
			c.SetReadDeadline(time.Now().Add(waitTimeout))
			if b, _ := io.ReadAll(c); !strings.HasPrefix(string(b), "sshchat: ") {
				t.Errorf("stalled connection %d got %q; want a one-line refusal and the close", i, b)
			}
		}
		for name, h := range map[string]string{
			"v1 bad address": "PROXY TCP4 999.0.0.1 127.0.0.1 4000 2222\r\n",
			"v1 partial":     "PROXY TCP4 203.0",
			"v1 no CRLF":     "PROXY TCP4 203.0.113.7 127.0.0.1 4000 2222 " + strings.Repeat("x", 200) + "\r\n",
			"v2 short":       string(proxyV2Sig) + "\x21\x11\x00\x02ab",
			"v2 version 3":   string(proxyV2Sig) + "\x31\x11\x00\x0c" + strings.Repeat("\x01", 12),
		} {
			if got := proxyRefusal(t, ts.addr, []byte(h)); !strings.HasPrefix(got, "sshchat: "+errProxyMalformed.Error()) || strings.Count(got, "\n") != 1 {
				t.Errorf("%s: got %q; want a one-line refusal", name, got)
			}
		}
		eventually(t, "the stalled connections to be released", func() bool { return ts.srv.conns.Load() == 0 })
		if !strings.Contains(ts.logs.String(), errProxyTimeout.Error()) {
			t.Errorf("the timeouts are not logged:\n%s", ts.logs.String())
		}
		if _, err := proxyDial(t, ts.addr, proxyV1("203.0.113.7:4000", ts.addr), sshConfig("alice", newKey(t))); err != nil {
			t.Fatalf("after the bad headers: %v", err)
		}
	})
}

// --proxy-protocol and --proxy-trusted are read from flags and SSHCHAT_*
// variables; the protocol is off by default, needs trusted addresses, and
// a bad entry is refused in one line.
func TestProxyProtocolFlagsAndVariables(t *testing.T) {
	dir := t.TempDir()
	base := []string{"--data-dir", filepath.Join(dir, "d"), "--host-key", filepath.Join(dir, "k")}
	env := map[string]string{"SSHCHAT_PROXY_PROTOCOL": "true", "SSHCHAT_PROXY_TRUSTED": "10.0.0.0/8, 192.168.1.5,2001:db8::/32,::ffff:172.16.0.0/108"}
	cfg, err := parseConfig(base, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.5/32"),
		netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("172.16.0.0/12")}
	if !cfg.ProxyProtocol || !slices.Equal(cfg.ProxyTrusted, want) {
		t.Fatalf("config %v %v; want on, trusting %v", cfg.ProxyProtocol, cfg.ProxyTrusted, want)
	}
	cfg, err = parseConfig(append(base, "--proxy-trusted", "127.0.0.1"), func(k string) string { return env[k] }, io.Discard)
	if err != nil || !slices.Equal(cfg.ProxyTrusted, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}) {
		t.Fatalf("flag over variable: %v %v", cfg.ProxyTrusted, err)
	}
	def, err := parseConfig(base, func(string) string { return "" }, io.Discard)
	if err != nil || def.ProxyProtocol || def.ProxyTrusted != nil || newProxyHeaders(def) != nil {
		t.Fatalf("default: %v %v %v; want off", def.ProxyProtocol, def.ProxyTrusted, err)
	}
	for _, args := range [][]string{
		{"--proxy-protocol", "true"},
		{"--proxy-trusted", "10.0.0.0/8"},
		{"--proxy-protocol", "yes", "--proxy-trusted", "10.0.0.0/8"},
		{"--proxy-protocol", "true", "--proxy-trusted", "10.0.0.1/8"},
		{"--proxy-protocol", "true", "--proxy-trusted", "balancer.example"},
		{"--proxy-protocol", "true", "--proxy-trusted", "10.0.0.0/33"},
	} {
		if _, err := parseConfig(append(base, args...), func(string) string { return "" }, io.Discard); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v; want a one-line error", args, err)
		}
	}
}

// New accounts per address count the client behind the balancer, and the
// session log names it.
func TestProxiedClientAddressIsWhatNewAccountsAreCountedBy(t *testing.T) {
	ts := startServer(t, proxyConfig(t, t.TempDir(), "127.0.0.1", "--max-new-accounts-per-source", "1"))
	send := func(header []byte, user string) (string, error) {
		t.Helper()
		c, err := proxyDial(t, ts.addr, header, sshConfig(user, newKey(t)))
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		sess, err := c.NewSession()
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		defer sess.Close()
		out, err := sess.CombinedOutput("send lobby hi")
		return string(out), err
	}
	if out, err := send(proxyV2("203.0.113.7:4001", ts.addr), "one"); err != nil {
		t.Fatalf("first new account of 203.0.113.7: %v %q", err, out)
	}
	if out, err := send(proxyV1("203.0.113.7:4002", ts.addr), "two"); err == nil || !strings.Contains(out, "too many new accounts from your address") {
		t.Fatalf("second new account of 203.0.113.7: %v %q; want it refused", err, out)
	}
	if out, err := send(proxyV2("203.0.113.8:4003", ts.addr), "three"); err != nil {
		t.Fatalf("first new account of 203.0.113.8, through the same balancer: %v %q", err, out)
	}
	eventually(t, "the session log to name the client", func() bool {
		return strings.Contains(ts.logs.String(), "remote=203.0.113.8:4003")
	})
}
