"""Data: the real sample media, and indexes of public and generated deepfake data sets.

``index`` (the video table: ``VideoRecord``, build/save/load/check), ``layouts`` (one reader per
data set layout, registered in ``LAYOUTS``), ``splits`` (identity- and segment-disjoint splits),
``extract`` (face crops for a whole index, resumable), ``samples`` (the sample media fetch).
Nothing heavy is imported here: pandas, OpenCV and torch load where they are used.
"""

from fakebench.datasets.index import VideoRecord, build_index, check_index, counts, index_layout, load_index, save_index

__all__ = ["VideoRecord", "build_index", "check_index", "counts", "index_layout", "load_index", "save_index"]
