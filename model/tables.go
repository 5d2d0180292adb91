package model

import (
	"strconv"
	"strings"
	"time"
)

// Contact is one entry of a user's contact list.
type Contact struct {
	ID        uint64 `gorm:"primaryKey"`
	OwnerID   uint64 `gorm:"not null;uniqueIndex:idx_contacts_pair,priority:1"`
	ContactID uint64 `gorm:"not null;uniqueIndex:idx_contacts_pair,priority:2;index"`
	CreatedAt time.Time

	// OwnerUser and ContactUser exist only to declare the foreign keys.
	OwnerUser   *User `gorm:"foreignKey:OwnerID;constraint:OnDelete:CASCADE"`
	ContactUser *User `gorm:"foreignKey:ContactID;constraint:OnDelete:CASCADE"`
}

// Block records that Owner does not want to receive anything from Blocked.
type Block struct {
	ID        uint64 `gorm:"primaryKey"`
	OwnerID   uint64 `gorm:"not null;uniqueIndex:idx_blocks_pair,priority:1"`
	BlockedID uint64 `gorm:"not null;uniqueIndex:idx_blocks_pair,priority:2;index"`
	CreatedAt time.Time

	// OwnerUser and BlockedUser exist only to declare the foreign keys.
	OwnerUser   *User `gorm:"foreignKey:OwnerID;constraint:OnDelete:CASCADE"`
	BlockedUser *User `gorm:"foreignKey:BlockedID;constraint:OnDelete:CASCADE"`
}

// Delivery is a message waiting for (or delivered to) an offline recipient.
// It is pending while DeliveredAt is nil; Claim is empty while no session
// holds it. The composite index idx_deliveries_pending covers every query of
// the offline queue (claim, count by sender, newest page, ack, release).
type Delivery struct {
	ID          int64      `gorm:"primaryKey;autoIncrement"`
	RecipientID uint64     `gorm:"not null;index:idx_deliveries_pending,priority:1"`
	DeliveredAt *time.Time `gorm:"index:idx_deliveries_pending,priority:2"`
	Claim       string     `gorm:"size:128;not null;index:idx_deliveries_pending,priority:3"`
	MessageID   int64      `gorm:"not null;index:idx_deliveries_pending,priority:4;index:idx_deliveries_message"`
	SenderID    uint64     `gorm:"not null;index:idx_deliveries_pending,priority:5"`

	// Message exists only to declare the foreign key.
	Message *Message `gorm:"foreignKey:MessageID;constraint:OnDelete:CASCADE"`
}

// ReadMarker is how far a user has read a conversation.
type ReadMarker struct {
	ID         uint64 `gorm:"primaryKey"`
	UserID     uint64 `gorm:"not null;uniqueIndex:idx_read_markers_user_conv,priority:1"`
	Conv       string `gorm:"size:64;not null;uniqueIndex:idx_read_markers_user_conv,priority:2"`
	LastReadID int64  `gorm:"not null;default:0"`
}

// DirectConv registers a direct conversation and its two participants
// (UserA <= UserB). AppendMessages writes it for every "dm:" conversation, so
// Conversations never scans messages.
type DirectConv struct {
	Conv      string `gorm:"primaryKey;size:64"`
	UserA     uint64 `gorm:"not null;index"`
	UserB     uint64 `gorm:"not null;index"`
	CreatedAt time.Time
}

// dmPrefix starts every direct conversation ID.
const dmPrefix = "dm:"

// DMConv returns the conversation ID of the direct conversation between a and
// b: "dm:<lowID>:<highID>".
func DMConv(a, b uint64) string {
	if a > b {
		a, b = b, a
	}
	return dmPrefix + strconv.FormatUint(a, 10) + ":" + strconv.FormatUint(b, 10)
}

// RoomConv returns the conversation ID of the room with name key key:
// "#" + key ("#lobby" is the lobby's).
func RoomConv(key string) string { return "#" + key }

// ParseDMConv splits a direct conversation ID into its two user IDs, low
// first. ok is false when conv is not a well-formed "dm:<lowID>:<highID>".
func ParseDMConv(conv string) (low, high uint64, ok bool) {
	rest, found := strings.CutPrefix(conv, dmPrefix)
	if !found {
		return 0, 0, false
	}
	as, bs, found := strings.Cut(rest, ":")
	if !found {
		return 0, 0, false
	}
	a, err := strconv.ParseUint(as, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	b, err := strconv.ParseUint(bs, 10, 64)
	if err != nil || a > b || conv != DMConv(a, b) {
		return 0, 0, false
	}
	return a, b, true
}
