package model

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Schema changes.
//
// The tables of the original schema are created and kept up to date by
// GORM's AutoMigrate from the structs (it only adds what is missing). Every
// later change is a numbered step in migrations, applied once, in order, in
// its own transaction that also records it in schema_migrations. A step is
// never edited once released: a change to it is a new step. Steps use SQL
// that SQLite and PostgreSQL both accept; fields they add are tagged
// `gorm:"-:migration"` so that AutoMigrate leaves them to the step.

// migration is one versioned schema step.
type migration struct {
	version int
	name    string
	up      func(tx *gorm.DB) error
}

// migrations are the schema steps after the AutoMigrate baseline, in order.
var migrations = []migration{
	{1, "released handles are held for their previous owner", migrateReleasedHandles},
	{2, "handles are compared by confusable skeleton", migrateSkeletons},
	{3, "rooms, their members, invites and bans; mentions", migrateRooms},
	{4, "server-wide bans, mutes and the moderation audit log", migrateModeration},
	{5, "one-time codes that link a new key to an account", migrateLinkCodes},
	{6, "per-user settings: theme, time zone, clock, bell, notices, links", migrateUserSettings},
	{7, "full-text search of messages; edited and deleted messages", migrateSearch},
	{8, "full-text index stored newest first", migrateSearchNewestFirst},
	{9, "each conversation's newest message, locked to keep one order", migrateConvHeads},
	{10, "IDs of rooms and audit entries from a counter row; a lock of handle claims", migrateIDCounters},
	{11, "the database's random ID, which the nodes of a cluster compare", migrateInstallation},
}

// ErrSchemaTooNew means the database was migrated by a newer server.
var ErrSchemaTooNew = errors.New("database schema is newer than this server")

const qCreateSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name VARCHAR(128) NOT NULL,
	applied_at TIMESTAMP NOT NULL
)`

// checkSchemaVersion returns ErrSchemaTooNew when the database records a
// step newer than the last of ms. It runs before anything else of migrate,
// so that a refused database is left as it was.
func checkSchemaVersion(g *gorm.DB, ms []migration) error {
	if !g.Migrator().HasTable("schema_migrations") {
		return nil
	}
	var newest int
	if err := g.Raw(`SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest).Error; err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if known := ms[len(ms)-1].version; newest > known {
		return fmt.Errorf("%w: version %d, this server knows up to %d", ErrSchemaTooNew, newest, known)
	}
	return nil
}

// runMigrations applies the steps of ms the database has not recorded yet.
// Each step and its record commit together, so a crash between steps
// leaves a database that the next start continues from.
func runMigrations(g *gorm.DB, ms []migration) error {
	if err := g.Exec(qCreateSchemaMigrations).Error; err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		err := g.Transaction(func(tx *gorm.DB) error {
			// Checked inside the (BEGIN IMMEDIATE) transaction: another
			// process opening the same file may have applied it meanwhile.
			var n int64
			if err := tx.Raw(`SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if err := m.up(tx); err != nil {
				return err
			}
			return tx.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, time.Now().UTC()).Error
		})
		if err != nil {
			return fmt.Errorf("schema step %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// migrateReleasedHandles creates released_handles: a handle someone gave up
// by renaming, held for them (no one else may take it) until held_until.
func migrateReleasedHandles(tx *gorm.DB) error {
	for _, q := range []string{
		`CREATE TABLE released_handles (
			handle_key VARCHAR(128) PRIMARY KEY,
			handle VARCHAR(64) NOT NULL,
			user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
			held_until TIMESTAMP NOT NULL
		)`,
		`CREATE INDEX idx_released_handles_user ON released_handles(user_id)`,
	} {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// migrateSkeletons adds the skeleton column (Skeleton of handle_key) to
// users and released_handles, fills it in and indexes it. The indexes are
// not unique: handles registered before the rule may look alike, and both
// are kept; only new claims are refused (checkHandle).
func migrateSkeletons(tx *gorm.DB) error {
	for _, table := range []string{"users", "released_handles"} {
		if err := tx.Exec(`ALTER TABLE ` + table + ` ADD COLUMN skeleton VARCHAR(128) NOT NULL DEFAULT ''`).Error; err != nil {
			return err
		}
		var keys []string
		if err := tx.Raw(`SELECT handle_key FROM ` + table).Scan(&keys).Error; err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Exec(`UPDATE `+table+` SET skeleton = ? WHERE handle_key = ?`, Skeleton(k), k).Error; err != nil {
				return err
			}
		}
		if err := tx.Exec(`CREATE INDEX idx_` + table + `_skeleton ON ` + table + `(skeleton)`).Error; err != nil {
			return err
		}
	}
	return nil
}

// migrateRooms creates the tables of rooms (see rooms.go): the rooms, who
// is in each and with what role, who is invited or banned, and which
// messages mention whom (so that unread mention counts are an index range,
// not a scan of message bodies).
func migrateRooms(tx *gorm.DB) error {
	for _, q := range []string{
		`CREATE TABLE rooms (
			id BIGINT PRIMARY KEY,
			name VARCHAR(64) NOT NULL,
			name_key VARCHAR(64) NOT NULL UNIQUE,
			skeleton VARCHAR(128) NOT NULL,
			private BOOLEAN NOT NULL DEFAULT FALSE,
			topic VARCHAR(1024) NOT NULL DEFAULT '',
			owner_id BIGINT NOT NULL,
			created_at TIMESTAMP NOT NULL
		)`,
		`CREATE INDEX idx_rooms_skeleton ON rooms(skeleton)`,
		`CREATE TABLE room_members (
			room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
			user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
			role INTEGER NOT NULL DEFAULT 0,
			joined_at TIMESTAMP NOT NULL,
			PRIMARY KEY (room_id, user_id)
		)`,
		`CREATE INDEX idx_room_members_user ON room_members(user_id)`,
		`CREATE TABLE room_invites (
			room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
			user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
			by_id BIGINT NOT NULL,
			created_at TIMESTAMP NOT NULL,
			PRIMARY KEY (room_id, user_id)
		)`,
		`CREATE INDEX idx_room_invites_user ON room_invites(user_id)`,
		`CREATE TABLE room_bans (
			room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
			user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
			by_id BIGINT NOT NULL,
			reason VARCHAR(512) NOT NULL DEFAULT '',
			created_at TIMESTAMP NOT NULL,
			PRIMARY KEY (room_id, user_id)
		)`,
		`CREATE TABLE mentions (
			message_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
			user_id BIGINT NOT NULL,
			conv VARCHAR(64) NOT NULL,
			sender_id BIGINT NOT NULL,
			PRIMARY KEY (message_id, user_id)
		)`,
		`CREATE INDEX idx_mentions_user_conv ON mentions(user_id, conv, message_id)`,
	} {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// migrateLinkCodes creates link_codes: a one-time code (stored as a hash)
// that lets a new key join an existing account until expires_at (see
// keys.go).
func migrateLinkCodes(tx *gorm.DB) error {
	for _, q := range []string{
		`CREATE TABLE link_codes (
			code_hash VARCHAR(128) PRIMARY KEY,
			user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
			expires_at TIMESTAMP NOT NULL,
			created_at TIMESTAMP NOT NULL
		)`,
		`CREATE INDEX idx_link_codes_user ON link_codes(user_id)`,
	} {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// migrateSearch creates message_edits (when a message was last edited,
// and whether it was deleted: a deleted message keeps its row in
// messages, with an empty body, for order and replies; a table of its own
// keeps messages as narrow as the hot queries' plans expect) and the
// full-text index of message bodies, filled from the messages already
// stored (see search.go: the index is the one thing that differs between
// the databases).
func migrateSearch(tx *gorm.DB) error {
	if err := tx.Exec(`CREATE TABLE message_edits (
		message_id BIGINT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
		edited_at TIMESTAMP NOT NULL,
		deleted BOOLEAN NOT NULL DEFAULT FALSE
	)`).Error; err != nil {
		return err
	}
	for _, q := range fullTextOf(tx.Dialector.Name()).schema {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// migrateSearchNewestFirst rebuilds the full-text index so that a search,
// which reads newest first, stops at its page (see search.go; nothing to
// do on PostgreSQL).
func migrateSearchNewestFirst(tx *gorm.DB) error {
	for _, q := range fullTextOf(tx.Dialector.Name()).newestFirst {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// migrateIDCounters creates id_counters: the last ID given to a room and
// to an audit entry (qNextID), started at the largest stored. Those tables
// were created with a plain BIGINT key (steps 3 and 4), and an ID read as
// max(id)+1 collides when two PostgreSQL transactions read it at once; the
// counter row's lock makes the second wait for the first. The row
// "handles" counts nothing: its lock (qLockHandles) makes claims of
// handles wait for each other, so that the look-alike check of one sees
// the other's handle.
func migrateIDCounters(tx *gorm.DB) error {
	for _, q := range []string{
		`CREATE TABLE id_counters (name VARCHAR(32) PRIMARY KEY, last_id BIGINT NOT NULL)`,
		`INSERT INTO id_counters (name, last_id) SELECT 'rooms', coalesce(max(id), 0) FROM rooms`,
		`INSERT INTO id_counters (name, last_id) SELECT 'audit_log', coalesce(max(id), 0) FROM audit_log`,
		`INSERT INTO id_counters (name, last_id) VALUES ('handles', 0)`,
	} {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

const (
	// qNextID takes the next ID of a table from its counter row, locking
	// it until the transaction ends (args: table name).
	qNextID = `UPDATE id_counters SET last_id = last_id + 1 WHERE name = ? RETURNING last_id`
	// qLockHandles makes the transaction's claim of a handle wait for
	// the others' until it ends.
	qLockHandles = `UPDATE id_counters SET last_id = last_id WHERE name = 'handles'`
)
