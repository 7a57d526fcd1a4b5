"""Tiny copies of the public data set layouts: small valid mp4 files named and laid out exactly as each
data set ships them, with split and metadata files in their real formats.

Every video holds different bytes (seeded from its name), so duplicate-by-content checks are real.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from fakebench.media import write_video
from tests.conftest import synthetic_frames


def make_video(path: Path, frames: int = 3, seed: int | None = None, size: tuple[int, int] = (32, 32)) -> Path:
    """A small valid mp4 (``frames`` frames of ``size`` (h, w)), different for every path."""
    seed = zlib.crc32(path.name.encode()) if seed is None else seed
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, synthetic_frames(frames, *size, seed=seed), fps=10.0)


def build_ffpp(root: Path) -> Path:
    """FF++: 4 YouTube originals, Deepfakes + FaceSwap at c23 (and one c40), DeepFakeDetection, splits."""
    originals = root / "original_sequences" / "youtube" / "c23" / "videos"
    for vid in ("000", "001", "002", "003"):
        make_video(originals / f"{vid}.mp4")
    for method in ("Deepfakes", "FaceSwap"):
        for pair in ("000_001", "001_000", "002_003", "003_002"):
            make_video(root / "manipulated_sequences" / method / "c23" / "videos" / f"{pair}.mp4")
    make_video(root / "manipulated_sequences" / "Deepfakes" / "c40" / "videos" / "000_001.mp4")
    make_video(root / "manipulated_sequences" / "Deepfakes" / "masks" / "videos" / "000_001.mp4")  # not a video set
    make_video(root / "original_sequences" / "youtube" / "c40" / "videos" / "000.mp4")
    for name in ("01__exit_phone_room", "02__walking_down_street_outside_angry"):
        make_video(root / "original_sequences" / "actors" / "c23" / "videos" / f"{name}.mp4")
    dfd = root / "manipulated_sequences" / "DeepFakeDetection" / "c23" / "videos"
    make_video(dfd / "01_02__exit_phone_room__YVGY8LOK.mp4")
    make_video(dfd / "02_01__walking_down_street_outside_angry__A1B2C3D4.mp4")
    splits = root / "splits"
    splits.mkdir()
    (splits / "train.json").write_text(json.dumps([["000", "001"]]))
    (splits / "val.json").write_text(json.dumps([]))
    (splits / "test.json").write_text(json.dumps([["003", "002"]]))  # the other order than the file names
    return root


def build_celebdf(root: Path) -> Path:
    """Celeb-DF-v2: 3 Celeb-real, 2 YouTube-real, 3 Celeb-synthesis; 3 listed for test (+1 not on disk)."""
    for name in ("id0_0000", "id1_0000", "id2_0001"):
        make_video(root / "Celeb-real" / f"{name}.mp4")
    for name in ("00000", "00001"):
        make_video(root / "YouTube-real" / f"{name}.mp4")
    for name in ("id0_id1_0000", "id1_id0_0000", "id2_id0_0001"):
        make_video(root / "Celeb-synthesis" / f"{name}.mp4")
    (root / "List_of_testing_videos.txt").write_text(
        "1 Celeb-real/id2_0001.mp4\n1 YouTube-real/00001.mp4\n0 Celeb-synthesis/id2_id0_0001.mp4\n"
        "0 Celeb-synthesis/id9_id8_0000.mp4\n")
    return root


def build_dfdc(root: Path) -> Path:
    """DFDC: two train parts with metadata.json and a test folder with labels.csv."""
    parts = {
        "dfdc_train_part_0": {"aaqaifqrwn.mp4": {"label": "FAKE", "split": "train", "original": "vpmyeepbep.mp4"},
                              "abarnvbtwb.mp4": {"label": "FAKE", "split": "train", "original": "vpmyeepbep.mp4"},
                              "vpmyeepbep.mp4": {"label": "REAL", "split": "train", "original": None}},
        "dfdc_train_part_1": {"bbhtdcbtfc.mp4": {"label": "FAKE", "split": "train", "original": "ccfoszqabv.mp4"},
                              "ccfoszqabv.mp4": {"label": "REAL", "split": "train", "original": None}},
    }
    for part, meta in parts.items():
        for name in meta:
            make_video(root / part / name)
        (root / part / "metadata.json").write_text(json.dumps(meta))
    make_video(root / "test" / "aalscayrfi.mp4")
    make_video(root / "test" / "abhggqdift.mp4")
    (root / "test" / "labels.csv").write_text("filename,label\naalscayrfi.mp4,1\nabhggqdift.mp4,0\n")
    return root


def build_dfdc_preview(root: Path) -> Path:
    entries = {"original_videos/643049/643049_A_001.mp4": {"label": "real", "set": "train"},
               "method_A/643049/643049_1947001/1955430.mp4": {"label": "fake", "set": "train"},
               "method_B/643049/643049_1947001/1955431.mp4": {"label": "fake", "set": "test"}}
    for key in entries:
        make_video(root / key)
    (root / "dataset.json").write_text(json.dumps(entries))
    return root


def build_deeperforensics(root: Path, ff_root: Path) -> Path:
    """DeeperForensics-1.0: 3 fakes in two variants, official split lists, one source video; FF++ targets."""
    for variant in ("end_to_end", "end_to_end_level_1"):
        for name in ("000_M101", "001_W102", "002_M103"):
            make_video(root / "manipulated_videos" / variant / f"{name}.mp4")
    splits = root / "lists" / "splits"
    splits.mkdir(parents=True)
    (splits / "train.txt").write_text("000_M101.mp4\n")
    (splits / "val.txt").write_text("001_W102.mp4\n")
    (splits / "test.txt").write_text("002_M103.mp4\n")
    make_video(root / "source_videos" / "M101" / "light_uniform" / "neutral" / "camera_front"
               / "M101_light_uniform_neutral_camera_front.mp4")
    for vid in ("000", "001", "002"):
        make_video(ff_root / "original_sequences" / "youtube" / "c23" / "videos" / f"{vid}.mp4")
    return root


def build_folder(root: Path) -> Path:
    make_video(root / "real" / "a.mp4")
    make_video(root / "real" / "studio" / "b.mp4")
    make_video(root / "fake" / "faceswap" / "c.mp4")
    make_video(root / "fake" / "d.mp4")
    (root / "fake" / "notes.txt").write_text("not a video")
    return root


def write_manifest(folder: Path, name: str, input_path: Path, target: str, source: str, start: int, stop: int,
                   step: int = 1200, **changes) -> Path:
    """A converted fake as the generator writes it: <name>.mp4, <name>.masks.npz and the manifest <name>.json."""
    video = make_video(folder / f"{name}.mp4", frames=stop - start)
    masks = np.zeros((stop - start, 32, 32), np.uint8)
    masks[:, 8:24, 8:24] = 255
    np.savez_compressed(folder / f"{name}.masks.npz", masks=masks)
    manifest = {"schema": "fakebench.generated/1", "fakebench_version": "0.1.0", "video": video.name,
                "masks": f"{name}.masks.npz", "label": 1,
                "input": {"path": str(input_path), "sha256": hashlib.sha256(input_path.read_bytes()).hexdigest(),
                          "start_frame": start, "stop_frame": stop},
                "identities": {"target": target, "source": source}, "run": str(folder),
                "checkpoint": {"step": step, "sha256": "ab" * 32},
                "settings": {"size": 64, "blend": "alpha", "colour": "reinhard", "mask_erode": 0.05, "mask_blur": 0.1},
                "frames": stop - start, "frames_swapped": stop - start - 1, "fps": 10.0, "width": 32, "height": 32}
    manifest.update(changes)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(manifest))
    return path


def build_generated(root: Path) -> tuple[Path, Path, Path]:
    """Two real driving videos (people a and b) and three fakes: a<-b twice from one segment, b<-a once."""
    inputs = root / "inputs"
    video_a = make_video(inputs / "person_a.mp4", frames=12)
    video_b = make_video(inputs / "person_b.mp4", frames=12)
    run = root / "fakes" / "run1"
    write_manifest(run, "a_from_b", video_a, "a", "b", 0, 8)
    write_manifest(run, "a_from_b_later", video_a, "a", "b", 0, 8, step=2400)
    write_manifest(run, "b_from_a", video_b, "b", "a", 2, 10)
    (run / "config.json").write_text(json.dumps({"steps": 2400}))  # a run's own JSON: not a manifest
    return root / "fakes", video_a, video_b


@pytest.fixture(scope="session")
def ffpp_root(tmp_path_factory) -> Path:
    return build_ffpp(tmp_path_factory.mktemp("ffpp"))
