"""The PNGs of ``cnncost show``: each ``*_figure`` builds a matplotlib Figure from computed tensors
(tests can inspect it), each ``draw_*`` writes one atomically (``runtime.canvas.save_png``).

Figures come from ``runtime.canvas.new_figure`` (an Agg canvas, no pyplot) and
grids of small pictures are one mosaic image (``runtime.canvas.filter_mosaic``):
one Axes per grid draws in a fraction of the time of one Axes per picture.
"""

from __future__ import annotations

import math

from ..runtime import canvas

GREY_GAP = canvas.FILTER_GAP_GREY  # between grey pictures: light blue, never a grey value
RGB_GAP = canvas.FILTER_GAP_RGB  # between colour pictures: white
SMALL = 400  # mosaics narrower than this many pixels are drawn with visible (nearest) pixels


def mosaic(pictures, cols: int):
    """numpy pictures [n, h, w] (grey) or [n, h, w, 3] in [0, 1] tiled row by row, ``cols`` per row."""
    import numpy as np

    pictures = np.asarray(pictures, dtype=np.float64)
    grey = pictures.ndim == 3
    if grey:  # as RGB, so that the gaps can take a colour no grey picture has
        pictures = np.repeat(pictures[..., None], 3, axis=-1)
    rows = max(1, math.ceil(len(pictures) / cols))
    return canvas.filter_mosaic(pictures, rows, cols, GREY_GAP if grey else RGB_GAP)


def grid_columns(count: int) -> int:
    """Columns of a near-square grid of ``count`` pictures (8 for 64)."""
    return max(1, math.ceil(math.sqrt(count)))


def _numpy(tensor):
    return tensor.detach().float().cpu().numpy()


def _channels_last(images):
    """[N, C, H, W] tensor -> numpy [N, H, W, 3] or [N, H, W] (one channel)."""
    array = _numpy(images).transpose(0, 2, 3, 1)
    return array[..., 0] if array.shape[-1] == 1 else array


def _show(axes, image, title: str = "", fontsize: int = 8) -> None:
    small = max(image.shape[:2]) < SMALL
    axes.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1,
                interpolation="nearest" if small else "antialiased")
    axes.set_title(title, fontsize=fontsize)
    axes.axis("off")


# ---------------------------------------------------------------- filters

def filters_figure(shown, layer: str, subject_name: str, origin: str):
    """One conv layer's filters (a ``filters.FilterPictures``) as one mosaic, titled with what is shown."""
    pictures, layout = shown.pictures, shown.layout
    count, kh, kw = pictures.shape[0], pictures.shape[2], pictures.shape[3]
    if layout == "channels":
        columns = pictures.shape[1]
        tiles = _numpy(pictures).reshape(-1, kh, kw)  # row f: filter f's kernels, one per input channel
        mode = (f"rows: {count} of {shown.filters} filters · columns: {columns} of {shown.channels} "
                "input channels, grey")
    else:
        columns = grid_columns(count)
        tiles = _channels_last(pictures)
        mode = f"{count} of {shown.filters} filters, " + ("RGB" if layout == "rgb" else "grey")
    image = mosaic(tiles, columns)
    rows = math.ceil(len(tiles) / columns)
    figure = canvas.new_figure(min(10.0, max(5.0, 0.7 * columns + 1)), min(14.0, max(3.0, 0.7 * rows + 1.2)))
    _show(figure.subplots(), image)
    figure.suptitle(f"{subject_name} · {layer}: {mode}, {kh}×{kw}\n"
                    f"each filter min-max scaled on its own · {origin}", fontsize=9)
    return figure


def draw_filters(shown, layer: str, subject_name: str, origin: str, path):
    """``filters_figure`` written to ``path`` as a PNG."""
    return canvas.save_png(filters_figure(shown, layer, subject_name, origin), path)


# ---------------------------------------------------------------- activations

def activations_figure(panels: list, image, subject_name: str, note: str = ""):
    """The input image, then one panel per layer: (name, shape, maps [n, H, W] in [0, 1], channels in all)."""
    count = len(panels) + 1
    cols = min(3, count)
    rows = math.ceil(count / cols)
    figure = canvas.new_figure(4.2 * cols, 4.4 * rows + 0.4)
    cells = list(figure.subplots(rows, cols, squeeze=False).flat)
    for axes in cells:
        axes.axis("off")  # the cells left over stay blank
    _show(cells[0], _channels_last(image[None])[0], "input image (as the network sees it)", 9)
    for axes, (name, shape, maps, total) in zip(cells[1:], panels):
        shown = "" if len(maps) == total else f", first {len(maps)}"
        _show(axes, mosaic(_numpy(maps), grid_columns(len(maps))),
              f"{name} · {'×'.join(map(str, shape))}{shown}", 9)
    figure.suptitle(f"{subject_name}: activation maps, each channel min-max scaled (black: constant)"
                    + (f"\n{note}" if note else ""), fontsize=10)
    return figure


def draw_activations(panels: list, image, subject_name: str, path, note: str = ""):
    """``activations_figure`` written to ``path`` as a PNG."""
    return canvas.save_png(activations_figure(panels, image, subject_name, note), path)


# ---------------------------------------------------------------- guided backpropagation

PER_ROW = 10  # guided gradients per row: report 001's 10 × 1 grid


def guided_figure(image, pictures, channels: list, peaks, layer: str, subject_name: str, rule: str = "ReLU rule"):
    """The input image, then one guided-backpropagation picture per channel (``PER_ROW`` to a row);
    ``rule`` (``guided.rule_label``) says how the activations were treated."""
    count = len(channels)
    cols = min(count, PER_ROW) + 1
    rows = math.ceil(count / PER_ROW)
    figure = canvas.new_figure(1.7 * cols, 1.9 * rows + 0.8)
    grid = figure.subplots(rows, cols, squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    _show(grid[0][0], _channels_last(image[None])[0], "input", 8)
    shown = _channels_last(pictures)
    for i, (channel, peak) in enumerate(zip(channels, peaks.tolist())):
        _show(grid[i // PER_ROW][1 + i % PER_ROW], shown[i], f"channel {channel}\nmax {peak:.3g}", 8)
    figure.suptitle(f"{subject_name} · {layer}: guided backpropagation ({rule}) of the {count} channels with "
                    "the largest activation for this image\n(gradient of each channel's maximum w.r.t. the "
                    "input, only positive gradients passed back through each activation; each centred on grey "
                    "and scaled by its deviation)", fontsize=9)
    return figure


def draw_guided(image, pictures, channels: list, peaks, layer: str, subject_name: str, path,
                rule: str = "ReLU rule"):
    """``guided_figure`` written to ``path`` as a PNG."""
    return canvas.save_png(guided_figure(image, pictures, channels, peaks, layer, subject_name, rule), path)


# ---------------------------------------------------------------- attribution maps

OVERLAY = 0.6  # opacity of a heat map over its (greyed) image


def _grey(image):
    """numpy [H, W, 3] or [H, W] picture as a dimmed grey [H, W, 3], so the colours on top are the map's."""
    import numpy as np

    luminance = image if image.ndim == 2 else image @ np.array([0.299, 0.587, 0.114])
    return np.repeat((0.25 + 0.5 * luminance)[..., None], 3, axis=-1)


def heat_scale(values, signed: bool) -> tuple:
    """(vmin, vmax, colour map) shared by every cell: symmetric about 0 for signed values."""
    top = float(values.abs().max()) if values.numel() else 0.0
    top = top if top > 0 else 1.0  # an all-zero map is drawn at the bottom (or centre) of any scale
    return (-top, top, "RdBu_r") if signed else (0.0, top, "inferno")


def wrapped(text: str, width_inches: float, fontsize: int = 9) -> str:
    """``text`` with each line wrapped to the figure's width (about 0.55·fontsize points a character)."""
    import textwrap

    limit = max(30, int(width_inches * 72 / (0.55 * fontsize)))
    return "\n".join("\n".join(textwrap.wrap(line, limit, break_long_words=False) or [""])
                     for line in text.split("\n"))


def attribution_figure(pixels, maps, method, title: str, columns: list, cells: list, note: str = ""):
    """The images (top row, titled ``columns``), then one row per target: each cell the map of that
    target for that image, titled ``cells[row][image]``. Heat maps share one colour scale (a colour bar
    in ``method.unit``); gradient pictures are each centred on grey and scaled by their deviation."""
    from .guided import for_display

    rows, count = len(cells), len(columns)
    width = max(4.2, 2.3 * count + (1.2 if not method.picture else 0.3))
    full = wrapped(title + (f"\n{note}" if note else ""), width)
    figure = canvas.new_figure(width, 2.3 * (rows + 1) + 0.25 * full.count("\n") + 0.6)
    grid = figure.subplots(rows + 1, count, squeeze=False)
    shown = _channels_last(pixels)
    for i in range(count):
        _show(grid[0][i], shown[i], columns[i], 8)
    if method.picture:
        for row in range(rows):
            pictures = _channels_last(for_display(maps.values[row]))
            for i in range(count):
                _show(grid[row + 1][i], pictures[i], cells[row][i], 8)
    else:
        low, high, colours = heat_scale(maps.values, method.signed)
        for row in range(rows):
            for i in range(count):
                axes = grid[row + 1][i]
                axes.imshow(_grey(shown[i]), interpolation="nearest")
                heat = axes.imshow(_numpy(maps.values[row, i]), cmap=colours, vmin=low, vmax=high,
                                   alpha=OVERLAY, interpolation="nearest")
                axes.set_title(cells[row][i], fontsize=8)
                axes.axis("off")
        bar = figure.colorbar(heat, ax=grid[1:].ravel().tolist(), shrink=0.8)
        bar.set_label(method.unit, fontsize=8)
        bar.ax.tick_params(labelsize=7)
    figure.suptitle(full, fontsize=9)
    return figure


def draw_attribution(pixels, maps, method, title: str, columns: list, cells: list, path, note: str = ""):
    """``attribution_figure`` written to ``path`` as a PNG."""
    return canvas.save_png(attribution_figure(pixels, maps, method, title, columns, cells, note), path)


# ---------------------------------------------------------------- activation maximisation

def maximize_figure(ascent, layer: str, subject_name: str, method: str):
    """One image per filter in a near-square grid, each titled with its mean activation before → after."""
    count = len(ascent.filters)
    cols = grid_columns(count)
    rows = math.ceil(count / cols)
    figure = canvas.new_figure(1.9 * cols + 0.4, 2.0 * rows + 0.9)
    grid = figure.subplots(rows, cols, squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    shown = _channels_last(ascent.images)
    for i, (f, low, high) in enumerate(zip(ascent.filters, ascent.before.tolist(), ascent.after.tolist())):
        _show(grid[i // cols][i % cols], shown[i], f"filter {f}\n{low:.3g} → {high:.3g}", 8)
    figure.suptitle(f"{subject_name} · {layer}: images maximising each filter's mean activation "
                    f"(before → after)\n{method}, {ascent.steps} steps", fontsize=9)
    return figure


def draw_maximized(ascent, layer: str, subject_name: str, method: str, path):
    """``maximize_figure`` written to ``path`` as a PNG."""
    return canvas.save_png(maximize_figure(ascent, layer, subject_name, method), path)
