"""The real sample media (``fakebench samples fetch``) as a small all-real data set.

One row per video file: A, B (two files, one person), C, D, E and E-lq (E after heavy
compression: same person and clip, ``compression`` ``lq``). Each sample is its own person, so
the target identity is the sample id (E-lq's is E). Not included by default: NOFACE (a clip with
no person: a face-swap detector has nothing to score; ``--include-noface`` adds it, method
``control``, to exercise the "no face" path) and ORL (stills, not videos). Only fetched samples
are indexed; ``--root`` is the cache folder (default: fakebench's cache). Source group: the person,
``samples:<sample id>`` (B's two files share ``samples:B``, E-lq is in ``samples:E``, and segments
of a file keep it); NOFACE is its own group.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fakebench.datasets import samples
from fakebench.datasets.index import VideoRecord
from fakebench.datasets.layouts.base import LAYOUTS, log
from fakebench.errors import DatasetLayoutError

VIDEO_SAMPLES = ("A", "B", "C", "D", "E", "E-lq")


@LAYOUTS.register("samples")
@dataclass(frozen=True)
class SampleMedia:
    """The fetched sample videos, all real."""

    include_noface: bool = False

    def records(self, root: Path | None) -> list[VideoRecord]:
        ids = [*VIDEO_SAMPLES, *(("NOFACE",) if self.include_noface else ())]
        fetched = [s for s in ids if samples.is_cached(s, root)]
        if not fetched:
            raise DatasetLayoutError(f"{samples.samples_dir(root)}: none of the samples {', '.join(ids)} is fetched; "
                                     "run `fakebench samples fetch`")
        missing = sorted(set(ids) - set(fetched))
        if missing:
            log.warning("samples not fetched (not indexed): %s; run `fakebench samples fetch %s`",
                        ", ".join(missing), " ".join(missing))
        records = []
        for sample_id in fetched:
            paths = samples.sample_paths(sample_id, root)
            for path in paths:
                key = sample_id if len(paths) == 1 else f"{sample_id}/{path.stem}"
                person = "" if sample_id == "NOFACE" else sample_id.removesuffix("-lq")
                video_id = f"samples/{key}"
                records.append(VideoRecord(
                    video_id=video_id, path=str(path.resolve()), label=0, dataset="samples",
                    method="control" if sample_id == "NOFACE" else "original",
                    compression="lq" if sample_id == "E-lq" else "",
                    target_id=person, source_group=f"samples:{person}" if person else video_id))
        return records
