"""fakebench: make fresh face-swap deepfakes and benchmark deepfake detectors against them.

Subpackages, in the order data flows through them: ``faces`` (detect, landmark, align),
``generate`` (the shared-encoder face-swap autoencoder), ``datasets`` (indexes of public and
generated sets, the real sample media), ``detect`` (detectors behind one interface) and
``benchmarks`` (metrics, robustness, throughput, reports). Nothing runs at import time.
"""

__version__ = "0.1.0"
