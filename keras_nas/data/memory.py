"""The memory budget of data held in memory."""

import os

MEMORY_SHARE = 0.25
"""The default memory budget of in-memory data: this share of the RAM."""


def default_memory_budget():
    """`MEMORY_SHARE` of this machine's RAM, in bytes."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return int(pages * MEMORY_SHARE)
