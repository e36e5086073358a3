"""The onnxruntime session behind a :class:`~bioverify.verify.Verifier`, and the device it runs on.

A device is asked for by name — ``"auto"`` (CUDA when it really works, else the CPU),
``"cpu"`` or ``"cuda"`` — or as an explicit list of onnxruntime providers. onnxruntime falls
back to the CPU silently when the CUDA provider cannot start (CUDA or cuDNN libraries
missing, no device), so the providers a session really uses are read back with
``get_providers()`` after it exists: ``"cuda"`` that ends up on the CPU is a
:class:`~bioverify.errors.MissingDependency` naming the libraries that could not be loaded;
``"auto"`` logs one warning line and runs on the CPU.

onnxruntime's own log is set to errors only, and to nothing while CUDA is being tried (its
provider-loading failures are multi-line, colour-coded messages that bioverify replaces by
one line of its own). ``docs/gpu.md`` lists the exact library versions.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from bioverify.errors import InvalidInput, MissingDependency, ModelError

logger = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
#: device names accepted by :func:`providers_for_device`, ``Verifier.load`` and ``--device``
DEVICES = ("auto", "cpu", "cuda")
#: providers tried when none are given, in order of preference
DEFAULT_PROVIDERS = (CUDA, CPU)
#: shared libraries onnxruntime-gpu's CUDA provider loads (its NEEDED entries in
#: onnxruntime-gpu 1.31, plus cuDNN, opened at run time): CUDA 13, cuDNN 9, the driver's libcuda
CUDA_LIBRARIES = (
    "libcuda.so.1",
    "libcudart.so.13",
    "libcublas.so.13",
    "libcublasLt.so.13",
    "libcurand.so.10",
    "libcudnn.so.9",
)
#: how to get them
CUDA_HINT = (
    "pip install 'bioverify[gpu]' brings onnxruntime-gpu with the CUDA 13 and cuDNN 9 "
    "wheels (libcuda.so.1 comes with the NVIDIA driver); see docs/gpu.md, or use --device cpu"
)
_GPU_BUILD_HINT = (
    "this onnxruntime is the CPU build; for CUDA, in a fresh virtual environment: "
    "pip install 'bioverify[gpu]' (onnxruntime-gpu; never together with the cpu extra, "
    "the two install the same module)"
)
#: onnxruntime log severities: 3 = errors only, 4 = fatal only
_ORT_ERRORS_ONLY, _ORT_SILENT = 3, 4
#: a one-node ONNX model (y = Relu(x)) used to find out whether CUDA really runs
_PROBE_MODEL = bytes.fromhex(
    "0808120962696f7665726966793a370a0c0a0178120179220452656c75120570726f62655a0f0a0178120a"
    "0a08080112040a020801620f0a0179120a0a08080112040a02080142040a00100d"
)


def missing_cuda_libraries(libraries: Sequence[str] | None = None) -> list[str]:
    """The CUDA/cuDNN shared libraries (default :data:`CUDA_LIBRARIES`) the dynamic loader
    cannot open.

    Examples
    --------
    >>> missing_cuda_libraries(["libbioverify-no-such-library.so.1"])
    ['libbioverify-no-such-library.so.1']
    """
    missing = []
    for name in CUDA_LIBRARIES if libraries is None else libraries:
        try:
            ctypes.CDLL(name)
        except OSError:
            missing.append(name)
    return missing


def _preload_cuda() -> None:
    """Let onnxruntime-gpu find CUDA/cuDNN installed as ``nvidia-*`` pip wheels (its
    ``preload_dlls``, onnxruntime >= 1.21); a no-op where that is missing or fails."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    try:
        preload()
    except Exception as exc:  # onnxruntime raises its own untyped errors
        logger.debug("onnxruntime.preload_dlls() failed: %s", exc)


def providers_for_device(device: str | None) -> list[str]:
    """The onnxruntime providers to ask for on ``device`` (``None`` means ``"auto"``).

    ``"cuda"`` on an onnxruntime without the CUDA provider (the CPU build) raises
    :class:`MissingDependency` saying which package to install.

    Examples
    --------
    >>> providers_for_device("cpu")
    ['CPUExecutionProvider']
    """
    device = "auto" if device is None else device
    if device not in DEVICES:
        raise InvalidInput(f"--device must be one of {', '.join(DEVICES)}; got {device!r}")
    if device == "cpu":
        return [CPU]
    if device == "cuda":
        if CUDA not in ort.get_available_providers():
            raise MissingDependency(f"--device cuda: {_GPU_BUILD_HINT}")
        return [CUDA]
    return choose_providers(DEFAULT_PROVIDERS)


def choose_providers(requested: Sequence[str] | None = None) -> list[str]:
    """``requested`` (default :data:`DEFAULT_PROVIDERS`) minus those this onnxruntime lacks,
    in the same order. Raises :class:`ModelError` when none is available.

    Examples
    --------
    >>> choose_providers(["CPUExecutionProvider"])
    ['CPUExecutionProvider']
    """
    wanted = list(DEFAULT_PROVIDERS if requested is None else requested)
    available = ort.get_available_providers()
    chosen = [name for name in wanted if name in available]
    if not chosen:
        raise ModelError(
            f"none of the onnxruntime providers {wanted} is available (this onnxruntime has "
            f"{available}); use --device cpu (providers=['CPUExecutionProvider'])"
        )
    for name in wanted:
        if name not in available:
            logger.info("onnxruntime provider %s is not available here; skipping it", name)
    return chosen


def _open(source: str | bytes, providers: list[str], threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = _ORT_ERRORS_ONLY
    if CUDA not in providers:
        return ort.InferenceSession(source, sess_options=options, providers=providers)
    _preload_cuda()
    ort.set_default_logger_severity(_ORT_SILENT)
    try:
        return ort.InferenceSession(source, sess_options=options, providers=providers)
    finally:
        ort.set_default_logger_severity(_ORT_ERRORS_ONLY)


def _cuda_failure(label: str) -> str:
    missing = missing_cuda_libraries()
    if missing:
        return (
            f"{label}: the CUDA provider could not start: cannot load {', '.join(missing)}; "
            f"{CUDA_HINT}"
        )
    return (
        f"{label}: the CUDA provider could not start although its libraries load (no CUDA "
        "device visible, or a driver older than CUDA 13 needs); check nvidia-smi, or use "
        "--device cpu"
    )


@dataclass(frozen=True)
class CudaStatus:
    """Whether a CUDA session really ran here, and why not when it did not."""

    usable: bool
    reason: str


def cuda_status() -> CudaStatus:
    """Run a one-node model on the CUDA provider and report whether it really ran there
    (``get_available_providers`` lists CUDA whenever onnxruntime-gpu is installed, even
    without its libraries or a device).

    Examples
    --------
    >>> status = cuda_status()
    >>> isinstance(status.usable, bool) and bool(status.reason)
    True
    """
    if CUDA not in ort.get_available_providers():
        return CudaStatus(False, _GPU_BUILD_HINT)
    try:
        session = _open(_PROBE_MODEL, [CUDA, CPU], 1)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        return CudaStatus(False, f"a CUDA session failed to start ({exc})")
    if CUDA not in session.get_providers():
        return CudaStatus(False, _cuda_failure("a test model"))
    return CudaStatus(True, "a test model ran on the CUDA provider")


def create_session(
    model: Path | str | bytes,
    providers: Sequence[str] | None = None,
    intra_op_threads: int = 0,
    name: str | None = None,
    device: str | None = None,
) -> tuple[ort.InferenceSession, list[str]]:
    """Open a model (a path, or the model file's bytes) and return the session and the
    providers it really runs on.

    ``device`` (``"auto"``, ``"cpu"``, ``"cuda"``) or ``providers`` (an explicit list; not
    both) say where to run; neither means ``"auto"``. ``name`` names the model in messages
    (default: the file name). ``intra_op_threads`` 0 lets onnxruntime choose. A ``"cuda"``
    session that would run on the CPU raises :class:`MissingDependency`; ``"auto"`` then
    logs one warning and runs on the CPU.
    """
    if device is not None and providers is not None:
        raise InvalidInput("give device= or providers=, not both")
    chosen = choose_providers(providers) if providers is not None else providers_for_device(device)
    label = name or (Path(model).name if not isinstance(model, bytes) else "model.onnx")
    source = model if isinstance(model, bytes) else str(model)
    try:
        session = _open(source, chosen, intra_op_threads)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"{label}: onnxruntime cannot load the model ({exc})") from exc
    used = list(session.get_providers())
    if CUDA in chosen and CUDA not in used:
        failure = _cuda_failure(label)
        if device == "cuda":
            raise MissingDependency(failure)
        logger.warning("%s; running on the CPU", failure)
    elif providers is not None and CUDA in providers and CUDA not in chosen:
        logger.warning("%s runs on the CPU: %s", label, _GPU_BUILD_HINT)
    logger.info("%s runs on %s", label, ", ".join(used))
    return session, used


__all__ = [
    "CPU",
    "CUDA",
    "CUDA_LIBRARIES",
    "DEFAULT_PROVIDERS",
    "DEVICES",
    "CudaStatus",
    "choose_providers",
    "create_session",
    "cuda_status",
    "missing_cuda_libraries",
    "providers_for_device",
]
