"""An MRI volume as the harness passes it around: voxels, affine and subject id."""

from __future__ import annotations

from dataclasses import dataclass

import nibabel as nib
import numpy as np


@dataclass
class Volume:
    """One 3D volume of one subject.

    Attributes:
        data: ``(X, Y, Z)`` float32 voxels, intensities in ``[0, 1]`` for HR volumes; the array
            axes are those of the NIfTI file, ``Z`` being the slab (through-plane) axis.
        affine: ``(4, 4)`` voxel-to-world matrix in mm; an LR volume's affine has its voxel size
            multiplied by the scale.
        subject: subject identifier, unique within a dataset.
    """

    data: np.ndarray
    affine: np.ndarray
    subject: str

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(X, Y, Z)`` in voxels."""
        return tuple(self.data.shape)  # type: ignore[return-value]

    @property
    def axcodes(self) -> tuple[str, str, str]:
        """Anatomical direction of each array axis, e.g. ``("R", "A", "S")`` (nibabel convention)."""
        return nib.aff2axcodes(self.affine)  # type: ignore[return-value]

    def anatomical_axis(self, axis: str) -> int:
        """Array axis along which ``axis`` runs: ``"LR"`` (left–right), ``"AP"`` or ``"SI"`` (head–feet)."""
        pairs = {"LR": "LR", "AP": "AP", "SI": "SI"}[axis]
        for index, code in enumerate(self.axcodes):
            if code in pairs:
                return index
        raise ValueError(f"affine of {self.subject} has no {axis} axis: {self.axcodes}")
