package chat

// State changes made on other nodes (blocks, bans, mutes, rooms, settings,
// edits, read markers, keys): see cluster.go.

// remoteLine is called in the sequencer, with Hub.mu not held, just before
// a message another node committed is fanned out here, so that a line of
// record (a room's join, kick, topic...; a rename) changes this node's
// state first.
func (h *Hub) remoteLine(m Message) {}
