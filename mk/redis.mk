# Redis store (see docs/redis.md). The Redis tests need the Debian redis-server package:
# ensure it before every `make test` (a dpkg query when it is there), so they fail only for real.
TEST_PREREQS += redis-server-installed

.PHONY: redis-server-installed test-redis bench-redis

redis-server-installed:
	@bash tools/ensure-apt.sh redis-server

test-redis: $(STAMP) redis-server-installed ## Only the Redis-store tests (each starts its own redis-server), contract suite included
	$(PY) -m pytest tests/redis tests/store -m redis $(PYTEST_ARGS)

bench-redis: $(STAMP) redis-server-installed ## Load benchmark: Redis store vs in-memory, 1 and 2 instances
	$(PY) -m bench redis
