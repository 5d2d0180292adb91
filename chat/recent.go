package chat

import (
	"slices"
	"sort"
	"sync"

	"sshchat/model"
)

// Bounds of the recent-messages cache.
const (
	// recentPerConv is how many of a conversation's newest messages are
	// kept; it equals the largest History page.
	recentPerConv = 500
	// recentConvs is how many conversations are kept; the least recently
	// used one goes first.
	recentConvs = 64
)

// recentCache holds the newest messages of the busiest conversations, once
// for all sessions: a History page it can answer costs no store query, and
// the bodies it returns are the ones every session already shares, not a
// copy per session. Its messages are never modified after they are added.
//
// A conversation's entry is complete from its floor: every message of the
// conversation with an ID at or above floor is in it (floor 0: every
// message since the conversation began). Messages enter it only in ID order
// (add, from the sequencer's commits) or as a whole page read from the
// store while nothing was added (seed); anything that writes a message by
// another path, or changes how stored messages read (a rename), calls reset.
// The zero value is ready to use.
type recentCache struct {
	mu    sync.Mutex
	convs map[ConvID]*recentConv
	gen   uint64 // bumped by every add and reset; a seed checks it did not move
	tick  uint64 // use clock for eviction
}

type recentConv struct {
	msgs  []*Message // oldest first, IDs increasing
	floor MessageID
	used  uint64
}

// add appends committed messages (in commit order) to their conversations.
func (c *recentCache) add(msgs ...Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for i := range msgs {
		m := msgs[i]
		rc := c.convs[m.Conv]
		if rc == nil {
			rc = c.newConvLocked(m.Conv, m.ID)
		}
		if n := len(rc.msgs); n > 0 && rc.msgs[n-1].ID >= m.ID {
			// Out of order: completeness cannot be vouched for any more.
			delete(c.convs, m.Conv)
			continue
		}
		rc.msgs = append(rc.msgs, &m)
		rc.trim()
	}
}

// trim drops the oldest messages over the bound, with slack so that the
// copy is amortised over many adds.
func (rc *recentConv) trim() {
	if len(rc.msgs) <= recentPerConv+recentPerConv/4 {
		return
	}
	drop := len(rc.msgs) - recentPerConv
	rc.floor = rc.msgs[drop].ID
	rc.msgs = slices.Clone(rc.msgs[drop:])
}

func (c *recentCache) newConvLocked(conv ConvID, floor MessageID) *recentConv {
	if c.convs == nil {
		c.convs = make(map[ConvID]*recentConv)
	}
	if len(c.convs) >= recentConvs {
		var oldest ConvID
		var least uint64 = 1<<64 - 1
		for id, rc := range c.convs {
			if rc.used < least {
				oldest, least = id, rc.used
			}
		}
		delete(c.convs, oldest)
	}
	c.tick++
	rc := &recentConv{floor: floor, used: c.tick}
	c.convs[conv] = rc
	return rc
}

// reset forgets everything.
func (c *recentCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.convs)
}

// generation is read before a store query whose result may seed the cache.
func (c *recentCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// seed fills an absent conversation with the newest page read from the
// store (oldest first, nothing hidden, up to limit messages), provided
// nothing was added or reset since gen: then the page and the commits that
// follow it are the conversation's newest messages without a gap.
func (c *recentCache) seed(conv ConvID, gen uint64, page []Message, limit int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.convs[conv] != nil || len(page) == 0 {
		return
	}
	floor := MessageID(0) // a short page is the whole conversation
	if len(page) >= limit {
		floor = page[0].ID
	}
	rc := c.newConvLocked(conv, floor)
	own := slices.Clone(page) // the caller keeps page
	rc.msgs = make([]*Message, len(own))
	for i := range own {
		rc.msgs[i] = &own[i]
	}
	rc.trim()
}

// page answers History from the cache: up to n messages of conv older than
// before (0: the newest), oldest first, leaving out senders in hidden. It
// reports false when the cache cannot vouch for the answer (the
// conversation is not cached, or the page reaches below its floor).
func (c *recentCache) page(conv ConvID, before MessageID, n int, hidden []uint64) ([]Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rc := c.convs[conv]
	if rc == nil || n <= 0 {
		return nil, false
	}
	c.tick++
	rc.used = c.tick
	end := len(rc.msgs)
	if before > 0 {
		end = sort.Search(len(rc.msgs), func(i int) bool { return rc.msgs[i].ID >= before })
	}
	out := make([]Message, 0, min(n, end))
	i := end - 1
	for ; i >= 0 && len(out) < n; i-- {
		m := rc.msgs[i]
		if !slices.Contains(hidden, uint64(m.From)) {
			out = append(out, *m)
		}
	}
	if len(out) < n && rc.floor != 0 {
		return nil, false // the rest is below the floor: the store has it
	}
	slices.Reverse(out)
	return out, true
}

// toMessages converts stored rows.
func toMessages(rows []model.Message) []Message {
	out := make([]Message, len(rows))
	for i, m := range rows {
		out[i] = toMessage(m)
	}
	return out
}
