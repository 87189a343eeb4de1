"""The kubelet's container events, derived from what its machine asks the runtime to do and
what the runtime reports back, with the reasons and messages of kubelet v1.35
(``pkg/kubelet/events``, ``kuberuntime_container.go``, ``images/image_manager.go``):

- starting a container (``StartContainer``): the image pull first, by pull policy: ``Pulling``
  ``Pulling image "IMG"`` then ``Pulled`` ``Successfully pulled image "IMG" in D (D including
  waiting). Image size: N bytes.``, or, when the policy lets a present image be used and it is
  present, only ``Pulled`` ``Container image "IMG" already present on machine and can be
  accessed by the pod``; then ``Created`` ``Container created`` (v1.35 dropped the container
  name from it);
- the runtime saying the container runs (``ContainerStarted``): ``Started`` ``Container
  started``;
- stopping a container: ``Killing`` ``Stopping container NAME``, once, before its preStop hook
  runs (``RunPreStop``) or, without a hook, with its SIGTERM (``StopContainer``).

And about its node (``node_events``), as the kubelet records them in ``default`` against its
node: at each start ``Starting`` ``Starting kubelet.`` and ``NodeAllocatableEnforced``
``Updated Node Allocatable limit across pods``; then, whenever a condition is first reported or
changes status, ``Node NAME status is now: REASON`` with REASON ``NodeHasSufficientMemory`` /
``NodeHasInsufficientMemory``, ``NodeHasNoDiskPressure`` / ``NodeHasDiskPressure``,
``NodeHasSufficientPID`` / ``NodeHasInsufficientPID``, ``NodeReady`` / ``NodeNotReady``.

The pull policy is the container's ``imagePullPolicy``, or the API's default when absent
(``Always`` for an untagged or ``:latest`` image, else ``IfNotPresent``). The simulated runtime
pulls instantly and knows no image sizes: it reports ``0s`` and ``0 bytes``.
"""

from __future__ import annotations

from typing import Final

from models.k8s.core.node import NodeCondition
from models.k8s.core.pod import Container, Pod
from models.kubelet.events import (
    Command,
    ContainerStarted,
    Event,
    RunPreStop,
    StartContainer,
    StopContainer,
)
from models.kubelet.recorded import RecordedEvent
from models.kubelet.state import KubeletState


def pull_policy(container: Container) -> str:
    """The container's ``imagePullPolicy``, or the API server's default for its image."""
    if container.image_pull_policy:
        return container.image_pull_policy
    image = container.image or ""
    last = image.rsplit("/", 1)[-1]
    tag = last.split("@", 1)[0].partition(":")[2]
    return "Always" if "@" not in last and tag in ("", "latest") else "IfNotPresent"


def field_path(pod: Pod, name: str) -> str:
    """``spec.containers{NAME}`` or ``spec.initContainers{NAME}``."""
    inits = {c.name for c in pod.pod_spec.init_containers or ()}
    return f"spec.initContainers{{{name}}}" if name in inits else f"spec.containers{{{name}}}"


def _event(node: str, pod: Pod, name: str, reason: str, message: str) -> RecordedEvent:
    return RecordedEvent(
        node=node,
        namespace=pod.meta.namespace or "default",
        name=pod.meta.name or "",
        uid=pod.meta.uid or "",
        field_path=field_path(pod, name),
        type="Normal",
        reason=reason,
        message=message,
    )


def pull(node: str, pod: Pod, container: Container, present: bool) -> tuple[RecordedEvent, ...]:
    """The image manager's events for one container start (``present``: the node has the
    image)."""
    name, image = container.name or "", container.image or ""
    policy = pull_policy(container)
    if present and policy != "Always":
        message = (
            f'Container image "{image}" already present on machine and can be accessed by the pod'
        )
        return (_event(node, pod, name, "Pulled", message),)
    pulled = (
        f'Successfully pulled image "{image}" in 0s (0s including waiting). Image size: 0 bytes.'
    )
    return (
        _event(node, pod, name, "Pulling", f'Pulling image "{image}"'),
        _event(node, pod, name, "Pulled", pulled),
    )


def recorded(
    node: str, state: KubeletState, item: Command | Event, present: frozenset[str]
) -> tuple[RecordedEvent, ...]:
    """The events ``item`` (a runtime command the kubelet of ``node`` issued, or a runtime
    event it was fed; ``state`` its state after them) makes the kubelet record; ``present``:
    the images on the node before it."""
    match item:
        case StartContainer(pod=pod, container=container):
            name = container.name or ""
            created = _event(node, pod, name, "Created", "Container created")
            image_present = (container.image or "") in present
            return (*pull(node, pod, container, image_present), created)
        case ContainerStarted(uid=uid, container=name):
            return _about(node, state, uid, name, "Started", "Container started")
        case RunPreStop(uid=uid, container=name):
            return _about(node, state, uid, name, "Killing", f"Stopping container {name}")
        case StopContainer(uid=uid, container=name, signal="SIGTERM"):
            if _hooked(state, uid, name):
                return ()  # recorded when its preStop hook began
            return _about(node, state, uid, name, "Killing", f"Stopping container {name}")
        case _:
            return ()


def _about(
    node: str, state: KubeletState, uid: str, name: str, reason: str, message: str
) -> tuple[RecordedEvent, ...]:
    for record in state.pods:
        if record.uid == uid:
            return (_event(node, record.pod, name, reason, message),)
    return ()  # the pod is gone: nothing to attach the event to


def _hooked(state: KubeletState, uid: str, name: str) -> bool:
    """Did the container's preStop hook run (or is it running)?"""
    for record in state.pods:
        if record.uid == uid:
            return any(c.name == name and c.prestop != "none" for c in record.containers)
    return False


NODE_CONDITION_EVENTS: Final = {
    "MemoryPressure": ("NodeHasInsufficientMemory", "NodeHasSufficientMemory"),
    "DiskPressure": ("NodeHasDiskPressure", "NodeHasNoDiskPressure"),
    "PIDPressure": ("NodeHasInsufficientPID", "NodeHasSufficientPID"),
    "Ready": ("NodeReady", "NodeNotReady"),
}
"""A condition's event reason when its status is True, and otherwise."""


def _node_event(node: str, reason: str, message: str) -> RecordedEvent:
    return RecordedEvent(
        node=node,
        kind="Node",
        namespace="default",
        name=node,
        uid=node,
        type="Normal",
        reason=reason,
        message=message,
    )


def node_events(
    node: str,
    before: tuple[NodeCondition, ...] | None,
    after: tuple[NodeCondition, ...],
) -> tuple[RecordedEvent, ...]:
    """The node events of a status the kubelet posts (``before``: the conditions it posted
    last since it started, None for its first status after a start)."""
    events: list[RecordedEvent] = []
    if before is None:
        events.append(_node_event(node, "Starting", "Starting kubelet."))
    previous = {c.type: c.status for c in before or ()}
    ready: list[RecordedEvent] = []
    for condition in after:
        reasons = NODE_CONDITION_EVENTS.get(condition.type or "")
        if reasons is None or previous.get(condition.type) == condition.status:
            continue
        reason = reasons[0] if condition.status == "True" else reasons[1]
        event = _node_event(node, reason, f"Node {node} status is now: {reason}")
        (ready if condition.type == "Ready" else events).append(event)
    if before is None:
        message = "Updated Node Allocatable limit across pods"
        events.append(_node_event(node, "NodeAllocatableEnforced", message))
    return (*events, *ready)
