"""Shared fixtures of the vdiv Python tests. ctest runs them with PYTHONPATH=<build>/python and
VDIV_CLI=<build>/bin/vdiv; VDIV_REQUIRE_CLI=1 turns a missing tool into a failure, not a skip."""
import os
import shutil

import pytest

SEED = 20251125  # every random test input derives from it (printed by pytest's header below)


def pytest_report_header(config):
    return "vdiv test seed: %d" % SEED


@pytest.fixture(scope="session")
def vdiv_cli():
    path = os.environ.get("VDIV_CLI") or shutil.which("vdiv")
    if not path or not os.path.exists(path):
        if os.environ.get("VDIV_REQUIRE_CLI") == "1":
            pytest.fail("VDIV_CLI does not name the vdiv tool: %r" % path)
        pytest.skip("the vdiv tool is not built (set VDIV_CLI)")
    return path
