package model

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// queueFor stores n DMs from the senders (cycling) to the offline recipient
// and returns their IDs.
func queueFor(t testing.TB, d *DB, recipient User, n int, senders ...User) []int64 {
	t.Helper()
	msgs := make([]*Message, n)
	for i := range msgs {
		s := senders[i%len(senders)]
		msgs[i] = &Message{Conv: DMConv(s.ID, recipient.ID), SenderID: s.ID, SenderHandle: s.Handle,
			Body: fmt.Sprintf("offline %d", i), OfflineFor: recipient.ID}
	}
	if err := d.AppendMessages(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	out := make([]int64, n)
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func TestClaimOfflineExactlyOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b, c := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol")
		const claimers = 20
		var want []int64
		// Keep adding messages while the claimers run, so claims race with
		// appends as well as with each other.
		want = append(want, queueFor(t, d, b, 200, a, c)...)

		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			batches = make([]OfflineBatch, claimers*3)
			errs    []error
		)
		wg.Go(func() {
			for range 10 {
				msgs := make([]*Message, 10)
				for i := range msgs {
					msgs[i] = &Message{Conv: DMConv(a.ID, b.ID), SenderID: a.ID, SenderHandle: "alice", Body: "late", OfflineFor: b.ID}
				}
				if err := d.AppendMessages(ctx, msgs); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				for _, m := range msgs {
					want = append(want, m.ID)
				}
				mu.Unlock()
			}
		})
		for i := range claimers {
			wg.Go(func() {
				for j := range 3 {
					bt, err := d.ClaimOffline(ctx, b.ID, fmt.Sprintf("session-%d-%d", i, j), 1_000_000)
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					}
					batches[i*3+j] = bt
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			t.Fatal(err)
		}
		// Whatever is left after the race goes to one last claim.
		last, err := d.ClaimOffline(ctx, b.ID, "final", 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, last)

		owner := map[int64]int{}
		for i, bt := range batches {
			if bt.Total != len(bt.Messages) {
				t.Fatalf("batch %d: Total %d but %d messages under a huge limit", i, bt.Total, len(bt.Messages))
			}
			sum := 0
			for _, n := range bt.Counts {
				sum += n
			}
			if sum != bt.Total {
				t.Fatalf("batch %d: counts sum to %d, Total %d", i, sum, bt.Total)
			}
			for k, m := range bt.Messages {
				if prev, dup := owner[m.ID]; dup {
					t.Fatalf("message %d claimed by batches %d and %d", m.ID, prev, i)
				}
				owner[m.ID] = i
				if k > 0 && m.ID <= bt.Messages[k-1].ID {
					t.Fatalf("batch %d not oldest first", i)
				}
			}
		}
		if len(owner) != len(want) {
			t.Fatalf("claimed %d distinct messages, queued %d", len(owner), len(want))
		}
		for _, id := range want {
			if _, ok := owner[id]; !ok {
				t.Fatalf("message %d never claimed", id)
			}
		}
	})
}

func TestClaimOfflineReturnsNewestPageButCountsAll(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b, c := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol")
		all := queueFor(t, d, b, 10, a, a, c) // alice 7 (0,1,3,4,6,7,9), carol 3
		queueFor(t, d, a, 4, c)               // someone else's queue

		bt, err := d.ClaimOffline(ctx, b.ID, "s1", 4)
		if err != nil {
			t.Fatal(err)
		}
		if bt.Total != 10 || !reflect.DeepEqual(bt.Counts, map[uint64]int{a.ID: 7, c.ID: 3}) {
			t.Fatalf("Total %d Counts %v", bt.Total, bt.Counts)
		}
		if got := ids(bt.Messages); !reflect.DeepEqual(got, all[6:]) {
			t.Fatalf("messages = %v, want newest four oldest first %v", got, all[6:])
		}
		if bt.Messages[0].Body != "offline 6" || bt.Messages[0].SenderHandle != "alice" {
			t.Fatalf("message content = %+v", bt.Messages[0])
		}
		// Claiming again with the same claim returns what it holds; with another
		// claim, nothing.
		if again, _ := d.ClaimOffline(ctx, b.ID, "s1", 100); again.Total != 10 {
			t.Fatalf("same claim again: Total %d", again.Total)
		}
		if other, _ := d.ClaimOffline(ctx, b.ID, "s2", 100); other.Total != 0 || len(other.Messages) != 0 {
			t.Fatalf("other claim got %+v", other)
		}
		if zero, err := d.ClaimOffline(ctx, a.ID, "s3", 0); err != nil || zero.Total != 4 || len(zero.Messages) != 0 {
			t.Fatalf("limit 0 = %+v, %v", zero, err)
		}
	})
}

func TestClaimOfflineEmptyQueue(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		d, _ := openOn(t, dia)
		bt, err := d.ClaimOffline(context.Background(), 42, "s", 10)
		if err != nil || bt.Total != 0 || len(bt.Messages) != 0 || bt.Counts == nil {
			t.Fatalf("ClaimOffline(empty) = %+v, %v", bt, err)
		}
	})
}

func TestEmptyClaimIsRejected(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		queueFor(t, d, b, 3, a)
		if _, err := d.ClaimOffline(ctx, b.ID, "", 10); err == nil {
			t.Error("ClaimOffline with empty claim accepted")
		}
		if err := d.AckOffline(ctx, b.ID, ""); err == nil {
			t.Error("AckOffline with empty claim accepted (it would ack every unclaimed delivery)")
		}
		if err := d.ReleaseOffline(ctx, b.ID, ""); err == nil {
			t.Error("ReleaseOffline with empty claim accepted")
		}
		if bt, _ := d.ClaimOffline(ctx, b.ID, "s", 10); bt.Total != 3 {
			t.Fatalf("queue changed by rejected calls: %d", bt.Total)
		}
	})
}

func TestAckedDeliveryIsNeverOfferedAgain(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, path := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		queueFor(t, d, b, 5, a)
		if bt, _ := d.ClaimOffline(ctx, b.ID, "s1", 10); bt.Total != 5 {
			t.Fatalf("claimed %d", bt.Total)
		}
		if err := d.AckOffline(ctx, b.ID, "s1"); err != nil {
			t.Fatal(err)
		}
		if bt, _ := d.ClaimOffline(ctx, b.ID, "s2", 10); bt.Total != 0 {
			t.Fatalf("acked deliveries offered again: %+v", bt)
		}
		if bt, _ := d.ClaimOffline(ctx, b.ID, "s1", 10); bt.Total != 0 {
			t.Fatalf("acked deliveries still held by their claim: %+v", bt)
		}
		// Not even after a restart.
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		d2, err := OpenURL(path)
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		if err := d2.ReleaseAllClaims(ctx); err != nil {
			t.Fatal(err)
		}
		if bt, _ := d2.ClaimOffline(ctx, b.ID, "s3", 10); bt.Total != 0 {
			t.Fatalf("acked deliveries offered after restart: %+v", bt)
		}
		// Messages stay in history.
		if h, _ := d2.History(ctx, DMConv(a.ID, b.ID), 0, 10, nil); len(h) != 5 {
			t.Fatalf("history has %d messages, want 5", len(h))
		}
	})
}

func TestAckOnlyAffectsItsClaim(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		queueFor(t, d, b, 2, a)
		if bt, _ := d.ClaimOffline(ctx, b.ID, "s1", 10); bt.Total != 2 {
			t.Fatal("claim failed")
		}
		later := queueFor(t, d, b, 3, a) // queued after s1 claimed
		if err := d.AckOffline(ctx, b.ID, "s1"); err != nil {
			t.Fatal(err)
		}
		bt, _ := d.ClaimOffline(ctx, b.ID, "s2", 10)
		if got := ids(bt.Messages); !reflect.DeepEqual(got, later) {
			t.Fatalf("after ack of s1, s2 got %v, want %v", got, later)
		}
	})
}

func TestReleasedDeliveryIsOfferedAgain(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		want := queueFor(t, d, b, 4, a)
		first, _ := d.ClaimOffline(ctx, b.ID, "s1", 10)
		if err := d.ReleaseOffline(ctx, b.ID, "s1"); err != nil {
			t.Fatal(err)
		}
		second, err := d.ClaimOffline(ctx, b.ID, "s2", 10)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ids(first.Messages), want) || !reflect.DeepEqual(ids(second.Messages), want) {
			t.Fatalf("first %v, second %v, want both %v", ids(first.Messages), ids(second.Messages), want)
		}
		// Releasing someone else's claim, or an acked claim, changes nothing.
		if err := d.ReleaseOffline(ctx, b.ID, "s1"); err != nil {
			t.Fatal(err)
		}
		if err := d.ReleaseOffline(ctx, a.ID, "s2"); err != nil {
			t.Fatal(err)
		}
		if bt, _ := d.ClaimOffline(ctx, b.ID, "s3", 10); bt.Total != 0 {
			t.Fatalf("release of another claim freed s2's deliveries: %+v", bt)
		}
		if err := d.AckOffline(ctx, b.ID, "s2"); err != nil {
			t.Fatal(err)
		}
		if err := d.ReleaseOffline(ctx, b.ID, "s2"); err != nil {
			t.Fatal(err)
		}
		if bt, _ := d.ClaimOffline(ctx, b.ID, "s4", 10); bt.Total != 0 {
			t.Fatalf("release after ack re-offered: %+v", bt)
		}
	})
}

// TestReleaseAllClaimsReoffersClaimsOfCrashedProcess simulates a process that
// claimed deliveries and died before acking: after reopen and
// ReleaseAllClaims the same messages are offered again, acked ones are not.
func TestReleaseAllClaimsReoffersClaimsOfCrashedProcess(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, path := openOn(t, dia)
		a, b, c := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol")
		forB := queueFor(t, d, b, 3, a)
		forC := queueFor(t, d, c, 2, a)
		acked := queueFor(t, d, a, 2, c)
		if _, err := d.ClaimOffline(ctx, b.ID, "old-b", 10); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ClaimOffline(ctx, c.ID, "old-c", 10); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ClaimOffline(ctx, a.ID, "old-a", 10); err != nil {
			t.Fatal(err)
		}
		if err := d.AckOffline(ctx, a.ID, "old-a"); err != nil {
			t.Fatal(err)
		}
		_ = acked
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}

		d2, err := OpenURL(path)
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		if bt, _ := d2.ClaimOffline(ctx, b.ID, "new-b", 10); bt.Total != 0 {
			t.Fatal("claims must survive a reopen until released")
		}
		if err := d2.ReleaseAllClaims(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			who  User
			want []int64
		}{{b, forB}, {c, forC}, {a, nil}} {
			bt, err := d2.ClaimOffline(ctx, tc.who.ID, "new-"+tc.who.Handle, 10)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(bt.Messages); len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("%s after ReleaseAllClaims got %v, want %v", tc.who.Handle, got, tc.want)
			}
		}
	})
}

// TestClaimOfflineLargeQueueIsFast guards against loading every queued body:
// claiming 10,000 queued messages and returning 50 must stay well under a
// second even under -race.
func TestClaimOfflineLargeQueueIsFast(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		if testing.Short() {
			t.Skip("seeds 10,000 messages")
		}
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		for range 10 {
			queueFor(t, d, b, 1000, a)
		}
		start := time.Now()
		bt, err := d.ClaimOffline(ctx, b.ID, "s", 50)
		el := time.Since(start)
		if err != nil || bt.Total != 10_000 || len(bt.Messages) != 50 {
			t.Fatalf("ClaimOffline = %d/%d, %v", bt.Total, len(bt.Messages), err)
		}
		if el > time.Second {
			t.Fatalf("ClaimOffline of 10,000 took %v", el)
		}
		t.Logf("claimed 10,000 (50 returned) in %v", el)
	})
}

// HasOffline answers from a read whether a login has anything to claim:
// unclaimed pending deliveries yes; claimed, acknowledged or none no.
func TestHasOfflineSeesOnlyUnclaimedPending(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b := mustUser(t, d, "alice"), mustUser(t, d, "bob")
		has := func() bool {
			t.Helper()
			ok, err := d.HasOffline(ctx, b.ID)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if has() {
			t.Fatal("nothing queued, HasOffline says yes")
		}
		queueFor(t, d, b, 2, a)
		if !has() {
			t.Fatal("two queued, HasOffline says no")
		}
		if _, err := d.ClaimOffline(ctx, b.ID, "c1", 10); err != nil {
			t.Fatal(err)
		}
		if has() {
			t.Fatal("all claimed, HasOffline says yes")
		}
		if err := d.ReleaseOffline(ctx, b.ID, "c1"); err != nil {
			t.Fatal(err)
		}
		if !has() {
			t.Fatal("released, HasOffline says no")
		}
	})
}

// TestReleaseClaimsPrefixReleasesOnlyOneNodesClaims protects the claims of
// the live nodes of a cluster: releasing node "a_"'s claims re-offers what
// its sessions held and leaves alone those of node "ab" (whose name the
// prefix would match if '_' were a wildcard) and of node "b".
func TestReleaseClaimsPrefixReleasesOnlyOneNodesClaims(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dia string) {
		ctx := context.Background()
		d, _ := openOn(t, dia)
		a, b, c, e := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol"), mustUser(t, d, "erin")
		forB := queueFor(t, d, b, 2, a)
		queueFor(t, d, c, 2, a)
		queueFor(t, d, e, 1, a)
		for _, cl := range []struct {
			who   User
			claim string
		}{{b, "a_/1/x"}, {c, "ab/1/y"}, {e, "b/1/z"}} {
			if bt, err := d.ClaimOffline(ctx, cl.who.ID, cl.claim, 10); err != nil || bt.Total == 0 {
				t.Fatalf("claim %s: %+v %v", cl.claim, bt, err)
			}
		}
		if err := d.ReleaseClaimsPrefix(ctx, "a_/"); err != nil {
			t.Fatal(err)
		}
		if err := d.ReleaseClaimsPrefix(ctx, ""); err == nil {
			t.Fatal("an empty prefix must be refused, not release every claim")
		}
		bt, err := d.ClaimOffline(ctx, b.ID, "c/2/b", 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(bt.Messages); !reflect.DeepEqual(got, forB) {
			t.Errorf("node a_'s claim: re-offered %v, want %v", got, forB)
		}
		for _, who := range []User{c, e} {
			if bt, _ := d.ClaimOffline(ctx, who.ID, "c/2/"+who.Handle, 10); bt.Total != 0 {
				t.Errorf("%s's claim of another node was released: %+v", who.Handle, bt)
			}
		}
	})
}
