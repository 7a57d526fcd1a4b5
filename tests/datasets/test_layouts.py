"""Each layout on a tiny copy of its data set: counts, labels, identities, splits, ids, and clear errors."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from fakebench.datasets.index import index_layout
from fakebench.datasets.layouts import LAYOUTS
from fakebench.errors import ConfigError, DatasetLayoutError, FakebenchError
from tests.datasets.conftest import (
    build_celebdf,
    build_deeperforensics,
    build_dfdc,
    build_dfdc_preview,
    build_folder,
    make_video,
)


def row(df, video_id):
    hits = df[df["video_id"] == video_id]
    assert len(hits) == 1, f"{video_id} not in {df['video_id'].tolist()}"
    return hits.iloc[0]


def test_every_layout_is_registered():
    assert LAYOUTS.names() == ["celeb-df", "deeperforensics", "dfdc", "ff++", "folder", "generated", "samples"]
    with pytest.raises(FakebenchError, match=r"unknown data set layout 'ff\+' \(did you mean 'ff\+\+'\?\)"):
        index_layout("ff+", "/nowhere")


# -- FaceForensics++ ---------------------------------------------------------------------------------

def test_ffpp_counts_labels_identities_and_official_splits(ffpp_root):
    df = index_layout("ff++", ffpp_root)
    assert len(df) == 16
    assert (df["label"] == 0).sum() == 6 and (df["label"] == 1).sum() == 10
    assert df.groupby("method").size().to_dict() == {"DeepFakeDetection": 2, "Deepfakes": 4, "FaceSwap": 4,
                                                      "actors": 2, "original": 4}
    assert set(df["compression"]) == {"c23"}
    fake = row(df, "ff++/Deepfakes/c23/000_001")
    assert (fake["label"], fake["target_id"], fake["source_id"]) == (1, "000", "001")
    assert fake["original_id"] == "ff++/original/c23/000" and fake["split"] == "train"
    # test.json lists ["003", "002"]: both orders of the pair are test fakes, and both originals are test
    assert row(df, "ff++/FaceSwap/c23/002_003")["split"] == "test"
    assert row(df, "ff++/FaceSwap/c23/003_002")["split"] == "test"
    assert row(df, "ff++/original/c23/002")["split"] == "test"
    dfd = row(df, "ff++/DeepFakeDetection/c23/01_02__exit_phone_room__YVGY8LOK")
    assert (dfd["target_id"], dfd["source_id"], dfd["split"]) == ("01", "02", "")
    assert dfd["original_id"] == "ff++/actors/c23/01__exit_phone_room"
    assert dfd["original_id"] in set(df["video_id"])
    assert df.groupby("split").size().to_dict() == {"": 4, "test": 6, "train": 6}


def test_ffpp_source_group_is_the_target_video(ffpp_root):
    groups = index_layout("ff++", ffpp_root).set_index("video_id")["source_group"]
    # the real 000 and every fake on 000's video (Deepfakes, FaceSwap) move together; 001 is another group
    assert groups["ff++/original/c23/000"] == groups["ff++/Deepfakes/c23/000_001"] == \
        groups["ff++/FaceSwap/c23/000_001"] == "ff++:000"
    assert groups["ff++/original/c23/001"] == groups["ff++/Deepfakes/c23/001_000"] == "ff++:001"
    # DeepFakeDetection: the actor, shared with the actor's original
    assert groups["ff++/DeepFakeDetection/c23/01_02__exit_phone_room__YVGY8LOK"] == \
        groups["ff++/actors/c23/01__exit_phone_room"] == "ff++:01"


def test_ffpp_methods_and_compression_options(ffpp_root):
    df = index_layout("ff++", ffpp_root, methods=("deepfakes",), compression="c40")
    assert sorted(df["video_id"]) == ["ff++/Deepfakes/c40/000_001", "ff++/original/c40/000"]
    df = index_layout("ff++", ffpp_root, methods=("FaceSwap",))
    assert set(df["method"]) == {"FaceSwap", "original"}  # no actors without DeepFakeDetection
    with pytest.raises(ConfigError, match=r"unknown ff\+\+ method 'FaceSwapp' in --methods \(did you mean 'FaceSwap'\?\)"):
        index_layout("ff++", ffpp_root, methods=("FaceSwapp",))
    with pytest.raises(ConfigError, match=r"--compression 'c30'.*expected raw \(or c0\), c23 or c40"):
        index_layout("ff++", ffpp_root, compression="c30")
    with pytest.raises(ConfigError, match=r"does not take --version; it takes: --compression, --methods, --splits"):
        index_layout("ff++", ffpp_root, version="v2")


def test_ffpp_missing_compression_says_which_exist(ffpp_root):
    with pytest.raises(DatasetLayoutError, match=r"manipulated_sequences/FaceSwap/raw/videos.*found compressions: c23"):
        index_layout("ff++", ffpp_root, compression="raw", methods=("FaceSwap",))


def test_broken_ffpp_layout_names_the_pattern_and_what_is_there(tmp_path):
    make_video(tmp_path / "foo" / "000.mp4")
    (tmp_path / "bar").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"expected <root>/original_sequences/youtube/c23/videos/000\.mp4 .*"
                                                 r"found folders: bar, foo"):
        index_layout("ff++", tmp_path)
    with pytest.raises(DatasetLayoutError, match="no such folder"):
        index_layout("ff++", tmp_path / "absent")


def test_ffpp_split_file_errors(tmp_path, ffpp_root):
    root = tmp_path / "ff"
    shutil.copytree(ffpp_root, root)
    (root / "splits" / "val.json").write_text(json.dumps([["000", "009"]]))
    with pytest.raises(DatasetLayoutError, match=r"id 000 is also in train\.json"):
        index_layout("ff++", root)
    (root / "splits" / "val.json").write_text(json.dumps({"pairs": []}))
    with pytest.raises(DatasetLayoutError, match=r"expected a JSON list of \[target, source\] pairs"):
        index_layout("ff++", root)
    shutil.rmtree(root / "splits")
    assert set(index_layout("ff++", root)["split"]) == {""}


def test_ffpp_odd_names_are_indexed_with_a_warning(tmp_path, ffpp_root, caplog):
    root = tmp_path / "ff"
    shutil.copytree(ffpp_root, root)
    make_video(root / "manipulated_sequences" / "Deepfakes" / "c23" / "videos" / "000_001 (copy).mp4")
    with caplog.at_level(logging.WARNING, logger="fakebench.datasets"):
        df = index_layout("ff++", root)
    odd = row(df, "ff++/Deepfakes/c23/000_001 (copy)")
    assert odd["target_id"] == "" and odd["label"] == 1
    assert odd["source_group"] == "ff++/Deepfakes/c23/000_001 (copy)"  # no identity: its own group
    assert "do not follow FF++'s pattern" in caplog.text and "000_001 (copy).mp4" in caplog.text


# -- Celeb-DF ----------------------------------------------------------------------------------------

def test_celebdf_test_list_direction_and_identities(tmp_path, caplog):
    root = build_celebdf(tmp_path / "Celeb-DF-v2")
    with caplog.at_level(logging.WARNING, logger="fakebench.datasets"):
        df = index_layout("celeb-df", root)
    assert len(df) == 8 and (df["label"] == 0).sum() == 5
    assert set(df["dataset"]) == {"celeb-df-v2"}
    test = df[df["split"] == "test"]
    assert sorted(test["video_id"]) == ["celeb-df-v2/Celeb-real/id2_0001", "celeb-df-v2/Celeb-synthesis/id2_id0_0001",
                                        "celeb-df-v2/YouTube-real/00001"]
    assert test.set_index("video_id")["label"].to_dict()["celeb-df-v2/YouTube-real/00001"] == 0  # listed as 1 = real
    fake = row(df, "celeb-df-v2/Celeb-synthesis/id0_id1_0000")
    assert (fake["target_id"], fake["source_id"], fake["original_id"]) == ("id0", "id1", "celeb-df-v2/Celeb-real/id0_0000")
    assert row(df, "celeb-df-v2/YouTube-real/00000")["target_id"] == ""
    # source groups: the target celebrity; a YouTube-real video (no person known) is its own
    assert fake["source_group"] == row(df, "celeb-df-v2/Celeb-real/id0_0000")["source_group"] == "celeb-df-v2:id0"
    assert row(df, "celeb-df-v2/Celeb-synthesis/id1_id0_0000")["source_group"] == "celeb-df-v2:id1"
    assert row(df, "celeb-df-v2/YouTube-real/00000")["source_group"] == "celeb-df-v2/YouTube-real/00000"
    assert set(df.loc[df["split"] != "test", "split"]) == {""}
    assert "listed videos that are not on disk" in caplog.text and "id9_id8_0000" in caplog.text


def test_celebdf_list_with_flipped_labels_is_refused(tmp_path):
    root = build_celebdf(tmp_path / "Celeb-DF")
    (root / "List_of_testing_videos.txt").write_text("0 Celeb-real/id2_0001.mp4\n1 Celeb-synthesis/id2_id0_0001.mp4\n")
    with pytest.raises(DatasetLayoutError, match=r"line 1: label 0 for Celeb-real/id2_0001\.mp4, a real folder; "
                                                 r"in Celeb-DF's list 1 = real"):
        index_layout("celeb-df", root)
    (root / "List_of_testing_videos.txt").write_text("real Celeb-real/id2_0001.mp4\n")
    with pytest.raises(DatasetLayoutError, match=r"line 1: .*expected '<1\|0> <folder>/<file>\.mp4'"):
        index_layout("celeb-df", root)


def test_celebdf_version_and_broken_layout(tmp_path):
    root = build_celebdf(tmp_path / "celeb")
    assert set(index_layout("celeb-df", root)["dataset"]) == {"celeb-df"}
    assert set(index_layout("celeb-df", root, version="v1")["dataset"]) == {"celeb-df-v1"}
    shutil.rmtree(root / "Celeb-synthesis")
    with pytest.raises(DatasetLayoutError, match=r"expected <root>/Celeb-real/id0_0000\.mp4.*found folders: Celeb-real, "
                                                 r"YouTube-real; files: List_of_testing_videos\.txt"):
        index_layout("celeb-df", root)


# -- DFDC --------------------------------------------------------------------------------------------

def test_dfdc_parts_and_test_labels(tmp_path, caplog):
    root = build_dfdc(tmp_path / "dfdc")
    make_video(root / "dfdc_train_part_1" / "unlisted.mp4")
    with caplog.at_level(logging.WARNING, logger="fakebench.datasets"):
        df = index_layout("dfdc", root)
    assert len(df) == 7
    assert df.groupby(["split", "label"]).size().to_dict() == {("test", 0): 1, ("test", 1): 1, ("train", 0): 2,
                                                               ("train", 1): 3}
    fake = row(df, "dfdc/dfdc_train_part_0/aaqaifqrwn")
    assert fake["original_id"] == "dfdc/dfdc_train_part_0/vpmyeepbep" and fake["original_id"] in set(df["video_id"])
    assert row(df, "dfdc/test/aalscayrfi")["label"] == 1  # labels.csv: 1 = fake
    # a real and its fakes share a group (the real's id); another real is another group
    real = "dfdc/dfdc_train_part_0/vpmyeepbep"
    assert fake["source_group"] == row(df, "dfdc/dfdc_train_part_0/abarnvbtwb")["source_group"] == \
        row(df, real)["source_group"] == real
    assert row(df, "dfdc/dfdc_train_part_1/ccfoszqabv")["source_group"] == "dfdc/dfdc_train_part_1/ccfoszqabv"
    assert row(df, "dfdc/test/aalscayrfi")["source_group"] == "dfdc/test/aalscayrfi"
    assert df["source_group"].nunique() == 4
    assert "without an entry in metadata.json" in caplog.text and "unlisted.mp4" in caplog.text


def test_dfdc_bad_label_and_missing_layout(tmp_path):
    root = build_dfdc(tmp_path / "dfdc")
    meta = root / "dfdc_train_part_1" / "metadata.json"
    meta.write_text(json.dumps({"bbhtdcbtfc.mp4": {"label": "MAYBE"}}))
    with pytest.raises(DatasetLayoutError, match=r"metadata\.json: label 'MAYBE' for bbhtdcbtfc\.mp4; expected FAKE or REAL"):
        index_layout("dfdc", root)
    empty = tmp_path / "nothing"
    (empty / "videos").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match=r"expected <root>/dfdc_train_part_\*/metadata\.json.*found folders: videos"):
        index_layout("dfdc", empty)


def test_dfdc_preview(tmp_path):
    df = index_layout("dfdc", build_dfdc_preview(tmp_path / "dfdcp"))
    assert df.set_index("video_id")[["label", "method", "split"]].to_dict("index") == {
        "dfdc-preview/original_videos/643049/643049_A_001": {"label": 0, "method": "original", "split": "train"},
        "dfdc-preview/method_A/643049/643049_1947001/1955430": {"label": 1, "method": "method_A", "split": "train"},
        "dfdc-preview/method_B/643049/643049_1947001/1955431": {"label": 1, "method": "method_B", "split": "test"},
    }


# -- DeeperForensics-1.0 -------------------------------------------------------------------------------

def test_deeperforensics_fakes_targets_and_splits(tmp_path):
    root = build_deeperforensics(tmp_path / "DeeperForensics-1.0", tmp_path / "FaceForensics++")
    df = index_layout("deeperforensics", root, real_root=str(tmp_path / "FaceForensics++"))
    assert len(df) == 6 and (df["label"] == 1).sum() == 3
    fake = row(df, "deeperforensics/end_to_end/001_W102")
    assert (fake["target_id"], fake["source_id"], fake["split"]) == ("001", "W102", "val")
    real = row(df, fake["original_id"])
    assert (real["label"], real["target_id"], real["split"], real["compression"]) == (0, "001", "val", "c23")
    assert fake["source_group"] == real["source_group"] == "ff++:001"  # the FF++ target video, named as ff++ does
    df = index_layout("deeperforensics", root, methods=("all",), real_root=str(tmp_path / "FaceForensics++"),
                      include_source_videos=True)
    assert df.groupby("method").size().to_dict() == {"end_to_end": 3, "end_to_end_level_1": 3, "original": 3, "source": 1}
    source = df[df["method"] == "source"].iloc[0]
    assert (source["label"], source["target_id"], source["split"]) == (0, "M101", "train")
    assert source["source_group"] == "deeperforensics:M101"
    assert df.loc[df["target_id"] == "000", "source_group"].tolist() == ["ff++:000"] * 3  # both variants + the real


def test_deeperforensics_without_real_root_warns_and_bad_variant_errors(tmp_path, caplog):
    root = build_deeperforensics(tmp_path / "DF", tmp_path / "FF")
    with caplog.at_level(logging.WARNING, logger="fakebench.datasets"):
        df = index_layout("deeperforensics", root)
    assert set(df["label"]) == {1} and "pass --real-root" in caplog.text
    with pytest.raises(ConfigError, match=r"unknown DeeperForensics variant .* 'end2end'.*known: end_to_end, end_to_end_level_1"):
        index_layout("deeperforensics", root, methods=("end2end",))
    with pytest.raises(DatasetLayoutError, match=r"expected <root>/manipulated_videos/<variant>/000_M101\.mp4.*found folders: "
                                                 r"lists, manipulated, source_videos"):
        (root / "manipulated_videos").rename(root / "manipulated")
        index_layout("deeperforensics", root)


# -- folder --------------------------------------------------------------------------------------------

def test_folder_layout(tmp_path, caplog):
    root = build_folder(tmp_path / "uadfv")
    with caplog.at_level(logging.WARNING, logger="fakebench.datasets"):
        df = index_layout("folder", root)
    assert df.set_index("video_id")[["label", "method"]].to_dict("index") == {
        "uadfv/real/a": {"label": 0, "method": ""}, "uadfv/real/studio/b": {"label": 0, "method": "studio"},
        "uadfv/fake/faceswap/c": {"label": 1, "method": "faceswap"}, "uadfv/fake/d": {"label": 1, "method": ""}}
    assert "files that are not videos" in caplog.text and "fake/notes.txt" in caplog.text
    assert (df["source_group"] == df["video_id"]).all()  # nothing links two files: each video is its own group


def test_folder_with_split_folders_and_broken(tmp_path):
    make_video(tmp_path / "set" / "train" / "Real" / "a.mp4")
    make_video(tmp_path / "set" / "test" / "FAKE" / "b.mp4")
    df = index_layout("folder", tmp_path / "set", name="mine")
    assert df.set_index("video_id")[["label", "split"]].to_dict("index") == {
        "mine/train/Real/a": {"label": 0, "split": "train"}, "mine/test/FAKE/b": {"label": 1, "split": "test"}}
    make_video(tmp_path / "flat" / "clips" / "x.mp4")
    with pytest.raises(DatasetLayoutError, match=r"expected <root>/real/\*\*/\*\.mp4 and <root>/fake/.*found folders: clips"):
        index_layout("folder", tmp_path / "flat")


# -- samples -------------------------------------------------------------------------------------------

@pytest.mark.media
def test_samples_layout_indexes_the_fetched_videos_as_real():
    from tests.conftest import sample

    for sample_id in ("A", "B", "C", "D", "E", "E-lq"):
        sample(sample_id)
    df = index_layout("samples", None)
    assert df["video_id"].tolist() == ["samples/A", "samples/B/cap12_edit", "samples/B/cap13_edit2", "samples/C",
                                       "samples/D", "samples/E", "samples/E-lq"]
    assert set(df["label"]) == {0} and df["target_id"].tolist() == ["A", "B", "B", "C", "D", "E", "E"]
    assert df["source_group"].tolist() == ["samples:A", "samples:B", "samples:B", "samples:C", "samples:D",
                                           "samples:E", "samples:E"]  # the person: B's two files, E and E-lq
    assert row(df, "samples/E-lq")["compression"] == "lq"
    sample("NOFACE")
    with_control = index_layout("samples", None, include_noface=True)
    assert row(with_control, "samples/NOFACE")["method"] == "control"
    assert row(with_control, "samples/NOFACE")["source_group"] == "samples/NOFACE"


def test_samples_layout_without_fetched_media(tmp_path):
    with pytest.raises(DatasetLayoutError,
                       match=r"none of the samples A, B, C, D, E, E-lq is fetched; run `fakebench samples fetch`"):
        index_layout("samples", tmp_path)
