"""Straight-line controller code over calls that answer later, by re-running it.

Some syncs (the Deployment's) are a sequence of calls where each one depends on the answer
before it, as in kube-controller-manager's Go. Such a sync is written as a plain function of a
:class:`Script` and a fixed snapshot of its inputs: ``script.call(call)`` returns the answer.
When the answer is not there yet, the call raises :class:`Suspend`; the machine sends the call,
and once it is answered runs the function again from the start with one more recorded answer.
The function is deterministic in its snapshot and answers, so each run retraces the previous
one (``call`` checks that it asks the same calls in the same order) and goes one call further.
"""

from __future__ import annotations

from impl.controllers.plan import Planned, Reply
from models.controllers.messages import Answered, ApiCall


class Suspend(Exception):  # noqa: N818 - a suspension, not an error
    """The script needs the answers to ``batch`` (calls made at once) before it can go on."""

    def __init__(self, batch: tuple[Planned, ...]) -> None:
        super().__init__("suspended on a call")
        self.batch = batch


class Script:
    """The answers a run may use, in order."""

    def __init__(self, replies: tuple[Reply, ...]) -> None:
        self._replies = replies
        self._position = 0

    def call(self, call: ApiCall) -> Answered:
        return self.call_all((call,))[0]

    def call_all(self, calls: tuple[ApiCall, ...]) -> list[Answered]:
        """Make ``calls`` at once; their answers in the same order."""
        batch = tuple(Planned(call=call, any_answer=True) for call in calls)
        end = self._position + len(batch)
        if end > len(self._replies):
            raise Suspend(batch)
        replies = list(self._replies[self._position : end])
        self._position = end
        answers: list[Answered] = []
        for planned in batch:
            index = next(i for i, reply in enumerate(replies) if reply.planned == planned)
            answers.append(replies.pop(index).answer)
        return answers
