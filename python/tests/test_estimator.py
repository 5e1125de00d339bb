"""examples/python/estimator.py (the estimator's loop in Python: vdiv crops and patches, a torch
encoder, vdiv.similarity) gives `vdiv score`'s per-pair scores for the same scenes, encoder and
seed."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python"))
import estimator  # noqa: E402


class TinyEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 16, 5, stride=3)
        self.bn = torch.nn.BatchNorm2d(16)
        self.head = torch.nn.Conv2d(16, 32, 3, stride=2)

    def forward(self, x):
        return self.head(torch.relu(self.bn(self.conv(x))))


def test_same_scores_as_vdiv_score(vdiv_cli, tmp_path):
    if subprocess.run([vdiv_cli, "score", "--help"], capture_output=True).returncode != 0:
        if os.environ.get("VDIV_REQUIRE_SCORE") == "1":
            pytest.fail("this vdiv tool has no score command although LibTorch was found")
        pytest.skip("this vdiv tool was built without LibTorch (no score command)")
    subprocess.run([vdiv_cli, "make-scenes", "--out", str(tmp_path / "scenes"), "--count", "10", "--seed", "4"],
                   check=True, capture_output=True)
    encoder = tmp_path / "enc.pt"
    torch.jit.script(TinyEncoder().eval()).save(str(encoder))
    configs = ["baseline", "zero_overlap", "instance_vs_background", "lower_bound"]
    for strategy in ("grid", "sampling"):
        out = tmp_path / ("report_%s.json" % strategy)
        subprocess.run([vdiv_cli, "score", "--data", "scenes", str(tmp_path / "scenes"), "--configs",
                        ",".join(configs), "--encoder", str(encoder), "--pairs", "12", "--seed", "9",
                        "--strategy", strategy, "--out", str(out)], check=True, capture_output=True)
        expected = {}
        with open(str(out) + ".ckpt.jsonl") as f:
            for line in f:
                row = json.loads(line)
                if "config" in row and row.get("similarity") is not None:
                    expected[(row["config"], row["index"])] = row["similarity"]
        got = estimator.score(str(tmp_path / "scenes"), str(encoder), configs, pairs=12, seed=9,
                              strategy=strategy)
        compared = 0
        for config, (indices, scores) in got.items():
            for i, s in zip(indices.tolist(), scores.tolist()):
                assert s == pytest.approx(expected[(config, i)], abs=1e-4), (strategy, config, i)
                compared += 1
        assert compared == len(expected) and compared >= 40
