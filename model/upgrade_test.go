package model

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// release435448b is a database written by the release at commit 435448b
// (schema steps 1-8) through its own store: three users (carol renamed
// to Caroline, her old handle held), alice with two keys; three lobby
// messages (the first edited), a direct conversation of two (the second
// waiting for alice offline); the private room #Ops of alice (owner) and
// bob (operator), carol invited, topic "deploys", four lines of record
// and bob's message mentioning alice offline; carol's key banned and bob
// muted, each audited; alice's theme and bob's clock settings; bob's read
// marker on the lobby at its second message; bob in alice's contacts;
// carol blocked by bob.
const release435448b = "testdata/release-435448b.db"

// SQLite only: the file of a released server.
func TestDatabaseFromReleaseOpensAndKeepsItsData(t *testing.T) {
	ctx := context.Background()
	src, err := os.ReadFile(release435448b)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "chat.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path)
	if err != nil {
		t.Fatalf("open the release's database: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })

	var versions []int
	if err := d.w.Raw(`SELECT version FROM schema_migrations ORDER BY version`).Scan(&versions).Error; err != nil || len(versions) != len(migrations) {
		t.Fatalf("schema steps after the upgrade: %v, %v", versions, err)
	}

	// Users, keys, the rename and its held handle.
	alice, err := d.UserByHandle(ctx, "alice")
	if err != nil || alice.ID != 1 {
		t.Fatalf("alice: %+v, %v", alice, err)
	}
	bob, err := d.UserByFingerprint(ctx, "SHA256:bob-key1")
	if err != nil || bob.Handle != "bob" {
		t.Fatalf("bob: %+v, %v", bob, err)
	}
	carol, err := d.UserByHandle(ctx, "caroline")
	if err != nil || carol.Handle != "Caroline" || carol.ID != 3 {
		t.Fatalf("carol renamed: %+v, %v", carol, err)
	}
	if n, err := d.CountUsers(ctx); err != nil || n != 3 {
		t.Fatalf("users = %d, %v", n, err)
	}
	if keys, err := d.KeysOf(ctx, alice.ID); err != nil || len(keys) != 2 {
		t.Fatalf("alice's keys = %+v, %v", keys, err)
	}
	var hc *HandleConflictError
	if err := d.CreateUser(ctx, &User{Handle: "carol", HandleKey: "carol"}, &Key{Fingerprint: "SHA256:new", PublicKey: "x"}); !errors.As(err, &hc) {
		t.Fatalf("carol's held handle taken by another: %v", err)
	}

	// The lobby, its edit, search and bob's read marker.
	lobby, err := d.History(ctx, "#lobby", 0, 10, nil)
	if err != nil || !slices.Equal(ids(lobby), []int64{1, 2, 3}) {
		t.Fatalf("lobby = %+v, %v", lobby, err)
	}
	if lobby[0].Body != "hello lobby (edited)" || lobby[0].EditedAt == nil || lobby[2].Kind != KindAction {
		t.Fatalf("lobby messages = %+v", lobby)
	}
	if got, err := d.Search(ctx, Search{Words: "whale", Convs: []string{"#lobby"}, Limit: 10}); err != nil || !slices.Equal(ids(got), []int64{2}) {
		t.Fatalf("search = %+v, %v", got, err)
	}
	if u, err := d.Unread(ctx, bob.ID, []string{"#lobby"}, nil); err != nil || u["#lobby"] != 1 {
		t.Fatalf("bob's unread = %v, %v", u, err)
	}

	// The direct conversation and what waits for alice.
	dm := DMConv(alice.ID, bob.ID)
	if h, err := d.History(ctx, dm, 0, 10, nil); err != nil || !slices.Equal(ids(h), []int64{4, 5}) {
		t.Fatalf("dm = %+v, %v", h, err)
	}
	if cs, err := d.Conversations(ctx, alice.ID); err != nil || len(cs) != 1 || cs[0].Conv != dm || cs[0].LastID != 5 {
		t.Fatalf("alice's conversations = %+v, %v", cs, err)
	}
	if mc, err := d.MentionCounts(ctx, alice.ID, []string{"#ops"}, nil); err != nil || mc["#ops"] != 1 {
		t.Fatalf("alice's mentions = %v, %v", mc, err)
	}
	batch, err := d.ClaimOffline(ctx, alice.ID, "s1", 10)
	if err != nil || batch.Total != 2 || batch.Counts[bob.ID] != 1 || batch.RoomCounts["#ops"] != 1 {
		t.Fatalf("alice's offline batch = %+v, %v", batch, err)
	}

	// The room.
	rs, err := d.RoomState(ctx, "ops")
	if err != nil || rs.Room.Name != "#Ops" || !rs.Room.Private || rs.Room.Topic != "deploys" || rs.Room.OwnerID != alice.ID {
		t.Fatalf("room = %+v, %v", rs, err)
	}
	if !slices.Equal(rs.Members, []RoomMember{{alice.ID, RoleOwner}, {bob.ID, RoleOperator}}) || !slices.Equal(rs.Invited, []uint64{carol.ID}) {
		t.Fatalf("room members %+v, invited %v", rs.Members, rs.Invited)
	}
	ops, err := d.History(ctx, "#ops", 0, 10, nil)
	if err != nil || len(ops) != 5 || ops[4].Body != "@alice deploy done" {
		t.Fatalf("#ops history = %+v, %v", ops, err)
	}

	// Moderation, settings, contacts and blocks.
	if bans, err := d.Bans(ctx); err != nil || len(bans) != 1 || bans[0].Fingerprint != "SHA256:carol-key1" || bans[0].Reason != "spam" {
		t.Fatalf("bans = %+v, %v", bans, err)
	}
	if mutes, err := d.Mutes(ctx); err != nil || len(mutes) != 1 || mutes[0].UserID != bob.ID || mutes[0].ExpiresAt == nil {
		t.Fatalf("mutes = %+v, %v", mutes, err)
	}
	audit, err := d.Audit(ctx, 10)
	if err != nil || len(audit) != 2 || audit[0].Action != "mute" || audit[1].Action != "ban" {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
	if s, err := d.UserSettings(ctx, alice.ID); err != nil || s["theme"] != "dark" {
		t.Fatalf("alice's settings = %v, %v", s, err)
	}
	if s, err := d.UserSettings(ctx, bob.ID); err != nil || s["clock"] != "24h" {
		t.Fatalf("bob's settings = %v, %v", s, err)
	}
	if cs, err := d.ContactsOf(ctx, alice.ID); err != nil || len(cs) != 1 || cs[0].ID != bob.ID {
		t.Fatalf("alice's contacts = %+v, %v", cs, err)
	}
	if b, err := d.IsBlocked(ctx, bob.ID, carol.ID); err != nil || !b {
		t.Fatalf("bob blocks carol = %v, %v", b, err)
	}

	// New writes chain onto the old history and take fresh IDs.
	fresh := []*Message{
		{Conv: "#lobby", SenderID: bob.ID, SenderHandle: "bob", Body: "after the upgrade"},
		{Conv: dm, SenderID: alice.ID, SenderHandle: "alice", Body: "got it"},
		{Conv: "#ops", SenderID: alice.ID, SenderHandle: "alice", Body: "thanks"},
	}
	if err := d.AppendMessages(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if fresh[0].Prev != 3 || fresh[1].Prev != 5 || fresh[2].Prev != ops[4].ID || fresh[0].ID <= ops[4].ID {
		t.Fatalf("new messages %d/%d/%d chain onto %d, %d, %d", fresh[0].Prev, fresh[1].Prev, fresh[2].Prev, 3, 5, ops[4].ID)
	}
	room := Room{Name: "#new", NameKey: "new", OwnerID: bob.ID}
	if err := d.CreateRoom(ctx, &room, nil); err != nil || room.ID != rs.Room.ID+1 {
		t.Fatalf("new room = %+v, %v", room, err)
	}
	a := AuditEntry{ActorID: alice.ID, Actor: "alice", Action: "announce", Reason: "upgraded"}
	if err := d.RecordAudit(ctx, &a); err != nil || a.ID != audit[0].ID+1 {
		t.Fatalf("new audit entry = %+v, %v", a, err)
	}
}
