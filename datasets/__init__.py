"""The built-in dataset plugins; importing this package registers them in ``DATASETS``.

This is the list of built-ins: a new dataset is one module that registers itself with
``@DATASETS.register(name, summary=...)`` plus one import line here.
"""

from datasets import brats, demo, folder, hcp

__all__ = ["brats", "demo", "folder", "hcp"]
