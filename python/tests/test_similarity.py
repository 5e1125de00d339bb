"""vdiv.similarity against POT (ot.sinkhorn, ot.emd) and `vdiv ot`, on numpy and torch inputs;
bad input raises ValueError naming the item and row; long calls release the GIL."""
import json
import os
import subprocess
import threading
import time

import numpy as np
import ot
import pytest
import torch

import vdiv
from conftest import SEED


def signed_features(rng, b, n, d, rank=5):
    """Low-rank signed features: cosines spread over -1..1, so the cost is far from flat."""
    basis = rng.standard_normal((rank, d))
    return (rng.standard_normal((b, n, rank)) @ basis + 0.05 * rng.standard_normal((b, n, d)))


def pot_similarity(x, y, reg=0.05, iters=10, solver="sinkhorn", a=None, b=None):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    c = 1.0 - xn @ yn.T
    a = np.full(len(x), 1.0 / len(x)) if a is None else a / a.sum()
    b = np.full(len(y), 1.0 / len(y)) if b is None else b / b.sum()
    plan = ot.sinkhorn(a, b, c, reg, numItermax=iters, stopThr=0) if solver == "sinkhorn" else ot.emd(a, b, c)
    return float((plan * (1.0 - c)).sum()), plan


@pytest.mark.parametrize("solver", ["sinkhorn", "exact"])
@pytest.mark.parametrize("n,m", [(13, 13), (9, 13), (13, 1), (1, 5)])
def test_matches_pot(solver, n, m):
    rng = np.random.default_rng(SEED)
    x = signed_features(rng, 6, n, 32)
    y = signed_features(rng, 6, m, 32)
    s, plans = vdiv.similarity(x, y, solver=solver, return_plan=True)
    assert s.shape == (6,) and s.dtype == np.float64
    for k in range(6):
        expected, plan = pot_similarity(x[k], y[k], solver=solver)
        assert s[k] == pytest.approx(expected, abs=1e-9)
        np.testing.assert_allclose(plans[k], plan, atol=1e-9)


def test_user_and_cross_reference_weights():
    rng = np.random.default_rng(SEED + 1)
    x = signed_features(rng, 3, 13, 16)
    y = signed_features(rng, 3, 11, 16)
    a = rng.uniform(0.1, 1.0, 13)
    b = rng.uniform(0.1, 1.0, 11)
    s = vdiv.similarity(x, y, weights=(a, b))
    for k in range(3):
        assert s[k] == pytest.approx(pot_similarity(x[k], y[k], a=a, b=b)[0], abs=1e-9)
    cr = vdiv.similarity(x, y, weights="cross_reference")
    for k in range(3):  # DeepEMD: a_i = max(0, x_i . mean(y)) + eps, on the raw features
        wa = np.maximum(0, x[k] @ y[k].mean(0)) + 1e-3
        wb = np.maximum(0, y[k] @ x[k].mean(0)) + 1e-3
        assert cr[k] == pytest.approx(pot_similarity(x[k], y[k], a=wa, b=wb)[0], abs=1e-9)


def test_torch_float32_any_strides_and_one_pair():
    rng = np.random.default_rng(SEED + 2)
    x = signed_features(rng, 5, 13, 64).astype(np.float32)
    y = signed_features(rng, 5, 13, 64).astype(np.float32)
    ref = vdiv.similarity(x, y)
    assert ref.dtype == np.float32
    t = vdiv.similarity(torch.from_numpy(x), torch.from_numpy(y))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), ref)
    # a transposed (non-contiguous) view is read in place with its strides
    xt = np.ascontiguousarray(x.transpose(0, 2, 1)).transpose(0, 2, 1)
    assert not xt.flags.c_contiguous
    np.testing.assert_allclose(vdiv.similarity(xt, y), ref, rtol=1e-6)
    # one pair: a float
    assert vdiv.similarity(x[0], y[0]) == pytest.approx(float(ref[0]))


def test_same_as_vdiv_ot(vdiv_cli, tmp_path):
    rng = np.random.default_rng(SEED + 3)
    x = signed_features(rng, 1, 13, 64)[0].astype(np.float32)
    y = signed_features(rng, 1, 10, 64)[0].astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    for solver in ("sinkhorn", "sinkhorn_log", "exact"):
        out = subprocess.run([vdiv_cli, "ot", "--x", str(tmp_path / "x.npy"), "--y", str(tmp_path / "y.npy"),
                              "--solver", solver], check=True, capture_output=True, text=True).stdout
        s_cli = json.loads(out)["similarity"][0]
        assert vdiv.similarity(x, y, solver=solver) == pytest.approx(s_cli, abs=1e-6)


@pytest.mark.parametrize("make,match", [
    (lambda x, y: (np.where(np.arange(13)[None, :, None] == 4, np.nan, x), y), r"x\[item 0, row 4\]"),
    (lambda x, y: (x, np.concatenate([y[:, :2], 0 * y[:, 2:3], y[:, 3:]], 1)), r"y\[item 0, row 2\].*zero norm"),
    (lambda x, y: (x, y[:, :, :10]), "dim"),
    (lambda x, y: (x, y[:1]), "batch"),
    (lambda x, y: (x.astype(np.float32), y), "float32 or both float64"),
    (lambda x, y: (x.astype(np.int64), y.astype(np.int64)), "float32 or both float64"),
    (lambda x, y: (x[0, 0], y[0, 0]), "N x D"),
])
def test_bad_input(make, match):
    rng = np.random.default_rng(SEED + 4)
    x = signed_features(rng, 2, 13, 16)
    y = signed_features(rng, 2, 13, 16)
    x, y = make(x, y)
    with pytest.raises(ValueError, match=match):
        vdiv.similarity(x, y)


def test_bad_options_and_devices():
    x = np.ones((2, 3, 4))
    with pytest.raises(ValueError, match="unknown solver"):
        vdiv.similarity(x, x, solver="nope")
    with pytest.raises(ValueError, match="weights"):
        vdiv.similarity(x, x, weights=(np.ones(3),))
    with pytest.raises(ValueError, match="torch tensor"):
        vdiv.similarity(torch.ones(2, 3, 4), x)
    assert isinstance(vdiv.has_cuda, bool)


def test_small_reg_is_reported_and_solved_in_the_log_domain():
    rng = np.random.default_rng(SEED + 5)
    x = signed_features(rng, 4, 13, 32).astype(np.float32)
    y = signed_features(rng, 4, 13, 32).astype(np.float32)
    s, report = vdiv.similarity(x, y, reg=0.002, return_report=True)
    assert report["sinkhorn_numerical_stops"] > 0
    assert report["sinkhorn_log_fallbacks"] == report["sinkhorn_numerical_stops"]
    np.testing.assert_allclose(s, vdiv.similarity(x, y, reg=0.002, solver="sinkhorn_log"), rtol=1e-5)


def test_long_calls_release_the_gil():
    """While one thread runs a long similarity, Python code keeps running in another."""
    rng = np.random.default_rng(SEED + 6)
    x = rng.standard_normal((3000, 13, 256)).astype(np.float32) + 0.1
    y = rng.standard_normal((3000, 13, 256)).astype(np.float32) + 0.1
    t0 = time.perf_counter()
    vdiv.similarity(x, y)
    single = time.perf_counter() - t0
    ticks = []
    done = threading.Event()

    def work():
        vdiv.similarity(x, y)
        done.set()

    th = threading.Thread(target=work)
    th.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
    th.join()
    # the main thread ran throughout the call: ticks keep coming, no gap close to the call's length
    gaps = np.diff(ticks) if len(ticks) > 1 else np.array([single])
    assert len(ticks) > 100
    assert gaps.max() < 0.5 * single, (gaps.max(), single)
