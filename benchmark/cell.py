"""One cell of the run matrix and where its results live."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.profiles import Profile
from benchmark.scale import Scale

NO_SETTING = "n/a"
"""Setting of methods that never see source HR (tricubic, ZSSR): one cell serves every setting."""


@dataclass(frozen=True)
class Cell:
    """``(dataset, scale, setting, method, seed, profile)``: one training and evaluation run."""

    dataset: str
    scale: Scale
    setting: str
    method: str
    seed: int
    profile: Profile

    def folder(self, runs_dir: Path) -> Path:
        """``runs/<dataset>/<scale>/<setting>/<method>/<profile>/seed<k>/`` (``n/a`` written ``na``)."""
        setting = "na" if self.setting == NO_SETTING else self.setting
        return (
            runs_dir / self.dataset / str(self.scale) / setting / self.method / self.profile.name / f"seed{self.seed}"
        )

    def label(self) -> str:
        """Short human-readable name for progress bars and logs."""
        return f"{self.dataset} {self.scale} {self.setting} {self.method} seed{self.seed}"

    def config(self, protocol: dict[str, Any]) -> dict[str, Any]:
        """The resolved configuration recorded in the cell folder, including protocol options."""
        return {
            "dataset": self.dataset,
            "scale": str(self.scale),
            "setting": self.setting,
            "method": self.method,
            "seed": self.seed,
            "profile": self.profile.as_dict(),
            "protocol": protocol,
        }


def config_hash(config: dict[str, Any]) -> str:
    """Stable hash of a configuration (sorted JSON, SHA-256, 16 hex digits)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
