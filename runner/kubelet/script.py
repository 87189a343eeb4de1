"""Scripted container behaviour for the simulated runtime, read from pod annotations.

Every key is ``sim.kubeoracle.io/<container>.<field>`` with a decimal integer value:

- ``exit-code``: the code the container exits with; it runs forever when neither this nor
  ``run-seconds`` is set;
- ``run-seconds``: seconds from start to that exit (0 when only ``exit-code`` is set);
- ``stop-seconds``: seconds it takes to exit after SIGTERM (0); past the grace period SIGKILL
  ends it;
- ``prestop-seconds``: seconds its preStop hook (if the spec has one) takes (0);
- ``<probe>-fail-until`` (probe: ``startup``, ``liveness``, ``readiness``): the probe fails
  until this many seconds after start; ``<probe>-fail-after``: it fails from then on;
- ``memory-bytes``, ``cpu-millis``: the container's usage (0);
- ``memory-bytes-per-second``: memory growth from the start (0): a leak, whose working set is
  ``memory-bytes`` plus this times the seconds it has run;
- ``disk-bytes``, ``inodes``, ``processes``: its local storage, inodes and process count (0),
  what disk and PID pressure rank pods by.

A value that is not a decimal integer is ignored (the default applies) and reported by
:func:`problems`, so a server can log it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from models.k8s.core.pod import Pod
from models.kubelet.events import ProbeKind

PREFIX: Final = "sim.kubeoracle.io/"
FIELDS: Final = (
    "exit-code",
    "run-seconds",
    "stop-seconds",
    "prestop-seconds",
    "startup-fail-until",
    "startup-fail-after",
    "liveness-fail-until",
    "liveness-fail-after",
    "readiness-fail-until",
    "readiness-fail-after",
    "memory-bytes",
    "cpu-millis",
    "memory-bytes-per-second",
    "disk-bytes",
    "inodes",
    "processes",
)


class Script(msgspec.Struct, frozen=True, kw_only=True):
    exit_code: int | None = None
    run_seconds: int | None = None
    stop_seconds: int = 0
    prestop_seconds: int = 0
    fail_until: tuple[tuple[str, int], ...] = ()
    fail_after: tuple[tuple[str, int], ...] = ()
    memory_bytes: int = 0
    cpu_millis: int = 0
    memory_growth_bytes_per_second: int = 0
    disk_bytes: int = 0
    inodes: int = 0
    processes: int = 0

    def exits_after_ms(self) -> int | None:
        if self.exit_code is None and self.run_seconds is None:
            return None
        return (self.run_seconds or 0) * 1000

    def memory_at(self, since_start_ms: int) -> int:
        """The working set ``since_start_ms`` after the start."""
        return (
            self.memory_bytes + self.memory_growth_bytes_per_second * max(0, since_start_ms) // 1000
        )

    def probe_succeeds(self, probe: ProbeKind, since_start_ms: int) -> bool:
        until = dict(self.fail_until).get(probe)
        after = dict(self.fail_after).get(probe)
        if until is not None and since_start_ms < until * 1000:
            return False
        return not (after is not None and since_start_ms >= after * 1000)


def _annotations(pod: Pod) -> Mapping[str, str]:
    return pod.meta.annotations or {}


def _integer(text: str) -> int | None:
    return int(text) if text.isdecimal() else None


def script(pod: Pod, container: str) -> Script:
    """The container's script (defaults where nothing or nothing valid is written)."""
    values: dict[str, int] = {}
    for field in FIELDS:
        text = _annotations(pod).get(f"{PREFIX}{container}.{field}")
        value = _integer(text) if text is not None else None
        if value is not None:
            values[field] = value
    probes = ("startup", "liveness", "readiness")
    return Script(
        exit_code=values.get("exit-code"),
        run_seconds=values.get("run-seconds"),
        stop_seconds=values.get("stop-seconds", 0),
        prestop_seconds=values.get("prestop-seconds", 0),
        fail_until=tuple(
            (p, values[f"{p}-fail-until"]) for p in probes if f"{p}-fail-until" in values
        ),
        fail_after=tuple(
            (p, values[f"{p}-fail-after"]) for p in probes if f"{p}-fail-after" in values
        ),
        memory_bytes=values.get("memory-bytes", 0),
        cpu_millis=values.get("cpu-millis", 0),
        memory_growth_bytes_per_second=values.get("memory-bytes-per-second", 0),
        disk_bytes=values.get("disk-bytes", 0),
        inodes=values.get("inodes", 0),
        processes=values.get("processes", 0),
    )


def problems(pod: Pod) -> list[str]:
    """Annotations under the prefix that are not understood."""
    found: list[str] = []
    for key, value in sorted(_annotations(pod).items()):
        if not key.startswith(PREFIX):
            continue
        field = key[len(PREFIX) :].partition(".")[2]
        if field not in FIELDS:
            found.append(f"{key}: unknown field {field!r} (known: {', '.join(FIELDS)})")
        elif _integer(value) is None:
            found.append(f"{key}: {value!r} is not a decimal integer")
    return found
