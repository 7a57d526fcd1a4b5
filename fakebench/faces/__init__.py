"""The face pipeline shared by the generator and the detectors: detect, track, landmark, align."""

from fakebench.faces.align import align_face, invert_affine, paste_back, template, transform_points, umeyama
from fakebench.faces.detector import Detections, FaceDetector
from fakebench.faces.extract import FaceExtractor
from fakebench.faces.landmarks import LandmarkPredictor, dlib_model_path, eye_centres, five_points
from fakebench.faces.track import FaceTrack

__all__ = ["Detections", "FaceDetector", "FaceExtractor", "FaceTrack", "LandmarkPredictor", "align_face",
           "dlib_model_path", "eye_centres", "five_points", "invert_affine", "paste_back", "template",
           "transform_points", "umeyama"]
