"""``serve kubelet``'s port range: node i serves on ``--port`` + i, so the last node's port must
exist; any port that leaves room for every node is accepted (test helpers draw ports from the
whole ephemeral range, up to 60999). ``serve apiserver --metric-resolution`` outside 0 or
1..3600 seconds exits 2 naming the option."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli.main import main


def test_a_port_range_past_65535_exits_2_naming_the_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(
        [
            "serve",
            "kubelet",
            "--kubeconfig",
            str(tmp_path / "kc"),
            "--nodes",
            "3",
            "--port",
            "65534",
        ]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert "--port" in error
    assert "65536" in error


def test_a_high_port_with_room_for_every_node_is_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Past the port check, the command goes on to read the kubeconfig, which is missing.
    code = main(
        [
            "serve",
            "kubelet",
            "--kubeconfig",
            str(tmp_path / "kc"),
            "--nodes",
            "3",
            "--port",
            "60000",
        ]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert "--port" not in error
    assert "kc" in error


@pytest.mark.parametrize("value", ["0.5", "nan", "4000"])
def test_a_metric_resolution_out_of_range_exits_2_naming_the_option(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code = main(["serve", "apiserver", "--insecure-port", "0", "--metric-resolution", value])
    assert code == 2
    assert "--metric-resolution" in capsys.readouterr().err
