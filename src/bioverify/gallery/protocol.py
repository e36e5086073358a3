"""What the gallery needs from a verifier, as :class:`typing.Protocol` s.

:class:`bioverify.verify.verifier.Verifier` satisfies :class:`GalleryVerifier`; so does any
object with the same attributes (the tests use a small fake). The gallery never looks
deeper than this: it stores what :meth:`GalleryVerifier.acquire` returns and asks
:meth:`GalleryVerifier.result_for` to turn a score into a decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from bioverify.bundle import BundleInfo
from bioverify.errors import BioverifyError


class Acquisition(Protocol):
    """One sample turned into a template: :attr:`embedding` is ``float32 [D]``, unit norm."""

    @property
    def embedding(self) -> np.ndarray: ...
    @property
    def quality(self) -> dict[str, Any]: ...
    @property
    def notes(self) -> list[str]: ...
    @property
    def source(self) -> str: ...


class Decision(Protocol):
    """A verification decision for one score (``VerifyResult`` in the runtime)."""

    @property
    def match(self) -> bool: ...
    @property
    def score(self) -> float: ...
    @property
    def operating_point(self) -> str | None:
        """The calibrated operating point of the threshold (``"FAR=0.001"``), if any."""
        ...

    @property
    def far(self) -> float | None:
        """The false accept rate measured at that operating point, if known."""
        ...

    def to_dict(self) -> dict[str, Any]: ...


class GalleryVerifier(Protocol):
    """The part of ``Verifier`` the gallery uses."""

    @property
    def info(self) -> BundleInfo: ...
    @property
    def model_sha256(self) -> str: ...
    @property
    def modality(self) -> str: ...
    @property
    def embedding_dim(self) -> int: ...
    @property
    def threshold(self) -> float | None: ...

    def acquire(self, x: Any) -> Acquisition:
        """Embed one sample; raise ``NoFaceFound`` / ``NoSpeechFound`` / ``InvalidInput``."""
        ...

    def try_acquire_many(self, inputs: Iterable[Any]) -> Sequence[Acquisition | BioverifyError]:
        """Embed samples in batches; one that fails to acquire gives its error in its place."""
        ...

    def result_for(self, score: float, notes: Sequence[str] = ()) -> Decision:
        """The decision for ``score`` at the verifier's calibrated threshold."""
        ...

    def score_templates(self, probe: np.ndarray, templates: np.ndarray) -> np.ndarray:
        """Scores of a unit probe against each row of ``templates``, as the verifier scores
        a pair (cosine, or AS-Norm when it normalises)."""
        ...


__all__ = ["Acquisition", "Decision", "GalleryVerifier"]
