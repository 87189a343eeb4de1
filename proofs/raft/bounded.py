"""Bounded model checking of the cluster model: its properties, the search and the execution.

:func:`bounded_check` unrolls :mod:`proofs.raft.cluster` step by step from the initial state
(optionally on a scripted schedule of step kinds) and asks z3, at each depth, whether a state
breaks a property; a counterexample is the shortest violating execution, read back as values
(:class:`proofs.execution.Execution`) that ``runner/raft/counterexample_export.py`` can turn
into a trace of ``impl.raft``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from proofs.execution import AbstractStep, Execution, NodeValues
from proofs.raft.cluster import (
    ClusterState,
    Shape,
    StepInstance,
    fresh_state,
    initial,
    redeliver,
    step_instances,
)
from proofs.raft.relations import LEADER, ROLE_NAMES, BoundedLog, NodeView, Rules
from proofs.z3adapter import (
    And,
    ArithRef,
    BoolRef,
    BoolVal,
    Counterexample,
    Int,
    ModelRef,
    Not,
    Or,
    Proved,
    Solver,
    Unknown,
    Verdict,
    model_bool,
    model_int,
    sat,
    unknown,
)


def _log_terms(node: NodeView) -> tuple[ArithRef, ...]:
    assert isinstance(node.log, BoundedLog)
    return node.log.terms


def node_values(model: ModelRef, state: ClusterState, index: int) -> NodeValues:
    """One node's state in a model, as values."""
    node = state.nodes[index]
    last = model_int(model, node.log.last_index)
    return NodeValues(
        node=index + 1,
        term=model_int(model, node.term),
        vote=model_int(model, node.vote),
        lead=model_int(model, node.lead),
        role=ROLE_NAMES.get(model_int(model, node.role), "?"),
        commit=model_int(model, node.commit),
        log=tuple(model_int(model, t) for t in _log_terms(node)[:last]),
    )


def describe_node(model: ModelRef, state: ClusterState, index: int) -> str:
    """One node's state in a model, for people."""
    node = state.nodes[index]
    last = model_int(model, node.log.last_index)
    terms = [model_int(model, t) for t in _log_terms(node)[:last]]
    role = ROLE_NAMES.get(model_int(model, node.role), "?")
    vote = model_int(model, node.vote)
    applied = [model_int(model, t) for t in state.applied[index]]
    applied_text = ",".join(str(t) for t in applied if t) or "-"
    return (
        f"{role} term {model_int(model, node.term)} vote {f'n{vote}' if vote else '-'} "
        f"log {terms} commit {model_int(model, node.commit)} applied [{applied_text}]"
    )


Property = Callable[[Shape, ClusterState], BoolRef]


def election_safety(shape: Shape, state: ClusterState) -> BoolRef:  # noqa: ARG001
    """No two leaders of the same term."""
    nodes = state.nodes
    return And(
        [
            Not(And(a.role == LEADER, b.role == LEADER, a.term == b.term))
            for i, a in enumerate(nodes)
            for b in nodes[i + 1 :]
        ]
    )


def log_matching(shape: Shape, state: ClusterState) -> BoolRef:
    """Two logs with the same term at an index agree on every earlier index."""
    facts = []
    for i, a in enumerate(state.nodes):
        for b in state.nodes[i + 1 :]:
            for index in range(2, shape.capacity + 1):
                same = And(
                    index <= a.log.last_index,
                    index <= b.log.last_index,
                    a.log.term_at(index) == b.log.term_at(index),
                )
                earlier = And([a.log.term_at(j) == b.log.term_at(j) for j in range(1, index)])
                facts.append(Or(Not(same), earlier))
    return And(facts)


def state_machine_safety(shape: Shape, state: ClusterState) -> BoolRef:  # noqa: ARG001
    """No two nodes applied different entries at the same index."""
    facts = []
    for i, a in enumerate(state.applied):
        for b in state.applied[i + 1 :]:
            facts += [Or(x == 0, y == 0, x == y) for x, y in zip(a, b, strict=True)]
    return And(facts)


def leader_completeness(shape: Shape, state: ClusterState) -> BoolRef:  # noqa: ARG001
    """A leader of a term later than the one in which an entry was applied holds that entry."""
    facts = []
    for leader in state.nodes:
        for applied, applied_in in zip(state.applied, state.applied_in, strict=True):
            for index, (term, in_term) in enumerate(zip(applied, applied_in, strict=True), 1):
                facts.append(
                    Or(
                        leader.role != LEADER,
                        term == 0,
                        leader.term <= in_term,
                        leader.log.term_at(index) == term,
                    )
                )
    return And(facts)


def bounded_check(
    rules: Rules,
    shape: Shape,
    depth: int,
    safe: Sequence[tuple[str, Property]],
    *,
    timeout_ms: int = 120_000,
    schedule: tuple[str, ...] = (),
    atomic_elections: bool = False,
    final_level_only: bool = False,
    in_order_appends: bool = False,
) -> Verdict:
    """Is every ``safe`` property true in every state reachable in at most ``depth`` steps?

    A ``schedule`` (one step kind per level, as in etcd's scripted TLA+ scenarios) restricts
    the search to executions whose steps have those kinds; z3 picks the nodes and messages.
    With ``in_order_appends`` every append step sends the one entry after the follower's last,
    as an etcd leader replicating in order does with one entry per MsgApp, and only the first
    before the follower acknowledged anything (etcd's probe state), so that the execution
    exports step for step.

    A counterexample is the shortest violating execution, one pair per step (the step taken and
    the state of the nodes it touched) and a last pair naming the broken property.
    """
    solver = Solver()
    solver.set("timeout", timeout_ms)
    states = [fresh_state(shape, "s0")]
    solver.add(initial(states[0]))
    chosen: list[tuple[ArithRef, tuple[StepInstance, ...]]] = []

    def add_level(level: int) -> None:
        before, after = states[-1], fresh_state(shape, f"s{level + 1}")
        kind = schedule[level] if schedule else ""
        if kind == "redeliver":
            earlier = [
                (choice, number, instance, at)
                for at, (choice, instances) in enumerate(chosen, start=1)
                for number, instance in enumerate(instances)
                if instance.kind == "append"
            ]
            instances = tuple(
                redeliver(
                    rules, before, after, at, (choice, number, instance), f"s{level + 1}.re{n}"
                )
                for n, (choice, number, instance, at) in enumerate(earlier)
            )
        else:
            instances = step_instances(
                rules, shape, before, after, f"s{level + 1}", atomic_elections=atomic_elections
            )
            if kind:
                instances = tuple(i for i in instances if i.kind == kind)
        choice = Int(f"s{level + 1}.choice")
        solver.add(
            Or(
                [
                    And(choice == i, inst.formula, _shaped(inst, before))
                    for i, inst in enumerate(instances)
                ]
            )
        )
        chosen.append((choice, instances))
        states.append(after)

    def _shaped(instance: StepInstance, before: ClusterState) -> BoolRef:
        message = instance.message
        if not in_order_appends or message is None:
            return BoolVal(True)
        leader, follower = (before.nodes[node - 1] for node in instance.nodes)
        # etcd's probe state: until k acknowledged something, one MsgApp (from the start).
        probing = leader.match[instance.nodes[1] - 1] == 0
        return And(
            message.prev_index == follower.log.last_index,
            message.last_sent == message.prev_index + 1,
            Or(Not(probing), message.prev_index == 0),
        )

    for level in range(depth + 1):
        if not (final_level_only and level < depth):
            solver.push()
            solver.add(Not(And([prop(shape, states[-1]) for _, prop in safe])))
            result = solver.check()
            if result == sat:
                return _counterexample(solver.model(), states, chosen, shape, safe)
            if result == unknown:
                return Unknown(reason=f"depth {level}: {solver.reason_unknown()}")
            solver.pop()
        if level < depth:
            add_level(level)
    return Proved()


def _counterexample(
    model: ModelRef,
    states: Sequence[ClusterState],
    chosen: Sequence[tuple[ArithRef, tuple[StepInstance, ...]]],
    shape: Shape,
    safe: Sequence[tuple[str, Property]],
) -> Counterexample:
    pairs: list[tuple[str, str]] = [("cluster", f"{shape.voters} voters, all followers of term 0")]
    steps: list[AbstractStep] = []
    for number, (choice, instances) in enumerate(chosen, start=1):
        instance = instances[model_int(model, choice)]
        text = instance.describe(model)
        pairs.append((f"step {number}", text))
        for node in instance.nodes:
            pairs.append((f"  n{node}", describe_node(model, states[number], node - 1)))
        message = instance.details(model)
        steps.append(
            AbstractStep(
                kind=instance.kind,
                nodes=instance.nodes,
                text=text,
                term=message.term,
                sent=message.sent,
                granted=message.granted,
                prev=message.prev,
                last_sent=message.last_sent,
                accepted=message.accepted,
                replied=message.replied,
                source=message.source,
                after=tuple(
                    node_values(model, states[number], index) for index in range(shape.voters)
                ),
            )
        )
    last = states[-1]
    broken = [name for name, prop in safe if not model_bool(model, prop(shape, last))]
    pairs.append(("violated", ", ".join(broken)))
    execution = Execution(voters=shape.voters, steps=tuple(steps), violated=tuple(broken))
    return Counterexample(assignment=tuple(pairs), execution=execution)
