"""Classification metrics accumulated batch by batch, and throughput against peak FLOP/s.

:class:`ClassificationMeter` keeps integer counts only (a confusion matrix and a
top-k hit count, built with ``bincount``), so every metric is exact and
independent of how the data was split into batches. The counts stay on the
device of the logits and come to the CPU once, in :meth:`ClassificationMeter.result`.

FLOP here means one multiplication or one addition, so one multiply-accumulate
is 2 FLOP: the ``flops`` convention of :mod:`cnncost.conventions`, the one GPU
datasheets use for peak FLOP/s.
"""

from __future__ import annotations

import re

import torch


class ClassificationMeter:
    """Running loss, top-1 and top-k accuracy and a confusion matrix over ``num_classes``.

    Ties among logits are broken towards the lower class index, as
    ``torch.argmax`` does, for both the top-1 prediction and the top-k ranking;
    so top-1 hits are always top-k hits. Logits are assumed finite.
    """

    def __init__(self, num_classes: int, topk: int = 5):
        if num_classes < 1 or topk < 1:
            raise ValueError(f"num_classes and topk must be ≥ 1 (got {num_classes}, {topk})")
        self.num_classes = num_classes
        self.k = min(topk, num_classes)  # top-5 of 3 classes would be meaningless: clamp
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self._confusion: torch.Tensor | None = None  # int64 [C, C], rows true, columns predicted
        self._topk_hits: torch.Tensor | int = 0
        self._loss_sum: torch.Tensor | float = 0.0

    def update(self, logits: torch.Tensor, labels: torch.Tensor, loss_sum: float | torch.Tensor) -> None:
        """Add one batch: ``logits`` [B, C], integer ``labels`` [B], and the batch's
        *summed* per-sample loss (a float, or a 0-d tensor to avoid a device sync).
        """
        logits, labels = self._checked(logits, labels)
        counts = self._pair_counts(labels, logits.argmax(dim=1))
        self._confusion = counts if self._confusion is None else self._confusion + counts
        self._topk_hits = self._topk_hits + (true_class_rank(logits, labels) < self.k).sum()
        self._loss_sum = self._loss_sum + (loss_sum.detach().double() if torch.is_tensor(loss_sum) else loss_sum)

    def result(self) -> dict:
        """``loss`` (mean per sample), ``top1``, ``topk``, ``k``, ``count``, and the integer
        hit counts ``correct`` and ``correct_topk``. With no samples seen, the three
        ratios are NaN (0/0), which :func:`zoo.training.files.write_json_atomic` writes as null.
        """
        count = self.count
        correct = int(self.confusion_tensor().trace())
        correct_topk = int(self._topk_hits)
        loss_sum = float(self._loss_sum)
        return {"loss": _ratio(loss_sum, count), "top1": _ratio(correct, count),
                "topk": _ratio(correct_topk, count), "k": self.k,
                "count": count, "correct": correct, "correct_topk": correct_topk}

    @property
    def count(self) -> int:
        """How many samples have been seen since the last reset."""
        return 0 if self._confusion is None else int(self._confusion.sum())

    def confusion_tensor(self) -> torch.Tensor:
        """The confusion matrix as an int64 CPU tensor [C, C]: rows true class, columns predicted."""
        if self._confusion is None:
            return torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)
        return self._confusion.cpu()

    def confusion(self) -> list[list[int]]:
        """The confusion matrix as nested lists: ``confusion()[true][predicted]`` samples."""
        return self.confusion_tensor().tolist()

    def per_class(self, class_names: list[str] | None = None) -> list[dict]:
        """One dict per class: ``class`` (index), ``precision``, ``recall``, ``support``
        (true samples) and ``predicted`` (samples predicted as it); ``name`` too when
        ``class_names`` is given.

        A class never predicted has precision 0.0 and one with no true samples has
        recall 0.0 (scikit-learn's ``zero_division=0``); ``predicted`` and ``support``
        being 0 tell these cases apart from genuine zeros.
        """
        matrix = self.confusion_tensor()
        hits, support, predicted = matrix.diagonal().tolist(), matrix.sum(1).tolist(), matrix.sum(0).tolist()
        rows = []
        for c in range(self.num_classes):
            row = {"class": c, "precision": hits[c] / predicted[c] if predicted[c] else 0.0,
                   "recall": hits[c] / support[c] if support[c] else 0.0,
                   "support": support[c], "predicted": predicted[c]}
            if class_names is not None:
                row["name"] = class_names[c]
            rows.append(row)
        return rows

    def _checked(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if logits.dim() != 2 or logits.shape[1] != self.num_classes:
            raise ValueError(f"logits should be [batch, {self.num_classes}], got {list(logits.shape)}")
        if labels.shape != logits.shape[:1]:
            raise ValueError(f"labels should be [{logits.shape[0]}], got {list(labels.shape)}")
        if labels.dtype.is_floating_point:
            raise ValueError(f"labels should be class indices (integers), got {labels.dtype}")
        return logits.detach(), labels.detach().long()

    def _pair_counts(self, labels: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
        """[C, C] counts of (true, predicted) pairs in one bincount over true·C + predicted."""
        c = self.num_classes
        # Out-of-range labels need no extra pass over the data: a negative label makes its
        # pair negative (predictions are < C), which bincount rejects, and a label ≥ C
        # makes the histogram longer than C².
        try:
            counts = torch.bincount(labels * c + predicted, minlength=c * c)
        except RuntimeError:
            counts = None
        if counts is None or counts.numel() != c * c:
            raise ValueError(f"labels must lie in [0, {c})")
        return counts.view(c, c)


def _ratio(numerator: float, count: int) -> float:
    # 0/0 is NaN rather than an exception: an empty validation split still reports.
    return numerator / count if count else float("nan")


def true_class_rank(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """For each row, how many classes rank ahead of the true one (0 = top-1).

    A class ranks ahead when its logit is larger, or equal with a lower index
    (argmax's tie rule). O(B·C) comparisons, no sort.
    """
    true_logit = logits.gather(1, labels[:, None])
    index = torch.arange(logits.shape[1], device=logits.device)
    ahead = (logits > true_logit) | ((logits == true_logit) & (index[None, :] < labels[:, None]))
    return ahead.sum(dim=1)


# Dense peak FLOP/s (no 2:4 structured sparsity; datasheets print the sparse figure
# with an asterisk, twice the dense one), in units of 10¹² FLOP/s, per precision:
# bf16/fp16 on tensor cores with FP32 accumulation (what torch.autocast uses),
# tf32 on tensor cores (cuDNN convolutions in float32 by default on Ampere and later),
# fp32 on the CUDA cores. None: the GPU has no such tensor-core mode.
# Sources, NVIDIA datasheets and whitepapers:
#   H100 SXM/PCIe/NVL: "NVIDIA H100 Tensor Core GPU" datasheet and Hopper architecture whitepaper
#     (BF16 1,979* / 1,513* / 1,671* TFLOPS, TF32 989* / 756* / 835*, FP32 67 / 51 / 60).
#   H200 SXM/NVL: "NVIDIA H200 Tensor Core GPU" datasheet (same compute as H100 SXM / NVL).
#   A100 (SXM and PCIe alike): "NVIDIA A100 Tensor Core GPU" datasheet (BF16 312, TF32 156, FP32 19.5).
#   L40S, L40: "NVIDIA L40S" / "NVIDIA L40" datasheets (BF16 362.05 / 181.05, TF32 183 / 90.5, FP32 91.6 / 90.5).
#   L4: "NVIDIA L4 Tensor Core GPU" datasheet (BF16 242*, TF32 120*, FP32 30.3).
#   RTX 4090: "NVIDIA Ada GPU Architecture" whitepaper, appendix (FP16/BF16 with FP32 accumulate 165.2,
#     TF32 82.6, FP32 82.6).
#   V100 SXM2/PCIe: "NVIDIA Tesla V100" datasheet (tensor FP16 125 / 112, FP32 15.7 / 14; no bf16, no tf32).
#   T4: "NVIDIA T4" datasheet (FP16 mixed precision 65, FP32 8.1; no bf16, no tf32).
# Order matters: the first pattern found in the name wins, so variants come before the plain name.
_PEAK_TFLOPS: tuple[tuple[str, dict[str, float | None]], ...] = (
    ("h200 nvl", {"bf16": 835.5, "fp16": 835.5, "tf32": 417.5, "fp32": 60.0}),
    ("h200", {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp32": 66.9}),
    ("h100 pcie", {"bf16": 756.5, "fp16": 756.5, "tf32": 378.0, "fp32": 51.2}),
    ("h100 nvl", {"bf16": 835.5, "fp16": 835.5, "tf32": 417.5, "fp32": 60.0}),
    ("h100", {"bf16": 989.4, "fp16": 989.4, "tf32": 494.7, "fp32": 66.9}),  # SXM5 ("H100 80GB HBM3")
    ("a100", {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5}),
    ("l40s", {"bf16": 362.05, "fp16": 362.05, "tf32": 183.0, "fp32": 91.6}),
    ("l40", {"bf16": 181.05, "fp16": 181.05, "tf32": 90.5, "fp32": 90.5}),
    ("l4", {"bf16": 121.0, "fp16": 121.0, "tf32": 60.0, "fp32": 30.3}),
    ("rtx 4090", {"bf16": 165.2, "fp16": 165.2, "tf32": 82.6, "fp32": 82.6}),
    ("v100-pcie", {"bf16": None, "fp16": 112.0, "tf32": None, "fp32": 14.0}),
    ("v100", {"bf16": None, "fp16": 125.0, "tf32": None, "fp32": 15.7}),  # SXM2
    ("t4", {"bf16": None, "fp16": 65.0, "tf32": None, "fp32": 8.1}),
)

_DTYPE_ALIASES = {"bf16": "bf16", "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16", "half": "fp16",
                  "tf32": "tf32", "fp32": "fp32", "float32": "fp32", "float": "fp32"}


def peak_flops_for(device_name: str, dtype: str) -> float | None:
    """Published dense peak FLOP/s of a GPU for ``dtype`` (bf16, fp16, tf32, fp32; also
    ``torch.bfloat16``-style names), matched case-insensitively as a substring of
    ``device_name`` made of whole tokens (``torch.cuda.get_device_name()``, e.g. "NVIDIA H100 80GB HBM3").

    None for CPUs, unknown devices, and precisions the GPU has no tensor cores for.
    """
    key = _DTYPE_ALIASES.get(dtype.lower().removeprefix("torch."))
    if key is None:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {', '.join(sorted(_DTYPE_ALIASES))}")
    name = " ".join(device_name.lower().split())
    for pattern, peaks in _PEAK_TFLOPS:
        # Whole tokens only: "a100" must not match "RTX A1000", nor "l4" match "L40S".
        if re.search(rf"(?<![a-z0-9]){re.escape(pattern)}(?![a-z0-9])", name):
            tflops = peaks[key]
            return None if tflops is None else tflops * 1e12
    return None


def format_throughput(images_per_s: float, flops_per_image: int | None, peak_flops: float | None) -> str:
    """``2,470 img/s · 61.3 TFLOP/s (6.2% of peak)``.

    ``flops_per_image`` is whatever one image costs in the measured loop (e.g. 3 × the
    forward FLOPs for a training step: forward, and backward for inputs and weights);
    with none, only images/s is shown; with no peak, no percentage.
    """
    text = f"{format_rate(images_per_s)} img/s"
    if not flops_per_image:
        return text
    achieved = images_per_s * flops_per_image
    text += f" · {format_tflops(achieved / 1e12)} TFLOP/s"
    if peak_flops:
        text += f" ({100 * achieved / peak_flops:.1f}% of peak)"
    return text


def format_rate(per_second: float) -> str:
    """A rate with thousands separators, one decimal below 100: ``2,470``, ``12.5``."""
    return f"{per_second:,.0f}" if per_second >= 100 else f"{per_second:.1f}"


def format_tflops(tflops: float) -> str:
    """About three significant figures without exponents: ``61.3``, ``0.0521``, ``1,234``."""
    if tflops >= 100:
        return f"{tflops:,.0f}"
    if tflops >= 10:
        return f"{tflops:.1f}"
    if tflops >= 1:
        return f"{tflops:.2f}"
    return f"{tflops:.3g}"
