# The tabletop page (gameserver/static) and its browser tests (see docs/play.md).
# Playwright drives Debian's /usr/bin/chromium (never `playwright install`; no network for it).
# axe-core (accessibility check) is a test-only npm package pinned in tests/browser/axe/
# (package.json + package-lock.json); `npm ci` puts it in tests/browser/axe/node_modules
# (gitignored), never in gameserver/static.
AXE_DIR := tests/browser/axe
AXE_JS := $(AXE_DIR)/node_modules/axe-core/axe.min.js
TEST_PREREQS += $(AXE_JS)

.PHONY: test-browser axe-core

$(AXE_JS): $(AXE_DIR)/package.json $(AXE_DIR)/package-lock.json
	@command -v npm >/dev/null || { echo "axe-core needs npm (Node 18+) on PATH" >&2; exit 1; }
	npm ci --prefix $(AXE_DIR) --ignore-scripts --no-audit --no-fund
	touch $@

axe-core: $(AXE_JS) ## Install the pinned axe-core (test-only) for the accessibility browser test

test-browser: $(STAMP) $(AXE_JS) ## Browser tests: GM + player play the tabletop page in Debian chromium (Playwright)
	$(PY) -m pytest tests/browser -m browser $(PYTEST_ARGS)
