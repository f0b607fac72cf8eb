"""Degrade each SR output of anatomical.nii by k-space truncation (2x2x2) and compare with the scan (PSNR, dB).

Also with the output shifted by one SR voxel along each axis, which a wrong affine convention would look like.
Usage: python round_trip.py SCAN SR.nii.gz [SR.nii.gz ...]
"""

import sys

import nibabel as nib
import numpy as np
import torch

from benchmark.evaluation.metrics import psnr
from benchmark.protocol.degradations import kspace_truncate
from benchmark.scale import Scale

scan = nib.load(sys.argv[1]).get_fdata()
low, high = scan.min(), scan.max()
target = torch.from_numpy(((scan - low) / (high - low)).astype(np.float32))
for path in sys.argv[2:]:
    sr = ((nib.load(path).get_fdata() - low) / (high - low)).astype(np.float32)
    aligned = psnr(torch.from_numpy(kspace_truncate(sr, Scale(2, 2, 2))), target)
    shifted = [
        psnr(torch.from_numpy(kspace_truncate(np.roll(sr, 1, axis), Scale(2, 2, 2))), target) for axis in range(3)
    ]
    print(
        f"{path}: round trip {aligned:.2f} dB; shifted by one voxel along x, y, z: "
        + ", ".join(f"{value:.2f}" for value in shifted)
    )
