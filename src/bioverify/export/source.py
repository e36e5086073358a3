"""A training checkpoint as export sees it: the encoder (projection head dropped) and the facts
the bundle repeats (preprocessing, training summary)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bioverify.bundle import VOICE_RUNTIME_KEYS, VOICE_TRIM_MODES, file_sha256
from bioverify.errors import BioverifyError, InvalidInput, ModelError
from bioverify.face_geometry import FaceGeometry
from bioverify.training.checkpoint import load_checkpoint
from bioverify.training.models.encoder import Encoder, FlipFusedEncoder

#: the voice models' sample rate when a checkpoint does not state it
DEFAULT_SAMPLE_RATE = 16000


@dataclass(frozen=True)
class TrainedEncoder:
    """An encoder rebuilt from a checkpoint, in eval mode, with what the bundle needs.

    ``geometry`` is set for face encoders, ``sample_rate`` for voice encoders;
    ``flip_fusion`` says the face encoder is a :class:`FlipFusedEncoder`.
    ``training`` is the bundle's training summary: data, identity counts (not names),
    loss, epochs and validation EER.
    """

    encoder: Encoder
    modality: str
    name: str
    geometry: FaceGeometry | None
    sample_rate: int | None
    training: dict[str, Any]
    #: the training run's longest validation clip in seconds (voice), for real-sample windows
    max_seconds: float
    flip_fusion: bool = False
    #: voice: what the energy VAD cut from the training recordings (the runtime does the same)
    trim: str = "none"
    #: voice: the partial-window and loudness settings the model embeds with (``partials``,
    #: ``target_dbfs``; see :mod:`bioverify.verify.voice_input`), when it has any
    voice_runtime: dict[str, Any] = field(default_factory=dict)

    @property
    def preprocessing(self) -> dict[str, Any]:
        """``bundle.json``'s ``preprocessing``."""
        if self.geometry is not None:
            return {"face_geometry": self.geometry.to_dict(), "flip_fusion": self.flip_fusion}
        return {"sample_rate": self.sample_rate, "trim": self.trim, **self.voice_runtime}


def _section(checkpoint: Mapping[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = checkpoint.get(key)
    if not isinstance(value, dict):
        raise ModelError(
            f"{path}: not an encoder checkpoint of `bioverify train` (no {key!r} section)"
        )
    return value


def _name(path: Any) -> str:
    """A dataset or split file's name (``lfw``, ``manifest.csv`` → its folder's name)."""
    name = Path(str(path))
    return name.parent.name if name.suffix.lower() == ".csv" else name.name


def _provenance(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """A converted model's source (file, sha256, licence); the licence's full text stays in
    the checkpoint (the bundle ships it as a file beside the model)."""
    provenance = checkpoint.get("provenance")
    if not isinstance(provenance, dict):
        return {}
    return {"provenance": {k: v for k, v in provenance.items() if k != "license_text"}}


def _training_summary(checkpoint: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Where the model came from (with the ``source`` of converted weights: file name,
    sha256, licence); identity names stay out (only counts)."""
    encoder_config = checkpoint["encoder"]["config"]
    data = checkpoint.get("data") or {}
    counts = data.get("split_counts") or {}
    loss = checkpoint.get("loss") or {}
    progress = checkpoint.get("progress") or {}
    metrics = checkpoint.get("metrics") or {}
    config = checkpoint.get("config") or {}
    head = checkpoint.get("head")
    summary = {
        "checkpoint": path.name,
        "checkpoint_sha256": file_sha256(path),
        "model": {
            "name": encoder_config["name"],
            "kwargs": dict(encoder_config["kwargs"]),
            "embedding_dim": encoder_config["embedding_dim"],
            "frontend": dict(encoder_config["frontend"]),
        },
        "projection_head_dropped": head is not None,
        "loss": {"name": loss.get("name"), "kwargs": loss.get("kwargs", {})},
        # names, not the training machine's absolute paths: a copied bundle must not point
        # at folders of another machine (the split's sha256 identifies it exactly)
        "data": {
            "paths": [_name(p) for p in data.get("paths", [])],
            "split": _name(data["split"]) if data.get("split") else None,
            "split_sha256": data.get("split_sha256"),
        },
        "identities": {
            part: counts[part]["identities"]
            for part in ("train", "val", "test")
            if isinstance(counts.get(part), dict)
        },
        "samples": {
            part: counts[part]["samples"]
            for part in ("train", "val", "test")
            if isinstance(counts.get(part), dict)
        },
        "epochs_completed": progress.get("epoch"),
        "epochs_planned": config.get("epochs"),
        "checkpoint_epoch": metrics.get("epoch"),
        "val_eer": metrics.get("val_eer"),
        "best_val_eer": progress.get("best_val_eer"),
        "best_epoch": progress.get("best_epoch"),
        **_provenance(checkpoint),
    }
    source = checkpoint.get("source")
    if isinstance(source, dict):
        # converted weights (recipes/face_resnet_dlib): file name, sha256, licence
        summary["source"] = dict(source)
    fine_tuned_from = checkpoint.get("fine_tuned_from")
    if isinstance(fine_tuned_from, dict):
        summary["fine_tuned_from"] = dict(fine_tuned_from)
    return summary


def load_trained_encoder(path: Path | str, flip_fusion: bool | None = None) -> TrainedEncoder:
    """Rebuild the encoder of a ``bioverify train`` checkpoint (``best.pt`` / ``last.pt``).

    ``flip_fusion`` (default: on for faces) wraps a face encoder in a
    :class:`FlipFusedEncoder`; asking for it on a voice checkpoint is an
    :class:`~bioverify.errors.InvalidInput`. Raises :class:`ModelError` when the file is
    not such a checkpoint or its weights do not fit the architecture it names.
    """
    path = Path(path)
    checkpoint = load_checkpoint(path)
    encoder_section = _section(checkpoint, "encoder", path)
    if not isinstance(encoder_section.get("config"), dict) or "state_dict" not in encoder_section:
        raise ModelError(f"{path}: the checkpoint's encoder section lacks config or state_dict")
    try:
        encoder = Encoder.from_config(encoder_section["config"])
        encoder.load_state_dict(encoder_section["state_dict"])
    except (BioverifyError, RuntimeError, TypeError, KeyError) as exc:
        raise ModelError(f"{path}: cannot rebuild the encoder ({exc})") from exc
    encoder.eval()
    modality = encoder.modality
    geometry: FaceGeometry | None = None
    sample_rate: int | None = None
    trim = "none"
    voice_runtime: dict[str, Any] = {}
    if modality == "face":
        if "face_geometry" not in checkpoint:
            raise ModelError(f"{path}: a face checkpoint needs its face_geometry")
        try:
            geometry = FaceGeometry.from_dict(checkpoint["face_geometry"])
        except BioverifyError as exc:
            raise ModelError(f"{path}: bad face_geometry ({exc})") from exc
        input_size = encoder.config["kwargs"].get("input_size", geometry.output_size)
        if input_size != geometry.output_size:
            raise ModelError(
                f"{path}: the face crop is {geometry.output_size} px but the model takes "
                f"{input_size} px"
            )
    else:
        voice = checkpoint.get("voice") or {}
        sample_rate = int(voice.get("sample_rate", DEFAULT_SAMPLE_RATE))
        trim = voice.get("trim", "none")
        voice_runtime = {key: voice[key] for key in VOICE_RUNTIME_KEYS if key in voice}
        if trim not in VOICE_TRIM_MODES:
            raise ModelError(f"{path}: voice trim must be one of {VOICE_TRIM_MODES}, got {trim!r}")
        frontend_rate = encoder.config["frontend"].get("sample_rate", sample_rate)
        if frontend_rate != sample_rate:
            raise ModelError(
                f"{path}: voice sample rate {sample_rate} differs from the front-end's "
                f"{frontend_rate}"
            )
    if flip_fusion is None:
        flip_fusion = modality == "face"
    if flip_fusion:
        if modality != "face":
            raise InvalidInput(f"{path}: flip fusion is for face models; this one is {modality}")
        encoder = FlipFusedEncoder(encoder)
    config = checkpoint.get("config") or {}
    loss_name = (checkpoint.get("loss") or {}).get("name") or "unknown"
    return TrainedEncoder(
        encoder=encoder,
        modality=modality,
        name=f"{modality}-{encoder.config['name']}-{loss_name}",
        geometry=geometry,
        sample_rate=sample_rate,
        training=_training_summary(checkpoint, path),
        max_seconds=float(config.get("val_max_seconds", 10.0)),
        flip_fusion=flip_fusion,
        trim=trim,
        voice_runtime=voice_runtime,
    )


__all__ = ["DEFAULT_SAMPLE_RATE", "TrainedEncoder", "load_trained_encoder"]
