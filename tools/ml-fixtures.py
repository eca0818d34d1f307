#!/usr/bin/env python3
"""Regenerate the scikit-learn reference fixtures for Ledgerflow's ML target.

Usage (from the repository root):  python3 tools/ml-fixtures.py
Writes fixtures/ml/{breast_cancer,diabetes,iris}.csv, reference.json and SOURCES.md.
Deterministic: the data ships with scikit-learn, and every random step has a fixed seed.
"""
import json
import math
import os
import platform
import re
import sys
import warnings

import numpy as np
import scipy
import sklearn
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import (accuracy_score, log_loss, mean_squared_error,
                             r2_score, roc_auc_score)
from sklearn.preprocessing import StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "ml")


def snake(name):
    return re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()


def fnum(v):
    return repr(float(v))


def write_csv(path, header, rows):
    with open(path, "w", newline="\n") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(r) + "\n")


def floats(a):
    return [float(v) for v in np.ravel(a)]


def fit_logistic(xtr, ytr, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        m = LogisticRegression(C=1.0, **kw).fit(xtr, ytr)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return m, converged


def logistic_result(m, converged, xtr, ytr, xte, yte):
    p = m.predict_proba(xte)[:, 1]
    return {
        "converged": converged,
        "n_iter": int(np.ravel(m.n_iter_)[0]),
        "test_accuracy": float(accuracy_score(yte, m.predict(xte))),
        "test_log_loss": float(log_loss(yte, p)),
        "test_roc_auc": float(roc_auc_score(yte, p)),
        "train_accuracy": float(accuracy_score(ytr, m.predict(xtr))),
        "coef": floats(m.coef_),
        "intercept": float(np.ravel(m.intercept_)[0]),
    }


def main():
    os.makedirs(OUT, exist_ok=True)

    # --- data -------------------------------------------------------------
    bc = load_breast_cancer()
    bc_names = [snake(n) for n in bc.feature_names]
    write_csv(os.path.join(OUT, "breast_cancer.csv"), bc_names + ["target"],
              [[fnum(v) for v in x] + [str(int(t))] for x, t in zip(bc.data, bc.target)])

    db = load_diabetes()
    db_names = list(db.feature_names)  # age, sex, bmi, bp, s1..s6
    write_csv(os.path.join(OUT, "diabetes.csv"), db_names + ["target"],
              [[fnum(v) for v in x] + [fnum(t)] for x, t in zip(db.data, db.target)])

    ir = load_iris()
    ir_names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    write_csv(os.path.join(OUT, "iris.csv"), ir_names + ["species"],
              [[fnum(v) for v in x] + [str(ir.target_names[t])] for x, t in zip(ir.data, ir.target)])

    # --- logistic regression: breast cancer, train 0..399, test 400..568 ----
    X, y = bc.data, bc.target.astype(float)
    scaler = StandardScaler().fit(X[:400])
    xtr, xte = scaler.transform(X[:400]), scaler.transform(X[400:])
    ytr, yte = y[:400], y[400:]
    m, conv = fit_logistic(xtr, ytr)
    logistic = logistic_result(m, conv, xtr, ytr, xte, yte)
    m2, conv2 = fit_logistic(xtr, ytr, tol=1e-12, max_iter=10000)
    logistic["exact"] = logistic_result(m2, conv2, xtr, ytr, xte, yte)
    logistic["split"] = {"train": [0, 400], "test": [400, 569]}
    logistic["scaler_mean"] = floats(scaler.mean_)
    logistic["scaler_scale"] = floats(scaler.scale_)

    # --- linear / ridge regression: diabetes, train 0..349, test 350..441 ---
    Xd, yd = db.data, db.target.astype(float)
    dtr, dte, ydtr, ydte = Xd[:350], Xd[350:], yd[:350], yd[350:]
    lr = LinearRegression().fit(dtr, ydtr)
    pl = lr.predict(dte)
    rg = Ridge(alpha=1.0).fit(dtr, ydtr)
    pr = rg.predict(dte)
    linear = {
        "split": {"train": [0, 350], "test": [350, 442]},
        "r2": float(r2_score(ydte, pl)),
        "rmse": float(math.sqrt(mean_squared_error(ydte, pl))),
        "coef": floats(lr.coef_),
        "intercept": float(lr.intercept_),
        "ridge_alpha_1": {
            "r2": float(r2_score(ydte, pr)),
            "rmse": float(math.sqrt(mean_squared_error(ydte, pr))),
            "coef": floats(rg.coef_),
            "intercept": float(rg.intercept_),
        },
    }

    # --- k-means: standardised iris, k = 3 ----------------------------------
    xi = StandardScaler().fit_transform(ir.data)
    km = KMeans(n_clusters=3, n_init=10, random_state=0).fit(xi)
    per_seed = [float(KMeans(n_clusters=3, n_init=10, random_state=s).fit(xi).inertia_) for s in range(20)]
    kmeans = {
        "k": 3,
        "n_init": 10,
        "inertia": float(km.inertia_),
        "n_iter": int(km.n_iter_),
        "centroids": [floats(c) for c in km.cluster_centers_],
        "min_inertia_random_state_0_19": min(per_seed),
    }

    # --- metric spot checks -------------------------------------------------
    acc_t = [0, 1, 1, 0, 1, 1, 0, 0, 1, 1]
    acc_p = [0, 1, 0, 0, 1, 1, 1, 0, 1, 0]
    ll_t = [0, 1, 1, 0, 1, 0, 1, 1]
    ll_p = [0.1, 0.9, 0.8, 0.35, 0.6, 0.0, 1.0, 0.2]
    auc_t = [0, 0, 1, 1, 0, 1, 1, 0, 1, 0]
    auc_s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.9, 0.2, 0.35, 0.7]
    reg_t = [3.0, -0.5, 2.0, 7.0, 4.2, 1.1]
    reg_p = [2.5, 0.0, 2.0, 8.0, 3.9, 1.5]
    metrics = {
        "accuracy": {"y_true": acc_t, "y_pred": acc_p, "value": float(accuracy_score(acc_t, acc_p))},
        "log_loss": {"y_true": ll_t, "p": ll_p, "value": float(log_loss(ll_t, ll_p))},
        "roc_auc": {"y_true": auc_t, "scores": auc_s, "value": float(roc_auc_score(auc_t, auc_s))},
        "r2": {"y_true": reg_t, "y_pred": reg_p, "value": float(r2_score(reg_t, reg_p))},
        "rmse": {"y_true": reg_t, "y_pred": reg_p, "value": float(math.sqrt(mean_squared_error(reg_t, reg_p)))},
    }

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
    }
    ref = {"versions": versions, "logistic": logistic, "linear": linear, "kmeans": kmeans, "metrics": metrics}
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=2, sort_keys=True)
        f.write("\n")

    with open(os.path.join(OUT, "SOURCES.md"), "w") as f:
        f.write(f"""# ML reference fixtures

Generated by `python3 tools/ml-fixtures.py` (run from the repository root; needs numpy, scipy, scikit-learn).
Deterministic: rerunning with the same versions reproduces every file byte for byte.

## Data (all bundled with scikit-learn, no download)

| File | Loader | Original source |
|---|---|---|
| `breast_cancer.csv` | `sklearn.datasets.load_breast_cancer()` — 569 rows, 30 features (names snake_cased), `target` 0 = malignant, 1 = benign | UCI Breast Cancer Wisconsin (Diagnostic), W. H. Wolberg, W. N. Street, O. L. Mangasarian (1995) |
| `diabetes.csv` | `sklearn.datasets.load_diabetes()` (scaled, default) — 442 rows, `age,sex,bmi,bp,s1..s6`, `target` = disease progression after one year | Efron, Hastie, Johnstone, Tibshirani (2004), "Least Angle Regression", Annals of Statistics |
| `iris.csv` | `sklearn.datasets.load_iris()` — 150 rows, 4 features, `species` class name | R. A. Fisher (1936), "The use of multiple measurements in taxonomic problems" (UCI Iris) |

Numbers are written with Python `repr`, so they round-trip to the same doubles.

## Reference results (`reference.json`)

- `logistic`: StandardScaler fitted on breast-cancer rows 0–399, applied to 400–568; `LogisticRegression(C=1.0)` (lbfgs defaults)
  and, under `exact`, the same with `tol=1e-12, max_iter=10000`.
- `linear`: `LinearRegression()` and `Ridge(alpha=1.0)` on diabetes rows 0–349, tested on 350–441.
- `kmeans`: iris standardised on all rows; `KMeans(n_clusters=3, n_init=10, random_state=0)`, plus the minimum inertia over random_state 0–19.
- `metrics`: small hand-made inputs with sklearn's accuracy, log_loss, roc_auc_score (with ties), r2_score and sqrt(mean_squared_error).

## Versions used

- Python {versions['python']}
- numpy {versions['numpy']}
- scipy {versions['scipy']}
- scikit-learn {versions['scikit-learn']}
""")


if __name__ == "__main__":
    sys.exit(main())
