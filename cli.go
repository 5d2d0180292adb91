package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"sshchat/model"
)

// The binary's own commands beside serving (issue 11, operations):
// `sshchat --version`, `sshchat healthcheck` and `sshchat backup FILE`.

// cli is main without the process: the first argument picks a command,
// anything else serves (run).
func cli(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "--version", "-version", "version":
			fmt.Fprintln(stdout, versionLine())
			return nil
		case "healthcheck":
			return healthcheck(ctx, args[1:], getenv)
		case "backup":
			return backup(ctx, args[1:], getenv, stdout)
		}
	}
	return run(ctx, args, getenv, stderr)
}

// versionLine is the module version, the VCS commit and the Go version
// the binary was built from, as its build info records them.
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "sshchat (no build info)"
	}
	version, commit, at, dirty := bi.Main.Version, "unknown", "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if version == "" {
		version = "(devel)"
	}
	line := "sshchat " + version + " commit " + commit
	if dirty {
		line += " (modified)"
	}
	if at != "" {
		line += " " + at
	}
	return line + " " + bi.GoVersion
}

// subcommandFlags is a flag set for a command beside serving, with the
// same SSHCHAT_* defaults as the server's flags.
func subcommandFlags(name string, getenv func(string) string) (*flag.FlagSet, func(p *string, flagName, envName, def, usage string)) {
	fs := flag.NewFlagSet("sshchat "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, func(p *string, flagName, envName, def, usage string) {
		v := getenv(envPrefix + envName)
		if v == "" {
			v = def
		}
		fs.StringVar(p, flagName, v, usage+" [$"+envPrefix+envName+"]")
	}
}

// errUnhealthy is the healthcheck's failure.
var errUnhealthy = errors.New("unhealthy")

// healthcheck succeeds when the server at --addr completes an SSH
// handshake and offers authentication: any host key is accepted, and no
// credentials are needed. It fails with one line otherwise.
func healthcheck(ctx context.Context, args []string, getenv func(string) string) error {
	fs, str := subcommandFlags("healthcheck", getenv)
	var addr, timeout string
	str(&addr, "addr", "ADDR", ":2222", "server `address` host:port")
	str(&timeout, "timeout", "HEALTHCHECK_TIMEOUT", "5s", "`time` to connect and reach authentication")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	wait, err := time.ParseDuration(timeout)
	if err != nil || wait <= 0 {
		return fmt.Errorf("healthcheck: invalid timeout %q: want a duration like 5s", timeout)
	}
	if err := checkAddr(addr); err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	if err := probeSSH(ctx, addr, wait); err != nil {
		return fmt.Errorf("%w: %s: %w", errUnhealthy, addr, err)
	}
	return nil
}

// errReachedAuth stops the probe once the server offers authentication.
var errReachedAuth = errors.New("reached authentication")

// probeSSH dials addr and runs the SSH handshake up to authentication.
func probeSSH(ctx context.Context, addr string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	reached := false
	cfg := &gossh.ClientConfig{
		User:            "healthcheck",
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		// Called only once the server has answered the "none" method with
		// the methods it accepts: the handshake is complete.
		Auth: []gossh.AuthMethod{gossh.PublicKeysCallback(func() ([]gossh.Signer, error) {
			reached = true
			return nil, errReachedAuth
		})},
	}
	c, _, _, err := gossh.NewClientConn(conn, addr, cfg)
	if c != nil {
		c.Close()
	}
	if reached {
		return nil
	}
	if err == nil {
		return errors.New("server accepted no authentication at all")
	}
	return err
}

// backup writes a consistent copy of the running (or stopped) server's
// database to a new FILE (model.BackupFile).
func backup(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs, str := subcommandFlags("backup", getenv)
	var dataDir, dbPath string
	str(&dataDir, "data-dir", "DATA_DIR", "data", "data `directory` holding the database")
	str(&dbPath, "db", "DB", "", "database `file` (empty: DATA_DIR/sshchat.db)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("backup: %w (usage: sshchat backup [--data-dir DIR] [--db FILE] FILE)", err)
	}
	if fs.NArg() != 1 {
		return errors.New("backup: want one argument, the new backup FILE (usage: sshchat backup [--data-dir DIR] [--db FILE] FILE)")
	}
	if getenv("SSHCHAT_DATABASE_URL") != "" {
		return errors.New("backup: the database is PostgreSQL (SSHCHAT_DATABASE_URL is set): back it up with pg_dump (docs/deploy.md)")
	}
	if dbPath == "" {
		dbPath = filepath.Join(dataDir, "sshchat.db")
	}
	dest := fs.Arg(0)
	if err := model.BackupFile(ctx, dbPath, dest); err != nil {
		if errors.Is(err, model.ErrBackupExists) {
			return fmt.Errorf("backup: %s exists; give a new file name", dest)
		}
		return oneLine(err)
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", dbPath, dest)
	return nil
}

// oneLine keeps an error to its first line.
func oneLine(err error) error {
	if s := err.Error(); strings.Contains(s, "\n") {
		first, _, _ := strings.Cut(s, "\n")
		return errors.New(first)
	}
	return err
}
