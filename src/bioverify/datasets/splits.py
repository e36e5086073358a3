"""Identity-disjoint train/val/test splits: make, save, load and check (no torch).

A split assigns every identity of an :class:`~bioverify.datasets.inventory.Inventory` to exactly
one of ``train``, ``val`` and ``test``. How :func:`make_split` decides:

1. identities in ``fixed`` go where it says (e.g. a corpus's own speaker split);
2. identities with fewer than ``min_samples`` samples go to ``train`` (they cannot form a
   genuine trial) and are counted as ``train_only_small``;
3. the other, *eligible*, identities of each dataset (``Sample.source``) are shuffled with a
   generator seeded by ``(seed, dataset name)`` and ``round(test_fraction × n)`` of them go to
   ``test``, ``round(val_fraction × n)`` to ``val``, the rest to ``train`` — so the fractions
   are fractions of each dataset's eligible identities, not of all identities or samples.

Identities passed in ``together`` (for example ones sharing byte-identical files) are placed
as one unit: a unit goes where any fixed member is fixed, to ``train`` if any member is
small, and is otherwise drawn as one eligible unit (``counts["kept_together"]`` says how
many identities were in such units).

The JSON file is ``{"format_version": 1, "seed", "params", "train", "val", "test", "counts",
"data"}``. :func:`load_split` refuses a file whose identities overlap and, given the data,
one whose splits share file *content* (sha256), since LFW holds byte-identical images filed
under two names.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import floor
from pathlib import Path
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import DisjointSet

from bioverify.atomic import write_atomic
from bioverify.datasets.inventory import Inventory, Sample
from bioverify.errors import DataError
from bioverify.progress import progress_iter

FORMAT_VERSION = 1
SPLIT_NAMES = ("train", "val", "test")
_REQUIRED_KEYS = ("format_version", "seed", "params", "train", "val", "test", "counts", "data")
# how many offending names or files an error message lists
_SHOW = 5


@dataclass
class Split:
    """Sorted identity lists per split, how they were made, and what they hold."""

    train: list[str]
    val: list[str]
    test: list[str]
    seed: int
    params: dict[str, Any]
    counts: dict[str, Any]
    data: list[str] = field(default_factory=list)

    def identities(self, name: str) -> list[str]:
        """The identities of split ``name`` (``"train"``, ``"val"`` or ``"test"``)."""
        if name not in SPLIT_NAMES:
            raise DataError(f"split name must be one of {SPLIT_NAMES}, got {name!r}")
        identities: list[str] = getattr(self, name)
        return identities

    def assignment(self) -> dict[str, str]:
        """Identity → split name."""
        return {identity: name for name in SPLIT_NAMES for identity in self.identities(name)}

    def samples(self, inventory: Inventory, name: str) -> list[Sample]:
        """The inventory's samples whose identity is in split ``name``.

        Raises :class:`DataError` if the split names identities the inventory lacks (the
        split was made from other data).
        """
        wanted = set(self.identities(name))
        _refuse_missing(wanted, inventory)
        return [sample for sample in inventory.samples if sample.identity in wanted]

    def label_map(self) -> dict[str, int]:
        """Class index of each train identity, in sorted identity order."""
        return {identity: label for label, identity in enumerate(sorted(self.train))}

    def to_dict(self) -> dict[str, Any]:
        """The JSON document :func:`save_split` writes."""
        return {
            "format_version": FORMAT_VERSION,
            "seed": self.seed,
            "params": self.params,
            "train": self.train,
            "val": self.val,
            "test": self.test,
            "counts": self.counts,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, document: Any) -> Split:
        """Validate a split document; malformed or overlapping splits raise DataError."""
        if not isinstance(document, dict):
            raise DataError(f"a split file holds a JSON object, got {type(document).__name__}")
        missing = [key for key in _REQUIRED_KEYS if key not in document]
        if missing:
            raise DataError(f"split file lacks {missing}; make one with `bioverify split`")
        if document["format_version"] != FORMAT_VERSION:
            raise DataError(
                f"split format_version {document['format_version']!r} is not supported "
                f"(expected {FORMAT_VERSION}); remake it with `bioverify split`"
            )
        seed = document["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise DataError(f"split seed must be an integer, got {seed!r}")
        for key in ("params", "counts"):
            if not isinstance(document[key], dict):
                raise DataError(f"split {key} must be an object, got {document[key]!r}")
        data = document["data"]
        if not isinstance(data, list) or not all(isinstance(d, str) for d in data):
            raise DataError(f"split data must be a list of paths, got {data!r}")
        lists: dict[str, list[str]] = {}
        for name in SPLIT_NAMES:
            value = document[name]
            if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
                raise DataError(f"split {name!r} must be a list of identity names")
            lists[name] = value
        _refuse_overlap(lists)
        return cls(
            train=sorted(lists["train"]),
            val=sorted(lists["val"]),
            test=sorted(lists["test"]),
            seed=seed,
            params=document["params"],
            counts=document["counts"],
            data=data,
        )


def _refuse_overlap(lists: Mapping[str, Sequence[str]]) -> None:
    where: dict[str, str] = {}
    for name in SPLIT_NAMES:
        for identity in lists.get(name, ()):
            if identity in where:
                first = where[identity]
                twice = "twice in" if first == name else f"in both {first} and"
                raise DataError(
                    f"identity {identity!r} is {twice} {name}; splits must be "
                    "identity-disjoint, remake it with `bioverify split`"
                )
            where[identity] = name


def _refuse_missing(identities: Iterable[str], inventory: Inventory) -> None:
    known = {sample.identity for sample in inventory.samples}
    missing = sorted(set(identities) - known)
    if missing:
        raise DataError(
            f"the split names {len(missing)} identities that are not in the data "
            f"(e.g. {missing[:_SHOW]}); was it made from other data?"
        )


def check_split_params(
    val_fraction: float, test_fraction: float, min_samples: int, seed: int
) -> None:
    """Raise :class:`DataError` unless the arguments of :func:`make_split` are usable."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError(
            f"val_fraction ({val_fraction}) and test_fraction ({test_fraction}) must be in "
            "[0, 1) and sum to less than 1"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    if min_samples < 1:
        raise DataError(f"min_samples must be at least 1, got {min_samples}")


def make_split(
    inventory: Inventory,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    min_samples: int = 2,
    seed: int = 0,
    fixed: Mapping[str, str] | None = None,
    together: Iterable[Iterable[str]] = (),
) -> Split:
    """Assign each identity to train, val or test (see the module docstring for the rules).

    ``fixed`` maps identity → split name; ``together`` lists groups of identities that must
    share a split. Deterministic for a given inventory, arguments and seed.
    """
    check_split_params(val_fraction, test_fraction, min_samples, seed)
    groups = inventory.by_identity()
    if not groups:
        raise DataError("the inventory holds no samples; nothing to split")
    fixed = dict(fixed or {})
    bad = {identity: name for identity, name in fixed.items() if name not in SPLIT_NAMES}
    if bad:
        raise DataError(f"fixed split names must be one of {SPLIT_NAMES}, got {bad}")
    _refuse_missing(fixed, inventory)

    units = _units(groups, together)
    assigned: dict[str, str] = {}
    small = 0
    eligible: dict[str, list[list[str]]] = defaultdict(list)
    for unit in units:
        fixed_to = sorted({fixed[i] for i in unit if i in fixed})
        small_members = sum(len(groups[i]) < min_samples for i in unit)
        if len(fixed_to) > 1:
            raise DataError(
                f"identities {unit} must share a split (byte-identical files) but are fixed "
                f"to {fixed_to}"
            )
        if fixed_to:
            assigned.update(dict.fromkeys(unit, fixed_to[0]))
        elif small_members:
            small += small_members
            assigned.update(dict.fromkeys(unit, "train"))
        else:
            eligible[groups[unit[0]][0].source].append(unit)

    for source in sorted(eligible):
        candidates = eligible[source]
        n = len(candidates)
        n_test = floor(test_fraction * n + 0.5)
        n_val = min(floor(val_fraction * n + 0.5), n - n_test)
        rng = np.random.default_rng([seed, zlib.crc32(source.encode())])
        for rank, index in enumerate(rng.permutation(n)):
            name = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
            assigned.update(dict.fromkeys(candidates[index], name))

    lists = {name: sorted(i for i, s in assigned.items() if s == name) for name in SPLIT_NAMES}
    return Split(
        train=lists["train"],
        val=lists["val"],
        test=lists["test"],
        seed=seed,
        params={
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
            "min_samples": min_samples,
            "modality": inventory.modality,
            "fixed_identities": len(fixed),
            "fractions_of": "eligible identities of each dataset",
        },
        counts=_counts(lists, groups, small, sum(len(unit) for unit in units if len(unit) > 1)),
        data=[str(root) for root in inventory.roots],
    )


def _units(
    groups: Mapping[str, list[Sample]], together: Iterable[Iterable[str]]
) -> list[list[str]]:
    joined: DisjointSet[str] = DisjointSet(groups)
    for group in together:
        members = sorted(set(group))
        unknown = [identity for identity in members if identity not in groups]
        if unknown:
            raise DataError(f"identities {unknown[:_SHOW]} to keep together are not in the data")
        for identity in members[1:]:
            joined.merge(members[0], identity)
    return sorted(sorted(subset) for subset in joined.subsets())


def _counts(
    lists: Mapping[str, list[str]],
    groups: Mapping[str, list[Sample]],
    small: int,
    kept_together: int,
) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    by_source: dict[str, dict[str, dict[str, int]]] = {}
    for name in SPLIT_NAMES:
        counts[name] = {
            "identities": len(lists[name]),
            "samples": sum(len(groups[i]) for i in lists[name]),
        }
        for identity in lists[name]:
            source = groups[identity][0].source
            entry = by_source.setdefault(source, {}).setdefault(
                name, {"identities": 0, "samples": 0}
            )
            entry["identities"] += 1
            entry["samples"] += len(groups[identity])
    counts["train_only_small"] = small
    counts["kept_together"] = kept_together
    counts["by_source"] = {source: by_source[source] for source in sorted(by_source)}
    return counts


def read_fixed_split(path: Path | str) -> dict[str, str]:
    """Read identity → split name from a folder or a JSON file.

    A folder holds any of ``{train,val,test}_speakers.txt`` or ``{…}_identities.txt``, one
    identity per line (blank lines and ``#`` comments ignored), as the Arabic speech corpus
    ships in ``splits/``. A JSON file is an object with any of the keys ``train``, ``val``,
    ``test`` mapping to identity lists (a split file made by ``bioverify split`` qualifies).
    """
    path = Path(path)
    lists: dict[str, list[str]] = {}
    if path.is_dir():
        for name in SPLIT_NAMES:
            for suffix in ("speakers", "identities"):
                listing = path / f"{name}_{suffix}.txt"
                if listing.is_file():
                    lines = listing.read_text(encoding="utf-8").splitlines()
                    lists.setdefault(name, []).extend(
                        s for s in (line.strip() for line in lines) if s and not s.startswith("#")
                    )
        if not lists:
            raise DataError(
                f"{path}: no fixed split found; expected train_speakers.txt, val_speakers.txt "
                "or test_speakers.txt (or *_identities.txt)"
            )
    elif path.is_file():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise DataError(f"{path}: not a readable JSON fixed split ({exc})") from exc
        if not isinstance(document, dict) or not set(SPLIT_NAMES) & set(document):
            raise DataError(f"{path}: a fixed split JSON needs keys among {SPLIT_NAMES}")
        for name in SPLIT_NAMES:
            value = document.get(name, [])
            if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
                raise DataError(f"{path}: {name!r} must be a list of identity names")
            lists[name] = value
    else:
        raise DataError(f"{path}: fixed split not found; pass a folder or a JSON file")
    _refuse_overlap(lists)
    return {identity: name for name, identities in lists.items() for identity in identities}


def save_split(split: Split, path: Path | str) -> None:
    """Write the split as JSON, atomically (a temporary file renamed over ``path``)."""
    path = Path(path)
    text = json.dumps(split.to_dict(), indent=2) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise DataError(
            f"{path}: cannot write the split file ({exc.strerror or exc}); the previous "
            "file, if any, is unchanged"
        ) from exc


def load_split(
    path: Path | str,
    inventory: Inventory | None = None,
    check_content: bool = True,
    progress: bool = True,
) -> Split:
    """Read and check a split file.

    Always: the structure is valid and no identity is in two splits. Given the
    ``inventory``: every identity of the split is in the data, the modality matches, and
    (with ``check_content``) no file content — sha256 of the bytes, hashed afresh — is in
    two splits. Any violation raises :class:`DataError`.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(f"{path}: split file not found; make one with `bioverify split`") from exc
    except (OSError, ValueError, RecursionError) as exc:
        raise DataError(f"{path}: not a readable split file ({exc})") from exc
    try:
        split = Split.from_dict(document)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from exc
    if inventory is not None:
        modality = split.params.get("modality")
        if modality is not None and modality != inventory.modality:
            raise DataError(
                f"{path}: the split is for {modality} data but the data is {inventory.modality}"
            )
        _refuse_missing(split.assignment(), inventory)
        if check_content:
            check_content_disjoint(split, inventory, progress=progress)
    return split


def hash_files(paths: Iterable[Path], progress: bool = True) -> dict[Path, str]:
    """sha256 hex digest of each file, streamed from disk; nothing is cached."""
    paths = list(paths)
    digests: dict[Path, str] = {}
    for path in progress_iter(paths, "hashing files", "file", enabled=progress):
        try:
            with path.open("rb") as handle:
                digests[path] = hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError as exc:
            raise DataError(f"{path}: cannot read file to hash it ({exc.strerror})") from exc
    return digests


def shared_content(inventory: Inventory, digests: Mapping[Path, str]) -> list[list[Sample]]:
    """Groups of samples with byte-identical content that span more than one identity."""
    by_digest: dict[str, list[Sample]] = defaultdict(list)
    for sample in inventory.samples:
        by_digest[digests[sample.path]].append(sample)
    return [group for group in by_digest.values() if len({sample.identity for sample in group}) > 1]


def check_content_disjoint(
    split: Split,
    inventory: Inventory,
    digests: Mapping[Path, str] | None = None,
    progress: bool = True,
) -> None:
    """Raise :class:`DataError` if any file content (sha256) is in two splits.

    ``digests`` from :func:`hash_files` are reused when given; otherwise the files of the
    split's identities are hashed now.
    """
    where = split.assignment()
    samples = [sample for sample in inventory.samples if sample.identity in where]
    if digests is None:
        digests = hash_files([sample.path for sample in samples], progress=progress)
    splits_of: dict[str, dict[str, Sample]] = defaultdict(dict)
    for sample in samples:
        splits_of[digests[sample.path]].setdefault(where[sample.identity], sample)
    clashes = [found for found in splits_of.values() if len(found) > 1]
    if clashes:
        shown = "; ".join(
            " = ".join(f"{name}:{sample.path}" for name, sample in sorted(found.items()))
            for found in clashes[:_SHOW]
        )
        raise DataError(
            f"{len(clashes)} file contents are in more than one split ({shown}); identical "
            "files must stay in one split — remake the split with `bioverify split`"
        )


__all__ = [
    "FORMAT_VERSION",
    "SPLIT_NAMES",
    "Split",
    "check_content_disjoint",
    "check_split_params",
    "hash_files",
    "load_split",
    "make_split",
    "read_fixed_split",
    "save_split",
    "shared_content",
]
