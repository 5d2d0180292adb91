package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func mustRoom(t *testing.T, d *DB, name, key string, private bool, owner User) Room {
	t.Helper()
	r := Room{Name: name, NameKey: key, Private: private, OwnerID: owner.ID}
	if err := d.CreateRoom(context.Background(), &r, &Message{Conv: RoomConv(key), SenderID: owner.ID, SenderHandle: owner.Handle, Kind: KindSystem, Body: "created"}); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return r
}

// TestRoomChangesAndTheirHistoryLinesCommitTogether checks that every room
// change writes its KindSystem line with it, and that a refused change
// writes neither.
func TestRoomChangesAndTheirHistoryLinesCommitTogether(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		r := mustRoom(t, d, "#Go", "go", false, a)
		note := func(body string) *Message {
			return &Message{Conv: "#go", SenderID: a.ID, SenderHandle: "alice", Kind: KindSystem, Body: body}
		}
		steps := []struct {
			body string
			do   func(m *Message) error
			ok   bool
		}{
			{"invite", func(m *Message) error { return d.InviteToRoom(ctx, r.ID, b.ID, a.ID, m) }, true},
			{"join", func(m *Message) error { return d.JoinRoom(ctx, r.ID, b.ID, RoleMember, m) }, true},
			{"join again", func(m *Message) error { return d.JoinRoom(ctx, r.ID, b.ID, RoleMember, m) }, false},
			{"op", func(m *Message) error { return d.SetRoomRole(ctx, r.ID, b.ID, RoleOperator, m) }, true},
			{"topic", func(m *Message) error { return d.SetRoomTopic(ctx, r.ID, "gophers", m) }, true},
			{"ban", func(m *Message) error { return d.BanFromRoom(ctx, r.ID, b.ID, a.ID, "spam", m) }, true},
			{"ban again", func(m *Message) error { return d.BanFromRoom(ctx, r.ID, b.ID, a.ID, "spam", m) }, false},
			{"leave non-member", func(m *Message) error { return d.LeaveRoom(ctx, r.ID, b.ID, m) }, false},
			{"unban", func(m *Message) error { return d.UnbanFromRoom(ctx, r.ID, b.ID, m) }, true},
			{"unban again", func(m *Message) error { return d.UnbanFromRoom(ctx, r.ID, b.ID, m) }, false},
		}
		var want []string
		want = append(want, "created")
		for _, st := range steps {
			m := note(st.body)
			err := st.do(m)
			if st.ok != (err == nil) {
				t.Fatalf("%s: %v", st.body, err)
			}
			if st.ok {
				if m.ID == 0 {
					t.Fatalf("%s: notice has no ID", st.body)
				}
				want = append(want, st.body)
			} else if m.ID != 0 {
				t.Fatalf("%s refused but its notice got ID %d", st.body, m.ID)
			}
		}
		h, err := d.History(ctx, "#go", 0, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range h {
			got = append(got, m.Body)
		}
		if len(got) != len(want) {
			t.Fatalf("history %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("history %v, want %v", got, want)
			}
		}
		st, err := d.RoomState(ctx, "go")
		if err != nil || st.Room.Topic != "gophers" || len(st.Members) != 1 || st.Members[0].UserID != a.ID || st.Members[0].Role != RoleOwner || len(st.Banned) != 0 || len(st.Invited) != 0 {
			t.Fatalf("state %+v, %v", st, err)
		}
	})
}

// TestCreateRoomRefusesTakenAndLookAlikeNames checks that a room name is
// unique by key and by skeleton.
func TestCreateRoomRefusesTakenAndLookAlikeNames(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a := mustUser(t, d, "alice")
		mustRoom(t, d, "#ops", "ops", true, a)
		for _, k := range []string{"ops", "0ps"} {
			r := Room{Name: "#" + k, NameKey: k, OwnerID: a.ID}
			var rc *RoomConflictError
			if err := d.CreateRoom(ctx, &r, nil); !errors.As(err, &rc) || !errors.Is(err, ErrConflict) || rc.Holder.NameKey != "ops" {
				t.Fatalf("create %s: %v", k, err)
			}
		}
		if _, err := d.RoomState(ctx, "0ps"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("refused room exists: %v", err)
		}
	})
}

// TestListRoomsShowsPrivateRoomsOnlyToMembers checks /rooms' query: public
// rooms for everyone, a private one only for its members, paged by key,
// with member counts.
func TestListRoomsShowsPrivateRoomsOnlyToMembers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		mustRoom(t, d, "#a", "a", false, a)
		p := mustRoom(t, d, "#b", "b", true, a)
		mustRoom(t, d, "#c", "c", false, a)
		if err := d.InviteToRoom(ctx, p.ID, b.ID, a.ID, nil); err != nil {
			t.Fatal(err)
		}
		keys := func(ls []RoomListing) (out []string) {
			for _, l := range ls {
				out = append(out, l.Room.NameKey)
			}
			return out
		}
		if got, _ := d.ListRooms(ctx, b.ID, "", 10); len(got) != 2 || got[0].Room.NameKey != "a" || got[1].Room.NameKey != "c" || got[0].Joined || got[0].Members != 1 {
			t.Fatalf("bob (invited, not a member) lists %v", keys(got))
		}
		if got, _ := d.ListRooms(ctx, a.ID, "a", 1); len(got) != 1 || got[0].Room.NameKey != "b" || !got[0].Joined {
			t.Fatalf("alice's second page %v", keys(got))
		}
		rooms, err := d.RoomsOf(ctx, b.ID)
		if err != nil || len(rooms) != 1 || !rooms[0].Invited || rooms[0].Room.NameKey != "b" {
			t.Fatalf("bob's rooms %+v, %v", rooms, err)
		}
	})
}

// TestMentionsAreCountedFromTheReadMarkerAndDeliveredOnceOffline checks
// mention rows (counted past the read marker) and offline mentions (a
// pending delivery claimed once, counted by room).
func TestMentionsAreCountedFromTheReadMarkerAndDeliveredOnceOffline(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b, c := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol")
		msgs := []*Message{
			{Conv: "#go", SenderID: a.ID, SenderHandle: "alice", Body: "@bob one", Mentions: []Mention{{UserID: b.ID, Offline: true}}},
			{Conv: "#go", SenderID: c.ID, SenderHandle: "carol", Body: "@bob two", Mentions: []Mention{{UserID: b.ID, Offline: true}}},
			{Conv: "#go", SenderID: a.ID, SenderHandle: "alice", Body: "@bob three", Mentions: []Mention{{UserID: b.ID}}},
		}
		if err := d.AppendMessages(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		n, err := d.MentionCounts(ctx, b.ID, []string{"#go", "#lobby"}, nil)
		if err != nil || n["#go"] != 3 || n["#lobby"] != 0 {
			t.Fatalf("counts %v, %v", n, err)
		}
		if n, _ := d.MentionCounts(ctx, b.ID, []string{"#go"}, []uint64{c.ID}); n["#go"] != 2 {
			t.Fatalf("counts hiding carol %v", n)
		}
		if err := d.MarkRead(ctx, b.ID, "#go", msgs[1].ID); err != nil {
			t.Fatal(err)
		}
		if n, _ := d.MentionCounts(ctx, b.ID, []string{"#go"}, nil); n["#go"] != 1 {
			t.Fatalf("counts after reading %v", n)
		}
		bt, err := d.ClaimOffline(ctx, b.ID, "s1", 10)
		if err != nil || bt.Total != 2 || bt.RoomCounts["#go"] != 2 || len(bt.Counts) != 0 || len(bt.Messages) != 2 {
			t.Fatalf("claim %+v, %v", bt, err)
		}
		if err := d.AckOffline(ctx, b.ID, "s1"); err != nil {
			t.Fatal(err)
		}
		if bt, _ := d.ClaimOffline(ctx, b.ID, "s2", 10); bt.Total != 0 {
			t.Fatalf("claimed again: %+v", bt)
		}
	})
}

// TestRoomsStepMigratesADatabaseOfThePreviousVersion opens a database of
// the schema before rooms (step 2) with data in it and uses rooms.
//
// SQLite only: a database file of an old release.
func TestRoomsStepMigratesADatabaseOfThePreviousVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	old, err := sql.Open("sqlite3", "file:"+filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range schema96ca550 {
		if _, err := old.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	old.Close()
	d, err := Open(path) // steps 1-3
	if err != nil {
		t.Fatal(err)
	}
	// Back to step 2, as a server before rooms left it.
	for _, q := range []string{`DROP TABLE mentions`, `DROP TABLE room_bans`, `DROP TABLE room_invites`,
		`DROP TABLE room_members`, `DROP TABLE rooms`, `DELETE FROM schema_migrations WHERE version = 3`} {
		if err := d.w.Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	d.Close()
	d, err = Open(path)
	if err != nil {
		t.Fatalf("migrating to rooms: %v", err)
	}
	defer d.Close()
	u, err := d.UserByHandle(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	r := Room{Name: "#go", NameKey: "go", OwnerID: u.ID}
	if err := d.CreateRoom(ctx, &r, nil); err != nil {
		t.Fatal(err)
	}
	if rooms, err := d.RoomsOf(ctx, u.ID); err != nil || len(rooms) != 1 || rooms[0].Role != RoleOwner {
		t.Fatalf("rooms %+v, %v", rooms, err)
	}
	if h, err := d.History(ctx, "#lobby", 0, 10, nil); err != nil || len(h) != 1 {
		t.Fatalf("old history %+v, %v", h, err)
	}
}

// TestConcurrentRoomsAndAuditEntriesGetDistinctIDs checks that writers
// at the same moment each get an ID of their own, on PostgreSQL too
// (where an ID read as max(id)+1 by two transactions at once collides).
func TestConcurrentRoomsAndAuditEntriesGetDistinctIDs(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		owner := mustUser(t, d, "owner")
		const n = 8
		rooms := make([]Room, n)
		audits := make([]AuditEntry, n)
		errs := make(chan error, 2*n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprintf("room%d", i)
				rooms[i] = Room{Name: "#" + key, NameKey: key, OwnerID: owner.ID}
				errs <- d.CreateRoom(ctx, &rooms[i], nil)
				audits[i] = AuditEntry{ActorID: owner.ID, Actor: "owner", Action: "announce", Reason: key}
				errs <- d.RecordAudit(ctx, &audits[i])
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		roomIDs, auditIDs := map[int64]bool{}, map[int64]bool{}
		for i := range n {
			roomIDs[rooms[i].ID], auditIDs[audits[i].ID] = true, true
		}
		if len(roomIDs) != n || len(auditIDs) != n || roomIDs[0] || auditIDs[0] {
			t.Fatalf("room IDs %v, audit IDs %v: want %d distinct, none 0", roomIDs, auditIDs, n)
		}
		more := Room{Name: "#later", NameKey: "later", OwnerID: owner.ID}
		if err := d.CreateRoom(ctx, &more, nil); err != nil || roomIDs[more.ID] || more.ID <= int64(n-1) {
			t.Fatalf("later room = %d, %v", more.ID, err)
		}
	})
}

// TestConcurrentLookAlikeClaimsLetOneWin claims look-alike handles and
// room names at the same moment (as users on several nodes can): exactly
// one of each wins, the others get ErrConflict.
func TestConcurrentLookAlikeClaimsLetOneWin(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		owner := mustUser(t, d, "owner")
		handles := []string{"alice", "aiice", "a1ice", "ailce", "al1ce", "aIlce"}
		rooms := []string{"ops", "0ps", "oops", "0p5", "ops", "o-ps"}
		var users, made, conflicts atomic.Int32
		var wg sync.WaitGroup
		for i := range handles {
			wg.Go(func() {
				h := handles[i]
				u := User{Handle: h, HandleKey: strings.ToLower(h)}
				switch err := d.CreateUser(ctx, &u, &Key{Fingerprint: "SHA256:" + h + fmt.Sprint(i), PublicKey: "x"}); {
				case err == nil:
					users.Add(1)
				case errors.Is(err, ErrConflict):
					conflicts.Add(1)
				default:
					t.Error(err)
				}
			})
			wg.Go(func() {
				r := Room{Name: "#" + rooms[i], NameKey: rooms[i], OwnerID: owner.ID}
				switch err := d.CreateRoom(ctx, &r, nil); {
				case err == nil:
					made.Add(1)
				case errors.Is(err, ErrConflict):
					conflicts.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		// "ops", "0ps" and "ops" again look alike; "oops", "0p5" (op5)
		// and "o-ps" are other names.
		if users.Load() != 1 || made.Load() != 4 {
			t.Fatalf("%d users and %d rooms made (%d conflicts): want 1 user of the look-alikes and 4 rooms", users.Load(), made.Load(), conflicts.Load())
		}
	})
}
