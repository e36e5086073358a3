"""Finding a dataset's samples: identity folders or a CSV manifest.

A dataset is either

* a folder with one sub-folder per identity, holding that identity's images (faces) or
  recordings (voices), nested folders allowed; files at the top level (``pairs.txt``,
  ``README.md``, ``manifest.csv``) and hidden files are ignored; or
* a CSV manifest with columns ``path`` and ``identity`` (``speaker`` is accepted instead of
  ``identity``; other columns are ignored), paths relative to the CSV's folder.

Scanning does not decode files (decoding 13k images is slow) unless ``check_readable=True``;
files that are missing, empty, undecodable or of the wrong kind are listed in
:attr:`Inventory.skipped` with the reason instead of stopping the scan.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import soundfile

from bioverify.errors import DataError, InvalidInput
from bioverify.media import read_audio, read_image
from bioverify.progress import progress_iter

MODALITIES = ("face", "voice")
FACE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".webp", ".tif", ".tiff"}
)
#: audio extensions, MP3 only where the installed libsndfile decodes it
VOICE_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg"} | ({".mp3"} if "MP3" in soundfile.available_formats() else set())
)
EXTENSIONS = {"face": FACE_EXTENSIONS, "voice": VOICE_EXTENSIONS}
#: manifest columns accepted for the identity, in order of preference
IDENTITY_COLUMNS = ("identity", "speaker")


@dataclass(frozen=True)
class Sample:
    """One file of one identity; ``source`` names the dataset (corpus) it came from."""

    path: Path
    identity: str
    source: str = ""


@dataclass
class Inventory:
    """The usable samples of one or more datasets, and the files skipped with the reason."""

    roots: list[Path]
    modality: str
    samples: list[Sample]
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def identities(self) -> list[str]:
        """Sorted distinct identity names."""
        return sorted({sample.identity for sample in self.samples})

    def by_identity(self) -> dict[str, list[Sample]]:
        """Samples grouped by identity, identities in sorted order."""
        groups: dict[str, list[Sample]] = defaultdict(list)
        for sample in self.samples:
            groups[sample.identity].append(sample)
        return {identity: groups[identity] for identity in sorted(groups)}

    def sources(self) -> list[str]:
        """Sorted distinct dataset names the samples came from."""
        return sorted({sample.source for sample in self.samples})


def modality_of(path: Path | str) -> str | None:
    """``"face"`` or ``"voice"`` from a file's extension, or None for anything else."""
    suffix = Path(path).suffix.lower()
    for modality, extensions in EXTENSIONS.items():
        if suffix in extensions:
            return modality
    return None


def scan_dataset(
    source: Path | str,
    modality: str | None = None,
    check_readable: bool = False,
    progress: bool = True,
) -> Inventory:
    """Find the samples of one dataset folder or CSV manifest.

    ``modality`` (``"face"``/``"voice"``) is inferred from the file extensions when not
    given; a dataset holding both images and audio needs it. With ``check_readable`` every
    file is decoded (with a progress bar) and the ones that fail are skipped and reported.
    Raises :class:`DataError` when the dataset is missing, malformed or holds no samples.
    """
    source = Path(source)
    if modality is not None and modality not in MODALITIES:
        raise DataError(f"modality must be one of {MODALITIES}, got {modality!r}")
    skipped: list[tuple[Path, str]] = []
    if source.is_dir():
        name = source.resolve().name
        listed = _scan_folder(source)
    elif source.is_file() and source.suffix.lower() == ".csv":
        name = source.resolve().parent.name
        listed, skipped = _scan_manifest(source)
    elif source.exists():
        raise DataError(f"{source}: a dataset must be a folder of identity folders or a .csv")
    else:
        raise DataError(f"{source}: dataset not found; pass a folder or a CSV manifest")
    chosen = modality or _infer_modality(source, listed)
    samples: list[Sample] = []
    for path, identity in listed:
        reason = _problem(path, chosen)
        if reason is None:
            samples.append(Sample(path=path, identity=identity, source=name))
        else:
            skipped.append((path, reason))
    if check_readable:
        samples, unreadable = _readable(samples, chosen, progress)
        skipped.extend(unreadable)
    if not samples:
        raise DataError(
            f"{source}: no usable {chosen} files found ({len(skipped)} skipped); expected one "
            "sub-folder per identity or a CSV with path,identity columns"
        )
    samples.sort(key=lambda s: (s.identity, str(s.path)))
    skipped.sort()
    return Inventory(roots=[source.resolve()], modality=chosen, samples=samples, skipped=skipped)


def scan_datasets(
    sources: Sequence[Path | str],
    modality: str | None = None,
    check_readable: bool = False,
    prefix_identities: bool = False,
    progress: bool = True,
) -> Inventory:
    """Scan several datasets (e.g. three speech corpora) into one inventory.

    Every sample keeps its dataset's name in :attr:`Sample.source`, so results can be
    reported per corpus. An identity name found in two datasets is refused as ambiguous
    unless ``prefix_identities`` is set, which renames every identity to
    ``"<dataset name>/<identity>"``.
    """
    if not sources:
        raise DataError("no dataset given; pass at least one folder or CSV manifest")
    inventories = [scan_dataset(s, modality, check_readable, progress) for s in sources]
    modalities = {inv.modality for inv in inventories}
    if len(modalities) > 1:
        raise DataError(
            f"the datasets mix modalities {sorted(modalities)}; pass datasets of one kind"
        )
    names: dict[str, Path] = {}
    for inventory in inventories:
        name = inventory.samples[0].source
        if name in names:
            raise DataError(
                f"two datasets are both named {name!r} ({names[name]} and "
                f"{inventory.roots[0]}); give them distinct folder names"
            )
        names[name] = inventory.roots[0]
    samples = [s for inv in inventories for s in inv.samples]
    if prefix_identities:
        samples = [
            Sample(path=s.path, identity=f"{s.source}/{s.identity}", source=s.source)
            for s in samples
        ]
    else:
        _refuse_shared_identities(samples)
    samples.sort(key=lambda s: (s.identity, str(s.path)))
    return Inventory(
        roots=[root for inv in inventories for root in inv.roots],
        modality=modalities.pop(),
        samples=samples,
        skipped=sorted(item for inv in inventories for item in inv.skipped),
    )


def _refuse_shared_identities(samples: Iterable[Sample]) -> None:
    seen: dict[str, str] = {}
    for sample in samples:
        first = seen.setdefault(sample.identity, sample.source)
        if first != sample.source:
            raise DataError(
                f"identity {sample.identity!r} appears in datasets {first!r} and "
                f"{sample.source!r}; if they are different people use prefix_identities "
                "(--prefix-identities)"
            )


def _scan_folder(root: Path) -> list[tuple[Path, str]]:
    listed: list[tuple[Path, str]] = []
    for entry in sorted(root.resolve().iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        for folder, dirnames, filenames in os.walk(entry):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if not filename.startswith("."):
                    listed.append((Path(folder, filename), entry.name))
    return listed


def _scan_manifest(manifest: Path) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    listed: list[tuple[Path, str]] = []
    skipped: list[tuple[Path, str]] = []
    seen: dict[Path, int] = {}
    try:
        with manifest.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = reader.fieldnames or []
            identity_column = next((c for c in IDENTITY_COLUMNS if c in columns), None)
            if "path" not in columns or identity_column is None:
                raise DataError(
                    f"{manifest}: a manifest needs the columns path and identity (or speaker), "
                    f"found {columns}"
                )
            for row in reader:
                line = reader.line_num
                relative = (row.get("path") or "").strip()
                identity = (row.get(identity_column) or "").strip()
                if not relative or not identity:
                    raise DataError(f"{manifest}, line {line}: empty path or {identity_column}")
                path = (manifest.parent / relative).resolve()
                if path in seen:
                    raise DataError(
                        f"{manifest}, line {line}: {relative} is listed twice "
                        f"(first on line {seen[path]})"
                    )
                seen[path] = line
                if path.is_file():
                    listed.append((path, identity))
                else:
                    skipped.append((path, "file not found"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{manifest}: cannot read the manifest ({exc})") from exc
    return listed, skipped


def _infer_modality(source: Path, listed: Sequence[tuple[Path, str]]) -> str:
    found = {modality_of(path) for path, _ in listed} - {None}
    if len(found) == 1:
        return str(found.pop())
    if not found:
        raise DataError(
            f"{source}: no image or audio files found; expected one sub-folder per identity "
            "or a CSV with path,identity columns"
        )
    raise DataError(f"{source}: holds both images and audio; pass the modality (face or voice)")


def _problem(path: Path, modality: str) -> str | None:
    if path.suffix.lower() not in EXTENSIONS[modality]:
        return f"not a {modality} file ({path.suffix or 'no extension'})"
    try:
        if path.stat().st_size == 0:
            return "empty file"
    except OSError as exc:
        return f"cannot read file ({exc.strerror})"
    return None


def _readable(
    samples: list[Sample], modality: str, progress: bool
) -> tuple[list[Sample], list[tuple[Path, str]]]:
    decode = read_image if modality == "face" else read_audio
    readable: list[Sample] = []
    unreadable: list[tuple[Path, str]] = []
    for sample in progress_iter(samples, "checking files", "file", enabled=progress):
        try:
            decode(sample.path)
        except InvalidInput as exc:
            unreadable.append((sample.path, f"unreadable: {exc}"))
        else:
            readable.append(sample)
    return readable, unreadable


__all__ = [
    "EXTENSIONS",
    "FACE_EXTENSIONS",
    "IDENTITY_COLUMNS",
    "MODALITIES",
    "VOICE_EXTENSIONS",
    "Inventory",
    "Sample",
    "modality_of",
    "scan_dataset",
    "scan_datasets",
]
