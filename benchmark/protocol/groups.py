"""Turn a dataset into the data of one cell: training groups, test pairs and a record.

Steps (docs/protocol.md, "Subject groups"):

1. split the subjects (seeded, 4:4:1:1, the same split for every setting);
2. load each HR volume once and crop it, centred, to a multiple of the scale;
3. degrade the target HR with the training degradation and the validation and test HR with
   the test degradation (each subject with its own seeded generator);
4. source HR: the target subjects' HR moved by :func:`misalign` (``misaligned``), the source
   subjects' HR (``unpaired``) or none (``n/a``).

Seeds: subject ``s`` is degraded with ``default_rng([split_seed, crc32(s), 0])`` and moved with
``default_rng([misalign_seed, crc32(s), 1])``, so its LR volume and its movement do not depend
on which other subjects are in the run.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.progress import Progress

from benchmark.data.dataset import Dataset
from benchmark.data.volume import Volume
from benchmark.errors import BenchError
from benchmark.evaluation.tissue_segmentation import true_labels
from benchmark.protocol.degradations import DEGRADATIONS
from benchmark.protocol.misalignment import misalign
from benchmark.protocol.patches import hr_patch_size
from benchmark.protocol.setting_names import MISALIGNED, SETTINGS, UNPAIRED
from benchmark.protocol.splits import source_subjects, split_subjects
from benchmark.protocol.training_data import TrainingData, VolumePair
from benchmark.scale import Scale

_DEGRADE_STREAM = 0
_MISALIGN_STREAM = 1


@dataclass
class CellData:
    """Everything one cell needs from its dataset.

    Attributes:
        training: what the method may see (source HR, target LR, validation pairs, and the
            aligned target HR for oracles); never the test HR.
        test: test pairs (LR ``(X/sx, Y/sy, Z/sz)``, HR ``(X, Y, Z)``) for the final metrics.
        records: JSON-ready facts for the cell's record: split, source subjects, seeds,
            degradation names, HR shapes after cropping, misalignment parameters per subject.
    """

    training: TrainingData
    test: list[VolumePair]
    records: dict[str, Any] = field(default_factory=dict)


def subject_rng(seed: int, subject: str, stream: int) -> np.random.Generator:
    """Generator for one subject and one purpose (``stream``), stable across processes."""
    return np.random.default_rng([seed, zlib.crc32(subject.encode("utf-8")), stream])


def scale_crop(shape: tuple[int, ...], scale: Scale) -> tuple[slice, ...]:
    """The centred crop of ``shape`` (voxels) to the largest multiple of the scale, as slices."""
    target = scale.crop_to_multiple(shape)
    return tuple(slice((n - m) // 2, (n - m) // 2 + m) for n, m in zip(shape, target))


def crop_to_scale(volume: Volume, scale: Scale) -> Volume:
    """Centred crop of ``(X, Y, Z)`` to the largest multiple of the scale; the affine follows the crop."""
    target = scale.crop_to_multiple(volume.shape)
    if tuple(target) == tuple(volume.shape):
        return volume
    crop = scale_crop(volume.shape, scale)
    starts = [part.start for part in crop]
    data = volume.data[crop]
    affine = volume.affine.copy()
    affine[:3, 3] = volume.affine[:3, :3] @ np.asarray(starts, dtype=float) + volume.affine[:3, 3]
    return Volume(np.ascontiguousarray(data), affine, volume.subject)


def test_mask(dataset: Dataset, subject: str, scale: Scale) -> np.ndarray | None:
    """``subject``'s brain mask cropped as its HR volume is (:func:`scale_crop`), or ``None`` where it has none."""
    mask = dataset.brain_mask(subject)
    if mask is None:
        return None
    return np.ascontiguousarray(mask[scale_crop(mask.shape, scale)])


def test_tissues(dataset: Dataset, subject: str, scale: Scale, mask: np.ndarray | None) -> np.ndarray | None:
    """``subject``'s true tissue labels, cropped as its HR volume is, or ``None`` where the dataset has none.

    Returns:
        ``(X, Y, Z)`` int8: the most probable tissue of :data:`~benchmark.data.dataset.TISSUES`
        inside ``mask`` (the cropped brain mask), -1 outside it.
    """
    maps = dataset.tissue_maps(subject) if mask is not None else None
    if maps is None:
        return None
    cropped = maps[(slice(None), *scale_crop(maps.shape[1:], scale))]
    return true_labels(cropped, mask)


def lr_affine(hr_affine: np.ndarray, scale: Scale) -> np.ndarray:
    """LR affine ``(4, 4)``: the HR affine with voxel axes multiplied by ``(sx, sy, sz)``.

    k-space truncation samples the HR signal at HR voxels ``s·j``, so the origin is unchanged.
    """
    return hr_affine @ np.diag([*map(float, scale.factors), 1.0])


def _degrade(volume: Volume, scale: Scale, name: str, seed: int) -> Volume:
    """LR volume of ``volume`` by the degradation ``name``, seeded per subject."""
    lr = DEGRADATIONS.factory(name)(volume.data, scale, subject_rng(seed, volume.subject, _DEGRADE_STREAM))
    return Volume(np.asarray(lr, dtype=np.float32), lr_affine(volume.affine, scale), volume.subject)


def cohort(dataset: Dataset, max_subjects: int | None = None) -> list[str]:
    """The subjects a split is drawn from: all of ``dataset``'s, sorted, or the first ``max_subjects``."""
    subjects = sorted(dataset.subjects())
    return subjects[:max_subjects] if max_subjects is not None else subjects


def build_groups(
    dataset: Dataset,
    scale: Scale,
    setting: str,
    *,
    split_seed: int,
    misalign_seed: int,
    lr_patch: tuple[int, int, int],
    train_degradation: str = "kspace",
    test_degradation: str = "kspace",
    max_subjects: int | None = None,
    progress: Progress | None = None,
) -> CellData:
    """Split, load, crop, degrade and (in the misaligned setting) move a dataset's volumes.

    Args:
        dataset: the dataset plugin.
        scale: factors ``(sx, sy, sz)``.
        setting: ``"misaligned"`` (source HR = target subjects' HR, moved), ``"unpaired"``
            (source HR = the source subjects' HR) or ``"n/a"`` (no source HR).
        split_seed: seed of the subject split and of the degradations' noise.
        misalign_seed: seed of the movements (misaligned setting).
        lr_patch: LR patch ``(px, py, pz)`` in voxels; every cropped HR volume must hold one HR
            patch ``(px·sx, py·sy, pz·sz)``.
        train_degradation: degradation of the target LR volumes (a ``DEGRADATIONS`` name).
        test_degradation: degradation of the validation and test LR volumes.
        max_subjects: use only the first ``max_subjects`` subjects in sorted order (the same
            cohort for every seed); ``None`` uses all.
        progress: rich progress display to add a task to, or ``None``.

    Returns:
        The cell's :class:`CellData`; every HR volume is cropped (centred) to a multiple of the
        scale and each subject is loaded once, whatever its roles.

    Raises:
        BenchError: unknown setting or degradation, too few subjects, or a volume smaller than
            one HR patch.
    """
    if setting not in SETTINGS:
        raise BenchError(f"unknown setting '{setting}'; known: {', '.join(SETTINGS)}.")
    for name in (train_degradation, test_degradation):
        DEGRADATIONS.factory(name)  # unknown names fail before any volume is loaded
    subjects = cohort(dataset, max_subjects)
    split = split_subjects(subjects, split_seed)
    sources = source_subjects(split, setting)
    min_shape = hr_patch_size(lr_patch, scale)

    hr_cache: dict[str, Volume] = {}

    def load_hr(subject: str) -> Volume:
        if subject not in hr_cache:
            volume = crop_to_scale(dataset.load(subject), scale)
            if any(n < p for n, p in zip(volume.shape, min_shape)):
                raise BenchError(
                    f"subject '{subject}' has shape {volume.shape} after cropping to a multiple of {scale}, "
                    f"smaller than one HR patch {min_shape} (LR patch {tuple(lr_patch)} x scale {scale})."
                )
            hr_cache[subject] = volume
        return hr_cache[subject]

    roles = [*split["target"], *split["validation"], *split["test"]]
    if setting == UNPAIRED:
        roles += sources
    task = progress.add_task(f"data {scale} {setting}", total=len(roles)) if progress is not None else None

    def advance() -> None:
        if progress is not None and task is not None:
            progress.advance(task)

    target_lr: list[Volume] = []
    target_hr: list[Volume] = []
    source_hr: list[Volume] = []
    movements: dict[str, dict] = {}
    for subject in split["target"]:
        hr = load_hr(subject)
        target_hr.append(hr)
        target_lr.append(_degrade(hr, scale, train_degradation, split_seed))
        if setting == MISALIGNED:
            moved, movements[subject] = misalign(hr, subject_rng(misalign_seed, subject, _MISALIGN_STREAM))
            source_hr.append(moved)
        advance()

    pairs: dict[str, list[VolumePair]] = {}
    for group in ("validation", "test"):
        pairs[group] = []
        for subject in split[group]:
            hr = load_hr(subject)
            mask = test_mask(dataset, subject, scale) if group == "test" else None
            tissues = test_tissues(dataset, subject, scale, mask) if group == "test" else None
            lr = _degrade(hr, scale, test_degradation, split_seed)
            pairs[group].append(VolumePair(lr=lr, hr=hr, mask=mask, tissues=tissues))
            advance()

    if setting == UNPAIRED:
        for subject in sources:
            source_hr.append(load_hr(subject))
            advance()

    if progress is not None and task is not None:
        progress.remove_task(task)
    training = TrainingData(
        scale=scale,
        setting=setting,
        _source_hr=source_hr,
        _target_lr=target_lr,
        _validation=pairs["validation"],
        _target_hr=target_hr,
    )
    records = {
        "setting": setting,
        "scale": str(scale),
        "split_seed": split_seed,
        "misalign_seed": misalign_seed,
        "split": split,
        "source_subjects": sources,
        "train_degradation": train_degradation,
        "test_degradation": test_degradation,
        "lr_patch": list(lr_patch),
        "hr_shapes": {subject: list(volume.shape) for subject, volume in sorted(hr_cache.items())},
        "misalignment": movements,
    }
    return CellData(training=training, test=pairs["test"], records=records)
