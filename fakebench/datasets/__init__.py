"""Data: the real sample media, and (later) indexes of public and generated deepfake data sets."""
