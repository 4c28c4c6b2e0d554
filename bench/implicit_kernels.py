"""Python `implicit` 0.7.3 on the matrix bench/dump_matrix.ts wrote, measuring
what bench/compare_kernels.ts measures for tacit, on the same thread count:
ALS seconds per iteration (CG, Cholesky), batched recommend users/s (n = 10,
liked items filtered), BPR and LMF seconds per epoch, BM25 item-item (K = 20)
fit seconds and recommend users/s. Each figure is printed for a reader and as a
`RESULT {json}` line for bench/compare_table.ts. Run through
bench/compare_implicit.sh.

    python3 bench/implicit_kernels.py FACTORS ITERATIONS THREADS KERNELS
    (KERNELS: a comma list of als, bpr, lmf, knn)"""
import json, sys, time

from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from implicit.cpu.lmf import LogisticMatrixFactorization
from implicit.nearest_neighbours import BM25Recommender

from implicit_common import load_plays, peak_rss_mib, recommend_throughput

factors, iterations, threads = (int(a) for a in sys.argv[1:4])
kernels = sys.argv[4].split(",")
plays = load_plays()
print(f"implicit: {plays.shape[0]} users x {plays.shape[1]} items, {plays.nnz} nonzeros, "
      f"factors {factors}, threads {threads}")


def result(kernel, value, unit):
    print("RESULT " + json.dumps({"library": "implicit", "kernel": kernel, "threads": threads,
                                  "value": value, "unit": unit}))


def per_iteration(model):
    """Seconds of each iteration of model.fit(plays), through its callback."""
    seconds, last = [], [time.perf_counter()]

    def record(*_):
        now = time.perf_counter()
        seconds.append(now - last[0])
        last[0] = now

    model.fit(plays, show_progress=False, callback=record)
    return seconds


if "als" in kernels:
    model = None
    for solver, use_cg in (("cg", True), ("cholesky", False)):
        model = AlternatingLeastSquares(factors=factors, iterations=iterations, use_cg=use_cg,
                                        regularization=0.05, random_state=1, num_threads=threads,
                                        calculate_training_loss=False)
        seconds = per_iteration(model)
        # The first iteration also pays for start-up work: the mean of the rest.
        steady = seconds[1:] or seconds
        mean = sum(steady) / len(steady)
        print(f"implicit als {solver:<8}: {mean:.2f} s/iteration ({', '.join(f'{s:.2f}' for s in seconds)})")
        result(f"als_{solver}", mean, "s/iteration")
    users, elapsed = recommend_throughput(model, plays)
    print(f"implicit recommend: {users / elapsed:.0f} users/s (n = 10)")
    result("recommend", users / elapsed, "users/s")

if "bpr" in kernels:
    seconds = per_iteration(BayesianPersonalizedRanking(factors=factors, iterations=iterations,
                                                        random_state=1, num_threads=threads))
    mean = sum(seconds) / len(seconds)
    print(f"implicit bpr: {mean:.2f} s/epoch ({', '.join(f'{s:.2f}' for s in seconds)})")
    result("bpr", mean, "s/epoch")

if "lmf" in kernels:
    seconds = per_iteration(LogisticMatrixFactorization(factors=factors, iterations=1,
                                                        random_state=1, num_threads=threads))
    print(f"implicit lmf: {seconds[0]:.2f} s/epoch")
    result("lmf", seconds[0], "s/epoch")

if "knn" in kernels:
    model = BM25Recommender(K=20, num_threads=threads)
    started = time.perf_counter()
    model.fit(plays, show_progress=False)
    fit_seconds = time.perf_counter() - started
    print(f"implicit bm25 k=20: fit {fit_seconds:.2f} s")
    result("bm25_fit", fit_seconds, "s")
    users, elapsed = recommend_throughput(model, plays)
    print(f"implicit bm25 recommend: {users / elapsed:.0f} users/s (n = 10)")
    result("bm25_recommend", users / elapsed, "users/s")

print(f"implicit peak RSS: {peak_rss_mib():.0f} MiB")
result("peak_rss", peak_rss_mib(), "MiB")
