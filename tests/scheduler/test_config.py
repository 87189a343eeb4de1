"""KubeSchedulerConfiguration decoding and kube-scheduler's merge rules (v1.35 defaults,
weights, args, invalid fields)."""

from __future__ import annotations

from typing import Any

import pytest
from returns.result import Failure, Success

from impl.scheduler.plugin_sets import ResolvedProfile, resolve_profiles
from models.feature_gates import DEFAULT_GATES
from models.scheduler_config import ConfigError, SchedulerConfiguration, decode_configuration


def _config(**fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        **fields,
    }


def _ok(raw: dict[str, Any]) -> SchedulerConfiguration:
    result = decode_configuration(raw)
    assert isinstance(result, Success), result
    config: SchedulerConfiguration = result.unwrap()
    return config


def _error(raw: dict[str, Any]) -> ConfigError:
    result = decode_configuration(raw)
    if isinstance(result, Success):
        resolved = resolve_profiles(result.unwrap(), DEFAULT_GATES)
        assert isinstance(resolved, Failure), resolved
        merge_error: ConfigError = resolved.failure()
        return merge_error
    assert isinstance(result, Failure), result
    error: ConfigError = result.failure()
    return error


def _resolved(raw: dict[str, Any]) -> tuple[ResolvedProfile, ...]:
    result = resolve_profiles(_ok(raw), DEFAULT_GATES)
    assert isinstance(result, Success), result
    profiles: tuple[ResolvedProfile, ...] = result.unwrap()
    return profiles


def test_defaults() -> None:
    # default_plugins_test.go (v1.35): the MultiPoint list with DynamicResources (DRA is
    # locked on) inserted before DefaultPreemption; no in-tree volume-limit plugins
    profile = _resolved(_config())[0]
    assert profile.scheduler_name == "default-scheduler"
    assert profile.at("filter") == (
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "VolumeRestrictions",
        "NodeVolumeLimits",
        "VolumeBinding",
        "VolumeZone",
        "PodTopologySpread",
        "InterPodAffinity",
        "DynamicResources",
    )
    assert profile.at("preEnqueue") == ("SchedulingGates", "DynamicResources")
    assert dict(profile.weights) == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "VolumeBinding": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "DynamicResources": 1,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }
    assert profile.at("postFilter") == ("DynamicResources", "DefaultPreemption")
    assert profile.config.args.fit_strategy == "LeastAllocated"


def test_removed_in_tree_volume_limit_plugins_do_not_exist() -> None:
    plugins = {"filter": {"enabled": [{"name": "EBSLimits"}]}}
    assert _error(_config(profiles=[{"plugins": plugins}])).field == (
        "profiles[0].plugins.filter.enabled[0].name"
    )


def test_disable_one_score_plugin_and_reweight_another() -> None:
    plugins = {
        "score": {
            "disabled": [{"name": "ImageLocality"}],
            "enabled": [{"name": "NodeResourcesFit", "weight": 5}],
        }
    }
    profile = _resolved(_config(profiles=[{"schedulerName": "s", "plugins": plugins}]))[0]
    assert "ImageLocality" not in profile.at("score")
    assert profile.weights["NodeResourcesFit"] == 5
    # a plugin named at the Score point comes first, then the MultiPoint ones
    assert profile.at("score")[0] == "NodeResourcesFit"


def test_multi_point_star_keeps_only_what_is_enabled() -> None:
    plugins = {
        "multiPoint": {
            "disabled": [{"name": "*"}],
            "enabled": [
                {"name": "PrioritySort"},
                {"name": "NodeResourcesFit", "weight": 4},
                {"name": "DefaultBinder"},
            ],
        }
    }
    profile = _resolved(_config(profiles=[{"plugins": plugins}]))[0]
    assert profile.at("filter") == ("NodeResourcesFit",)
    assert profile.at("score") == ("NodeResourcesFit",)
    assert profile.weights["NodeResourcesFit"] == 4
    assert profile.at("postFilter") == ()


def test_weight_zero_means_one() -> None:
    plugins = {"score": {"enabled": [{"name": "ImageLocality", "weight": 0}]}}
    assert _resolved(_config(profiles=[{"plugins": plugins}]))[0].weights["ImageLocality"] == 1


def test_two_profiles_side_by_side() -> None:
    profiles = [
        {"schedulerName": "default-scheduler"},
        {
            "schedulerName": "packer",
            "percentageOfNodesToScore": 50,
            "pluginConfig": [
                {"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}
            ],
        },
    ]
    config = _ok(_config(profiles=profiles, percentageOfNodesToScore=20))
    assert [p.scheduler_name for p in config.profiles] == ["default-scheduler", "packer"]
    assert config.profiles[0].percentage_of_nodes_to_score == 20
    assert config.profiles[1].percentage_of_nodes_to_score == 50
    assert config.profiles[1].args.fit_strategy == "MostAllocated"
    assert config.profiles[1].args.fit_resources == (("cpu", 1), ("memory", 1))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (_config(apiVersion="v2"), "apiVersion"),
        (_config(percentageOfNodesToScore=120), "percentageOfNodesToScore"),
        (_config(profiles=[{"schedulerName": "a"}, {}]), "profiles[1].schedulerName"),
        (
            _config(profiles=[{"schedulerName": "a"}, {"schedulerName": "a"}]),
            "profiles[1].schedulerName",
        ),
        (
            _config(profiles=[{"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}}]),
            "profiles[0].plugins.filter.enabled[0].name",
        ),
        (
            _config(profiles=[{"plugins": {"filter": {"enabled": [{"name": "ImageLocality"}]}}}]),
            "profiles[0].plugins.filter",
        ),
        (
            _config(
                profiles=[
                    {
                        "pluginConfig": [
                            {
                                "name": "NodeResourcesFit",
                                "args": {"scoringStrategy": {"type": "Balanced"}},
                            }
                        ]
                    }
                ]
            ),
            "profiles[0].pluginConfig[0].args.scoringStrategy.type",
        ),
        (
            _config(
                profiles=[
                    {
                        "pluginConfig": [
                            {
                                "name": "NodeResourcesFit",
                                "args": {
                                    "scoringStrategy": {
                                        "resources": [{"name": "cpu", "weight": 101}]
                                    }
                                },
                            }
                        ]
                    }
                ]
            ),
            "profiles[0].pluginConfig[0].args.scoringStrategy.resources[0].weight",
        ),
        (
            _config(
                profiles=[
                    {
                        "pluginConfig": [
                            {"name": "InterPodAffinity", "args": {"hardPodAffinityWeight": 101}}
                        ]
                    }
                ]
            ),
            "profiles[0].pluginConfig[0].args.hardPodAffinityWeight",
        ),
        (
            _config(
                profiles=[
                    {
                        "pluginConfig": [
                            {
                                "name": "PodTopologySpread",
                                "args": {
                                    "defaultConstraints": [
                                        {
                                            "maxSkew": 1,
                                            "topologyKey": "zone",
                                            "whenUnsatisfiable": "ScheduleAnyway",
                                        }
                                    ]
                                },
                            }
                        ]
                    }
                ]
            ),
            "profiles[0].pluginConfig[0].args.defaultConstraints",
        ),
        (_config(profiles=[{"plugin": {}}]), "profiles[0].plugin"),
        (_config(leaderElection={"resourceLock": "endpoints"}), "leaderElection.resourceLock"),
        (_config(leaderElection={"leaseDuration": "10s"}), "leaderElection.leaseDuration"),
        (_config(leaderElection={"retryPeriod": "2 seconds"}), "leaderElection.retryPeriod"),
        (_config(leaderElection={"leaderElect": "yes"}), "leaderElection.leaderElect"),
        (_config(leaderElection={"lockName": "x"}), "leaderElection.lockName"),
    ],
)
def test_invalid_configuration_names_the_field(raw: dict[str, Any], field: str) -> None:
    assert _error(raw).field == field


def test_leader_election_defaults_and_go_durations() -> None:
    """kube-scheduler's defaults: the kube-system/kube-scheduler Lease, 15s/10s/2s; durations
    are Go durations."""
    default = _ok(_config()).leader_election
    assert (default.leader_elect, default.resource_namespace, default.resource_name) == (
        True,
        "kube-system",
        "kube-scheduler",
    )
    assert (default.lease_duration_ms, default.renew_deadline_ms, default.retry_period_ms) == (
        15_000,
        10_000,
        2_000,
    )
    given = _ok(
        _config(
            leaderElection={
                "leaderElect": True,
                "leaseDuration": "1m30s",
                "renewDeadline": "1m",
                "retryPeriod": "500ms",
                "resourceLock": "leases",
                "resourceName": "my-scheduler",
            }
        )
    ).leader_election
    assert (given.lease_duration_ms, given.renew_deadline_ms, given.retry_period_ms) == (
        90_000,
        60_000,
        500,
    )
    assert given.resource_name == "my-scheduler"
    assert not _ok(_config(leaderElection={"leaderElect": False})).leader_election.leader_elect


def test_leader_election_flags_given_override_the_file() -> None:
    from runner.cli.main import build_parser
    from runner.scheduler.serve import leader_election_flags

    configuration = _ok(
        _config(leaderElection={"resourceName": "from-file", "leaseDuration": "20s"})
    )
    args = build_parser().parse_args(
        ["serve", "scheduler", "--kubeconfig", "kc", "--leader-elect-lease-duration=30s"]
    )
    leader_election_flags(args, configuration)
    assert (args.lease, args.leader_elect_lease_duration, args.leader_elect_renew_deadline) == (
        "from-file",
        30_000,
        10_000,
    )
    assert args.leader_elect is True
