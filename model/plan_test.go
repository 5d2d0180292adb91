package model

// SQLite only: EXPLAIN QUERY PLAN. On PostgreSQL, TestQueriesPrepareOnPostgreSQL
// plans every query and TestSearchUsesItsIndexOnPostgreSQL checks the search's.

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fullScan matches a query-plan line that scans one of our tables instead of
// searching an index. "SCAN (subquery-N)" is fine, and so is a scan of the
// partial index idx_deliveries_held, which holds only claimed, undelivered
// rows.
var fullScan = regexp.MustCompile(`^SCAN (messages|m|deliveries|d|direct_convs|dc|read_markers|contacts|c|blocks|users|u|keys|released_handles|rooms|r|room_members|room_invites|room_bans|mentions)\b(?: USING (?:COVERING )?INDEX (?:[a-z_]+))?$`)

// partialIndexScan is the one index scan allowed.
const partialIndexScan = "SCAN deliveries USING INDEX idx_deliveries_held"

// queryPlan returns the EXPLAIN QUERY PLAN detail lines of q.
func queryPlan(t *testing.T, d *DB, q string, args ...any) []string {
	t.Helper()
	rows, err := d.wdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestHotQueriesUseIndexes asserts that the queries whose cost must not grow
// with the table (History, Unread, Conversations, the offline queue) search
// an index instead of scanning a table.
func TestHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	d, _ := openTest(t)
	a, b, c := mustUser(t, d, "alice"), mustUser(t, d, "bob"), mustUser(t, d, "carol")
	// Some data. No ANALYZE: production databases have no sqlite_stat1, so
	// the plans checked are the ones the server runs.
	for i := range 20 {
		appendN(t, d, fmt.Sprintf("#room%d", i), 50, "m", a, b, c)
	}
	queueFor(t, d, b, 200, a, c)
	appendN(t, d, DMConv(a.ID, c.ID), 20, "d", a, c)
	if err := d.MarkRead(ctx, a.ID, "#room1", 10); err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC()
	cases := []struct {
		name string
		q    string
		args []any
		want string // an index the plan must mention
	}{
		{"History", historySQL(0), []any{"#room1", int64(math.MaxInt64), 50}, "SEARCH m USING INDEX"},
		{"HistoryHidden", historySQL(2), []any{"#room1", int64(500), b.ID, c.ID, 50}, "SEARCH m USING INDEX"},
		{"Unread", unreadSQL(0), []any{"#room1", a.ID, "#room1", a.ID}, "idx_messages_conv_id_sender"},
		{"UnreadHidden", unreadSQL(1), []any{"#room1", a.ID, "#room1", a.ID, b.ID}, "idx_messages_conv_id_sender"},
		{"Conversations", qConversations, []any{a.ID, a.ID, a.ID}, "idx_direct_convs_user_a"},
		{"Claim", qClaim, []any{"s", b.ID}, "idx_deliveries_pending"},
		{"ClaimCounts", qClaimCounts, []any{b.ID, "s"}, "idx_deliveries_pending"},
		{"ClaimMessages", qClaimMessages, []any{b.ID, "s", 50}, "idx_deliveries_pending"},
		{"HasOffline", qHasOffline, []any{b.ID}, "idx_deliveries_pending"},
		{"Ack", qAck, []any{now, b.ID, "s"}, "idx_deliveries_pending"},
		{"Release", qRelease, []any{b.ID, "s"}, "idx_deliveries_pending"},
		{"ReleaseAll", qReleaseAll, nil, "idx_deliveries_held"},
		{"ContactsOf", qContactsOf, []any{a.ID}, "idx_contacts_pair"},
		{"BlockedBy", qBlockedBy, []any{a.ID}, "idx_blocks_pair"},
		{"HandleHolder", qHandleHolder, []any{Skeleton("alice"), uint64(0), "alice"}, "idx_users_skeleton"},
		{"HandleHeld", qHandleHeld, []any{Skeleton("alice"), uint64(0), now, "alice"}, "idx_released_handles_skeleton"},
		{"RoomHolder", qRoomHolder, []any{Skeleton("go"), "go", "go"}, "idx_rooms_skeleton"},
		{"RoomsOf", qRoomsOf, []any{a.ID, a.ID}, "idx_room_members_user"},
		{"ListRooms", qListRooms, []any{a.ID, "", a.ID, 50}, "sqlite_autoindex_rooms"},
		{"RoomMembers", qRoomMembers, []any{int64(1)}, "sqlite_autoindex_room_members"},
		{"MarkReadToNewest", qMarkReadToNewest, []any{a.ID, "#room1", "#room1"}, "COVERING INDEX"},
		{"Mentions", mentionSQL(1), []any{a.ID, "#room1", a.ID, "#room1", b.ID}, "idx_mentions_user_conv"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan := queryPlan(t, d, tc.q, tc.args...)
			joined := strings.Join(plan, "\n")
			for _, line := range plan {
				if fullScan.MatchString(line) && line != partialIndexScan {
					t.Errorf("full table scan %q in plan:\n%s", line, joined)
				}
			}
			if !strings.Contains(joined, tc.want) {
				t.Errorf("plan does not use %s:\n%s", tc.want, joined)
			}
			if tc.name == "History" || tc.name == "ClaimMessages" {
				if strings.Contains(joined, "TEMP B-TREE FOR ORDER BY") {
					t.Errorf("plan sorts instead of walking the index:\n%s", joined)
				}
			}
			t.Logf("%s:\n%s", tc.name, joined)
		})
	}
}
