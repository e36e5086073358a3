"""The :class:`Verifier`: one model bundle, its calibration, and the preprocessing it needs."""

from __future__ import annotations

import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from bioverify.bundle import BundleInfo, open_bundle
from bioverify.calibration import Calibration, OperatingPoint
from bioverify.errors import (
    BioverifyError,
    CalibrationError,
    InvalidInput,
    ModelError,
    ModelMismatch,
    NoFaceFound,
    NoSpeechFound,
)
from bioverify.face_geometry import FaceGeometry
from bioverify.verify.api import resolve_model
from bioverify.verify.calibration_use import default_point, resolve_calibration, where_measured
from bioverify.verify.face_input import FacePreprocessor
from bioverify.verify.image_input import MAX_PIXELS, describe
from bioverify.verify.inputs import input_modality
from bioverify.verify.quality import outside_range
from bioverify.verify.result import Acquired, Embeddings, Prepared, VerifyResult
from bioverify.verify.score_norm import ScoreNormalizer, load_normalizer
from bioverify.verify.session import create_session
from bioverify.verify.voice_input import PartialWindows, VoicePreprocessor, VoiceSettings

logger = logging.getLogger(__name__)

#: errors that mean "this input could not be turned into a template" (failures to acquire)
ACQUISITION_ERRORS = (InvalidInput, NoFaceFound, NoSpeechFound)
#: model inputs per onnxruntime call
DEFAULT_BATCH_SIZE = 32


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings.

    Parameters
    ----------
    a, b : array-like
        Two embeddings of the same size (any shape; flattened).

    Returns
    -------
    float
        ``a·b / (|a| |b|)``, clipped into [-1, 1].

    Raises
    ------
    InvalidInput
        The sizes differ, or an embedding is zero or not finite.

    Examples
    --------
    >>> cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0]))  # doctest: +ELLIPSIS
    0.7071...
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise InvalidInput(f"embeddings differ in size ({a.size} vs {b.size})")
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if not math.isfinite(norm) or norm == 0.0:
        raise InvalidInput("an embedding is zero or not finite; cannot compute a cosine score")
    return float(np.clip(np.dot(a, b) / norm, -1.0, 1.0))


class Verifier:
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
    (False, 0.804, 0.929)
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
        Verifier('voice-ge2e-resemblyzer', modality='voice', threshold=0.832..., \
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

    # -- embedding ---------------------------------------------------------------------------

    def _run(self, batch: np.ndarray) -> np.ndarray:
        (out,) = self._session.run([self._output_name], {self._input_name: batch})
        out = np.asarray(out, dtype=np.float32)
        if out.ndim != 2 or out.shape != (batch.shape[0], self.embedding_dim):
            raise ModelError(
                f"{self.info.name}: the model returned shape {out.shape}, expected "
                f"[{batch.shape[0]}, {self.embedding_dim}]"
            )
        return out

    def _embed_prepared(self, prepared: Sequence[Prepared]) -> np.ndarray:
        """Run the model on every array of every item (same-shaped arrays batched together)
        and average each item's windows; rows are unit-norm ``float32``."""
        flat = [(item, array) for item, p in enumerate(prepared) for array in p.arrays]
        by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for k, (_, array) in enumerate(flat):
            by_shape[array.shape].append(k)
        outputs = np.zeros((len(flat), self.embedding_dim), np.float32)
        for indices in by_shape.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                outputs[chunk] = self._run(np.stack([flat[k][1] for k in chunk]))
        sums = np.zeros((len(prepared), self.embedding_dim), np.float64)
        np.add.at(sums, [item for item, _ in flat], outputs)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise ModelError(f"{self.info.name}: the model returned a zero or non-finite embedding")
        return (sums / norms).astype(np.float32)

    def _check_modality(self, x: Any) -> None:
        try:
            kind = input_modality(x)
        except InvalidInput:
            return  # cannot tell: let the preprocessing say what is wrong
        if kind != self.modality:
            what = "an image" if kind == "face" else "audio"
            raise InvalidInput(
                f"{describe(x)} is {what}, but {self.info.name} is a {self.modality} model"
            )

    def _acquire(self, inputs: Sequence[Any], tolerant: bool) -> list[Acquired | BioverifyError]:
        results: list[Acquired | BioverifyError] = []
        for start in range(0, len(inputs), self.batch_size):
            prepared: list[Prepared | BioverifyError] = []
            for x in inputs[start : start + self.batch_size]:
                try:
                    self._check_modality(x)
                    prepared.append(self.preprocess(x))
                except ACQUISITION_ERRORS as exc:
                    if not tolerant:
                        raise
                    prepared.append(exc)
            good = [p for p in prepared if isinstance(p, Prepared)]
            embeddings = iter(self._embed_prepared(good)) if good else iter(())
            for p in prepared:
                if isinstance(p, Prepared):
                    results.append(Acquired(next(embeddings), p.quality, p.notes, p.source))
                else:
                    results.append(p)
        return results

    def acquire(self, x: Any) -> Acquired:
        """Turn one input into a template: its embedding and what was measured on it.

        Parameters
        ----------
        x : str, path-like, bytes, numpy.ndarray, PIL image, (waveform, sample_rate) or Audio
            A photo (face model) or a recording (voice model).

        Returns
        -------
        Acquired
            ``embedding`` (``float32 [D]``, unit norm), ``quality`` (face box and size,
            detector score, sharpness; or duration, speech seconds, SNR), ``notes`` and
            ``source``.

        Raises
        ------
        NoFaceFound
            No face in the photo.
        NoSpeechFound
            Too little speech in the recording.
        InvalidInput
            The input cannot be read or decoded, or is of the other modality.

        See Also
        --------
        acquire_many, try_acquire_many, embed

        Examples
        --------
        >>> face = Verifier.load("face")
        >>> sample = face.acquire("examples/face_a1.jpg")
        >>> sample.embedding.shape, sample.quality["faces_found"], sample.quality["face_size"]
        ((128,), 1, 98)
        """
        (result,) = self.acquire_many([x])
        return result

    def acquire_many(self, inputs: Iterable[Any]) -> list[Acquired]:
        """:meth:`acquire` for many inputs, run through the model in batches.

        Parameters
        ----------
        inputs : iterable
            Photos or recordings of this model's modality.

        Returns
        -------
        list of Acquired
            One per input, in order.

        Raises
        ------
        NoFaceFound, NoSpeechFound, InvalidInput
            For the first input that cannot be acquired (see :meth:`try_acquire_many`).

        Examples
        --------
        >>> face = Verifier.load("face")
        >>> [a.source for a in face.acquire_many(["examples/face_a1.jpg", "examples/face_b1.jpg"])]
        ['examples/face_a1.jpg', 'examples/face_b1.jpg']
        """
        results = self._acquire(list(inputs), tolerant=False)
        return [r for r in results if isinstance(r, Acquired)]

    def try_acquire_many(self, inputs: Iterable[Any]) -> list[Acquired | BioverifyError]:
        """Like :meth:`acquire_many`, but an input that cannot be acquired gives its error
        in its place instead of stopping the batch.

        Parameters
        ----------
        inputs : iterable
            Photos or recordings of this model's modality.

        Returns
        -------
        list of Acquired or BioverifyError
            One per input, in order: an :class:`Acquired`, or the :class:`NoFaceFound`,
            :class:`NoSpeechFound` or :class:`InvalidInput` that input raised.

        Raises
        ------
        ModelError
            The model returned a malformed output (not a problem of one input).

        Examples
        --------
        >>> face = Verifier.load("face")
        >>> results = face.try_acquire_many(["examples/face_a1.jpg", "missing.jpg"])
        >>> [type(r).__name__ for r in results]
        ['Acquired', 'InvalidInput']
        >>> print(results[1])
        missing.jpg: cannot read image file (No such file or directory)
        """
        return self._acquire(list(inputs), tolerant=True)

    @overload
    def embed(self, inputs: Iterable[Any], on_error: Literal["raise"] = ...) -> np.ndarray: ...

    @overload
    def embed(self, inputs: Iterable[Any], on_error: Literal["skip"]) -> Embeddings: ...

    def embed(self, inputs: Iterable[Any], on_error: str = "raise") -> np.ndarray | Embeddings:
        """Unit-norm embeddings of the inputs, run through the model in batches.

        Parameters
        ----------
        inputs : iterable
            Photos or recordings of this model's modality (paths, bytes, arrays…).
        on_error : {"raise", "skip"}
            ``"raise"`` (default): the first input that cannot be acquired raises its
            error. ``"skip"``: every input that can be is embedded, and the others are
            reported.

        Returns
        -------
        numpy.ndarray or Embeddings
            ``"raise"``: ``float32 [N, D]``, one row per input. ``"skip"``: an
            :class:`~bioverify.verify.result.Embeddings` with the rows, their positions in
            ``inputs`` and each failed position's error.

        Raises
        ------
        NoFaceFound, NoSpeechFound, InvalidInput
            With ``on_error="raise"``, for the first input that cannot be acquired.

        Examples
        --------
        >>> from bioverify import Verifier
        >>> verifier = Verifier.load("face")
        >>> batch = verifier.embed(["examples/face_a1.jpg", "missing.jpg"], on_error="skip")
        >>> batch.vectors.shape[0], batch.index, list(batch.failures)
        (1, [0], [1])
        """
        if on_error not in ("raise", "skip"):
            raise InvalidInput(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        results = self._acquire(list(inputs), tolerant=on_error == "skip")
        good = [(k, r) for k, r in enumerate(results) if isinstance(r, Acquired)]
        vectors = (
            np.stack([r.embedding for _, r in good])
            if good
            else np.zeros((0, self.embedding_dim), np.float32)
        )
        if on_error == "raise":
            return vectors
        failures = {k: r for k, r in enumerate(results) if not isinstance(r, Acquired)}
        return Embeddings(vectors, [k for k, _ in good], failures)

    # -- decisions ---------------------------------------------------------------------------

    def score(self, a_emb: np.ndarray, b_emb: np.ndarray) -> float:
        """The score of two embeddings (higher = more similar).

        Parameters
        ----------
        a_emb, b_emb : numpy.ndarray
            Two embeddings of this model (``[D]``), for example rows of :meth:`embed`.

        Returns
        -------
        float
            Their cosine, AS-normalised when the verifier has a :attr:`normalizer`: the
            score :meth:`verify` compares with :attr:`threshold`.

        Raises
        ------
        InvalidInput
            The embeddings differ in size, or one is zero or not finite.

        See Also
        --------
        score_pairs : many pairs at once.
        result_for : the decision on a score.

        Examples
        --------
        >>> voice = Verifier.load("voice")
        >>> a, b = voice.embed(["examples/voice_a1.ogg", "examples/voice_a2.ogg"])
        >>> voice.score(a, b) >= voice.threshold  # one speaker: a match
        True
        """
        raw = cosine(a_emb, b_emb)
        if self.normalizer is None:
            return raw
        a, b = (np.asarray(x, np.float64).reshape(1, -1) for x in (a_emb, b_emb))
        return float(self.score_pairs(a / np.linalg.norm(a), b / np.linalg.norm(b))[0])

    def score_pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Scores of unit embedding pairs ``(a[i], b[i])``, as :meth:`score` gives them.

        Parameters
        ----------
        a, b : numpy.ndarray
            ``[N, D]`` unit-norm embeddings (a single ``[D]`` row is one pair).

        Returns
        -------
        numpy.ndarray
            ``float64 [N]``.

        Examples
        --------
        >>> face = Verifier.load("face")
        >>> e = face.embed(["examples/face_a1.jpg", "examples/face_a2.jpg", "examples/face_b1.jpg"])
        >>> face.score_pairs(e[[0, 0]], e[[1, 2]]).round(3)
        array([0.963, 0.804])
        """
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        if self.normalizer is not None:
            return self.normalizer.score(a, b)
        raw = np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64), axis=1)
        return np.clip(raw, -1.0, 1.0)

    def score_templates(self, probe: np.ndarray, templates: np.ndarray) -> np.ndarray:
        """Scores of one unit ``probe`` against each row of ``templates``, as :meth:`score`.

        Parameters
        ----------
        probe : numpy.ndarray
            ``[D]``, unit norm.
        templates : numpy.ndarray
            ``[M, D]`` unit-norm rows (enrolled templates).

        Returns
        -------
        numpy.ndarray
            ``float64 [M]``.

        Examples
        --------
        >>> face = Verifier.load("face")
        >>> e = face.embed(["examples/face_a1.jpg", "examples/face_a2.jpg", "examples/face_b1.jpg"])
        >>> face.score_templates(e[0], e[1:]).round(3)
        array([0.963, 0.804])
        """
        templates = np.atleast_2d(templates)
        return self.score_pairs(np.broadcast_to(probe, templates.shape), templates)

    def _require_threshold(self) -> float:
        if self.threshold is None:
            raise CalibrationError(
                f"no threshold for {self.info.name}: it has no calibration. Calibrate it on "
                "your data (`bioverify calibrate --model BUNDLE --data DIR --install`) or give "
                "a threshold explicitly (--threshold, threshold=)"
            )
        return self.threshold

    def result_for(self, score: float, notes: Iterable[str] = ()) -> VerifyResult:
        """The decision on a score at this verifier's threshold.

        Parameters
        ----------
        score : float
            A score of this verifier (:meth:`score`).
        notes : iterable of str
            Remarks to carry into the result.

        Returns
        -------
        VerifyResult
            ``match = score >= threshold``, with what the calibration knows at that
            threshold (FAR / FRR and intervals, LLR, probability, where it was measured).
            ``quality`` is empty: no input was seen.

        Raises
        ------
        CalibrationError
            The verifier has no threshold (no calibration and no ``threshold=``).

        Examples
        --------
        >>> face = Verifier.load("face")
        >>> face.result_for(0.95).match, face.result_for(0.5).match
        (True, False)
        >>> round(face.result_for(0.95).far, 4)
        0.0036
        """
        threshold = self._require_threshold()
        score = float(score)
        result = VerifyResult(
            match=score >= threshold,
            score=score,
            threshold=threshold,
            modality=self.modality,
            operating_point=self.operating_point,
            model_sha256=self.model_sha256,
            notes=list(notes),
        )
        if self.point is not None:
            op = self.point
            where_measured(result, self.calibration, op)
            result.far, result.frr = op.far, op.frr
            result.far_ci, result.frr_ci = op.far_ci, op.frr_ci
            result.supported = op.supported
            if not op.supported:
                result.notes.append(
                    f"the calibration had too few impostor trials to support {op.label} "
                    "(rule of three); its expected FAR is uncertain"
                )
        if self.calibration is not None and self.calibration.calibrator.is_fitted:
            calibrator = self.calibration.calibrator
            result.llr = float(calibrator.llr([score])[0])
            result.probability = float(calibrator.probability([score], self.prior)[0])
            result.prior = self.prior
            if math.isfinite(threshold):
                result.threshold_llr = float(calibrator.llr([threshold])[0])
                result.threshold_prior = float(1.0 / (1.0 + math.exp(result.threshold_llr)))
        return result

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
        results = []
        for k in range(len(pairs)):
            first, second = acquired[2 * k], acquired[2 * k + 1]
            notes = [f"a: {n}" for n in first.notes] + [f"b: {n}" for n in second.notes]
            result = self.result_for(float(scores[k]), notes)
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


__all__ = ["ACQUISITION_ERRORS", "Verifier", "cosine"]
