"""The record of what a cell ran on: its CPU too, since two CPUs may round a training differently."""

from __future__ import annotations

import platform

import torch

from benchmark.environment import cpu_model, environment_record
from reports.cell_provenance import cpu_description


def test_the_record_names_the_cpu_and_the_instruction_set_torch_uses():
    record = environment_record(torch.device("cpu"))
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability() != ""
    assert record["cpu"] == cpu_model() and record["cpu"]


def test_cpu_model_reads_the_model_name(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6338\nflags\t: x\n")
    assert cpu_model(cpuinfo) == "Intel(R) Xeon(R) Gold 6338"


def test_without_cpuinfo_the_model_comes_from_the_platform(tmp_path):
    assert cpu_model(tmp_path / "absent") == (platform.processor() or None)
    (tmp_path / "blank").write_text("processor\t: 0\nmodel name\t:\n")
    assert cpu_model(tmp_path / "blank") == (platform.processor() or None)


def test_the_provenance_shows_model_and_instruction_set_and_tolerates_older_cells():
    assert cpu_description({"cpu": "Intel(R) Xeon(R) Processor", "cpu_capability": "AVX512"}) == (
        "Intel(R) Xeon(R) Processor (AVX512)"
    )
    assert cpu_description({"cpu_capability": "AVX2"}) == "AVX2"
    assert cpu_description({"device": "cpu"}) == ""
