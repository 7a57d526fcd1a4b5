"""Scoring detectors: metrics with CIs, robustness, throughput, report, gate."""
