"""The contract every method plugin keeps, as functions a test suite calls on one method.

Each ``check_*`` function takes a registered method name or a :class:`~benchmark.method.Method`
subclass and a scratch folder, runs the method the way the runner does (``bench run``'s
data view, seeding and run context) on a tiny synthetic cohort under the ``tiny`` profile,
and checks one property:

* :func:`check_super_resolve_shape` — ``fit`` then ``super_resolve`` gives a finite float32
  volume of the HR shape;
* :func:`check_state_round_trip` — a fresh instance (other RNG state) loaded with
  ``state_dict()``, saved and read back as the runner's ``model.pt`` is, super-resolves to
  exactly the same volume;
* :func:`check_resume_after_kill` — a fit killed part way (inside
  :meth:`~benchmark.training.trainer.Trainer.update`, steps after its last checkpoint lost), then run
  again by a fresh instance with another RNG state, resumes from the checkpoint and ends with
  exactly the weights of an uninterrupted fit (for test-time training, as ZSSR's, the same
  for a killed ``super_resolve``, which must then give exactly the uninterrupted volume);
* :func:`check_inference_networks` — ``super_resolve`` runs forward only through modules of the
  declared ``inference_network()`` and changes no weight or buffer of ``networks``;
* :func:`check_declared_updates` — each ``Trainer.update(optimiser, loss)`` moves only the
  parameters of the networks its plan declares for that optimiser (``plan.optimised``),
  nothing moves them between updates, and every declared network gets a gradient and moves;
* :func:`check_declared_inputs` — a method declaring ``uses_seed = False`` or
  ``needs_training_data = False`` super-resolves identically when the seed or the training data
  change (the runner then never reruns its cell for them).

A property fails with an :class:`AssertionError` that says what differed.  One that cannot
apply to a method (a method without learned state has nothing to resume; one without declared
networks has no inference network to check) raises :class:`NotApplicable`, whose message says
why; a test turns it into a skip.  :func:`check` runs a property by name, see
``docs/method_contract.md``.

The networks a method declares are found by duck typing, so the core does not import
``methods/``: a ``networks`` dict of ``nn.Module`` and an ``inference_network()`` method, as
:class:`methods.thin_slab.ThinSlabMethod` provides.  Updates are watched, and a fit
killed, by wrapping ``Trainer.update`` while one check runs, so only training that goes
through the shared :class:`~benchmark.training.trainer.Trainer` can be killed and watched.  Checks run
with one torch thread (restored after).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
from torch import nn

from benchmark.data.dataset import Dataset
from benchmark.data.volume import Volume
from benchmark.method import Method
from benchmark.plugins import METHODS
from benchmark.profiles import Profile, load_profile
from benchmark.protocol.groups import CellData, build_groups
from benchmark.protocol.setting_names import MISALIGNED, NO_SETTING
from benchmark.protocol.training_data import TrainingData
from benchmark.scale import Scale
from benchmark.training.run_context import RunContext
from benchmark.training.seeding import seed_everything
from benchmark.training.trainer import Trainer

SCALES: tuple[Scale, ...] = (Scale(2, 2, 2), Scale(2, 2, 1))
"""The scales :func:`check_super_resolve_shape` is run at; the other properties use the first."""

PROFILE_OVERRIDES: tuple[str, ...] = ("steps_per_epoch=4", "checkpoint_every=2", "val_every=4")
"""``--set`` overrides of the ``tiny`` profile: 4 steps, a checkpoint every 2 (a kill loses a step)."""

SEED = 3
"""The cell seed; not 0, so that a method falling back to seed 0 somewhere shows up."""

OTHER_SEED = 1_000_003
"""Seed of the "other process" that loads a state or resumes a killed fit."""

_SUBJECT_SHAPES: tuple[tuple[int, int, int], ...] = ((24, 24, 12), (28, 20, 12), (20, 28, 12))


class NotApplicable(Exception):  # noqa: N818 (a verdict, like pytest's Skipped, not an error)
    """The property does not apply to this method; the message says why (a test skips with it)."""


class _Killed(BaseException):
    """Raised inside ``Trainer.update`` to stand for a killed process (a ``BaseException``, never swallowed)."""


# ----------------------------------------------------------------------------- the cell
def phantom(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A smooth synthetic head ``(X, Y, Z)`` in ``[0, 1]``: an ellipsoid with a few Gaussian blobs inside."""
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    radius = sum((a / r) ** 2 for a, r in zip(axes, rng.uniform(0.7, 0.9, size=3)))
    volume = 0.6 / (1 + np.exp((radius - 1) * 12))
    for _ in range(4):
        centre, width = rng.uniform(-0.5, 0.5, size=3), rng.uniform(0.15, 0.35)
        volume += 0.3 * np.exp(-sum((a - c) ** 2 for a, c in zip(axes, centre)) / (2 * width**2))
    return np.clip(volume, 0.0, 1.0).astype(np.float32)


class _Cohort(Dataset):
    """Six synthetic subjects of a few shapes (after the protocol's 4:4:1:1 split: 2/2/1/1)."""

    def subjects(self) -> list[str]:
        return [f"c{i}" for i in range(6)]

    def load(self, subject: str) -> Volume:
        index = int(subject[1:])
        return Volume(phantom(_SUBJECT_SHAPES[index % len(_SUBJECT_SHAPES)], index), np.eye(4), subject)


def method_class(method: str | type[Method]) -> type[Method]:
    """The class of a registered method name, or ``method`` itself."""
    return METHODS.factory(method) if isinstance(method, str) else method  # type: ignore[return-value]


def contract_profile(overrides: Sequence[str] = ()) -> Profile:
    """The ``tiny`` profile with :data:`PROFILE_OVERRIDES`, then ``overrides`` (``key=value``)."""
    return load_profile("tiny", [*PROFILE_OVERRIDES, *overrides])


def contract_setting(cls: type[Method]) -> str:
    """The setting a method is checked in: ``n/a`` without source HR, else ``misaligned`` if it trains there."""
    if not getattr(cls, "uses_source_hr", True):
        return NO_SETTING
    settings = tuple(getattr(cls, "settings", (MISALIGNED,)))
    return MISALIGNED if MISALIGNED in settings else settings[0]


def contract_data(
    cls: type[Method],
    scale: Scale,
    profile: Profile,
    seed: int = SEED,
    train_degradation: str = "kspace",
    misalign_seed: int | None = None,
) -> CellData:
    """The tiny cohort split, degraded (k-space truncation) and misaligned by the protocol, as for a cell.

    ``train_degradation`` makes the target LR of training (the test LR is always k-space
    truncated); ``misalign_seed`` defaults to ``seed``.
    """
    return build_groups(
        _Cohort(),
        scale,
        contract_setting(cls),
        split_seed=seed,
        misalign_seed=seed if misalign_seed is None else misalign_seed,
        lr_patch=tuple(profile["lr_patch"]),  # type: ignore[arg-type]
        train_degradation=train_degradation,
    )


def training_view(cls: type[Method], data: CellData) -> TrainingData:
    """What the runner hands ``fit``: a view holding only the groups the method declares."""
    return data.training.for_method(
        setting=data.training.setting,
        uses_source_hr=bool(getattr(cls, "uses_source_hr", True)),
        uses_aligned_target_hr=bool(getattr(cls, "uses_aligned_target_hr", False)),
    )


def contract_run(workdir: Path, scale: Scale, profile: Profile, seed: int = SEED) -> RunContext:
    """A quiet CPU run context writing under ``workdir`` (checkpoints in ``workdir/checkpoints``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return RunContext(
        device=torch.device("cpu"),
        seed=seed,
        profile=profile,
        scale=scale,
        cell_dir=workdir,
        checkpoint_dir=workdir / "checkpoints",
        config_hash="method-contract",
    )


@dataclass
class _Cell:
    """One method's tiny cell: class, profile, data, test LR and the HR shape it must come back at."""

    cls: type[Method]
    scale: Scale
    profile: Profile
    data: CellData
    lr: torch.Tensor = field(init=False)
    hr_shape: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        test = self.data.test[0]
        self.lr = torch.from_numpy(np.ascontiguousarray(test.lr.data, dtype=np.float32))
        self.hr_shape = tuple(test.hr.shape)

    def new(self, rng_seed: int = SEED) -> Method:
        """A new instance, built after seeding every generator with ``rng_seed`` (as the runner does)."""
        seed_everything(rng_seed)
        return self.cls(scale=self.scale, profile=self.profile)

    def fit(self, workdir: Path, rng_seed: int = SEED) -> Method:
        """A new instance (generators seeded with ``rng_seed``) fitted in ``workdir`` under the cell's seed."""
        method = self.new(rng_seed)
        method.fit(training_view(self.cls, self.data), contract_run(workdir, self.scale, self.profile))
        return method


def _cell(method: str | type[Method], scale: Scale, overrides: Sequence[str]) -> _Cell:
    cls = method_class(method)
    profile = contract_profile(overrides)
    return _Cell(cls, scale, profile, contract_data(cls, scale, profile))


# ----------------------------------------------------------------------------- helpers
def _flat(state: Any, prefix: str = "") -> dict[str, Any]:
    """Nested state dicts → ``{"net.layer.weight": value}``."""
    if isinstance(state, dict):
        flat: dict[str, Any] = {}
        for key, value in state.items():
            flat.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: state}


def _differences(expected: Any, actual: Any) -> list[str]:
    """Keys of two states whose values are not exactly equal, with the largest difference of each."""
    a, b = _flat(expected), _flat(actual)
    out = [f"{key}: missing" for key in sorted(set(a) ^ set(b))]
    for key in sorted(set(a) & set(b)):
        x, y = a[key], b[key]
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            if x.shape != y.shape or x.dtype != y.dtype:
                out.append(f"{key}: {tuple(x.shape)} {x.dtype} vs {tuple(y.shape)} {y.dtype}")
            elif not torch.equal(x, y):
                out.append(f"{key}: max |diff| {(x.double() - y.double()).abs().max().item():.3g}")
        elif isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor) or x != y:
            out.append(f"{key}: {x!r} vs {y!r}")
    return out


def _shown(items: Sequence[str], limit: int = 6) -> str:
    more = f" … and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def _declared_networks(method: Method) -> dict[str, nn.Module]:
    """``method.networks`` if the method declares its networks, else ``{}``."""
    networks = getattr(method, "networks", None)
    if isinstance(networks, dict) and all(isinstance(n, nn.Module) for n in networks.values()):
        return networks
    return {}


def _same_volumes(first: torch.Tensor, second: torch.Tensor) -> str:
    if first.shape != second.shape:
        return f"shapes {tuple(first.shape)} and {tuple(second.shape)}"
    if torch.equal(first, second):
        return ""
    return f"max |diff| {(first.double() - second.double()).abs().max().item():.3g}"


@contextmanager
def _around_updates(
    before: Callable[[Trainer, str], None], after: Callable[[Trainer, str], None] | None = None
) -> Iterator[None]:
    """Call ``before(trainer, optimiser)`` / ``after(...)`` around every ``Trainer.update`` inside the block."""
    original = Trainer.update

    def update(trainer: Trainer, optimiser: str, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        before(trainer, optimiser)
        original(trainer, optimiser, loss, *args, **kwargs)
        if after is not None:
            after(trainer, optimiser)

    with mock.patch.object(Trainer, "update", update):
        yield


def _one_thread(check: Callable[..., None]) -> Callable[..., None]:
    """Run ``check`` with one torch thread (tiny tensors; on a busy 2-core machine 2 threads were 10x slower)."""

    @wraps(check)
    def run(*args: Any, **kwargs: Any) -> None:
        saved = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            check(*args, **kwargs)
        finally:
            torch.set_num_threads(saved)

    return run


class _Steps:
    """Training steps in the order they begin, as ``(trainer number, trainer.step)``; the trainers are kept alive."""

    def __init__(self) -> None:
        self.trainers: list[Trainer] = []
        self.steps: list[tuple[int, int]] = []

    def begin(self, trainer: Trainer) -> bool:
        """Note an update of ``trainer``; ``True`` when it is the first update of a new step."""
        number = next((i for i, t in enumerate(self.trainers) if t is trainer), None)
        if number is None:
            self.trainers.append(trainer)
            number = len(self.trainers) - 1
        key = (number, int(trainer.step))
        if self.steps and self.steps[-1] == key:
            return False
        self.steps.append(key)
        return True


# ----------------------------------------------------------------------------- properties
@_one_thread
def check_super_resolve_shape(
    method: str | type[Method], workdir: Path, scale: Scale = SCALES[0], overrides: Sequence[str] = ()
) -> None:
    """``fit`` then ``super_resolve`` of a test LR volume gives a finite float32 CPU volume of the HR shape."""
    cell = _cell(method, scale, overrides)
    sr = cell.fit(workdir).super_resolve(cell.lr.clone())
    name = cell.cls.__name__
    assert isinstance(sr, torch.Tensor), f"{name}.super_resolve returned {type(sr).__name__}, not a tensor"
    assert tuple(sr.shape) == cell.hr_shape, (
        f"{name} at {scale}: LR {tuple(cell.lr.shape)} gave {tuple(sr.shape)}, expected the HR shape {cell.hr_shape}"
    )
    assert sr.dtype == torch.float32, f"{name} at {scale}: SR volume is {sr.dtype}, expected torch.float32"
    assert sr.device.type == "cpu", f"{name} at {scale}: SR volume is on {sr.device}, expected the CPU"
    bad = int((~torch.isfinite(sr)).sum())
    assert bad == 0, f"{name} at {scale}: {bad} of {sr.numel()} SR voxels are not finite"


@_one_thread
def check_state_round_trip(
    method: str | type[Method], workdir: Path, scale: Scale = SCALES[0], overrides: Sequence[str] = ()
) -> None:
    """A fresh instance (other RNG state) loaded with the fitted ``state_dict()`` super-resolves identically.

    The state goes through ``torch.save`` and ``torch.load(weights_only=True)``, as ``model.pt`` does.
    So does an instance restored as ``bench infer`` restores it: ``load_state_dict``, then
    ``prepare_inference`` with a run context of the cell's seed in a new folder.
    """
    cell = _cell(method, scale, overrides)
    name = cell.cls.__name__
    fitted = cell.fit(workdir)
    first = fitted.super_resolve(cell.lr.clone())
    again = _same_volumes(first, fitted.super_resolve(cell.lr.clone()))
    assert not again, f"{name}.super_resolve is not deterministic: two calls on one volume differ ({again})"
    buffer = io.BytesIO()
    torch.save(fitted.state_dict(), buffer)
    buffer.seek(0)
    try:
        state = torch.load(buffer, weights_only=True)
    except Exception as error:
        raise AssertionError(f"{name}.state_dict() does not load with weights_only=True: {error}") from None
    fresh = cell.new(OTHER_SEED)
    fresh.load_state_dict(state)
    difference = _same_volumes(first, fresh.super_resolve(cell.lr.clone()))
    assert not difference, (
        f"{name}: a fresh instance loaded with state_dict() super-resolves differently from the fitted one "
        f"({difference}); state keys: {sorted(state)}"
    )
    restored = cell.new(OTHER_SEED)
    restored.load_state_dict(state)
    restored.prepare_inference(contract_run(workdir / "restored", cell.scale, cell.profile))
    difference = _same_volumes(first, restored.super_resolve(cell.lr.clone()))
    assert not difference, (
        f"{name}: restored as `bench infer` restores it (load_state_dict, then prepare_inference), it "
        f"super-resolves differently from the fitted instance ({difference})"
    )


@_one_thread
def check_resume_after_kill(
    method: str | type[Method], workdir: Path, scale: Scale = SCALES[0], overrides: Sequence[str] = ()
) -> None:
    """Training killed after a checkpoint and resumed by a fresh instance (other RNG state) ends as if never killed.

    The training is ``fit``'s; for a method that trains nothing in ``fit`` but trains at test time
    through the Trainer (ZSSR), it is ``super_resolve``'s, and the resumed instance must also
    super-resolve to exactly the uninterrupted volume.  The kill falls on the first update of the
    last step that follows a checkpoint by one step (``trainer.step % checkpoint_every == 1``), so
    the step before it is lost and redone.
    """
    cell = _cell(method, scale, overrides)
    name = cell.cls.__name__
    every = int(cell.profile["checkpoint_every"])

    whole = _Steps()
    with _around_updates(lambda trainer, _: whole.begin(trainer)):
        reference = cell.fit(workdir / "uninterrupted")
        test_time = not whole.steps
        expected_sr = reference.super_resolve(cell.lr.clone()) if test_time else None
    expected = reference.state_dict()
    phase = "super_resolve" if test_time else "fit"
    if not whole.steps:
        if not _flat(expected):
            raise NotApplicable(
                f"{name} trains nothing through the shared Trainer (no Trainer.update in fit or super_resolve) "
                "and its state_dict() is empty: a kill has nothing to resume"
            )
        raise NotApplicable(
            f"{name}.fit learns state without the shared Trainer (no Trainer.update call), so the contract "
            "cannot kill it part way"
        )
    after_checkpoint = [i for i, (_, step) in enumerate(whole.steps) if step % every == 1 and step > 1]
    kill_at = after_checkpoint[-1] if after_checkpoint else len(whole.steps) - 1
    where = f"{phase} step {kill_at + 1} of {len(whole.steps)}"

    killed_dir = workdir / "killed"
    killed = _Steps()

    def kill(trainer: Trainer, _: str) -> None:
        if killed.begin(trainer) and len(killed.steps) == kill_at + 1:
            raise _Killed

    with _around_updates(kill):
        try:
            first = cell.fit(killed_dir)
            if test_time:
                first.super_resolve(cell.lr.clone())
        except _Killed:
            pass
        else:
            raise AssertionError(f"{name}: the second run never reached {where}")
    written = [p for p in (killed_dir / "checkpoints").rglob("*") if p.is_file()]
    assert written, f"{name}: nothing under run.checkpoint_dir when killed at {where}, so a kill loses it all"

    resumed = _Steps()
    with _around_updates(lambda trainer, _: resumed.begin(trainer)):
        again = cell.fit(killed_dir, rng_seed=OTHER_SEED)
        sr = again.super_resolve(cell.lr.clone()) if test_time else None
    assert len(resumed.steps) < len(whole.steps), (
        f"{name}: the {phase} after the kill ran {len(resumed.steps)} steps, as many as an uninterrupted one: "
        "it started over instead of resuming from the checkpoint"
    )
    differences = _differences(expected, again.state_dict())
    assert not differences, (
        f"{name}: killed at {where} and resumed ({len(resumed.steps)} steps redone), the weights differ from "
        f"an uninterrupted fit: {_shown(differences)}"
    )
    if expected_sr is not None and sr is not None:
        difference = _same_volumes(expected_sr, sr)
        assert not difference, (
            f"{name}: killed at {where} and resumed ({len(resumed.steps)} steps redone), the SR volume differs "
            f"from an uninterrupted run's ({difference})"
        )


@_one_thread
def check_inference_networks(
    method: str | type[Method], workdir: Path, scale: Scale = SCALES[0], overrides: Sequence[str] = ()
) -> None:
    """``super_resolve`` runs forward only through ``inference_network()``'s modules and changes no weight."""
    cell = _cell(method, scale, overrides)
    name = cell.cls.__name__
    fitted = cell.fit(workdir)
    networks = _declared_networks(fitted)
    if not networks or not callable(getattr(fitted, "inference_network", None)):
        raise NotApplicable(
            f"{name} declares no networks (no `networks` dict of modules and `inference_network()`), "
            "so there is no declared inference network to hold super_resolve to"
        )
    allowed = {id(m) for m in fitted.inference_network().modules()}  # type: ignore[attr-defined]
    owners: dict[int, str] = {}
    for net_name, net in networks.items():
        for module_name, module in net.named_modules():
            owners.setdefault(id(module), f"{net_name}.{module_name}" if module_name else net_name)
    modules = {id(m): m for net in networks.values() for m in net.modules()}
    ran: set[int] = set()

    def seen(module: nn.Module, *_: Any) -> None:
        ran.add(id(module))

    before = {n: {k: v.clone() for k, v in net.state_dict().items()} for n, net in networks.items()}
    handles = [module.register_forward_hook(seen) for module in modules.values()]
    try:
        fitted.super_resolve(cell.lr.clone())
    finally:
        for handle in handles:
            handle.remove()
    outside = sorted(owners[i] for i in ran - allowed)
    assert not outside, f"{name}.super_resolve ran modules outside inference_network(): {_shown(outside)}"
    assert ran & allowed, (
        f"{name}.super_resolve ran no module of `networks` that inference_network() holds: "
        "the network it uses is not among the declared (saved) networks"
    )
    after = {n: net.state_dict() for n, net in networks.items()}
    changed = _differences(before, after)
    assert not changed, f"{name}.super_resolve changed weights or buffers: {_shown(changed)}"


@dataclass
class _UpdateWatch:
    """Parameters of every network around each ``Trainer.update``, and what moved."""

    method: Method
    last: dict[int, tuple[nn.Parameter, torch.Tensor]] = field(default_factory=dict)  # holds the parameter: no id reuse
    before: dict[int, torch.Tensor] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    declared: set[tuple[str, str]] = field(default_factory=set)
    moved: set[tuple[str, str]] = field(default_factory=set)
    graded: set[tuple[str, str]] = field(default_factory=set)
    updates: int = 0

    def networks(self, trainer: Trainer) -> dict[str, nn.Module]:
        """The plan's networks, and the method's declared networks the plan does not name."""
        named = dict(trainer.plan.networks)
        known = {id(n) for n in named.values()}
        for net_name, net in _declared_networks(self.method).items():
            if id(net) not in known:
                named[f"{net_name} (method)"] = net
        return named

    def parameters(self, trainer: Trainer) -> dict[int, tuple[str, nn.Parameter]]:
        out: dict[int, tuple[str, nn.Parameter]] = {}
        for net_name, net in self.networks(trainer).items():
            for p in net.parameters():
                out.setdefault(id(p), (net_name, p))
        return out

    def start(self, trainer: Trainer, optimiser: str) -> None:
        moved_between = sorted(
            {
                net
                for key, (net, p) in self.parameters(trainer).items()
                if key in self.last and self.last[key][0] is p and not torch.equal(self.last[key][1], p)
            }
        )
        if moved_between:
            self.problems.append(f"{', '.join(moved_between)} changed between updates, outside Trainer.update")
        self.before = {key: p.detach().clone() for key, (_, p) in self.parameters(trainer).items()}

    def finish(self, trainer: Trainer, optimiser: str) -> None:
        self.updates += 1
        declared = list(trainer.plan.optimised[optimiser])
        networks = self.networks(trainer)
        unknown = [net for net in declared if net not in networks]
        if unknown:
            self.problems.append(f"plan.optimised['{optimiser}'] names {unknown}, which are not in plan.networks")
            declared = [net for net in declared if net in networks]
        own = {id(p) for net in declared for p in networks[net].parameters()}
        params = self.parameters(trainer)
        moved = {key for key, (_, p) in params.items() if key in self.before and not torch.equal(self.before[key], p)}
        stray = sorted({params[key][0] for key in moved - own})
        if stray:
            self.problems.append(
                f"update {self.updates} ('{optimiser}', declared {declared}) moved undeclared {', '.join(stray)}"
            )
        for net in declared:
            parameters = list(networks[net].parameters())
            if not parameters:
                continue
            self.declared.add((optimiser, net))
            if any(id(p) in moved for p in parameters):
                self.moved.add((optimiser, net))
            if any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in parameters):
                self.graded.add((optimiser, net))
        self.last = {key: (p, p.detach().clone()) for key, (_, p) in params.items()}


@_one_thread
def check_declared_updates(
    method: str | type[Method], workdir: Path, scale: Scale = SCALES[0], overrides: Sequence[str] = ()
) -> None:
    """In ``fit`` and ``super_resolve``, ``Trainer.update(optimiser, loss)`` moves only ``plan.optimised[optimiser]``.

    Also: no parameter moves between updates, and every declared network with parameters gets
    a non-zero gradient and moves at some update of its optimiser.
    """
    cell = _cell(method, scale, overrides)
    name = cell.cls.__name__
    fresh = cell.new()
    watch = _UpdateWatch(fresh)
    with _around_updates(watch.start, watch.finish):
        fresh.fit(training_view(cell.cls, cell.data), contract_run(workdir, scale, cell.profile))
        fresh.super_resolve(cell.lr.clone())
    if watch.updates == 0:
        raise NotApplicable(
            f"{name} never calls Trainer.update in fit or super_resolve: it trains nothing through the "
            "shared Trainer, so there is no declared optimiser → networks map to hold it to"
        )
    assert not watch.problems, f"{name}: {_shown(watch.problems)}"
    still = sorted(f"{net} ('{opt}')" for opt, net in watch.declared - watch.graded)
    assert not still, f"{name}: declared networks never got a non-zero gradient: {', '.join(still)}"
    frozen = sorted(f"{net} ('{opt}')" for opt, net in watch.declared - watch.moved)
    assert not frozen, f"{name}: declared networks never moved in {watch.updates} updates: {', '.join(frozen)}"


@_one_thread
def check_declared_inputs(
    method: str | type[Method], workdir: Path, scale: Scale = SCALES[0], overrides: Sequence[str] = ()
) -> None:
    """A method that declares it reads no seed, or no training data, gives the same volume when they change.

    ``uses_seed = False``: fitted under another cell seed (and other generator states), the
    method super-resolves the test volume identically.  ``needs_training_data = False``: fitted
    on training data of another degradation (k-space noise) and misalignment seed, likewise.
    The runner trusts these declarations and never reruns such a cell for those options.
    """
    cls = method_class(method)
    reads_seed = bool(getattr(cls, "uses_seed", True))
    reads_data = bool(getattr(cls, "needs_training_data", True))
    name = cls.__name__
    if reads_seed and reads_data:
        raise NotApplicable(f"{name} reads its seed and the training data: every option changes its cell")
    profile = contract_profile(overrides)
    first = _Cell(cls, scale, profile, contract_data(cls, scale, profile))
    expected = first.fit(workdir / "first").super_resolve(first.lr.clone())
    data = (
        first.data
        if reads_data
        else contract_data(cls, scale, profile, train_degradation="kspace-noise", misalign_seed=SEED + 1)
    )
    seed = SEED if reads_seed else OTHER_SEED
    second = _Cell(cls, scale, profile, data)
    other = second.new(seed)
    other.fit(training_view(cls, data), contract_run(workdir / "second", scale, profile, seed=seed))
    difference = _same_volumes(expected, other.super_resolve(second.lr.clone()))
    changed = [
        text
        for text, changes in (("uses_seed = False", not reads_seed), ("needs_training_data = False", not reads_data))
        if changes
    ]
    assert not difference, (
        f"{name} declares {' and '.join(changed)}, but changing what it declares it does not read changed "
        f"its volume ({difference}); its cells would be reused where they should not"
    )


PROPERTIES: dict[str, Callable[..., None]] = {
    "super_resolve_shape": check_super_resolve_shape,
    "state_round_trip": check_state_round_trip,
    "resume_after_kill": check_resume_after_kill,
    "inference_networks": check_inference_networks,
    "declared_updates": check_declared_updates,
    "declared_inputs": check_declared_inputs,
}
"""Property name → check, in the order a reader meets them."""


def check(
    prop: str,
    method: str | type[Method],
    workdir: Path,
    scale: Scale = SCALES[0],
    overrides: Sequence[str] = (),
) -> None:
    """Run property ``prop`` (a key of :data:`PROPERTIES`) on ``method``.

    Raises:
        AssertionError: the method breaks the property (the message says how).
        NotApplicable: the property does not apply to the method (the message says why).
    """
    if prop not in PROPERTIES:
        raise KeyError(f"unknown contract property '{prop}'; known: {', '.join(PROPERTIES)}")
    PROPERTIES[prop](method, workdir, scale=scale, overrides=overrides)
