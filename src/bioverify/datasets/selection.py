"""Labelled samples for scoring: the files and identities of some datasets, restricted to
one part of a split when one is given (what ``evaluate``, ``calibrate`` and ``cohort`` read)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bioverify.datasets.inventory import scan_datasets
from bioverify.datasets.splits import load_split


@dataclass(frozen=True)
class Selection:
    """The selected samples: ``paths[k]`` belongs to ``identities[k]``; ``description`` says
    in one sentence which people they are (for reports)."""

    paths: list[Path]
    identities: list[str]
    description: str


def select_samples(
    data: Sequence[Path | str],
    split_path: Path | str | None,
    part: str,
    modality: str,
    *,
    progress: bool = True,
) -> Selection:
    """The samples of ``data`` (identity folders or CSV manifests) of ``modality``; only the
    identities of ``part`` (``train``, ``val`` or ``test``) of the split file ``split_path``
    when one is given, its identity-disjointness checked on load.

    Parameters
    ----------
    data : sequence of path
        Datasets, as given to ``bioverify train``.
    split_path : path or None
        A ``split.json`` from ``bioverify split``; None uses every identity.
    part : str
        The split part to keep.
    modality : str
        ``face`` or ``voice``: the kind of files to list.
    progress : bool, default True
        Show progress while scanning and checking.

    Returns
    -------
    Selection

    Raises
    ------
    DataError
        When a dataset cannot be read or the split does not match the data.

    Examples
    --------
    >>> import shutil, tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for person in ("ann", "bob"):
    ...     (root / person).mkdir()
    ...     for k in range(2):
    ...         _ = shutil.copy("examples/face_a1.jpg", root / person / f"{k}.jpg")
    >>> select_samples([root], None, "test", "face", progress=False).identities
    ['ann', 'ann', 'bob', 'bob']
    """
    folders = [Path(d) for d in data]
    inventory = scan_datasets(folders, modality=modality, progress=progress)
    if split_path is None:
        samples = inventory.samples
        description = (
            f"all {len(inventory.identities())} identities of "
            f"{', '.join(map(str, folders))} (no --split: make sure "
            "the model never saw them in training)"
        )
    else:
        split = load_split(split_path, inventory, progress=progress)
        samples = split.samples(inventory, part)
        description = (
            f"the {len(split.identities(part))} {part} identities of {split_path} "
            "(identity-disjoint from its train part, checked on load)"
        )
    return Selection([s.path for s in samples], [s.identity for s in samples], description)


__all__ = ["Selection", "select_samples"]
