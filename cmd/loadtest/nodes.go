package main

// nodes.go: what a run over several nodes checks beyond delivery: one
// order on every screen, what a killed node's senders got through, and
// the report per node.

import (
	"fmt"
	"math"
	"time"
)

// checkOrder compares the order in which the observers first saw the
// messages: one conversation must show one order on every screen.
func (r *runner) checkOrder() {
	obs := r.observed()
	seqs := make([][]int32, len(obs))
	for i, s := range obs {
		seqs[i] = s.order
	}
	ref, bad, example := orderMismatches(seqs)
	rep := r.rep
	rep.OrderChecked = len(obs)
	rep.OrderMismatches = len(bad)
	if len(bad) == 0 {
		return
	}
	rep.OrderExample = fmt.Sprintf("%s (node %d) vs %s (node %d): %s", obs[bad[0]].user, obs[bad[0]].node+1, obs[ref].user, obs[ref].node+1, example)
	rep.Problems = append(rep.Problems, fmt.Sprintf("%d of %d observers saw the messages in another order than %s: %s", len(bad), len(obs), obs[ref].user, rep.OrderExample))
	for _, b := range bad {
		obs[b].orderBad = true
	}
}

// orderMismatches compares sequences of distinct message slots: the
// longest (the first of the longest) is the reference, and a sequence
// mismatches if the messages it shares with the reference are in another
// order. It returns the reference's index, the mismatching indexes and a
// description of the first mismatch.
func orderMismatches(seqs [][]int32) (ref int, bad []int, example string) {
	for i, q := range seqs {
		if len(q) > len(seqs[ref]) {
			ref = i
		}
	}
	if len(seqs) == 0 {
		return 0, nil, ""
	}
	refPos := make(map[int32]int, len(seqs[ref]))
	for p, v := range seqs[ref] {
		refPos[v] = p
	}
	for i, q := range seqs {
		if i == ref {
			continue
		}
		in := make(map[int32]bool, len(q))
		for _, v := range q {
			in[v] = true
		}
		// Both projections onto the shared messages, compared in step.
		var shared []int32
		for _, v := range seqs[ref] {
			if in[v] {
				shared = append(shared, v)
			}
		}
		k := 0
		for _, v := range q {
			if _, ok := refPos[v]; !ok {
				continue
			}
			if shared[k] != v {
				bad = append(bad, i)
				if example == "" {
					example = fmt.Sprintf("shared message %d is slot %d, reference has slot %d", k+1, v, shared[k])
				}
				break
			}
			k++
		}
	}
	return ref, bad, example
}

// countSurvivors recomputes the expected and actual deliveries of a run
// that killed a node over the observers of the surviving nodes only, and
// reports what the killed node's sessions and senders did.
func (r *runner) countSurvivors() {
	rep, tr, cfg := r.rep, r.tr, r.cfg
	rep.Expected, rep.Delivered = 0, 0
	for _, s := range r.observed() {
		if s.node == cfg.killNode {
			rep.KilledDelivered += int64(len(s.lat))
			continue
		}
		rep.Expected += r.owed(s)
		rep.Delivered += int64(len(s.lat))
	}
	for i := range tr.sent {
		if _, sent := tr.sentAt(i); !sent {
			continue
		}
		if tr.acked[i].Load() {
			rep.Acked++
		}
		if tr.senderNode[i/tr.perSender] == cfg.killNode {
			rep.KilledNodeSent++
			if tr.counted(i) {
				rep.KilledNodeCounted++
			}
		}
	}
	if r.killedAt == 0 {
		rep.Problems = append(rep.Problems, "the node was not killed")
	}
	if rep.KilledNotDropped > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d sessions of the killed node did not drop", rep.KilledNotDropped))
	}
}

// nodeReports fills rep.Nodes: the sessions, deliveries, latency and order
// of each node's sessions.
func (r *runner) nodeReports() {
	cfg := r.cfg
	nodes := make([]nodeReport, len(cfg.dialAddrs))
	lats := make([][]time.Duration, len(nodes))
	for i := range nodes {
		nodes[i].Addr = cfg.dialAddrs[i]
		nodes[i].Killed = cfg.killing() && i == cfg.killNode
		if i < len(r.nodeCPU) {
			nodes[i].ServerCPURunS = r.nodeCPU[i]
		}
	}
	for _, s := range r.sessions {
		if s == nil {
			continue
		}
		nr := &nodes[s.node]
		nr.Sessions++
		if !s.ready {
			nr.Failed++
			continue
		}
		nr.Connected++
		if int(s.sender.Load()) >= 0 {
			nr.Senders++
		}
		if s.dropped {
			nr.Dropped++
		}
		if !s.observe || !s.finished() {
			continue
		}
		nr.Observers++
		if s.orderBad {
			nr.OrderMismatches++
		}
		if !nr.Killed {
			nr.Expected += r.owed(s)
		}
		nr.Delivered += int64(len(s.lat))
		lats[s.node] = append(lats[s.node], s.lat...)
	}
	for i := range nodes {
		d := summarize(lats[i])
		nodes[i].LatencyP50Ms, nodes[i].LatencyP99Ms = ms(d.P50), ms(d.P99)
		if nodes[i].Expected > 0 {
			nodes[i].DeliveryRatio = math.Floor(float64(nodes[i].Delivered)/float64(nodes[i].Expected)*1e6) / 1e6
		}
	}
	r.rep.Nodes = nodes
}
