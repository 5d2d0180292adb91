package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
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

// searchCmd prints the messages containing WORDS in every conversation
// the user may read, newest first (Session.Search).
func (e *cmdEnv) searchCmd() *cobra.Command {
	var (
		asJSON bool
		limit  int
		before int64
	)
	c := &cobra.Command{
		Use:   "search WORDS... [--limit N] [--before ID] [--json]",
		Short: "print the newest messages containing WORDS, in every conversation you can read",
		Long: "Print up to --limit messages containing every word, newest first, from the lobby, your rooms\n" +
			"and your direct conversations: conversation, id, time and the line (--before ID pages further back).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if limit < 1 || limit > chat.SearchPage {
				return fmt.Errorf("--limit must be between 1 and %d", chat.SearchPage)
			}
			if before < 0 {
				return fmt.Errorf("--before must be a message id")
			}
			sess, err := e.session()
			if err != nil {
				return err
			}
			found, err := sess.Search(e.ctx, strings.Join(args, " "), chat.MessageID(before), limit)
			if err != nil {
				return fail(err)
			}
			names := map[chat.ConvID]string{}
			for _, c := range sess.Snapshot().Conversations {
				names[c.ID] = convName(c)
			}
			for _, m := range found {
				name := firstNonEmpty(names[m.Conv], string(m.Conv))
				if !asJSON {
					if err := e.writeLine(name + "\t" + strconv.FormatInt(int64(m.ID), 10) + "\t" + m.At.UTC().Format(time.RFC3339) + "\t" + m.FromHandle + ": " + m.Body); err != nil {
						return err
					}
					continue
				}
				if err := e.writeMessage(name, m, true); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line: id, conv, from, body, at, kind")
	c.Flags().IntVar(&limit, "limit", 20, fmt.Sprintf("how many messages (1-%d)", chat.SearchPage))
	c.Flags().Int64Var(&before, "before", 0, "only messages older than this id")
	return c
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

func (e *cmdEnv) whoCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "who [--json]",
		Short: "list the people online",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			sess, err := e.session()
			if err != nil {
				return err
			}
			online := sess.Snapshot().Online
			for i := range online.Len() {
				p := online.At(i)
				if asJSON {
					if err := e.writeJSON(jsonPresence{Handle: p.Handle, Status: p.Status.String(), Reason: p.Reason, Admin: p.Admin}); err != nil {
						return err
					}
					continue
				}
				line := p.Handle
				if p.Admin {
					line += " (admin)"
				}
				if p.Status == chat.Away {
					line += " (away"
					if p.Reason != "" {
						line += ": " + p.Reason
					}
					line += ")"
				}
				if err := e.writeLine(line); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line: handle, status, reason")
	return c
}

func (e *cmdEnv) roomsCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "rooms [--json]",
		Short: "list the rooms you can join",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			sess, err := e.session()
			if err != nil {
				return err
			}
			return eachRoom(e.ctx, sess, func(r chat.RoomInfo) error {
				if asJSON {
					return e.writeJSON(jsonRoom{Conv: r.Name, Topic: r.Topic, Members: r.Members, Online: r.Online, Joined: r.Joined})
				}
				line := fmt.Sprintf("%s\t%d online", r.Name, r.Online)
				if r.Joined {
					line += "\tjoined"
				}
				if r.Topic != "" {
					line += "\t" + r.Topic
				}
				return e.writeLine(line)
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line: conv, topic, members, online, joined")
	return c
}

// roomsPage is how many rooms one Session.Rooms call asks for.
const roomsPage = 100

// eachRoom calls f for every room sess.Rooms lists, page after page.
func eachRoom(ctx context.Context, sess chat.Session, f func(chat.RoomInfo) error) error {
	after := ""
	for {
		page, err := sess.Rooms(ctx, after, roomsPage)
		if err != nil {
			return fail(err)
		}
		for _, r := range page {
			if err := f(r); err != nil {
				return err
			}
		}
		if len(page) < roomsPage || page[len(page)-1].Name == after {
			return nil
		}
		after = page[len(page)-1].Name
	}
}

func (e *cmdEnv) sendCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "send CONV [TEXT...]",
		Short: "send TEXT, or each line of stdin as one message",
		Long: "Send TEXT to CONV. Without TEXT, send each line of stdin as one message, in order,\n" +
			"until end of input (blank lines are skipped); over the rate limit, lines wait their turn.\n" +
			"The remote shell splits TEXT into words: use stdin to keep spacing as typed.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			conv, _, err := e.resolve(args[0])
			if err != nil {
				return err
			}
			sess, err := e.session()
			if err != nil {
				return err
			}
			if len(args) > 1 {
				if _, err := sess.Send(e.ctx, conv, strings.Join(args[1:], " ")); err != nil {
					return fail(err)
				}
				return nil
			}
			return e.sendLines(sess, conv)
		},
	}
	c.Flags().SetInterspersed(false) // TEXT may start with "-"
	return c
}

// maxLine bounds a line of `send`'s stdin; longer ones fail as too long.
const maxLine = 64 << 10

// sendLines sends each line of stdin as one message, waiting out the rate
// limit rather than failing on it, so that a pipe can go as fast as the
// limit allows and no line is lost.
func (e *cmdEnv) sendLines(sess chat.Session, conv chat.ConvID) error {
	// Read in a goroutine of its own, so that the command can end (at
	// shutdown, at a revocation) while a read waits on the client; that
	// goroutine ends when the channel closes after the command.
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(e.in)
		sc.Buffer(make([]byte, 4096), maxLine)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-e.ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	n := 0
	for {
		var line string
		select {
		case l, ok := <-lines:
			if !ok {
				return e.readFailure(readErr, n)
			}
			line = l
		case <-e.ctx.Done():
			return fail(e.ctx.Err())
		}
		n++
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		for {
			_, err := sess.Send(e.ctx, conv, line)
			if err == nil {
				break
			}
			if !errors.Is(err, chat.ErrRateLimited) {
				return fail(fmt.Errorf("line %d: %w", n, err))
			}
			select {
			case <-time.After(e.retry):
			case <-e.ctx.Done():
				return fail(fmt.Errorf("line %d: %w", n, e.ctx.Err()))
			}
		}
	}
}

// readFailure is the end of send's input after n lines: nil at its end,
// the reason when it could not be read.
func (e *cmdEnv) readFailure(readErr <-chan error, n int) error {
	select {
	case err := <-readErr:
		if errors.Is(err, bufio.ErrTooLong) {
			return fail(fmt.Errorf("line %d: %w: longer than %d bytes", n+1, chat.ErrTooLong, maxLine))
		}
		if err != nil {
			return fail(fmt.Errorf("read stdin: %w", err))
		}
		return nil
	default: // the reader stopped because the command is ending
		return fail(e.ctx.Err())
	}
}

func (e *cmdEnv) historyCmd() *cobra.Command {
	var (
		asJSON bool
		limit  int
		before int64
	)
	c := &cobra.Command{
		Use:   "history CONV [--limit N] [--before ID] [--json]",
		Short: "print the newest messages of CONV, oldest first",
		Long: "Print up to --limit messages of CONV, oldest first: the newest ones, or those older than\n" +
			"message --before ID (the id of the first line printed pages further back).",
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if limit < 1 || limit > 500 {
				return fmt.Errorf("--limit must be between 1 and 500")
			}
			if before < 0 {
				return fmt.Errorf("--before must be a message id")
			}
			conv, name, err := e.resolve(args[0])
			if err != nil {
				return err
			}
			sess, err := e.session()
			if err != nil {
				return err
			}
			msgs, err := sess.History(e.ctx, conv, chat.MessageID(before), limit)
			if err != nil {
				return fail(err)
			}
			for _, m := range msgs {
				if err := e.writeMessage(name, m, asJSON); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line: id, conv, from, body, at, kind")
	c.Flags().IntVar(&limit, "limit", 50, "how many messages (1-500)")
	c.Flags().Int64Var(&before, "before", 0, "only messages older than this id")
	return c
}

func (e *cmdEnv) tailCmd() *cobra.Command {
	var (
		asJSON bool
		since  int64
	)
	c := &cobra.Command{
		Use:   "tail CONV [--since ID] [--json]",
		Short: "print new messages of CONV as they are sent, until you disconnect",
		Long: "Print each new message of CONV once, in order, as it is committed, until the client\n" +
			"disconnects. With --since ID, first the messages after message ID (at most " + strconv.Itoa(maxBacklog) + "):\n" +
			"a bot that keeps the last id it printed resumes with no gap and no repeat.\n" +
			"It does not make you appear online and leaves your offline messages queued.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			resume := c.Flags().Changed("since")
			if resume && since < 0 {
				return fmt.Errorf("--since must be a message id")
			}
			conv, name, err := e.resolve(args[0])
			if err != nil {
				return err
			}
			sess, err := e.session()
			if err != nil {
				return err
			}
			// The same check as history: a conversation the user may not
			// read is refused, not tailed in silence.
			if _, err := sess.History(e.ctx, conv, 0, 1); err != nil {
				return fail(err)
			}
			// Followed before the backlog is read: every message committed
			// after the read reaches the session (see chat.Hub.Follow).
			if err := e.broker.Follow(e.ctx, sess, conv); err != nil {
				return fail(err)
			}
			last := chat.MessageID(-1)
			if resume {
				msgs, err := e.backlog(sess, conv, chat.MessageID(since))
				if err != nil {
					return err
				}
				last = chat.MessageID(since)
				for _, m := range msgs {
					if err := e.writeMessage(name, m, asJSON); err != nil {
						return nil // the client went away
					}
					last = m.ID
				}
			}
			return e.tail(sess, conv, name, asJSON, last)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line: id, conv, from, body, at, kind")
	c.Flags().Int64Var(&since, "since", 0, "first print the messages after this id")
	return c
}

// maxBacklog bounds how many messages tail --since prints before the new
// ones; further back is history's job.
const maxBacklog = 5000

// backlog returns the messages of conv after since, oldest first.
func (e *cmdEnv) backlog(sess chat.Session, conv chat.ConvID, since chat.MessageID) ([]chat.Message, error) {
	const page = 500
	var pages [][]chat.Message
	total := 0
	before := chat.MessageID(0)
	for {
		msgs, err := sess.History(e.ctx, conv, before, page)
		if err != nil {
			return nil, fail(err)
		}
		i := 0
		for i < len(msgs) && msgs[i].ID <= since {
			i++
		}
		pages = append(pages, msgs[i:])
		total += len(msgs) - i
		if total > maxBacklog {
			return nil, fail(fmt.Errorf("%w: more than %d messages since %d; read them with history --before", chat.ErrNotAllowed, maxBacklog, since))
		}
		if i > 0 || len(msgs) < page {
			break
		}
		before = msgs[0].ID
	}
	out := make([]chat.Message, 0, total)
	for i := len(pages) - 1; i >= 0; i-- {
		out = append(out, pages[i]...)
	}
	return out, nil
}

// tail writes the messages of conv newer than last that sess receives,
// until the client goes away (exit 0), or the session is dropped or the
// user removed from the room (exit 1 with the reason).
func (e *cmdEnv) tail(sess chat.Session, conv chat.ConvID, name string, asJSON bool, last chat.MessageID) error {
	for {
		select {
		case <-e.ctx.Done():
			return nil
		case ev, ok := <-sess.Events():
			if !ok {
				return fail(sess.Err())
			}
			switch ev := ev.(type) {
			case chat.MessageEvent:
				if ev.Message.Conv != conv || ev.Message.ID <= last {
					continue // another conversation, or printed from the backlog
				}
				if err := e.writeMessage(name, ev.Message, asJSON); err != nil {
					return nil // the client went away
				}
			case chat.ConversationEvent:
				if ev.Removed && ev.Conversation.ID == conv {
					// Out of the room (kicked, banned, left elsewhere):
					// nothing more of it will come.
					return fail(fmt.Errorf("%w: %s", chat.ErrNotAllowed, firstNonEmpty(ev.Reason, "you are no longer in "+name)))
				}
			case chat.AnnouncementEvent:
				if err := e.writeAnnouncement(ev, asJSON); err != nil {
					return nil // the client went away
				}
			case chat.ShutdownEvent:
				return fail(chat.ErrShutdown)
			}
		}
	}
}

func (e *cmdEnv) adminCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "admin SUBCOMMAND [ARGS...]",
		Short: "administer the server (administrators): kick, ban, unban, bans, mute, unmute, announce, audit, delete, limits",
		Long: "Run /admin SUBCOMMAND as in the chat, with the same words, and print its answer:\n" +
			"  admin kick HANDLE [REASON]\n" +
			"  admin ban HANDLE|SHA256:FINGERPRINT [DURATION] [REASON]   (DURATION like 30m, 12h, 7d; none: for good)\n" +
			"  admin unban HANDLE|SHA256:FINGERPRINT\n" +
			"  admin bans\n" +
			"  admin mute HANDLE [DURATION] [REASON]\n" +
			"  admin unmute HANDLE\n" +
			"  admin announce TEXT\n" +
			"  admin audit [N]\n" +
			"  admin limits   (each limit in force, its value and who is nearest it)\n" +
			"  admin delete MESSAGE_ID   (ids as in history --json and search --json)\n" +
			"Only a key of the server's administrators may; any other fails (exit 1).",
		Args:               cobra.MinimumNArgs(1),
		DisableFlagParsing: true, // a reason or an announcement may start with "-"
		RunE: func(c *cobra.Command, args []string) error {
			if args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
				return e.help(c)
			}
			sess, err := e.session()
			if err != nil {
				return err
			}
			rep, err := sess.Exec(e.ctx, chat.Lobby, "/admin "+strings.Join(args, " "))
			if errors.Is(err, chat.ErrUsage) {
				// Exit 2, with the chat's usage in this command's words.
				return usageLine(strings.Replace(ui.UserText(err), "/admin ", e.prefix+" admin ", 1))
			}
			if err != nil {
				return fail(err)
			}
			for _, l := range rep.Lines {
				if err := e.writeLine(strings.TrimPrefix(l, "  ")); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func (e *cmdEnv) unreadCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "unread [--json]",
		Short: "list conversations with unread messages",
		Long: "List the conversations with messages newer than what you last read in the chat, with\n" +
			"their counts. It reads nothing and leaves offline messages queued.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			sess, err := e.session()
			if err != nil {
				return err
			}
			for _, c := range sess.Snapshot().Conversations {
				if c.Unread == 0 {
					continue
				}
				name := convName(c)
				if asJSON {
					if err := e.writeJSON(jsonUnread{Conv: name, Unread: c.Unread, Mentions: c.Mentions}); err != nil {
						return err
					}
					continue
				}
				line := fmt.Sprintf("%s\t%d", name, c.Unread)
				if c.Mentions > 0 {
					line += fmt.Sprintf("\t%d mentions", c.Mentions)
				}
				if err := e.writeLine(line); err != nil {
					return err
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line: conv, unread, mentions")
	return c
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

// jsonMessage is a message as history and tail --json write it. The field
// names and meanings are stable (README, "Scripting").
type jsonMessage struct {
	ID   int64  `json:"id"`   // grows in commit order; --before takes it
	Conv string `json:"conv"` // "#room" or "@peer", as send takes it
	From string `json:"from"` // the author's current handle
	Body string `json:"body"`
	At   string `json:"at"`   // RFC 3339, UTC
	Kind string `json:"kind"` // text, action, rename or system
}

type jsonPresence struct {
	Handle string `json:"handle"`
	Status string `json:"status"` // online or away
	Reason string `json:"reason,omitempty"`
	Admin  bool   `json:"admin,omitempty"` // online with an administrator's key
}

type jsonRoom struct {
	Conv    string `json:"conv"`
	Topic   string `json:"topic"`
	Members int    `json:"members"`
	Online  int    `json:"online"`
	Joined  bool   `json:"joined"`
}

type jsonUnread struct {
	Conv     string `json:"conv"`
	Unread   int    `json:"unread"`
	Mentions int    `json:"mentions"`
}

// kindName names a message kind in JSON.
func kindName(k chat.MsgKind) string {
	switch k {
	case chat.KindAction:
		return "action"
	case chat.KindRename:
		return "rename"
	case chat.KindSystem:
		return "system"
	default:
		return "text"
	}
}

// writeMessage writes one message: a JSON object, or a tab-separated line
// "ID TIME TEXT" where TEXT is as the chat shows it.
func (e *cmdEnv) writeMessage(conv string, m chat.Message, asJSON bool) error {
	at := m.At.UTC().Format(time.RFC3339)
	if asJSON {
		return e.writeJSON(jsonMessage{ID: int64(m.ID), Conv: conv, From: m.FromHandle, Body: m.Body, At: at, Kind: kindName(m.Kind)})
	}
	text := m.FromHandle + ": " + m.Body
	switch m.Kind {
	case chat.KindAction:
		text = "* " + m.FromHandle + " " + m.Body
	case chat.KindRename, chat.KindSystem:
		text = m.Body
	}
	return e.writeLine(strconv.FormatInt(int64(m.ID), 10) + "\t" + at + "\t" + text)
}

// jsonAnnouncement is an administrator's announcement as tail --json
// writes it: it has no id and belongs to no conversation.
type jsonAnnouncement struct {
	Kind string `json:"kind"` // "announcement"
	From string `json:"from"`
	Body string `json:"body"`
	At   string `json:"at"`
}

// writeAnnouncement writes an announcement: a JSON object, or a line
// "-\tTIME\tannouncement from ADMIN: TEXT".
func (e *cmdEnv) writeAnnouncement(ev chat.AnnouncementEvent, asJSON bool) error {
	at := ev.At.UTC().Format(time.RFC3339)
	if asJSON {
		return e.writeJSON(jsonAnnouncement{Kind: "announcement", From: ev.From, Body: ev.Text, At: at})
	}
	return e.writeLine("-\t" + at + "\tannouncement from " + ev.From + ": " + ev.Text)
}

// writeJSON writes v as one line of JSON.
func (e *cmdEnv) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fail(fmt.Errorf("encode output: %w", err))
	}
	return e.writeLine(string(b))
}

// writeLine writes s and a newline to stdout.
func (e *cmdEnv) writeLine(s string) error {
	if _, err := io.WriteString(e.out, s+"\n"); err != nil {
		return fail(fmt.Errorf("%w: %v", errOutput, err))
	}
	return nil
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
