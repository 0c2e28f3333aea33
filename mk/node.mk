# The real node for the e2e suite: containerd + kubelet running the project's own images
# (see docs/cluster.md). Pieces are built into ~/.cache/traveller-vtt (never the repo).
NODE_APT_PACKAGES := containerd runc containernetworking-plugins buildah mmdebstrap iproute2 iptables

TEST_PREREQS += node-bins

.PHONY: node-prereqs node-bins e2e-node

node-prereqs:
	@bash tools/ensure-apt.sh $(NODE_APT_PACKAGES)

node-bins: node-prereqs cluster-bins ## Build the kubelet, pause and the images (Debian base, server, operator) into ~/.cache
	@bash tests/cluster/build-node.sh

e2e-node: $(STAMP) node-bins ## Only the real-node suite: real pods from the project's images (needs root)
	$(PY) -m pytest tests/e2e/node -m node $(PYTEST_ARGS)
