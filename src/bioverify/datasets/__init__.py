"""Datasets: identity-labelled samples, identity-disjoint splits and the trial protocol.

The ground every other room stands on — training, evaluation, calibration and the
benchmarks all read labelled data through it — and torch-free, so that the runtime install
has it:

* :mod:`~bioverify.datasets.inventory` — scanning identity folders and CSV manifests
  (:func:`scan_datasets` → :class:`Inventory` of :class:`Sample`);
* :mod:`~bioverify.datasets.splits` — identity-disjoint train/val/test splits, saved and
  checked again (identities and file contents) whenever they are loaded;
* :mod:`~bioverify.datasets.selection` — the samples of one split part
  (:func:`select_samples`);
* :mod:`~bioverify.datasets.trials` — which pairs are scored (:class:`TrialProtocol`).
"""

from bioverify.datasets.inventory import Inventory, Sample, modality_of, scan_dataset, scan_datasets
from bioverify.datasets.selection import Selection, select_samples
from bioverify.datasets.splits import Split, load_split, make_split, save_split
from bioverify.datasets.trials import TrialProtocol, Trials

__all__ = [
    "Inventory",
    "Sample",
    "Selection",
    "Split",
    "TrialProtocol",
    "Trials",
    "load_split",
    "make_split",
    "modality_of",
    "save_split",
    "scan_dataset",
    "scan_datasets",
    "select_samples",
]
