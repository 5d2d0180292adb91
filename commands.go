package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
	"unicode"

	"charm.land/log/v2"
	"charm.land/ssh"
	"github.com/anmitsu/go-shlex"
	"github.com/spf13/cobra"

	"sshchat/chat"
	"sshchat/ui"
)

// Exit statuses of a command session.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed; one line on stderr says why
	exitUsage = 2 // the command line was wrong; one line on stderr says how
)

// commandBroker is what the command tree needs of the hub.
type commandBroker interface {
	Authenticate(ctx context.Context, key chat.Key) (chat.Account, error)
	Register(ctx context.Context, key chat.Key, handle string) (chat.Account, error)
	Attach(ctx context.Context, acct chat.Account) (chat.Session, error)
	Follow(ctx context.Context, s chat.Session, conv chat.ConvID) error
}

var _ commandBroker = (*chat.Hub)(nil)

// failure is an error of a command that ran (exit 1); every other error of
// the tree is a usage error (exit 2).
type failure struct{ err error }

func (f failure) Error() string { return f.err.Error() }
func (f failure) Unwrap() error { return f.err }

func fail(err error) error { return failure{err} }

// usageLine is a usage error (exit 2) whose line already says how to use
// the command; run adds nothing to it.
type usageLine string

func (u usageLine) Error() string { return string(u) }

// errOutput is a write to the client that failed: it has gone away.
var errOutput = errors.New("write output")

// errBadConv is a CONV argument of none of the accepted forms.
var errBadConv = errors.New("CONV is #room, @handle or lobby")

// commands answers sessions without a terminal: `ssh host COMMAND` runs one
// command of the tree (cmdEnv.tree) and exits with its status. It
// takes the place of the chat UI for them, so it is the innermost handler.
func (s *server) commands(ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		port := "2222"
		if _, p, err := net.SplitHostPort(s.cfg.Addr); err == nil && p != "0" {
			port = p
		}
		prefix := "ssh -p " + port + " host"
		if port == "22" {
			prefix = "ssh host"
		}
		ctx, cancel := context.WithCancel(sess.Context())
		defer cancel()
		env := &cmdEnv{
			ctx: ctx, broker: s.broker, sess: sess, prefix: prefix,
			in: sess, out: sess, errOut: sess.Stderr(),
			retry: time.Duration(float64(time.Second) / s.cfg.MsgRate),
			ended: make(chan string, 1), cancel: cancel, log: s.log,
			live: func() func() {
				st := connStateOf(sess.Context())
				if st == nil {
					return func() {}
				}
				st.sessionStarted()
				return func() { s.sessionEnded(st) }
			},
		}
		// A revocation (ui.End) ends the command at once, with its reason.
		ends, release := ui.EndRequests(sess)
		defer release()
		go func() {
			select {
			case r := <-ends:
				env.end(r)
			case <-ctx.Done():
			}
		}()
		code := env.run(sess.RawCommand())
		if err := sess.Exit(code); err != nil {
			s.log.Debug("command exit status not delivered", "err", err)
		}
	}
}

// cmdEnv is one command session: its streams, its identity and, once a
// command needs it, its quiet chat session (chat.Hub.Attach).
type cmdEnv struct {
	ctx    context.Context
	broker commandBroker
	sess   ssh.Session // identity: key and user name
	prefix string      // "ssh -p PORT host", for help and usage lines
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	retry  time.Duration // wait after a rate-limited line of `send` from stdin

	ended  chan string // the reason the command was ended from outside (end)
	cancel func()      // cancels ctx
	log    *log.Logger // for the slow-consumer hang-up
	// live marks the connection live (liveSession) until the returned
	// func is called: a command that runs as the account is activity.
	live   func() (end func())
	unlive func()

	chat chat.Session // attached by session(); closed by run
}

// run executes the command line raw and returns the exit status.
func (e *cmdEnv) run(raw string) int {
	defer func() {
		if e.chat != nil {
			e.chat.Close()
			e.unlive()
		}
	}()
	args, err := shlex.Split(raw, true)
	if err != nil {
		e.errLine("cannot split the command line (" + err.Error() + "); give text with quotes on stdin: echo \"it's here\" | " + e.prefix + " send lobby")
		return exitUsage
	}
	root := e.tree()
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	select {
	case reason := <-e.ended:
		e.errLine(reason)
		return exitFail
	default:
	}
	if err == nil {
		return exitOK
	}
	if f, ok := errors.AsType[failure](err); ok {
		if !userError(f.err) {
			name := ""
			if cmd != nil {
				name = cmd.Name()
			}
			e.log.Error("command failed", "command", name, "err", f.err)
		}
		e.errLine(ui.UserText(f.err))
		return exitFail
	}
	line, _, _ := strings.Cut(err.Error(), "\n")
	line = chat.SanitizeText(line) // it may quote the command line
	if _, whole := errors.AsType[usageLine](err); !whole && cmd != nil && cmd != root {
		line += "; usage: " + e.prefix + " " + cmd.Use
	}
	e.errLine(line)
	return exitUsage
}

// userError reports whether err carries a reason meant for the user (see
// chat.UserErrors), or is the end of the session; anything else is logged.
func userError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, errOutput) {
		return true
	}
	for _, known := range chat.UserErrors() {
		if errors.Is(err, known) {
			return true
		}
	}
	return false
}

// end ends the command from outside (revocation, shutdown) with reason,
// which run prints instead of what the command says as it stops. The
// first reason wins.
func (e *cmdEnv) end(reason string) {
	select {
	case e.ended <- reason:
	default:
	}
	e.cancel()
}

// endAtShutdown ends the command when the hub shuts down sess, or an
// administrator ends it (a send waiting on stdin would not notice).
func (e *cmdEnv) endAtShutdown(sess chat.Session) {
	select {
	case <-e.ctx.Done():
		return
	case <-sess.Done():
	}
	if err := sess.Err(); errors.Is(err, chat.ErrShutdown) || errors.Is(err, chat.ErrRemoved) {
		e.end(ui.UserText(err))
	}
}

// chatCommand is how to open the chat: "ssh -t -p PORT host".
func (e *cmdEnv) chatCommand() string {
	return strings.Replace(e.prefix, "ssh", "ssh -t", 1)
}

// errLine writes one line to stderr.
func (e *cmdEnv) errLine(s string) {
	s = strings.ReplaceAll(s, "\n", " ")
	_, _ = fmt.Fprintln(e.errOut, "sshchat: "+s)
}

// session returns the user's quiet chat session, attaching it the first
// time. A key without an account gets one with its SSH user name as the
// handle, as at an interactive login.
func (e *cmdEnv) session() (chat.Session, error) {
	if e.chat != nil {
		return e.chat, nil
	}
	key, ok := ui.Identify(e.sess)
	if !ok {
		return nil, fail(fmt.Errorf("%w: a public key is required", chat.ErrNotAllowed))
	}
	acct, err := e.broker.Authenticate(e.ctx, key)
	if errors.Is(err, chat.ErrUnknownKey) {
		acct, err = e.broker.Register(e.ctx, key, e.sess.User())
		if errors.Is(err, chat.ErrHandleInvalid) || errors.Is(err, chat.ErrHandleTaken) {
			return nil, fail(fmt.Errorf("%w: this key has no account and %q cannot be its handle (%s); log in once with ssh -t to choose one",
				chat.ErrNotAllowed, clip(e.sess.User(), 32), ui.UserText(err)))
		}
	}
	if err != nil {
		return nil, fail(err)
	}
	sess, err := e.broker.Attach(e.ctx, acct)
	if err != nil {
		return nil, fail(err)
	}
	e.chat = sess
	e.unlive = e.live()
	// A tail whose client stopped reading is stalled in a write; once the
	// hub drops it, closing the channel ends the write.
	go ui.HangUpWhenDropped(e.ctx, sess, e.sess, e.log)
	go e.endAtShutdown(sess)
	return sess, nil
}

// tree builds the command tree of one session.
func (e *cmdEnv) tree() *cobra.Command {
	root := &cobra.Command{
		Use:           "sshchat",
		Short:         "Chat from scripts: the commands of this server over ssh without a terminal.",
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q; %s help lists them, %s opens the chat", clip(args[0], 32), e.prefix, e.chatCommand())
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error { return e.help(c) },
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(e.in)
	root.SetOut(e.out)
	root.SetErr(e.errOut)
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { _ = e.help(c) })
	root.SetUsageFunc(e.help)
	root.SetContext(e.ctx)
	root.AddCommand(e.whoCmd(), e.roomsCmd(), e.sendCmd(), e.historyCmd(), e.tailCmd(), e.unreadCmd(), e.adminCmd(), e.searchCmd())
	return root
}

// help writes the help of c: the list of commands for the root, the usage
// and flags of one command otherwise.
func (e *cmdEnv) help(c *cobra.Command) error {
	w := c.OutOrStdout()
	if c == c.Root() {
		fmt.Fprintf(w, "%s\nFor the chat itself, connect with a terminal: %s\n\nUsage: %s COMMAND [ARGS]\n\nCommands:\n",
			c.Short, e.chatCommand(), e.prefix)
		width := 0
		for _, sub := range c.Commands() {
			width = max(width, len(sub.Use))
		}
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				fmt.Fprintf(w, "  %-*s  %s\n", width, sub.Use, sub.Short)
			}
		}
		fmt.Fprintf(w, "\nCONV is #room, @handle (a direct conversation) or lobby. --json writes one JSON\n"+
			"object per line. Exit status: 0 done, 1 failed (one line on stderr), 2 usage.\n\n"+
			"Examples:\n  %[1]s send lobby 'hello from cron'\n  %[1]s history '#ops' --limit 20 --json\n"+
			"  %[1]s tail '#ops' --json | jq --unbuffered -r '.body' | ...\n", e.prefix)
		return nil
	}
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", e.prefix, c.Use, firstNonEmpty(c.Long, c.Short))
	if c.HasAvailableLocalFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", c.LocalFlags().FlagUsages())
	}
	return nil
}

// convName is how the commands name a conversation: "#room" or "@peer".
func convName(c chat.Conversation) string {
	if c.Kind == chat.KindDirect {
		return "@" + c.Name
	}
	return c.Name
}

// resolve turns a CONV argument into a conversation and the name the
// output gives it. "lobby" and "#lobby" are the lobby; "#name" a room the
// user is in or can list; "@handle" the direct conversation with handle
// (resolved by the chat's /msg, so its rules apply); "dm:A:B", the form
// of a direct conversation's id, is passed as is for the chat to allow or
// refuse. Anything else is a usage error.
func (e *cmdEnv) resolve(arg string) (chat.ConvID, string, error) {
	switch {
	case strings.EqualFold(arg, "lobby") || strings.EqualFold(arg, string(chat.Lobby)):
		return chat.Lobby, string(chat.Lobby), nil
	case len(arg) > 1 && arg[0] == '@':
		if strings.ContainsFunc(arg, unicode.IsSpace) {
			// No handle has a blank; and /msg would send what follows it.
			return "", "", fail(fmt.Errorf("%w: %q", chat.ErrNoSuchUser, clip(arg[1:], 32)))
		}
		sess, err := e.session()
		if err != nil {
			return "", "", err
		}
		rep, err := sess.Exec(e.ctx, chat.Lobby, "/msg "+arg[1:])
		if err != nil {
			return "", "", fail(err)
		}
		if rep.Open == nil {
			return "", "", fail(fmt.Errorf("%w: %s", chat.ErrNoSuchUser, clip(arg, 32)))
		}
		return rep.Open.ID, convName(*rep.Open), nil
	case len(arg) > 1 && arg[0] == '#':
		// The name's key is the room's ID (chat.RoomConv); whether the user
		// may read it is the chat's answer to what is done with it.
		display, key, err := chat.NormalizeRoomName(arg)
		if err != nil {
			return "", "", fail(err)
		}
		return chat.RoomConv(key), display, nil
	case strings.HasPrefix(arg, "dm:"):
		sess, err := e.session()
		if err != nil {
			return "", "", err
		}
		for _, c := range sess.Snapshot().Conversations {
			if string(c.ID) == arg {
				return c.ID, convName(c), nil
			}
		}
		return chat.ConvID(arg), arg, nil
	}
	return "", "", fmt.Errorf("%w, not %q", errBadConv, clip(arg, 32))
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// clip shortens s to n runes for an error line, quoting nothing.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
