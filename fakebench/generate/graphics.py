"""The graphics face swap: a donor's face warped onto the driving face's landmarks and blended in.

FaceForensics++'s "FaceSwap" family (landmarks, a warp, blending), the counterpart of the learned
autoencoder swap: no training, seconds per clip on a CPU. The donor is a video (optionally a
frame range; or one image) whose faces come from the same cached face pipeline as the driving
video's. Per driving frame with a face:

1. choose the donor frame by head pose: yaw, pitch, roll and mouth opening read off the 68
   landmarks (``pose``); the nearest donor pose wins, but the previous frame's donor frame is kept
   while it is nearly as near (``stickiness``), so the pasted texture does not jump between
   far-apart donor frames from one frame to the next (``choose_donor_frames``);
2. warp that donor face onto the driving face's 68 landmarks, plus a ring around their outline so
   the feathered edge has donor pixels too (``with_ring``), piece by piece: the Delaunay triangles
   of the driving points, one affine each, as one dense map sampled by ``cv2.remap``
   (``piecewise_affine``);
3. colour-match it to the driving face inside the landmark hull (``convert.colour_match``, its edge
   left out: ``inner_face``) and blend it in with the autoencoder's mask and compositing
   (``convert.composite``: the same hull mask, the same 0/255 per-frame masks): Poisson
   (``cv2.seamlessClone``, the default) or alpha, inside the hull eroded by 5 % of the face size.

Frames without a face, and faces cut by the frame's edge (``in_frame``), pass through unchanged.

``convert.convert_with`` runs the loop (video, masks, manifest); ``convert_graphics`` is the entry
point. Images are ``uint8 (H,W,3) RGB``; points ``float32 (K,2)`` pixel ``(x, y)`` in dlib's
68-point order (``faces.landmarks``).
"""

from __future__ import annotations

import logging
import os
from typing import ClassVar

import cv2
import numpy as np

from fakebench.config import to_dict
from fakebench.errors import ConfigError, NoFaceError
from fakebench.files import content_key
from fakebench.generate.convert import ConvertSettings, check_out, colour_match, composite, convert_with, inner_face
from fakebench.generate.methods import METHODS
from fakebench.media import check_file, is_image, iter_frames, probe_video, read_image

log = logging.getLogger("fakebench.generate")

# -- 1. the donor frame, by head pose --------------------------------------------------------------------
POSE_KEYS = ("yaw", "pitch", "roll", "mouth")  # the columns of ``pose``
# One pose unit per key: about the change the eye notices between two frames of a face. Over 60 frames
# each of A and B the keys spread (std) 0.05-0.07, 0.03-0.07, 0.03-0.08 rad and 0.06-0.11.
POSE_SCALE = np.array([0.05, 0.05, 0.15, 0.05], np.float32)
STICKINESS = 0.5  # pose units the previous donor frame may be farther than the nearest and still be kept


def pose(landmarks: np.ndarray) -> np.ndarray:
    """``float32 (N,4)`` head-pose proxies of ``(N,68,2)`` landmarks: yaw, pitch, roll, mouth opening.

    Roll is the eye line's angle (radians); with it levelled, yaw is the nose tip's offset from the
    middle of the jaw's two ends over the jaw's width (0 frontal, > 0 toward the image's right), pitch the nose tip's height from
    the eye line over the mouth corners' height, mouth the inner lips' gap over the mouth's width.
    """
    marks = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
    left, right = marks[:, 36:42].mean(1), marks[:, 42:48].mean(1)
    d = right - left
    roll = np.arctan2(d[:, 1], d[:, 0])
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    rel = marks - ((left + right) / 2)[:, None]
    x = rel[..., 0] * c + rel[..., 1] * s  # rotated by -roll: the eye line is horizontal
    y = -rel[..., 0] * s + rel[..., 1] * c
    yaw = (x[:, 30] - (x[:, 0] + x[:, 16]) / 2) / np.maximum(x[:, 16] - x[:, 0], 1e-6)
    pitch = y[:, 30] / np.maximum((y[:, 48] + y[:, 54]) / 2, 1e-6)
    mouth = np.hypot(x[:, 66] - x[:, 62], y[:, 66] - y[:, 62]) / np.maximum(np.hypot(x[:, 54] - x[:, 48],
                                                                                     y[:, 54] - y[:, 48]), 1e-6)
    return np.stack([yaw, pitch, roll, mouth], 1).astype(np.float32)


def choose_donor_frames(driving: np.ndarray, donor: np.ndarray, stickiness: float = STICKINESS) -> np.ndarray:
    """For each driving pose (``(T,4)``, in frame order) the donor pose (``(K,4)``) to paste: ``int64 (T,)``.

    Nearest in pose units (``POSE_SCALE``), with pitch taken relative to each person's median over the
    frames at hand: it follows the face's proportions as much as the head (the nose tip sits at
    0.43 of the way from the eyes to the mouth in A, 0.29 in B, both looking ahead). The previous
    choice is kept while it is within ``stickiness`` units of the nearest.
    """
    driving, donor = np.array(driving, np.float32), np.array(donor, np.float32)
    driving[:, 1] -= np.median(driving[:, 1])
    donor[:, 1] -= np.median(donor[:, 1])
    distance = np.linalg.norm((driving[:, None] - donor[None]) / POSE_SCALE, axis=2)  # (T,K)
    choice = np.zeros(len(driving), np.int64)
    for t, row in enumerate(distance):
        best = int(np.argmin(row))
        if t and row[choice[t - 1]] <= row[best] + stickiness:
            best = choice[t - 1]
        choice[t] = best
    return choice


# -- 2. the piecewise-affine warp ------------------------------------------------------------------------
OUTLINE = np.r_[0:17, 26:16:-1]  # the jaw 0..16, then the brows from the image right back to the left
RING = 0.25  # the ring lies this fraction farther out than the outline, seen from the landmarks' centre


def with_ring(landmarks: np.ndarray) -> np.ndarray:
    """The 68 landmarks and a ring of 27 points outside their outline: ``float32 (95,2)``.

    The hull of the 68 points is the face that is replaced; the ring carries the warp past it, so
    the feathered edge (alpha) and the boundary (Poisson) see donor pixels, not a hole.
    """
    marks = np.asarray(landmarks, np.float32)
    centre = marks.mean(0)
    return np.concatenate([marks, centre + (1 + RING) * (marks[OUTLINE] - centre)])


def piecewise_affine_map(src: np.ndarray, dst: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel of ``box`` = (x0, y0, w, h) comes from, for the warp taking ``src`` points onto ``dst``.

    The Delaunay triangles of ``dst`` (``(K,2)``) cover the destination; inside each, the affine that
    takes the triangle's corners onto the same corners in ``src`` gives the source position.
    Returns ``float32 (h,w,2)`` source ``(x, y)`` (``-1`` outside every triangle) and ``bool (h,w)``
    covered.
    """
    from scipy.spatial import Delaunay

    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    x0, y0, w, h = box
    tris = Delaunay(dst).simplices  # (M,3); repeated points (a closed mouth) are left out of it
    label = np.full((h, w), -1, np.int32)  # the triangle each pixel lies in
    for k, tri in enumerate(tris):
        cv2.fillConvexPoly(label, np.round((dst[tri] - (x0, y0)) * 16).astype(np.int32), k, shift=4)
    corners = np.concatenate([dst[tris], np.ones((len(tris), 3, 1))], 2)  # (M,3,3) rows [x y 1]
    affines = np.linalg.pinv(corners) @ src[tris]  # (M,3,2): [x y 1] @ A = the source point
    covered = label >= 0
    ys, xs = np.nonzero(covered)
    pixels = np.stack([xs + x0, ys + y0, np.ones_like(xs)], 1).astype(np.float64)
    where = np.full((h, w, 2), -1, np.float32)
    where[ys, xs] = np.einsum("pi,pij->pj", pixels, affines[label[ys, xs]])
    return where, covered


def piecewise_affine(image: np.ndarray, src: np.ndarray, dst: np.ndarray,
                     box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``image`` warped so its ``src`` points land on ``dst``, in the destination's ``box`` (x0, y0, w, h).

    Returns the ``uint8 (h,w,3)`` warped pixels (black where no triangle covers) and ``bool (h,w)`` covered.
    """
    where, covered = piecewise_affine_map(src, dst, box)
    warped = cv2.remap(image, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    warped[~covered] = 0
    return warped, covered


# -- 3. colour and blending --------------------------------------------------------------------------------
# -- 4. the method ----------------------------------------------------------------------------------------
def in_frame(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """``bool (N,)``: all 68 of each face's ``(N,68,2)`` landmarks lie inside a ``width`` x ``height`` frame.

    Faces that are not are left as they are: MTCNN and dlib guess at a face cut by the frame's
    edge (A moved 140 px left, its jaw 15 px past the edge, got 4 to 20 of its points outside and
    misplaced eyes and mouth) and the paste was a mangled half face.
    """
    x, y = landmarks[..., 0], landmarks[..., 1]
    return ((x >= 0) & (y >= 0) & (x <= width - 1) & (y <= height - 1)).all(-1)


@METHODS.register("graphics")
class GraphicsSwap:
    """The "graphics" swap method (``methods.SwapMethod``): a donor's face, warped and blended, frame by frame.

    ``donor``: a video (frames ``[donor_start, donor_stop)``, at most ``donor_frames`` of them spread
    evenly, each a pose to choose from) or an image; ``source``: who the donor is (the manifest's
    ``identities.source``). The constructor checks the options; the donor's faces are found in
    ``begin`` (through the face cache).
    """

    name: ClassVar[str] = "graphics"
    # Poisson, inside a hull eroded by 0.05: at 0 the mask's boundary runs along the face's outline, partly over the
    # background, and seamlessClone spread A's blue screen over the pasted face (and alpha showed the donor's own
    # background at the feathered edge).
    default_settings: ClassVar[ConvertSettings] = ConvertSettings(blend="seamless", mask_erode=0.05)

    def __init__(self, donor: str | os.PathLike, *, source: str, donor_start: int = 0, donor_stop: int | None = None,
                 donor_frames: int = 240, stickiness: float = STICKINESS, settings: ConvertSettings | None = None,
                 device: str = "auto"):
        if not isinstance(source, str) or not source.strip():
            raise ConfigError(f"--source {source!r}: name the donor's identity (e.g. --source b), it goes into the "
                              "manifest and the index")
        if donor_start < 0 or (donor_stop is not None and donor_stop <= donor_start):
            given = f"--donor-start {donor_start}" + (f" --donor-stop {donor_stop}" if donor_stop is not None else "")
            raise ConfigError(f"{given}: expected 0 <= start < stop (donor frame numbers)")
        if donor_frames < 1:
            raise ConfigError(f"--donor-frames {donor_frames}: expected at least 1 donor frame to choose from")
        if stickiness < 0:
            raise ConfigError(f"--stickiness {stickiness}: expected >= 0 pose units (0: always the nearest pose)")
        self.donor = check_file(donor, "donor video")
        n = 1 if is_image(self.donor) else probe_video(self.donor).n_frames
        stop = n if donor_stop is None else min(donor_stop, n)
        if donor_start >= stop:
            raise ConfigError(f"--donor-start {donor_start}: {self.donor} has {n} frames; pick a range inside them")
        self.donor_start, self.donor_stop = donor_start, stop
        self.source = source
        self.donor_frames = donor_frames
        self.stickiness = stickiness
        self.settings = settings or self.default_settings
        self.device = device

    def extractor(self):
        """The face pipeline of the driving video (its crops go unused: the warp works in frame pixels)."""
        from fakebench.faces import FaceExtractor

        return FaceExtractor(device=self.device, detect_every=self.settings.detect_every)

    def target(self, video_sha: str, start: int, stop: int, driving: str | None) -> str:
        """``driving``, else "unknown"; warns when the donor frames come from the driving segment itself."""
        if video_sha == content_key(self.donor) and start < self.donor_stop and self.donor_start < stop:
            log.warning("the donor range [%d, %d) overlaps the driving segment [%d, %d) of the same video: its own "
                        "face is pasted back (a reconstruction, not a swap)", self.donor_start, self.donor_stop,
                        start, stop)
        return driving or "unknown"

    def begin(self, track, *, progress: bool = False) -> None:
        """Find the donor's faces, choose one donor frame per driving face, decode the chosen frames."""
        from fakebench.faces import FaceExtractor

        faces = FaceExtractor(device=self.device).extract(self.donor, count=self.donor_frames, start=self.donor_start,
                                                          stop=self.donor_stop, progress=progress)
        if not faces.has_face.any():
            raise NoFaceError(f"--donor {self.donor}: no face in any of the {len(faces)} frames sampled from "
                              f"[{self.donor_start}, {self.donor_stop}); give a donor (or a range) that shows a face")
        self._donor_frames = faces.frames[faces.has_face]
        self._donor_marks = faces.landmarks[faces.has_face]
        cut = track.has_face & ~in_frame(track.landmarks, track.width, track.height)
        if cut.any():
            log.info("%s: %d frames where the face is cut by the frame's edge are left as they are",
                     track.source, int(cut.sum()))
        driving = np.flatnonzero(track.has_face & ~cut)
        chosen = choose_donor_frames(pose(track.landmarks[driving]), pose(self._donor_marks), self.stickiness) \
            if len(driving) else np.zeros(0, np.int64)
        self._choice = dict(zip(driving.tolist(), chosen.tolist()))  # track sample -> donor face
        self._landmarks = track.landmarks
        wanted = sorted(set(self._donor_frames[chosen].tolist()))
        frames = [(0, read_image(self.donor))] if is_image(self.donor) else iter_frames(self.donor, wanted)
        self._images = dict(frames)
        self._n_donor = len(self._donor_frames)
        log.info("%s: %d donor faces, %d of them pasted into %d driving frames", self.donor, self._n_donor,
                 len(wanted), len(driving))

    def render(self, i: int, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = frame.shape[:2]
        if i not in self._choice:  # a face cut by the frame's edge
            return frame, np.zeros((h, w), np.uint8)
        k = self._choice[i]
        image, marks = self._images[int(self._donor_frames[k])], self._landmarks[i]
        dst = with_ring(marks)
        x0, y0 = np.maximum(np.floor(dst.min(0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(dst.max(0)).astype(int) + 1, (w, h))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return frame, np.zeros((h, w), np.uint8)
        face, covered = piecewise_affine(image, with_ring(self._donor_marks[k]), dst, (x0, y0, x1 - x0, y1 - y0))
        base = frame[y0:y1, x0:x1]
        face = colour_match(face, base, inner_face(marks - (x0, y0), covered.shape) & covered, self.settings.colour)
        face = np.where(covered[..., None], face, base)  # outside the warp: the frame itself, so no dark fringe
        shift = np.array([[1, 0, -x0], [0, 1, -y0]], np.float32)  # frame -> this box: a crop at scale 1
        return composite(frame, face, shift, marks, self.settings)

    def describe(self) -> dict:
        return {"donor": {"path": str(self.donor.resolve()), "sha256": content_key(self.donor),
                          "start_frame": self.donor_start, "stop_frame": self.donor_stop},
                "settings": {**to_dict(self.settings), "donor_faces": self._n_donor,
                             "donor_faces_used": len(self._images), "stickiness": self.stickiness,
                             "pose_scale": dict(zip(POSE_KEYS, POSE_SCALE.tolist())), "ring": RING}}


def convert_graphics(video: str | os.PathLike, *, donor: str | os.PathLike, source: str, out: str | os.PathLike,
                     start: int = 0, stop: int | None = None, donor_start: int = 0, donor_stop: int | None = None,
                     donor_frames: int = 240, settings: ConvertSettings | None = None, driving: str | None = None,
                     device: str = "auto", progress: bool = True) -> dict:
    """Paste ``donor``'s face (identity ``source``) into frames ``[start, stop)`` of ``video``; write ``out``.

    Writes ``out`` (.mp4), its masks and its manifest exactly as ``convert.convert`` does, with
    ``"method": "graphics"`` and a ``donor`` entry instead of ``run``/``checkpoint``. ``driving``:
    who is in the video (default "unknown"). Default blending: Poisson. Returns the manifest.
    """
    out = check_out(out)
    swap = GraphicsSwap(donor, source=source, donor_start=donor_start, donor_stop=donor_stop, donor_frames=donor_frames,
                        settings=settings, device=device)
    return convert_with(swap, video, out=out, start=start, stop=stop, driving=driving, progress=progress)
