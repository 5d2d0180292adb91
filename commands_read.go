package main

// The reading commands of the command tree: who, rooms, history, tail,
// unread and search.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"sshchat/chat"
)

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
