"""Face detectors for in-the-wild photos: YuNet (the default) or OpenCV's Haar cascade.

A detector takes ``uint8 [H, W, 3]`` RGB and returns :class:`FaceBox` es, most prominent first
(:func:`by_prominence`: the largest, unless one about as large is nearer the centre).
:class:`YuNetDetector` runs the YuNet model shipped in ``bioverify/models/yunet/`` (OpenCV
model zoo, MIT licence beside it; :data:`YUNET_MODEL`) or another YuNet ``.onnx`` through
``cv2.FaceDetectorYN`` and gives five landmarks. :class:`HaarDetector` uses the
frontal-face cascade that opencv-python 4.x ships in ``cv2.data.haarcascades`` (no
download); OpenCV 5 dropped the cascades and
``CascadeClassifier`` from its wheels, so bioverify requires ``opencv-python-headless<5``
(see ``pyproject.toml``); it gives boxes only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from bioverify.errors import MissingDependency, ModelError

HAAR_CASCADE = "haarcascade_frontalface_default.xml"
#: the YuNet model shipped with the package (OpenCV model zoo, MIT; LICENSE beside it)
YUNET_MODEL = (
    Path(__file__).resolve().parent.parent
    / "models"
    / "yunet"
    / ("face_detection_yunet_2026may.onnx")
)
#: detector names :func:`make_detector` accepts besides a path
DETECTOR_NAMES = ("yunet", "haar")
#: a YuNet box is kept only when at least this part of it lies inside the image: the rest
#: are artefacts of degenerate inputs (a strip a few pixels high), not faces to align
MIN_INSIDE = 0.5
#: nor are boxes under this many pixels wide or high in the image YuNet saw (its model card
#: gives about 10 × 10 px as the smallest face it finds)
MIN_FACE_PX = 8.0
#: in-plane turns (degrees, counter-clockwise) of a photo YuNet searches when the upright
#: photo has no face: YuNet finds faces turned up to about 30° (150 random LFW photos turned
#: by 30°: 140 found; 40°: 80; 60°: 5; 90°: 4), so eight turns 45° apart leave no gap. A
#: turn that puts the face upside down can give a face too, with its landmarks wrong but
#: scored lower, so the turn whose best face scores highest wins: on 200 LFW photos turned
#: by ±90, 45 or 135°, that was the right turn every time. Only when nothing is found
#: upright: comparing scores across turns when an upright face *was* found chose a wrong
#: turn for 12 of 100 photos with 450 px faces (whose upright scores run low), at 10× the
#: time
ROTATIONS = (90, -90, 180, 45, -45, 135, -135)

Point = tuple[float, float]


@dataclass(frozen=True)
class FaceBox:
    """A detected face: box ``(x, y, w, h)`` in image pixels, a detector score if it has one,
    the two eye centres ``((x, y), (x, y))`` (image-left first) and, from YuNet, its five
    ``landmarks`` in its own order (right eye, left eye, nose tip, right and left mouth
    corner, as OpenCV names them: the subject's right eye is on the image's left)."""

    x: float
    y: float
    w: float
    h: float
    score: float | None = None
    eyes: tuple[Point, Point] | None = None
    landmarks: tuple[Point, ...] | None = None
    #: how far (degrees, counter-clockwise) the photo was turned for the detector to find
    #: this face; its box is the upright bounding box of the turned one
    rotation: int = 0

    @property
    def area(self) -> float:
        return self.w * self.h

    def as_list(self) -> list[int]:
        """``[x, y, w, h]`` rounded to whole pixels."""
        return [round(self.x), round(self.y), round(self.w), round(self.h)]


class FaceDetector(Protocol):
    """What :class:`~bioverify.verify.face_input.FacePreprocessor` needs from a detector."""

    #: short name used in results ("haar", "yunet")
    name: str

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in ``uint8 [H, W, 3]`` RGB, most prominent first (:func:`by_prominence`)."""
        ...


def _one_line(exc: cv2.error) -> str:
    """OpenCV's multi-line error message on one line, shortened."""
    text = " ".join(str(exc.msg if hasattr(exc, "msg") else exc).split())
    return text if len(text) <= 240 else text[:237] + "..."


def _shrink(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image scaled down (area interpolation) so its longer side is at most
    ``max_side``, and the factor that maps its coordinates back."""
    longest = max(image.shape[:2])
    if longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), 1.0 / scale


class HaarDetector:
    """OpenCV's Viola–Jones frontal-face cascade.

    The image is converted to grayscale and, when its longer side exceeds ``max_side``,
    shrunk to it first (detection on a 12-megapixel photo is otherwise slow); boxes are
    mapped back to the original pixels. ``min_size`` is the smallest face searched for, in
    pixels of the (shrunk) detection image.
    """

    name = "haar"

    def __init__(
        self,
        cascade: Path | str | None = None,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: int = 24,
        max_side: int = 1024,
    ) -> None:
        if not hasattr(cv2, "CascadeClassifier"):
            raise MissingDependency(
                f"this OpenCV ({cv2.__version__}) has no Haar cascades (OpenCV 5 removed "
                "them); install opencv-python-headless<5 or pass a YuNet detector model"
            )
        if cascade is None:
            from cv2.data import haarcascades

            cascade = Path(haarcascades) / HAAR_CASCADE
            if not cascade.is_file():
                raise MissingDependency(
                    f"{cascade} is missing: this OpenCV build ships no Haar cascades; install "
                    "opencv-python-headless<5 or pass a YuNet detector model"
                )
        self.cascade_path = Path(cascade)
        self._cascade = cv2.CascadeClassifier(str(self.cascade_path))
        if self._cascade.empty():
            raise ModelError(f"{self.cascade_path}: not a readable OpenCV cascade file")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self.max_side = max_side

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        small, back = _shrink(image, self.max_side)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        found = self._cascade.detectMultiScale(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
        )
        boxes = [
            FaceBox(float(x) * back, float(y) * back, float(w) * back, float(h) * back)
            for x, y, w, h in np.asarray(found).reshape(-1, 4)
        ]
        return by_prominence(boxes, image.shape[1], image.shape[0])


class YuNetDetector:
    """A YuNet ONNX face detector (``cv2.FaceDetectorYN``), with five landmarks.

    ``model`` is the path of a YuNet ``.onnx`` file (default: the one shipped,
    :data:`YUNET_MODEL`; bioverify downloads nothing). Faces scoring below
    ``score_threshold`` are dropped. Images whose longer side exceeds ``max_side`` are
    shrunk before detection; images whose longer side is under ``min_side`` are enlarged to
    it (YuNet misses faces that fill a small image, such as a 92 × 112 head shot). YuNet
    also misses very large faces (a 450 px face in a 1000 px photo: 36 of 879 LFW val photos
    scaled by 4 were missed), so when nothing is found in an image larger than
    ``retry_side``, it is searched again shrunk to that size. When still no face is found,
    the photo is searched turned by each of ``rotations`` (:data:`ROTATIONS`: YuNet misses
    faces turned more than about 30°), and the faces of the turn whose best face scores
    highest are kept, each with its ``rotation``. (An upside-down photo is not always
    helped: YuNet finds a face in it upright in about half of such photos, with its
    landmarks wrong.) Boxes and landmarks are given in the original image's pixels.

    Examples
    --------
    >>> import numpy as np
    >>> YuNetDetector().detect(np.zeros((112, 92, 3), np.uint8))
    []
    """

    name = "yunet"

    def __init__(
        self,
        model: Path | str | None = None,
        score_threshold: float = 0.8,
        nms_threshold: float = 0.3,
        max_side: int = 1024,
        min_side: int = 320,
        retry_side: int = 480,
        rotations: tuple[int, ...] = ROTATIONS,
    ) -> None:
        self.model_path = Path(model) if model is not None else YUNET_MODEL
        if not self.model_path.is_file():
            raise ModelError(f"{self.model_path}: YuNet detector model not found")
        try:
            self._detector = cv2.FaceDetectorYN.create(
                str(self.model_path), "", (320, 320), score_threshold, nms_threshold, 5000
            )
        except cv2.error as exc:
            raise ModelError(
                f"{self.model_path}: not a usable YuNet model ({_one_line(exc)})"
            ) from exc
        self.max_side = max_side
        self.min_side = min_side
        self.retry_side = retry_side
        self.rotations = rotations

    def _resized(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        longest = max(image.shape[:2])
        if longest >= self.min_side:
            return _shrink(image, self.max_side)
        scale = self.min_side / longest
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR), 1.0 / scale

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        boxes = self._upright(image)
        if boxes or not self.rotations:
            return by_prominence(boxes, image.shape[1], image.shape[0])
        # turned at detection size: turning a 40-megapixel photo would cost more than
        # searching it
        small, enlarge = _shrink(image, self.max_side)
        best = 0.0
        for angle in self.rotations:
            turned, back = _turned(small, angle)
            back *= enlarge
            found = self._upright(turned)
            score = _best_score(found)
            if score > best:
                boxes = [_turned_back(box, back, angle) for box in found]
                best = score
        return by_prominence(boxes, image.shape[1], image.shape[0])

    def _upright(self, image: np.ndarray) -> list[FaceBox]:
        boxes = self._detect_at(*self._resized(image))
        if not boxes and max(image.shape[:2]) > self.retry_side:
            boxes = self._detect_at(*_shrink(image, self.retry_side))
        return boxes

    def _detect_at(self, resized: np.ndarray, back: float) -> list[FaceBox]:
        """Faces in ``resized``, mapped back to the original pixels by ``back``."""
        self._detector.setInputSize((resized.shape[1], resized.shape[0]))
        try:
            _, faces = self._detector.detect(cv2.cvtColor(resized, cv2.COLOR_RGB2BGR))
        except cv2.error as exc:
            raise ModelError(
                f"{self.model_path}: YuNet detection failed ({_one_line(exc)})"
            ) from exc
        boxes = []
        for row in np.zeros((0, 15)) if faces is None else np.asarray(faces):
            # on degenerate inputs (a strip a few pixels high) YuNet can give inf/NaN boxes,
            # or finite ones that lie mostly outside the image: neither is a face to align
            if not np.isfinite(row[:15]).all() or min(row[2], row[3]) < MIN_FACE_PX:
                continue
            if _inside_fraction(row[:4], resized.shape[1], resized.shape[0]) < MIN_INSIDE:
                continue
            x, y, w, h = (float(v) * back for v in row[:4])
            points = tuple(
                (float(row[i]) * back, float(row[i + 1]) * back) for i in range(4, 14, 2)
            )
            left, right = sorted(points[:2])  # by x: the eye on the image's left first
            boxes.append(
                FaceBox(x, y, w, h, score=float(row[14]), eyes=(left, right), landmarks=points)
            )
        return boxes


def by_prominence(boxes: list[FaceBox], width: int, height: int) -> list[FaceBox]:
    """Faces in order of prominence: area × (1 − ½ · the distance of the box's centre from
    the image's, over half the image's diagonal). The largest face comes first unless one
    about as large lies nearer the centre — a face at the centre counts fully, one in a
    corner half, so a face twice as large comes first wherever it is. On LFW's ``pairs.txt``
    images, 576 of 7,701 have several faces, and in 9 of them (faces of nearly equal
    size) the largest was not the centred, labelled person.

    Examples
    --------
    >>> corner = FaceBox(0, 0, 100, 100)
    >>> centre = FaceBox(450, 450, 95, 95)
    >>> [b.x for b in by_prominence([corner, centre], 1000, 1000)]
    [450, 0]
    >>> [b.x for b in by_prominence([FaceBox(0, 0, 200, 200), centre], 1000, 1000)]
    [0, 450]
    """
    half_diagonal = max(float(np.hypot(width, height)) / 2, 1.0)

    def prominence(box: FaceBox) -> float:
        offset = np.hypot(box.x + box.w / 2 - width / 2, box.y + box.h / 2 - height / 2)
        return box.area * (1.0 - 0.5 * min(float(offset) / half_diagonal, 1.0))

    return sorted(boxes, key=lambda b: -prominence(b))


def _best_score(boxes: list[FaceBox]) -> float:
    return max((box.score or 0.0 for box in boxes), default=0.0)


def _turned(image: np.ndarray, angle: int) -> tuple[np.ndarray, np.ndarray]:
    """``image`` turned by ``angle`` degrees counter-clockwise on a canvas that holds all of
    it (black corners), and the 2 × 3 matrix mapping the turned image's pixels back."""
    height, width = image.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    size = (round(width * cos + height * sin), round(width * sin + height * cos))
    turn[:, 2] += (size[0] / 2 - width / 2, size[1] / 2 - height / 2)
    if angle % 90 == 0:  # exact, no resampling
        turned = np.ascontiguousarray(np.rot90(image, (angle // 90) % 4))
    else:
        turned = cv2.warpAffine(image, turn, size, flags=cv2.INTER_LINEAR)
    return turned, cv2.invertAffineTransform(turn)


def _turned_back(box: FaceBox, back: np.ndarray, angle: int) -> FaceBox:
    """A face found in a turned photo, in the photo's own pixels: landmarks mapped exactly,
    the box as the upright bounding box of the turned one."""

    def mapped(points: np.ndarray) -> np.ndarray:
        return points @ back[:, :2].T + back[:, 2]

    corners = mapped(
        np.array(
            [
                [box.x, box.y],
                [box.x + box.w, box.y],
                [box.x, box.y + box.h],
                [box.x + box.w, box.y + box.h],
            ]
        )
    )
    x0, y0 = corners.min(axis=0)
    x1, y1 = corners.max(axis=0)
    landmarks = None
    eyes = None
    if box.landmarks is not None:
        points = mapped(np.array(box.landmarks))
        landmarks = tuple((float(x), float(y)) for x, y in points)
        # the subject's right eye first: the one on the image's left when the face is upright
        eyes = (landmarks[0], landmarks[1])
    return FaceBox(
        float(x0),
        float(y0),
        float(x1 - x0),
        float(y1 - y0),
        score=box.score,
        eyes=eyes,
        landmarks=landmarks,
        rotation=angle,
    )


def _inside_fraction(box: np.ndarray, width: int, height: int) -> float:
    """The part of ``box`` (x, y, w, h) that lies inside a ``width`` × ``height`` image."""
    x, y, w, h = (float(v) for v in box)
    inside_w = max(0.0, min(x + w, width) - max(x, 0.0))
    inside_h = max(0.0, min(y + h, height) - max(y, 0.0))
    return inside_w * inside_h / (w * h)


def make_detector(spec: FaceDetector | Path | str | None) -> FaceDetector:
    """``None`` or ``"yunet"`` → the shipped :class:`YuNetDetector`; ``"haar"`` →
    :class:`HaarDetector`; a path to an ``.onnx`` file → :class:`YuNetDetector` with that
    model; a detector object is returned as is.

    Examples
    --------
    >>> make_detector(None).name
    'yunet'
    """
    if spec is None or spec == "yunet":
        return YuNetDetector()
    if spec == "haar":
        return HaarDetector()
    if isinstance(spec, str | Path):
        path = Path(spec)
        if path.suffix.lower() != ".onnx":
            raise ModelError(
                f"face detector {str(spec)!r}: expected 'yunet', 'haar' or the path of a "
                "YuNet .onnx file"
            )
        return YuNetDetector(path)
    return spec


__all__ = [
    "DETECTOR_NAMES",
    "ROTATIONS",
    "YUNET_MODEL",
    "FaceBox",
    "FaceDetector",
    "HaarDetector",
    "YuNetDetector",
    "by_prominence",
    "make_detector",
]
