package chat

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"sshchat/model"
)

// TestPrivateRoomsInvisibleToNonMembersOnEveryReadPath runs seeded random
// sequences of creates, invites, joins, parts, kicks, bans, unbans, ops,
// topics, room messages (with mentions), direct messages, logouts and
// logins by several users, and checks after every step that no user
// received, on any read path, anything of a private room while not a
// member of it (an invitation shows the invited user its name and topic),
// nor any direct message of others: live events, history, snapshots
// (conversations, unread and mention counts, offline groups), /rooms,
// /members, /topic, /whois, search (Session.Search and /search), and
// every command reply and error.
//
// Every private message and topic carries a marker naming its room
// ("PRIVp1x..", "TOPICp1x.."), every direct message one naming its pair
// ("DM0-3x.."); the oracle is the store's membership before and after
// each step.
func TestPrivateRoomsInvisibleToNonMembersOnEveryReadPath(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { privacyRun(t, seed, 300) })
	}
}

func privacyRun(t *testing.T, seed uint64, steps int) {
	ctx := context.Background()
	h, db := newTestHub(t, Options{QueueLen: 1 << 14})
	rng := rand.New(rand.NewPCG(seed, 99))
	const nUsers = 5
	private := []string{"p0", "p1", "p2"}
	public := []string{"q0", "q1"}
	rooms := append(append([]string{}, private...), public...)
	accts := make([]Account, nUsers)
	sess := make([][]Session, nUsers)
	for i := range accts {
		accts[i] = account(t, h, fmt.Sprintf("u%d", i))
	}
	login := func(i int) Session {
		s, err := h.Connect(ctx, accts[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		sess[i] = append(sess[i], s)
		return s
	}
	for i := range accts {
		login(i)
	}
	login(0) // u0 has two sessions
	for x, k := range private {
		exec(t, sess[x][0], Lobby, "/create #"+k+" private")
	}
	for _, s := range sess {
		drain(s[0])
	}

	// who returns, per private room, the members and the invited now.
	type standing struct{ member, invited map[UserID]bool }
	who := func() map[string]standing {
		out := map[string]standing{}
		for _, k := range private {
			st := standing{map[UserID]bool{}, map[UserID]bool{}}
			rs, err := db.RoomState(ctx, k)
			if err == nil {
				for _, m := range rs.Members {
					st.member[UserID(m.UserID)] = true
				}
				for _, id := range rs.Invited {
					st.invited[UserID(id)] = true
				}
			} else if !errors.Is(err, model.ErrNotFound) {
				t.Fatal(err)
			}
			out[k] = st
		}
		return out
	}
	// forbidden lists the markers user i must not see in this step: those
	// of private rooms they were neither in nor invited to before or after
	// it, and of direct conversations of others.
	forbidden := func(i int, before, after map[string]standing) []string {
		id := accts[i].ID
		var out []string
		for _, k := range private {
			b, a := before[k], after[k]
			if !b.member[id] && !a.member[id] && !b.invited[id] && !a.invited[id] {
				out = append(out, "PRIV"+k+"x", "TOPIC"+k+"x")
			}
		}
		for x := range nUsers {
			for y := x + 1; y < nUsers; y++ {
				if x != i && y != i {
					out = append(out, fmt.Sprintf("DM%d-%dx", x, y))
				}
			}
		}
		return out
	}
	step := 0
	check := func(i int, where string, v any, bad []string) {
		t.Helper()
		text := fmt.Sprintf("%+v", v)
		for _, m := range bad {
			if strings.Contains(text, m) {
				t.Fatalf("seed %d step %d: u%d got %q via %s: %s", seed, step, i, m, where, text)
			}
		}
	}
	isPrivate := func(conv ConvID) (string, bool) {
		for _, k := range private {
			if conv == RoomConv(k) {
				return k, true
			}
		}
		return "", false
	}
	// checkEvents drains user i's sessions and checks each event.
	checkEvents := func(i int, before, after map[string]standing) {
		bad := forbidden(i, before, after)
		id := accts[i].ID
		for _, s := range sess[i] {
			for _, ev := range drain(s) {
				check(i, "live event", ev, bad)
				switch e := ev.(type) {
				case MessageEvent:
					if k, ok := isPrivate(e.Message.Conv); ok && !after[k].member[id] {
						t.Fatalf("seed %d step %d: u%d, not a member of %s, got %+v", seed, step, i, k, e)
					}
				case ConversationEvent:
					if k, ok := isPrivate(e.Conversation.ID); ok {
						b, a := before[k], after[k]
						if !b.member[id] && !a.member[id] && !b.invited[id] && !a.invited[id] {
							t.Fatalf("seed %d step %d: u%d got %+v", seed, step, i, e)
						}
					}
				}
			}
		}
	}
	// readPaths runs every read path as user i and checks the results.
	readPaths := func(i int, now map[string]standing) {
		bad := forbidden(i, now, now)
		id := accts[i].ID
		s := sess[i][0]
		for _, k := range rooms {
			conv := RoomConv(k)
			msgs, err := s.History(ctx, conv, 0, 500)
			check(i, "history "+k, fmt.Sprint(msgs, err), bad)
			if p, ok := isPrivate(conv); ok && !now[p].member[id] && err == nil {
				t.Fatalf("seed %d step %d: u%d read %s's history", seed, step, i, k)
			}
			msgs, err = s.HistoryAfter(ctx, conv, 0, 500)
			check(i, "history after "+k, fmt.Sprint(msgs, err), bad)
			if p, ok := isPrivate(conv); ok && !now[p].member[id] && err == nil {
				t.Fatalf("seed %d step %d: u%d read %s's history forwards", seed, step, i, k)
			}
			lines := []string{"/members", "/topic", "/whois u0"}
			if p, ok := isPrivate(conv); ok && !now[p].member[id] {
				lines = append(lines, "/invite u1", "/kick u1", "/ban u1", "/op u1", "/topic x", "/part") // refused
			}
			for _, line := range lines {
				rep, err := s.Exec(ctx, conv, line)
				check(i, line+" in "+k, fmt.Sprint(rep, err), bad)
				// A non-member's refusal reads as for no room at all.
				if p, ok := isPrivate(conv); ok && !now[p].member[id] {
					_, e2 := s.Exec(ctx, "#zz", line)
					if fmt.Sprint(strings.ReplaceAll(fmt.Sprint(err), k, "")) != fmt.Sprint(strings.ReplaceAll(fmt.Sprint(e2), "zz", "")) {
						t.Fatalf("seed %d step %d: u%d %s in %s: %v; for no room: %v", seed, step, i, line, k, err, e2)
					}
				}
			}
		}
		var after string
		for {
			page, err := s.Rooms(ctx, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			check(i, "rooms page", page, bad)
			for _, r := range page {
				if p, ok := isPrivate(r.ID); ok && !now[p].member[id] {
					t.Fatalf("seed %d step %d: u%d lists %+v", seed, step, i, r)
				}
			}
			if len(page) < 2 {
				break
			}
			after = strings.TrimPrefix(string(page[len(page)-1].ID), "#")
		}
		rep, err := s.Exec(ctx, Lobby, "/rooms")
		check(i, "/rooms", fmt.Sprint(rep, err), bad)
		for _, words := range []string{"PRIV", "DM", "TOPIC", "y"} {
			found, err := s.Search(ctx, words, 0, SearchPage)
			check(i, "search "+words, fmt.Sprint(found, err), bad)
			for _, m := range found {
				if p, ok := isPrivate(m.Conv); ok && !now[p].member[id] {
					t.Fatalf("seed %d step %d: u%d, not a member of %s, found %+v", seed, step, i, p, m)
				}
			}
			rep, err := s.Exec(ctx, Lobby, "/search "+words)
			check(i, "/search "+words, fmt.Sprint(rep, err), bad)
		}
	}
	checkSnapshot := func(i int, snap Snapshot, now map[string]standing) {
		id := accts[i].ID
		check(i, "snapshot", snap, forbidden(i, now, now))
		for _, c := range snap.Conversations {
			if k, ok := isPrivate(c.ID); ok && !now[k].member[id] && !(c.Invited && now[k].invited[id]) {
				t.Fatalf("seed %d step %d: u%d's snapshot lists %+v", seed, step, i, c)
			}
			if c.Invited && (c.Unread != 0 || c.Mentions != 0) {
				t.Fatalf("seed %d step %d: invitation with counts %+v", seed, step, c)
			}
		}
		for _, g := range snap.Offline {
			if k, ok := isPrivate(g.Conv); ok && !now[k].member[id] {
				t.Fatalf("seed %d step %d: u%d's offline batch has %+v", seed, step, i, g)
			}
		}
	}

	done := map[string]int{} // successful commands, to show the run did things
	defer func() { t.Logf("seed %d: commands done %v", seed, done) }()
	n := 0
	for step = 0; step < steps; step++ {
		before := who()
		i := rng.IntN(nUsers)
		j := rng.IntN(nUsers)
		k := rooms[rng.IntN(len(rooms))]
		conv := RoomConv(k)
		online := len(sess[i]) > 0
		var line string
		switch r := rng.IntN(20); {
		case !online || r == 0:
			if online && len(sess[i]) > 0 {
				for _, s := range sess[i] {
					s.Close()
				}
				sess[i] = nil
				break
			}
			s := login(i)
			checkSnapshot(i, s.Snapshot(), before)
			if rng.IntN(2) == 0 {
				if err := s.DismissOffline(ctx); err != nil {
					t.Fatal(err)
				}
			}
		case r < 7:
			n++
			body := fmt.Sprintf("%s %dy @u%d", k, n, j)
			if _, ok := isPrivate(conv); ok {
				body = fmt.Sprintf("PRIV%sx%d @u%d", k, n, j)
			}
			_, err := sess[i][0].Send(ctx, conv, body)
			if err == nil {
				done["send"]++
			}
			check(i, "send error", err, forbidden(i, before, before))
		case r < 9:
			if i == j {
				break
			}
			n++
			x, y := min(i, j), max(i, j)
			if _, err := sess[i][0].Send(ctx, DirectConv(accts[i].ID, accts[j].ID), fmt.Sprintf("DM%d-%dx%d", x, y, n)); err != nil {
				t.Fatal(err)
			}
		default:
			n++
			switch rng.IntN(10) {
			case 0:
				line = "/create #" + k
				if _, ok := isPrivate(conv); ok {
					line += " private"
				}
			case 1, 2:
				line = "/join #" + k
			case 3:
				line = "/part"
			case 4, 5:
				line = fmt.Sprintf("/invite u%d", j)
			case 6:
				line = fmt.Sprintf("/kick u%d", j)
			case 7:
				line = fmt.Sprintf("/ban u%d", j)
				if rng.IntN(2) == 0 {
					line = fmt.Sprintf("/unban u%d", j)
				}
			case 8:
				line = fmt.Sprintf("/op u%d", j)
			case 9:
				line = fmt.Sprintf("/topic TOPIC%sx%d", k, n)
			}
			rep, err := sess[i][rng.IntN(len(sess[i]))].Exec(ctx, conv, line)
			if err == nil {
				done[strings.Fields(line)[0]]++
			}
			check(i, line+" reply", fmt.Sprint(rep, err), forbidden(i, before, who()))
		}
		after := who()
		for u := range nUsers {
			checkEvents(u, before, after)
		}
		if step%50 == 0 || step == steps-1 {
			for u := range nUsers {
				if len(sess[u]) > 0 {
					readPaths(u, after)
				}
			}
		}
	}
}
