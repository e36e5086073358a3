"""Acquisition and embedding: inputs to unit-norm templates through a bundle's model.

:class:`EmbeddingMixin` is the half of :class:`~bioverify.verify.Verifier` that reads inputs
(checks their modality, preprocesses them), runs the onnxruntime session in batches and
averages each input's windows into one unit-norm embedding. The decision half is
:class:`~bioverify.verify.decisions.DecisionMixin`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal, overload

import numpy as np

from bioverify.bundle import BundleInfo
from bioverify.errors import BioverifyError, InvalidInput, ModelError, NoFaceFound, NoSpeechFound
from bioverify.verify.face_input import FacePreprocessor
from bioverify.verify.image_input import describe
from bioverify.verify.inputs import input_modality
from bioverify.verify.result import Acquired, Embeddings, Prepared
from bioverify.verify.voice_input import VoicePreprocessor

#: errors that mean "this input could not be turned into a template" (failures to acquire)
ACQUISITION_ERRORS = (InvalidInput, NoFaceFound, NoSpeechFound)


class EmbeddingMixin:
    """Acquire and embed inputs: the embedding half of :class:`~bioverify.verify.Verifier`.

    The attributes below are set by ``Verifier.__init__``.

    Attributes
    ----------
    info : BundleInfo
        The bundle, for its name in messages.
    modality : {"face", "voice"}
        What the model embeds; an input of the other modality is refused.
    embedding_dim : int
        The size ``D`` of an embedding.
    batch_size : int
        Model inputs per onnxruntime call.
    preprocess : FacePreprocessor or VoicePreprocessor
        Turns one input into the model's arrays (:class:`~bioverify.verify.result.Prepared`).
    """

    info: BundleInfo
    modality: str
    embedding_dim: int
    batch_size: int
    preprocess: FacePreprocessor | VoicePreprocessor
    _session: Any
    _input_name: str
    _output_name: str

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
        >>> from bioverify import Verifier
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
            Photos or recordings of this model's modality, each of a type :meth:`acquire`
            takes; the iterable is read once, before the first batch runs.

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
        >>> from bioverify import Verifier
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
            Photos or recordings of this model's modality; some may hold no face or speech.

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
        >>> from bioverify import Verifier
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


__all__ = ["ACQUISITION_ERRORS", "EmbeddingMixin"]
