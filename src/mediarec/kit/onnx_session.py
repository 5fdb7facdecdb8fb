"""An onnxruntime session for a kit model, on the CPU, sized to the process's share of the cores.

The text and vision models run through onnxruntime (the graphs are built at ``models install``
time, see ``_minilm_onnx`` and ``_effnet_onnx``). onnxruntime ignores ``$OMP_NUM_THREADS``, which is
how the ingest pipeline gives each worker process its share of the cores, so it is read here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def default_threads() -> int:
    """``$OMP_NUM_THREADS`` when set to a positive number, else 0 (onnxruntime's default: one
    thread per physical core)."""
    try:
        return max(0, int(os.environ.get("OMP_NUM_THREADS", "0")))
    except ValueError:
        return 0


def onnx_session(model: str | os.PathLike[str] | bytes, threads: int = 0) -> Any:
    """``onnxruntime.InferenceSession`` of ``model`` (a path or serialized bytes) with ``threads``
    intra-op threads (0: :func:`default_threads`)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    n = threads or default_threads()
    if n:
        options.intra_op_num_threads = n
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = model if isinstance(model, bytes) else str(Path(model))
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
