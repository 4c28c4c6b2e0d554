"""Python `implicit` BPR, LMF and BM25 item-item on the matrix bench/dump_matrix.ts
wrote, printing the figures bench/bpr_lmf.ts and bench/knn.ts print for tacit.
Run through bench/compare_implicit.sh."""
import sys, time

from implicit.cpu.bpr import BayesianPersonalizedRanking
from implicit.cpu.lmf import LogisticMatrixFactorization
from implicit.nearest_neighbours import BM25Recommender

from implicit_common import load_plays, peak_rss_mib, recommend_throughput

plays = load_plays()
factors = int(sys.argv[1]) if len(sys.argv) > 1 else 64
print(f"implicit: {plays.shape[0]} users x {plays.shape[1]} items, {plays.nnz} nonzeros, factors {factors}")

def timed_fit(model, iterations):
    started = time.perf_counter()
    model.fit(plays, show_progress=False)
    return (time.perf_counter() - started) / iterations

s = timed_fit(BayesianPersonalizedRanking(factors=factors, iterations=3, random_state=1), 3)
print(f"implicit bpr: {s:.2f} s/epoch, {plays.nnz / s / 1e6:.1f} M samples/s")
s = timed_fit(LogisticMatrixFactorization(factors=factors, iterations=1, random_state=1), 1)
print(f"implicit lmf: {s:.2f} s/epoch (negatives capped at factors + 2 per row)")

model = BM25Recommender(K=20)
started = time.perf_counter()
model.fit(plays, show_progress=False)
print(f"implicit bm25 k=20: fit {time.perf_counter() - started:.1f} s")
users, elapsed = recommend_throughput(model, plays)
print(f"implicit bm25 recommend: {users / elapsed:.0f} users/s (n = 10)")
print(f"implicit peak RSS: {peak_rss_mib():.0f} MiB")
