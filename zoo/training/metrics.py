"""Classification metrics accumulated batch by batch, and throughput against peak FLOP/s.

:class:`ClassificationMeter` counts with torchmetrics' functional classification metrics: the
confusion matrix (``multiclass_confusion_matrix``: top-1, and each class's support and
predictions), top-k hits (``multiclass_stat_scores`` with ``top_k``), and per-class and macro
precision, recall and F1 (``multiclass_precision``/``recall``/``f1_score``). The functional forms
keep nothing between calls, so a meter costs nothing to build (a ``Metric`` object takes
milliseconds, and a run builds a meter every epoch). What the meter keeps are integer counts
only: the confusion matrix and the top-k hits. So every figure is exact and independent of how
the data was split into batches. Batches wait on their device and are counted in chunks
(:data:`CHUNK_LOGITS`): torchmetrics' per-call overhead would otherwise cost a small network
about 1 % of its training step.

FLOP here means one multiplication or one addition, so one multiply-accumulate
is 2 FLOP: the ``flops`` convention of :mod:`cnncost.conventions`, the one GPU
datasheets use for peak FLOP/s.
"""

from __future__ import annotations

import re

import torch

from cnncost.errors import CnncostError

from ..runtime.progress import format_rate

# Logits waiting to be counted, at most: 2^18 float32 values (1 MiB), e.g. 8 batches of 32 × 1,000 classes.
CHUNK_LOGITS = 1 << 18
# The per-class scores, in the order per_class reports them.
SCORES = ("precision", "recall", "f1")


class ClassificationMeter:
    """Running loss, top-1 and top-k accuracy, a confusion matrix and per-class precision, recall and
    F1 over ``num_classes`` (at least 2, as torchmetrics' multiclass metrics need).

    Logits are compared as float32 (what the training loop's logits are). Ties among them are broken
    towards the lower class index, as ``torch.argmax`` does, for both the top-1 prediction and the
    top-k ranking; so top-1 hits are always top-k hits. ``torch.topk``, which torchmetrics' top-k
    runs on, leaves the order of tied values unspecified: it is given :func:`tie_free_scores`, which
    rank the classes the same way with no ties. Logits are assumed finite.
    """

    def __init__(self, num_classes: int, topk: int = 5):
        if num_classes < 2 or topk < 1:
            raise ValueError(f"num_classes must be ≥ 2 and topk ≥ 1 (got {num_classes}, {topk})")
        self.num_classes = num_classes
        self.k = min(topk, num_classes)  # top-5 of 3 classes would be meaningless: clamp
        self._functions = torchmetrics_functions()  # now, not after an epoch of training
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen so far."""
        self._confusion: torch.Tensor | None = None  # int64 [C, C], rows true, columns predicted
        self._topk_hits: torch.Tensor | int = 0
        self._loss_sum: torch.Tensor | float = 0.0
        self._pending: list = []  # (float32 logits, labels) not yet counted
        self._pending_logits = 0

    def update(self, logits: torch.Tensor, labels: torch.Tensor, loss_sum: float | torch.Tensor) -> None:
        """Add one batch: ``logits`` [B, C], integer ``labels`` [B], and the batch's
        *summed* per-sample loss (a float, or a 0-d tensor to avoid a device sync).
        """
        logits, labels = self._checked(logits, labels)
        self._loss_sum = self._loss_sum + (loss_sum.detach().double() if torch.is_tensor(loss_sum) else loss_sum)
        if len(labels):
            self._pending.append((logits, labels))
            self._pending_logits += logits.numel()
            if self._pending_logits >= CHUNK_LOGITS:
                self._count_pending()

    def result(self) -> dict:
        """``loss`` (mean per sample), ``top1``, ``topk``, ``k``, ``count``, the integer hit counts
        ``correct`` and ``correct_topk``, the macro means ``precision``, ``recall`` and ``f1``
        (torchmetrics' ``average="macro"``: over the classes that have samples or predictions),
        ``per_class`` (:meth:`class_scores`) and ``confusion`` (:meth:`confusion`).

        With no samples seen, every ratio but the per-class ones is NaN (0/0), which
        :func:`zoo.runtime.files.write_json_atomic` writes as null.
        """
        matrix = self.confusion_tensor()
        count, correct = int(matrix.sum()), int(matrix.trace())
        correct_topk = int(self._topk_hits)
        per_class, macro = _scores(matrix)
        return {"loss": _ratio(float(self._loss_sum), count), "top1": _ratio(correct, count),
                "topk": _ratio(correct_topk, count), "k": self.k,
                "count": count, "correct": correct, "correct_topk": correct_topk, **macro,
                "per_class": _with_counts(per_class, matrix), "confusion": matrix.tolist()}

    @property
    def count(self) -> int:
        """How many samples have been seen since the last reset."""
        return int(self.confusion_tensor().sum())

    def confusion_tensor(self) -> torch.Tensor:
        """The confusion matrix as an int64 CPU tensor [C, C]: rows true class, columns predicted."""
        self._count_pending()
        if self._confusion is None:
            return torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)
        return self._confusion.cpu()

    def confusion(self) -> list[list[int]]:
        """The confusion matrix as nested lists: ``confusion()[true][predicted]`` samples."""
        return self.confusion_tensor().tolist()

    def class_scores(self) -> dict:
        """Per class, as lists indexed by class: ``precision``, ``recall``, ``f1``, ``support`` (true
        samples) and ``predicted`` (samples predicted as it). The compact form of :meth:`per_class`."""
        matrix = self.confusion_tensor()
        return _with_counts(_scores(matrix)[0], matrix)

    def per_class(self, class_names: list[str] | None = None) -> list[dict]:
        """One dict per class: ``class`` (index), ``precision``, ``recall``, ``f1``, ``support``
        (true samples) and ``predicted`` (samples predicted as it); ``name`` too when
        ``class_names`` is given.

        A class never predicted has precision 0.0 and one with no true samples has
        recall 0.0 (torchmetrics' and scikit-learn's ``zero_division=0``); F1 is 0.0 when both are.
        ``predicted`` and ``support`` being 0 tell these cases apart from genuine zeros. The three
        ratios are torchmetrics' float32 values, written with the digits float32 holds (0.33333334).
        """
        scores = self.class_scores()
        rows = []
        for c in range(self.num_classes):
            row = {"class": c, **{key: values[c] for key, values in scores.items()}}
            if class_names is not None:
                row["name"] = class_names[c]
            rows.append(row)
        return rows

    def states(self) -> torch.Tensor:
        """Every count this meter holds (the confusion matrix, the top-k hits) and its loss sum, as one
        float64 CPU vector: what an all-reduce over processes adds up (:meth:`load_states` takes it back)."""
        confusion = self.confusion_tensor().to(torch.float64).flatten()
        return torch.cat([confusion, torch.tensor([float(self._topk_hits), float(self._loss_sum)],
                                                  dtype=torch.float64)])

    def load_states(self, vector: torch.Tensor) -> None:
        """Replace the counts and the loss sum by those of ``vector``, laid out as :meth:`states` does."""
        classes = self.num_classes
        self._count_pending()
        self._confusion = vector[:classes * classes].round().to(torch.int64).view(classes, classes)
        self._topk_hits = int(vector[-2].round())
        self._loss_sum = float(vector[-1])

    def _count_pending(self) -> None:
        """Count the waiting batches with torchmetrics, as one chunk, on their device."""
        if not self._pending:
            return
        logits = torch.cat([batch[0] for batch in self._pending])
        labels = torch.cat([batch[1] for batch in self._pending])
        self._pending, self._pending_logits = [], 0
        predicted = logits.argmax(dim=1)
        common = dict(num_classes=self.num_classes, validate_args=False)  # labels were checked in update
        counts = self._functions.multiclass_confusion_matrix(predicted, labels, **common)
        self._confusion = counts if self._confusion is None else self._confusion + counts
        ranked = tie_free_scores(logits) if self.k > 1 else predicted  # top-1 needs no ranking
        # average="micro" with top_k: [tp, fp, tn, fn, support] over every sample; tp is the top-k hits.
        hits = self._functions.multiclass_stat_scores(ranked, labels, top_k=self.k, average="micro", **common)[0]
        self._topk_hits = self._topk_hits + hits

    def _checked(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if logits.dim() != 2 or logits.shape[1] != self.num_classes:
            raise ValueError(f"logits should be [batch, {self.num_classes}], got {list(logits.shape)}")
        if labels.shape != logits.shape[:1]:
            raise ValueError(f"labels should be [{logits.shape[0]}], got {list(labels.shape)}")
        if labels.dtype.is_floating_point:
            raise ValueError(f"labels should be class indices (integers), got {labels.dtype}")
        labels = labels.detach().long()
        # Checked here, batch by batch, so a rejected batch leaves no trace (torchmetrics' own checks are off).
        if len(labels) and bool(((labels < 0) | (labels >= self.num_classes)).any()):
            raise ValueError(f"labels must lie in [0, {self.num_classes})")
        return logits.detach().float(), labels


def _scores(matrix: torch.Tensor) -> tuple[dict, dict]:
    """torchmetrics' precision, recall and F1 of a confusion matrix: ({name: per-class list}, {name: macro}).

    torchmetrics takes (predicted, true) samples, so each cell gives back its count of samples (true =
    row, predicted = column): the figures are those of the very samples counted, in some order, which
    none of them depends on. With no samples, the per-class figures are 0 and the macro means NaN.
    """
    functions = torchmetrics_functions()
    classes = matrix.shape[0]
    if not int(matrix.sum()):
        return {name: [0.0] * classes for name in SCORES}, dict.fromkeys(SCORES, float("nan"))
    cells = torch.arange(classes * classes).repeat_interleave(matrix.flatten())
    true, predicted = cells // classes, cells % classes
    scorers = {"precision": functions.multiclass_precision, "recall": functions.multiclass_recall,
               "f1": functions.multiclass_f1_score}
    per_class, macro = {}, {}
    for name, function in scorers.items():
        common = dict(num_classes=classes, zero_division=0, validate_args=False)
        per_class[name] = _float32_digits(function(predicted, true, average=None, **common))
        macro[name] = _float32_digits(function(predicted, true, average="macro", **common))
    return per_class, macro


def torchmetrics_functions():
    """``torchmetrics.functional.classification``, or the one-line error that names the extra installing it."""
    try:
        from torchmetrics.functional import classification
    except ImportError:
        raise CnncostError("training metrics need torchmetrics: pip install 'cnncost[train]'") from None
    return classification


def _with_counts(scores: dict, matrix: torch.Tensor) -> dict:
    """Per-class ``scores`` with each class's ``support`` (its row's sum) and ``predicted`` (its column's)."""
    return {**scores, "support": matrix.sum(1).tolist(), "predicted": matrix.sum(0).tolist()}


def tie_free_scores(logits: torch.Tensor) -> torch.Tensor:
    """int64 scores [B, C] that rank each row's classes as argmax's tie rule does (larger logit first,
    then lower index), with no two equal: ``torch.topk`` of them is the top-k under that rule.

    Each float32 logit's bits are mapped to an integer of the same order (negative floats have their
    magnitude bits flipped), then scaled by C, leaving room for the index's tie-break. O(B·C), no sort.
    """
    bits = (logits.float() + 0.0).view(torch.int32)  # + 0.0 makes -0.0 into 0.0: they are equal
    ordered = (bits ^ ((bits >> 31) & 0x7FFFFFFF)).long()  # the shift is -1 for negatives, 0 otherwise
    classes = logits.shape[1]
    later_index_lower = torch.arange(classes - 1, -1, -1, device=logits.device)
    return ordered * classes + later_index_lower


def _float32_digits(values: torch.Tensor) -> float | list[float]:
    """A float32 tensor as Python floats with the shortest digits that float32 round-trips (0.33333334,
    not 0.3333333432674408): the value torchmetrics computed, without digits it never had."""
    array = values.detach().cpu().numpy()
    if array.ndim == 0:
        return float(str(array))
    return [float(str(value)) for value in array]


def _ratio(numerator: float, count: int) -> float:
    # 0/0 is NaN rather than an exception: an empty validation split still reports.
    return numerator / count if count else float("nan")


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


def format_tflops(tflops: float) -> str:
    """About three significant figures without exponents: ``61.3``, ``0.0521``, ``1,234``."""
    if tflops >= 100:
        return f"{tflops:,.0f}"
    if tflops >= 10:
        return f"{tflops:.1f}"
    if tflops >= 1:
        return f"{tflops:.2f}"
    return f"{tflops:.3g}"
