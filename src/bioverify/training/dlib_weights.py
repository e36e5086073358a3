"""Reading dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) into
:class:`~bioverify.training.models.dlib_resnet.DlibResNet29` weights — numpy only, no dlib.

dlib's serialisation, as found in that file:

* an integer is a control byte (low 4 bits: byte count; bit 7: negative) then that many
  little-endian bytes; a string is its length as such an integer then its bytes;
* a scalar float is two integers, mantissa then exponent (value = mantissa · 2^exponent);
* a tensor is a version integer (2), four dimensions (N, K, rows, cols), then raw
  little-endian float32 values;
* the network starts with the version numbers of its nested layer templates, then its
  layers from input to output, each a name (``con_4``, ``affine_``, ``relu_``,
  ``max_pool_2``, ``avg_pool_2``, ``add_prev_``, ``fc_2``) followed by its details
  (parameters first) and bookkeeping (flags, empty gradient tensors) that is skipped.

:func:`read_dlib_resnet` checks the file's sha256 and every layer's kind and shape against
the expected architecture and refuses anything else (:class:`~bioverify.errors.ModelError`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bioverify.errors import ModelError
from bioverify.training.models.dlib_resnet import DLIB_MEAN, INPUT_SIZE, STAGES

#: the file converted by the shipped default (face_recognition_models 0.3.0 on PyPI)
DLIB_RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_RESNET_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
#: licence of the weights, as the face_recognition_models sdist states it
DLIB_RESNET_LICENCE = (
    "Public domain: dlib's face recognition model weights were released into the public "
    "domain by Davis King; the face_recognition_models 0.3.0 sdist that carries them "
    "(https://pypi.org/project/face_recognition_models/) ships the CC0 1.0 Universal text"
)
_NAMES = ("con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2")
# how far past a layer's parsed fields its bookkeeping may run before the next layer's name
_MAX_GAP = 4096


@dataclass(frozen=True)
class _Conv:
    filters: int
    kernel: int
    stride: int
    padding: int


def expected_layers(embedding_dim: int = 128) -> list[tuple[str, object]]:
    """The layer records of the architecture, input to output: ``(name, facts)``."""
    layers: list[tuple[str, object]] = [
        ("con_4", _Conv(32, 7, 2, 0)),
        ("affine_", 32),
        ("relu_", None),
        ("max_pool_2", (3, 3, 2, 2, 0, 0)),
    ]
    for stage, (channels, count) in enumerate(STAGES):
        for index in range(count):
            down = stage > 0 and index == 0
            layers += [
                ("con_4", _Conv(channels, 3, 2 if down else 1, 0 if down else 1)),
                ("affine_", channels),
                ("relu_", None),
                ("con_4", _Conv(channels, 3, 1, 1)),
                ("affine_", channels),
            ]
            if down:
                layers.append(("avg_pool_2", (2, 2, 2, 2, 0, 0)))
            layers += [("add_prev_", None), ("relu_", None)]
    layers += [("avg_pool_2", (0, 0, 1, 1, 0, 0)), ("fc_2", (embedding_dim, STAGES[-1][0]))]
    return layers


class _Reader:
    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.pos = 0
        self.source = source

    def fail(self, what: str) -> ModelError:
        return ModelError(f"{self.source}: not dlib's face ResNet ({what} at byte {self.pos})")

    def integer(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("unexpected end of file")
        control = self.data[self.pos]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise self.fail(f"bad integer control byte {control:#x}")
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def string(self) -> str:
        size = self.integer()
        text = self.data[self.pos : self.pos + size]
        self.pos += size
        return text.decode("ascii", errors="replace")

    def scalar(self) -> float:
        mantissa = self.integer()
        exponent = self.integer()
        return float(mantissa * 2.0**exponent)

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise self.fail(f"tensor version {version}")
        shape = tuple(self.integer() for _ in range(4))
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if count <= 0 or end > len(self.data):
            raise self.fail(f"tensor of shape {shape} does not fit the file")
        values = np.frombuffer(self.data, "<f4", count=count, offset=self.pos).astype(np.float32)
        self.pos = end
        return values

    def next_layer(self) -> str:
        """Skip bookkeeping up to the next layer name and read it."""
        found = []
        for name in _NAMES:
            record = bytes([1, len(name)]) + name.encode()
            at = self.data.find(record, self.pos, self.pos + _MAX_GAP + len(record))
            if at >= 0:
                found.append(at)
        if not found:
            raise self.fail("no layer record where one was expected")
        self.pos = min(found)
        return self.string()


def read_dlib_resnet(
    path: Path | str, expected_sha256: str | None = DLIB_RESNET_SHA256
) -> dict[str, np.ndarray]:
    """Weights of :class:`DlibResNet29` from dlib's ``.dat``, keyed like its ``state_dict``.

    Parameters
    ----------
    path
        ``dlib_face_recognition_resnet_model_v1.dat``.
    expected_sha256
        The file must hash to this (default: the face_recognition_models 0.3.0 file);
        ``None`` skips the hash check but not the structure check.

    Raises
    ------
    ModelError
        The file is missing, hashes differently, or its layers, shapes or input
        normalisation are not the expected architecture's.

    Examples
    --------
    >>> import face_recognition_models  # the dev extra: dlib's weights, public domain
    >>> weights = read_dlib_resnet(face_recognition_models.face_recognition_model_location())
    >>> weights["fc.weight"].shape
    (128, 256)
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: dlib model file not found")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise ModelError(
            f"{path}: sha256 {digest} is not the expected {expected_sha256} "
            f"({DLIB_RESNET_FILE} of face_recognition_models 0.3.0)"
        )
    reader = _Reader(data, str(path))
    start = data.find(b"\x01\x15input_rgb_image_sized")
    if start < 0:
        raise reader.fail("no input_rgb_image_sized layer")
    reader.pos = start
    reader.string()
    means = [reader.scalar() for _ in range(3)]
    size = (reader.integer(), reader.integer())
    if not np.allclose(means, DLIB_MEAN, atol=1e-3) or size != (INPUT_SIZE, INPUT_SIZE):
        raise reader.fail(f"input means {means} and size {size}")
    return _read_layers(reader)


def _read_layers(reader: _Reader) -> dict[str, np.ndarray]:
    convs: list[tuple[np.ndarray, np.ndarray]] = []
    affines: list[np.ndarray] = []
    fc: np.ndarray | None = None
    for expected_name, facts in expected_layers():
        name = reader.next_layer()
        if name != expected_name:
            raise reader.fail(f"layer {name!r} where {expected_name!r} was expected")
        if isinstance(facts, _Conv):
            params = reader.tensor()
            got = [reader.integer() for _ in range(7)]
            want = [facts.filters, facts.kernel, facts.kernel]
            want += [facts.stride, facts.stride, facts.padding, facts.padding]
            per_filter, rest = divmod(params.size - facts.filters, facts.filters)
            in_channels, rest2 = divmod(per_filter, facts.kernel**2)
            if got != want or rest or rest2:
                raise reader.fail(f"convolution {got} ({params.size} values) instead of {want}")
            split = facts.filters * per_filter
            weight = params[:split].reshape(facts.filters, in_channels, facts.kernel, facts.kernel)
            convs.append((weight, params[split:]))
        elif expected_name == "affine_" and isinstance(facts, int):
            params = reader.tensor()
            if params.size != 2 * facts:
                raise reader.fail(f"affine layer of {params.size} values, expected 2 × {facts}")
            affines.append(params)
        elif expected_name in ("max_pool_2", "avg_pool_2"):
            got_pool = tuple(reader.integer() for _ in range(6))
            if got_pool != facts:
                raise reader.fail(f"{expected_name} {got_pool} instead of {facts}")
        elif expected_name == "fc_2":
            outputs, inputs = reader.integer(), reader.integer()
            params = reader.tensor()
            if (outputs, inputs) != facts or params.size != outputs * inputs:
                raise reader.fail(f"fc layer {outputs}×{inputs} ({params.size} values)")
            fc = params.reshape(inputs, outputs).T  # dlib stores input-major
    if fc is None:  # expected_layers() ends with the fc layer, so this cannot happen
        raise reader.fail("no fc layer")
    return _state_dict(convs, affines, fc)


def _state_dict(
    convs: list[tuple[np.ndarray, np.ndarray]], affines: list[np.ndarray], fc: np.ndarray
) -> dict[str, np.ndarray]:
    names = ["stem_conv"] + [f"blocks.{i}.conv{j}" for i in range(len(convs) // 2) for j in (1, 2)]
    affine_names = ["stem_affine"]
    affine_names += [f"blocks.{i}.affine{j}" for i in range(len(affines) // 2) for j in (1, 2)]
    state: dict[str, np.ndarray] = {}
    for name, (weight, bias) in zip(names, convs, strict=True):
        state[f"{name}.weight"] = np.ascontiguousarray(weight)
        state[f"{name}.bias"] = np.ascontiguousarray(bias)
    for name, params in zip(affine_names, affines, strict=True):
        half = params.size // 2
        state[f"{name}.weight"] = np.ascontiguousarray(params[:half])
        state[f"{name}.bias"] = np.ascontiguousarray(params[half:])
    state["fc.weight"] = np.ascontiguousarray(fc)
    return state


__all__ = [
    "DLIB_RESNET_FILE",
    "DLIB_RESNET_LICENCE",
    "DLIB_RESNET_SHA256",
    "expected_layers",
    "read_dlib_resnet",
]
