"""The ``Method`` interface's defaults, which a plugin gets without writing them."""

from __future__ import annotations

import torch

from benchmark.app import cli
from benchmark.method import Method
from benchmark.profiles import load_profile
from benchmark.scale import Scale


class Identity(Method):
    """A method without networks (and without an override of ``network_parameters``)."""

    uses_source_hr = False

    def super_resolve(self, lr: torch.Tensor) -> torch.Tensor:
        return lr


def test_a_method_without_networks_reports_no_parameters():
    assert Identity.network_parameters(Scale(2, 2, 2), load_profile("tiny")) == {}


def test_bench_list_verbose_shows_only_methods_with_networks(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    cli._print_network_sizes()
    out = capsys.readouterr().out
    assert "supervised" in out  # a thin-slab method overrides network_parameters
    assert "tricubic" not in out  # the default ({}) adds no row
