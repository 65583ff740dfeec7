"""Export models to other runtimes: ONNX graphs checked in ONNX Runtime (``workbench export onnx MODEL OUT --task T``).

    from workbench.export import to_onnx
    report = to_onnx("sentence-transformers/all-MiniLM-L6-v2", "onnx/minilm", task="feature-extraction")

tasks.py describes each task's graphs (input and output names, dynamic axes) as optimum names them; onnx.py
traces the model into them and validates the result.
"""

from .tasks import TASKS, supported_tasks

_ONNX_NAMES = ("OnnxValidationError", "ValidationReport", "to_onnx", "validate_onnx")
__all__ = ["TASKS", "supported_tasks", *_ONNX_NAMES]


def __getattr__(name: str):
    # onnx.py imports torch: loaded on first use, so that `workbench --help` (which lists the tasks) stays quick
    if name in _ONNX_NAMES:
        from . import onnx

        return getattr(onnx, name)
    raise AttributeError(f"module 'workbench.export' has no attribute {name!r}")
