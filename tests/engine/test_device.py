"""One place for CPU threads: the default (usable cores - 1, passive OpenMP waiting), its overrides, and
OpenMP's settings applied before torch loads."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from engine.device import THREADS_ENV, configure_threads, default_threads, thread_plan, usable_cores
from engine.errors import UserError


@pytest.fixture
def no_thread_env(monkeypatch):
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)


def test_the_default_leaves_a_core_free(no_thread_env):
    assert default_threads(1) == 1 and default_threads(2) == 1 and default_threads(16) == 15
    plan = thread_plan()
    assert plan.threads == max(1, usable_cores() - 1) and plan.source == "default"


def test_overrides_in_order(no_thread_env, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert thread_plan().threads == 3 and thread_plan().source == "OMP_NUM_THREADS"
    monkeypatch.setenv(THREADS_ENV, "2")
    assert thread_plan().to_dict()["threads"] == 2 and thread_plan().source == THREADS_ENV
    assert thread_plan(5).threads == 5 and thread_plan(5).source == "--threads"


@pytest.mark.parametrize("value", ["many", "0"])
def test_a_wrong_count_is_one_sentence(no_thread_env, monkeypatch, value):
    monkeypatch.setenv(THREADS_ENV, value)
    with pytest.raises(UserError, match="thread"):
        thread_plan()


def test_openmp_is_set_before_torch_loads():
    script = ("import os\nfrom engine.device import configure_threads\nplan = configure_threads()\n"
              "import torch\nprint(torch.get_num_threads(), os.environ['OMP_WAIT_POLICY'], plan.threads)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", script], env={**env, THREADS_ENV: "1"}, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["1", "PASSIVE", "1"]
    kept = subprocess.run([sys.executable, "-c", script], env={**env, THREADS_ENV: "1", "OMP_WAIT_POLICY": "ACTIVE"},
                          capture_output=True, text=True, check=True).stdout.split()
    assert kept[1] == "ACTIVE"  # a user's own policy is kept


def test_after_torch_loads_the_count_still_applies(no_thread_env):
    import torch

    before = torch.get_num_threads()
    try:
        assert configure_threads(1).threads == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_cli_refuses_a_wrong_thread_count(capsys):
    from engine.cli import main

    assert main(["--threads", "0", "datasets"]) == 2
    assert "at least 1" in capsys.readouterr().err


# -- number format --------------------------------------------------------------------------------
def test_auto_precision_is_bf16_on_a_gpu_and_fp32_on_a_cpu():
    import torch

    from engine.device import resolve_precision

    assert resolve_precision("auto", torch.device("cuda")) == "bf16"
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"


def test_bf16_autocasts_the_forward_pass_on_the_cpu():
    import torch

    from engine.device import autocast_for

    layer, x = torch.nn.Linear(8, 4), torch.randn(2, 8)
    with autocast_for(torch.device("cpu"), "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with autocast_for(torch.device("cpu"), "fp32"):
        assert layer(x).dtype == torch.float32
    assert layer.weight.dtype == torch.float32  # the weights stay in full precision


def test_emulated_bf16_is_named_in_one_line(monkeypatch):
    import torch

    import engine.device as device

    monkeypatch.setattr(device, "cpu_computes_bf16", lambda: False)
    assert "emulated" in device.precision_warning("bf16", torch.device("cpu"))
    assert device.precision_warning("fp32", torch.device("cpu")) == ""
    assert device.precision_warning("auto", torch.device("cpu")) == ""
