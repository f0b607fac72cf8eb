"""The example plugin ``examples/edge_tricubic`` (method ``edge-tricubic``) keeps the method contract.

The plugin is not pip-installed into the project's environment.  Its package folder is put on
``sys.path`` and ``edge_tricubic.method`` is imported, which registers the method (its
``bench.plugins`` entry point would do the same import once installed).  The contract is then run
as ``docs/method_contract.md`` shows, every property at both of the contract's scales; a property
that does not apply is skipped with the contract's own reason (``pytest -rs`` prints it).

**In a child process.**  Neither the README nor the docs say how to remove a method or a declared
setting from the registry, and ``benchmark.api.METHODS`` has no public way to do it.  Imported in
the pytest process, ``edge-tricubic`` would stay registered for the rest of the session and change
what other tests see (``tests/test_gpu_paper_run.py`` counts the registered methods and failed
so).  So this file runs itself as a script (``python tests/test_example_plugin.py WORKDIR``): the
child imports the plugin, runs every check and prints one JSON line of outcomes, and the tests
below report each outcome.  The pytest process never imports the plugin.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest

NAME = "edge-tricubic"
ROOT = Path(__file__).resolve().parents[1]
PLUGIN_ROOT = ROOT / "examples" / "edge_tricubic"

# The contract's own cases where a property cannot apply (docs/method_contract.md): no learned
# state to resume, no networks / inference_network(), no training through the shared Trainer.
NOT_APPLICABLE = {"resume_after_kill", "inference_networks", "declared_updates"}


# ---------------------------------------------------------------------------------------------
# The child: imports the plugin and runs the checks (called only from ``main``).
# ---------------------------------------------------------------------------------------------


def _import_plugin() -> Any:
    """Put the example package on ``sys.path`` and import its method module, which registers it."""
    sys.path.insert(0, str(PLUGIN_ROOT))
    return importlib.import_module("edge_tricubic.method")


def _contract(prop: str, scale: Any, workdir: Path) -> None:
    from benchmark.app.method_contract import check

    check(prop, NAME, workdir, scale=scale)


def _extra_registered_with_its_declarations(plugin: Any, workdir: Path) -> None:
    from benchmark.api import METHODS

    assert METHODS.names("edge-*") == [NAME], METHODS.names()
    cls = METHODS.factory(NAME)
    assert cls is plugin.EdgeTricubic
    declared = {
        key: getattr(cls, key)
        for key in ("uses_source_hr", "uses_aligned_target_hr", "needs_training_data", "uses_seed", "oracle")
    }
    assert declared == dict.fromkeys(declared, False), declared
    assert "unsharp mask" in METHODS.summary(NAME)


def _method(scale: Any, **settings: float) -> Any:
    """An ``edge-tricubic`` instance; a bare profile suffices, as it reads only its own keys."""
    from benchmark.api import METHODS, Profile

    return METHODS.create(NAME, scale=scale, profile=Profile("tiny", values=settings))


def _extra_without_sharpening_it_is_the_builtin_tricubic(plugin: Any, workdir: Path) -> None:
    import torch

    from benchmark.api import METHODS, Profile, Scale

    for scale in (Scale(2, 2, 2), Scale(2, 2, 1), Scale(3, 2, 1)):
        lr = torch.rand(9, 8, 7, generator=torch.Generator().manual_seed(0))
        ours = _method(scale, edge_amount=0.0).super_resolve(lr)
        reference = METHODS.create("tricubic", scale=scale, profile=Profile("tiny")).super_resolve(lr)
        assert ours.dtype == torch.float32 and ours.shape == reference.shape, (ours.dtype, ours.shape)
        torch.testing.assert_close(ours, reference, rtol=0, atol=1e-6)
        # LR voxel j lies at HR voxel s*j (the protocol's grid): the interpolation passes through it
        sx, sy, sz = scale.factors
        torch.testing.assert_close(ours[::sx, ::sy, ::sz], lr, rtol=0, atol=1e-6)


def _extra_unsharp_mask_with_the_profile_keys(plugin: Any, workdir: Path) -> None:
    import numpy as np
    import torch
    from scipy import ndimage

    from benchmark.api import Scale

    scale = Scale(2, 2, 2)
    lr = torch.rand(8, 10, 6, generator=torch.Generator().manual_seed(1))
    up = plugin.cubic_upsample(lr.double().numpy(), scale.factors)
    for settings, (amount, sigma) in [
        ({}, (0.5, 1.0)),  # the defaults
        ({"edge_amount": 1.5, "edge_sigma": 2.0}, (1.5, 2.0)),
    ]:
        sr = _method(scale, **settings).super_resolve(lr).numpy()
        expected = up + amount * (up - ndimage.gaussian_filter(up, sigma, mode="wrap"))
        np.testing.assert_allclose(sr, expected, rtol=0, atol=1e-5)
    assert not torch.equal(_method(scale).super_resolve(lr), _method(scale, edge_amount=0.0).super_resolve(lr))


def _extra_set_overrides_are_declared_and_checked(plugin: Any, workdir: Path) -> None:
    from benchmark.api import BenchError
    from benchmark.app.method_contract import check

    check("super_resolve_shape", NAME, workdir / "ok", overrides=["edge_amount=1", "edge_sigma=0.5"])
    for bad, message in [
        ("edge_sigma=0", "must be a number > 0"),
        ("edge_amount=-1", "must be a number"),
        ("edge_amout=1", "did you mean 'edge_amount'"),
    ]:
        try:
            check("super_resolve_shape", NAME, workdir / "bad", overrides=[bad])
        except BenchError as error:
            assert message in str(error), str(error)
        else:
            raise AssertionError(f"--set {bad} was accepted")


EXTRAS = {
    "registered_with_its_declarations": _extra_registered_with_its_declarations,
    "without_sharpening_it_is_the_builtin_tricubic": _extra_without_sharpening_it_is_the_builtin_tricubic,
    "unsharp_mask_with_the_profile_keys": _extra_unsharp_mask_with_the_profile_keys,
    "set_overrides_are_declared_and_checked": _extra_set_overrides_are_declared_and_checked,
}


def _outcome(run: Any) -> dict[str, str]:
    from benchmark.app.method_contract import NotApplicable

    try:
        run()
    except NotApplicable as reason:
        return {"outcome": "skipped", "message": str(reason)}
    except Exception:  # every failure, assertion or not, is reported to the parent test
        return {"outcome": "failed", "message": traceback.format_exc()}
    return {"outcome": "passed", "message": ""}


def main(workdir: Path) -> None:
    """Run every check in this process and print ``{case: {outcome, message}}`` as one JSON line."""
    from benchmark.app.method_contract import PROPERTIES, SCALES

    plugin = _import_plugin()
    results = {}
    for prop in PROPERTIES:
        for scale in SCALES:
            case = f"{prop}[{scale}]"
            folder = workdir / case
            results[case] = _outcome(lambda p=prop, s=scale, f=folder: _contract(p, s, f))
    for name, extra in EXTRAS.items():
        folder = workdir / name
        folder.mkdir(parents=True)
        results[name] = _outcome(lambda e=extra, f=folder: e(plugin, f))
    print(json.dumps(results))


# ---------------------------------------------------------------------------------------------
# The tests (pytest process): run the child once, report each of its outcomes.
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    workdir = tmp_path_factory.mktemp("edge_tricubic")
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(workdir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _report(result: dict[str, str]) -> None:
    if result["outcome"] == "failed":
        pytest.fail(result["message"], pytrace=False)


def _contract_cases() -> list[tuple[str, str]]:
    from benchmark.app.method_contract import PROPERTIES, SCALES

    return [(prop, str(scale)) for prop in PROPERTIES for scale in SCALES]


@pytest.mark.parametrize(("prop", "scale"), _contract_cases(), ids=lambda value: value)
def test_edge_tricubic_keeps_the_contract(outcomes, prop, scale):
    result = outcomes[f"{prop}[{scale}]"]
    _report(result)
    if result["outcome"] == "skipped":
        assert prop in NOT_APPLICABLE, f"{prop} should apply to {NAME}: {result['message']}"
        pytest.skip(result["message"])
    assert prop not in NOT_APPLICABLE, f"{prop} unexpectedly applied to {NAME}"


@pytest.mark.parametrize("name", sorted(EXTRAS))
def test_edge_tricubic_behaviour(outcomes, name):
    result = outcomes[name]
    _report(result)
    assert result["outcome"] == "passed", result


def test_the_pytest_process_registry_is_left_as_it_was(outcomes):
    from benchmark.api import METHODS

    assert NAME not in METHODS.names()
    assert "edge_tricubic.method" not in sys.modules


if __name__ == "__main__":
    main(Path(sys.argv[1]))


def test_bench_runs_the_plugin_without_installing_it(tmp_path: Path) -> None:
    """``BENCH_PLUGINS`` names a module on ``PYTHONPATH``: ``bench run`` (and its processes) import it."""
    import os

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PLUGIN_ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "BENCH_PLUGINS": "edge_tricubic.method",
        "BENCH_CACHE": str(tmp_path / "cache"),
        "COLUMNS": "200",
    }
    code = "import sys; from benchmark.app.cli import main; sys.argv = ['bench', *sys.argv[1:]]; main()"
    args = ["run", "--methods", NAME, "--dataset", "demo-small", "--profile", "tiny", "--runs-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0 and "done 1" in done.stdout, done.stdout + done.stderr
    (metrics,) = list(tmp_path.rglob(f"{NAME}/*/*/seed0/metrics.csv"))
    assert "psnr" in metrics.read_text()
