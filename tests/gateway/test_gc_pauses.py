"""Garbage-collector pauses are timed into a metric, per generation."""

from __future__ import annotations

import gc

from gateway import metrics
from gateway.gc_tuning import GcPauseRecorder


def _count(generation: str) -> float:
    for metric in metrics.GC_PAUSE.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels["generation"] == generation:
                return sample.value
    return 0.0


def test_each_collection_is_timed_under_its_generation() -> None:
    recorder = GcPauseRecorder()
    before = _count("2"), _count("0")
    recorder.install()
    recorder.install()  # once only
    try:
        gc.collect(2)
        gc.collect(0)
    finally:
        recorder.remove()
    # At least: the collector may also have run on its own meanwhile.
    assert _count("2") >= before[0] + 1 and _count("0") >= before[1] + 1
    after = _count("2")
    gc.collect(2)  # removed: no longer counted
    assert _count("2") == after
