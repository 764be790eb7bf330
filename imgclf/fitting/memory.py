"""The C allocator's setting that keeps a streaming stage's memory flat."""

import ctypes

M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
GLIBC_DEFAULT_THRESHOLD = 128 * 1024


def keep_large_blocks_returnable() -> bool:
    """glibc serves a block above its mmap threshold (128 KiB) with mmap and gives it back to the system when
    freed, but raises that threshold to the largest such block freed, up to 32 MB. Streaming frees a shard-sized
    block per shard; after the first, shard-, batch- and buffer-sized blocks come from the heap, which fragments
    and keeps growing: training on 375 MB of shards peaked at 1,365 MB against 1,099 MB with the threshold fixed
    at its default (which also stops the raising). Whether it was set: False beyond glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, GLIBC_DEFAULT_THRESHOLD))
