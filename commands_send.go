package main

// The writing commands of the command tree: send and admin.

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"sshchat/chat"
	"sshchat/ui"
)

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
