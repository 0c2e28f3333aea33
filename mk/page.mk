# The tabletop page (gameserver/static) and its browser tests (see docs/play.md).
# Playwright drives Debian's /usr/bin/chromium (never `playwright install`; no network for it).
.PHONY: test-browser

test-browser: $(STAMP) ## Browser tests: GM + player play the tabletop page in Debian chromium (Playwright)
	$(PY) -m pytest tests/browser -m browser $(PYTEST_ARGS)
