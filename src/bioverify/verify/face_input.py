"""Face preprocessing at run time: any image → the model's ``uint8 [S, S, 3]`` crop.

The model was trained on *aligned* frames (LFW: 250 × 250, face upright and centred) cropped
with a :class:`~bioverify.face_geometry.FaceGeometry`. At run time an image is either such a
frame already (mode ``"aligned"``: the geometry's :func:`~bioverify.face_geometry.crop_aligned`
is applied as in training) or an in-the-wild photo (mode ``"detect"``): a detector finds the
most prominent face, a similarity transform maps the photo into a virtual aligned frame,
and the same ``crop_aligned`` cuts the model input from that frame.

How a detection is placed in the frame:

* Haar boxes (no landmarks): OpenCV's frontal-face cascade was run on 1,000 random LFW images
  (seed 0; 997 detected, ``benchmarks``-style command in ``docs/architecture.md``). The
  largest box's median centre is (125.5, 126.0) and its median side 121 px in the 250 × 250
  frame (5th–95th percentile of the side: 107–139 px). A detected box is therefore scaled by
  ``121 / box side`` and its centre moved to (125.5, 126.0): :data:`HAAR_REFERENCE`. The
  geometry's default crop box (57, 49, 136, 136) is then 1.12 × the box, centred 9 px above
  the box centre.
* YuNet's five landmarks, when the geometry has a five-point template
  (``FaceGeometry.landmarks``, the default model's), are mapped onto it by the
  least-squares similarity transform; otherwise its eyes are mapped onto the mean LFW eye
  centres (104, 112) and (147, 111) (:data:`LFW_EYES`). Both undo in-plane rotation.

Both references are in LFW's 250 × 250 frame and are scaled to the geometry's
``frame_size``; they assume its frames follow LFW's alignment (true of every model this
project trains). The model input is then cut from the photo in one warp (the detection's
frame transform composed with the crop box), so a large face keeps its resolution.

The detector (default: the shipped YuNet for geometries with a five-point template, the Haar
cascade for older ones; :mod:`bioverify.verify.face_detect`) returns faces most prominent
first (the largest, unless one about as large is nearer the centre:
:func:`~bioverify.verify.face_detect.by_prominence`); that one is used unless ``face_index``
picks another, and the result's ``quality`` says
how many were found, the box used and the detector's score. YuNet also searches the photo
turned in steps of 45° when it finds no face upright (sideways photos); a
face found so has a ``rotation`` quality value and a note.

Mode ``"auto"`` (the default) detects; when no face is found and the image has the aligned
frame's aspect ratio (within 1 %) and between half and twice its size, it is taken as an
aligned frame, with a note saying so. Otherwise no face is :class:`NoFaceFound`. The same
fallback applies when no detector is available (an OpenCV without Haar cascades and no
YuNet model); other images then raise :class:`~bioverify.errors.MissingDependency`.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from bioverify.errors import InvalidInput, MissingDependency, NoFaceFound
from bioverify.face_geometry import (
    FaceGeometry,
    colour_convert,
    crop_aligned,
    similarity_transform,
)
from bioverify.verify.face_detect import FaceBox, FaceDetector, make_detector
from bioverify.verify.image_input import MAX_PIXELS, describe, load_image
from bioverify.verify.result import Prepared

FACE_MODES = ("auto", "aligned", "detect")
#: the frame the references below are measured in (LFW)
REFERENCE_FRAME = (250.0, 250.0)
#: median Haar box in the LFW frame: centre x, centre y, side (see the module docstring)
HAAR_REFERENCE = (125.5, 126.0, 121.0)
#: mean eye centres in the LFW frame: the image-left eye, then the image-right eye
LFW_EYES = ((104.0, 112.0), (147.0, 111.0))
#: a face smaller than this share of its size in the model input gets a note
_SMALL_FACE = 0.5


def _reference_scale(geometry: FaceGeometry) -> tuple[float, float]:
    return (
        geometry.frame_size[0] / REFERENCE_FRAME[0],
        geometry.frame_size[1] / REFERENCE_FRAME[1],
    )


def box_to_frame(box: FaceBox, geometry: FaceGeometry) -> np.ndarray:
    """The 2 × 3 affine matrix mapping photo pixels to frame pixels for a detection: five
    landmarks onto the geometry's template when both exist, else the eyes onto
    :data:`LFW_EYES` when the box has them, else the box onto :data:`HAAR_REFERENCE`
    (scale and shift only)."""
    if box.landmarks is not None and geometry.landmarks is not None:
        try:
            return similarity_transform(np.array(box.landmarks), np.array(geometry.landmarks))
        except InvalidInput as exc:
            raise NoFaceFound(f"the detector's landmarks cannot align a face ({exc})") from exc
    sx, sy = _reference_scale(geometry)
    if box.eyes is not None:
        (lx, ly), (rx, ry) = LFW_EYES
        target_l, target_r = complex(lx * sx, ly * sy), complex(rx * sx, ry * sy)
        source_l, source_r = complex(*box.eyes[0]), complex(*box.eyes[1])
        if source_l == source_r:
            raise NoFaceFound("the detector returned both eyes at one point; cannot align")
        a = (target_r - target_l) / (source_r - source_l)
        b = target_l - a * source_l
        return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])
    cx, cy, side = HAAR_REFERENCE
    k = side * sx / box.w
    centre_x, centre_y = box.x + box.w / 2, box.y + box.h / 2
    return np.array([[k, 0.0, cx * sx - k * centre_x], [0.0, k, cy * sy - k * centre_y]])


def warp_to_frame(image: np.ndarray, matrix: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """The virtual aligned frame: ``image`` warped by ``matrix`` (photo → frame pixels) into
    ``frame_size``, black outside the photo (like LFW's borders).

    Only the part of the photo the frame covers is used, and when the frame is smaller than
    the face in the photo that part is first shrunk with area interpolation (a plain warp
    would alias).
    """
    frame_w, frame_h = frame_size
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [frame_w, 0], [0, frame_h], [frame_w, frame_h]], np.float64)
    photo = corners @ inverse[:, :2].T + inverse[:, 2]
    height, width = image.shape[:2]
    x0 = min(max(int(np.floor(photo[:, 0].min())) - 2, 0), width - 1)
    y0 = min(max(int(np.floor(photo[:, 1].min())) - 2, 0), height - 1)
    x1 = max(min(int(np.ceil(photo[:, 0].max())) + 2, width), x0 + 1)
    y1 = max(min(int(np.ceil(photo[:, 1].max())) + 2, height), y0 + 1)
    region = image[y0:y1, x0:x1]
    m = matrix.astype(np.float64).copy()
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))  # frame px per photo px
    if scale < 0.9:
        size = (max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale)))
        shrink_x, shrink_y = size[0] / region.shape[1], size[1] / region.shape[0]
        region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        m[:, 0] /= shrink_x
        m[:, 1] /= shrink_y
    return cv2.warpAffine(
        region,
        m,
        (frame_w, frame_h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )


def crop_matrix(geometry: FaceGeometry) -> np.ndarray:
    """The 2 × 3 matrix taking frame pixels to model-input pixels (the crop box scaled to
    the output size).

    Examples
    --------
    >>> crop_matrix(FaceGeometry(crop_box=(50, 50, 100, 100), output_size=50)).tolist()
    [[0.5, 0.0, -25.0], [0.0, 0.5, -25.0]]
    """
    x, y, w, h = geometry.crop_box
    size = geometry.output_size
    return np.array([[size / w, 0.0, -x * size / w], [0.0, size / h, -y * size / h]])


def crop_detected(image: np.ndarray, matrix: np.ndarray, geometry: FaceGeometry) -> np.ndarray:
    """The model input ``uint8 [S, S, 3]`` cut from a photo in one warp: ``matrix`` (photo →
    frame pixels, from :func:`box_to_frame`) composed with :func:`crop_matrix`.

    Examples
    --------
    >>> photo = np.zeros((480, 640, 3), np.uint8)
    >>> identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> crop_detected(photo, identity, FaceGeometry(output_size=64)).shape
    (64, 64, 3)
    """
    to_crop = crop_matrix(geometry)
    combined = to_crop[:, :2] @ matrix
    combined[:, 2] += to_crop[:, 2]
    size = geometry.output_size
    return colour_convert(warp_to_frame(image, combined, (size, size)), geometry)


def looks_aligned(image: np.ndarray, geometry: FaceGeometry) -> bool:
    """The auto-mode fallback rule: the frame's aspect ratio within 1 % and between half and
    twice its size."""
    height, width = image.shape[:2]
    frame_w, frame_h = geometry.frame_size
    ratio_w, ratio_h = width / frame_w, height / frame_h
    return abs(ratio_w - ratio_h) <= 0.01 * max(ratio_w, ratio_h) and 0.5 <= ratio_w <= 2.0


class FacePreprocessor:
    """Turns an image input into the model input for one :class:`FaceGeometry`.

    ``mode`` is ``"auto"``, ``"aligned"`` or ``"detect"`` (module docstring). ``detector``
    is ``"yunet"`` (the shipped model), ``"haar"``, the path of a YuNet ``.onnx`` model, or
    a :class:`~bioverify.verify.face_detect.FaceDetector`; by default YuNet when the
    geometry has a five-point template (the default model), else Haar (models made before
    it, as they were measured). It is created on first use, so the aligned mode needs none.
    ``face_index`` picks the face to use when a photo has several (0: the most prominent; 1: the
    next…); a photo with fewer faces raises :class:`NoFaceFound`.

    Examples
    --------
    >>> from bioverify.face_geometry import FaceGeometry
    >>> prepare = FacePreprocessor(FaceGeometry(output_size=64), mode="aligned")
    >>> prepare(np.zeros((250, 250, 3), np.uint8)).arrays[0].shape
    (64, 64, 3)
    """

    def __init__(
        self,
        geometry: FaceGeometry,
        mode: str = "auto",
        detector: Any = None,
        max_pixels: int = MAX_PIXELS,
        face_index: int = 0,
    ) -> None:
        if mode not in FACE_MODES:
            raise InvalidInput(f"face mode must be one of {FACE_MODES}, got {mode!r}")
        if isinstance(face_index, bool) or not isinstance(face_index, int) or face_index < 0:
            raise InvalidInput(f"face_index must be an integer >= 0, got {face_index!r}")
        self.face_index = face_index
        self.geometry = geometry
        self.mode = mode
        self.max_pixels = max_pixels
        self._detector_spec = detector
        self._detector: FaceDetector | None = None

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            spec = self._detector_spec
            if spec is None:
                # a model aligned on YuNet's five points gets YuNet; an older model without
                # a template keeps the Haar cascade it was measured with (the previous
                # default face model on the LFW test identities: Haar 17.6 % EER, YuNet
                # eyes 20.0 %)
                spec = "yunet" if self.geometry.landmarks is not None else "haar"
            self._detector = make_detector(spec)
        return self._detector

    def __call__(self, x: Any) -> Prepared:
        source = describe(x)
        image = load_image(x, self.max_pixels)
        height, width = image.shape[:2]
        quality: dict[str, Any] = {"image_size": [width, height], "mode": self.mode}
        if self.mode == "aligned":
            return self._aligned(image, quality, [], source)
        try:
            detector = self.detector
        except MissingDependency as exc:
            if self.mode == "auto" and looks_aligned(image, self.geometry):
                note = f"no face detector available ({exc}); used the image as an aligned crop"
                return self._aligned(image, quality, [note], source)
            raise
        boxes = detector.detect(image)
        quality.update(detector=detector.name, faces_found=len(boxes))
        if not boxes:
            if self.mode == "auto" and looks_aligned(image, self.geometry):
                note = (
                    f"no face detected; the {width}x{height} image has the shape of the "
                    "model's aligned frames, so it was used as an aligned crop"
                )
                return self._aligned(image, quality, [note], source)
            raise NoFaceFound(
                f"{source}: no face found ({detector.name} detector); use a photo with "
                "a clearly visible frontal face, or --face-mode aligned (face_mode='aligned') for "
                "aligned crops"
            )
        return self._detected(image, boxes, quality, source)

    def _aligned(
        self, image: np.ndarray, quality: dict[str, Any], notes: list[str], source: str
    ) -> Prepared:
        quality.update(mode="aligned", face_box=None, face_size=None)
        try:
            crop = crop_aligned(image, self.geometry)
        except InvalidInput as exc:
            raise InvalidInput(
                f"{source}: {exc} (or use --face-mode detect, face_mode='detect')"
            ) from exc
        quality["sharpness"] = sharpness(crop)
        return Prepared([crop], quality, notes, source)

    def _detected(
        self, image: np.ndarray, boxes: list[FaceBox], quality: dict[str, Any], source: str
    ) -> Prepared:
        if self.face_index >= len(boxes):
            raise NoFaceFound(
                f"{source}: face {self.face_index} asked for (face_index, --face-index), but "
                f"{len(boxes)} face(s) found ({quality['detector']} detector)"
            )
        box = boxes[self.face_index]
        notes = []
        if len(boxes) > 1:
            x, y, w, h = box.as_list()
            which = "the most prominent" if self.face_index == 0 else f"face {self.face_index}"
            notes.append(
                f"{len(boxes)} faces found; used {which} ({w}x{h} px at {x},{y}); "
                "face_index (--face-index) picks another"
            )
        if box.rotation:
            notes.append(
                f"the face was found in the photo turned by {box.rotation} degrees "
                "(counter-clockwise); it was aligned upright"
            )
        matrix = box_to_frame(box, self.geometry)
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # frame px per photo px
        model_px = self.geometry.output_size / self.geometry.crop_box[2]  # model px per frame px
        face_in_model = box.w * scale * model_px
        if box.w < _SMALL_FACE * face_in_model:
            notes.append(
                f"the face is only {round(box.w)} px wide but fills about "
                f"{round(face_in_model)} px of the model input; it was upscaled, so accuracy "
                "may be lower"
            )
        quality.update(
            mode="detect",
            face_box=box.as_list(),
            face_size=round(box.w),
            face_index=self.face_index,
        )
        if box.score is not None:
            quality["detector_score"] = box.score
        if box.rotation:
            quality["rotation"] = box.rotation
        crop = crop_detected(image, matrix, self.geometry)
        quality["sharpness"] = sharpness(crop)
        return Prepared([crop], quality, notes, source)


def sharpness(crop: np.ndarray) -> float:
    """The variance of the Laplacian of the model input in grayscale: a focus measure (a
    blurred or heavily compressed face scores low), a quality value of every face.

    Examples
    --------
    >>> flat = np.full((64, 64, 3), 128, np.uint8)
    >>> sharpness(flat)
    0.0
    >>> noisy = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> sharpness(noisy) > 1000
    True
    """
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    return round(float(cv2.Laplacian(gray, cv2.CV_64F).var()), 2)


__all__ = [
    "FACE_MODES",
    "HAAR_REFERENCE",
    "LFW_EYES",
    "FacePreprocessor",
    "box_to_frame",
    "crop_detected",
    "crop_matrix",
    "looks_aligned",
    "sharpness",
    "warp_to_frame",
]
