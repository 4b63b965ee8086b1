"""Every sample with Numba's bounds checking on: value, gradient, VJP, JVP and HVP on
random valid inputs raise no IndexError (nothing reads or writes out of bounds)."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from conftest import SAMPLES

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE_FILES = sorted(glob.glob(os.path.join(SAMPLES, "*.py")))
NAMES = [os.path.splitext(os.path.basename(p))[0] for p in SAMPLE_FILES]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("boundscheck"))
    # a cache of its own: code compiled without bounds checks must not be reused
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=os.path.join(out, "cache"))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    done = subprocess.run([sys.executable, os.path.join(HERE, "boundscheck_worker.py"), out,
                           *SAMPLE_FILES], env=env, capture_output=True, text=True,
                          timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", NAMES)
def test_no_out_of_bounds_access(results, name):
    assert results[name] == "ok", results[name]
