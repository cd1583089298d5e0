"""PNG plots for a training run: learning curves, precision/recall/F1 per epoch, confusion matrix, test
predictions, first-layer filters, and the data's class distribution.

Each ``*_figure`` function builds a matplotlib Figure (so tests can inspect it)
and each ``plot_*`` function draws one and writes it to a PNG atomically. Figures
are created with ``matplotlib.figure.Figure`` on an Agg canvas, never through
pyplot: no display is needed, no global figure list grows, and the process's
matplotlib backend is left alone. matplotlib and numpy are imported inside the
functions, so importing this module costs nothing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ..runtime.canvas import FILTER_GAP_GREY, FILTER_GAP_RGB, filter_mosaic, new_figure, save_png

RIGHT_COLOUR = "tab:green"  # title colour of a correctly classified test image
WRONG_COLOUR = "tab:red"  # title colour of a misclassified one
TEXT_CLASSES_MAX = 30  # above this many classes the confusion cells carry no count text


def plot_curves(history: list[dict], path: str | os.PathLike) -> Path:
    """Loss and accuracy per epoch, train vs validation, as a PNG at ``path``."""
    return save_png(curves_figure(history), path)


def plot_class_scores(history: list[dict], class_names: list[str], path: str | os.PathLike) -> Path:
    """Macro precision, recall and F1 per epoch, and each class's validation F1 per epoch, as a PNG at ``path``."""
    return save_png(class_scores_figure(history, class_names), path)


def plot_class_distribution(counts: dict, class_names: list[str], path: str | os.PathLike) -> Path:
    """Images per class in each split (``counts``: split name -> count per class), as a PNG at ``path``."""
    return save_png(class_distribution_figure(counts, class_names), path)


def plot_confusion(matrix: list[list[int]], class_names: list[str], path: str | os.PathLike) -> Path:
    """The confusion matrix (rows true, columns predicted) as a PNG at ``path``."""
    return save_png(confusion_figure(matrix, class_names), path)


def plot_predictions(images, true: list[int], pred: list[int], class_names: list[str],
                     path: str | os.PathLike, rows: int = 10, cols: int = 3) -> Path:
    """A rows × cols grid of test images titled with predicted and true class, as a PNG at ``path``."""
    return save_png(predictions_figure(images, true, pred, class_names, rows, cols), path)


def plot_filters(weight, path: str | os.PathLike, max_filters: int = 64) -> Path:
    """The first conv layer's filters in a grid, as a PNG at ``path``."""
    return save_png(filters_figure(weight, max_filters), path)


def curves_figure(history: list[dict]):
    """Two panels, loss and top-1 accuracy per epoch, train vs validation.

    Rows need ``epoch`` and any of ``train_loss``, ``val_loss``, ``train_acc``,
    ``val_acc``; missing, None and non-finite values are skipped (no validation
    split, a diverged loss). The best validation accuracy is marked.
    """
    from matplotlib.ticker import MaxNLocator

    figure = new_figure(11, 4.2)
    loss_axes, acc_axes = figure.subplots(1, 2)
    for axes, quantity, title in ((loss_axes, "loss", "loss (mean per image)"),
                                  (acc_axes, "acc", "accuracy (top-1)")):
        for split, style in (("train", "-o"), ("val", "-s")):
            epochs, values = _series(history, f"{split}_{quantity}")
            if epochs:
                axes.plot(epochs, values, style, markersize=4, label="train" if split == "train" else "validation")
        axes.set(title=title, xlabel="epoch", ylabel=quantity if quantity == "loss" else "accuracy")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, alpha=0.3)
    acc_axes.set_ylim(0, 1)
    _mark_best(acc_axes, history)
    for axes in (loss_axes, acc_axes):
        if axes.get_legend_handles_labels()[0]:
            axes.legend()
    return figure


def _series(history: list[dict], key: str) -> tuple[list, list]:
    points = [(row["epoch"], row[key]) for row in history
              if row.get(key) is not None and math.isfinite(row[key])]
    return [e for e, _ in points], [v for _, v in points]


def _mark_best(axes, history: list[dict]) -> None:
    epochs, values = _series(history, "val_acc")
    if not values:
        return
    best = max(range(len(values)), key=values.__getitem__)  # the first epoch reaching the maximum
    axes.plot([epochs[best]], [values[best]], "*", color="black", markersize=10, zorder=3)
    # Below the point: the train curve usually runs above the validation one.
    axes.annotate(f"best val {values[best]:.3f}\n(epoch {epochs[best]})", (epochs[best], values[best]),
                  xytext=(0, -10), textcoords="offset points", ha="center", va="top", fontsize=8)


SCORE_COLOURS = {"precision": "tab:blue", "recall": "tab:orange", "f1": "tab:green"}


def class_scores_figure(history: list[dict], class_names: list[str]):
    """Two panels: macro precision, recall and F1 per epoch (validation solid, train dashed), and a
    classes × epochs map of validation F1 per class.

    Rows need ``epoch`` and any of ``{train,val}_{precision,recall,f1}`` and ``val_per_class``
    (``{"f1": [per class]}``); rows without them (a run resumed from an older version) are skipped.
    """
    from matplotlib.ticker import MaxNLocator

    figure = new_figure(12, 4.6)
    lines, grid = figure.subplots(1, 2, width_ratios=[1, 1.2])
    for name, colour in SCORE_COLOURS.items():
        for split, style in (("val", "-o"), ("train", "--")):
            epochs, values = _series(history, f"{split}_{name}")
            if epochs:
                label = f"{'validation' if split == 'val' else 'train'} {'F1' if name == 'f1' else name}"
                lines.plot(epochs, values, style, color=colour, markersize=4, label=label)
    lines.set(title="macro means over classes", xlabel="epoch", ylabel="score", ylim=(0, 1))
    lines.xaxis.set_major_locator(MaxNLocator(integer=True))
    lines.grid(True, alpha=0.3)
    if lines.get_legend_handles_labels()[0]:
        lines.legend(fontsize=8, ncol=2)
    _per_class_f1(figure, grid, history, class_names)
    return figure


def _per_class_f1(figure, axes, history: list[dict], class_names: list[str]) -> None:
    """The classes × epochs map of validation F1, one column per epoch that has per-class figures."""
    import numpy as np

    rows = [row for row in history if row.get("val_per_class")]
    if not rows:
        axes.axis("off")
        axes.set_title("no per-class figures in these epochs")
        return
    scores = np.array([row["val_per_class"]["f1"] for row in rows], dtype=np.float64).T  # [class, epoch]
    image = axes.imshow(scores, cmap="viridis", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    figure.colorbar(image, ax=axes, label="F1")
    epochs = [row["epoch"] for row in rows]
    step = max(1, len(epochs) // 12)  # at most about a dozen epoch labels
    axes.set_xticks(range(0, len(epochs), step), [str(e) for e in epochs[::step]])
    if len(class_names) <= 60:  # more names would overlap into a black bar
        axes.set_yticks(range(len(class_names)), [_short(name, 24) for name in class_names], fontsize=8)
    axes.set(title="validation F1 per class", xlabel="epoch", ylabel="class")


def class_distribution_figure(counts: dict, class_names: list[str]):
    """Side-by-side bars of the images of each class in each split (train, val, test; a split with no
    images is left out), so an imbalance shows at a glance; each split's total is in the legend."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    splits = [(split, values) for split, values in counts.items() if sum(values)]
    for split, values in splits:
        if len(values) != len(class_names):
            raise ValueError(f"{split}: {len(values)} counts for {len(class_names)} class names")
    size = len(class_names)
    figure = new_figure(min(max(6.0, 0.45 * size + 2), 30.0), 4.2)
    axes = figure.subplots()
    width = 0.8 / max(1, len(splits))
    positions = np.arange(size)
    for index, (split, values) in enumerate(splits):
        axes.bar(positions + (index - (len(splits) - 1) / 2) * width, values, width,
                 label=f"{split} ({sum(values):,})")
    if size <= 60:
        axes.set_xticks(positions, [_short(name, 24) for name in class_names], rotation=45, ha="right",
                        rotation_mode="anchor", fontsize=8)
    axes.set(title=f"images per class · {size:,} classes", xlabel="class", ylabel="images")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, axis="y", alpha=0.3)
    if splits:  # beside the bars, never over them
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure


def confusion_figure(matrix: list[list[int]], class_names: list[str]):
    """The confusion matrix: colour is the share of each true class (row-normalised, so
    rare classes are as visible as common ones), cells carry the counts (up to
    ``TEXT_CLASSES_MAX`` classes)."""
    import numpy as np

    counts = np.asarray(matrix, dtype=np.int64).reshape(len(matrix), -1)
    size = counts.shape[0]
    if counts.shape != (size, size) or len(class_names) != size:
        raise ValueError(f"confusion matrix {counts.shape} does not match {len(class_names)} class names")
    support = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, support, out=np.zeros(counts.shape), where=support > 0)
    side = min(4.0 + 0.45 * size, 30.0)
    figure = new_figure(side + 1.5, side)
    axes = figure.subplots()
    image = axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, shrink=0.8, label="share of the true class")
    _label_classes(axes, class_names)
    if size <= TEXT_CLASSES_MAX:
        _write_counts(axes, counts, share)
    total = int(counts.sum())
    accuracy = f"accuracy {np.trace(counts) / total:.3f}" if total else "no images"
    axes.set(title=f"confusion matrix · {total:,} images · {accuracy}",
             xlabel="predicted class", ylabel="true class")
    return figure


def _label_classes(axes, class_names: list[str]) -> None:
    if len(class_names) > 60:  # names would overlap into a black bar; indices stay readable
        return
    ticks = range(len(class_names))
    names = [_short(name, 24) for name in class_names]
    axes.set_xticks(ticks, names, rotation=45, ha="right", rotation_mode="anchor", fontsize=8)
    axes.set_yticks(ticks, names, fontsize=8)


def _write_counts(axes, counts, share) -> None:
    fontsize = 9 if len(counts) <= 12 else 7 if len(counts) <= 20 else 5
    for (true, predicted), count in _cells(counts):
        colour = "white" if share[true, predicted] > 0.5 else "black"  # readable on dark and light blue
        axes.text(predicted, true, f"{count:,}", ha="center", va="center", color=colour, fontsize=fontsize)


def _cells(counts):
    for true, row in enumerate(counts.tolist()):
        for predicted, count in enumerate(row):
            yield (true, predicted), count


def predictions_figure(images, true: list[int], pred: list[int], class_names: list[str],
                       rows: int = 10, cols: int = 3):
    """A ``rows`` × ``cols`` grid of images ([N, 3, H, W] or [N, 1, H, W] in [0, 1]),
    each titled "pred X / true Y", green (``RIGHT_COLOUR``) when right and red
    (``WRONG_COLOUR``) when wrong. Extra images are dropped; missing ones leave blank cells.
    """
    pictures = _channels_last(images)
    if not len(pictures) == len(true) == len(pred):
        raise ValueError(f"{len(pictures)} images, {len(true)} true and {len(pred)} predicted labels")
    shown = min(len(pictures), rows * cols)
    height = 2.5 * rows + 0.6  # inches; the extra is for the suptitle
    figure = new_figure(2.4 * cols, height, layout=None)
    figure.subplots_adjust(left=0.02, right=0.98, bottom=0.01, top=1 - 0.75 / height, wspace=0.08, hspace=0.25)
    for index, axes in enumerate(figure.subplots(rows, cols, squeeze=False).flat):
        axes.axis("off")
        if index < shown:
            _show_prediction(axes, pictures[index], true[index], pred[index], class_names)
    right = sum(int(t) == int(p) for t, p in zip(true[:shown], pred[:shown]))
    figure.suptitle(f"test images: {right} of {shown} predicted right (green right, red wrong)",
                    y=1 - 0.2 / height, va="top")
    return figure


def _show_prediction(axes, picture, true: int, pred: int, class_names: list[str]) -> None:
    grey = picture.shape[-1] == 1
    axes.imshow(picture[..., 0] if grey else picture, cmap="gray" if grey else None, vmin=0, vmax=1)
    colour = RIGHT_COLOUR if int(true) == int(pred) else WRONG_COLOUR
    title = f"pred {_short(class_names[int(pred)], 18)} / true {_short(class_names[int(true)], 18)}"
    axes.set_title(title, color=colour, fontsize=8)


def _channels_last(images):
    """[N, C, H, W] tensor or array → float numpy [N, H, W, C] clipped to [0, 1]."""
    import numpy as np

    if hasattr(images, "detach"):  # a torch tensor, possibly on a GPU and in bf16
        images = images.detach().float().cpu().numpy()
    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise ValueError(f"images should be [N, 3, H, W] or [N, 1, H, W], got {list(array.shape)}")
    # Clipping, not rescaling: values outside [0, 1] come from resampling overshoot,
    # and rescaling would change the colours the network actually saw.
    return np.clip(array.transpose(0, 2, 3, 1), 0.0, 1.0)


def filters_figure(weight, max_filters: int = 64):
    """The first ``max_filters`` filters of a conv weight [out, in, kh, kw] in a near-square
    grid; RGB when in = 3, otherwise the mean over input channels in grey."""
    pictures = normalise_filters(weight, max_filters)
    out_channels, in_channels, kh, kw = _shape(weight)
    count = len(pictures)
    cols = max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / cols))
    figure = new_figure(max(5.0, 0.7 * cols + 0.6), max(3.0, 0.7 * rows + 1.0))
    axes = figure.subplots()
    grey = pictures.ndim == 3
    if grey:  # as RGB, so that the gaps can take a colour no grey filter has
        pictures = pictures[..., None].repeat(3, axis=-1)
    gap = FILTER_GAP_GREY if grey else FILTER_GAP_RGB
    axes.imshow(filter_mosaic(pictures, rows, cols, gap), interpolation="nearest")
    axes.axis("off")
    mode = "RGB" if in_channels == 3 else f"grey: mean of {in_channels} input channels"
    axes.set_title(f"first conv layer: {count} of {out_channels} filters, {kh}×{kw}\n"
                   f"{mode}, each min-max scaled", fontsize=9)
    return figure


def normalise_filters(weight, max_filters: int = 64):
    """numpy filters scaled one by one to [0, 1]: [n, kh, kw, 3] when in = 3, else
    [n, kh, kw] (mean over input channels). A constant filter becomes 0.5 grey."""
    import numpy as np

    _shape(weight)
    if hasattr(weight, "detach"):
        weight = weight.detach().float().cpu().numpy()
    array = np.asarray(weight, dtype=np.float64)[:max_filters]
    pictures = array.transpose(0, 2, 3, 1) if array.shape[1] == 3 else array.mean(axis=1)
    flat = pictures.reshape(len(pictures), -1)
    shape = (-1,) + (1,) * (pictures.ndim - 1)  # broadcasts one number per filter
    # Per filter, over all its colour channels together: the RGB balance of a filter survives.
    low = flat.min(axis=1).reshape(shape)
    span = flat.max(axis=1).reshape(shape) - low
    return np.divide(pictures - low, span, out=np.full(pictures.shape, 0.5), where=span > 0)


def _shape(weight) -> tuple[int, int, int, int]:
    shape = tuple(weight.shape)
    if len(shape) != 4:
        raise ValueError(f"a conv weight is [out, in, kh, kw], got {list(shape)}")
    return shape


def _short(name: str, limit: int) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
