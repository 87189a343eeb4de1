"""Reading the scheduler's input files: cluster states, pods and bindings (what ``kubectl get
-o yaml`` prints), KubeSchedulerConfiguration files and ``--feature-gates``.

Files are read whole within the input limits (:mod:`runner.input_files`: size, UTF-8) and
decoded strictly by the object model (:mod:`models.k8s.codec`: an unknown field such as
``spec.tolerationz`` is refused with its path and line). Every failure is an
:class:`~runner.errors.InputError` naming the file (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from returns.result import Failure, Success

from impl.scheduler.features import SchedulerFeatures, scheduler_features
from impl.scheduler.machine import SchedulerConfig
from impl.scheduler.profile import build_profiles
from impl.scheduler.queue import Backoff
from models.feature_gates import DEFAULT_GATES, FeatureGates, parse_feature_gates
from models.k8s.codec import decode_numbered, load_yaml_documents
from models.k8s.core.pod import Pod
from models.scheduler_config import SchedulerConfiguration, decode_configuration
from models.scheduling.cluster import SCHEDULER_KINDS, ClusterState, cluster_state
from runner.errors import InputError
from runner.input_files import read_text

DEFAULT_CONFIGURATION: Final = SchedulerConfiguration()


def read_objects(path: str) -> list[tuple[str, object]]:
    """Every object of a YAML or JSON file, with its place (``document N``)."""
    text = read_text(Path(path))
    decoded = decode_numbered(text, SCHEDULER_KINDS)
    if isinstance(decoded, Failure):
        error = decoded.failure()
        raise InputError(
            error.reason, source=path, line=error.line, document=error.document, field=error.field
        )
    return [(f"document {number}", item) for number, item in decoded.unwrap()]


def load_cluster(path: str) -> ClusterState:
    """A cluster state file (nodes, pods and what else the scheduler reads)."""
    state = cluster_state(read_objects(path))
    if isinstance(state, Failure):
        problem = state.failure()
        raise InputError(f"{problem.place}: {problem.reason}", source=path)
    cluster: ClusterState = state.unwrap()
    return cluster


def load_pods(path: str) -> tuple[Pod, ...]:
    """The pods of a file in file order (bound or not), refusing a file without any."""
    cluster = load_cluster(path)
    if not cluster.pods:
        raise InputError("no Pod object found", source=path)
    return cluster.pods


def load_configuration(path: str | None) -> SchedulerConfiguration:
    """A KubeSchedulerConfiguration file (kube-scheduler's defaults without one)."""
    if path is None:
        return DEFAULT_CONFIGURATION
    documents = load_yaml_documents(read_text(Path(path)))
    if isinstance(documents, Failure):
        error = documents.failure()
        raise InputError(error.reason, source=path, line=error.line, document=error.document)
    found = [document for document in documents.unwrap() if document is not None]
    if len(found) != 1:
        raise InputError("expected exactly one KubeSchedulerConfiguration document", source=path)
    match decode_configuration(found[0]):
        case Success(config):
            decoded: SchedulerConfiguration = config
            return decoded
        case Failure(error):
            raise InputError(error.reason, source=path, field=error.field)
    raise AssertionError("unreachable")


def load_gates(text: str | None) -> tuple[FeatureGates, SchedulerFeatures]:
    """``--feature-gates`` as kube-scheduler reads it, and what the scheduler takes of it."""
    gates = DEFAULT_GATES
    if text is not None:
        parsed = parse_feature_gates(text)
        if isinstance(parsed, Failure):
            raise InputError(f"--feature-gates: {parsed.failure()}")
        gates = parsed.unwrap()
    features = scheduler_features(gates)
    if isinstance(features, Failure):
        raise InputError(f"--feature-gates: {features.failure()}")
    return gates, features.unwrap()


def scheduler_config(
    config_path: str | None,
    gates_text: str | None,
    configuration: SchedulerConfiguration | None = None,
) -> SchedulerConfig:
    """The scheduler a command runs: profiles by schedulerName, features, backoff (from
    ``configuration`` when given, else read from ``config_path``)."""
    if configuration is None:
        configuration = load_configuration(config_path)
    gates, features = load_gates(gates_text)
    profiles = build_profiles(configuration, gates, features)
    if isinstance(profiles, Failure):
        error = profiles.failure()
        raise InputError(error.reason, source=config_path or "", field=error.field)
    backoff = Backoff(
        initial_ms=configuration.pod_initial_backoff_seconds * 1000,
        max_ms=configuration.pod_max_backoff_seconds * 1000,
    )
    return SchedulerConfig(profiles.unwrap(), features, backoff)
