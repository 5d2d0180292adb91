package main

import "testing"

// TestClusterConnectedGaugeFollowsNATS: an operator watching a node sees
// whether it reaches the others: sshchat_cluster_connected is 1 while NATS
// is up, 0 once it is gone, and absent on a single node.
func TestClusterConnectedGaugeFollowsNATS(t *testing.T) {
	ns, url := startTestNATS(t)

	ts := startServer(t, testConfig(t, t.TempDir(), "--nats-url", url, "--node-name", "n1"))
	eventually(t, "the gauge to say connected", func() bool { return metricValue(scrapeOf(ts.srv), "sshchat_cluster_connected") == 1 })
	ns.Shutdown()
	eventually(t, "the gauge to say disconnected", func() bool { return metricValue(scrapeOf(ts.srv), "sshchat_cluster_connected") == 0 })

	single := startServer(t, testConfig(t, t.TempDir()))
	if v := metricValue(scrapeOf(single.srv), "sshchat_cluster_connected"); v >= 0 {
		t.Fatalf("a single node shows sshchat_cluster_connected %v; want it absent", v)
	}
}
