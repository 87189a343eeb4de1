"""spec/controllers/job.py on the Job controller: judged after every controller call of runs
that complete and fail Jobs, the properties hold and their companions are seen; each
property reports a state that breaks it."""

from __future__ import annotations

import copy
from typing import Any

from runner.controllers.local import LocalCluster
from spec.controllers import job as spec
from tests.controllers.cluster import PODS
from tests.controllers.test_job import JOBS, finish, live, settle, start


def stored(c: LocalCluster) -> list[dict[str, Any]]:
    pods = [{**p, "kind": "Pod"} for p in c.items(PODS)]
    return [*pods, *({**j, "kind": "Job"} for j in c.items(JOBS))]


class Judge:
    def __init__(self, c: LocalCluster) -> None:
        self.c = c
        self.history = spec.History()
        self.violations: list[Any] = []
        self.completed = self.failed = False
        c.after_call.append(lambda *_: self.judge())

    def judge(self) -> None:
        objects = stored(self.c)
        self.violations += spec.counted_once(objects, self.history)
        self.violations += spec.terminal_justified(objects)
        self.completed = self.completed or spec.completed(objects)
        self.failed = self.failed or spec.failed(objects)


def test_the_properties_hold_through_completion_and_failure() -> None:
    c = start(completions=4, parallelism=2)
    judge = Judge(c)
    for _ in range(4):
        pending = [p for p in live(c) if p["status"]["phase"] == "Pending"]
        finish(c, pending[0], "Succeeded")
        judge.judge()
        settle(c)
    assert judge.completed
    other = start(backoffLimit=0, completionMode="Indexed", completions=2, parallelism=2)
    judge_other = Judge(other)
    finish(other, live(other)[0], "Failed")
    judge_other.judge()
    settle(other)
    assert judge_other.failed
    assert judge.violations == judge_other.violations == []
    assert judge.history.uncounted_seen
    assert judge_other.history.uncounted_seen


def test_each_property_reports_a_state_that_breaks_it() -> None:
    c = start(completions=2, parallelism=2)
    for pod in live(c):
        finish(c, pod, "Succeeded")
    settle(c)
    objects = stored(c)
    history = spec.History()
    assert spec.counted_once(objects, history) == []
    doubled = copy.deepcopy(objects)
    (job,) = [o for o in doubled if o["kind"] == "Job"]
    job["status"]["uncountedTerminatedPods"] = {"succeeded": ["again"]}
    assert [v.property_name for v in spec.counted_once(doubled, history)] == ["job.counted_once"]
    early = copy.deepcopy(objects)
    (job,) = [o for o in early if o["kind"] == "Job"]
    job["status"]["succeeded"] = 1
    names = {v.property_name for v in spec.terminal_justified(early)}
    assert names == {"job.terminal_justified"}
