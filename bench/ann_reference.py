"""The reference side of the ANN comparison (bench/compare_ann.sh): hnswlib, faiss and
annoy on the factors bench/ann_data.ts wrote, measured as bench/ann.ts measures tacit.

  OPENBLAS_NUM_THREADS=1 PYTHONPATH=.tools/ann-py python3 bench/ann_reference.py \\
      [--datasets powerlaw,planted] [--threads 1,2] [--libs hnswlib,faiss,annoy]

For each dataset and thread count: build seconds and saved-file bytes of every index, then
per sweep point recall@10 (share of the exact top-10 ids found) and QPS over all queries,
under three filters (none, the query's liked items, a fixed 90% of items excluded).
How each library filters, which is what each offers:
  hnswlib  none: one batched knn_query. liked: `filter=` callable per query (the filter is
           per call, so one call per query; with 2 threads two Python threads split the
           queries, and the callable takes the GIL per candidate), and over-fetch.
           excluded: one batched call with a `filter=` callable over a boolean array.
  faiss    IVF-Flat, inner product. liked: over-fetch (implicit's way). excluded:
           SearchParametersIVF with an IDSelectorBitmap of the allowed items.
  annoy    "dot", a per-query loop (it releases the GIL; 2 threads split the queries).
           liked: over-fetch. excluded: not measured (over-fetch would need 90% of items).
Over-fetch asks for 10 + |liked| (rounded up to a power of two, so queries go in batches
of equal count) and drops the liked ids; annoy's search_k grows in the same proportion.
A series (index, filter, method) stops at recall 0.999 or after a point slower than
--max-seconds (60). With 2 threads hnswlib's filter callables contend for the GIL: what
is measured is what the Python API gives.
Writes bench/out/ann/<dataset>/reference.jsonl and prints a table.
"""
import argparse, json, math, os, resource, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "out" / "ann"
K = 10
TARGETS = (0.90, 0.95, 0.99)
EFS = (10, 20, 40, 80, 160, 320, 640, 1280, 2560)
NPROBES = (1, 2, 4, 8, 16, 32, 64, 128)
SEARCH_KS = (500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000)
STOP_RECALL = 0.999
HNSW = {"M": 16, "ef_construction": 200, "random_seed": 1}
ANNOY_TREES = 50


class Data:
    """The files bench/ann_data.ts wrote for one dataset."""

    def __init__(self, name):
        d = OUT / name
        self.name = name
        self.meta = json.loads((d / "meta.json").read_text())
        self.items = np.ascontiguousarray(np.load(d / "item_factors.npy"), dtype=np.float32)
        users = np.load(d / "user_factors.npy")
        self.query_ids = np.load(d / "queries.npy")
        self.queries = np.ascontiguousarray(users[self.query_ids], dtype=np.float32)
        indptr, indices = np.load(d / "liked_indptr.npy"), np.load(d / "liked_indices.npy")
        self.liked = [indices[indptr[k]:indptr[k + 1]] for k in range(len(self.query_ids))]
        self.allowed = np.load(d / "excluded_mask.npy") == 0
        self.truth = {f: np.load(d / f"truth_{f}_ids.npy") for f in ("none", "liked", "excluded")}


def recall(ids, truth):
    """Mean over queries of the share of the true ids (those >= 0) found in `ids`."""
    valid = truth >= 0
    found = (truth[:, :, None] == ids[:, None, :]).any(2) & valid
    return float(np.mean(found.sum(1) / np.maximum(valid.sum(1), 1)))


class Measure:
    """Runs and records one sweep point: recall and QPS of `search()` over every query. A
    series (index, filter, method) stops at recall >= STOP_RECALL, or after a point slower
    than `max_seconds` (the sweeps go from cheap to costly, so later points would be slower)."""

    def __init__(self, data, emit, max_seconds):
        self.data, self.emit, self.max_seconds, self.stopped = data, emit, max_seconds, set()

    def __call__(self, filter, method, search, **point):
        key = (point["index"], filter, method)
        if key in self.stopped:
            return
        started = time.perf_counter()
        ids = search()
        seconds = time.perf_counter() - started
        found = recall(ids, self.data.truth[filter])
        self.emit(kind="query", filter=filter, method=method, recall=found,
                  qps=len(ids) / seconds, seconds=seconds, **point)
        if found >= STOP_RECALL or seconds > self.max_seconds:
            self.stopped.add(key)


def split(count, threads, each):
    """Runs `each(lo, hi)` on `threads` Python threads over contiguous query ranges."""
    bounds = [count * t // threads for t in range(threads + 1)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda t: each(bounds[t], bounds[t + 1]), range(threads)))


def over_fetch(data, fetch):
    """Post-filtered top K: `fetch(rows, count)` returns ids [len(rows), count] for query
    rows `rows`; queries are grouped by count = K + |liked| rounded up to a power of two."""
    out = np.full((len(data.queries), K), -1, dtype=np.int64)
    counts = np.array([K + (1 << math.ceil(math.log2(len(l)))) if len(l) else K
                       for l in data.liked])
    for count in np.unique(counts):
        rows = np.flatnonzero(counts == count)
        got = fetch(rows, min(int(count), len(data.items)))
        for r, row in zip(rows, got):
            keep = row[(row >= 0) & ~np.isin(row, data.liked[r])][:K]
            out[r, :len(keep)] = keep
    return out


def file_bytes(save):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index")
        save(path)
        return os.path.getsize(path)


def augmented(data):
    """Items with sqrt(max_norm² − ‖x‖²) appended and queries with 0: cosine on these ranks
    by inner product (every item has norm max_norm), as implicit does for nmslib."""
    norms = (data.items.astype(np.float64) ** 2).sum(1)
    extra = np.sqrt(np.maximum(norms.max() - norms, 0)).astype(np.float32)[:, None]
    zeros = np.zeros((len(data.queries), 1), dtype=np.float32)
    return np.hstack([data.items, extra]), np.hstack([data.queries, zeros])


def hnsw_query(index, x, count, threads, filter=None):
    """knn_query's ids [len(x), count], −1 where hnswlib found fewer (it raises then, so the
    rows are asked again one by one, halving the count until it succeeds)."""
    try:
        return index.knn_query(x, count, num_threads=threads, filter=filter)[0]
    except RuntimeError:
        out = np.full((len(x), count), -1, dtype=np.int64)
        for r in range(len(x)):
            for c in (count >> h for h in range(count.bit_length())):
                try:
                    out[r, :c] = index.knn_query(x[r:r + 1], c, num_threads=1, filter=filter)[0][0]
                    break
                except RuntimeError:
                    pass
        return out


def hnsw_liked_filtered(index, data, queries, threads):
    """One knn_query per query with a `filter=` leaving out its liked items, the queries
    split over `threads` Python threads."""
    out = np.full((len(queries), K), -1, dtype=np.int64)

    def each(lo, hi):
        for r in range(lo, hi):
            liked = set(data.liked[r].tolist())
            out[r] = hnsw_query(index, queries[r:r + 1], K, 1, lambda i: i not in liked)[0]
    split(len(queries), threads, each)
    return out


def run_hnswlib(data, threads, emit, measure):
    import hnswlib
    for index_name, space in (("hnsw-ip", "ip"), ("hnsw-cosine-augmented", "cosine")):
        items, queries = (data.items, data.queries) if space == "ip" else augmented(data)
        started = time.perf_counter()
        index = hnswlib.Index(space=space, dim=items.shape[1])
        index.init_index(max_elements=len(items), **HNSW)
        index.add_items(items, np.arange(len(items)), num_threads=threads)
        build_s = time.perf_counter() - started
        emit(kind="build", index=index_name, build_s=build_s, bytes=file_bytes(index.save_index),
             params={**HNSW, "space": space})
        allowed = data.allowed.tolist()  # a list indexes faster than an array in the callable
        for ef in EFS:
            index.set_ef(ef)
            point = dict(index=index_name, param="ef", value=ef)
            fetch = lambda rows, count: hnsw_query(index, queries[rows], count, threads)
            measure("none", "batch", lambda: hnsw_query(index, queries, K, threads), **point)
            measure("liked", "filter-callable",
                    lambda: hnsw_liked_filtered(index, data, queries, threads), **point)
            measure("liked", "over-fetch", lambda: over_fetch(data, fetch), **point)
            measure("excluded", "filter-callable",
                    lambda: hnsw_query(index, queries, K, threads, lambda i: allowed[i]), **point)


def run_faiss(data, threads, emit, measure):
    import faiss
    faiss.omp_set_num_threads(threads)
    items, queries = data.items, data.queries
    nlist = max(1, round(math.sqrt(len(items))))
    started = time.perf_counter()
    quantizer = faiss.IndexFlatIP(items.shape[1])
    index = faiss.IndexIVFFlat(quantizer, items.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = 1
    index.train(items)
    index.add(items)
    build_s = time.perf_counter() - started
    emit(kind="build", index="ivf-flat", build_s=build_s,
         bytes=file_bytes(lambda p: faiss.write_index(index, p)), params={"nlist": nlist})
    bitmap = np.packbits(data.allowed.astype(np.uint8), bitorder="little")
    selector = faiss.IDSelectorBitmap(len(items), faiss.swig_ptr(bitmap))
    for nprobe in (p for p in NPROBES if p <= nlist):
        index.nprobe = nprobe
        point = dict(index="ivf-flat", param="nprobe", value=nprobe)
        measure("none", "batch", lambda: index.search(queries, K)[1], **point)
        fetch = lambda rows, count: index.search(queries[rows], count)[1]
        measure("liked", "over-fetch", lambda: over_fetch(data, fetch), **point)
        params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        measure("excluded", "id-selector", lambda: index.search(queries, K, params=params)[1],
                **point)


def run_annoy(data, threads, emit, measure):
    from annoy import AnnoyIndex
    items, queries = data.items, data.queries
    started = time.perf_counter()
    index = AnnoyIndex(items.shape[1], "dot")
    index.set_seed(1)
    for i, row in enumerate(items):
        index.add_item(i, row)
    index.build(ANNOY_TREES, n_jobs=threads)
    build_s = time.perf_counter() - started
    emit(kind="build", index="annoy-dot", build_s=build_s, bytes=file_bytes(index.save),
         params={"n_trees": ANNOY_TREES})
    rows = [q.tolist() for q in queries]

    def loop(sub, count, search_k):
        """ids [len(sub), count] of query rows `sub`, search_k scaled by count / K."""
        out = np.full((len(sub), count), -1, dtype=np.int64)
        def each(lo, hi):
            for k in range(lo, hi):
                got = index.get_nns_by_vector(rows[sub[k]], count, search_k * count // K)
                out[k, :len(got)] = got
        split(len(sub), threads, each)
        return out

    every = np.arange(len(rows))
    for search_k in SEARCH_KS:
        point = dict(index="annoy-dot", param="search_k", value=search_k)
        fetch = lambda sub, count: loop(sub, count, search_k)
        measure("none", "per-query", lambda: loop(every, K, search_k), **point)
        measure("liked", "over-fetch", lambda: over_fetch(data, fetch), **point)


LIBS = {"hnswlib": run_hnswlib, "faiss": run_faiss, "annoy": run_annoy}


def qps_at(points, target):
    reached = [p["qps"] for p in points if p["recall"] >= target]
    return max(reached) if reached else None


def print_table(records):
    """One line per (dataset, index, threads, filter, method): QPS at each recall target."""
    builds = {(r["dataset"], r["index"], r["threads"]): r for r in records if r["kind"] == "build"}
    series = {}
    for r in records:
        if r["kind"] == "query":
            key = (r["dataset"], r["index"], r["threads"], r["filter"], r["method"])
            series.setdefault(key, []).append(r)
    print(f"{'dataset':9} {'index':22} {'thr':>3} {'build s':>8} {'MiB':>7} {'filter':8} "
          f"{'method':15} " + " ".join(f"{'QPS@' + format(t, '.2f'):>9}" for t in TARGETS) +
          f" {'best rec':>8}")
    for key, points in series.items():
        build = builds.get(key[:3], {})
        cells = [qps_at(points, t) for t in TARGETS]
        print(f"{key[0]:9} {key[1]:22} {key[2]:>3} {build.get('build_s', 0):8.2f} "
              f"{build.get('bytes', 0) / 2**20:7.1f} {key[3]:8} {key[4]:15} " +
              " ".join(f"{c:9.0f}" if c is not None else f"{'—':>9}" for c in cells) +
              f" {max(p['recall'] for p in points):8.4f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="powerlaw,planted")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--libs", default=",".join(LIBS))
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="a series stops after a sweep point slower than this")
    args = parser.parse_args()
    records = []
    for name in args.datasets.split(","):
        data = Data(name)
        path = OUT / name / "reference.jsonl"
        with path.open("w") as out:
            for threads in (int(t) for t in args.threads.split(",")):
                for lib in args.libs.split(","):
                    def emit(**record):
                        record = {"lib": lib, "dataset": name, "threads": threads,
                                  "queries": len(data.queries), **record}
                        records.append(record)
                        out.write(json.dumps(record) + "\n")
                        out.flush()
                    try:
                        LIBS[lib](data, threads, emit, Measure(data, emit, args.max_seconds))
                    except ImportError as error:
                        emit(kind="skipped", reason=f"{lib} does not import: {error}")
                        print(f"ann_reference: {lib} skipped: {error}")
        print(f"ann_reference {name}: wrote {path}")
    print_table(records)
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
