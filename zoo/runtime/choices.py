"""The words the runtime's options take, importable without torch (``cnncost train --help`` lists them)."""

from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda")  # --device: auto takes CUDA when torch sees it
RESIZES = ("crop", "plain")  # --resize: shorter side and centre crop, or straight to the square (Keras)
