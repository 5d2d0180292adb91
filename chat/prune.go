package chat

// Pruned tells the hub that messages were deleted from the store by
// another path than its own (retention, issue 11): its cache of recent
// messages is dropped, so that History serves only what the store still
// holds.
func (h *Hub) Pruned() { h.recent.reset() }
