"""Python `implicit` ALS on the matrix bench/dump_matrix.ts wrote, printing the
same figures as bench/als.ts: seconds per iteration (CG and Cholesky), batched
recommend throughput (n = 10) and peak RSS. Run through bench/compare_implicit.sh."""
import sys, time

from implicit.cpu.als import AlternatingLeastSquares

from implicit_common import load_plays, peak_rss_mib, recommend_throughput

plays = load_plays()
factors = int(sys.argv[1]) if len(sys.argv) > 1 else 64
iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 3
print(f"implicit: {plays.shape[0]} users x {plays.shape[1]} items, {plays.nnz} nonzeros, factors {factors}")

model = None
for solver, use_cg in (("cg", True), ("cholesky", False)):
    seconds = []
    model = AlternatingLeastSquares(factors=factors, iterations=iterations, use_cg=use_cg,
                                    regularization=0.05, random_state=1, calculate_training_loss=False)
    last = [time.perf_counter()]

    def record(iteration, elapsed, loss):
        now = time.perf_counter()
        seconds.append(now - last[0])
        last[0] = now

    model.fit(plays, show_progress=False, callback=record)
    mean = sum(seconds) / len(seconds)
    print(f"implicit als {solver:<8}: {mean:.2f} s/iteration ({', '.join(f'{s:.2f}' for s in seconds)}), "
          f"{plays.nnz / mean / 1e6:.1f} M nonzeros/s")

users, elapsed = recommend_throughput(model, plays)
print(f"implicit recommend: {users} users in {elapsed:.2f} s = {users / elapsed:.0f} users/s (n = 10)")
print(f"implicit peak RSS: {peak_rss_mib():.0f} MiB")
