package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"sshchat/model"
)

// SearchPage is the largest page of search results Session.Search returns.
const SearchPage = model.SearchLimit

// searchable lists the conversations user may read now: the lobby, the
// rooms they are a member of and their direct conversations. It is the
// privacy filter of a search, passed to the store as part of the query.
func (h *Hub) searchable(ctx context.Context, user UserID) ([]string, error) {
	convs := []string{string(Lobby)}
	rooms, err := h.store.RoomsOf(ctx, uint64(user))
	if err != nil {
		return nil, err
	}
	for _, r := range rooms {
		if !r.Invited {
			convs = append(convs, model.RoomConv(r.Room.NameKey))
		}
	}
	dms, err := h.store.Conversations(ctx, uint64(user))
	if err != nil {
		return nil, err
	}
	for _, c := range dms {
		convs = append(convs, c.Conv)
	}
	return convs, nil
}

// Search returns up to n messages containing words, newest first, with ID
// below before (0: from the newest), from the conversations the user may
// read, leaving out blocked senders and deleted messages.
func (s *session) Search(ctx context.Context, words string, before MessageID, n int) ([]Message, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	if n <= 0 || n > SearchPage {
		n = SearchPage
	}
	convs, err := s.hub.searchable(ctx, s.user)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	hidden, err := s.hub.store.BlockedBy(ctx, uint64(s.user))
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	rows, err := s.hub.store.Search(ctx, model.Search{Words: words, Convs: convs, Hidden: hidden, Before: int64(before), Limit: n})
	if errors.Is(err, model.ErrBadSearch) {
		return nil, fmt.Errorf("%w: search for a word, e.g. /search deploy", ErrUsage)
	}
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	// Membership read from the store may lag a removal the sequencer has
	// just applied in memory: results of a room the user is no longer in
	// are dropped (as History does after its read).
	out := make([]Message, 0, len(rows))
	ok := map[ConvID]bool{}
	for _, m := range toMessages(rows) {
		if _, room := roomKey(m.Conv); room {
			may, seen := ok[m.Conv]
			if !seen {
				may = s.readable(ctx, m.Conv) == nil
				ok[m.Conv] = may
			}
			if !may {
				continue
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// cmdSearch lists the newest messages containing the words, one line each
// with conversation, time and sender; the UI shows Reply.Found as a list
// to open a result from.
func cmdSearch(ctx context.Context, s *session, _ ConvID, arg string) (Reply, error) {
	if strings.TrimSpace(arg) == "" {
		return Reply{}, fmt.Errorf("%w: /search WORDS", ErrUsage)
	}
	found, err := s.Search(ctx, arg, 0, 20)
	if err != nil {
		return Reply{}, err
	}
	if len(found) == 0 {
		return Reply{Lines: []string{"no messages contain " + SanitizeText(clipRunes(arg, 64))}}, nil
	}
	lines := make([]string, 0, len(found)+1)
	lines = append(lines, fmt.Sprintf("%d newest messages containing %s:", len(found), SanitizeText(clipRunes(arg, 64))))
	for _, m := range found {
		lines = append(lines, SearchLine(s.convName(ctx, m.Conv), m))
	}
	return Reply{Lines: lines, Found: found}, nil
}

// SearchLine is one search result as text: conversation, time, sender, body.
func SearchLine(conv string, m Message) string {
	return fmt.Sprintf("%s %s <%s> %s", conv, m.At.Local().Format(time.DateTime), m.FromHandle, clipRunes(m.Body, 200))
}

// convName names conv for the user: "#room" or "@peer".
func (s *session) convName(ctx context.Context, conv ConvID) string {
	if peer, ok := directPeer(conv, s.user); ok {
		return "@" + s.hub.handleOf(ctx, peer)
	}
	return string(conv)
}
