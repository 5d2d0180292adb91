package main

import (
	"fmt"
	"net"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// TestClusterConnectedGaugeFollowsNATS: an operator watching a node sees
// whether it reaches the others: sshchat_cluster_connected is 1 while NATS
// is up, 0 once it is gone, and absent on a single node.
func TestClusterConnectedGaugeFollowsNATS(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS server did not start")
	}
	defer ns.Shutdown()
	url := fmt.Sprintf("nats://127.0.0.1:%d", ns.Addr().(*net.TCPAddr).Port)

	ts := startServer(t, testConfig(t, t.TempDir(), "--nats-url", url, "--node-name", "n1"))
	eventually(t, "the gauge to say connected", func() bool { return metricValue(scrapeOf(ts.srv), "sshchat_cluster_connected") == 1 })
	ns.Shutdown()
	eventually(t, "the gauge to say disconnected", func() bool { return metricValue(scrapeOf(ts.srv), "sshchat_cluster_connected") == 0 })

	single := startServer(t, testConfig(t, t.TempDir()))
	if v := metricValue(scrapeOf(single.srv), "sshchat_cluster_connected"); v >= 0 {
		t.Fatalf("a single node shows sshchat_cluster_connected %v; want it absent", v)
	}
}
