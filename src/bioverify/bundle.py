"""Model bundles: ``model.onnx`` plus ``bundle.json`` (and optionally ``calibration.json``).

A bundle is a folder (or a ``.zip`` of one, see :func:`open_bundle`). ``bundle.json`` says
what the model is and how to feed it; its ``model_sha256`` is the sha256 of the bytes of
``model.onnx``, so a bundle whose model was swapped or corrupted is refused, and a
calibration or gallery made with another model can be recognised. The same facts (all but
the sha256, which cannot describe the file it lives in) are repeated in the ONNX
``metadata_props`` under ``bioverify.*`` keys, so a bare ``model.onnx`` describes itself.

``bundle.json`` (format version 1)::

    {
      "format": "bioverify-bundle", "format_version": 1,
      "name": "face-mobilefacenet-arcface", "modality": "face" | "voice",
      "embedding_dim": 512, "precision": "fp32" | "fp16" | "int8",
      "model_file": "model.onnx", "model_sha256": "<64 hex>",
      "input": {"name": "image", "dtype": "uint8", "shape": ["N", 112, 112, 3]},
      "output": {"name": "embedding", "dtype": "float32", "shape": ["N", 512]},
      "preprocessing": {"face_geometry": {...},            # face: FaceGeometry.to_dict()
                        "flip_fusion": true}               #   the graph fuses the mirror image
                     | {"sample_rate": 16000,              # voice
                        "trim": "none" | "ends" | "all",   #   what the VAD cuts (default none)
                        "partials": {"frames": 160, ...},  #   optional: 1.6 s windows
                        "target_dbfs": -30.0},             #   optional: raise quiet input
      "training": {...}, "created": "2026-11-28T12:00:00Z", "bioverify_version": "0.1.0",
      "score_normalization": {"method": "as-norm", "top_k": 200,   # optional: a cohort
                              "cohort_file": "cohort.npy", "cohort_sha256": "<64 hex>",
                              "cohort_source": "<counts, split part, corpora>"}
    }

``partials`` and ``target_dbfs`` are read by
:class:`~bioverify.verify.voice_input.PartialWindows` and
:func:`~bioverify.verify.voice_input.raise_level`. A model converted from another project's
weights has ``training.provenance`` (source file, its sha256, licence; the licence text
ships as a file beside the model). ``score_normalization`` names a cohort of
training-identity embeddings (:mod:`bioverify.verify.score_norm`) whose sha256 is checked
like the model's; it is not repeated in the ONNX metadata, since a cohort is added to an
exported model without touching the model file.

No torch here: the runtime reads bundles with numpy, onnx-free JSON and hashlib only.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioverify.atomic import write_atomic
from bioverify.errors import ModelError, ModelMismatch

FORMAT = "bioverify-bundle"
FORMAT_VERSION = 1
BUNDLE_FILE = "bundle.json"
MODEL_FILE = "model.onnx"
CALIBRATION_FILE = "calibration.json"
#: what a voice model's energy VAD cuts before the model, as trained: nothing, the leading
#: and trailing non-speech, or every non-speech frame
VOICE_TRIM_MODES = ("none", "ends", "all")
#: a voice model's runtime facts beyond the rate and trim, optional in ``preprocessing`` and
#: in a checkpoint's ``voice`` section alike: ``partials`` and ``target_dbfs``
VOICE_RUNTIME_KEYS = ("partials", "target_dbfs")
MODALITIES = ("face", "voice")
PRECISIONS = ("fp32", "fp16", "int8")
#: prefix of the bundle facts repeated in the ONNX ``metadata_props``
METADATA_PREFIX = "bioverify."
#: largest total uncompressed size accepted from a zipped bundle
MAX_ZIP_BYTES = 1 << 30
_SHA256 = re.compile(r"[0-9a-f]{64}")


def file_sha256(path: Path | str) -> str:
    """The sha256 of a file's bytes, as 64 lowercase hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class BundleInfo:
    """The validated contents of ``bundle.json``; :attr:`model_path` is absolute."""

    name: str
    modality: str
    embedding_dim: int
    precision: str
    model_path: Path
    model_sha256: str
    input: dict[str, Any]
    output: dict[str, Any]
    preprocessing: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    bioverify_version: str = ""
    score_normalization: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.model_path.parent

    @property
    def calibration_path(self) -> Path | None:
        """``calibration.json`` beside the model, if the bundle has one."""
        path = self.folder / CALIBRATION_FILE
        return path if path.is_file() else None

    def to_dict(self) -> dict[str, Any]:
        """The ``bundle.json`` document."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "modality": self.modality,
            "embedding_dim": self.embedding_dim,
            "precision": self.precision,
            "model_file": self.model_path.name,
            "model_sha256": self.model_sha256,
            "input": self.input,
            "output": self.output,
            "preprocessing": self.preprocessing,
            "training": self.training,
            "created": self.created,
            "bioverify_version": self.bioverify_version,
        } | ({"score_normalization": self.score_normalization} if self.score_normalization else {})

    def metadata_props(self) -> dict[str, str]:
        """The facts to repeat in the ONNX ``metadata_props`` (strings; nested as JSON)."""
        facts = self.to_dict()
        # not the timestamp: exporting the same checkpoint again must give the same bytes,
        # the same sha256, and so keep its calibration and galleries valid
        for key in ("model_file", "model_sha256", "created", "score_normalization"):
            facts.pop(key, None)
        return {
            METADATA_PREFIX + key: value if isinstance(value, str) else json.dumps(value)
            for key, value in facts.items()
        }


def _fail(source: str, message: str) -> ModelError:
    return ModelError(f"{source}: {message}")


def _require(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: str) -> Any:
    if key not in data:
        raise _fail(source, f"missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _fail(source, f"field {key!r} has the wrong type ({type(value).__name__})")
    return value


def _score_normalization(data: Any, source: str) -> dict[str, Any]:
    """The validated ``score_normalization`` section (absent: ``{}``)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _fail(source, "score_normalization must be an object")
    if data.get("method") != "as-norm":
        raise _fail(source, "score_normalization.method must be 'as-norm'")
    top_k = data.get("top_k")
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise _fail(source, "score_normalization.top_k must be a positive integer")
    name = data.get("cohort_file")
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise _fail(source, "score_normalization.cohort_file must be a plain file name")
    if not isinstance(data.get("cohort_sha256"), str) or not _SHA256.fullmatch(
        data["cohort_sha256"]
    ):
        raise _fail(source, "score_normalization.cohort_sha256 must be 64 lowercase hex digits")
    return dict(data)


def parse_bundle_json(data: Any, folder: Path, source: str = BUNDLE_FILE) -> BundleInfo:
    """Validate a ``bundle.json`` document; raise :class:`ModelError` naming the problem."""
    if not isinstance(data, dict):
        raise _fail(source, "not a JSON object")
    if data.get("format") != FORMAT:
        raise _fail(source, f"not a bioverify bundle (format {data.get('format')!r})")
    version = _require(data, "format_version", int, source)
    if version != FORMAT_VERSION:
        raise _fail(
            source, f"bundle format_version {version} is not supported (this bioverify reads 1)"
        )
    modality = _require(data, "modality", str, source)
    if modality not in MODALITIES:
        raise _fail(source, f"modality must be one of {MODALITIES}, got {modality!r}")
    precision = _require(data, "precision", str, source)
    if precision not in PRECISIONS:
        raise _fail(source, f"precision must be one of {PRECISIONS}, got {precision!r}")
    embedding_dim = _require(data, "embedding_dim", int, source)
    if embedding_dim < 1:
        raise _fail(source, f"embedding_dim must be positive, got {embedding_dim}")
    sha = _require(data, "model_sha256", str, source)
    if not _SHA256.fullmatch(sha):
        raise _fail(source, "model_sha256 must be 64 lowercase hex digits")
    model_file = _require(data, "model_file", str, source)
    if (
        Path(model_file).name != model_file
        or model_file in ("", ".", "..")
        or "\0" in model_file
        or len(model_file.encode("utf-8", "surrogatepass")) > 255  # longer: ENAMETOOLONG
    ):
        shown = model_file if len(model_file) <= 80 else model_file[:77] + "..."
        raise _fail(source, f"model_file must be a plain file name, got {shown!r}")
    preprocessing = _require(data, "preprocessing", dict, source)
    if modality == "face" and not isinstance(preprocessing.get("face_geometry"), dict):
        raise _fail(source, "a face bundle needs preprocessing.face_geometry")
    if not isinstance(preprocessing.get("flip_fusion", False), bool):
        raise _fail(source, "preprocessing.flip_fusion must be true or false")
    if preprocessing.get("trim", "none") not in VOICE_TRIM_MODES:
        raise _fail(source, f"preprocessing.trim must be one of {VOICE_TRIM_MODES}")
    if modality == "voice":
        rate = preprocessing.get("sample_rate")
        if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
            raise _fail(source, "a voice bundle needs a positive integer preprocessing.sample_rate")
    return BundleInfo(
        name=_require(data, "name", str, source),
        modality=modality,
        embedding_dim=embedding_dim,
        precision=precision,
        model_path=(folder / model_file).resolve(),
        model_sha256=sha,
        input=_require(data, "input", dict, source),
        output=_require(data, "output", dict, source),
        preprocessing=preprocessing,
        training=dict(data["training"]) if isinstance(data.get("training"), dict) else {},
        created=str(data.get("created", "")),
        bioverify_version=str(data.get("bioverify_version", "")),
        score_normalization=_score_normalization(data.get("score_normalization"), source),
    )


def load_bundle(path: Path | str, verify_sha256: bool = True) -> BundleInfo:
    """Read and validate a bundle folder (or its ``bundle.json``).

    With ``verify_sha256`` (the default) the model file is hashed and a mismatch with
    ``model_sha256`` raises :class:`ModelMismatch`: the model is not the one the bundle
    describes; the same for a score-normalisation cohort whose sha256 differs. A missing or
    malformed ``bundle.json`` (or a missing cohort file) raises :class:`ModelError`.
    """
    path = Path(path)
    folder = path.parent if path.name == BUNDLE_FILE else path
    if folder.suffix == ".zip" and folder.is_file():
        raise _fail(str(folder), "a zipped bundle must be extracted first: use open_bundle()")
    manifest = folder / BUNDLE_FILE
    if not manifest.is_file():
        raise _fail(str(folder), f"not a model bundle (no {BUNDLE_FILE})")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise _fail(str(manifest), f"cannot read ({exc})") from exc
    info = parse_bundle_json(data, folder, str(manifest))
    if not info.model_path.is_file():
        raise _fail(str(folder), f"the bundle's model file {info.model_path.name} is missing")
    if verify_sha256:
        actual = file_sha256(info.model_path)
        if actual != info.model_sha256:
            raise ModelMismatch(
                f"{info.model_path}: sha256 {actual[:12]}… does not match bundle.json's "
                f"{info.model_sha256[:12]}…; the model file was changed or corrupted"
            )
    if info.score_normalization:
        cohort = folder / info.score_normalization["cohort_file"]
        if not cohort.is_file():
            raise _fail(str(folder), f"the bundle's cohort file {cohort.name} is missing")
        if verify_sha256 and file_sha256(cohort) != info.score_normalization["cohort_sha256"]:
            raise ModelMismatch(
                f"{cohort}: sha256 does not match bundle.json's cohort_sha256; the cohort file "
                "was changed or corrupted"
            )
    return info


def write_bundle_json(info: BundleInfo) -> Path:
    """Write ``bundle.json`` beside ``info.model_path`` atomically; return its path."""
    target = info.folder / BUNDLE_FILE
    try:
        return write_atomic(target, (json.dumps(info.to_dict(), indent=2) + "\n").encode())
    except OSError as exc:
        raise ModelError(
            f"{target}: cannot write the bundle manifest ({exc.strerror or exc}); the "
            "previous file, if any, is unchanged"
        ) from exc


def extract_zip_bundle(archive: Path | str, destination: Path | str) -> Path:
    """Safely extract a zipped bundle: no absolute paths, no ``..``, no links, at most
    :data:`MAX_ZIP_BYTES` uncompressed. Returns the folder holding ``bundle.json``."""
    archive, destination = Path(archive), Path(destination)
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            total = sum(member.file_size for member in members)
            if total > MAX_ZIP_BYTES:
                raise _fail(str(archive), f"uncompressed size {total} exceeds {MAX_ZIP_BYTES}")
            root = destination.resolve()
            for member in members:
                target = (root / member.filename).resolve()
                is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
                if (
                    is_link
                    or not target.is_relative_to(root)
                    or Path(member.filename).is_absolute()
                ):
                    raise _fail(str(archive), f"unsafe member {member.filename!r} refused")
            zipped.extractall(root)
    except zipfile.BadZipFile as exc:
        raise _fail(str(archive), f"not a readable zip ({exc})") from exc
    manifests = sorted(root.rglob(BUNDLE_FILE))
    if len(manifests) != 1:
        raise _fail(
            str(archive), f"expected one {BUNDLE_FILE} in the archive, found {len(manifests)}"
        )
    return manifests[0].parent


def open_bundle(path: Path | str, cache_dir: Path | str | None = None) -> BundleInfo:
    """:func:`load_bundle` for a folder, a ``bundle.json`` or a ``.zip`` of a bundle folder
    (extracted safely into ``cache_dir``, default a fresh temporary folder)."""
    path = Path(path)
    if path.suffix == ".zip" and path.is_file():
        destination = Path(cache_dir) if cache_dir else Path(tempfile.mkdtemp(prefix="bundle-"))
        try:
            return load_bundle(extract_zip_bundle(path, destination))
        except BaseException:
            if cache_dir is None:
                shutil.rmtree(destination, ignore_errors=True)
            raise
    return load_bundle(path)


__all__ = [
    "BUNDLE_FILE",
    "CALIBRATION_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "METADATA_PREFIX",
    "MODEL_FILE",
    "VOICE_RUNTIME_KEYS",
    "VOICE_TRIM_MODES",
    "BundleInfo",
    "extract_zip_bundle",
    "file_sha256",
    "load_bundle",
    "open_bundle",
    "parse_bundle_json",
    "write_bundle_json",
]
