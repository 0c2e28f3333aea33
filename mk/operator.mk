# The TravellerVTT operator (docs/operator.md).
OPERATOR_NAMESPACE ?=

.PHONY: crds crds-check operator-run

crds: $(STAMP) ## Regenerate crds/ and the chart's templates/crd.yaml from operator/tvtt_operator/models.py
	$(PY) -m tvtt_operator.crdgen

crds-check: $(STAMP) ## Fail when the committed CRDs differ from the models ("run make crds")
	$(PY) -m tvtt_operator.crdgen --check

operator-run: $(STAMP) ## Run the operator against $$KUBECONFIG (OPERATOR_NAMESPACE=ns to scope it)
	$(PY) -m tvtt_operator $(if $(OPERATOR_NAMESPACE),--namespace=$(OPERATOR_NAMESPACE),--all-namespaces)
