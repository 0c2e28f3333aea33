# Real Kubernetes control plane for the e2e suite (see docs/cluster.md).
# Binaries are built from Go modules into ~/.cache/traveller-vtt/<versions-key>/bin, never the repo.
CLUSTER_DIR := tests/cluster
CLUSTER_RUN_DIR ?= $(HOME)/.cache/traveller-vtt/run
KIND_CLUSTER ?= tvtt-e2e
KIND_KUBECONFIG ?= $(HOME)/.cache/traveller-vtt/kind-$(KIND_CLUSTER).kubeconfig
KIND_IMAGE_ARGS ?=
E2E_IMAGE ?= registry.k8s.io/pause:3.10

TEST_PREREQS += cluster-bins

.PHONY: cluster-bins cluster-up cluster-down cluster-status e2e-kind

cluster-bins: ## Build the pinned etcd/kube-*/kwok/kubectl/helm into ~/.cache (only what is missing)
	@bash $(CLUSTER_DIR)/build.sh

# The runner is stdlib-only, so people need no venv for a cluster.
cluster-up: cluster-bins ## Start a loopback control plane (kwok nodes) and print `export KUBECONFIG=...`
	@$(PYTHON) -m tests.cluster.controlplane up --run-dir $(CLUSTER_RUN_DIR)

cluster-down: ## Stop the control plane started by cluster-up and remove its state dir
	@$(PYTHON) -m tests.cluster.controlplane down --run-dir $(CLUSTER_RUN_DIR)

cluster-status: ## Show the cluster-up processes, memory and KUBECONFIG line
	@$(PYTHON) -m tests.cluster.controlplane status --run-dir $(CLUSTER_RUN_DIR)

# Needs Docker and kind on PATH (not available on the dev VM/CI; see docs/cluster.md).
e2e-kind: $(STAMP) cluster-bins ## Run the e2e suite on a kind cluster instead (needs Docker + kind)
	@command -v kind >/dev/null || { echo "e2e-kind needs kind and Docker on PATH (see docs/cluster.md)" >&2; exit 1; }
	kind get clusters | grep -qx '$(KIND_CLUSTER)' || \
	  kind create cluster --name $(KIND_CLUSTER) --kubeconfig $(KIND_KUBECONFIG) $(KIND_IMAGE_ARGS)
	kind get kubeconfig --name $(KIND_CLUSTER) > $(KIND_KUBECONFIG)
	docker pull $(E2E_IMAGE) && kind load docker-image --name $(KIND_CLUSTER) $(E2E_IMAGE)
	TVTT_E2E_KUBECONFIG=$(KIND_KUBECONFIG) TVTT_E2E_IMAGE=$(E2E_IMAGE) \
	  $(PY) -m pytest tests/e2e -m e2e $(PYTEST_ARGS)
