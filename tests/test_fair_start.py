"""Every learned method starts where tricubic is: an untrained quick-profile network's whole-volume SR.

With the quick profile's global skip, an untrained network outputs the skip's fixed interpolation
(:mod:`methods.networks.interpolation_skip`). It is compared here with the whole-volume
``tricubic`` method, not with the skip itself (which an untrained network equals by
construction), on the embedded demo-small cohort's test volumes, scored as the test is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmark.plugins import DATASETS, METHODS
from benchmark.profiles import load_profile
from benchmark.protocol.groups import build_groups
from benchmark.scale import Scale
from methods.thin_slab import ThinSlabMethod
from methods.tricubic import Tricubic
from methods.validation import volume_scores

LEARNED = ["supervised", "cyclegan", "dasr", "pseudosr", "udean"]
TOLERANCE_DB = 0.05


@pytest.fixture(scope="module")
def demo_small(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    DATASETS.create("demo-small", cache_dir=cache)
    return cache


@pytest.mark.parametrize("scale", [Scale(2, 2, 2), Scale(2, 2, 1)], ids=str)
def test_untrained_quick_networks_start_within_0_05_db_of_tricubic(demo_small: Path, scale: Scale) -> None:
    profile = load_profile("quick")
    dataset = DATASETS.create("demo-small", cache_dir=demo_small)
    data = build_groups(dataset, scale, "misaligned", split_seed=0, misalign_seed=0, lr_patch=(32, 32, 3))
    tricubic = Tricubic(scale, profile)
    torch.manual_seed(0)
    for name in LEARNED:
        method = METHODS.create(name, scale=scale, profile=profile)
        assert isinstance(method, ThinSlabMethod)
        for pair in data.test:
            lr = torch.from_numpy(pair.lr.data)
            start = volume_scores(method.super_resolve(lr), pair.hr.data)["psnr"]
            reference = volume_scores(tricubic.super_resolve(lr), pair.hr.data)["psnr"]
            assert abs(start - reference) < TOLERANCE_DB, (name, pair.hr.subject, start, reference)
