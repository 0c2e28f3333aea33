"""A real browser plays against the game server running in a pod on the real node.

Debian's chromium (Playwright) on the host opens the tabletop page from the pod's address on the
node's bridge, as players open it through a Service: the GM creates a battle, a player joins in a
second browser profile and fires, and both browsers show the same attack line. The page, its
WebSocket (same-origin check against the pod's Host), the image's static files and the server's
security headers are the ones the image ships.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, OUTPUT
from tests.browser.test_tabletop import (
    _no_script_errors,
    _open,
    create_battle,
    gm_runs_until,
    join_as_player,
    settled_seq,
)
from tests.cluster.kube import Helm, Kubectl, wait_for
from tests.cluster.node import RealNode
from tests.e2e.conftest import Cluster
from tests.e2e.node.conftest import on_real_node
from tests.e2e.node.test_real_pods import install_operator, pod_ready, pods
from tests.e2e.test_chart import is_ready, release_name

pytestmark = pytest.mark.node

NAME = "tabletop"


def test_a_browser_creates_joins_and_fires_against_the_pod(
    control_plane: Cluster,
    real_node: RealNode,
    helm: Helm,
    kubectl: Kubectl,
    namespace: str,
    tmp_path: Path,
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian 'chromium' package (make install)")
    install_operator(helm, control_plane, real_node, release_name(namespace), tmp_path)
    kubectl.apply(
        {
            "apiVersion": "traveller-vtt.io/v1alpha1",
            "kind": "TravellerVTT",
            "metadata": {"name": NAME},
            # One pod in memory: the browser talks to exactly this pod.
            "spec": {
                "image": real_node.refs["server"],
                "redis": {"enabled": False},
                **on_real_node(),
            },
        }
    )
    wait_for(lambda: is_ready(kubectl, NAME), timeout=180, message="TravellerVTT Ready")
    (server,) = [p for p in pods(kubectl, f"app.kubernetes.io/instance={NAME}") if pod_ready(p)]
    url = f"http://{server['status']['podIP']}:3000"
    OUTPUT.mkdir(parents=True, exist_ok=True)

    # Playwright's sync API is opened and closed inside the test: the suite's other tests run
    # their own asyncio loops, which a live sync driver would block.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            contexts = [browser.new_context(base_url=url) for _ in range(2)]
            for ctx in contexts:
                ctx.set_default_timeout(20_000)
            gm = _open(contexts[0])
            code = create_battle(gm)
            player = _open(contexts[1])
            join_as_player(player, code, "s2-gunner:0")
            fire = player.get_by_test_id("fire")
            idle = player.get_by_test_id("no-actions")

            def may_fire() -> bool:
                fire.or_(idle).first.wait_for()
                return fire.is_visible()

            gm_runs_until(gm, [player], may_fire)
            player.get_by_test_id("attack-target").select_option("s1")
            resolved = player.locator("[data-testid^=log-][data-type=attack_resolved]")
            seq = settled_seq(player)
            fire.click()
            expect(gm.get_by_test_id("battle-view")).not_to_have_attribute("data-seq", seq)
            gm_runs_until(gm, [player], lambda: resolved.count() > 0, limit=6)
            line = resolved.last
            fired_seq = line.get_attribute("data-seq")
            expect(line).to_contain_text("Vengeance")
            text = player.get_by_test_id(f"log-{fired_seq}").text_content() or ""
            assert "Beowulf" in text
            expect(gm.get_by_test_id(f"log-{fired_seq}")).to_have_text(text)
            gm.screenshot(path=str(OUTPUT / "pod-gm-after-fire.png"), full_page=True)
            player.screenshot(path=str(OUTPUT / "pod-player-after-fire.png"), full_page=True)
            _no_script_errors(gm, player)
        finally:
            browser.close()
