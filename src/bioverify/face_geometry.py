"""How an aligned face image becomes the face model's input (no torch).

A :class:`FaceGeometry` is everything needed to reproduce the crop exactly: the frame the
crop box refers to, the box, the output size, the colour mode and the interpolation. Training
stores it with the model and the runtime applies the same :func:`crop_aligned`.

The default box was chosen on the shared LFW set (grayscale, aligned, 250 × 250). On the mean
of 1,500 random LFW images the eye centres sit at about (104, 112) and (147, 111), 43 px apart,
and the mouth line at y ≈ 160. The standard 112 × 112 ArcFace template puts the eyes 35.2 px
apart at y = 51.6 and the mouth 40.7 px below the eyes; matching both scales gives a square
box of side 136 (136 / 112 = 1.21 ≈ 43 / 35.2 ≈ 49 / 40.7) whose top-left corner puts the eye
centre at the template's place: x0 = 125.5 − 56 × 1.21 ≈ 57, y0 = 111.5 − 51.6 × 1.21 ≈ 49. The
box (57, 49, 136, 136) therefore centres on (125, 117), 8 px below the image centre, and keeps
forehead to chin while dropping most of the background and LFW's rotated black borders.

A geometry may also carry a five-point ``landmarks`` template (YuNet's points, in frame
pixels): the runtime then aligns a detected face by the least-squares similarity transform
from its five landmarks onto the template (:func:`similarity_transform`) instead of its two
eyes. The default face model's template was fitted so that its crops reproduce dlib's
face chips (``recipes/face_resnet_dlib/fit_template.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from bioverify.errors import InvalidInput

COLOUR_MODES = ("gray", "rgb")
#: points in a landmark template (YuNet: right eye, left eye, nose tip, mouth corners)
LANDMARKS = 5
_INTERPOLATIONS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}
# relative difference in x and y scale tolerated when an image's size differs from the frame
_ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class FaceGeometry:
    """A crop box in an aligned frame, resized to a square model input.

    ``frame_size`` is the (width, height) of the aligned images the box is given in; an image
    of another size but the same aspect ratio has the box scaled to it. ``crop_box`` is
    (x, y, width, height) in frame pixels. ``colour="gray"`` converts to grayscale and
    replicates it to three channels; ``"rgb"`` keeps colour. ``interpolation`` is the
    OpenCV resize method (``"area"`` or ``"linear"``).
    """

    frame_size: tuple[int, int] = (250, 250)
    crop_box: tuple[int, int, int, int] = (57, 49, 136, 136)
    output_size: int = 112
    colour: str = "gray"
    interpolation: str = "area"
    landmarks: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        frame_w, frame_h = self.frame_size
        x, y, w, h = self.crop_box
        if frame_w <= 0 or frame_h <= 0:
            raise InvalidInput(f"frame_size must be positive, got {self.frame_size}")
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > frame_w or y + h > frame_h:
            raise InvalidInput(
                f"crop_box {self.crop_box} (x, y, width, height) must lie inside the "
                f"{frame_w}×{frame_h} frame"
            )
        if self.output_size <= 0:
            raise InvalidInput(f"output_size must be positive, got {self.output_size}")
        if self.colour not in COLOUR_MODES:
            raise InvalidInput(f"colour must be one of {COLOUR_MODES}, got {self.colour!r}")
        if self.interpolation not in _INTERPOLATIONS:
            raise InvalidInput(
                f"interpolation must be one of {tuple(_INTERPOLATIONS)}, got {self.interpolation!r}"
            )
        if self.landmarks is not None:
            points = np.asarray(self.landmarks, dtype=np.float64)
            if points.shape != (LANDMARKS, 2) or not np.isfinite(points).all():
                raise InvalidInput(
                    f"landmarks must be {LANDMARKS} finite (x, y) points, got {self.landmarks!r}"
                )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists; ``landmarks`` only when set, so geometries
        without a template keep their original form)."""
        data = {key: list(v) if isinstance(v, tuple) else v for key, v in asdict(self).items()}
        if self.landmarks is None:
            del data["landmarks"]
        else:
            data["landmarks"] = [list(point) for point in self.landmarks]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceGeometry:
        """Rebuild a geometry written by :meth:`to_dict`; unknown or missing keys are refused
        (``landmarks`` is optional)."""
        expected = {"frame_size", "crop_box", "output_size", "colour", "interpolation"}
        if not isinstance(data, dict) or set(data) - {"landmarks"} != expected:
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise InvalidInput(
                f"face geometry needs exactly the keys {sorted(expected)}, got {got}"
            )
        try:
            frame_size = _int_tuple(data["frame_size"], 2)
            crop_box = _int_tuple(data["crop_box"], 4)
            output_size = _as_int(data["output_size"])
            landmarks = data.get("landmarks")
            if landmarks is not None:
                landmarks = tuple(_point(point) for point in landmarks)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"face geometry has a malformed value: {exc}") from exc
        return cls(
            frame_size=(frame_size[0], frame_size[1]),
            crop_box=(crop_box[0], crop_box[1], crop_box[2], crop_box[3]),
            output_size=output_size,
            colour=str(data["colour"]),
            interpolation=str(data["interpolation"]),
            landmarks=landmarks,
        )


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _point(value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"expected an (x, y) point, got {value!r}")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
        raise ValueError(f"expected numbers, got {value!r}")
    return float(value[0]), float(value[1])


def _int_tuple(value: Any, length: int) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or len(value) != length:
        raise ValueError(f"expected {length} integers, got {value!r}")
    return tuple(_as_int(v) for v in value)


def crop_aligned(image: np.ndarray, geometry: FaceGeometry) -> np.ndarray:
    """Crop and resize an aligned face image to the model input ``uint8 [S, S, 3]``.

    ``image`` is ``uint8 [H, W]`` (grayscale) or ``uint8 [H, W, 3]`` RGB, as
    :func:`bioverify.media.read_image` returns. Its aspect ratio must match the geometry's
    frame; the crop box is scaled by ``W / frame_width`` (rounded to whole pixels).
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InvalidInput("face image must be a uint8 numpy array (decode it with read_image)")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise InvalidInput(
            f"face image must be [H, W] or [H, W, 3] RGB, got shape {tuple(image.shape)}"
        )
    height, width = image.shape[:2]
    frame_w, frame_h = geometry.frame_size
    scale_x, scale_y = width / frame_w, height / frame_h
    if abs(scale_x - scale_y) > _ASPECT_TOLERANCE * max(scale_x, scale_y):
        raise InvalidInput(
            f"face image is {width}×{height} but the crop geometry expects aligned images "
            f"shaped like {frame_w}×{frame_h}; align the face to that frame first"
        )
    x, y, w, h = geometry.crop_box
    left, top = round(x * scale_x), round(y * scale_y)
    right, bottom = round((x + w) * scale_x), round((y + h) * scale_y)
    crop = image[top:bottom, left:right]
    if geometry.colour == "gray" and crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    size = geometry.output_size
    resized = cv2.resize(crop, (size, size), interpolation=_INTERPOLATIONS[geometry.interpolation])
    return colour_convert(resized, geometry)


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2 × 3 similarity (rotation, uniform scale, shift) mapping ``source`` points onto
    ``target`` points with the least squared error (Umeyama's closed form, no reflection).

    Examples
    --------
    >>> m = similarity_transform(np.array([[0, 0], [1, 0], [0, 1]]),
    ...                          np.array([[1, 1], [1, 3], [-1, 1]]))
    >>> (np.round(m, 6) + 0.0).tolist()
    [[0.0, -2.0, 1.0], [2.0, 0.0, 1.0]]
    """
    source = np.asarray(source, np.float64)
    target = np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(0), target.mean(0)
    s, t = source - source_mean, target - target_mean
    variance = float((s**2).sum())
    if variance <= 0:
        raise InvalidInput("cannot align on landmarks that all coincide")
    # as complex numbers the best similarity is t ≈ a·s with a = Σ conj(s)·t / Σ |s|²
    sc, tc = s[:, 0] + 1j * s[:, 1], t[:, 0] + 1j * t[:, 1]
    a = complex((np.conj(sc) * tc).sum() / variance)
    linear = np.array([[a.real, -a.imag], [a.imag, a.real]])
    return np.hstack([linear, (target_mean - linear @ source_mean)[:, None]])


def colour_convert(crop: np.ndarray, geometry: FaceGeometry) -> np.ndarray:
    """A crop in the geometry's colour mode as ``uint8 [S, S, 3]`` (gray is replicated to
    three channels).

    Examples
    --------
    >>> colour_convert(np.zeros((4, 4), np.uint8), FaceGeometry()).shape
    (4, 4, 3)
    """
    if geometry.colour == "gray" and crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    if crop.ndim == 2:
        crop = np.repeat(crop[:, :, None], 3, axis=2)
    return np.ascontiguousarray(crop)


__all__ = [
    "COLOUR_MODES",
    "LANDMARKS",
    "FaceGeometry",
    "colour_convert",
    "crop_aligned",
    "similarity_transform",
]
