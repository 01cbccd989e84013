"""Counters the robustness tests fill and the test session prints at the end.

The figures (bad frames tried, faults injected, losses and duplicates seen)
are what the hardening work is judged by, so they are printed in every run,
not only asserted.
"""

from collections import Counter

STATS: Counter[str] = Counter()
