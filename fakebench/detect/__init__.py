"""Deepfake detectors behind one interface."""
