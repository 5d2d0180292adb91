// Package chat is sshchat's broker: accounts, presence, routing, fan-out
// and offline queueing. It knows nothing of terminals or SSH; the ui package
// drives it through the Broker and Session interfaces, and it persists
// through model.Store.
//
// Invariants of the Hub:
//
//   - Persist, then publish. A message is fanned out and Send returns only
//     after the transaction storing it has committed.
//   - One order. A single sequencer goroutine applies every change that
//     sessions must see in one order relative to messages: sends, logins
//     and logouts (registration, which decides whether a direct message
//     is routed live or queued offline), renames (/nick), status changes
//     (/away, /back), list changes (/block, /unblock, /add, /remove; a
//     block takes effect at its commit, so no message sequenced after it
//     reaches the blocker) and room changes (/join, /create, /part,
//     /invite, /kick, /ban, /unban, /op, /deop, /topic: roomOp; each is
//     stored with its line of the room's history in one transaction, so
//     a member removed by it receives nothing of the room committed after
//     it, and one added by it everything after), server administration
//     (/admin kick, ban, unban, mute, unmute, announce: adminOp, see
//     below) and settings (/theme, /tz, /clock, /bell, /notices, /links:
//     settingOp, so a user's sessions get SettingsEvents in the order the
//     store took them). Consecutive sends are committed together
//     (group commit) and published in commit order, so every session sees
//     the same order as the stored history, with each presence, rename
//     and list change in its place among the messages.
//   - Messages first. Logins and logouts wait in their own queue and are
//     applied one at a time between group commits, so a message waits for
//     at most one of them (see Hub.sequence); and they bring no store
//     writes into the sequencer: a login claims its offline messages
//     after registering (only when a read says there are some), a logout
//     settles its claim before leaving, and last-seen times are written
//     by a writer of their own, batched (lastSeenWriter).
//   - Not ordered, on purpose: reads (history, snapshots, /who, /whois);
//     read markers (MarkRead: the ReadEvent carries the ID it reads up to
//     and the marker never moves back, so its place among messages does
//     not matter; the store write is batched by readMarkWriter, and a
//     snapshot writes its user's pending markers before counting); rate limiting; notices to one session; dropping a slow
//     session (its queue closes at once, its logout is then sequenced);
//     registering an account (nothing is published); settling a session's
//     offline claim (per session, under session.claimMu; a claim after
//     registration finds every message routed offline before it); and
//     storing last-seen times (a hint, served from memory until stored).
//   - The hub never blocks on a session. Fan-out is a non-blocking send into
//     each session's bounded queue (Options.QueueLen). Slow-consumer
//     policy: a session whose queue is full is dropped — its Events channel
//     closes and Err returns ErrSlowConsumer; the UI ends that SSH session
//     and the user reconnects and re-reads history. Nothing is lost: every
//     message is in the store before it is queued.
//   - Privacy is a routing decision made here: a direct message is queued
//     only for the sessions of its two parties and a room message only for
//     its members' sessions, history of a direct conversation is served
//     only to its parties and of a room only to its members, and messages
//     from a user someone has blocked are never queued for, stored for, or
//     served to the blocker.
//   - Rooms. The lobby (Lobby) is implicit: everyone is in it, nothing is
//     stored about membership. Every other room ("#" + its name key,
//     RoomConv; names follow the handle rules, NormalizeRoomName) has
//     members with roles (the creator owns it; the owner /op's and /deop's;
//     operators and the owner /topic, /kick, /ban, /unban, and may not act
//     on their equals or the owner), invitations and bans, stored and kept
//     in memory (roomState: loaded on first use, never evicted while the
//     hub runs, changed only by the sequencer under Hub.mu). A room
//     message is stored only if its sender is a member at its commit and
//     fanned out to the live sessions of the members then, skipping those
//     who blocked the sender. Anyone may join a public room; a banned user
//     may not join or be invited until /unban.
//   - Who may invite. To a private room: its operators and owner. To a
//     public room: any member (an invitation is then only a pointer). An
//     invitation shows the invited user the room's name and topic (a
//     ConversationEvent with Invited, and the snapshot), nothing else.
//   - Privacy of private rooms. Send, History, HistoryAfter, MarkRead,
//     /members and /topic serve members only, and /rooms lists a private
//     room only to its members. A non-member's refusal reads as it would for a room that does
//     not exist (it names only what they typed), except that /join and
//     /create say the name is taken. Removal (/part, /kick, /ban) is told to
//     every session of the user at once (ConversationEvent with Removed),
//     offline mentions of a room the user has left are not shown, and a
//     user's snapshot lists only the rooms they are in or invited to.
//   - Mentions. chat.Mentioned is the one rule. A room or lobby message
//     records a mention of each member it names (other than the sender and
//     those who blocked the sender) in its send's transaction; unread
//     mention counts are counted from those rows. A mentioned member with
//     no live session gets a pending delivery, claimed at their next login
//     and shown once in the offline dialog under the room, exactly like an
//     offline direct message.
//   - A message names its author by account. Messages are served with the
//     author's current handle (history joins it from the users table; live
//     fan-out takes it from the online user), and a rename re-labels the
//     lines already shown (PresenceEvent.OldHandle). A rename is sequenced
//     like a send and recorded in the lobby's history (KindRename), and the
//     handle given up is held for its owner for Options.HandleHold.
//   - Storage trouble is told, not hidden. A write the store refuses as
//     unavailable (model.ErrUnavailable: locked by another process, disk
//     full, read-only, I/O error) fails with ErrStorageUnavailable saying
//     what was not done; nothing is reported sent that was not stored.
//     Reads and logins go on (a login leaves its offline messages queued).
//     The log gets one line when storage degrades and one when a write
//     succeeds again (storageHealth); there is nothing to restart.
//   - Edits and deletions (/edit, /delete: the user's last text or action
//     in the conversation; mayChange is the one rule of who may) are
//     sequenced (editOp), so "last" is the last committed before it and
//     the EditEvent takes its place among the messages; the store keeps
//     the row (a deletion empties it) with its edit time, and the event
//     goes to exactly the sessions the message went to (skipping those
//     who blocked the sender). Quiet sessions are not told. An
//     administrator may delete any message by its ID (/admin delete), in
//     any conversation, without reading it: the reply names only the
//     message's ID and sender, and the audit row is written in the
//     deletion's transaction.
//   - Search (Session.Search, /search) reads only the conversations the
//     user may read when it runs (the lobby, rooms they are a member of,
//     their direct conversations), passed to the store as part of the
//     query with their blocked senders; room results are checked against
//     membership again after the read, as History's are.
//   - Presence counts sessions: a user is online from their first session's
//     login to their last session's logout.
//   - Quiet sessions (Hub.Attach, for commands run without a terminal)
//     are outside presence and routing: they announce nothing, do not
//     count as online (a direct message to a user with only quiet
//     sessions is queued offline) and claim no offline messages. They get
//     the messages of the conversations they follow (Hub.Follow) that
//     they may see (a room's system lines included), in commit order,
//     from a hook of the fan-out, and the removal of their user from a
//     room they follow, which ends that follow; they
//     register and follow under Hub.mu, not through the sequencer, since
//     they change nothing another session sees. Their sends take one
//     per-user bucket that outlives the sessions (attach.go).
//   - State carried between nodes (cluster_sync.go). In a cluster
//     (Options.Bus) every change another node must learn is published
//     after its commit, by the op that made it, and applied on each other
//     node by its sequencer (remoteOp), so it takes one place there among
//     that node's own changes. What a node holds in memory is re-read
//     from the store, which stays the truth: a room's members, invitations,
//     bans, roles and topic (on a room event, and on a line of record of a
//     loaded room, remoteLine, before the line is fanned out, so the line
//     and every later message go to the members the store has), a user's
//     block list (so messages from the blocked stop reaching the blocker
//     there too), the bans and mutes in force. The event then says whom to
//     tell what a local change tells: a room's joiner, invitee, removed
//     user (their tails end), new role or topic; the user's contacts,
//     settings, edits and deletions (to the sessions that could see the
//     message), read markers; a banned or kicked user's sessions end and
//     Options.EndKeys is called on every node, as is Options.KeyRemoved
//     for /keys remove and Options.AllowlistChanged after /admin authorize
//     or revoke. A rename's line (remoteLine) renames the user there. A
//     node whose bus connection comes back re-reads all of this state
//     (Hub.resync, from readMissed with its lines) and its "up" event has
//     the others do the same: sessions of keys
//     banned meanwhile end, members are told what changed in the rooms
//     loaded there, and users whose block list changed get their
//     contacts; settings, edits and read markers missed meanwhile are
//     read at the next login or history read. A bus that drops events
//     for this node (a NATS slow consumer, LossReporter) makes it do the
//     same and read on in its conversations from the store, without
//     telling its sessions the link went down.
//   - Administration (admin.go). Administrators are keys: Hub.isAdmin asks
//     Options.IsAdmin about the fingerprint a session authenticated with,
//     at each use, so a change of the operator's list takes effect at
//     once, in open sessions too. Every /admin action is an adminOp: its
//     store change and its audit row commit in one transaction, then,
//     under Hub.mu, the bans and mutes in memory (moderation) change and
//     the sessions (of Connect and Attach) of a kicked or banned key are
//     ended with ErrRemoved; then Options.EndKeys asks the server to end
//     those keys' SSH sessions. So nothing sequenced after a ban reaches
//     its sessions and a send of theirs sequenced after it is refused; a
//     join sequenced after a ban is refused, as is an Attach after it
//     (checked under Hub.mu) and any login (Authenticate, Register). A
//     mute refuses, at send and again at commit, every lobby or room post
//     of the user sequenced after it, never a direct message. Bans are
//     read from memory only (Hub.Banned), so the server can check every
//     key offered before authentication. Whether a user is online as an
//     administrator (Presence.Admin, the roster's mark) is published like
//     any presence change, by the sequencer: when a session comes or goes
//     and when the operator's list changes (Hub.AdminsChanged).
//   - Several nodes (Options.Bus; cluster.go, cluster_order.go,
//     cluster_presence.go). Hubs sharing one database publish what they
//     commit and change; the store stays the truth. Every committed
//     message (sends, lines of record, rename lines) is published after
//     its commit and fanned out on every node, its own commits included,
//     through one orderer per conversation that follows the store's Prev
//     chain: a message is shown after its predecessor, never twice, and a
//     predecessor that does not come on the bus in time is read from the
//     store, so a node dying between commit and publish loses nothing for
//     the others. Each node routes what it receives by its own state and
//     the rules above (blocks, membership, offline routing decided by the
//     committing node). Presence counts sessions on every node (each
//     node's changes and heartbeat); a node silent for deadAfter is gone,
//     its users offline unless online elsewhere and its offline claims
//     (which carry its name) released. A node whose bus is down goes on
//     locally, tells its sessions, and on return catches up from the
//     store. All of it is applied in the sequencer; gap and tick timers
//     only submit ops. Another node's text or action line changes no
//     state a commit looks at, so it does not end a group commit: it is
//     delivered where it stands in the queue, ahead of the local sends
//     queued around it (committed after it anyway; line.inert).
//   - Known limits of several nodes (docs/deploy.md says them to
//     operators). A node cut off from NATS for longer than deadAfter is
//     taken for dead: its claims are released while its sessions may
//     still hold them, so a message may be offered twice. A direct
//     message read back from the store (a gap) does not say it was routed
//     offline, so a recipient online here may see it live and in the
//     offline dialog. Membership checks at commit use this node's memory,
//     so a post sent in the moment before a removal made elsewhere
//     arrives here (its bus latency) may still be stored.
//
// Lock order: Hub.mu, then session.mu, lastSeenWriter.mu or moderation.mu;
// never the reverse. session.claimMu is held around store I/O, never with Hub.mu
// (a notice pushed under it takes session.mu). Hub.submitMu is read-held
// only while queueing an op and never while holding Hub.mu. No other lock
// is held across store I/O.
package chat
