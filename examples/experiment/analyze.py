#!/usr/bin/python3
"""The experiment's analysis: what the per-seed results say about the paper's claims.

  /usr/bin/python3 examples/experiment/analyze.py examples/experiment/results/results.csv \\
      [--out examples/experiment/results/analysis.md] [--plot examples/experiment/results/accuracy_vs_s.png]

Input: one row per (config, seed) with linear_acc, knn_acc, s (the EMD similarity S of the
config's pairs from the independent encoder), s_ci_low, s_ci_high, s_ssl, s_ssl_ci_low,
s_ssl_ci_high (S from the seed's own baseline backbone, optional), train_seconds, test_images;
config "random_init" is the untrained backbone.
Output (markdown): per config mean +- 95% CI over seeds (Student t); paired differences against
baseline (same seed) with CIs; the best config's margin over random init in test-set standard
errors; for S from each encoder, Spearman rank correlation of accuracy and S over the configs
and a quadratic fit of accuracy on S (all seeds' points, one intercept per seed) with the CI of
its quadratic term and the S of its peak (delta method); and the paper's claims, each marked
supported / contradicted / cannot tell by the rule written next to it.
"""
import argparse
import csv
import math
import sys
from collections import defaultdict

import numpy as np
from scipy import stats

CONFIG_ORDER = ["random_init", "baseline", "zero_overlap", "instance_vs_background", "only_background",
                "lower_bound", "smaller_crop", "larger_crop", "smaller_crop_zero_overlap"]


def mean_ci(values, level=0.95):
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    if len(v) == 1:
        return float(v[0]), float("nan"), 1
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return float(v.mean()), float(half), len(v)


def fmt(m, h, digits=4):
    if not math.isfinite(m):
        return ""
    return ("%.*f" % (digits, m)) + ("" if not math.isfinite(h) else " ± %.*f" % (digits, h))


def load(path):
    rows = defaultdict(dict)
    with open(path) as f:
        for r in csv.DictReader(f):
            def num(k):
                try:
                    return float(r[k]) if r.get(k) not in (None, "") else float("nan")
                except ValueError:
                    return float("nan")
            rows[r["config"]][int(r["seed"])] = {k: num(k) for k in
                                                 ("linear_acc", "knn_acc", "s", "s_ci_low", "s_ci_high",
                                                  "s_ssl", "train_seconds", "test_images")}
    return rows


def quadratic_fit(s, acc, seed):
    """OLS acc = a_seed + b s + c s^2, one intercept per seed (a seed moves every config's
    accuracy together: scenes, initial weights and the probe's data order are shared), so the
    curvature is estimated within seeds. Returns (mean intercept, b, c), the CI half-width of c,
    the peak -b / 2c with its CI half-width (delta method) and the residual degrees of freedom."""
    s, acc = np.asarray(s, dtype=float), np.asarray(acc, dtype=float)
    levels = sorted(set(seed))
    dummies = [np.array([1.0 if k == l else 0.0 for k in seed]) for l in levels]
    X = np.stack(dummies + [s, s * s], 1)
    beta, *_ = np.linalg.lstsq(X, acc, rcond=None)
    resid = acc - X @ beta
    dof = len(s) - X.shape[1]
    sigma2 = float(resid @ resid) / dof
    cov = sigma2 * np.linalg.inv(X.T @ X)
    tq = stats.t.ppf(0.975, dof)
    ib, ic = len(levels), len(levels) + 1
    b, c = beta[ib], beta[ic]
    c_half = tq * math.sqrt(cov[ic, ic])
    peak = -b / (2 * c) if c != 0 else float("nan")
    g = np.zeros(X.shape[1])
    g[ib], g[ic] = -1 / (2 * c), b / (2 * c ** 2)
    peak_half = tq * math.sqrt(float(g @ cov @ g))
    a = float(np.mean([beta[k] for k in range(len(levels))]))
    return np.array([a, b, c]), c_half, peak, peak_half, dof


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--out")
    ap.add_argument("--plot")
    args = ap.parse_args()
    rows = load(args.csv)
    configs = [c for c in CONFIG_ORDER if c in rows] + sorted(c for c in rows if c not in CONFIG_ORDER)
    out = []
    seeds = sorted({s for c in rows.values() for s in c})
    out.append("## Per config (mean ± 95%% CI over %d seeds: %s)\n" % (len(seeds), ", ".join(map(str, seeds))))
    out.append("| config | seeds | linear acc | k-NN acc | S (independent encoder) | S (baseline SSL backbone) | train s |")
    out.append("|---|---|---|---|---|---|---|")
    summary = {}
    for c in configs:
        r = rows[c].values()
        lin = mean_ci([x["linear_acc"] for x in r])
        knn = mean_ci([x["knn_acc"] for x in r])
        s = mean_ci([x["s"] for x in r])
        s_ssl = mean_ci([x["s_ssl"] for x in r])
        secs = mean_ci([x["train_seconds"] for x in r])
        summary[c] = {"linear": lin, "knn": knn, "s": s, "s_ssl": s_ssl}
        out.append("| %s | %d | %s | %s | %s | %s | %s |" % (c, lin[2], fmt(*lin[:2]), fmt(*knn[:2]), fmt(*s[:2]),
                                                           fmt(*s_ssl[:2]), fmt(*secs[:2], digits=0)))

    out.append("\n## Paired differences against baseline (same seed; mean ± 95% CI)\n")
    out.append("| config | linear acc - baseline | k-NN acc - baseline |")
    out.append("|---|---|---|")
    for c in configs:
        if c == "baseline" or "baseline" not in rows:
            continue
        common = sorted(set(rows[c]) & set(rows["baseline"]))
        dl = mean_ci([rows[c][k]["linear_acc"] - rows["baseline"][k]["linear_acc"] for k in common])
        dk = mean_ci([rows[c][k]["knn_acc"] - rows["baseline"][k]["knn_acc"] for k in common])
        out.append("| %s | %s | %s |" % (c, fmt(*dl[:2]), fmt(*dk[:2])))

    # S from two encoders: the independent classifier (the scorer) and the seed's
    # baseline SSL backbone (the paper scores with an SSL-pretrained ResNet-50). They need not
    # agree, so every S analysis is done for both.
    scorers = [("s", "independent encoder"), ("s_ssl", "baseline SSL backbone")]
    trained = [c for c in configs if c != "random_init" and math.isfinite(summary[c]["linear"][0])]
    scored = {key: [c for c in trained if math.isfinite(summary[c][key][0])] for key, _ in scorers}
    fits = {}
    for key, label in scorers:
        on = scored[key]
        out.append("\n## Accuracy against S (%s; pre-trained configs)\n" % label)
        if len(on) < 4:
            out.append("Not enough configs with this S yet.")
            continue
        rho, p = stats.spearmanr([summary[c][key][0] for c in on], [summary[c]["linear"][0] for c in on])
        out.append("Spearman rank correlation of mean linear accuracy and mean S over %d configs: "
                   "rho = %.3f (p = %.3g)." % (len(on), rho, p))
        pts = [(x[key], x["linear_acc"], k) for c in on for k, x in rows[c].items()
               if math.isfinite(x[key]) and math.isfinite(x["linear_acc"])]
        if len(pts) >= len({p[2] for p in pts}) + 3:
            s_all, a_all, seed_all = zip(*pts)
            beta, c_half, peak, peak_half, dof = quadratic_fit(s_all, a_all, seed_all)
            fits[key] = (beta, c_half, peak, min(s_all), max(s_all))
            out.append("Quadratic fit over %d (config, seed) points, one intercept per seed: "
                       "acc = a_seed + %.4f S + %.4f S^2 (mean a_seed %.4f); "
                       "quadratic term %.4f ± %.4f (95%%, %d dof)%s; peak at S = %.3f ± %.3f "
                       "(observed S: %.3f to %.3f)." % (
                           len(pts), beta[1], beta[2], beta[0], beta[2], c_half, dof,
                           " - a reverse U" if beta[2] + c_half < 0 else
                           (" - a U" if beta[2] - c_half > 0 else " - no curvature the data can tell"),
                           peak, peak_half, min(s_all), max(s_all)))

    # The best config, among those with the most finished seeds (a config with fewer seeds would
    # be compared on fewer, and a partial run would test the claim on the luckiest seeds).
    most = max((summary[c]["linear"][2] for c in trained), default=0)
    best_config = max((c for c in trained if summary[c]["linear"][2] == most),
                      key=lambda c: summary[c]["linear"][0]) if trained else None

    # The recipe must make pre-training matter: the best config's linear accuracy against random
    # init's, in standard errors of a difference of two accuracies on the same test set.
    if trained and "random_init" in rows:
        best = best_config
        per_seed = []
        for k in sorted(set(rows[best]) & set(rows["random_init"])):
            a, b = rows[best][k]["linear_acc"], rows["random_init"][k]["linear_acc"]
            n = rows[best][k]["test_images"]
            if math.isfinite(n) and n > 0:
                se = math.sqrt(a * (1 - a) / n + b * (1 - b) / n)
                per_seed.append("seed %d: %+.4f = %.1f SE (n = %d)" % (k, a - b, (a - b) / se, n))
        if per_seed:
            out.append("\n## Does pre-training matter?\n")
            out.append("Best config (%s) minus random init, linear probe, per seed in standard errors of the "
                       "difference on the test set: %s." % (best, "; ".join(per_seed)))

    out.append("\n## The paper's claims (its Tables 2 and B, section 4.3) against these data\n")
    out.append("Rule: supported when the 95% CI of the tested difference excludes 0 in the claimed direction, "
               "contradicted when it excludes 0 the other way, cannot tell otherwise.")

    def verdict(d, direction):
        m, h, n = d
        if not (math.isfinite(m) and math.isfinite(h)):
            return "cannot tell (too few seeds)"
        lo, hi = m - h, m + h
        if direction > 0:
            return "supported" if lo > 0 else ("contradicted" if hi < 0 else "cannot tell")
        return "supported" if hi < 0 else ("contradicted" if lo > 0 else "cannot tell")

    def paired(a, b):
        common = sorted(set(rows.get(a, {})) & set(rows.get(b, {})))
        return mean_ci([rows[a][k]["linear_acc"] - rows[b][k]["linear_acc"] for k in common])

    claims = [
        ("Pre-training helps: the best config (%s) beats random init (linear probe)" % best_config,
         paired(best_config, "random_init") if trained and "random_init" in rows else (float("nan"),) * 3, +1),
        ("Instance consistency is not required: zero_overlap is not worse than baseline (tested: zero_overlap - baseline > -0.01)",
         (lambda d: (d[0] + 0.01, d[1], d[2]))(paired("zero_overlap", "baseline")), +1),
        ("Views of different images (lower_bound) are worse than baseline", paired("lower_bound", "baseline"), -1),
        ("More diverse crops help: smaller_crop beats baseline", paired("smaller_crop", "baseline"), +1),
        ("Less diverse crops hurt: larger_crop is worse than baseline", paired("larger_crop", "baseline"), -1),
        ("Background-only views learn less than baseline", paired("only_background", "baseline"), -1),
        ("Instance-vs-background views still learn: better than random init", paired("instance_vs_background", "random_init"), +1),
    ]
    for text, d, direction in claims:
        out.append("- %s: **%s** (difference %s)" % (text, verdict(d, direction), fmt(*d[:2])))
    for key, label in scorers:
        if key not in fits:
            continue
        beta, c_half, peak, lo, hi = fits[key]
        if beta[2] + c_half < 0 and lo < peak < hi:
            v = "supported"
        elif beta[2] - c_half > 0 or (beta[2] + c_half < 0 and not lo < peak < hi):
            v = "contradicted"
        else:
            v = "cannot tell"
        out.append("- Accuracy peaks at moderate S (a reverse U, paper section 4.3), S from the %s: **%s** "
                   "(quadratic term %.2f ± %.2f; supported needs a negative term whose CI excludes 0 and a "
                   "peak inside the observed S; contradicted: a U, or a reverse U peaking outside it)" % (
                       label, v, beta[2], c_half))

    text = "\n".join(out) + "\n"
    if args.out:
        open(args.out, "w").write(text)
    sys.stdout.write(text)

    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
        for ax, (key, label) in zip(axes, scorers):
            for c in scored[key]:
                s_, lin = summary[c][key], summary[c]["linear"]
                ax.errorbar(s_[0], lin[0], xerr=s_[1] if math.isfinite(s_[1]) else None,
                            yerr=lin[1] if math.isfinite(lin[1]) else None, fmt="o", capsize=3,
                            color="C%d" % (configs.index(c) % 10))
                ax.annotate(c, (s_[0], lin[0]), textcoords="offset points", xytext=(4, 4), fontsize=7)
            if "random_init" in summary:
                ri = summary["random_init"]["linear"]
                ax.axhline(ri[0], color="grey", ls="--", lw=1)
                ax.text(ax.get_xlim()[0], ri[0], " random init", va="bottom", fontsize=7, color="grey")
            if key in fits:
                beta, _, _, lo, hi = fits[key]
                xs = np.linspace(lo, hi, 100)
                ax.plot(xs, beta[0] + beta[1] * xs + beta[2] * xs * xs, color="black", lw=1)
            ax.set_xlabel("EMD similarity S (%s)" % label)
        axes[0].set_ylabel("linear-probe accuracy (Fashion-MNIST test)")
        fig.suptitle("accuracy against view similarity, mean ± 95% CI over seeds (both directions)")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()
