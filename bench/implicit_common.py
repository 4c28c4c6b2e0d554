"""What the Python comparison scripts share: the matrices bench/common.ts
writeCsr wrote, batched recommend throughput measured as bench/als.ts measures it, and
peak RSS."""
import json, resource, time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

OUT = Path(__file__).parent / "out"


def load_csr(stem):
    """The matrix bench/common.ts writeCsr wrote as bench/out/<stem>.*, as scipy CSR."""
    shape = json.loads((OUT / f"{stem}.json").read_text())["shape"]
    indptr = np.fromfile(OUT / f"{stem}.indptr.i32", dtype=np.int32)
    indices = np.fromfile(OUT / f"{stem}.indices.i32", dtype=np.int32)
    data = np.fromfile(OUT / f"{stem}.data.f32", dtype=np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=tuple(shape))


def load_plays():
    """The users x items matrix bench/dump_matrix.ts wrote, as scipy CSR."""
    return load_csr("matrix")


def recommend_throughput(model, plays, users_max=20000):
    """(users, seconds) for one batched recommend of n = 10, liked items filtered,
    over the same spread of users bench/als.ts takes."""
    users = (np.arange(min(users_max, plays.shape[0])) * 7919) % plays.shape[0]
    started = time.perf_counter()
    model.recommend(users, plays[users], N=10)
    return len(users), time.perf_counter() - started


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
