package chat

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the driver model uses, for bulk seeding

	"sshchat/model"
)

// benchHub opens a hub over a fresh database and returns its path too,
// for seeding in bulk with seedSQL.
func benchHub(b *testing.B) (*Hub, *model.DB, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "chat.db")
	db, err := model.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewHub(db, nopLogger{}, Options{RateBurst: 1 << 30, RatePerSecond: 1 << 30, QueueLen: 4096})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		h.Close(context.Background())
		db.Close()
	})
	return h, db, path
}

// seedSQL runs fill in one transaction on a connection of its own: rows
// for benchmarks, thousands of times faster than one store call per row.
func seedSQL(b *testing.B, path string, fill func(tx *sql.Tx) error) {
	b.Helper()
	c, err := sql.Open("sqlite3", "file:"+filepath.ToSlash(path)+"?_busy_timeout=10000")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	tx, err := c.Begin()
	if err != nil {
		b.Fatal(err)
	}
	if err := fill(tx); err != nil {
		tx.Rollback()
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// seedRooms creates n public rooms "#room00000".. owned by owner, with
// the given users as members of the first k of them.
func seedRooms(b *testing.B, path string, n, k int, owner UserID, members ...UserID) {
	b.Helper()
	now := time.Now().UTC()
	seedSQL(b, path, func(tx *sql.Tx) error {
		for i := 1; i <= n; i++ {
			key := fmt.Sprintf("room%05d", i)
			if _, err := tx.Exec(`INSERT INTO rooms (id, name, name_key, skeleton, private, topic, owner_id, created_at) VALUES (?, ?, ?, ?, FALSE, ?, ?, ?)`,
				i, "#"+key, key, model.Skeleton(key), "topic of "+key, uint64(owner), now); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES (?, ?, 2, ?)`, i, uint64(owner), now); err != nil {
				return err
			}
			if i > k {
				continue
			}
			for _, m := range members {
				if m == owner {
					continue
				}
				if _, err := tx.Exec(`INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES (?, ?, 0, ?)`, i, uint64(m), now); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// BenchmarkRoomsLogin measures Connect (registration, snapshot with unread
// and mention counts per room) with 10,000 rooms in the database, for a
// user in 200 of them, each with 20 unread messages of which 2 mention
// them ("in200"), and for a user in no room on the same database
// ("in0", the baseline).
func BenchmarkRoomsLogin(b *testing.B) {
	h, _, path := benchHub(b)
	owner, bob, carol := account(b, h, "owner"), account(b, h, "bob"), account(b, h, "carol")
	seedRooms(b, path, 10_000, 200, owner.ID, bob.ID)
	now := time.Now().UTC()
	seedSQL(b, path, func(tx *sql.Tx) error {
		for i := 1; i <= 200; i++ {
			conv := fmt.Sprintf("#room%05d", i)
			for j := range 20 {
				res, err := tx.Exec(`INSERT INTO messages (conv, sender_id, sender_handle, kind, body, created_at) VALUES (?, ?, 'owner', 0, ?, ?)`,
					conv, uint64(owner.ID), fmt.Sprintf("message %d for @bob", j), now)
				if err != nil {
					return err
				}
				if j%10 == 0 {
					id, _ := res.LastInsertId()
					if _, err := tx.Exec(`INSERT INTO mentions (message_id, user_id, conv, sender_id) VALUES (?, ?, ?, ?)`, id, uint64(bob.ID), conv, uint64(owner.ID)); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		acct  Account
		rooms int
	}{{"in0", carol, 0}, {"in200", bob, 200}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				s, err := h.Connect(ctx, c.acct)
				if err != nil {
					b.Fatal(err)
				}
				snap := s.Snapshot()
				if len(snap.Conversations) != 1+c.rooms {
					b.Fatalf("%d conversations", len(snap.Conversations))
				}
				if c.rooms > 0 && (snap.Conversations[1].Unread != 20 || snap.Conversations[1].Mentions != 2) {
					b.Fatalf("first room %+v", snap.Conversations[1])
				}
				b.StopTimer()
				s.Close()
				for h.Online() != 0 {
					time.Sleep(100 * time.Microsecond)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkRoomsPage measures /rooms pages with 10,000 public rooms:
// "first" is the first page of 50 once its rooms are loaded, "walk" one
// page of 50 on walks through all of them (each room is loaded on its
// first listing: cold-ms/page is the first walk's mean page).
func BenchmarkRoomsPage(b *testing.B) {
	h, _, path := benchHub(b)
	owner := account(b, h, "owner")
	seedRooms(b, path, 10_000, 0, owner.ID)
	ctx := context.Background()
	s, err := h.Connect(ctx, owner)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			page, err := s.Rooms(ctx, "", 50)
			if err != nil || len(page) != 50 {
				b.Fatalf("%d %v", len(page), err)
			}
		}
	})
	b.Run("walk", func(b *testing.B) {
		after := ""
		// The first pass loads every room it lists; later passes find
		// them loaded. cold-ms/page is the mean page of the first pass.
		var cold time.Duration
		coldPages, firstPass, start := 0, true, time.Now()
		for b.Loop() {
			page, err := s.Rooms(ctx, after, 50)
			if err != nil {
				b.Fatal(err)
			}
			if firstPass {
				coldPages++
			}
			if len(page) < 50 {
				if firstPass {
					cold, firstPass = time.Since(start), false
				}
				after = ""
				continue
			}
			after = string(page[len(page)-1].ID)
		}
		if !firstPass && coldPages > 0 {
			b.ReportMetric(float64(cold.Microseconds())/1000/float64(coldPages), "cold-ms/page")
		}
	})
}

// BenchmarkRoomFanout measures the hub's cost per delivery of one message
// to 1,000 online users, each with one session: in a 1,000-member room
// (roomFanoutLocked) and in the lobby (lobbyFanoutLocked, the baseline).
// ns/op is per message; ns/delivery divides it by the 1,000 deliveries.
func BenchmarkRoomFanout(b *testing.B) {
	const n = 1000
	h, _, path := benchHub(b)
	ctx := context.Background()
	now := time.Now().UTC()
	seedSQL(b, path, func(tx *sql.Tx) error {
		for i := range n {
			k := fmt.Sprintf("user%04d", i)
			if _, err := tx.Exec(`INSERT INTO users (handle, handle_key, skeleton, created_at, last_seen) VALUES (?, ?, ?, ?, ?)`, k, k, model.Skeleton(k), now, now); err != nil {
				return err
			}
		}
		return nil
	})
	var ids []UserID
	var sessions []*session
	for i := range n {
		k := fmt.Sprintf("user%04d", i)
		u, err := h.store.UserByHandle(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, UserID(u.ID))
		s, err := h.Connect(ctx, Account{ID: UserID(u.ID), Handle: k})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Close)
		sessions = append(sessions, s.(*session))
	}
	seedRooms(b, path, 1, 1, ids[0], ids...)
	r, err := h.room(ctx, RoomConv("room00001"))
	if err != nil || r == nil || len(r.members) != n {
		b.Fatalf("room %v %v", r, err)
	}
	drainAll := func() {
		for _, s := range sessions {
			for len(s.q) > 0 {
				<-s.q
			}
		}
	}
	m := Message{ID: 1, From: ids[1], FromHandle: "user0001", Body: "hello world", At: now}
	for _, c := range []struct {
		name string
		fan  func()
	}{
		{"lobby", func() { m.Conv = Lobby; h.lobbyFanoutLocked(m) }},
		{"room", func() { m.Conv = r.conv; h.roomFanoutLocked(r, m) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			drainAll()
			i := 0
			for b.Loop() {
				h.mu.Lock()
				c.fan()
				h.mu.Unlock()
				if i++; i%1000 == 0 {
					b.StopTimer()
					drainAll()
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/delivery")
		})
	}
}
