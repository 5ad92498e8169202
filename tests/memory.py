"""Memory measurements shared by the leak tests."""
import gc
import os
import tracemalloc

import pytest

# AddressSanitizer keeps freed memory in quarantine, so RSS cannot show a free
no_asan = pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                             reason="AddressSanitizer holds freed memory in quarantine")


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def python_growth(step, warmup, runs):
    """Bytes of Python memory still held after `runs` calls of step, counted
    after `warmup` calls (caches and free lists filled) and a collection."""
    for _ in range(warmup):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(runs):
            step()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
