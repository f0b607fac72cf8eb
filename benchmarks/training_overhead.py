"""A training step in the harness against the bare forward, backward and optimiser step; prints a table.

Usage::

    python benchmarks/training_overhead.py             # quick profile, 3 × 100 steps each (~1 min on 2 idle cores)
    python benchmarks/training_overhead.py --quick     # 3 × 30 steps
    python benchmarks/training_overhead.py --threads 1 # one thread (a busy, shared machine)
    python benchmarks/training_overhead.py --profile paper --device cuda --steps 200

The supervised TS-RCAN plan (:class:`methods.supervised.PairedSlabPlan`, the shortest real
method: L1 + α·SSIM on slab pairs, one Adam optimiser) is trained on random in-memory volumes
in two ways, interleaved block by block in this process, ``--repeats`` blocks of ``--steps``
steps each:

* ``bare``: the same networks, loss and Adam settings on one fixed batch drawn once by the
  plan: move to the device, forward, loss, ``zero_grad``, backward, ``step``, nothing else;
* ``harness``: :class:`benchmark.training.trainer.Trainer` ``fit`` from a fresh checkpoint folder, at the
  profile's rates (validation and a checkpoint every ``val_every`` / ``checkpoint_every`` steps,
  and always after the last step), with its learning-rate schedule, gradient scaler, loss
  history and time split; batches sampled by the plan at every step.

The table shows the median seconds per step of each, the harness's split (sampling; the plan's
step, i.e. forward, backward and optimiser; the rest: schedule, validation, checkpoints, loss
history) and the ratio harness ÷ bare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from machine import describe_machine
from rich.console import Console
from rich.table import Table
from synthetic_volumes import synthetic_pairs

from benchmark.device import resolve_device
from benchmark.precision import resolve_precision
from benchmark.profiles import Profile, load_profile
from benchmark.protocol.training_data import VolumePair
from benchmark.scale import Scale
from benchmark.training.run_context import RunContext
from benchmark.training.trainer import Trainer
from methods.losses import l1_loss, ssim_loss
from methods.networks import ts_rcan_from_profile
from methods.supervised import PairedSlabPlan


def make_plan(profile: Profile, scale: Scale, device: torch.device) -> PairedSlabPlan:
    """The supervised plan on 4 random subjects, HR 128×128×48 (at 2×2×2; LR patches fit several times)."""
    hr_shape = tuple(max(4 * p * s, 128) for p, s in zip(profile["lr_patch"], scale.factors))
    lrs, hrs = synthetic_pairs((hr_shape[0], hr_shape[1], 24 * scale.sz), scale, 4)
    torch.manual_seed(0)
    network = ts_rcan_from_profile(profile, scale).to(device)
    return PairedSlabPlan(network, lrs, hrs, [VolumePair(lrs[0], hrs[0])], scale, profile, device)


def bare_steps(plan: PairedSlabPlan, optimiser: torch.optim.Optimizer, batch: tuple, steps: int) -> float:
    """Seconds for ``steps`` bare steps on one batch: to device, forward, L1 + α·SSIM, backward, Adam step."""
    network = plan.networks["sr"]
    synchronise = torch.cuda.synchronize if plan.device.type == "cuda" else (lambda: None)
    started = time.perf_counter()
    for _ in range(steps):
        lr, hr = (t.to(plan.device, non_blocking=True) for t in batch)
        sr = network(lr)
        loss = l1_loss(sr, hr) + plan.alpha * ssim_loss(sr, hr)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        loss.item()  # the harness reads its losses every step, too
    synchronise()
    return time.perf_counter() - started


def harness_steps(plan: PairedSlabPlan, profile: Profile, scale: Scale, steps: int) -> tuple[float, dict[str, float]]:
    """Seconds for a fresh ``Trainer.fit`` of ``steps`` steps, and the trainer's own time split."""
    with tempfile.TemporaryDirectory() as folder:
        run = RunContext(
            device=plan.device,
            seed=0,
            profile=profile,
            scale=scale,
            cell_dir=Path(folder),
            checkpoint_dir=Path(folder) / "checkpoints",
            precision=resolve_precision("auto", plan.device),
        )
        trainer = Trainer(plan, run, total_steps=steps)
        started = time.perf_counter()
        trainer.fit()
        seconds = time.perf_counter() - started
    return seconds, trainer.times.as_dict()


def main() -> None:
    """Parse arguments, run the interleaved blocks, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--scale", default="2x2x2")
    parser.add_argument("--steps", type=int, default=100, help="steps per block")
    parser.add_argument("--repeats", type=int, default=3, help="blocks of each kind, interleaved")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch threads [default: torch's choice]")
    parser.add_argument("--quick", action="store_true", help="30 steps per block")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = 30 if args.quick else args.steps
    device = resolve_device(args.device)
    scale = Scale.parse(args.scale)
    profile = load_profile(args.profile, [])
    plan = make_plan(profile, scale, device)
    optimiser = torch.optim.Adam(
        plan.networks["sr"].parameters(),
        lr=float(profile["lr_max"]),
        betas=tuple(profile["adam_betas"]),  # type: ignore[arg-type]
        eps=float(profile["adam_eps"]),
    )
    batch = plan.sample_batch(np.random.default_rng(1))
    machine = describe_machine()
    bare_steps(plan, optimiser, batch, 3)  # warm-up
    harness_steps(plan, profile, scale, 3)
    bare, harness, split = [], [], []
    for _ in range(args.repeats):
        bare.append(bare_steps(plan, optimiser, batch, steps) / steps)
        seconds, times = harness_steps(plan, profile, scale, steps)
        harness.append(seconds / steps)
        split.append(times)
    bare_s, harness_s = statistics.median(bare), statistics.median(harness)
    data_s = statistics.median(t["data_s"] for t in split) / steps
    step_s = statistics.median(t["forward_backward_s"] + t["optimiser_s"] for t in split) / steps
    rest_s = harness_s - data_s - step_s
    table = Table(
        title=(
            f"{args.profile} supervised TS-RCAN, {scale}, batch {profile['batch_size']}, {device}: "
            f"median of {args.repeats} blocks of {steps} steps (val / checkpoint every "
            f"{profile['val_every']} / {profile['checkpoint_every']} and after the last step)"
        )
    )
    for column in ("", "s / step", "÷ bare"):
        table.add_column(column, justify="left" if not column else "right")
    rows = [
        ("bare forward + backward + Adam step", bare_s),
        ("harness Trainer.fit, per step", harness_s),
        ("  of which: batch sampling", data_s),
        ("  of which: plan step (forward, backward, optimiser)", step_s),
        ("  of which: schedule, validation, checkpoints, history", rest_s),
    ]
    for name, seconds in rows:
        table.add_row(name, f"{seconds:.4f}", f"{seconds / bare_s:.2f}")
    console = Console(width=160)
    console.print(table)
    console.print(f"machine: {machine}")


if __name__ == "__main__":
    main()
