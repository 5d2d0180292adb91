package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pires/go-proxyproto"
)

// PROXY protocol (v1 and v2, HAProxy's) on the SSH listener. Behind a
// TCP load balancer every connection comes from the balancer; the header
// it sends first carries the client's address, which then is the
// connection's RemoteAddr for everything that reads it: the per-source
// limits and the admission log (limits.go), from= options (keyoptions.go),
// new accounts per source (accounts.go), and every log line.
//
// Only addresses in --proxy-trusted may send a header: a header from any
// other address is refused, with a log line, since believing it would let
// a client choose its own address. A connection without a header is
// served with its own address, trusted or not (a health check on the same
// machine, an operator connecting directly). The header is read on the
// connection's own goroutine (admitConn), never in the accept loop, and
// within defaultProxyHeaderTimeout (or the login timeout, if shorter): a
// client that stalls or sends a malformed header is closed and the
// listener goes on.

// defaultProxyHeaderTimeout bounds the wait for the first bytes of a
// connection with --proxy-protocol on. A balancer sends its header at
// once, and an SSH client its version line, so only a stalled peer waits
// it out.
const defaultProxyHeaderTimeout = 5 * time.Second

// Why a connection's PROXY header is refused; wrapped with the detail.
var (
	errProxyUntrusted = errors.New("PROXY header from an address not in --proxy-trusted")
	errProxyMalformed = errors.New("malformed or incomplete PROXY header")
	errProxyTimeout   = errors.New("no PROXY header or SSH version in time")
)

// proxyHeaders reads the PROXY header a connection may start with.
type proxyHeaders struct {
	trusted []netip.Prefix
	timeout time.Duration
}

// newProxyHeaders returns the header reader for cfg, or nil when
// --proxy-protocol is off.
func newProxyHeaders(cfg Config) *proxyHeaders {
	if !cfg.ProxyProtocol {
		return nil
	}
	timeout := cfg.proxyHeaderTimeout
	if timeout <= 0 {
		timeout = min(defaultProxyHeaderTimeout, cfg.LoginTimeout)
	}
	return &proxyHeaders{trusted: cfg.ProxyTrusted, timeout: timeout}
}

// trusts reports whether ip may send a PROXY header.
func (p *proxyHeaders) trusts(ip netip.Addr) bool {
	for _, pfx := range p.trusted {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

// read reads c's PROXY header, if it starts with one, and returns the rest
// of the connection: its RemoteAddr is the client's address the header
// gives (c's own without a header, or with a LOCAL or UNKNOWN one, which
// a balancer sends for its own checks). It fails, c to be closed, on a
// header from an untrusted address, a malformed one, or silence.
func (p *proxyHeaders) read(c net.Conn) (net.Conn, error) {
	if err := c.SetReadDeadline(time.Now().Add(p.timeout)); err != nil {
		return nil, fmt.Errorf("read PROXY header: %w", err)
	}
	r := bufio.NewReaderSize(c, 256)
	h, err := proxyproto.Read(r)
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return nil, fmt.Errorf("read PROXY header: %w", err)
	}
	pc := &proxyConn{Conn: c, r: r, remote: c.RemoteAddr()}
	var ne net.Error
	switch {
	case errors.Is(err, proxyproto.ErrNoProxyProtocol):
		return pc, nil // the bytes read stay in r, for the SSH server
	case errors.As(err, &ne) && ne.Timeout():
		return nil, errProxyTimeout
	case err != nil:
		return nil, fmt.Errorf("%w: %v", errProxyMalformed, err)
	case !p.trusts(addrIP(c.RemoteAddr())):
		return nil, errProxyUntrusted
	}
	if src, ok := h.SourceAddr.(*net.TCPAddr); ok && h.Command.IsProxy() && h.TransportProtocol.IsStream() {
		pc.remote = src
	}
	return pc, nil
}

// proxyConn is a connection after its PROXY header: reads drain what was
// read past the header first, and RemoteAddr is the client's.
type proxyConn struct {
	net.Conn
	r      *bufio.Reader // nil once drained; read by one goroutine, the SSH transport's
	remote net.Addr
}

// Read reads the bytes buffered past the header, then the connection.
func (c *proxyConn) Read(b []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(b)
		}
		c.r = nil
	}
	return c.Conn.Read(b)
}

// RemoteAddr is the client's address: the header's source, or the
// connection's own.
func (c *proxyConn) RemoteAddr() net.Addr { return c.remote }

// parseProxyFlags reads --proxy-protocol (true or false) and
// --proxy-trusted (comma-separated CIDR networks or addresses). The
// protocol needs trusted addresses: a header from anyone would let every
// client choose its address. Trusted addresses without the protocol are
// refused too, as a setting that would do nothing.
func parseProxyFlags(on, trusted string) (bool, []netip.Prefix, error) {
	enabled, err := strconv.ParseBool(on)
	if err != nil {
		return false, nil, fmt.Errorf("invalid proxy protocol %.40q: want true or false", on)
	}
	var nets []netip.Prefix
	for entry := range strings.SplitSeq(trusted, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		pfx, err := parseTrusted(entry)
		if err != nil {
			return false, nil, err
		}
		nets = append(nets, pfx)
	}
	switch {
	case enabled && len(nets) == 0:
		return false, nil, errors.New("--proxy-protocol needs --proxy-trusted: the load balancers' addresses, the only ones whose PROXY header is believed")
	case !enabled && len(nets) > 0:
		return false, nil, errors.New("--proxy-trusted is set but --proxy-protocol is not: set both, or neither")
	}
	return enabled, nets, nil
}

// parseTrusted reads one --proxy-trusted entry: a CIDR network without
// host bits, or one address.
func parseTrusted(entry string) (netip.Prefix, error) {
	if !strings.Contains(entry, "/") {
		ip, err := netip.ParseAddr(entry)
		if err != nil || ip.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid --proxy-trusted entry %.80q: want a CIDR network like 10.0.0.0/8 or an address", entry)
		}
		ip = ip.Unmap()
		return netip.PrefixFrom(ip, ip.BitLen()), nil
	}
	pfx, err := netip.ParsePrefix(entry)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid --proxy-trusted entry %.80q: want a CIDR network like 10.0.0.0/8 or an address", entry)
	}
	if pfx.Masked() != pfx {
		return netip.Prefix{}, fmt.Errorf("invalid --proxy-trusted entry %.80q: host bits set; the network is %s", entry, pfx.Masked())
	}
	if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
	}
	return pfx, nil
}
