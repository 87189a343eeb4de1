"""``serve cluster``'s life: bad flags refused with exit 2 before anything starts;
controller-manager failover (killing the leading replica hands the Lease to the other one, the
supervisor restarts the killed one, and the controllers keep working); then a clean stop on
SIGTERM (every component gone, each saying it stopped, exit 0)."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.apiserver.kubectl import require_kubectl
from tests.served.cluster import alive, cluster_command, kubectl, serve_cluster, stop, table


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = cluster_command(tmp / "kc", tmp / "cluster", *args)
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--nodes", "0"), "--nodes"),
        (("--runtime", "docker"), "--runtime"),
        (("--proxy-mode", "ipvs"), "--proxy-mode"),
        (("--proxy-mode", "none", "--proxy-dry-run"), "there is no kube-proxy to dry-run"),
        (("--runtime", "process", "--kubelet-port", "65535", "--nodes", "2"), "past 65535"),
        (("--secure-port", "70000"), "--secure-port"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = _run(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "kc").exists()


def test_a_kubeconfig_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    command = cluster_command(tmp_path, tmp_path / "cluster")
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "it is a directory" in result.stderr


def test_a_secure_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(tmp_path, "--secure-port", str(port))
    assert result.returncode == 2, result.stderr
    assert "apiserver exited with code 2" in result.stderr
    assert "--secure-port" in result.stderr
    assert "Address already in use" in result.stderr


def _leading(folder: Path) -> list[str]:
    return [
        name
        for name in ("controller-manager-1", "controller-manager-2")
        if "leading as" in (folder / "logs" / f"{name}.log").read_text()
    ]


@pytest.mark.kubectl
@pytest.mark.slow
def test_killing_the_leading_controller_manager_fails_over_then_sigterm_stops_all(
    tmp_path: Path,
) -> None:
    require_kubectl()
    # on every address: the kubeconfig names loopback, which the serving certificate covers
    with serve_cluster(tmp_path, "--nodes", "1", "--bind-address", "0.0.0.0") as running:
        assert re.search(r"server: https://127\.0\.0\.1:\d+\n", running.kubeconfig.read_text())
        (leader,) = _leading(running.folder)
        standby = ({"controller-manager-1", "controller-manager-2"} - {leader}).pop()
        pid = running.pids()[leader]
        subprocess.run(["kill", "-KILL", str(pid)], check=True)
        # the supervisor restarts it; the standby takes the Lease when it expires (15 s)
        line = running.wait_for("exited", 30)
        assert (
            line
            == f"kubeoracle serve cluster: {leader} exited with code -9; restarting it (restart 1)"
        )
        line = running.read_line(10)
        assert line.startswith(f"kubeoracle serve cluster: started {leader} (pid ")
        assert running.pids()[leader] != pid
        deadline = time.monotonic() + 40
        while standby not in _leading(running.folder) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert standby in _leading(running.folder)
        log = (running.folder / "logs" / f"{standby}.log").read_text()
        identity = log.split("leading as ", 1)[1].split()[0]
        holder = kubectl(running, "get", "lease", "-n", "kube-system", "kube-controller-manager",
                         "-o", "jsonpath={.spec.holderIdentity}")  # fmt: skip
        assert holder.stdout == identity
        # the new leader's controllers act: a Deployment rolls out
        created = kubectl(running, "create", "deployment", "after", "--image=nginx", "--replicas=2")
        assert created.returncode == 0, created.stderr
        rollout = kubectl(running, "rollout", "status", "deployment/after", "--timeout=60s")
        assert rollout.returncode == 0, rollout.stderr
        rows = table(kubectl(running, "get", "deployment", "after").stdout)
        assert rows[1][1] == "2/2"
        # then SIGTERM stops every component, the restarted one included, and exits 0
        pids = running.pids()
        assert all(alive(pid) for pid in pids.values())
        code = stop(running)
    assert code == 0
    assert not [name for name, pid in pids.items() if alive(pid)]
    errors = running.stderr.read_text().splitlines()
    assert errors[0].startswith("kubeoracle serve cluster: stopping proxy, kubelet, scheduler")
    assert errors[-1] == "kubeoracle serve cluster: stopped"
    assert "SIGKILL" not in "\n".join(errors)
    # each component stopped cleanly (none was killed): their own last words
    logs = running.folder / "logs"
    for name in ("apiserver", "scheduler", "kubelet", standby):
        assert "stopped" in (logs / f"{name}.log").read_text().splitlines()[-1], name
    assert "Traceback" not in "".join(p.read_text() for p in logs.iterdir())
