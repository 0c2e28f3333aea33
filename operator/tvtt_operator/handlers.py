"""kopf handlers — thin on purpose: feed the watch cache and enqueue the owning resource.

Run with `kopf run -m tvtt_operator.handlers --standalone [-n NAMESPACE | -A]` or
`python -m tvtt_operator`. Only `@kopf.on.event` handlers are used: unlike on.create/update,
timers or daemons they make kopf write nothing to the objects (no finalizers, no progress or
last-handled-configuration annotations), so an idle operator sends zero writes and deleting a
resource never waits for the operator. Retries and periodic resync live in the `Reconciler`.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import kopf
import structlog

from tvtt_operator.builders import (
    APP_NAME,
    FIELD_MANAGER,
    LABEL_MANAGED_BY,
    LABEL_NAME,
)
from tvtt_operator.cache import Cache
from tvtt_operator.config import OperatorConfig
from tvtt_operator.kinds import CHILD_KINDS, POD, PVC, TRAVELLER_VTT
from tvtt_operator.kube import KubeClient
from tvtt_operator.leader import LeaderElector
from tvtt_operator.metrics import LEADER
from tvtt_operator.observability import configure_logging, create_http_app, start_http
from tvtt_operator.reconciler import Reconciler

log = structlog.get_logger("tvtt_operator.handlers")

OURS = {LABEL_MANAGED_BY: FIELD_MANAGER}
# The Redis claim has only the StatefulSet's selector labels (see Cache.owner_of); the backup
# claim has the standard ones: both carry the app name.
CLAIMS = {LABEL_NAME: APP_NAME}


@kopf.on.startup()
async def operator_startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Configure kopf for zero writes, then start the HTTP server and the reconcile workers."""
    config = OperatorConfig()
    configure_logging(config.log_level.value)
    settings.peering.standalone = True
    settings.scanning.disabled = True  # no CRD/namespace watching: nothing the RBAC must grant
    settings.posting.enabled = False  # kopf's own k8s Events; ours go through KubeClient
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    client = await KubeClient.connect()
    reconciler = Reconciler(client, Cache(), config)
    memo.elector = None
    if config.leader_election:

        async def elected() -> None:
            reconciler.start()

        def lost() -> None:
            reconciler.halt()  # no write after another replica may have taken over
            os.kill(os.getpid(), signal.SIGTERM)  # kopf shuts down; the pod restarts

        memo.elector = LeaderElector(client, config, on_elected=elected, on_lost=lost)
        memo.elector.start()
    else:
        reconciler.start()
        LEADER.set(1)
    runner, port = await start_http(
        create_http_app(reconciler.alive), config.http_host, config.http_port
    )
    memo.reconciler = reconciler
    memo.http_runner = runner
    log.info(
        "operator started",
        http_port=port,
        workers=config.workers,
        resync=config.resync_seconds,
        leader_election=config.leader_election,
        poll_seconds=config.poll_seconds,
    )


@kopf.on.cleanup()
async def operator_cleanup(memo: kopf.Memo, **_: Any) -> None:
    """Stop the workers, then give up the Lease (a standby takes over at once), then the HTTP
    server and the API session."""
    reconciler: Reconciler = memo.reconciler
    await reconciler.stop()
    if memo.elector is not None:
        await memo.elector.stop()
    await memo.http_runner.cleanup()
    await reconciler.client.close()


@kopf.on.event(TRAVELLER_VTT.group, TRAVELLER_VTT.version, TRAVELLER_VTT.plural)
def tvtt_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A TravellerVTT was listed, added, modified or deleted: update the cache, reconcile it."""
    _observe(event, memo)


def _observe(event: kopf.RawEvent, memo: kopf.Memo) -> None:
    reconciler: Reconciler = memo.reconciler
    obj = event["object"]
    key = reconciler.cache.remove(obj) if event["type"] == "DELETED" else reconciler.cache.put(obj)
    if key is not None:
        reconciler.enqueue(key)


def _register_children() -> None:
    for kind in CHILD_KINDS:

        def child_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
            """A child changed or vanished: cache it and reconcile its owner (drift, status)."""
            _observe(event, memo)

        name = f"{kind.plural}_event"
        child_event.__name__ = name
        kopf.on.event(kind.group, kind.version, kind.plural, labels=OURS, id=name)(child_event)


def _register_observed() -> None:
    for kind, labels in ((POD, OURS), (PVC, CLAIMS)):

        def observed_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
            """A game server pod or a claim (Redis, backups) changed: cache it, refresh owner."""
            _observe(event, memo)

        name = f"{kind.plural}_event"
        observed_event.__name__ = name
        kopf.on.event(kind.group, kind.version, kind.plural, labels=labels, id=name)(observed_event)


_register_children()
_register_observed()
logging.getLogger("kopf.objects").setLevel(logging.WARNING)
