"""Hypothesis strategies shared by the property tests.

``binary`` draws bytes as a list of integers. Hypothesis's own ``st.binary`` records an empty
``b""`` among its choices; its caches then compare it with a ``0`` or ``False`` drawn at the same
place by another example (all three hash to 0), which ``python -bb`` turns into a BytesWarning
error inside Hypothesis, failing a test at random.
"""

from __future__ import annotations

from hypothesis import strategies as st


def binary(*, min_size: int = 0, max_size: int) -> st.SearchStrategy[bytes]:
    """Any bytes of ``min_size`` to ``max_size`` length."""
    return st.lists(st.integers(0, 255), min_size=min_size, max_size=max_size).map(bytes)
