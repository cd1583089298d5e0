"""Scanning an image folder: its layout, its class folders, its image files.

Two layouts are accepted:

* ``root/train/<class>/*`` with an optional test split next to it in
  ``root/test/<class>/*`` or ``root/val/<class>/*`` (``test/`` wins when both
  exist). In the iNaturalist-12K layout ``val/`` *is* the held-out test set,
  which is why validation never comes from it.
* ``root/<class>/*``: the folder itself holds the class folders (e.g. pointing
  ``--data`` at ``inaturalist_12K/train``); there is no test split then. A
  folder with ``val/`` or ``test/`` but no ``train/`` is an error, not a
  dataset whose classes are "val" and "test".

Hidden entries (``.DS_Store``, ``.ipynb_checkpoints``, ``__MACOSX``) and files
whose suffix is not an image format are skipped and listed, never errors.
Class folders are searched recursively; everything is sorted by name, so a
scan is the same on every machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cnncost.arch import ParameterError

# Suffixes PIL decodes that image datasets use; matched case-insensitively.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".webp",
                            ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm"})
# Folder names next to train/ that hold the test split, in order of preference.
TEST_FOLDERS = ("test", "val")
NEEDED = "need train/<class>/ folders of images, or 'synthetic'"


@dataclass
class FolderScan:
    """What an image folder holds, before the train/validation split."""

    root: str                           # the folder given, absolute
    train_dir: str                      # the folder whose subfolders are the training classes
    test_dir: str | None                # val/ or test/ next to train/, or None
    classes: list[str]                  # class folder names, sorted; label i is classes[i]
    train: list[tuple[str, int]]        # (path, label) of every training image, sorted
    test: list[tuple[str, int]]         # (path, label) of every test image, sorted
    skipped: list[str] = field(default_factory=list)  # hidden entries and non-image files


def data_error(message: str) -> ParameterError:
    """The error for a bad ``data`` source (``--data: ...`` on the command line)."""
    return ParameterError("data", message)


def scan(root: str) -> FolderScan:
    """Every training (and test) image under ``root`` with its label; raises CnncostError on a bad folder."""
    train_dir, test_dir = find_layout(root)
    skipped: list[str] = []
    classes = class_folders(train_dir, skipped)
    if not classes:
        raise data_error(f"no class folders in '{train_dir}' ({NEEDED})")
    if len(classes) == 1:
        raise data_error(f"one class only ('{classes[0]}' in '{train_dir}'); "
                         "need at least 2 class folders of images")
    train = _labelled(train_dir, classes, classes, skipped, split="train")
    test = []
    if test_dir is not None:
        test = _labelled(test_dir, class_folders(test_dir, skipped), classes, skipped, split="test")
    return FolderScan(os.path.abspath(root), train_dir, test_dir, classes, train, test, skipped)


def find_layout(root: str) -> tuple[str, str | None]:
    """(train folder, test folder or None) of ``root``, as absolute paths; errors for a missing root."""
    root = os.path.abspath(root)
    if not os.path.exists(root):
        raise data_error(f"folder '{root}' does not exist ({NEEDED})")
    if not os.path.isdir(root):
        raise data_error(f"'{root}' is a file, not a folder ({NEEDED})")
    test_dir = next((os.path.join(root, name) for name in TEST_FOLDERS
                     if os.path.isdir(os.path.join(root, name))), None)
    if os.path.isdir(os.path.join(root, "train")):
        return os.path.join(root, "train"), test_dir
    if test_dir is not None:
        raise data_error(f"no train/ folder in '{root}' (it has {os.path.basename(test_dir)}/; "
                         "need train/<class>/ next to it)")
    return root, None


def class_folders(directory: str, skipped: list[str]) -> list[str]:
    """Names of the visible subfolders of ``directory``, sorted; anything else goes to ``skipped``."""
    names = []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if _hidden(entry.name) or not entry.is_dir():
            skipped.append(entry.path)
        else:
            names.append(entry.name)
    return names


def image_files(directory: str, skipped: list[str]) -> list[str]:
    """Paths of the image files under ``directory`` (recursively), sorted; the rest goes to ``skipped``."""
    images: list[str] = []
    for folder, subfolders, files in os.walk(directory):
        skipped.extend(os.path.join(folder, d) for d in subfolders if _hidden(d))
        subfolders[:] = sorted(d for d in subfolders if not _hidden(d))  # walk visible ones, in order
        for name in sorted(files):
            path = os.path.join(folder, name)
            (images if is_image_name(name) else skipped).append(path)
    return images


def is_image_name(name: str) -> bool:
    """True for a visible file with an image suffix (the content is checked only when decoded)."""
    return not _hidden(name) and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _labelled(directory: str, names: list[str], classes: list[str], skipped: list[str],
              split: str) -> list[tuple[str, int]]:
    """(path, label) of the images in class folders ``names`` of ``directory``, checked against ``classes``."""
    samples: list[tuple[str, int]] = []
    for name in names:
        if name not in classes:
            raise data_error(f"class '{name}' in '{directory}' is not a training class "
                             f"(need the class folders of '{os.path.dirname(directory)}/train')")
        images = image_files(os.path.join(directory, name), skipped)
        if not images and split == "train":  # an empty test class only means no test images of it
            raise data_error(f"empty class '{name}' (no images in '{os.path.join(directory, name)}'); "
                             "need at least 2 images per class")
        samples.extend((path, classes.index(name)) for path in images)
    return samples


def _hidden(name: str) -> bool:
    """Dot-files and macOS archive debris are never data."""
    return name.startswith(".") or name == "__MACOSX"
