# Helm chart and container images (see the README's "Deploy on Kubernetes" and the chart's README).
# helm comes from the pinned control-plane cache (mk/cluster.mk builds it), so no host install.
CHART := charts/traveller-vtt-operator
HELM ?= $(shell bash tests/cluster/build.sh --print-bin-dir)/helm
IMAGE_REGISTRY ?= localhost
IMAGE_TAG ?= dev
SERVER_IMAGE ?= $(IMAGE_REGISTRY)/traveller-vtt-server:$(IMAGE_TAG)
OPERATOR_IMAGE ?= $(IMAGE_REGISTRY)/traveller-vtt-operator:$(IMAGE_TAG)
KIND_DEPLOY_CLUSTER ?= tvtt
TVTT_NAMESPACE ?= traveller-vtt

.PHONY: constraints constraints-check chart-lint images kind-deploy

constraints: $(STAMP) ## Re-pin constraints/{server,operator}.txt from the venv (after a dependency change)
	$(PY) tools/lock_constraints.py server operator

constraints-check: $(STAMP) ## Fail if constraints/ differ from the venv's installed runtime closure
	$(PY) tools/lock_constraints.py server operator --check

chart-lint: cluster-bins ## helm lint the operator chart (both RBAC modes, monitoring on, --strict)
	$(HELM) lint --strict $(CHART)
	$(HELM) lint --strict $(CHART) --set rbac.clusterWide=true
	$(HELM) lint --strict $(CHART) --set monitoring.podMonitors.enabled=true \
	  --set monitoring.prometheusRule.enabled=true --set monitoring.dashboard.enabled=true

# Needs a Docker engine (not on the dev VM/CI, where tests/packaging replays the same RUN lines).
images: ## Build both container images with Docker (SERVER_IMAGE, OPERATOR_IMAGE)
	docker build -f Dockerfile.server -t $(SERVER_IMAGE) .
	docker build -f Dockerfile.operator -t $(OPERATOR_IMAGE) .

# Needs Docker + kind: the README's "Deploy on Kubernetes" walkthrough in one command.
kind-deploy: images cluster-bins ## Load the images into kind cluster $(KIND_DEPLOY_CLUSTER) and helm install the operator
	kind get clusters | grep -qx '$(KIND_DEPLOY_CLUSTER)' || kind create cluster --name $(KIND_DEPLOY_CLUSTER)
	kind load docker-image --name $(KIND_DEPLOY_CLUSTER) $(SERVER_IMAGE) $(OPERATOR_IMAGE)
	$(HELM) upgrade --install traveller-vtt-operator $(CHART) \
	  --namespace $(TVTT_NAMESPACE) --create-namespace --wait \
	  --set image.repository=$(firstword $(subst :, ,$(OPERATOR_IMAGE))) --set image.tag=$(IMAGE_TAG)
