"""Python `implicit` LMF with its defaults on the splits bench/lmf_quality.ts wrote,
printing the figures it prints for tacit: held-out precision@10 and fit seconds.
Run through bench/lmf_quality.sh.

    python3 bench/implicit_lmf_quality.py [threads=2] [seed=1]
"""
import sys, time

from implicit.cpu.lmf import LogisticMatrixFactorization
from implicit.evaluation import precision_at_k

from implicit_common import load_csr

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
print(f"implicit: threads {threads}")
for name in ("listening", "powerlaw"):
    train = load_csr(f"lmf_{name}.train")
    test = load_csr(f"lmf_{name}.test")
    model = LogisticMatrixFactorization(num_threads=threads, random_state=seed)
    started = time.perf_counter()
    model.fit(train, show_progress=False)
    seconds = time.perf_counter() - started
    precision = precision_at_k(model, train, test, K=10, show_progress=False, num_threads=threads)
    print(f"{name} implicit 0.7.3 (min(factors + 2, neg_prop × |row|)): p@10 {precision:.4f}, fit {seconds:.2f} s")
