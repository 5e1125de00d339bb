#!/usr/bin/python3
"""ctest driver for `vdiv ot`: runs the tool on fixture .npy files, checks the JSON against
POT values (cli_expected.json, from make_fixtures.py) and checks that bad inputs fail cleanly.
Usage: check_cli.py <path to vdiv> <fixtures dir>"""
import json
import os
import subprocess
import sys

exe, fx = sys.argv[1], sys.argv[2]
expected = json.load(open(os.path.join(fx, "cli_expected.json")))
failures = []


def run(*args):
    return subprocess.run([exe, "ot", *args], capture_output=True, text=True, timeout=120)


def f(name):
    return os.path.join(fx, name)


def close(a, b, tol):
    return abs(a - b) <= tol


for solver in ("sinkhorn", "exact"):
    for weights in ("uniform", "cross_reference"):
        r = run("--x", f("cli_x.npy"), "--y", f("cli_y.npy"), "--solver", solver, "--weights", weights, "--plan")
        key = "%s.%s" % (solver, weights)
        if r.returncode != 0:
            failures.append("%s: exit %d: %s" % (key, r.returncode, r.stderr))
            continue
        out = json.loads(r.stdout)
        exp = expected[key]
        if len(out["similarity"]) != 3 or not all(close(a, b, 2e-5) for a, b in zip(out["similarity"], exp["similarity"])):
            failures.append("%s: similarity %s != %s" % (key, out["similarity"], exp["similarity"]))
        plan = out["plan"]
        if len(plan) != 3 or len(plan[0]) != 13 or len(plan[0][0]) != 9:
            failures.append("%s: plan shape wrong" % key)
        else:
            err = max(abs(plan[b][i][j] - exp["plan"][b][i][j]) for b in range(3) for i in range(13) for j in range(9))
            if err > 1e-5:
                failures.append("%s: plan differs by %g" % (key, err))

# Single pair (N, D) input; no plan key without --plan; threads do not change the result.
r = run("--x", f("cli_x_single.npy"), "--y", f("cli_y_single.npy"))
out = json.loads(r.stdout) if r.returncode == 0 else {}
if "plan" in out or len(out.get("similarity", [])) != 1 or not close(out["similarity"][0], expected["sinkhorn.uniform"]["similarity"][0], 2e-5):
    failures.append("single pair: %r %r" % (r.returncode, r.stdout[:200]))
r1 = run("--x", f("cli_x.npy"), "--y", f("cli_y.npy"), "--threads", "1")
r3 = run("--x", f("cli_x.npy"), "--y", f("cli_y.npy"), "--threads", "3")
if r1.returncode != 0 or r1.stdout != r3.stdout:
    failures.append("thread count changed the output")
r = run("--x", f("cli_x.npy"), "--y", f("cli_y.npy"), "--solver", "sinkhorn_log", "--reg", "0.001")
if r.returncode != 0 or any(s != s for s in json.loads(r.stdout)["similarity"]):
    failures.append("sinkhorn_log reg 0.001: %r" % r.stdout[:200])

# Bad inputs: non-zero exit and a message naming the problem.
bad = [
    (("--x", f("cli_x_nan.npy"), "--y", f("cli_y.npy")), "x[item 1, row 4] has a non-finite value"),
    (("--x", f("does_not_exist.npy"), "--y", f("cli_y.npy")), "no such file"),
    (("--x", f("cli_x_f64.npy"), "--y", f("cli_y.npy")), "expected float32"),
    (("--x", f("cli_x.npy"), "--y", f("cli_y_wrong_dim.npy")), "feature dimension"),
    (("--x", f("cli_x_single.npy"), "--y", f("cli_y.npy")), "dimensions"),
    (("--x", f("cli_x.npy"), "--y", f("cli_y.npy"), "--solver", "simplex"), "simplex"),
    (("--x", f("cli_x.npy"), "--y", f("cli_y.npy"), "--reg", "-1"), "reg"),
    (("--x", f("reference.txt"), "--y", f("cli_y.npy")), "not a .npy file"),
]
for args, needle in bad:
    r = run(*args)
    if r.returncode == 0 or needle not in (r.stderr + r.stdout):
        failures.append("bad input %s: exit %d, stderr %r" % (args, r.returncode, r.stderr))
r = run("--x", f("cli_x.npy"), "--y", f("cli_y.npy"), "--device", "cuda")
if r.returncode == 0 and "similarity" not in r.stdout:
    failures.append("--device cuda: exit 0 without output")
if r.returncode != 0 and "cuda" not in r.stderr.lower():
    failures.append("--device cuda: unclear error %r" % r.stderr)

for msg in failures:
    print("FAIL:", msg)
print("%d failures" % len(failures))
sys.exit(1 if failures else 0)
