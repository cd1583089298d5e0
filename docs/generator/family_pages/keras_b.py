"""Docs page of the keras.applications flavours: Xception, InceptionV3, InceptionResNetV2, EfficientNet B0-B7."""

from ..families import Family, Variant

FAMILIES = (
    Family(
        "keras_b", "Keras applications: Xception, InceptionV3, InceptionResNetV2, EfficientNet B0-B7",
        "The networks of `keras.applications` written layer for layer as Keras builds them, with Keras' "
        "layer names, so `cnncost summary` prints the three parameter lines of Keras' `model.summary()` and "
        "`--convention keras` is its \"Total params\": the trainable weights plus the non-trainable ones "
        "(BatchNorm moving mean and variance, and the mean, variance and sample count of EfficientNet's "
        "input `Normalization` layer). They are not torchvision's networks: Keras' InceptionV3 and "
        "InceptionResNetV2 use BatchNorm without a scale (beta only), have no auxiliary classifier, and "
        "InceptionResNetV2's block outputs are `x + scale · up` with a biased 1×1 `up` conv; Xception is "
        "built from bias-free separable convolutions (depthwise, then pointwise). EfficientNet B0-B7 are "
        "the same MBConv networks as torchvision's, preceded by Keras' rescaling and normalisation of the "
        "input. TensorFlow's \"same\" padding of a strided layer is written as symmetric padding, which "
        "gives the same output sizes and counts. `--no-include-top` drops the global pool and dense layer.",
        ("keras_xception", "keras_inception_v3", "keras_inception_resnet_v2", "keras_efficientnet_b0"),
        summary=("keras_efficientnet_b0", "keras_efficientnet_b1", "keras_efficientnet_b2", "keras_efficientnet_b3",
                 "keras_efficientnet_b4", "keras_efficientnet_b5", "keras_efficientnet_b6",
                 "keras_efficientnet_b7"),
        costs_by="block",
        variants=(
            Variant("`--no-include-top`: Xception without its classifier top", "keras_xception",
                    {"include_top": False}, quantities=("params", "buffers")),
        ),
        notes=(
            "Every network's Keras total (parameters + buffers here) equals the \"Parameters\" column of "
            "keras.io/api/applications, with and without the top; tests/test_zoo_keras_b.py checks them, "
            "and that each Keras weight tensor is one state_dict entry. EfficientNet's width and depth "
            "coefficients are numeric parameters (`cnncost sweep --set width_coefficient=1.0,1.1`), "
            "rounded as Keras' `round_filters` and `round_repeats`. The per-block stochastic-depth dropout "
            "is the identity at inference and holds nothing, so it is left out.",
        ),
    ),
)
