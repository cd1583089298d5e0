"""Hypothesis strategies for valid architecture configurations.

The minimum input sizes here are derived by hand, independently of the engine:
scratch5 with valid padding loses k − 1 pixels per conv and halves (floor) per
pool, so P5 ≥ 1 needs H ≥ 31(k − 1) + 32 = 31k + 1; with same padding only the
pools shrink, so H ≥ 32.
"""

from hypothesis import strategies as st


def scratch5_min_size(k: int, padding: str) -> int:
    """Smallest H (or W) for which scratch5 is valid."""
    return 31 * k + 1 if padding == "valid" else 32


@st.composite
def scratch5_configs(draw, max_extra: int = 40, max_m: int = 12):
    """Random valid scratch5 keyword sets (h, w, m, k, n, classes, padding, org, bn)."""
    padding = draw(st.sampled_from(["valid", "same"]))
    org = draw(st.sampled_from(["same", "double", "half"]))
    k = draw(st.integers(1, 5))
    m = draw(st.sampled_from([16, 32])) if org == "half" else draw(st.integers(1, max_m))
    low = scratch5_min_size(k, padding)
    return dict(h=low + draw(st.integers(0, max_extra)), w=low + draw(st.integers(0, max_extra)),
                m=m, k=k, n=draw(st.integers(1, 32)), classes=draw(st.integers(1, 12)),
                padding=padding, org=org, bn=draw(st.booleans()))
