# Game server backend (see docs/server.md and docs/protocol.md).
.PHONY: test-server bench-load

test-server: $(STAMP) ## Server tests: several WebSocket clients play battles on a real app (no mocks)
	$(PY) -m pytest tests/server tests/store -m "not redis" $(PYTEST_ARGS)

bench-load: $(STAMP) ## WebSocket load: 100/500/2000 clients vs the game server and an echo baseline
	$(PY) -m bench load

.PHONY: test-security
test-security: $(STAMP) ## Attack tests: hostile clients against a real server process (tests/security)
	$(PY) -m pytest tests/security $(PYTEST_ARGS)
