"""The cluster harness: a real Kubernetes control plane on loopback, a real node, and the operator
as a child process; used by the e2e tests, `make cluster-up` and the operator benchmark (see
docs/cluster.md)."""
