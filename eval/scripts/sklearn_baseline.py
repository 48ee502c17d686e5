#!/usr/bin/env python3
"""Cross-check of triage-eval's Rust TF-IDF + logistic-regression baselines with scikit-learn.

Same data, same time split, same features, same tuning protocol as `triage-eval run`:
  * train: created_at < --train-until (exclusive); test: created_at >= --test-from;
  * word 1-2 grams (token pattern (?u)\\b\\w\\w+\\b) + char_wb 2-5 grams, lower case,
    sublinear tf, smooth idf, min_df, each block un-normalised, then the concatenation
    l2-normalised; `tfidf_text_district` appends a one-hot district (value 1);
  * multinomial logistic regression, L2, lbfgs; C chosen by top-1 accuracy on the last
    10% of train by time (fit on the first 90%), then refit on all train.

Not run in CI. Usage (needs `pip install scikit-learn`):
  python3 eval/scripts/sklearn_baseline.py ../shared/data/spb-appeals-dev.csv \
      --train-until 2021-02-01 --test-from 2021-02-01
"""
import argparse
import csv
import sys
import time

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.preprocessing import OneHotEncoder, normalize

GRID = [1.0, 3.0, 10.0, 30.0, 100.0]


def features(min_df):
    word = TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, sublinear_tf=True, norm=None, dtype=np.float64)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=min_df, sublinear_tf=True, norm=None,
                           dtype=np.float64)
    return word, char


class Featurizer:
    def __init__(self, min_df, district):
        self.word, self.char = features(min_df)
        self.district = OneHotEncoder(handle_unknown="ignore") if district else None

    def fit_transform(self, texts, districts):
        x = normalize(sp.hstack([self.word.fit_transform(texts), self.char.fit_transform(texts)]).tocsr())
        if self.district is not None:
            x = sp.hstack([x, self.district.fit_transform(np.array(districts, dtype=object).reshape(-1, 1))]).tocsr()
        return x

    def transform(self, texts, districts):
        x = normalize(sp.hstack([self.word.transform(texts), self.char.transform(texts)]).tocsr())
        if self.district is not None:
            x = sp.hstack([x, self.district.transform(np.array(districts, dtype=object).reshape(-1, 1))]).tocsr()
        return x


def fit(rows, c, min_df, district):
    f = Featurizer(min_df, district)
    x = f.fit_transform([r["text"] for r in rows], [r["district"] for r in rows])
    m = LogisticRegression(C=c, max_iter=1000, tol=1e-4)
    m.fit(x, [r["department"] for r in rows])
    return f, m


def scores(f, m, rows):
    x = f.transform([r["text"] for r in rows], [r["district"] for r in rows])
    p = m.predict_proba(x)
    y = np.array([r["department"] for r in rows])
    order = np.argsort(-p, axis=1)
    top = m.classes_[order[:, :3]]
    top1 = float(np.mean(top[:, 0] == y))
    top3 = float(np.mean((top == y[:, None]).any(axis=1)))
    labels = sorted(set(y) | set(top[:, 0]))
    mf1 = float(f1_score(y, top[:, 0], labels=labels, average="macro", zero_division=0))
    return top1, top3, mf1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--train-until", default="2021-02-01")
    ap.add_argument("--test-from", default="2021-02-01")
    ap.add_argument("--min-df", type=int, default=2)
    ap.add_argument("--c", type=float, help="skip tuning, use this C")
    args = ap.parse_args()
    with open(args.data, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows.sort(key=lambda r: r["created_at"])  # ISO 8601 without offset: text order = time order
    train = [r for r in rows if r["created_at"] < args.train_until]
    test = [r for r in rows if r["created_at"] >= args.test_from]
    n_val = len(train) // 10
    sub, val = train[: len(train) - n_val], train[len(train) - n_val:]
    print(f"train {len(train)} (fit {len(sub)} + validation {len(val)}), test {len(test)}", file=sys.stderr)
    for name, district in (("tfidf_text", False), ("tfidf_text_district", True)):
        t0 = time.time()
        if args.c is None:
            best = None
            for c in GRID:
                f, m = fit(sub, c, args.min_df, district)
                v = scores(f, m, val)[0]
                print(f"  {name} C={c:g}: validation top1 {v:.4f} (n_iter {m.n_iter_[0]})", file=sys.stderr)
                if best is None or v > best[1]:
                    best = (c, v)
            c = best[0]
        else:
            c = args.c
        f, m = fit(train, c, args.min_df, district)
        top1, top3, mf1 = scores(f, m, test)
        print(f"{name}: C={c:g} top1={top1:.4f} top3={top3:.4f} macro_f1={mf1:.4f} "
              f"n_features={m.coef_.shape[1]} wall={time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
