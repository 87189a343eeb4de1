"""The remote command stream protocol of ``kubectl exec`` over WebSocket (apimachinery
``util/remotecommand`` and ``httpstream/wsstream``): subprotocol names, channel numbers, the
query parameters of the API server's ``pods/exec`` and of the kubelet's ``/exec``, and the
``metav1.Status`` the error channel carries when the command ends.

Every WebSocket message is binary: one byte naming the channel, then the channel's data. Channels
0 stdin, 1 stdout, 2 stderr, 3 error (one Status, JSON), 4 resize (terminal size, JSON); with
``v5.channel.k8s.io`` a message ``[255, N]`` closes channel N (stdin's end of input).
"""

from __future__ import annotations

from typing import Final

from models.k8s.meta import ListMeta
from models.k8s.meta_ops import Status, StatusCause, StatusDetails

V5: Final = "v5.channel.k8s.io"
V4: Final = "v4.channel.k8s.io"
PROTOCOLS: Final = (V5, V4)
"""The subprotocols served, in order of preference (v4 has no close signal)."""

STDIN: Final = 0
STDOUT: Final = 1
STDERR: Final = 2
ERROR: Final = 3
RESIZE: Final = 4
CLOSE: Final = 255
"""v5's close signal: ``[255, channel]``."""

NON_ZERO_EXIT_CODE: Final = "NonZeroExitCode"
EXIT_CODE_CAUSE: Final = "ExitCode"

API_STREAM_PARAMS: Final = ("stdin", "stdout", "stderr", "tty")
"""``PodExecOptions``' booleans as the API server's query names them."""
KUBELET_STREAM_PARAMS: Final = ("input", "output", "error", "tty")
"""The same booleans as the kubelet's ``/exec`` takes them (``ExecStdinParam`` ...)."""


def choose_protocol(offered: list[str] | tuple[str, ...]) -> str | None:
    """The served subprotocol the client prefers among those it offered, if any."""
    for protocol in offered:
        if protocol in PROTOCOLS:
            return protocol
    return None


def frame(channel: int, data: bytes = b"") -> bytes:
    return bytes((channel,)) + data


def exited(code: int) -> Status:
    """The error channel's Status when the command has ended with ``code``, as kube-apiserver's
    stream translator writes it: Success for 0, else NonZeroExitCode with the code as the
    ExitCode cause (kubectl exits with it). Neither has a kind or an HTTP code."""
    if code == 0:
        return Status(metadata=ListMeta(), status="Success")
    return Status(
        metadata=ListMeta(),
        status="Failure",
        message=(
            f"command terminated with non-zero exit code: command terminated with exit code {code}"
        ),
        reason=NON_ZERO_EXIT_CODE,
        details=StatusDetails(causes=(StatusCause(reason=EXIT_CODE_CAUSE, message=str(code)),)),
    )


def internal_error(message: str) -> Status:
    """``errors.NewInternalError`` as the error channel carries it."""
    return Status(
        metadata=ListMeta(),
        status="Failure",
        message=f"Internal error occurred: {message}",
        reason="InternalError",
        details=StatusDetails(causes=(StatusCause(message=message),)),
        code=500,
    )
