"""The Keras applications page (A): VGG, ResNet v1/v2, MobileNet v1/v2, DenseNet (hand-written prose only)."""

from __future__ import annotations

from ..families import Family, Variant

FAMILIES = (
    Family(
        "keras_a", "Keras applications: VGG, ResNet, ResNetV2, MobileNet, MobileNetV2, DenseNet",
        "keras.applications' VGG16 and VGG19, ResNet50/101/152 and their V2, MobileNet, MobileNetV2 and "
        "DenseNet121/169/201, each with exactly the layers Keras builds, named as Keras names them "
        "(`conv2_block1_1_conv`, `block_3_depthwise`). They are not torchvision's networks under another "
        "name: Keras' ResNet puts a bias on every convolution and strides on a bottleneck's first 1×1 "
        "(v1, not v1.5); ResNetV2 is pre-activation and strides in the last block of a stack; VGG's top "
        "is flatten → 4096 → 4096 → classes with no adaptive pool, so its parameters depend on H and W; "
        "MobileNet's classifier is a 1×1 convolution. Paddings are ZeroPadding2D layers where Keras "
        "writes them (the ResNet and DenseNet stems, MobileNet's strided depthwise convolutions, whose "
        "MobileNetV2 padding depends on the parity of the size), so every layer's output shape is the "
        "one Keras prints. Keras' \"Total params\" is `--convention keras`: the parameters plus "
        "BatchNorm's moving mean and variance, which Keras counts as non-trainable. `--no-include-top` "
        "ends each network at its last feature map, as Keras' `include_top=False`. The design variables "
        "are the input height and width; MobileNet's width multiplier `--alpha` is a number (rounded "
        "as Keras rounds it), varied by `cnncost sweep --set alpha=...`.",
        # The summary table reads the last detailed network's sizes: keras_resnet50 goes last.
        ("keras_vgg16", "keras_mobilenet", "keras_mobilenet_v2", "keras_densenet121", "keras_resnet50v2",
         "keras_resnet50"),
        summary=("keras_resnet50", "keras_resnet101", "keras_resnet152"),
        costs_by="block",
        variants=(
            Variant("`--no-include-top`: Keras ResNet50 without its top", "keras_resnet50",
                    {"include_top": False}, quantities=("params", "buffers")),
            Variant("Keras ResNet101V2", "keras_resnet101v2", {}, quantities=("params", "buffers")),
            Variant("Keras ResNet152V2", "keras_resnet152v2", {}, quantities=("params", "buffers")),
            Variant("Keras VGG19", "keras_vgg19", {}),
            Variant("Keras MobileNetV2, H and W multiples of 32 (correct_pad's parity terms vanish)",
                    "keras_mobilenet_v2", {}, 32),
            Variant("Keras DenseNet169", "keras_densenet169", {}, quantities=("params", "buffers")),
            Variant("Keras DenseNet201", "keras_densenet201", {}, quantities=("params", "buffers")),
        ),
        notes=(
            "Keras' \"Total params\" of every network here, with and without its top, is checked against "
            "printed `model.summary()` outputs in tests/test_zoo_keras_a.py, with report 002's ResNet50 "
            "without top at 50×50 plus Flatten and Dense(8): 23,653,256 total, 23,600,136 trainable, "
            "53,120 non-trainable. The layout is PyTorch's channels-first; Keras' channels-last order "
            "changes no count. A 'same' 3×3 convolution at stride 2 (the MobileNet stems) pads one side "
            "in Keras and both here: the output size, and so every count, is the same. The numbers table "
            "gives PyTorch's parameters, which are Keras' \"Trainable params\"; `cnncost count NAME "
            "--convention keras` gives Keras' total.",
        ),
    ),
)
