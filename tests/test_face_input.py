"""Face preprocessing: aligned crops, YuNet and Haar detection, the detection → frame mapping."""

from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from bioverify.errors import InvalidInput, ModelError, NoFaceFound
from bioverify.face_geometry import FaceGeometry, crop_aligned
from bioverify.media import read_image
from bioverify.verify.face_detect import FaceBox, make_detector
from bioverify.verify.face_input import (
    HAAR_REFERENCE,
    LFW_EYES,
    FacePreprocessor,
    box_to_frame,
    looks_aligned,
)
from helpers import DEFAULT_FACE, FACES, LFW, POWELL_1, POWELL_6, SERENA, one_line_error, run_cli

needs_haar = pytest.mark.skipif(
    not hasattr(cv2, "CascadeClassifier"),
    reason="this OpenCV has no Haar cascades (OpenCV 5); bioverify pins opencv<5",
)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(float).ravel(), b.astype(float).ravel())[0, 1])


class _FixedDetector:
    """A detector that returns given boxes."""

    name = "fixed"

    def __init__(self, boxes: list[FaceBox]) -> None:
        self.boxes = boxes

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        return list(self.boxes)


def test_aligned_mode_is_the_training_crop() -> None:
    geometry = FaceGeometry()
    prepared = FacePreprocessor(geometry, mode="aligned")(POWELL_1)
    np.testing.assert_array_equal(prepared.arrays[0], crop_aligned(read_image(POWELL_1), geometry))
    assert prepared.quality["mode"] == "aligned" and prepared.quality["face_box"] is None
    with pytest.raises(InvalidInput, match="face_mode='detect'"):
        FacePreprocessor(geometry, mode="aligned")(np.zeros((100, 300, 3), np.uint8))


def test_reference_box_maps_onto_itself() -> None:
    cx, cy, side = HAAR_REFERENCE
    box = FaceBox(cx - side / 2, cy - side / 2, side, side)
    np.testing.assert_allclose(box_to_frame(box, FaceGeometry()), [[1, 0, 0], [0, 1, 0]])
    # the same face twice as large and shifted in a photo maps back onto the reference
    matrix = box_to_frame(FaceBox(300, 100, 2 * side, 2 * side), FaceGeometry())
    centre = matrix @ np.array([300 + side, 100 + side, 1.0])
    np.testing.assert_allclose(centre, [cx, cy])
    assert matrix[0, 0] == pytest.approx(0.5)


def test_eye_landmarks_map_onto_the_lfw_eyes_and_undo_rotation() -> None:
    (lx, ly), (rx, ry) = LFW_EYES
    # eyes of a face rotated by 90° and scaled ×2 in a photo
    left, right = (500.0, 200.0), (500.0 + 2 * (ry - ly), 200.0 + 2 * (rx - lx))
    matrix = box_to_frame(FaceBox(0, 0, 10, 10, eyes=(left, right)), FaceGeometry())
    np.testing.assert_allclose(matrix @ np.array([*left, 1.0]), [lx, ly], atol=1e-9)
    np.testing.assert_allclose(matrix @ np.array([*right, 1.0]), [rx, ry], atol=1e-9)


def test_a_detector_with_landmarks_recovers_the_aligned_crop() -> None:
    geometry = FaceGeometry()
    frame = read_image(POWELL_1)
    # the aligned frame rotated by 30° and shrunk into a bigger photo: the eyes go with it
    rotation = cv2.getRotationMatrix2D((125, 125), 30, 0.8)
    rotation[:, 2] += (200, 150)
    photo = cv2.warpAffine(frame, rotation, (700, 600))
    eyes = [tuple(rotation @ np.array([x, y, 1.0])) for x, y in LFW_EYES]
    box = FaceBox(0, 0, 100, 100, eyes=(eyes[0], eyes[1]))
    detector = _FixedDetector([box])
    prepared = FacePreprocessor(geometry, mode="detect", detector=detector)(photo)
    assert _correlation(prepared.arrays[0], crop_aligned(frame, geometry)) > 0.95


def test_several_faces_use_the_most_prominent_and_say_so() -> None:
    boxes = [FaceBox(60, 60, 120, 120), FaceBox(0, 0, 30, 30)]
    prepared = FacePreprocessor(FaceGeometry(), "detect", _FixedDetector(boxes))(POWELL_1)
    assert prepared.quality["faces_found"] == 2
    assert prepared.quality["face_box"] == [60, 60, 120, 120]
    assert any("2 faces found; used the most prominent" in note for note in prepared.notes)


def test_small_faces_get_a_note() -> None:
    prepared = FacePreprocessor(
        FaceGeometry(), "detect", _FixedDetector([FaceBox(100, 100, 20, 20)])
    )(np.zeros((300, 300, 3), np.uint8))
    assert prepared.arrays[0].shape == (112, 112, 3)
    assert any("only 20 px wide" in note for note in prepared.notes)


def test_auto_falls_back_to_aligned_only_for_frame_shaped_images() -> None:
    geometry = FaceGeometry()
    blank = _FixedDetector([])
    frame_like = np.full((250, 250, 3), 128, np.uint8)
    prepared = FacePreprocessor(geometry, "auto", blank)(frame_like)
    assert prepared.quality["mode"] == "aligned"
    assert "used as an aligned crop" in prepared.notes[0]
    with pytest.raises(NoFaceFound, match="no face found"):
        FacePreprocessor(geometry, "auto", blank)(np.full((250, 400, 3), 128, np.uint8))
    with pytest.raises(NoFaceFound):
        FacePreprocessor(geometry, "detect", blank)(frame_like)
    assert looks_aligned(np.zeros((500, 500, 3), np.uint8), geometry)
    assert not looks_aligned(np.zeros((100, 100, 3), np.uint8), geometry)
    assert not looks_aligned(np.zeros((250, 260, 3), np.uint8), geometry)


def test_bad_mode_and_detector_specs() -> None:
    with pytest.raises(InvalidInput, match="face mode"):
        FacePreprocessor(FaceGeometry(), mode="guess")
    with pytest.raises(ModelError, match="YuNet"):
        make_detector("detector.xml")
    with pytest.raises(ModelError, match="not found"):
        make_detector("/nonexistent/yunet.onnx")


def test_a_broken_yunet_model_is_a_one_line_model_error(tmp_path: Path) -> None:
    (tmp_path / "yunet.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match="not a usable YuNet model") as caught:
        make_detector(tmp_path / "yunet.onnx")
    assert "\n" not in str(caught.value)


@needs_haar
def test_haar_finds_the_lfw_faces_where_lfw_put_them() -> None:
    for path in sorted(FACES.glob("*.jpg")):
        prepared = FacePreprocessor(FaceGeometry(), mode="detect", detector="haar")(path)
        assert prepared.quality["faces_found"] == 1
        x, y, w, _ = prepared.quality["face_box"]
        assert abs(x + w / 2 - 125) < 12 and abs(y + w / 2 - 126) < 12 and 95 < w < 145
        assert prepared.quality["detector"] == "haar"


@needs_haar
def test_haar_in_a_wild_photo_gives_the_aligned_crop() -> None:
    """An LFW frame pasted, enlarged, into a bigger photo is found and cropped close to its
    aligned crop."""
    geometry = FaceGeometry()
    frame = read_image(POWELL_1)
    ramp = np.linspace(60, 160, 1200, dtype=np.float32)
    photo = np.repeat(np.broadcast_to(ramp, (900, 1200))[:, :, None], 3, axis=2).astype(np.uint8)
    photo[300:700, 450:850] = cv2.resize(frame, (400, 400), interpolation=cv2.INTER_CUBIC)
    prepared = FacePreprocessor(geometry, mode="auto", detector="haar")(photo)
    assert prepared.quality["mode"] == "detect" and prepared.quality["faces_found"] == 1
    x, y, w, _ = prepared.quality["face_box"]
    # the frame's face, at 1.6 x: its centre near 300 + 1.6 x (125, 126)
    assert abs(x + w / 2 - 650) < 15 and abs(y + w / 2 - 502) < 15 and 170 < w < 240
    assert _correlation(prepared.arrays[0], crop_aligned(frame, geometry)) > 0.85


@needs_haar
def test_haar_with_two_people_uses_the_larger() -> None:
    photo = np.full((400, 800, 3), 100, np.uint8)
    photo[50:350, 20:320] = cv2.resize(read_image(SERENA), (300, 300))
    photo[150:300, 500:650] = cv2.resize(read_image(POWELL_1), (150, 150))
    prepared = FacePreprocessor(FaceGeometry(), mode="detect", detector="haar")(photo)
    assert prepared.quality["faces_found"] == 2
    assert prepared.quality["face_box"][0] < 320  # Serena's, the larger
    assert any("2 faces found" in note for note in prepared.notes)


def test_no_face_raises() -> None:
    texture = np.random.default_rng(1).integers(0, 255, (300, 400), dtype=np.uint8)
    with pytest.raises(NoFaceFound, match="no face found"):
        FacePreprocessor(FaceGeometry(), mode="auto")(cv2.GaussianBlur(texture, (9, 9), 3))


@pytest.mark.slow  # Haar detection on many LFW photos
@needs_haar
@pytest.mark.shared_data
def test_haar_crops_on_lfw_match_the_aligned_crops() -> None:
    """On 40 random LFW images the detected crop correlates with the aligned crop."""
    if not LFW.is_dir():
        pytest.skip("../shared/data/faces/lfw is absent")
    files = sorted(LFW.glob("*/*.jpg"))
    random.Random(7).shuffle(files)
    geometry = FaceGeometry()
    detect = FacePreprocessor(geometry, mode="detect", detector="haar")
    correlations, misses = [], 0
    for path in files[:40]:
        try:
            crop = detect(path).arrays[0]
        except NoFaceFound:
            misses += 1
            continue
        correlations.append(_correlation(crop, crop_aligned(read_image(path), geometry)))
    assert misses <= 2
    assert np.median(correlations) > 0.8


def test_without_a_detector_auto_still_takes_aligned_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bioverify.errors import MissingDependency
    from bioverify.verify import face_input

    def no_detector(spec: object) -> None:
        raise MissingDependency("this OpenCV has no Haar cascades")

    monkeypatch.setattr(face_input, "make_detector", no_detector)
    prepared = FacePreprocessor(FaceGeometry(), mode="auto")(POWELL_1)
    assert prepared.quality["mode"] == "aligned"
    assert "no face detector available" in prepared.notes[0]
    with pytest.raises(MissingDependency):
        FacePreprocessor(FaceGeometry(), mode="auto")(np.zeros((300, 500, 3), np.uint8))


# -- YuNet (the default detector) and the five-point template --------------------------------


def _default_geometry() -> FaceGeometry:
    from bioverify.bundle import open_bundle

    return FaceGeometry.from_dict(open_bundle(DEFAULT_FACE).preprocessing["face_geometry"])


def test_the_default_detector_is_the_shipped_yunet_with_its_licence() -> None:
    from bioverify.verify.face_detect import YUNET_MODEL

    detector = make_detector(None)
    assert detector.name == "yunet" and make_detector("yunet").name == "yunet"
    assert YUNET_MODEL.is_file() and (YUNET_MODEL.parent / "LICENSE").is_file()
    assert "MIT" in (YUNET_MODEL.parent / "LICENSE").read_text()


def test_five_landmarks_map_onto_the_template() -> None:
    geometry = _default_geometry()
    assert geometry.landmarks is not None
    template = np.array(geometry.landmarks)
    angle = np.deg2rad(20)
    rotation = 1.7 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    photo_points = template @ rotation.T + np.array([300.0, 40.0])
    box = FaceBox(0, 0, 100, 100, landmarks=tuple(map(tuple, photo_points)))
    matrix = box_to_frame(box, geometry)
    mapped = photo_points @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(mapped, template, atol=1e-6)


def test_geometry_landmarks_round_trip_and_old_geometries_still_load() -> None:
    geometry = _default_geometry()
    assert FaceGeometry.from_dict(geometry.to_dict()) == geometry
    old = FaceGeometry().to_dict()
    assert "landmarks" not in old and FaceGeometry.from_dict(old) == FaceGeometry()
    with pytest.raises(InvalidInput, match="landmarks"):
        FaceGeometry(landmarks=((1.0, 2.0),))
    with pytest.raises(InvalidInput, match="malformed"):
        FaceGeometry.from_dict({**old, "landmarks": [[1, "x"]] * 5})


def test_a_small_head_shot_is_found_after_upscaling() -> None:
    """A 92 x 112 head shot (the size of the classic ORL / AT&T faces) is detected."""
    frame = read_image(POWELL_1)
    head = cv2.resize(frame[40:210, 55:195], (92, 112), interpolation=cv2.INTER_AREA)
    prepared = FacePreprocessor(_default_geometry(), mode="detect")(head)
    assert prepared.quality["faces_found"] == 1 and prepared.quality["detector"] == "yunet"
    assert prepared.arrays[0].shape == (150, 150, 3)
    assert prepared.quality["detector_score"] > 0.8


def _two_faces() -> np.ndarray:
    """Serena (300 px) on the left, Colin Powell (150 px) on the right."""
    photo = np.full((400, 800, 3), 100, np.uint8)
    photo[50:350, 20:320] = cv2.resize(read_image(SERENA), (300, 300))
    photo[150:300, 500:650] = cv2.resize(read_image(POWELL_1), (150, 150))
    return photo


def test_several_faces_are_counted_and_face_index_picks_another() -> None:
    photo = _two_faces()
    geometry = _default_geometry()
    largest = FacePreprocessor(geometry, mode="detect")(photo)
    assert largest.quality["faces_found"] == 2 and largest.quality["face_box"][0] < 320
    assert any("face_index (--face-index) picks another" in note for note in largest.notes)
    other = FacePreprocessor(geometry, mode="detect", face_index=1)(photo)
    assert other.quality["face_box"][0] > 450 and other.quality["face_index"] == 1
    with pytest.raises(NoFaceFound, match=r"face 2 asked for \(face_index, --face-index\), but 2"):
        FacePreprocessor(geometry, mode="detect", face_index=2)(photo)
    with pytest.raises(InvalidInput, match="face_index"):
        FacePreprocessor(geometry, face_index=-1)


def test_yunet_crop_of_an_lfw_frame_embeds_like_its_aligned_crop() -> None:
    """Detection on a raw LFW frame and the fixed aligned crop give nearly the same
    embedding with the default model (on 199 val-identity images the two crops' dlib
    descriptors differ by cosine 0.99 on average)."""
    from bioverify.verify import Verifier

    detect = Verifier.load(DEFAULT_FACE, calibration=False, face_mode="detect")
    aligned = Verifier.load(DEFAULT_FACE, calibration=False, face_mode="aligned")
    for path in (POWELL_1, SERENA):
        a, b = detect.acquire(path).embedding, aligned.acquire(path).embedding
        assert float(np.dot(a, b)) > 0.97
    other = detect.acquire(SERENA).embedding
    assert float(np.dot(detect.acquire(POWELL_1).embedding, other)) < 0.9


def test_in_plane_rotation_is_undone_by_the_five_point_alignment() -> None:
    from bioverify.verify import Verifier

    verifier = Verifier.load(DEFAULT_FACE, calibration=False, face_mode="detect")
    frame = read_image(SERENA)
    upright = verifier.acquire(frame).embedding
    rotation = cv2.getRotationMatrix2D((125, 125), 30, 1.0)
    rotated = cv2.warpAffine(frame, rotation, (250, 250), borderValue=(90, 90, 90))
    assert float(np.dot(verifier.acquire(rotated).embedding, upright)) > 0.97


@pytest.mark.parametrize("turn", [90, -90, 60, 135])
def test_a_sideways_photo_is_searched_turned(turn: int) -> None:
    """YuNet finds no face in a photo turned by 90°; the turned search finds it, aligns it
    upright and says so."""
    from bioverify.verify import Verifier
    from bioverify.verify.face_detect import YuNetDetector, _turned

    verifier = Verifier.load(DEFAULT_FACE, calibration=False, face_mode="detect")
    frame = read_image(SERENA)
    upright = verifier.acquire(frame).embedding
    photo, _ = _turned(frame, turn)
    if turn in (90, -90):
        assert YuNetDetector(rotations=()).detect(photo) == []
    acquired = verifier.acquire(photo)
    # the turn that found it undoes the photo's within YuNet's ±30° reach
    assert abs((acquired.quality["rotation"] + turn + 180) % 360 - 180) <= 30
    assert any("turned by" in note for note in acquired.notes)
    assert float(np.dot(acquired.embedding, upright)) > 0.97


def test_a_face_found_upright_is_not_searched_turned() -> None:
    """Scores of different turns are not comparable when an upright face was found (large
    faces score low upright: comparing chose a wrong turn for 12 of 100 such photos)."""
    from bioverify.verify.face_detect import YuNetDetector, _turned

    image = read_image(FACES / "Serena_Williams_0035.jpg")
    image = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image
    large = cv2.resize(image, (1000, 1000), interpolation=cv2.INTER_CUBIC)
    upright = YuNetDetector(rotations=())
    (face,) = upright.detect(large)
    turned = upright.detect(_turned(large, 180)[0])
    assert turned and turned[0].score is not None and face.score is not None
    assert turned[0].score > face.score  # the scores would pick the upside-down one
    (face,) = YuNetDetector().detect(large)
    assert face.rotation == 0


def test_a_very_large_face_is_found_by_searching_a_smaller_copy() -> None:
    """YuNet misses a 450 px face in a 1000 px photo (36 of 879 LFW val photos scaled by 4
    were lost); the detector then searches a copy shrunk to ``retry_side``."""
    from bioverify.verify.face_detect import YuNetDetector

    image = read_image(FACES / "Ali_Khamenei_0001.jpg")
    image = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image
    large = cv2.resize(image, (1000, 1000), interpolation=cv2.INTER_CUBIC)
    assert YuNetDetector(retry_side=10**6).detect(large) == []  # the miss, without a retry
    (face,) = YuNetDetector().detect(large)
    assert face.w > 300 and face.score is not None and face.score > 0.8


class _Rows:
    """A stand-in for OpenCV's YuNet that returns fixed detection rows."""

    def __init__(self, rows: list[list[float]]) -> None:
        self.rows = np.array(rows, np.float32)

    def setInputSize(self, size: tuple[int, int]) -> None:  # OpenCV's name
        pass

    def detect(self, image: np.ndarray) -> tuple[int, np.ndarray]:
        return 1, self.rows


def _row(x: float, y: float, w: float, h: float) -> list[float]:
    landmarks = [x + w * 0.3, y + h * 0.4, x + w * 0.7, y + h * 0.4] + [x + w / 2, y + h / 2] * 3
    return [x, y, w, h, *landmarks, 0.99]


def test_yunet_boxes_mostly_outside_the_image_or_tiny_are_not_faces() -> None:
    """What YuNet gives on a 640 x 4 strip differs between CPUs (infinite, or finite boxes
    reaching far above and below it): none of it is a face, whatever the numbers."""
    from bioverify.verify.face_detect import YuNetDetector

    detector = YuNetDetector()
    detector._detector = _Rows(  # type: ignore[assignment]
        [
            _row(382.0, -28.3, 13.3, 24.0),  # a 640 x 4 strip's "faces": mostly outside
            _row(345.8, -14.6, 24.9, 37.6),
            _row(100.0, 100.0, 5.0, 5.0),  # inside, but below the smallest face YuNet finds
            _row(10.0, 10.0, float("inf"), 30.0),
            _row(60.0, 50.0, 40.0, 48.0),  # a face, partly cut by the left edge: kept
            _row(-15.0, 150.0, 40.0, 48.0),
        ]
    )
    boxes = detector.detect(np.zeros((320, 320, 3), np.uint8))
    assert [(b.x, b.y) for b in boxes] == [(60.0, 50.0), (-15.0, 150.0)]


def test_the_command_line_picks_the_face_with_face_index(tmp_path) -> None:
    group, gallery = tmp_path / "group.png", tmp_path / "g.db"
    cv2.imwrite(str(group), cv2.cvtColor(_two_faces(), cv2.COLOR_RGB2BGR))
    assert run_cli("enroll", "--gallery", gallery, "--id", "powell", POWELL_6)[0] == 0
    code, out, _ = run_cli("identify", "--gallery", gallery, group, "--json")
    assert code == 0 and json.loads(out)["decision"] == "unknown"  # the largest: Serena
    code, out, _ = run_cli("identify", "--gallery", gallery, group, "--face-index", "1", "--json")
    assert code == 0 and json.loads(out)["decision"] == "powell"
    code, _, err = run_cli("identify", "--gallery", gallery, group, "--face-index", "2")
    assert "--face-index" in one_line_error(code, err)
