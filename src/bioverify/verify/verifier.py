"""The :class:`Verifier`: one model bundle, its calibration, and the preprocessing it needs.

It is built from two halves: :class:`~bioverify.verify.embedding.EmbeddingMixin` (acquire
and embed inputs) and :class:`~bioverify.verify.decisions.DecisionMixin` (score embeddings,
decide at the threshold). This module opens and checks a bundle (:meth:`Verifier.load`) and
joins the halves in :meth:`Verifier.verify_many`.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.bundle import BundleInfo, open_bundle
from bioverify.calibration import Calibration, OperatingPoint
from bioverify.calibration.quality_bins import pair_quality
from bioverify.errors import CalibrationError, InvalidInput, ModelError, ModelMismatch
from bioverify.face_geometry import FaceGeometry
from bioverify.verify.calibration_use import default_point, resolve_calibration
from bioverify.verify.decisions import DecisionMixin
from bioverify.verify.defaults import resolve_model
from bioverify.verify.embedding import EmbeddingMixin
from bioverify.verify.face_input import FacePreprocessor
from bioverify.verify.image_input import MAX_PIXELS
from bioverify.verify.quality import outside_range
from bioverify.verify.result import VerifyResult
from bioverify.verify.score_norm import ScoreNormalizer, load_normalizer
from bioverify.verify.session import create_session
from bioverify.verify.voice_input import PartialWindows, VoicePreprocessor, VoiceSettings

logger = logging.getLogger(__name__)

#: model inputs per onnxruntime call
DEFAULT_BATCH_SIZE = 32


class Verifier(DecisionMixin, EmbeddingMixin):
    """Embeds inputs with one model bundle and decides pairs at a calibrated threshold.

    Build it with :meth:`load`; the constructor takes an already opened bundle and
    onnxruntime session.

    Attributes
    ----------
    info : BundleInfo
        The bundle (``info.folder``, ``info.name``, ``info.preprocessing``…).
    model_sha256 : str
        The sha256 of the model file, as checked against ``bundle.json``.
    modality : {"face", "voice"}
        What the model embeds.
    embedding_dim : int
        The size ``D`` of an embedding.
    calibration : Calibration or None
        The calibration in use (the bundle's ``calibration.json`` by default).
    point : OperatingPoint or None
        The calibration's operating point in use.
    threshold : float or None
        The decision threshold: the operating point's, or an explicit one; ``None``
        without either (:meth:`verify` then raises :class:`CalibrationError`).
    operating_point : str or None
        The operating point's label, such as ``"FAR=0.01"``.
    providers : list of str
        The onnxruntime providers the session really runs on.
    prior : float
        The prior of same-identity pairs behind ``VerifyResult.probability``.
    normalizer : ScoreNormalizer or None
        The bundle's AS-Norm (:mod:`bioverify.verify.score_norm`), or ``None`` for raw
        cosine scores.
    batch_size : int
        Model inputs per onnxruntime call.

    See Also
    --------
    bioverify.verify : the one-call form.
    bioverify.gallery.Gallery : enroll identities, verify claims, identify.

    Examples
    --------
    >>> from bioverify import Verifier
    >>> face = Verifier.load("face")
    >>> face.modality, face.embedding_dim, face.operating_point
    ('face', 128, 'FAR=0.01')
    >>> result = face.verify("examples/face_a1.jpg", "examples/face_b1.jpg")
    >>> result.match, round(result.score, 3), round(result.threshold, 3)
    (False, 0.804, 0.922)
    """

    def __init__(
        self,
        info: BundleInfo,
        session: Any,
        providers: list[str],
        preprocess: FacePreprocessor | VoicePreprocessor,
        calibration: Calibration | None = None,
        point: OperatingPoint | None = None,
        threshold: float | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        prior: float = 0.5,
        normalizer: ScoreNormalizer | None = None,
    ) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be >= 1, got {batch_size}")
        if not 0.0 < prior < 1.0:
            raise InvalidInput(f"prior must be in (0, 1), got {prior}")
        self.info = info
        self.model_sha256 = info.model_sha256
        self.modality = info.modality
        self.embedding_dim = info.embedding_dim
        self.providers = providers
        self.preprocess = preprocess
        self.calibration = calibration
        self.point = point
        self.threshold = point.threshold if point is not None else threshold
        self.operating_point = point.label if point is not None else None
        self.batch_size = batch_size
        self.prior = prior
        self.normalizer = normalizer
        self._session = session
        self._input_name = str(info.input.get("name") or session.get_inputs()[0].name)
        self._output_name = str(info.output.get("name") or session.get_outputs()[0].name)

    @classmethod
    def load(
        cls,
        bundle: BundleInfo | Path | str,
        providers: Sequence[str] | None = None,
        calibration: Calibration | Path | str | bool | None = None,
        operating_point: str | float | None = None,
        *,
        threshold: float | None = None,
        face_mode: str = "auto",
        detector: Any = None,
        face_index: int = 0,
        voice: VoiceSettings | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_pixels: int = MAX_PIXELS,
        prior: float = 0.5,
        intra_op_threads: int = 0,
        device: str | None = None,
        score_normalization: str = "bundle",
    ) -> Verifier:
        """Open a model bundle, check it, and start its onnxruntime session.

        Parameters
        ----------
        bundle : BundleInfo, str or path-like
            ``"face"`` or ``"voice"`` (the packaged default models), a bundle folder, its
            ``bundle.json``, a ``.zip`` of a bundle folder, or an opened
            :class:`~bioverify.bundle.BundleInfo`.
        providers : sequence of str, optional
            An explicit list of onnxruntime providers (instead of ``device``).
        calibration : Calibration, str, path-like or bool, optional
            A :class:`~bioverify.calibration.Calibration` or the path of a calibration
            file; ``None`` (default): the bundle's ``calibration.json`` if it has one;
            ``True``: the bundle's, which must exist; ``False``: none.
        operating_point : str or float, optional
            A label of the calibration such as ``"FAR=0.001"`` or ``"FRR=0.05"``, or a
            target FAR. Default: the calibration's first FAR point.
        threshold : float, optional
            An explicit decision threshold instead of an operating point (its error rates
            are then unknown: the result's ``far`` / ``frr`` are ``None``).
        face_mode : {"auto", "aligned", "detect"}
            Faces: detect and align the face (``"detect"``), take the input as an aligned
            crop (``"aligned"``), or decide per input (``"auto"``).
        detector : str, path-like or object, optional
            Faces: ``"yunet"`` (the shipped model), ``"haar"``, a YuNet ``.onnx`` path or a
            detector object. Default: YuNet for models with a five-point template, else
            Haar.
        face_index : int
            Faces: which detected face to use (0 = the largest).
        voice : VoiceSettings, optional
            Voices: VAD and window settings (:class:`~bioverify.verify.VoiceSettings`).
        batch_size : int
            Model inputs per onnxruntime call.
        max_pixels : int
            Faces: an image of more pixels is refused, from its header, before it is
            decoded (default 50 megapixels).
        prior : float
            The prior of same-identity pairs behind ``VerifyResult.probability``, in (0, 1).
        intra_op_threads : int
            onnxruntime's intra-op threads (0: onnxruntime chooses).
        device : {"auto", "cpu", "cuda"}, optional
            Where to run (default ``"auto"``: CUDA when it really runs here, else the CPU).
            Not together with ``providers``.
        score_normalization : {"bundle", "none"}
            ``"bundle"``: AS-Norm when the bundle has a cohort
            (:mod:`bioverify.verify.score_norm`); ``"none"``: raw cosines. The calibration
            must have been fitted on the same kind of score.

        Returns
        -------
        Verifier
            Ready to embed; ready to decide when it has a calibration or a threshold.

        Raises
        ------
        ModelError
            The bundle is missing, unreadable or malformed, or onnxruntime cannot load the
            model or has none of the requested providers.
        ModelMismatch
            The model file (or the AS-Norm cohort) does not hash to what ``bundle.json``
            says, or the calibration was made for another model or on other scores.
        CalibrationError
            The calibration file is missing or invalid, ``calibration=True`` and the bundle
            has none, or ``operating_point`` is not in the calibration (or given without
            one).
        InvalidInput
            Both ``threshold`` and ``operating_point``; a NaN threshold; an unknown
            ``face_mode``, ``device`` or ``score_normalization``; both ``device`` and
            ``providers``; ``batch_size < 1`` or ``prior`` outside (0, 1).
        MissingDependency
            ``device="cuda"`` where CUDA cannot run (the message names what is missing).

        Examples
        --------
        >>> from bioverify import Verifier
        >>> Verifier.load("voice")  # doctest: +ELLIPSIS
        Verifier('voice-ge2e-resemblyzer', modality='voice', threshold=0.875..., \
operating_point='FAR=0.01', providers=['CPUExecutionProvider'])
        >>> Verifier.load("face", operating_point="FAR=0.001").operating_point
        'FAR=0.001'
        >>> Verifier.load("face", threshold=0.9, device="cpu").threshold
        0.9
        >>> Verifier.load("face", operating_point="FAR=0.5")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bioverify.errors.CalibrationError: this calibration has no operating point FAR=0.5 ...
        """
        info = bundle if isinstance(bundle, BundleInfo) else open_bundle(resolve_model(bundle))
        try:
            model_bytes = info.model_path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{info.model_path}: cannot read the model ({exc.strerror})") from exc
        if hashlib.sha256(model_bytes).hexdigest() != info.model_sha256:
            raise ModelMismatch(
                f"{info.model_path}: the model's sha256 does not match bundle.json; the model "
                "file was changed or corrupted"
            )
        normalizer = load_normalizer(info, score_normalization)
        key = None if normalizer is None else normalizer.key
        loaded = resolve_calibration(calibration, info, key, threshold is not None)
        if threshold is not None and operating_point is not None:
            raise InvalidInput(
                "give either a threshold (--threshold, threshold=) or an operating point "
                "(--far, operating_point=), not both"
            )
        point = None
        if threshold is not None:
            threshold = float(threshold)
            if math.isnan(threshold):
                raise InvalidInput("threshold must be a number, got NaN")
        elif loaded is not None:
            point = (
                loaded.operating_point(operating_point)
                if operating_point is not None
                else default_point(loaded)
            )
        elif operating_point is not None:
            raise CalibrationError(
                f"operating point {operating_point!r} needs a calibration, and {info.name} has "
                "none; run `bioverify calibrate --model BUNDLE --data DIR --install`"
            )
        preprocess: FacePreprocessor | VoicePreprocessor
        if info.modality == "face":
            geometry = FaceGeometry.from_dict(info.preprocessing["face_geometry"])
            preprocess = FacePreprocessor(geometry, face_mode, detector, max_pixels, face_index)
        else:
            facts = info.preprocessing
            partials = PartialWindows.from_dict(facts["partials"]) if "partials" in facts else None
            target = facts.get("target_dbfs")
            if target is not None and (
                isinstance(target, bool) or not isinstance(target, int | float)
            ):
                raise ModelError(f"{info.name}: preprocessing.target_dbfs must be a number")
            preprocess = VoicePreprocessor(
                int(facts["sample_rate"]), voice, facts.get("trim") or "none", partials, target
            )
        session, used = create_session(
            model_bytes,
            providers,
            intra_op_threads,
            name=f"{info.name} ({info.model_path})",
            device=device,
        )
        return cls(
            info, session, used, preprocess, loaded, point, threshold, batch_size, prior, normalizer
        )

    def __repr__(self) -> str:
        return (
            f"Verifier({self.info.name!r}, modality={self.modality!r}, "
            f"threshold={self.threshold!r}, operating_point={self.operating_point!r}, "
            f"providers={self.providers!r})"
        )

    # -- acquire, then decide --------------------------------------------------------------

    def verify(self, a: Any, b: Any) -> VerifyResult:
        """Are ``a`` and ``b`` the same identity?

        Parameters
        ----------
        a, b : str, path-like, bytes, numpy.ndarray, PIL image, (waveform, sample_rate) or Audio
            Two inputs of this model's modality.

        Returns
        -------
        VerifyResult
            The decision, the score and threshold, the calibration's rates at that
            threshold, each side's quality and any quality warnings.

        Raises
        ------
        CalibrationError
            The verifier has no threshold (raised before any input is read).
        NoFaceFound, NoSpeechFound, InvalidInput
            An input cannot be acquired.

        See Also
        --------
        verify_many : many pairs, embedded in batches.

        Examples
        --------
        >>> from bioverify import Verifier
        >>> voice = Verifier.load("voice")
        >>> result = voice.verify("examples/voice_a1.ogg", "examples/voice_a2.ogg")
        >>> result.match, result.operating_point, result.quality["a"]["speech_seconds"]
        (True, 'FAR=0.01', 2.88)
        >>> Verifier.load("voice", calibration=False).verify(
        ...     "examples/voice_a1.ogg", "examples/voice_a2.ogg")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bioverify.errors.CalibrationError: no threshold for voice-ge2e-resemblyzer: ...
        """
        return self.verify_many([(a, b)])[0]

    def verify_many(self, pairs: Iterable[tuple[Any, Any]]) -> list[VerifyResult]:
        """:meth:`verify` for many pairs, embedding all inputs in batches.

        Parameters
        ----------
        pairs : iterable of (a, b)
            Pairs of inputs of this model's modality.

        Returns
        -------
        list of VerifyResult
            One per pair, in order.

        Raises
        ------
        CalibrationError
            The verifier has no threshold (raised before any input is read).
        NoFaceFound, NoSpeechFound, InvalidInput
            For the first input that cannot be acquired.

        Examples
        --------
        >>> from bioverify import Verifier
        >>> face = Verifier.load("face")
        >>> results = face.verify_many([
        ...     ("examples/face_a1.jpg", "examples/face_a2.jpg"),
        ...     ("examples/face_a1.jpg", "examples/face_b1.jpg"),
        ... ])
        >>> [(r.match, round(r.score, 3)) for r in results]
        [(True, 0.963), (False, 0.804)]
        """
        pairs = list(pairs)
        self._require_threshold()  # fail before any work
        acquired = self.acquire_many([x for pair in pairs for x in pair])
        rows = np.array([a.embedding for a in acquired]).reshape(-1, self.embedding_dim)
        scores = self.score_pairs(rows[0::2], rows[1::2])
        bins = None if self.calibration is None else self.calibration.quality_bins
        results = []
        for k in range(len(pairs)):
            first, second = acquired[2 * k], acquired[2 * k + 1]
            notes = [f"a: {n}" for n in first.notes] + [f"b: {n}" for n in second.notes]
            worse = (
                None if bins is None else pair_quality(first.quality, second.quality, bins.measure)
            )
            result = self.result_for(float(scores[k]), notes, worse)
            result.quality = {"a": first.quality, "b": second.quality}
            if self.calibration is not None and self.calibration.quality_ranges:
                ranges = self.calibration.quality_ranges
                result.quality_warnings = [
                    f"{side}: {warning}"
                    for side, probe in (("a", first), ("b", second))
                    for warning in outside_range(probe.quality, ranges)
                ]
            results.append(result)
        return results


__all__ = ["Verifier"]
