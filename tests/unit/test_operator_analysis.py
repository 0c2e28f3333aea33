"""The rollout analysis, decided without a cluster: triggers, thresholds, window, no retry."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest
from tvtt_operator.analysis import (
    COMMAND_LATENCY,
    COMMANDS,
    UPGRADES,
    Decision,
    Figures,
    PodCheck,
    Reading,
    Trigger,
    Verdict,
    auto_rolled_back,
    combine,
    consecutive_failures,
    judge,
    next_analysis,
    parse_figures,
    previous_template,
    quantile,
    rollback_patch,
    rolled_back_condition,
)
from tvtt_operator.builders import (
    ANNOTATION_TEMPLATE_HASH,
    ROLLBACK_FIELD_MANAGER,
    build_children,
    template_hash,
)
from tvtt_operator.models import (
    AnalysisPhase,
    ConditionStatus,
    RolloutAnalysis,
    RolloutAnalysisStatus,
    TravellerVTT,
)
from tvtt_operator.planning import plan_reconcile
from tvtt_operator.status import build_status

from gameserver.metrics import create_metrics
from tests.unit.test_operator_planning import make, world

ANALYSIS = RolloutAnalysis()
NOW = "2026-12-02T16:00:00Z"


def buckets(*pairs: tuple[float, float]) -> tuple[tuple[float, float], ...]:
    return (*pairs, (float("inf"), pairs[-1][1]))


def reading(
    commands: float = 100,
    failed: float = 0,
    upgrades: float = 100,
    failed_upgrades: float = 0,
    latency: tuple[tuple[float, float], ...] | None = None,
    failed_checks: int = 0,
    restarts: int = 0,
) -> Reading:
    latency = latency or buckets((0.01, commands))
    return Reading(
        Figures(commands, failed, latency, upgrades, failed_upgrades), failed_checks, restarts
    )


class TestMetricNames:
    def test_the_names_the_analysis_reads_are_what_the_server_exports(self) -> None:
        metrics = create_metrics()
        metrics.commands.labels(command="attack", result="ok").inc(7)
        metrics.commands.labels(command="attack", result="internal_error").inc(2)
        metrics.commands.labels(command="attack", result="out_of_range").inc(1)
        metrics.commands.labels(command="any", result="store_unavailable").inc(1)
        metrics.upgrades.labels(result="ok").inc(9)
        metrics.upgrades.labels(result="origin_refused").inc(1)
        for _ in range(11):
            metrics.command_latency.labels(command="attack").observe(0.003)
        text = generate_latest(metrics.registry).decode()
        for name in (COMMANDS, UPGRADES, f"{COMMAND_LATENCY}_bucket"):
            assert f"\n{name}{{" in text, name

        figures = parse_figures(text)

        assert figures.commands == 11
        assert figures.failed_commands == 3, "a rule violation (out_of_range) is no failure"
        assert (figures.upgrades, figures.failed_upgrades) == (9 + 1, 1)
        assert figures.latency_buckets[-1] == (float("inf"), 11)
        p95 = quantile(0.95, figures.latency_buckets)
        assert p95 is not None
        assert 0.0025 < p95 <= 0.005

    def test_text_that_is_not_an_exposition_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r".+"):
            parse_figures("tvtt_commands_total{result=ok 3\n")


class TestQuantile:
    def test_interpolates_inside_the_bucket_like_prometheus(self) -> None:
        # 100 observations: 50 ≤ 0.1 s, 100 ≤ 0.5 s. Rank 95 lies 45/50 into (0.1, 0.5].
        assert quantile(0.95, buckets((0.1, 50), (0.5, 100))) == pytest.approx(0.46)

    def test_beyond_the_last_finite_bound_is_that_bound(self) -> None:
        assert quantile(0.95, ((0.1, 1), (1.0, 2), (float("inf"), 100))) == 1.0

    def test_no_observation_no_quantile(self) -> None:
        assert quantile(0.95, ()) is None
        assert quantile(0.95, buckets((0.1, 0))) is None

    def test_a_quantile_outside_zero_one_is_refused(self) -> None:
        with pytest.raises(ValueError, match="between 0 and 1"):
            quantile(1.5, buckets((0.1, 1)))

    def test_pods_add_up_bucket_by_bucket(self) -> None:
        a = Figures(10, 1, buckets((0.1, 10)), 4, 0)
        b = Figures(30, 2, buckets((0.1, 5), (0.5, 30)), 6, 1)
        total = combine([a, b])
        assert (total.commands, total.failed_commands) == (40, 3)
        assert (total.upgrades, total.failed_upgrades) == (10, 1)
        assert dict(total.latency_buckets) == {0.1: 15, 0.5: 30, float("inf"): 40}


class TestThresholds:
    def test_the_defaults_are_the_strategys_figures(self) -> None:
        assert ANALYSIS.enabled
        assert ANALYSIS.max_error_ratio_percent == 5
        assert ANALYSIS.max_command_latency_p95_ms == 500
        assert ANALYSIS.max_websocket_failure_percent == 10
        assert ANALYSIS.health_check_failures >= 1

    @pytest.mark.parametrize(
        "field",
        ["windowSeconds", "minSamples", "healthCheckFailures", "maxCommandLatencyP95Ms"],
    )
    def test_nonsense_figures_are_refused(self, field: str) -> None:
        with pytest.raises(ValueError, match=r"greater than or equal"):
            RolloutAnalysis.model_validate({field: 0})

    def test_a_ratio_above_a_hundred_percent_is_refused(self) -> None:
        with pytest.raises(ValueError, match="less than or equal to 100"):
            RolloutAnalysis.model_validate({"maxErrorRatioPercent": 101})


class TestTriggers:
    def judge(self, r: Reading, analysis: RolloutAnalysis = ANALYSIS) -> Verdict:
        return judge(analysis, r, elapsed=30, rolled_out=True)

    def test_a_healthy_release_is_watched(self) -> None:
        verdict = self.judge(reading())
        assert verdict.decision == Decision.WATCH
        assert verdict.trigger is None

    def test_error_ratio_above_five_percent_rolls_back(self) -> None:
        assert self.judge(reading(failed=5)).decision == Decision.WATCH, "5 % is not above 5 %"
        verdict = self.judge(reading(failed=6))
        assert verdict.decision == Decision.ROLL_BACK
        assert verdict.trigger == Trigger.ERROR_RATIO
        assert "6.0 % > 5 %" in verdict.message
        assert "6 of 100 commands" in verdict.message

    def test_p95_latency_above_500_ms_rolls_back(self) -> None:
        fast = buckets((0.25, 95), (0.5, 100))
        assert self.judge(reading(latency=fast)).decision == Decision.WATCH
        slow = buckets((0.25, 90), (1.0, 100))  # rank 95 at 0.25 + 0.75 / 2
        verdict = self.judge(reading(latency=slow))
        assert verdict.trigger == Trigger.LATENCY
        assert "625 ms > 500 ms" in verdict.message

    def test_websocket_failures_above_ten_percent_roll_back(self) -> None:
        assert self.judge(reading(failed_upgrades=10)).decision == Decision.WATCH
        verdict = self.judge(reading(failed_upgrades=11))
        assert verdict.trigger == Trigger.WEBSOCKET
        assert "11 of 100 upgrades" in verdict.message

    def test_failed_health_checks_in_a_row_roll_back(self) -> None:
        limit = ANALYSIS.health_check_failures
        assert self.judge(reading(failed_checks=limit - 1)).decision == Decision.WATCH
        verdict = self.judge(reading(failed_checks=limit))
        assert verdict.trigger == Trigger.HEALTH

    def test_a_restart_of_a_new_pod_rolls_back_at_once(self) -> None:
        assert self.judge(reading(restarts=1)).trigger == Trigger.HEALTH

    def test_ratios_wait_for_enough_samples(self) -> None:
        few = reading(commands=19, failed=19, upgrades=19, failed_upgrades=19)
        assert self.judge(few).decision == Decision.WATCH
        slow_few = reading(commands=19, latency=buckets((1.0, 19)))
        assert self.judge(slow_few).decision == Decision.WATCH
        enough = reading(commands=20, failed=20)
        assert self.judge(enough).trigger == Trigger.ERROR_RATIO

    def test_thresholds_come_from_the_spec(self) -> None:
        strict = RolloutAnalysis(max_error_ratio_percent=1, min_samples=5)
        assert self.judge(reading(failed=2), strict).trigger == Trigger.ERROR_RATIO
        lax = RolloutAnalysis(max_error_ratio_percent=50)
        assert self.judge(reading(failed=40), lax).decision == Decision.WATCH

    def test_health_is_judged_first(self) -> None:
        everything = reading(failed=50, failed_upgrades=50, restarts=1)
        assert self.judge(everything).trigger == Trigger.HEALTH


class TestWindow:
    def test_promoted_once_the_window_passed_and_the_rollout_is_complete(self) -> None:
        w = ANALYSIS.window_seconds
        assert judge(ANALYSIS, reading(), elapsed=w - 1, rolled_out=True).decision == (
            Decision.WATCH
        )
        verdict = judge(ANALYSIS, reading(), elapsed=w, rolled_out=True)
        assert verdict.decision == Decision.PROMOTE
        assert "error ratio 0.0 %" in verdict.message

    def test_not_promoted_while_pods_are_still_rolling(self) -> None:
        verdict = judge(ANALYSIS, reading(), elapsed=10_000, rolled_out=False)
        assert verdict.decision == Decision.WATCH

    def test_a_trigger_fires_before_the_window_ends(self) -> None:
        verdict = judge(ANALYSIS, reading(failed=50), elapsed=1, rolled_out=False)
        assert verdict.decision == Decision.ROLL_BACK


class TestHealthRuns:
    def test_a_success_ends_a_run_an_unchecked_pod_keeps_it_a_gone_pod_is_forgotten(
        self,
    ) -> None:
        runs = consecutive_failures(
            {"a": 2, "b": 2, "c": 1, "gone": 5},
            [PodCheck("a", False), PodCheck("b", True), PodCheck("c", None), PodCheck("d", False)],
        )
        assert runs == {"a": 3, "b": 0, "c": 1, "d": 1}


# --- the state of an analysis --------------------------------------------------------------

ON: dict[str, Any] = {"rollout": {"analysis": {}}}


def resource(
    spec: dict[str, Any], *, generation: int, analysis: RolloutAnalysisStatus | None = None
) -> TravellerVTT:
    tvtt = make(spec, generation=generation)
    if analysis is None:
        return tvtt
    return tvtt.model_copy(
        update={"status": tvtt.status.model_copy(update={"rollout_analysis": analysis})}
    )


def analysing(hash_: str, generation: int = 2) -> RolloutAnalysisStatus:
    return RolloutAnalysisStatus(
        template_hash=hash_, generation=generation, started_at=NOW, phase=AnalysisPhase.ANALYSING
    )


ROLL_BACK = Verdict(Decision.ROLL_BACK, "error ratio 100.0 % > 5 %", Trigger.ERROR_RATIO)
PROMOTE = Verdict(Decision.PROMOTE, "no trigger fired in 300 s")


class TestNextAnalysis:
    def test_a_template_change_starts_an_analysis(self) -> None:
        tvtt = resource({**ON, "image": "new"}, generation=2)
        status = next_analysis(
            tvtt,
            live_hash_before="old",
            applied_hash="new",
            template_applied=True,
            live_hash_now="new",
            verdict=None,
            now=NOW,
        )
        assert status is not None
        assert (status.phase, status.template_hash, status.generation) == ("Analysing", "new", 2)
        assert status.started_at == NOW

    @pytest.mark.parametrize(
        ("spec", "before", "applied"),
        [
            ({}, "old", True),  # analysis not asked for
            ({"rollout": {"analysis": {"enabled": False}}}, "old", True),
            (ON, None, True),  # the first template of a new Deployment: nothing to go back to
            (ON, "new", True),  # the same template applied again (drift taken back)
            (ON, "old", False),  # the apply failed
        ],
    )
    def test_no_analysis_without_a_change_to_judge(
        self, spec: dict[str, Any], before: str | None, applied: bool
    ) -> None:
        tvtt = resource(spec, generation=2)
        status = next_analysis(
            tvtt,
            live_hash_before=before,
            applied_hash="new",
            template_applied=applied,
            live_hash_now="new",
            verdict=None,
            now=NOW,
        )
        assert status is None

    def advance(
        self, verdict: Verdict | None, live_now: str = "new", spec: dict[str, Any] = ON
    ) -> RolloutAnalysisStatus | None:
        tvtt = resource(spec, generation=2, analysis=analysing("new"))
        return next_analysis(
            tvtt,
            live_hash_before=live_now,
            applied_hash="new",
            template_applied=False,
            live_hash_now=live_now,
            verdict=verdict,
            now="2026-12-02T16:05:00Z",
        )

    def test_watching_changes_nothing(self) -> None:
        assert self.advance(None) == analysing("new")
        assert self.advance(Verdict(Decision.WATCH, "30 of 300 s")) == analysing("new")

    def test_a_trigger_records_the_rollback_with_its_figures(self) -> None:
        status = self.advance(ROLL_BACK)
        assert status is not None
        assert status.phase == AnalysisPhase.ROLLED_BACK
        assert status.trigger == "ErrorRatio"
        assert "100.0 %" in status.message
        assert status.started_at == NOW, "the window's start is kept"
        kind, flag, reason, message = rolled_back_condition(status)
        assert (kind, flag, reason) == ("RolledBack", ConditionStatus.TRUE, "ErrorRatio")
        assert "template new (generation 2) rolled back: error ratio 100.0 %" in message

    def test_a_good_release_is_promoted(self) -> None:
        status = self.advance(PROMOTE)
        assert status is not None
        assert status.phase == AnalysisPhase.PROMOTED
        _, flag, reason, _ = rolled_back_condition(status)
        assert (flag, reason) == (ConditionStatus.FALSE, "Promoted")

    def test_a_persons_rollout_undo_cancels_the_analysis_and_is_left_alone(self) -> None:
        status = self.advance(PROMOTE, live_now="old")
        assert status is not None
        assert status.phase == AnalysisPhase.CANCELLED
        assert "kubectl rollout undo" in status.message

    def test_turning_the_analysis_off_cancels_it(self) -> None:
        status = self.advance(ROLL_BACK, spec={"rollout": {"analysis": {"enabled": False}}})
        assert status is not None
        assert status.phase == AnalysisPhase.CANCELLED

    def test_a_finished_analysis_stays_finished(self) -> None:
        done = analysing("new").model_copy(update={"phase": AnalysisPhase.PROMOTED})
        tvtt = resource(ON, generation=2, analysis=done)
        after = next_analysis(
            tvtt,
            live_hash_before="new",
            applied_hash="new",
            template_applied=False,
            live_hash_now="new",
            verdict=ROLL_BACK,
            now=NOW,
        )
        assert after == done


class TestNoRetry:
    """After an automatic rollback the bad template is not applied again at the same
    generation (planning sees the template overridden); a change to the resource retries."""

    def setup_method(self) -> None:
        self.good = make({**ON, "image": "good"}, generation=1)
        self.bad_spec = {**ON, "image": "bad"}
        bad = make(self.bad_spec, generation=2)
        self.bad_deployment = next(m for m in build_children(bad) if m["kind"] == "Deployment")
        self.bad_hash = template_hash(self.bad_deployment)
        assert self.bad_hash is not None
        # The cluster after the rollback: the good template live, the bad one recorded as applied.
        self.live = world(self.good)
        key = ("Deployment", "skirmish")
        self.live[key]["metadata"]["generation"] = 3
        rolled = RolloutAnalysisStatus(
            template_hash=self.bad_hash,
            generation=2,
            started_at=NOW,
            phase=AnalysisPhase.ROLLED_BACK,
            trigger="ErrorRatio",
            message="error ratio 100.0 % > 5 %",
        )
        self.status = {
            "appliedGeneration": 2,
            "appliedTemplateHash": self.bad_hash,
            "rolloutAnalysis": rolled.model_dump(by_alias=True, mode="json"),
        }

    def at(self, generation: int, spec: dict[str, Any]) -> TravellerVTT:
        body = make(spec, generation=generation).model_dump(by_alias=True, mode="json")
        body["status"] = self.status
        return TravellerVTT.model_validate(body)

    def test_the_same_generation_leaves_the_rolled_back_template_alone(self) -> None:
        tvtt = self.at(2, self.bad_spec)
        plan = plan_reconcile(tvtt, self.live)
        assert plan.template_overridden
        assert not [m for m in plan.applies if m["kind"] == "Deployment"]
        assert auto_rolled_back(tvtt)
        status = build_status(tvtt, self.live, template_overridden=True, error=None, now=NOW)
        conditions = {str(c.type): c for c in status.conditions}
        assert conditions["TemplateOverridden"].reason == "AutomaticRollback"
        assert conditions["RolledBack"].status == "True"
        assert conditions["RolledBack"].reason == "ErrorRatio"

    def test_a_change_to_the_resource_applies_and_analyses_again(self) -> None:
        tvtt = self.at(3, {**self.bad_spec, "replicas": 1, "podLabels": {"try": "again"}})
        plan = plan_reconcile(tvtt, self.live)
        deployments = [m for m in plan.applies if m["kind"] == "Deployment"]
        assert deployments, "the new generation is applied"
        assert not auto_rolled_back(tvtt)
        status = next_analysis(
            tvtt,
            live_hash_before=template_hash(self.live[("Deployment", "skirmish")]),
            applied_hash=plan.applied_template_hash,
            template_applied=True,
            live_hash_now=plan.applied_template_hash,
            verdict=None,
            now=NOW,
        )
        assert status is not None
        assert status.phase == AnalysisPhase.ANALYSING
        assert status.generation == 3

    def test_the_restored_templates_defaults_are_not_drift_at_the_next_change(self) -> None:
        live = self.live[("Deployment", "skirmish")]
        live["metadata"]["managedFields"].append(
            {
                "manager": ROLLBACK_FIELD_MANAGER,
                "operation": "Update",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:dnsPolicy": {}}}}},
            }
        )
        tvtt = self.at(3, {**self.bad_spec, "podLabels": {"try": "again"}})
        plan = plan_reconcile(tvtt, self.live)
        assert plan.corrections == []
        assert [m for m in plan.applies if m["kind"] == "Deployment"]


class TestPreviousTemplate:
    def rs(self, revision: str, hash_: str, uid: str = "dep", controller: bool = True) -> Any:
        return {
            "metadata": {
                "annotations": {"deployment.kubernetes.io/revision": revision},
                "ownerReferences": [{"uid": uid, "controller": controller}],
            },
            "spec": {
                "template": {
                    "metadata": {
                        "labels": {"app": "x", "pod-template-hash": f"h{revision}"},
                        "annotations": {ANNOTATION_TEMPLATE_HASH: hash_},
                    },
                    "spec": {"containers": [{"name": "gameserver", "image": hash_}]},
                }
            },
        }

    def test_the_newest_older_template_of_this_deployment_without_the_controllers_label(
        self,
    ) -> None:
        sets = [
            self.rs("1", "oldest"),
            self.rs("3", "bad"),
            self.rs("2", "good"),
            self.rs("9", "other", uid="another"),
            self.rs("8", "adopted", controller=False),
        ]
        template = previous_template(sets, "dep", "bad")
        assert template is not None
        assert template["metadata"]["annotations"][ANNOTATION_TEMPLATE_HASH] == "good"
        assert template["metadata"]["labels"] == {"app": "x"}
        assert sets[2]["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "h2"

    def test_nothing_to_go_back_to(self) -> None:
        assert previous_template([self.rs("1", "bad")], "dep", "bad") is None
        assert previous_template([], "dep", "bad") is None

    def test_the_patch_is_guarded_by_the_bad_templates_hash(self) -> None:
        template: dict[str, Any] = {"metadata": {}, "spec": {}}
        ops = rollback_patch("bad", template)
        assert ops[0] == {
            "op": "test",
            "path": "/spec/template/metadata/annotations/traveller-vtt.io~1template-hash",
            "value": "bad",
        }
        assert ops[1] == {"op": "replace", "path": "/spec/template", "value": template}
