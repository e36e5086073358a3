"""The onnxruntime session behind a :class:`~bioverify.verify.Verifier`.

Providers are asked for in order (CUDA first, then CPU, by default) and filtered by what the
installed onnxruntime offers. onnxruntime falls back to CPU silently when CUDA cannot start
(missing libraries, no device), so after the session exists the providers it really uses are
read back with ``get_providers()``, logged, and a warning is logged when CUDA was asked for
but the session runs on CPU only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import onnxruntime as ort

from bioverify.errors import ModelError

logger = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
#: providers tried when none are given, in order of preference
DEFAULT_PROVIDERS = (CUDA, CPU)


def choose_providers(requested: Sequence[str] | None = None) -> list[str]:
    """``requested`` (default :data:`DEFAULT_PROVIDERS`) minus those this onnxruntime lacks,
    in the same order. Raises :class:`ModelError` when none is available."""
    wanted = list(DEFAULT_PROVIDERS if requested is None else requested)
    available = ort.get_available_providers()
    chosen = [name for name in wanted if name in available]
    if not chosen:
        raise ModelError(
            f"none of the onnxruntime providers {wanted} is available (this onnxruntime has "
            f"{available}); pass providers=['CPUExecutionProvider']"
        )
    for name in wanted:
        if name not in available:
            logger.info("onnxruntime provider %s is not available here; skipping it", name)
    return chosen


def create_session(
    model: Path | str | bytes,
    providers: Sequence[str] | None = None,
    intra_op_threads: int = 0,
    name: str | None = None,
) -> tuple[ort.InferenceSession, list[str]]:
    """Open a model (a path, or the model file's bytes) and return the session and the
    providers it really runs on.

    ``name`` names the model in messages (default: the file name). ``intra_op_threads`` 0
    lets onnxruntime choose. Logs the providers in use at INFO and
    warns (logging WARNING) when CUDA was requested but the session fell back to CPU.
    """
    chosen = choose_providers(providers)
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    label = name or (Path(model).name if not isinstance(model, bytes) else "model.onnx")
    source = model if isinstance(model, bytes) else str(model)
    try:
        session = ort.InferenceSession(source, sess_options=options, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"{label}: onnxruntime cannot load the model ({exc})") from exc
    used = list(session.get_providers())
    logger.info("%s runs on %s", label, ", ".join(used))
    if CUDA in chosen and CUDA not in used:
        logger.warning(
            "CUDA was requested but %s runs on %s: the CUDA provider is installed but failed "
            "to start (check the CUDA/cuDNN libraries and the device); inference will be slower",
            label,
            ", ".join(used),
        )
    elif providers is not None and CUDA in providers and CUDA not in chosen:
        logger.warning(
            "CUDA was requested but this onnxruntime has no CUDA provider; %s runs on %s "
            "(install onnxruntime-gpu, the 'gpu' extra, for CUDA)",
            label,
            ", ".join(used),
        )
    return session, used


__all__ = ["CPU", "CUDA", "DEFAULT_PROVIDERS", "choose_providers", "create_session"]
