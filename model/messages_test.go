package model

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// appendN stores n text messages in conv, sender cycling over senders, with
// bodies "<prefix><i>", and returns their IDs.
func appendN(t testing.TB, d *DB, conv string, n int, prefix string, senders ...User) []int64 {
	t.Helper()
	msgs := make([]*Message, n)
	for i := range msgs {
		s := senders[i%len(senders)]
		msgs[i] = &Message{Conv: conv, SenderID: s.ID, SenderHandle: s.Handle, Body: fmt.Sprintf("%s%d", prefix, i)}
	}
	if err := d.AppendMessages(context.Background(), msgs); err != nil {
		t.Fatalf("AppendMessages: %v", err)
	}
	ids := make([]int64, n)
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

func ids(msgs []Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func TestParseDMConv(t *testing.T) {
	if got := DMConv(9, 3); got != "dm:3:9" {
		t.Fatalf("DMConv(9, 3) = %q", got)
	}
	if a, b, ok := ParseDMConv("dm:3:9"); !ok || a != 3 || b != 9 {
		t.Fatalf("ParseDMConv(dm:3:9) = %d, %d, %v", a, b, ok)
	}
	for _, bad := range []string{"", "#lobby", "dm:", "dm:3", "dm:9:3", "dm:a:b", "dm:03:9", "dm:3:9:1", "dm:-1:2", "dm:+1:2"} {
		if _, _, ok := ParseDMConv(bad); ok {
			t.Errorf("ParseDMConv(%q) accepted", bad)
		}
	}
}

func TestAppendMessagesAssignsIncreasingIDsInSliceOrder(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
		msgs := []*Message{
			{Conv: "#lobby", SenderID: a.ID, SenderHandle: "alice", Body: "one", CreatedAt: at},
			{Conv: DMConv(a.ID, b.ID), SenderID: a.ID, SenderHandle: "alice", Kind: KindAction, Body: "two", OfflineFor: b.ID},
			{Conv: "#lobby", SenderID: b.ID, SenderHandle: "bob", Body: "three"},
		}
		if err := d.AppendMessages(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		if !(msgs[0].ID > 0 && msgs[1].ID > msgs[0].ID && msgs[2].ID > msgs[1].ID) {
			t.Fatalf("IDs not increasing in slice order: %d %d %d", msgs[0].ID, msgs[1].ID, msgs[2].ID)
		}
		if !msgs[0].CreatedAt.Equal(at) || msgs[1].CreatedAt.IsZero() {
			t.Errorf("CreatedAt not kept/assigned: %v %v", msgs[0].CreatedAt, msgs[1].CreatedAt)
		}
		h, err := d.History(ctx, DMConv(a.ID, b.ID), 0, 10, nil)
		if err != nil || len(h) != 1 {
			t.Fatalf("DM history = %+v, %v", h, err)
		}
		want := *msgs[1]
		want.OfflineFor = 0
		want.Author = a.Handle // read back with the sender's current handle
		if !h[0].CreatedAt.Equal(stored(dia, want.CreatedAt)) {
			t.Errorf("CreatedAt round trip: %v != %v", h[0].CreatedAt, want.CreatedAt)
		}
		h[0].CreatedAt = want.CreatedAt
		if !reflect.DeepEqual(h[0], want) {
			t.Errorf("stored %+v, want %+v", h[0], want)
		}
		batch, err := d.ClaimOffline(ctx, b.ID, "s1", 10)
		if err != nil || batch.Total != 1 || batch.Messages[0].ID != msgs[1].ID {
			t.Fatalf("only the OfflineFor message should be queued: %+v, %v", batch, err)
		}
	})
}

func TestAppendMessagesRejectsBadBatchAtomically(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a := mustUser(t, d, "alice")
		good := &Message{Conv: "#lobby", SenderID: a.ID, SenderHandle: "alice", Body: "ok"}
		for name, bad := range map[string]*Message{
			"nil":          nil,
			"no conv":      {SenderID: a.ID, Body: "x"},
			"malformed dm": {Conv: "dm:9:3", SenderID: a.ID, Body: "x"},
		} {
			if err := d.AppendMessages(ctx, []*Message{good, bad}); err == nil {
				t.Errorf("%s: accepted", name)
			}
			if good.ID != 0 {
				t.Errorf("%s: failed batch assigned an ID", name)
			}
		}
		if h, _ := d.History(ctx, "#lobby", 0, 10, nil); len(h) != 0 {
			t.Fatalf("part of a rejected batch was stored: %+v", h)
		}
		if err := d.AppendMessages(ctx, nil); err != nil {
			t.Errorf("empty batch: %v", err)
		}
	})
}

func TestHistoryPagesNewestFirstReturnedOldestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a := mustUser(t, d, "alice")
		all := appendN(t, d, "#lobby", 25, "m", a)
		appendN(t, d, "#other", 5, "o", a)

		page1, err := d.History(ctx, "#lobby", 0, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page1); !reflect.DeepEqual(got, all[15:]) {
			t.Fatalf("first page = %v, want %v", got, all[15:])
		}
		page2, _ := d.History(ctx, "#lobby", page1[0].ID, 10, nil)
		if got := ids(page2); !reflect.DeepEqual(got, all[5:15]) {
			t.Fatalf("second page = %v, want %v", got, all[5:15])
		}
		page3, _ := d.History(ctx, "#lobby", page2[0].ID, 10, nil)
		if got := ids(page3); !reflect.DeepEqual(got, all[:5]) {
			t.Fatalf("last page = %v, want %v", got, all[:5])
		}
		if end, _ := d.History(ctx, "#lobby", page3[0].ID, 10, nil); len(end) != 0 {
			t.Fatalf("past the start: %v", ids(end))
		}
		if none, err := d.History(ctx, "#lobby", 0, 0, nil); err != nil || len(none) != 0 {
			t.Fatalf("limit 0 = %v, %v", none, err)
		}
		if none, err := d.History(ctx, "#nowhere", 0, 10, nil); err != nil || len(none) != 0 {
			t.Fatalf("unknown conv = %v, %v", none, err)
		}
	})
}

func TestHistoryAfterPagesForwardsOldestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		all := appendN(t, d, "#lobby", 25, "m", a)
		appendN(t, d, "#other", 5, "o", a)

		page1, err := d.HistoryAfter(ctx, "#lobby", all[4], 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page1); !reflect.DeepEqual(got, all[5:15]) {
			t.Fatalf("first page = %v, want %v", got, all[5:15])
		}
		page2, _ := d.HistoryAfter(ctx, "#lobby", page1[len(page1)-1].ID, 20, nil)
		if got := ids(page2); !reflect.DeepEqual(got, all[15:]) {
			t.Fatalf("second page = %v, want %v", got, all[15:])
		}
		if end, _ := d.HistoryAfter(ctx, "#lobby", all[24], 10, nil); len(end) != 0 {
			t.Fatalf("past the newest: %v", ids(end))
		}
		appendN(t, d, "#lobby", 3, "b", b)
		if h, _ := d.HistoryAfter(ctx, "#lobby", all[20], 10, []uint64{b.ID}); !reflect.DeepEqual(ids(h), all[21:]) {
			t.Fatalf("hidden sender: %v", ids(h))
		}
	})
}

func TestHistoryHidesBlockedSenders(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b, c := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol")
		appendN(t, d, "#lobby", 30, "m", a, b, c)
		h, err := d.History(ctx, "#lobby", 0, 10, []uint64{b.ID, c.ID, b.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 10 {
			t.Fatalf("got %d messages, want a full page of 10 from alice", len(h))
		}
		for i, m := range h {
			if m.SenderID != a.ID {
				t.Fatalf("hidden sender %d in history", m.SenderID)
			}
			if i > 0 && m.ID <= h[i-1].ID {
				t.Fatal("not oldest first")
			}
		}
	})
}

// TestAcknowledgedMessageSurvivesReopen checks that whatever a method
// returned for is on disk when the database is opened again.
func TestAcknowledgedMessageSurvivesReopen(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, path := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		dm := DMConv(a.ID, b.ID)
		msgs := []*Message{
			{Conv: dm, SenderID: a.ID, SenderHandle: "alice", Body: "while you were out", OfflineFor: b.ID},
			{Conv: "#lobby", SenderID: a.ID, SenderHandle: "alice", Body: "hello"},
		}
		if err := d.AppendMessages(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		if err := d.MarkRead(ctx, b.ID, "#lobby", msgs[1].ID); err != nil {
			t.Fatal(err)
		}
		if err := d.Block(ctx, b.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}

		d2, err := OpenURL(path)
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		if u, err := d2.UserByFingerprint(ctx, "SHA256:bob"); err != nil || u.ID != b.ID {
			t.Fatalf("user lost: %+v, %v", u, err)
		}
		h, err := d2.History(ctx, "#lobby", 0, 10, nil)
		if err != nil || len(h) != 1 || h[0].ID != msgs[1].ID || h[0].Body != "hello" {
			t.Fatalf("room history after reopen = %+v, %v", h, err)
		}
		convs, err := d2.Conversations(ctx, b.ID)
		if err != nil || len(convs) != 1 || convs[0].Conv != dm || convs[0].LastID != msgs[0].ID {
			t.Fatalf("conversations after reopen = %+v, %v", convs, err)
		}
		if ok, _ := d2.IsBlocked(ctx, b.ID, a.ID); !ok {
			t.Fatal("block lost")
		}
		un, err := d2.Unread(ctx, b.ID, []string{"#lobby"}, nil)
		if err != nil || un["#lobby"] != 0 {
			t.Fatalf("read marker lost: %v, %v", un, err)
		}
		batch, err := d2.ClaimOffline(ctx, b.ID, "after-restart", 10)
		if err != nil || batch.Total != 1 || batch.Messages[0].Body != "while you were out" {
			t.Fatalf("offline queue after reopen = %+v, %v", batch, err)
		}
	})
}

func TestConversationsListsDirectConversationsWithPeer(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b, c := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol")
		ab, ac, bc := DMConv(a.ID, b.ID), DMConv(a.ID, c.ID), DMConv(b.ID, c.ID)
		appendN(t, d, ab, 3, "x", a, b)
		appendN(t, d, bc, 2, "y", b, c)
		lastAC := appendN(t, d, ac, 2, "z", c)[1]
		lastAB := appendN(t, d, ab, 1, "w", b)[0]
		appendN(t, d, "#lobby", 3, "r", a)

		got, err := d.Conversations(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []ConvSummary{{Conv: ab, PeerID: b.ID, LastID: lastAB}, {Conv: ac, PeerID: c.ID, LastID: lastAC}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Conversations(alice) = %+v, want %+v", got, want)
		}
		got, _ = d.Conversations(ctx, c.ID)
		if len(got) != 2 || got[0].Conv != ac || got[0].PeerID != a.ID || got[1].PeerID != b.ID {
			t.Fatalf("Conversations(carol) = %+v", got)
		}
		if got, err := d.Conversations(ctx, 9999); err != nil || len(got) != 0 {
			t.Fatalf("Conversations(nobody) = %+v, %v", got, err)
		}
	})
}

func TestConversationsListsSelfConversationOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		d, _ := openOn(t, dia)
		a := mustUser(t, d, "alice")
		appendN(t, d, DMConv(a.ID, a.ID), 1, "note", a)
		got, err := d.Conversations(context.Background(), a.ID)
		if err != nil || len(got) != 1 || got[0].PeerID != a.ID {
			t.Fatalf("Conversations = %+v, %v", got, err)
		}
	})
}

func TestMarkReadNeverMovesBackwards(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		all := appendN(t, d, "#lobby", 10, "m", a)
		if err := d.MarkRead(ctx, b.ID, "#lobby", all[7]); err != nil {
			t.Fatal(err)
		}
		if err := d.MarkRead(ctx, b.ID, "#lobby", all[2]); err != nil {
			t.Fatal(err)
		}
		un, err := d.Unread(ctx, b.ID, []string{"#lobby"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if un["#lobby"] != 2 {
			t.Fatalf("unread = %d, want 2 (marker must stay at the 8th message)", un["#lobby"])
		}
		if err := d.MarkRead(ctx, b.ID, "#lobby", all[9]); err != nil {
			t.Fatal(err)
		}
		if un, _ := d.Unread(ctx, b.ID, []string{"#lobby"}, nil); un["#lobby"] != 0 {
			t.Fatalf("unread after reading all = %d", un["#lobby"])
		}
	})
}

func TestUnreadCountsExcludeOwnAndHiddenSenders(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b, c := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol")
		lobby := appendN(t, d, "#lobby", 9, "m", a, b, c) // 3 each
		dm := DMConv(a.ID, b.ID)
		appendN(t, d, dm, 4, "d", a, b) // 2 each

		un, err := d.Unread(ctx, a.ID, []string{"#lobby", dm, "#empty", "#lobby"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"#lobby": 6, dm: 2, "#empty": 0}
		if !reflect.DeepEqual(un, want) {
			t.Fatalf("Unread = %v, want %v", un, want)
		}
		un, _ = d.Unread(ctx, a.ID, []string{"#lobby"}, []uint64{c.ID})
		if un["#lobby"] != 3 {
			t.Fatalf("Unread hiding carol = %d, want 3", un["#lobby"])
		}
		if err := d.MarkRead(ctx, a.ID, "#lobby", lobby[5]); err != nil {
			t.Fatal(err)
		}
		un, _ = d.Unread(ctx, a.ID, []string{"#lobby"}, nil) // lobby[6..8]: a, b, c
		if un["#lobby"] != 2 {
			t.Fatalf("Unread after marker = %d, want 2", un["#lobby"])
		}
		if un, err := d.Unread(ctx, a.ID, nil, nil); err != nil || len(un) != 0 {
			t.Fatalf("Unread(no convs) = %v, %v", un, err)
		}
	})
}

func TestHistoryHonoursContext(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		d, _ := openOn(t, dia)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := d.History(ctx, "#lobby", 0, 10, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("History(cancelled) = %v", err)
		}
		if err := d.AppendMessages(ctx, []*Message{{Conv: "#lobby", Body: "x"}}); !errors.Is(err, context.Canceled) {
			t.Fatalf("AppendMessages(cancelled) = %v", err)
		}
	})
}

func TestUnreadStopsAtCap(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		d, _ := openOn(t, dia)
		ctx := context.Background()
		reader, writer := mustUser(t, d, "reader"), mustUser(t, d, "writer")
		msgs := make([]*Message, UnreadCap+50)
		for i := range msgs {
			msgs[i] = &Message{Conv: "#lobby", SenderID: writer.ID, SenderHandle: "writer", Body: "x"}
		}
		if err := d.AppendMessages(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		got, err := d.Unread(ctx, reader.ID, []string{"#lobby"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got["#lobby"] != UnreadCap {
			t.Fatalf("unread %d; want the cap %d", got["#lobby"], UnreadCap)
		}
	})
}

// TestUnreadCountsOnlyWhatPeopleSaid: lines of record (a rename, a room's
// joins and kicks) are not unread, as the UI does not count them live.
func TestUnreadCountsOnlyWhatPeopleSaid(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		now := time.Now()
		msgs := []*Message{
			{Conv: "#lobby", SenderID: b.ID, SenderHandle: "bob", Kind: KindText, Body: "hi", CreatedAt: now},
			{Conv: "#lobby", SenderID: b.ID, SenderHandle: "bob", Kind: KindAction, Body: "waves", CreatedAt: now},
			{Conv: "#lobby", SenderID: b.ID, SenderHandle: "bobby", Kind: KindRename, Body: "bob is now known as bobby", CreatedAt: now},
			{Conv: "#lobby", SenderID: b.ID, SenderHandle: "bobby", Kind: KindSystem, Body: "bobby joined", CreatedAt: now},
		}
		if err := d.AppendMessages(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		un, err := d.Unread(ctx, a.ID, []string{"#lobby"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if un["#lobby"] != 2 {
			t.Fatalf("Unread = %d, want 2 (text and action only)", un["#lobby"])
		}
	})
}
