#!/usr/bin/env python3
"""A small-tenant proxy from a city's labelled appeals (docs/routing.md, "Small tenants").

Many authorities have a few thousand past appeals, dozens of departments, most
with a handful of cases, and no place fields. This cuts such a tenant out of a
big city's file: one district's appeals (a district administration is such an
authority), its `--big` busiest departments plus `--small` departments with a
handful of cases each, `--size` appeals in all, and the place columns removed
(district, municipality, coordinates; the category too unless
`--keep-category`). Deterministic for a seed.

    python3 scripts/small-tenant-proxy.py --data ../shared/data/kyiv-1551-dev.csv \
        --district Дарницький --out /tmp/small.csv
    triage-eval run --data /tmp/small.csv --folds 5 --out DIR --model-dir ...
"""
import argparse
import collections
import csv
import random
import sys

PLACE = {"district", "municipality", "lat", "lon"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--district", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=2000)
    ap.add_argument("--big", type=int, default=23)
    ap.add_argument("--small", type=int, default=52)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--keep-category", action="store_true")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    csv.field_size_limit(sys.maxsize)
    with open(a.data, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        rows = [r for r in reader if r.get("district") == a.district]
    by_dept = collections.defaultdict(list)
    for r in rows:
        by_dept[r["department"]].append(r)
    ranked = sorted(by_dept, key=lambda d: (-len(by_dept[d]), d))
    big = ranked[: a.big]
    rest = [d for d in ranked[a.big :] if len(by_dept[d]) >= 2]
    small = rnd.sample(rest, min(a.small, len(rest)))
    chosen = []
    for d in small:
        n = rnd.randint(1, min(9, len(by_dept[d])))
        chosen += rnd.sample(by_dept[d], n)
    left = a.size - len(chosen)
    pool = [r for d in big for r in by_dept[d]]
    # The busy departments keep their real shares, with at least 10 each.
    for d in big:
        chosen += rnd.sample(by_dept[d], min(10, len(by_dept[d])))
    taken = {id(r) for r in chosen}
    pool = [r for r in pool if id(r) not in taken]
    chosen += rnd.sample(pool, max(0, min(len(pool), a.size - len(chosen))))
    chosen.sort(key=lambda r: (r.get("created_at", ""), r.get("id", "")))
    drop = PLACE | (set() if a.keep_category else {"category", "reason"})
    out_fields = [c for c in fields if c not in drop]
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=out_fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(chosen)
    counts = collections.Counter(r["department"] for r in chosen)
    print(
        f"{len(chosen)} appeals, {len(counts)} departments, "
        f"{sum(1 for v in counts.values() if v < 10)} with < 10 appeals -> {a.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
