"""MTCNN's three-stage cascade (Zhang et al. 2016) on facenet-pytorch's networks and weights.

The same computation as ``facenet_pytorch.MTCNN.detect`` (the image pyramid, P-Net proposals, R-Net
and O-Net refinement, the same thresholds, NMS and box regression), organised for speed on a CPU.
Every area resize (the pyramid levels, and the 24 / 48 px crops of the candidate boxes) is read off
one integral image of the frames: a window's sum is four look-ups, so all boxes of a batch are
resized in one vectorised gather instead of one torch call per box (a third of facenet-pytorch's
time at ~35 candidates per frame), and the pyramid without a pass over the frame per level. The
window bounds are torch's "area" mode (adaptive average pooling: output cell i averages inputs
floor(i n / s) .. ceil((i + 1) n / s) - 1) and integer sums are exact, so the resized pixels are
facenet-pytorch's to float rounding (1e-5) and so are the boxes (1e-4 px on the sample media, tested).
"""

from __future__ import annotations

import numpy as np

STRIDE, CELL = 2, 12  # P-Net's output stride and receptive field


def integral_image(frames: np.ndarray, device):
    """``(N,H+1,W+1,3)`` running sums over rows and columns of ``uint8 (N,H,W,3)`` frames, as a tensor
    (int32 while a frame's total fits, else int64; numpy's cumsum is the faster one on a CPU)."""
    import torch

    n, h, w, c = frames.shape
    dtype = np.int32 if h * w * 255 < 2**31 else np.int64
    out = np.zeros((n, h + 1, w + 1, c), dtype)
    np.cumsum(frames, 1, dtype=dtype, out=out[:, 1:, 1:])
    np.cumsum(out[:, 1:, 1:], 2, out=out[:, 1:, 1:])
    return torch.from_numpy(out).to(device)


def _bounds(start, length, size: int):
    """``(K,size)`` window bounds [lo, hi) of adaptive average pooling of ``length`` pixels from ``start``."""
    import torch

    i = torch.arange(size, device=length.device)
    lo = start[:, None] + (i[None] * length[:, None]) // size
    hi = start[:, None] - ((-(i[None] + 1) * length[:, None]) // size)
    return lo, hi


def area_resize_frames(integral, size_h: int, size_w: int):
    """``float32 (N,3,size_h,size_w)``: every whole frame area-resized (the pyramid levels)."""
    import torch

    n, h1, w1, _ = integral.shape
    dev = integral.device
    (lo_r, hi_r), (lo_c, hi_c) = (_bounds(torch.zeros(1, dtype=torch.int64, device=dev),
                                          torch.full((1,), length - 1, dtype=torch.int64, device=dev), size)
                                  for length, size in ((h1, size_h), (w1, size_w)))
    rows = integral.index_select(1, hi_r[0]) - integral.index_select(1, lo_r[0])
    sums = rows.index_select(2, hi_c[0]) - rows.index_select(2, lo_c[0])
    counts = ((hi_r - lo_r)[0][:, None] * (hi_c - lo_c)[0][None, :])[None, :, :, None]
    return (sums.float() / counts.float()).permute(0, 3, 1, 2)


def area_resize_boxes(integral, owner, y, x, h, w, size: int):
    """``float32 (K,3,size,size)``: the window (y, x, h, w) of frame ``owner`` (each ``(K,)``) area-resized."""
    n, h1, w1, c = integral.shape
    flat = integral.reshape(-1, c)
    lo_r, hi_r = _bounds(y, h, size)
    lo_c, hi_c = _bounds(x, w, size)
    base = (owner * (h1 * w1))[:, None, None]

    def at(rows, cols):
        return flat.index_select(0, (base + rows[:, :, None] * w1 + cols[:, None, :]).reshape(-1))

    sums = at(hi_r, hi_c) - at(lo_r, hi_c) - at(hi_r, lo_c) + at(lo_r, lo_c)
    counts = ((hi_r - lo_r)[:, :, None] * (hi_c - lo_c)[:, None, :]).reshape(-1, 1)
    return (sums.float() / counts.float()).reshape(len(owner), size, size, c).permute(0, 3, 1, 2)


class Cascade:
    """P-Net, R-Net and O-Net of facenet-pytorch (weights from its wheel), run as one detector.

    ``detect(frames, min_face)`` takes ``uint8 (T,H,W,3) RGB`` frames of one size and the smallest
    face side to look for (it sets the pyramid, not the networks, so one cascade serves every frame
    size) and returns, per frame, ``boxes float32 (K,5)`` (x1, y1, x2, y2, score) and ``points
    float32 (K,5,2)``, unsorted.
    """

    def __init__(self, *, device: str = "cpu", thresholds=(0.6, 0.7, 0.7), factor: float = 0.709):
        import torch
        from facenet_pytorch.models.mtcnn import ONet, PNet, RNet

        self.device = torch.device(device)
        self.thresholds, self.factor = thresholds, factor
        self.pnet, self.rnet, self.onet = (net().to(self.device, memory_format=torch.channels_last).eval()
                                           for net in (PNet, RNet, ONet))

    def scales(self, height: int, width: int, min_face: int) -> list[float]:
        scale = CELL / min_face
        side = min(height, width) * scale
        out = []
        while side >= CELL:
            out.append(scale)
            scale *= self.factor
            side *= self.factor
        return out

    def detect(self, frames: np.ndarray, min_face: int) -> list[tuple[np.ndarray, np.ndarray]]:
        import torch

        with torch.inference_mode():
            return self._detect(np.ascontiguousarray(frames), min_face)

    # -- the three stages -----------------------------------------------------------------------------
    def _detect(self, frames: np.ndarray, min_face: int) -> list[tuple[np.ndarray, np.ndarray]]:
        import torch
        from torchvision.ops import batched_nms

        n, h, w = frames.shape[:3]
        integral = integral_image(frames, self.device)
        boxes, owners = [], []
        for scale in self.scales(h, w, min_face):  # stage 1: P-Net over the pyramid, NMS per scale and frame
            scaled = area_resize_frames(integral, int(h * scale + 1), int(w * scale + 1))
            reg, probs = self.pnet(_network_input(scaled))
            cand, owner = _proposals(reg, probs[:, 1], scale, self.thresholds[0])
            keep = batched_nms(cand[:, :4], cand[:, 4], owner, 0.5)
            boxes.append(cand[keep])
            owners.append(owner[keep])
        empty = [(np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)) for _ in range(n)]
        if not boxes:
            return empty
        boxes, owners = torch.cat(boxes), torch.cat(owners)
        keep = batched_nms(boxes[:, :4], boxes[:, 4], owners, 0.7)
        boxes, owners = boxes[keep], owners[keep]
        if len(boxes) == 0:
            return empty
        size = boxes[:, 2:4] - boxes[:, 0:2]
        boxes = torch.cat([boxes[:, 0:2] + boxes[:, 5:7] * size, boxes[:, 2:4] + boxes[:, 7:9] * size, boxes[:, 4:5]], 1)
        boxes = _square(boxes)

        # stage 2: R-Net on 24 px crops
        crops, owners, boxes = self._crops(integral, boxes, owners, 24, h, w)
        if len(crops) == 0:
            return empty
        reg, probs = self.rnet(crops)
        score = probs[:, 1]
        passed = score > self.thresholds[1]
        boxes = torch.cat([boxes[passed, :4], score[passed, None]], 1)
        owners, reg = owners[passed], reg[passed]
        keep = batched_nms(boxes[:, :4], boxes[:, 4], owners, 0.7)
        boxes, owners, reg = boxes[keep], owners[keep], reg[keep]
        boxes = _square(_regress(boxes, reg))
        if len(boxes) == 0:
            return empty

        # stage 3: O-Net on 48 px crops, with the five points
        crops, owners, boxes = self._crops(integral, boxes, owners, 48, h, w)
        if len(crops) == 0:
            return empty
        reg, marks, probs = self.onet(crops)
        score = probs[:, 1]
        passed = score > self.thresholds[2]
        boxes = torch.cat([boxes[passed, :4], score[passed, None]], 1)
        owners, reg, marks = owners[passed], reg[passed], marks[passed]
        extent = boxes[:, 2:4] - boxes[:, 0:2] + 1
        points = torch.stack([extent[:, None, 0] * marks[:, :5] + boxes[:, None, 0] - 1,
                              extent[:, None, 1] * marks[:, 5:] + boxes[:, None, 1] - 1], 2)
        boxes = _regress(boxes, reg)
        boxes, owners, points = boxes.cpu().numpy(), owners.cpu().numpy(), points.cpu().numpy()
        keep = _nms_min(boxes, owners, 0.7)
        boxes, owners, points = boxes[keep], owners[keep], points[keep]
        return [(boxes[owners == i].astype(np.float32), points[owners == i].astype(np.float32)) for i in range(n)]

    def _crops(self, integral, boxes, owners, size: int, h: int, w: int):
        """The boxes cut from their frames (clipped to the frame, as MTCNN pads) and area-resized to ``size``."""
        import torch

        b = boxes.trunc().long()
        x, y = b[:, 0].clamp(min=1), b[:, 1].clamp(min=1)
        ex, ey = b[:, 2].clamp(max=w), b[:, 3].clamp(max=h)
        keep = torch.nonzero((ey > y - 1) & (ex > x - 1)).squeeze(1)
        x, y, ex, ey = x[keep], y[keep], ex[keep], ey[keep]
        crops = area_resize_boxes(integral, owners[keep], y - 1, x - 1, ey - y + 1, ex - x + 1, size)
        return _network_input(crops), owners[keep], boxes[keep]


def _network_input(pixels):
    """MTCNN's input scaling of 0..255 pixels, channels-last."""
    import torch

    return ((pixels - 127.5) * 0.0078125).contiguous(memory_format=torch.channels_last)


def _proposals(reg, probs, scale: float, threshold: float):
    """P-Net cells scoring >= threshold as boxes in frame pixels: x1, y1, x2, y2, score, 4 regression values."""
    import torch

    mask = probs >= threshold
    where = mask.nonzero()
    owner = where[:, 0]
    score = probs[mask]
    offsets = reg.permute(1, 0, 2, 3)[:, mask].permute(1, 0)
    cell = where[:, 1:].to(reg.dtype).flip(1)  # (x, y) of the cell
    top_left = ((STRIDE * cell + 1) / scale).floor()
    bottom_right = ((STRIDE * cell + CELL) / scale).floor()
    return torch.cat([top_left, bottom_right, score[:, None], offsets], 1), owner


def _regress(boxes, reg):
    extent = boxes[:, 2:4] - boxes[:, 0:2] + 1
    out = boxes.clone()
    out[:, 0:2] = boxes[:, 0:2] + reg[:, 0:2] * extent
    out[:, 2:4] = boxes[:, 2:4] + reg[:, 2:4] * extent
    return out


def _square(boxes):
    """Each box grown to a square around its centre (the side = its longer side)."""
    import torch

    out = boxes.clone()
    size = boxes[:, 2:4] - boxes[:, 0:2]
    side = torch.max(size[:, 0], size[:, 1])
    out[:, 0:2] = boxes[:, 0:2] + size * 0.5 - side[:, None] * 0.5
    out[:, 2:4] = out[:, 0:2] + side[:, None]
    return out


def _nms_min(boxes: np.ndarray, owners: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy NMS per frame with overlap = intersection / the smaller area (O-Net's final pass)."""
    keep = []
    for frame in np.unique(owners):
        idx = np.flatnonzero(owners == frame)
        x1, y1, x2, y2, s = (boxes[idx, c] for c in range(5))
        area = (x2 - x1 + 1) * (y2 - y1 + 1)
        order = np.argsort(s, kind="stable")
        while order.size:
            i = order[-1]
            keep.append(idx[i])
            rest = order[:-1]
            iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
            ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
            order = rest[(iw * ih) / np.minimum(area[i], area[rest]) <= threshold]
    return np.asarray(sorted(keep), np.int64)
