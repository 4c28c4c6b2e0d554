"""Python LightFM 1.17 on the data bench/hybrid_data.ts wrote: the same run as
bench/hybrid.ts does for tacit's HybridFactorization. Run through
bench/compare_lightfm.sh, or alone (with PYTHONPATH=.tools/bench-py):

    python3 bench/lightfm_hybrid.py --scale small --loss warp --epochs 10 --seed 1 --threads 2

Trains epoch by epoch with fit_partial (the first call initialises), then ranks
the evaluated users' held-out items once with predict_rank (train items
excluded) and computes precision@k and AUC from those ranks with LightFM's
definitions, as bench/hybrid.ts does from tacit's predictRank. Prints one
human line and one `RESULT {json}` line."""
import argparse, json, time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM

OUT = Path(__file__).parent / "out"


def load(scale):
    d = OUT / f"hybrid-{scale}"
    meta = json.loads((d / "meta.json").read_text())

    def csr(name):
        parts = [np.fromfile(d / f"{name}.{part}", dtype=t)
                 for part, t in (("data.f32", np.float32), ("indices.i32", np.int32),
                                 ("indptr.i32", np.int32))]
        return sp.csr_matrix(tuple(parts), shape=tuple(meta["shapes"][name]))

    users = np.fromfile(d / "eval_users.i32", dtype=np.int32)
    return meta, csr("train"), csr("test"), csr("item_features"), users


def keep_rows(m, rows):
    """m with the rows not in `rows` emptied (ids keep their meaning)."""
    mask = np.zeros(m.shape[0], dtype=np.float32)
    mask[rows] = 1
    out = (sp.diags(mask) @ m).tocsr()
    out.eliminate_zeros()
    out.sort_indices()
    return out


def lightfm_metrics(ranks, train, k):
    """Per user with held-out items: precision@k (hits in the top k over k, as
    lightfm.evaluation.precision_at_k) and AUC (as calculate_auc_from_rank: the
    i-th best positive's rank minus i, floored at 0, over the negatives
    n_items - positives - train positives, averaged as 1 - that)."""
    ranks = ranks.tocsr()
    counts = np.diff(ranks.indptr)
    users = np.flatnonzero(counts > 0)
    row = np.repeat(np.arange(ranks.shape[0]), counts)
    order = np.lexsort((ranks.data, row))
    position = np.arange(ranks.nnz) - ranks.indptr[row]
    adjusted = np.maximum(ranks.data[order].astype(np.float64) - position, 0)
    negatives = ranks.shape[1] - counts - np.diff(train.indptr)
    auc = np.bincount(row, 1.0 - adjusted / negatives[row], minlength=ranks.shape[0])
    hits = np.bincount(row, ranks.data < k, minlength=ranks.shape[0])
    return hits[users] / k, auc[users] / counts[users]


def peak_rss_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--scale", default="small")
    p.add_argument("--loss", default="warp")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--k", type=int, default=10)
    a = p.parse_args()

    meta, train, test, features, eval_users = load(a.scale)
    interactions = train.tocoo()
    model = LightFM(no_components=32, loss=a.loss, learning_schedule="adagrad",
                    learning_rate=0.05, max_sampled=10, item_alpha=0.0, user_alpha=0.0,
                    random_state=a.seed)
    seconds = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(a.epochs):
        started = time.perf_counter()
        model.fit_partial(interactions, item_features=features, epochs=1, num_threads=a.threads)
        seconds.append(time.perf_counter() - started)
    cpu_per_wall = (time.process_time() - cpu0) / (time.perf_counter() - wall0)

    started = time.perf_counter()
    held_out = keep_rows(test, eval_users)
    ranks = model.predict_rank(held_out, train_interactions=train, item_features=features,
                               num_threads=a.threads)
    precision, auc = lightfm_metrics(ranks, train, a.k)
    eval_seconds = time.perf_counter() - started

    later = seconds[1:] or seconds
    result = dict(lib="lightfm", scale=a.scale, loss=a.loss, seed=a.seed, threads=a.threads,
                  epochs=a.epochs, seconds=seconds, secondsPerEpoch=float(np.mean(later)),
                  meanOver=len(later), trainNnz=int(train.nnz), cpuPerWall=cpu_per_wall,
                  evalUsers=int(len(precision)), evalSeconds=eval_seconds,
                  precision=float(np.mean(precision)), auc=float(np.mean(auc)),
                  peakRssMiB=peak_rss_mib())
    print(f"lightfm {a.scale} {a.loss} seed {a.seed}: {result['secondsPerEpoch']:.3f} s/epoch "
          f"(epochs {', '.join(f'{s:.2f}' for s in seconds)}; cpu/wall {cpu_per_wall:.2f}), "
          f"p@{a.k} {result['precision']:.4f}, AUC {result['auc']:.4f} over "
          f"{result['evalUsers']} users (eval {eval_seconds:.1f} s), "
          f"peak RSS {result['peakRssMiB']:.0f} MiB", flush=True)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
