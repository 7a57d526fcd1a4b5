"""One contract over every detector fakebench can make (timm's test over its registry): built-ins and
installed plug-ins, through the same checks `fakebench detect check` runs."""

from __future__ import annotations

import pytest

from fakebench.detect import create
from fakebench.detect.contract import CHECKS, run_check, run_contract
from fakebench.detect.factory import available
from fakebench.errors import FakebenchError

NAMES = [e.name for e in available()[0]]


def test_registry_lists_detectors_and_refuses_unknown_names():
    assert {"blink", "artifacts", "classifier"} <= set(NAMES)
    with pytest.raises(FakebenchError, match=r"unknown detector 'blnk' \(did you mean 'blink'\?\); known: .*blink"):
        create("blnk")


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", NAMES)
def test_contract(name, check):
    result = run_check(name, check, small=True)
    assert result.ok, f"{name} {check}: {result.detail}"


def test_a_detector_that_breaks_the_contract_fails_the_check(tmp_path):
    plugin = tmp_path / "leaky.py"
    plugin.write_text(
        "import numpy as np\n"
        "from fakebench.detect import Detector\n"
        "class Leaky(Detector):\n"
        "    name = 'leaky'\n"
        "    def score_frames(self, faces):\n"
        "        n = len(faces.crops) if hasattr(faces, 'crops') else len(faces)\n"
        "        return np.random.default_rng().uniform(0, 2, n)\n")
    results = {r.check: r for r in run_contract(f"{plugin}:Leaky")}
    assert results["builds"].ok
    assert not results["probability"].ok or not results["deterministic"].ok
    assert not results["deterministic"].ok and "gave" in results["deterministic"].detail
    assert not results["bad_inputs_refused"].ok
