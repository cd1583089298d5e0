"""The zoo families, one documentation page each: members, prose, what to derive.

Data only: the prose is written here, every formula and number on the page is
derived by ``family_page`` from the engine.
"""

from __future__ import annotations

from typing import NamedTuple


class Variant(NamedTuple):
    """Another configuration of a family member, shown by its closed forms."""

    label: str  # what changes, in words
    arch: str
    given: dict  # builder keywords bound for this variant (the rest keep their defaults)
    divisible: int | None = None  # assume H and W are multiples of this
    quantities: tuple = ("params", "macs")


class Family(NamedTuple):
    """One page: which networks, which get a full derivation, what else to show."""

    slug: str  # page file name: docs/families/<slug>.md
    title: str
    intro: str  # what the networks are, hand-written
    detailed: tuple  # networks with a full derivation section
    summary: tuple = ()  # networks listed in one closed-form table (they share the first detailed one's sizes)
    costs_by: str = "layer"  # per-"layer" or per-"block" (top-level module) cost table
    variants: tuple = ()
    notes: tuple = ()  # paragraphs after the derivations

    @property
    def members(self) -> tuple:
        """Every network on the page, each once: detailed ones not in the summary, then the summary."""
        return tuple(name for name in self.detailed if name not in self.summary) + self.summary


FAMILIES = (
    Family(
        "scratch5", "scratch5: the five-block CNN of reports 000 and 001",
        "Five blocks of convolution → activation → 2×2 max-pool, then a dense layer of n neurons "
        "and an output layer. Reports 000 and 001 derive its costs by hand; here the engine derives "
        "them in the design variables m (filters), k (kernel size), n (dense neurons) and the input "
        "size H×W. Padding, filter organisation, BatchNorm and activation are structural options: "
        "each choice has its own closed form (see *Other configurations*).",
        ("scratch5",),
        variants=(
            Variant("`--padding same`, H and W multiples of 32 (report 001's setting)", "scratch5",
                    {"padding": "same"}, 32),
            Variant("`--org double`: m, 2m, 4m, 8m, 16m filters", "scratch5", {"org": "double"}),
            Variant("`--org half`: m, m/2, m/4, m/8, m/16 filters", "scratch5", {"org": "half"},
                    quantities=("params",)),
            Variant("`--bn`: BatchNorm after each conv", "scratch5", {"bn": True},
                    quantities=("params", "buffers")),
        ),
    ),
    Family(
        "seeds", "Seed networks: mlp3, smallcnn, smallcnn_res, smallcnn_inception",
        "The small networks that seed reports 003 and 004 train and summarise. The formulas keep "
        "the reports' design variables symbolic (m filters, k kernel size, n dense neurons, input "
        "H×W); padding and classes follow each report's figure. Report 003's Keras models put the "
        "ReLU inside each conv and dense layer, so the activation comes before the BatchNorm.",
        ("mlp3", "smallcnn", "smallcnn_res", "smallcnn_inception"),
        notes=(
            "smallcnn_inception: the report gives no branch widths for its naive inception block; "
            "2m, 4m and m (1×1, 3×3, 5×5 branches) are an assumption, taken from the widely copied "
            "Keras example. Report 004 prints no counts for its MLP; [the audit](../audit.md) checks "
            "every number and formula the reports do print.",
        ),
    ),
    Family(
        "vgg", "VGG and AlexNet",
        "torchvision's AlexNet (the single-GPU variant of Krizhevsky 2014) and VGG-11, 13, 16 and 19 "
        "(configurations A, B, D and E of Simonyan & Zisserman 2014), each with and without BatchNorm. "
        "The only design variables are the input height and width: classes (1000) and input channels "
        "(3) are options bound to numbers. An adaptive average pool in front of the classifier "
        "(6×6 for AlexNet, 7×7 for VGG) fixes the classifier's input, so the parameters do not depend "
        "on H and W, and the constant term of every MACs formula is the classifier.",
        ("alexnet", "vgg16"),
        summary=("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"),
    ),
    Family(
        "resnet", "ResNet-18, 34, 50, 101 and 152, and the original ResNet v1",
        "torchvision's ResNets (He et al. 2015) in torchvision's version 1.5: a Bottleneck block "
        "strides on its 3×3 convolution, not on its first 1×1. Every convolution is bias-free and "
        "followed by BatchNorm. The spatial size changes only in the stem (7×7/2 conv, 3×3/2 "
        "max-pool) and in the first block of stages 2 to 4, so five named sizes carry every formula. "
        "The design variables are the input height and width. resnet50_v1, resnet101_v1 and "
        "resnet152_v1 are the paper's original: the first block of stages 2–4 strides on its first 1×1 "
        "convolution, so its 3×3 runs at the halved size — the same parameters and state_dict as "
        "resnetN, fewer MACs (the paper's Table 1 prints 3.8, 7.6 and 11.3 ×10⁹).",
        ("resnet50",),
        summary=("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet50_v1", "resnet101_v1",
                 "resnet152_v1"),
        costs_by="block",
    ),
    Family(
        "googlenet", "GoogLeNet (Inception v1)",
        "torchvision's GoogLeNet (Szegedy et al. 2014): a stem, nine inception blocks of four "
        "parallel branches in three stages, global average pool, dropout and a fully connected "
        "layer. Every convolution is bias-free and followed by BatchNorm. Where torchvision differs "
        "from the paper it is followed: the \"5×5\" branch uses a 3×3 kernel (so torchvision's "
        "weights load). The auxiliary classifiers are off by default (`--aux-logits` adds them).",
        ("googlenet",),
        costs_by="block",
        variants=(Variant("`--aux-logits`: the two auxiliary classifiers (training only)", "googlenet",
                          {"aux_logits": True}, quantities=("params",)),),
        notes=(
            "The max-pools round up (`ceil_mode=True`): the engine writes ⌈(x − 3)/2⌉ + 1 as "
            "1 − ⌊(3 − x)/2⌋ and ⌈x/2⌉ as −⌊−x/2⌋, floors only.",
        ),
    ),
    Family(
        "inception_v3", "Inception-v3",
        "torchvision's Inception-v3 (Szegedy et al. 2015): a stem of five convolutions and two "
        "max-pools, three blocks A, the grid reduction B, four blocks C (7×7 convolutions factorised "
        "into 1×7 and 7×1), the reduction D, two blocks E, average pool, dropout and a fully "
        "connected layer. Every convolution is bias-free and followed by BatchNorm. The auxiliary "
        "classifier (`AuxLogits`, after `Mixed_6e`) is on by default, as in torchvision: its "
        "parameters count, it adds no inference operations, and it needs the larger input.",
        ("inception_v3",),
        costs_by="block",
        variants=(Variant("`--no-aux-logits`: without the auxiliary classifier", "inception_v3",
                          {"aux_logits": False}, quantities=("params",)),),
    ),
    Family(
        "mobilenet_v2", "MobileNetV2",
        "torchvision's MobileNetV2 (Sandler et al. 2018) at width multiplier 1.0: a 3×3/2 "
        "convolution, 17 inverted residual blocks (1×1 expansion by a factor t, 3×3 depthwise "
        "convolution, linear 1×1 projection), a 1×1 convolution to 1280 channels, average pool, "
        "dropout and a fully connected layer. A depthwise convolution has as many groups as "
        "channels, so it costs outputs · 9 MACs rather than outputs · Cin · 9. The size names "
        "H1 … H5 are the engine's automatic ones (one per stride-2 layer).",
        ("mobilenet_v2",),
        costs_by="block",
    ),
)


def _more_families() -> tuple:
    """The families written in ``docs/generator/family_pages/`` (one file per family group, each
    defining ``FAMILIES``), in file-name order."""
    import importlib
    import pkgutil

    from . import family_pages

    found: tuple = ()
    for module in sorted(m.name for m in pkgutil.iter_modules(family_pages.__path__)):
        found += importlib.import_module(f"{family_pages.__name__}.{module}").FAMILIES
    return found


FAMILIES += _more_families()


def family(slug: str) -> Family:
    """The family whose page is docs/families/<slug>.md."""
    return next(f for f in FAMILIES if f.slug == slug)
