"""Spotlight's ImplicitFactorizationModel (github.com/maciejkula/spotlight,
commit 75f4c8c) on the data bench/hybrid_data.ts wrote: the Python reference
for tacit's MinibatchFactorization (bench/minibatch.ts), same data, same
hyper-parameters. Install with bench/spotlight_setup.sh, then:

    PYTHONPATH=.tools/spotlight:.tools/torch-sk:.tools/torch OPENBLAS_NUM_THREADS=1 \\
      python3 bench/spotlight_minibatch.py --scale small --loss bpr --optimizer adam \\
      --epochs 10 --batch-size 1024 --lr 1e-2 --l2 1e-6 --dim 32 --negatives 5 \\
      --seed 1 --threads 1

The model: BilinearNet (embeddings + biases), minibatches of the shuffled train
pairs, one uniform negative per positive (`--negatives` are drawn only by
adaptive_hinge, as in Spotlight). `--optimizer adam` is Spotlight's default,
dense torch.optim.Adam(lr, weight_decay=l2): every row's moments and values
move every step. `sparse-adam` builds sparse embeddings and
torch.optim.SparseAdam(lr), Spotlight's only way to lazy updates; SparseAdam
has no weight decay, so l2 is not applied there (the output says so).

Each epoch is timed alone: the model is built with n_iter=1 and fit() is
called `epochs` times (it resumes from its state). torch._dynamo, which
torch.optim imports when the first optimizer is built (~2 s), is imported
beforehand; the mean still leaves out the first epoch when there are more
(the rest of the warm-up), as lightfm_hybrid.py does, and pairs per second
are train nnz over that mean. CPU seconds per epoch and CPU over wall time
while training tell a busy machine apart. The epoch loss is
Spotlight's own: fit(verbose=True) prints the mean of the minibatch losses,
and that print goes to a buffer that is parsed, nothing patched. Held-out MRR
and precision@10 are Spotlight's mrr_score and precision_recall_score (train
items excluded), over eval_users: their test and train rows are renumbered
0..n-1 and the model is seen through a view whose predict(u) is
model.predict(eval_users[u]), so the metrics loop over the evaluated users
only (with the full id range they would also walk every other, empty row:
~2.4 s per metric at the large scale). Prints one human line and one
`RESULT {json}` line.

Spotlight's behaviour that matters side by side (spotlight/ paths, 75f4c8c):
- losses.py: pointwise is mean(1 - sigmoid(pos) + sigmoid(neg)) and bpr is
  mean(1 - sigmoid(pos - neg)), not log-likelihoods; hinge is
  mean(max(0, 1 - pos + neg)).
- factorization/implicit.py:270-275, adaptive_hinge: the users are repeated
  n times each ([u0]*n + [u1]*n + ...), scored against n*batch uniform items,
  then view(n, batch) and max over dim 0, so column j (user j's positive)
  takes the max over predictions of users (i*batch + j) // n, i < n: other
  users' negatives (at batch 1024, n 5, only 8 of the 1024 columns have one
  of their own user's among their 5).
- Negatives are uniform over all items, positives not excluded.
- Dense Adam adds l2 * w to the gradient of every row (biases too) and moves
  every row every step, the moments of rows not in the batch still pushing
  them; at the large scale that step
  dominates (~40 ms per batch of 1024 on one thread, against ~8 with
  SparseAdam). SparseAdam's bias correction counts the steps of the whole
  tensor, not of each row.
- BilinearNet squeezes its embeddings: a last minibatch of one pair fails, so
  the run refuses train nnz % batch size == 1."""
import argparse, contextlib, io, json, re, time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import torch._dynamo  # noqa: F401 -- torch.optim imports it on the first optimizer (~2 s): not training
from spotlight.evaluation import mrr_score, precision_recall_score
from spotlight.factorization.implicit import ImplicitFactorizationModel
from spotlight.interactions import Interactions

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
    return meta, csr("train"), csr("test"), users


def interactions(m, num_users=None):
    """Spotlight Interactions of the stored entries of CSR `m` (user = row)."""
    users = np.repeat(np.arange(m.shape[0], dtype=np.int32), np.diff(m.indptr))
    return Interactions(users, m.indices.astype(np.int32),
                        num_users=num_users or m.shape[0], num_items=m.shape[1])


class EvalUsers:
    """The model as Spotlight's metrics see it when row u stands for user users[u]."""

    def __init__(self, model, users):
        self.model, self.users = model, users

    def predict(self, user_id, item_ids=None):
        return self.model.predict(int(self.users[user_id]), item_ids)


def peak_rss_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--scale", default="small")
    p.add_argument("--loss", default="bpr",
                   choices=["pointwise", "bpr", "hinge", "adaptive_hinge"])
    p.add_argument("--optimizer", default="adam", choices=["adam", "sparse-adam"])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--l2", type=float, default=1e-6)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--negatives", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)

    meta, train, test, eval_users = load(a.scale)
    if train.nnz % a.batch_size == 1:
        # BilinearNet squeezes its (1, dim) embeddings to (dim,) and then fails in sum(1).
        raise SystemExit(f"Expected a last minibatch of more than 1 pair but found "
                         f"{train.nnz} train pairs % --batch-size {a.batch_size} = 1: "
                         f"Spotlight's BilinearNet cannot score a batch of one")
    sparse = a.optimizer == "sparse-adam"
    optimizer_func = (lambda params: torch.optim.SparseAdam(list(params), lr=a.lr)) if sparse \
        else None
    model = ImplicitFactorizationModel(
        loss=a.loss, embedding_dim=a.dim, n_iter=1, batch_size=a.batch_size, l2=a.l2,
        learning_rate=a.lr, optimizer_func=optimizer_func, sparse=sparse,
        random_state=np.random.RandomState(a.seed), num_negative_samples=a.negatives)
    train_interactions = interactions(train)

    seconds, cpu_seconds, losses = [], [], []
    for _ in range(a.epochs):
        printed = io.StringIO()
        started, cpu_started = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(printed):
            model.fit(train_interactions, verbose=True)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
        losses.append(float(re.fullmatch(r"Epoch 0: loss (\S+)\n", printed.getvalue())[1]))

    started = time.perf_counter()
    view = EvalUsers(model, eval_users)
    held_out = interactions(test[eval_users], len(eval_users))
    known = interactions(train[eval_users], len(eval_users))
    mrr = mrr_score(view, held_out, known)
    precision, _ = precision_recall_score(view, held_out, known, k=10)
    eval_seconds = time.perf_counter() - started

    later = seconds[1:] or seconds  # the first epoch also pays torch's warm-up
    mean_seconds = float(np.mean(later))
    cpu_per_wall = sum(cpu_seconds) / sum(seconds)
    l2_note = "l2 not applied (SparseAdam has no weight decay)" if sparse else f"l2 {a.l2:g}"
    result = dict(lib="spotlight", scale=a.scale, loss=a.loss, optimizer=a.optimizer,
                  threads=a.threads, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr,
                  l2=0.0 if sparse else a.l2, l2_applied=not sparse, dim=a.dim,
                  negatives=a.negatives if a.loss == "adaptive_hinge" else 1, seed=a.seed,
                  train_nnz=int(train.nnz), seconds_per_epoch=seconds,
                  cpu_seconds_per_epoch=cpu_seconds, cpu_per_wall=cpu_per_wall,
                  mean_seconds_per_epoch=mean_seconds, mean_over=len(later),
                  samples_per_second=train.nnz / mean_seconds, loss_per_epoch=losses,
                  eval_users=int(len(mrr)), mrr=float(np.mean(mrr)),
                  precision_at_10=float(np.mean(precision)), eval_seconds=eval_seconds,
                  peak_rss_mib=peak_rss_mib(), torch=torch.__version__)
    negatives = f"{a.negatives} negatives, max taken" if a.loss == "adaptive_hinge" \
        else "1 negative per positive"
    print(f"spotlight {a.scale} {a.loss} {a.optimizer} ({l2_note}; {negatives}) seed {a.seed}, "
          f"{a.threads} thread(s): {mean_seconds:.3f} s/epoch "
          f"(mean over the last {len(later)}; epochs {', '.join(f'{s:.2f}' for s in seconds)}; "
          f"cpu/wall {cpu_per_wall:.2f}; {result['samples_per_second']:.0f} pairs/s), loss "
          f"{', '.join(f'{x:.4f}' for x in losses)}, MRR {result['mrr']:.4f}, "
          f"p@10 {result['precision_at_10']:.4f} over {result['eval_users']} users "
          f"(eval {eval_seconds:.1f} s), peak RSS {result['peak_rss_mib']:.0f} MiB",
          flush=True)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
