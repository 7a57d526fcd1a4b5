"""How good are the swaps? Measured on real held-out frames the model never trained on.

For each direction X -> Y (driving person X, face of Y pasted in), on up to ``frames`` held-out
frames of X, the full convert pipeline makes the fake frame, then:

- identity: dlib's face-recognition embedding (face-recognition-models) of the fake, against the
  mean embedding of real training frames of X and of Y: ``identity_share`` = share of fakes nearer
  Y than X. dlib puts nearly ANY face pasted from Y nearer Y, even a blurry average face, so this
  share alone proves little: the same pipeline is also run with Y's mean face (``control_mean_face``).
  ``face_only.identity_share`` asks the same of the generated crop alone (model size, upscaled),
  against references from real crops at that size: is the generated face itself Y, before pasting?
- expression/pose kept: dlib's 68 landmarks on the fake against the driving face's, mean distance
  over the inter-ocular distance (``landmark_nme``).
- content following: a head-turn proxy (nose tip offset from the eyes' midpoint) and the mouth
  opening (inner lips), each as the correlation between fake and driving across frames and as the
  ratio of their spreads; and the per-pixel variation of the generated faces over frames against
  that of the real driving faces (``variation_ratio``: 0 = one fixed face, 1 = as lively as real).
- reconstruction: L1 in [0,1] of X -> X on held-out crops, and sharpness: variance of the Laplacian
  of generated faces over that of the real crops at the same size (``sharpness_ratio``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np

from fakebench.errors import FakebenchError
from fakebench.faces.landmarks import dlib_box, dlib_model_path
from fakebench.files import write_json
from fakebench.generate.convert import ConvertSettings, Swapper

log = logging.getLogger("fakebench.generate")

REFERENCE_FRAMES = 32  # real training frames per identity for the reference embedding


class _Dlib:
    """dlib's 68-point predictor and face-recognition ResNet (loaded once)."""

    def __init__(self):
        import dlib

        self.dlib = dlib
        self.shape = dlib.shape_predictor(str(dlib_model_path("shape_predictor_68_face_landmarks.dat")))
        self.rec = dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))

    def analyse_marks(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """``float32 (68,2)`` landmarks of the face in ``box`` (x1,y1,x2,y2) of an RGB image."""
        shape = self.shape(np.ascontiguousarray(image), self.dlib.rectangle(*dlib_box(box)))
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)

    def analyse(self, frame: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(float32 (68,2) landmarks, float32 (128,) embedding)`` of the face in ``box`` of an RGB frame."""
        frame = np.ascontiguousarray(frame)
        shape = self.shape(frame, self.dlib.rectangle(*dlib_box(box)))
        marks = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
        return marks, np.array(self.rec.compute_face_descriptor(frame, shape), np.float32)


def _held_items(record: dict, which: str, n: int, extractor, stride: int) -> list[dict]:
    """Up to ``n`` faces spread over the ``which`` range of one video input (from the training extraction)."""
    lo, hi = record[which]
    if hi <= lo:
        return []
    start, stop = record["range"]
    track = extractor.extract(record["path"], every=stride, start=start, stop=stop, progress=False)
    idx = np.flatnonzero(track.has_face & (track.frames >= lo) & (track.frames < hi))
    if len(idx) > n:
        idx = idx[np.linspace(0, len(idx) - 1, n).round().astype(int)]
    return [{"path": record["path"], "frame": int(track.frames[i]), "box": track.boxes[i], "landmarks": track.landmarks[i],
             "crop": track.crops[i], "affine": track.affines[i]} for i in idx]


def _load_frames(items: list[dict]) -> None:
    from fakebench.media import iter_frames

    by_path: dict[str, list[dict]] = {}
    for item in items:
        by_path.setdefault(item["path"], []).append(item)
    for path, group in by_path.items():
        wanted = {it["frame"]: it for it in group}
        for index, frame in iter_frames(path, sorted(wanted)):
            wanted[index]["image"] = frame
    for item in items:
        if "image" not in item:
            raise FakebenchError(f"{item['path']}: frame {item['frame']} does not decode any more; the file changed "
                                 "since training")


def _collect(data: dict, name: str, which: str, n: int, extractor, stride: int) -> list[dict]:
    records = [r for r in data[name]["inputs"] if r.get("kind") == "video"]
    if not records:
        raise FakebenchError(f"identity {name!r} was trained from images only; evaluation needs video inputs")
    per = max(1, int(np.ceil(n / len(records))))
    items = [it for r in records for it in _held_items(r, which, per, extractor, stride)]
    return items[:n]


def _yaw(marks: np.ndarray) -> np.ndarray:
    """Head-turn proxy: nose tip's horizontal offset from the eyes' midpoint, over the inter-ocular distance."""
    left, right = marks[:, 36:42].mean(1), marks[:, 42:48].mean(1)
    iod = np.linalg.norm(right - left, axis=1) + 1e-6
    return (marks[:, 30, 0] - (left[:, 0] + right[:, 0]) / 2) / iod


def _mouth(marks: np.ndarray) -> np.ndarray:
    """Mouth opening: mean gap between the inner lips (61-67, 62-66, 63-65) over the inter-ocular distance."""
    left, right = marks[:, 36:42].mean(1), marks[:, 42:48].mean(1)
    iod = np.linalg.norm(right - left, axis=1) + 1e-6
    gap = np.linalg.norm(marks[:, [61, 62, 63]] - marks[:, [67, 66, 65]], axis=2).mean(1)
    return gap / iod


def _corr(x: np.ndarray, y: np.ndarray) -> float | None:
    if len(x) < 3 or x.std() < 1e-9 or y.std() < 1e-9:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _face_region(swapper: Swapper, items: list[dict], affines: np.ndarray) -> np.ndarray:
    """``bool (S,S)``: pixels inside the landmark hull in most of the crops."""
    from fakebench.faces.align import transform_points

    s = swapper.size
    acc = np.zeros((s, s), np.float32)
    for item, affine in zip(items, affines):
        m = np.zeros((s, s), np.uint8)
        cv2.fillConvexPoly(m, cv2.convexHull(np.round(transform_points(item["landmarks"], affine)).astype(np.int32)), 1)
        acc += m
    return acc >= 0.5 * len(items)


def _sharpness(crops: np.ndarray, region: np.ndarray) -> float:
    return float(np.mean([cv2.Laplacian(cv2.cvtColor(c, cv2.COLOR_RGB2GRAY), cv2.CV_32F)[region].var() for c in crops]))


def _crop_analysis(tools: _Dlib, crop: np.ndarray, box: np.ndarray, affine: np.ndarray,
                   up: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """``(68 landmarks in crop pixels, 128-d embedding)`` of a model-size crop, upscaled ``up`` times."""
    from fakebench.faces.align import transform_points

    corners = transform_points(np.array([[box[0], box[1]], [box[2], box[1]], [box[0], box[3]], [box[2], box[3]]],
                                        np.float32), affine)
    crop_box = np.concatenate([corners.min(0), corners.max(0)]) * up
    big = cv2.resize(crop, None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
    marks, embedding = tools.analyse(big, crop_box)
    return marks / up, embedding


def _following(fake: np.ndarray, real: np.ndarray) -> dict:
    """Landmark distance and head-turn / mouth-opening agreement of two ``(N,68,2)`` landmark sets."""
    left, right = real[:, 36:42].mean(1), real[:, 42:48].mean(1)
    iod = np.linalg.norm(right - left, axis=1) + 1e-6
    nme = np.linalg.norm(fake - real, axis=2).mean(1) / iod
    yaw_f, yaw_r = _yaw(fake), _yaw(real)
    mouth_f, mouth_r = _mouth(fake), _mouth(real)
    return {"landmark_nme": float(nme.mean()),
            "head_turn_corr": _corr(yaw_f, yaw_r), "head_turn_spread_ratio": float(yaw_f.std() / (yaw_r.std() + 1e-9)),
            "mouth_corr": _corr(mouth_f, mouth_r), "mouth_spread_ratio": float(mouth_f.std() / (mouth_r.std() + 1e-9))}


def _pipeline_metrics(swapper: Swapper, tools: _Dlib, items: list[dict], faces: np.ndarray, crops: np.ndarray,
                      affines: np.ndarray, refs: dict[str, np.ndarray]) -> dict:
    """Paste ``faces`` into the items' frames; identity and landmarks on the fake frames and on the bare faces.

    ``refs``: mean embeddings ``x``/``y`` of real frames and ``x_crop``/``y_crop`` of real model-size crops."""
    fake_marks, embeds, face_marks, face_embeds, colours = [], [], [], [], []
    for item, face, crop, affine in zip(items, faces, crops, affines):
        fake, _ = swapper.swap_frame(item["image"], face, crop, affine, item["landmarks"])
        colours.append(skin_lab(fake, item["landmarks"]) - skin_lab(item["image"], item["landmarks"]))
        marks, emb = tools.analyse(fake, item["box"])
        fake_marks.append(marks)
        embeds.append(emb)
        marks, emb = _crop_analysis(tools, face, item["box"], affine)
        face_marks.append(marks)
        face_embeds.append(emb)

    def share(e: list, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        d_y, d_x = np.linalg.norm(np.stack(e) - y, axis=1), np.linalg.norm(np.stack(e) - x, axis=1)
        return float((d_y < d_x).mean()), d_y, d_x

    frame_share, d_y, d_x = share(embeds, refs["x"], refs["y"])
    frame_level = _following(np.stack(fake_marks), np.stack([it["real_marks"] for it in items]))
    face_level = _following(np.stack(face_marks), np.stack([it["crop_marks"] for it in items]))
    face_level["identity_share"], f_y, f_x = share(face_embeds, refs["x_crop"], refs["y_crop"])
    face_level["dist_to_source"], face_level["dist_to_target"] = float(f_y.mean()), float(f_x.mean())
    colour = np.nanmean(np.stack(colours), axis=0)
    return {"identity_share": frame_share, "dist_to_source": float(d_y.mean()), "dist_to_target": float(d_x.mean()),
            **frame_level, "face_only": face_level,
            "colour": {"delta_L": float(colour[0]), "delta_a": float(colour[1]), "delta_b": float(colour[2]),
                       "delta_e": float(np.linalg.norm(colour))}}


def skin_lab(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Mean CIELAB (L* 0..100, a*, b*) of the skin in ``frame``: the landmark hull less the eyes and the mouth.

    ``frame``: ``uint8 (H,W,3) RGB``; ``landmarks``: ``(68,2)`` in its pixels. NaN when too few pixels.
    """
    from fakebench.faces.landmarks import LEFT_EYE, MOUTH, RIGHT_EYE

    mask = np.zeros(frame.shape[:2], np.uint8)
    pts = np.round(landmarks).astype(np.int32)
    cv2.fillConvexPoly(mask, cv2.convexHull(pts), 1)
    for part in (LEFT_EYE, RIGHT_EYE, MOUTH):
        cv2.fillConvexPoly(mask, cv2.convexHull(pts[part]), 0)
    region = mask.astype(bool)
    if region.sum() < 16:
        return np.full(3, np.nan)
    lab = cv2.cvtColor(frame.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return lab[region].mean(0)


def evaluate(run: str | os.PathLike, *, frames: int = 48, checkpoint: str | os.PathLike | None = None,
             settings: ConvertSettings | None = None, device: str = "auto", progress: bool = True) -> dict:
    """Quality of the run's swaps on held-out frames, every direction; also written to ``<run>/eval-step-N.json``."""
    from tqdm import tqdm

    run = Path(run)
    data_file = run / "data.json"
    if not data_file.exists():
        raise FakebenchError(f"{run}: no data.json; evaluate a run folder made by `fakebench generate train`")
    data = json.loads(data_file.read_text())
    names = list(data)
    swappers = {name: Swapper(run, name, checkpoint=checkpoint, settings=settings, device=device) for name in names}
    first = swappers[names[0]]
    stride = first.config.data.stride
    extractor = first.extractor()
    tools = _Dlib()

    real, refs, crop_refs = {}, {}, {}
    for name in names:
        train_items = _collect(data, name, "train", REFERENCE_FRAMES, extractor, stride)
        held_items = _collect(data, name, "held_out", frames, extractor, stride)
        if not held_items:
            raise FakebenchError(f"identity {name!r} has no held-out faces in {run}; train with --held-out > 0")
        _load_frames(train_items + held_items)
        refs[name] = np.mean([tools.analyse(it["image"], it["box"])[1] for it in train_items], axis=0)
        ref_crops, ref_affines = first.prepare(np.stack([it["crop"] for it in train_items]),
                                               np.stack([it["affine"] for it in train_items]))
        crop_refs[name] = np.mean([_crop_analysis(tools, c, it["box"], a)[1]
                                   for it, c, a in zip(train_items, ref_crops, ref_affines)], axis=0)
        for it in tqdm(held_items, desc=f"real {name}", disable=not progress, leave=False):
            it["real_marks"], it["real_embed"] = tools.analyse(it["image"], it["box"])
        real[name] = held_items

    report = {"run": str(run.resolve()), "step": first.step, "frames_per_direction": frames,
              "settings": {"blend": first.settings.blend, "colour": first.settings.colour}, "directions": {},
              "reconstruction_l1": {}}
    for x in names:
        items = real[x]
        crops, affines = first.prepare(np.stack([it["crop"] for it in items]), np.stack([it["affine"] for it in items]))
        region = _face_region(first, items, affines)
        for item, crop, affine in zip(items, crops, affines):
            item["crop_marks"], item["crop_embed"] = _crop_analysis(tools, crop, item["box"], affine)
        recon = swappers[x].swap_crops(crops)
        report["reconstruction_l1"][x] = float(np.abs(recon.astype(np.float32) - crops).mean() / 255.0)
        real_share = float(np.mean([np.linalg.norm(it["real_embed"] - refs[y]) < np.linalg.norm(it["real_embed"] - refs[x])
                                    for it in items for y in names if y != x]))
        for y in names:
            if y == x:
                continue
            swapper = swappers[y]
            faces = swapper.swap_crops(crops)
            pair = {"x": refs[x], "y": refs[y], "x_crop": crop_refs[x], "y_crop": crop_refs[y]}
            metrics = _pipeline_metrics(swapper, tools, items, faces, crops, affines, pair)
            metrics["variation_ratio"] = float(faces[:, region].std(0).mean() / (crops[:, region].std(0).mean() + 1e-9))
            metrics["sharpness_ratio"] = _sharpness(faces, region) / (_sharpness(crops, region) + 1e-9)
            metrics["real_share_nearer_source"] = real_share
            metrics["face_only"]["real_share_nearer_source"] = float(np.mean(
                [np.linalg.norm(it["crop_embed"] - crop_refs[y]) < np.linalg.norm(it["crop_embed"] - crop_refs[x])
                 for it in items]))
            # Control: Y's mean training face, pasted by the same pipeline (no content following at all).
            mean_face = _mean_face(swapper, data, y, extractor, stride)
            control = _pipeline_metrics(swapper, tools, items, np.repeat(mean_face[None], len(items), 0), crops,
                                        affines, pair)
            metrics["control_mean_face"] = {k: control[k] for k in ("identity_share", "landmark_nme", "head_turn_corr",
                                                                    "mouth_corr", "face_only")}
            metrics["frames"] = len(items)
            report["directions"][f"{x}->{y}"] = metrics
    write_json(run / f"eval-step-{first.step:06d}.json", report)
    return report


def _mean_face(swapper: Swapper, data: dict, name: str, extractor, stride: int) -> np.ndarray:
    items = _collect(data, name, "train", 256, extractor, stride)
    crops, _ = swapper.prepare(np.stack([it["crop"] for it in items]), np.stack([it["affine"] for it in items]))
    return (crops.astype(np.float32).mean(0) + 0.5).astype(np.uint8)


def format_report(report: dict) -> str:
    """A few aligned lines for the terminal."""
    def f(v):
        return " n/a" if v is None else f"{v:+.2f}"

    lines = [f"step {report['step']}: reconstruction L1 " + ", ".join(f"{k} {v:.4f}" for k, v in
                                                                  report["reconstruction_l1"].items())]
    for key, m in report["directions"].items():
        c, fo, cfo = m["control_mean_face"], m["face_only"], m["control_mean_face"]["face_only"]
        lines += [
            f"{key}: identity share {m['identity_share']:.2f} (mean-face control {c['identity_share']:.2f}, real "
            f"{m['real_share_nearer_source']:.2f}); variation {m['variation_ratio']:.2f}, sharpness "
            f"{m['sharpness_ratio']:.2f} of real",
            f"  in the frame: landmark NME {m['landmark_nme']:.3f} (control {c['landmark_nme']:.3f}), head-turn corr "
            f"{f(m['head_turn_corr'])} (control {f(c['head_turn_corr'])}), mouth corr {f(m['mouth_corr'])} "
            f"(control {f(c['mouth_corr'])})",
            f"  face only:    landmark NME {fo['landmark_nme']:.3f} (control {cfo['landmark_nme']:.3f}), head-turn corr "
            f"{f(fo['head_turn_corr'])}, spread {fo['head_turn_spread_ratio']:.2f}; mouth corr {f(fo['mouth_corr'])}, "
            f"spread {fo['mouth_spread_ratio']:.2f}; identity share {fo['identity_share']:.2f} (mean-face control "
            f"{cfo['identity_share']:.2f}, real {fo['real_share_nearer_source']:.2f}); distance to the pasted person "
            f"{fo['dist_to_source']:.3f}, to the video's {fo['dist_to_target']:.3f}",
            f"  colour (pasted skin - real skin, CIELAB): L* {m['colour']['delta_L']:+.1f}, a* {m['colour']['delta_a']:+.1f}, "
            f"b* {m['colour']['delta_b']:+.1f}, delta E {m['colour']['delta_e']:.1f}"]
    return "\n".join(lines)
