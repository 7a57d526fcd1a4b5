"""Whole-index face extraction: a status for every video, resumable after an interruption."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from fakebench.datasets.extract import ExtractSettings, extract_index, load_status, load_track, track_name
from fakebench.datasets.index import VideoRecord, build_index
from fakebench.errors import ConfigError
from fakebench.faces.track import FaceTrack
from fakebench.media import probe_video, sample_indices
from tests.conftest import sample
from tests.datasets.conftest import make_video


class StubExtractor:
    """FaceExtractor's interface without the models: every frame has a face unless the file says 'noface'.

    ``stop_after``: raise KeyboardInterrupt on that call (an interrupted run)."""

    def __init__(self, stop_after: int | None = None):
        self.calls: list[str] = []
        self.stop_after = stop_after

    def extract(self, path, *, count=None, start=0, stop=None, progress=False, **_):
        if self.stop_after is not None and len(self.calls) == self.stop_after:
            raise KeyboardInterrupt
        self.calls.append(str(path))
        info = probe_video(path)
        frames = sample_indices(info.n_frames, count=count, start=start, stop=stop)
        n, size = len(frames), 8
        face = np.full(n, "noface" not in str(path))
        return FaceTrack(source=str(path), fps=info.fps, width=info.width, height=info.height,
                         n_video_frames=info.n_frames, size=size, margin=0.25, frames=frames, has_face=face,
                         n_faces=face.astype(np.int16), boxes=np.zeros((n, 4), np.float32), scores=np.ones(n, np.float32),
                         points5=np.zeros((n, 5, 2), np.float32), landmarks=np.zeros((n, 68, 2), np.float32),
                         affines=np.zeros((n, 2, 3), np.float32), crops=np.zeros((n, size, size, 3), np.uint8))


@pytest.fixture
def index(tmp_path):
    paths = [make_video(tmp_path / "v" / f"{name}.mp4", frames=10) for name in ("a", "b", "noface", "c")]
    (tmp_path / "v" / "broken.mp4").write_bytes(b"\x00" * 64)
    rows = [VideoRecord(video_id=f"set/{p.stem}", path=str(p), label=i % 2, dataset="set") for i, p in enumerate(paths)]
    rows.insert(2, VideoRecord(video_id="set/broken", path=str(tmp_path / "v" / "broken.mp4"), label=1, dataset="set"))
    rows.append(VideoRecord(video_id="set/missing", path=str(tmp_path / "v" / "gone.mp4"), label=0, dataset="set"))
    rows.append(VideoRecord(video_id="set/a:2-6", path=str(paths[0]), label=0, dataset="set", start_frame=2, stop_frame=6))
    return build_index(rows)


def test_every_video_gets_a_status_and_a_track(index, tmp_path):
    out = tmp_path / "faces"
    table = extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=StubExtractor(), progress=False)
    assert table["video_id"].tolist() == index["video_id"].tolist()  # no video dropped, index order
    status = table.set_index("video_id")["status"].to_dict()
    assert status == {"set/a": "ok", "set/b": "ok", "set/broken": "unreadable", "set/noface": "no face", "set/c": "ok",
                      "set/missing": "unreadable", "set/a:2-6": "ok"}
    errors = table.set_index("video_id")["error"]
    assert "no such video" in errors["set/missing"] and "cannot be decoded" in errors["set/broken"]
    track = load_track(out, "set/a:2-6")
    assert track.frames.tolist() == [2, 3, 4, 5]  # the row's frame range, not the whole file
    assert load_track(out, "set/noface").n_with_face == 0
    assert table.set_index("video_id").loc["set/a", ["sampled", "with_face"]].tolist() == [4, 4]
    assert load_status(out)["status"].tolist() == table["status"].tolist()
    assert (out / "status.csv").read_text().splitlines()[0].startswith("video_id,path,label,split,status")


def test_interrupted_run_resumes_where_it_stopped(index, tmp_path):
    out = tmp_path / "faces"
    first = StubExtractor(stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=first, progress=False)
    finished = [json.loads(line)["video_id"] for line in (out / "status.jsonl").read_text().splitlines()]
    assert finished == ["set/a", "set/b"]
    (out / "status.jsonl").open("a").write('{"video_id": "set/broken", "sta')  # a line cut by the interruption
    second = StubExtractor()
    table = extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=second, progress=False)
    assert [c.rsplit("/", 1)[-1] for c in second.calls] == ["broken.mp4", "noface.mp4", "c.mp4", "gone.mp4", "a.mp4"]
    assert table.attrs["skipped"] == 2 and (table["status"] == "ok").sum() == 4
    third = StubExtractor()
    extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=third, progress=False)
    assert third.calls == []  # all done; unreadable ones only with retry_failed
    extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=third, progress=False, retry_failed=True)
    assert [c.rsplit("/", 1)[-1] for c in third.calls] == ["broken.mp4", "gone.mp4"]


def test_a_lost_track_file_is_extracted_again(index, tmp_path):
    out = tmp_path / "faces"
    extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=StubExtractor(), progress=False)
    (out / "tracks" / track_name("set/c")).unlink()
    again = StubExtractor()
    extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=again, progress=False)
    assert [c.rsplit("/", 1)[-1] for c in again.calls] == ["c.mp4"]


def test_resuming_with_other_settings_is_refused(index, tmp_path):
    out = tmp_path / "faces"
    extract_index(index.head(1), out, ExtractSettings(frames=4, size=8), extractor=StubExtractor(), progress=False)
    with pytest.raises(ConfigError, match=r"holds an extraction with other settings \(size 8 -> 16\); use another --out"):
        extract_index(index.head(1), out, ExtractSettings(frames=4, size=16), extractor=StubExtractor())
    with pytest.raises(ConfigError, match="--frames must be a positive integer, got 0"):
        ExtractSettings(frames=0)


def test_track_names_are_safe_and_distinct():
    names = {track_name(v) for v in ("ff++/Deepfakes/c23/000_001", "ff++/Deepfakes/c23/000-001", "A:0-2400", "a b")}
    assert len(names) == 4 and all("/" not in n and ":" not in n and " " not in n for n in names)


@pytest.mark.media
@pytest.mark.slow
def test_real_faces_resume_after_interruption(tmp_path):
    """MTCNN + dlib on two short sample videos; the run is cut after the first and resumed."""
    from fakebench.datasets.index import index_layout
    from fakebench.faces import FaceExtractor

    sample("E")
    sample("D")
    index = index_layout("samples", None)
    index = index[index["video_id"].isin(["samples/E", "samples/D"])].reset_index(drop=True)
    settings = ExtractSettings(frames=8, size=64)
    real = FaceExtractor(size=64, use_cache=False)

    class CutAfterOne:
        calls = 0

        def extract(self, path, **kw):
            CutAfterOne.calls += 1
            if CutAfterOne.calls == 2:
                raise KeyboardInterrupt
            return real.extract(path, **kw)

    with pytest.raises(KeyboardInterrupt):
        extract_index(index, tmp_path, settings, extractor=CutAfterOne(), progress=False)
    table = extract_index(index, tmp_path, settings, extractor=CutAfterOne(), progress=False)
    assert CutAfterOne.calls == 3 and table.attrs["skipped"] == 1
    assert table["status"].tolist() == ["ok", "ok"]
    assert (table["with_face"] >= 6).all() and (table["sampled"] == 8).all()
    crops, _ = load_track(tmp_path, "samples/E").face_crops()
    assert crops.shape[1:] == (64, 64, 3) and crops.dtype == np.uint8 and crops.mean() > 20


@pytest.mark.media
@pytest.mark.slow
def test_worker_processes_give_the_same_result(tmp_path):
    """Two spawned workers (each loads the models) on E and E-lq; same statuses as in-process."""
    from fakebench.datasets.index import index_layout

    sample("E")
    sample("E-lq")
    index = index_layout("samples", None)
    index = index[index["video_id"].isin(["samples/E", "samples/E-lq"])].reset_index(drop=True)
    settings = ExtractSettings(frames=4, size=32)
    pooled = extract_index(index, tmp_path / "two", settings, workers=2, use_cache=False, progress=False)
    here = extract_index(index, tmp_path / "one", settings, workers=1, use_cache=False, progress=False)
    assert pooled[["video_id", "status", "with_face"]].equals(here[["video_id", "status", "with_face"]])
    np.testing.assert_allclose(load_track(tmp_path / "two", "samples/E").boxes,
                               load_track(tmp_path / "one", "samples/E").boxes, atol=1e-3)


# -- damaged files and a full disk ------------------------------------------------------------------------

def test_a_damaged_track_file_is_extracted_again_with_one_warning(index, tmp_path, caplog):
    out = tmp_path / "faces"
    extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=StubExtractor(), progress=False)
    cut = out / "tracks" / track_name("set/b")
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])  # cut in half by something else
    again = StubExtractor()
    with caplog.at_level(logging.WARNING, logger="fakebench"):
        table = extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=again, progress=False)
    assert [c.rsplit("/", 1)[-1] for c in again.calls] == ["b.mp4"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"1 track file(s) damaged (cut short by something else?), extracted again: {cut.name}" \
        in warnings[0]
    assert load_track(out, "set/b").frames.tolist() == [0, 3, 6, 9] and table.attrs["extracted"] == 1


def test_a_damaged_settings_file_extracts_everything_again_with_one_warning(index, tmp_path, caplog):
    out = tmp_path / "faces"
    extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=StubExtractor(), progress=False)
    (out / "extract.json").write_text('{"settings": {"frames": 4, "si')
    again = StubExtractor()
    with caplog.at_level(logging.WARNING, logger="fakebench"):
        extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=again, progress=False)
    assert len(again.calls) == len(index)  # every video again, the unreadable ones too
    assert "extract.json is missing or damaged, so the settings of the 7 finished videos are unknown" in caplog.text
    assert json.loads((out / "extract.json").read_text())["settings"]["size"] == 8


def test_a_damaged_status_table_is_one_line_and_the_next_run_writes_it_again(index, tmp_path):
    from fakebench.errors import FakebenchError

    out = tmp_path / "faces"
    table = extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=StubExtractor(), progress=False)
    status = out / "status.parquet"
    status.write_bytes(status.read_bytes()[: status.stat().st_size // 2])
    with pytest.raises(FakebenchError, match="status.parquet: not a readable status table .*run `fakebench data "
                                             "extract INDEX --out .*` again") as err:
        load_status(out)
    assert "\n" not in str(err.value)
    again = StubExtractor()
    extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=again, progress=False)
    assert again.calls == [] and load_status(out)["status"].tolist() == table["status"].tolist()


def test_a_full_disk_is_one_line_and_the_previous_table_and_finished_videos_stay(index, tmp_path, monkeypatch):
    import errno

    from fakebench import files
    from fakebench.errors import OutputError

    out = tmp_path / "faces"
    first = extract_index(index.head(3), out, ExtractSettings(frames=4, size=8), extractor=StubExtractor(),
                          progress=False)
    before = (out / "status.parquet").read_bytes()
    real_fault = files._fault

    def full(final):
        if final.name == "status.parquet":
            raise OSError(errno.ENOSPC, "No space left on device", str(final))
        real_fault(final)

    monkeypatch.setattr(files, "_fault", full)
    with pytest.raises(OutputError, match=r"status.parquet: cannot write \(ENOSPC\): no space left on the device") as err:
        extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=StubExtractor(), progress=False)
    assert "\n" not in str(err.value) and (out / "status.parquet").read_bytes() == before
    assert load_status(out)["video_id"].tolist() == first["video_id"].tolist()
    assert not [p for p in out.rglob(".*") if p.name not in (".fakebench.json",)]  # no temporary, no lock
    monkeypatch.setattr(files, "_fault", real_fault)
    again = StubExtractor()
    table = extract_index(index, out, ExtractSettings(frames=4, size=8), extractor=again, progress=False)
    assert again.calls == [] and len(table) == len(index)  # the videos finished before the full disk are kept
