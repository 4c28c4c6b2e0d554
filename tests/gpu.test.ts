/**
 * The GPU backend. Without a usable GPU (CI, every machine without CUDA) the
 * first group runs: the loader's reason, "auto" falling back to the CPU,
 * "gpu" refused with a clear error. The parity group needs a device: it is
 * registered as skipped, with the reason printed, when there is none, and
 * then holds the GPU to the CPU path — ALS factors after one iteration from
 * the same start, recommend for every filter combination, BPR's held-out AUC.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  CsrMatrix,
  gpuAvailability,
  GpuFactors,
  gpuMemory,
  GpuUnavailableError,
  HybridFactorization,
  type RecommendOptions,
} from "../mod.ts";
import { listeningDataset } from "../lib/datasets/synthetic.ts";
import { NativeError, Status } from "../lib/native/library.ts";
import { heldOutAuc, holdOutOnePerUser } from "./holdout.ts";
import { bruteTopK, dot, randomMatrix, relativeError, seeded } from "./reference.ts";
import { test, testUnless } from "./harness.ts";

const quiet = { progress: false } as const;
const state = gpuAvailability();
const unavailable = state.available ? undefined : `GPU unavailable: ${state.reason}`;
const noGpu = unavailable === undefined ? "a GPU is present" : undefined;

testUnless(noGpu, "gpu fallback tests")(
  "gpuAvailability() says why no GPU is usable, in one line",
  () => {
    assert.equal(state.available, false);
    if (state.available) return;
    assert.ok(state.reason.length > 0 && !state.reason.includes("\n"), state.reason);
  },
);

testUnless(noGpu, "gpu fallback tests")(
  'device: "auto" trains on the CPU and gives the CPU\'s factors when no GPU is usable',
  async () => {
    const plays = randomMatrix(30, 20, 0.2, 3);
    const options = { factors: 4, iterations: 2, randomState: 5 };
    const cpu = await new AlternatingLeastSquares({ ...options, device: "cpu" }).fit(plays, quiet);
    const auto = await new AlternatingLeastSquares({ ...options, device: "auto" }).fit(
      plays,
      quiet,
    );
    assert.equal(auto.onGpu, false);
    assert.deepEqual(auto.userFactors.data, cpu.userFactors.data);
    assert.deepEqual(auto.itemFactors.data, cpu.itemFactors.data);
  },
);

testUnless(noGpu, "gpu fallback tests")(
  'device: "gpu" and toGpu() throw GpuUnavailableError naming the reason; the model is unchanged',
  async () => {
    const plays = randomMatrix(30, 20, 0.2, 4);
    const model = await new AlternatingLeastSquares({ factors: 3, iterations: 1, randomState: 1 })
      .fit(plays, quiet);
    const before = model.userFactors.data.slice();
    const gpu = new AlternatingLeastSquares({ factors: 3, iterations: 1, device: "gpu" });
    await assert.rejects(gpu.fit(plays, quiet), (error: unknown) => {
      assert.ok(error instanceof GpuUnavailableError);
      assert.match(
        error.message,
        /ALS fit\(\) with device: "gpu" needs a GPU, but the GPU is unavailable: \S/,
      );
      assert.equal(error.reason, (state as { reason: string }).reason);
      return true;
    });
    assert.throws(() => model.toGpu(), GpuUnavailableError);
    assert.equal(model.onGpu, false);
    assert.deepEqual(model.userFactors.data, before);
    await assert.rejects(
      new BayesianPersonalizedRanking({ factors: 2, iterations: 1, device: "gpu" }).fit(
        plays,
        quiet,
      ),
      GpuUnavailableError,
    );
  },
);

testUnless(noGpu, "gpu fallback tests")(
  "every GPU export refuses with status device and the reason when no GPU is usable",
  () => {
    const reason = (state as { reason: string }).reason;
    assert.throws(() => GpuFactors.upload(new Float32Array(4), 2, 2), (error: unknown) => {
      assert.ok(error instanceof NativeError);
      assert.equal(error.status, Status.device);
      assert.match(error.message, /^GPU unavailable: /);
      // Once the CUDA library loaded, its own reason; before, that it was not opened.
      assert.ok(
        error.message.includes(reason) || error.message.includes("was not opened"),
        error.message,
      );
      return true;
    });
    assert.throws(() => gpuMemory(), GpuUnavailableError);
  },
);

test('a model without GPU kernels refuses device: "gpu" and trains "auto" on the CPU', async () => {
  const plays = randomMatrix(20, 10, 0.3, 6);
  await assert.rejects(
    new HybridFactorization({ noComponents: 2, device: "gpu" }).fit(plays, {
      epochs: 1,
      progress: false,
    }),
    /Expected device to be "cpu" or "auto" for HybridFactorization fit\(\) \(it has no GPU kernels\) but found "gpu"/,
  );
  const auto = await new HybridFactorization({ noComponents: 2, device: "auto", randomState: 1 })
    .fit(plays, { epochs: 1, progress: false });
  assert.equal(auto.onGpu, false);
});

test("the device option is checked like every option", () => {
  assert.throws(
    () => new AlternatingLeastSquares({ device: "cuda" as "gpu" }),
    /device/,
  );
  assert.throws(
    () => new AlternatingLeastSquares({ gpuStorage: "int8" as "float16" }),
    /gpuStorage/,
  );
  assert.equal(new AlternatingLeastSquares().device, "cpu");
  assert.equal(new AlternatingLeastSquares({ device: "auto" }).parameters().device, "auto");
});

// ---------------------------------------------------------------------------
// Parity with the CPU: needs a device.

const gpuTest = testUnless(unavailable, "gpu parity tests");

for (const solver of ["cg", "cholesky"] as const) {
  gpuTest(
    `ALS ${solver} on the GPU: one iteration from the same start equals the CPU's within 1e-4 (factors 1, 3, 33, 64, 100, 1024)`,
    async () => {
      const plays = randomMatrix(300, 200, 0.05, 11);
      for (const factors of [1, 3, 33, 64, 100, 1024]) {
        if (solver === "cholesky" && factors === 1024) continue; // f³ per row: CG covers 1024
        const options = { factors, iterations: 1, solver, regularization: 0.1, randomState: 2 };
        const cpu = await new AlternatingLeastSquares(options).fit(plays, quiet);
        const gpu = await new AlternatingLeastSquares({ ...options, device: "gpu" }).fit(
          plays,
          quiet,
        );
        assert.equal(gpu.onGpu, true);
        const users = relativeError(gpu.userFactors.data, cpu.userFactors.data);
        const items = relativeError(gpu.itemFactors.data, cpu.itemFactors.data);
        assert.ok(
          users <= 1e-4 && items <= 1e-4,
          `factors ${factors}: users ${users}, items ${items}`,
        );
        const [cpuLoss, gpuLoss] = [await cpu.loss(plays), await gpu.loss(plays)];
        assert.ok(
          Math.abs(cpuLoss - gpuLoss) <= 1e-4 * Math.abs(cpuLoss),
          `loss ${gpuLoss} vs ${cpuLoss}`,
        );
        gpu.dispose();
      }
    },
  );
}

gpuTest(
  "ALS on the GPU gives a row of more than 4096 entries (a popular item) the CPU's solution",
  async () => {
    // 6000 users all play item 0 (a long row of the item × user matrix), a few others each.
    const rows: number[] = [];
    const cols: number[] = [];
    const values: number[] = [];
    for (let user = 0; user < 6000; user++) {
      for (const item of [0, 1 + (user % 40), 1 + ((user * 7) % 40)]) {
        rows.push(user);
        cols.push(item);
        values.push(1 + (user % 3));
      }
    }
    const plays = CsrMatrix.fromCoo({ rows, cols, values, shape: [6000, 41] });
    for (const solver of ["cg", "cholesky"] as const) {
      const options = { factors: 16, iterations: 1, solver, regularization: 0.1, randomState: 3 };
      const cpu = await new AlternatingLeastSquares(options).fit(plays, quiet);
      const gpu = await new AlternatingLeastSquares({ ...options, device: "gpu" }).fit(
        plays,
        quiet,
      );
      const error = relativeError(gpu.itemFactors.data, cpu.itemFactors.data);
      // 6000 terms per product summed in another order: float32 rounding, amplified by this
      // system's conditioning (the emulated run: 2e-4 with CG, 5e-4 with Cholesky; 1e-4 and 3e-4
      // at 3000 entries, below the 32-warp path's threshold).
      assert.ok(error <= 1e-3, `${solver}: ${error}`);
      gpu.dispose();
    }
  },
);

gpuTest("ALS fp16 and bf16 storage on the GPU stay close to float32", async () => {
  const plays = randomMatrix(300, 200, 0.05, 12);
  const options = { factors: 32, iterations: 3, regularization: 0.1, randomState: 2 };
  const cpu = await new AlternatingLeastSquares(options).fit(plays, quiet);
  for (const gpuStorage of ["float16", "bfloat16"] as const) {
    const gpu = await new AlternatingLeastSquares({ ...options, device: "gpu", gpuStorage }).fit(
      plays,
      quiet,
    );
    const error = relativeError(gpu.itemFactors.data, cpu.itemFactors.data);
    assert.ok(error < 0.05, `${gpuStorage}: ${error}`);
    gpu.dispose();
  }
});

/**
 * The GPU's ranking is the CPU's: the same ids in the same places with scores
 * within 1e-4, except that two results whose scores the two paths round
 * differently (within 1e-6 relative: a product summed in another order) may
 * trade places — the emulated run met one such pair in 90,000 results.
 */
function assertSameRanking(
  gpu: { ids: Int32Array; scores: Float32Array; shape: [number, number] },
  cpu: { ids: Int32Array; scores: Float32Array; shape: [number, number] },
  label: string,
): void {
  assert.deepEqual(gpu.shape, cpu.shape, label);
  const [rows, n] = cpu.shape;
  let traded = 0;
  for (let row = 0; row < rows; row++) {
    const gpuRow = new Map<number, number>();
    for (let k = row * n; k < (row + 1) * n; k++) gpuRow.set(gpu.ids[k]!, gpu.scores[k]!);
    for (let k = row * n; k < (row + 1) * n; k++) {
      const [a, b] = [gpu.scores[k]!, cpu.scores[k]!];
      assert.ok(
        a === b || Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)),
        `${label} at ${k}: ${a} vs ${b}`,
      );
      if (gpu.ids[k] === cpu.ids[k]) continue;
      traded++;
      const near = Math.abs(a - b) <= 1e-6 * Math.max(1e-3, Math.abs(b));
      // The CPU's id is in the GPU's row (a swap) or both sit at the row's end (a tie for the last place).
      const inRow = gpuRow.has(cpu.ids[k]!) || k === (row + 1) * n - 1;
      assert.ok(near && inRow, `${label} at ${k}: id ${gpu.ids[k]} (${a}) vs ${cpu.ids[k]} (${b})`);
    }
  }
  assert.ok(
    traded <= Math.max(2, cpu.ids.length / 1000),
    `${label}: ${traded} results traded places`,
  );
}

gpuTest(
  "GPU recommend equals the CPU's for every filter combination, over more queries than a block",
  async () => {
    // 9000 users: more than one GEMM block (at most 8192 queries). Every
    // filter combination runs on the first 600 of them; two run on all 9000,
    // whose second block's exclusions start past the first's (the emulator
    // that runs these without a GPU takes about a millisecond per query).
    const plays = randomMatrix(9000, 700, 0.01, 13);
    const model = await new AlternatingLeastSquares({ factors: 24, iterations: 2, randomState: 4 })
      .fit(plays, quiet);
    const everyone = Int32Array.from({ length: 9000 }, (_, k) => k);
    const some = everyone.subarray(0, 600);
    const filterItems = [3, 10, 500];
    const items = Array.from({ length: 300 }, (_, k) => 2 * k + 1);
    const cases: { users: Int32Array; options: RecommendOptions }[] = [
      { users: everyone, options: { n: 10, filterAlreadyLiked: true, filterItems, items } },
      { users: everyone, options: { n: 257, filterAlreadyLiked: true } },
      ...filterCombinations([1, 10, 257], filterItems, items).map((options) => ({
        users: some,
        options,
      })),
    ];
    for (const { users, options } of cases) {
      model.toCpu();
      const cpu = model.recommend(users, plays, options);
      model.toGpu();
      const gpu = model.recommend(users, plays, options);
      const label = JSON.stringify({ users: users.length, ...options, items: !!options.items });
      assertSameRanking(gpu, cpu, label);
    }
    model.toCpu();
    const cpuSimilar = model.similarItems(Int32Array.from({ length: 700 }, (_, k) => k), { n: 5 });
    model.toGpu();
    const gpuSimilar = model.similarItems(Int32Array.from({ length: 700 }, (_, k) => k), { n: 5 });
    assertSameRanking(gpuSimilar, cpuSimilar, "similarItems");
    model.dispose();
  },
);

gpuTest(
  "GPU recommend's select-k gives the CPU's exact ranking on 6000 items: radix passes, more than 2048 exact ties, ±0",
  () => {
    // Factors whose dot products are exact in float32, so the GPU must give
    // the CPU's ids and scores exactly. Item columns: a permutation of the
    // integers (distinct scores), id % 2 (3000 exact ties per value) and
    // 1 + j·2⁻²³ for a permutation j (consecutive floats: they share their
    // top 22 bits, so the select-k needs all three radix passes). Every 97th
    // item is a zero row, which gives +0 or −0.
    const nItems = 6000;
    const next = seeded(29);
    const integers = shuffled(nItems, next);
    const ulps = shuffled(nItems, next);
    const items = new Float32Array(nItems * 3);
    for (let i = 0; i < nItems; i++) {
      if (i % 97 === 0) continue;
      items.set([integers[i]!, i % 2, 1 + ulps[i]! * 2 ** -23], 3 * i);
    }
    const users = [
      [1, 0, 0], // distinct
      [-1, 0, 0], // distinct, negative
      [0, 1, 0], // ties at 1
      [0, -1, 0], // ties at 0 and −0
      [1, 1000, 0], // ties broken by the integers
      [0, 0, 1], // consecutive floats
      [0, 0, -1],
      [-1, -1, -0], // exact (the last product is −0), and zero rows give −0
      [0, 0, 0], // every item ties at 0
    ];
    const plays = randomMatrix(users.length, nItems, 0.05, 31);
    const model = new AlternatingLeastSquares({ factors: 3 });
    model.assignFactors(
      { data: Float32Array.from(users.flat()), shape: [users.length, 3] },
      { data: items, shape: [nItems, 3] },
    );
    const queries = Int32Array.from(users, (_, u) => u);
    const filterItems = Array.from({ length: nItems / 7 }, (_, k) => 7 * k + 2);
    const candidates = Array.from({ length: nItems }, (_, k) => k).filter((k) => k % 4 !== 3);
    const itemScores = users.map((user) =>
      Array.from({ length: nItems }, (_, i) => dot(Float32Array.from(user), 0, items, i, 3))
    );
    for (const options of filterCombinations([1, 10, 257, 2048], filterItems, candidates)) {
      model.toCpu();
      const cpu = model.recommend(queries, plays, options);
      model.toGpu();
      const gpu = model.recommend(queries, plays, options);
      const label = JSON.stringify({
        ...options,
        filterItems: !!options.filterItems,
        items: !!options.items,
      });
      assert.deepEqual(gpu.shape, cpu.shape, label);
      assert.deepEqual(gpu.ids, cpu.ids, label);
      assert.deepEqual(gpu.scores, cpu.scores, label);
      // And both equal a brute-force ranking of the exact scores.
      const n = gpu.shape[1];
      for (let u = 0; u < users.length; u++) {
        const exclude = new Set([
          ...(options.filterAlreadyLiked ? plays.row(u).indices : []),
          ...Array.from(options.filterItems ?? []),
        ]);
        const only = options.items === undefined ? undefined : new Set(Array.from(options.items));
        const want = bruteTopK(itemScores[u]!, n, exclude, only);
        assert.deepEqual([...gpu.ids.subarray(u * n, (u + 1) * n)], want.ids, `${label} user ${u}`);
        assert.deepEqual(
          [...gpu.scores.subarray(u * n, (u + 1) * n)],
          want.scores,
          `${label} user ${u}`,
        );
      }
    }
    model.dispose();
  },
);

/** Every combination of filterAlreadyLiked, filterItems and items, for each `n`. */
function filterCombinations(
  ns: number[],
  filterItems: number[],
  items: number[],
): RecommendOptions[] {
  const combinations: RecommendOptions[] = [];
  for (const filterAlreadyLiked of [false, true]) {
    for (const withFilter of [false, true]) {
      for (const withItems of [false, true]) {
        for (const n of ns) {
          combinations.push({
            n,
            filterAlreadyLiked,
            ...(withFilter ? { filterItems } : {}),
            ...(withItems ? { items } : {}),
          });
        }
      }
    }
  }
  return combinations;
}

/** 0..n-1 in a random order (Fisher–Yates). */
function shuffled(n: number, next: () => number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, k) => k);
  for (let k = n - 1; k > 0; k--) {
    const j = Math.floor(next() * (k + 1));
    [order[k], order[j]] = [order[j]!, order[k]!];
  }
  return order;
}

gpuTest(
  "GPU recommend pads past the eligible items with -1 and -Infinity, as the CPU",
  async () => {
    // Distinct values: no two items tie for a user up to rounding.
    const plays = CsrMatrix.fromDense([[1, 0, 3, 0], [0, 2, 0, 0]]);
    const model = await new AlternatingLeastSquares({
      factors: 2,
      iterations: 2,
      randomState: 1,
      device: "gpu",
    })
      .fit(plays, quiet);
    // A batch keeps its padding (one user's result is trimmed to its ranked items).
    const users = Int32Array.from([0, 1]);
    const gpu = model.recommend(users, plays, { n: 4 });
    model.toCpu();
    const cpu = model.recommend(users, plays, { n: 4 });
    assert.deepEqual(gpu.shape, [2, 4]);
    assert.deepEqual([...gpu.ids], [...cpu.ids]);
    assert.deepEqual([...gpu.ids.slice(2, 4)], [-1, -1]);
    assert.deepEqual([...gpu.scores.slice(2, 4)], [-Infinity, -Infinity]);
    model.dispose();
  },
);

gpuTest(
  "BPR on the GPU reaches the CPU's held-out AUC within 0.01 on a planted-genre log",
  async () => {
    const data = listeningDataset({ users: 1200, itemsPerGenre: 25, loyalty: 0.95, seed: 5 });
    const { train, heldOut } = holdOutOnePerUser(data.plays, 17);
    const auc = async (device: "cpu" | "gpu") => {
      const model = await new BayesianPersonalizedRanking({ factors: 16, randomState: 3, device })
        .fit(train, quiet);
      const value = heldOutAuc(
        data.plays,
        heldOut,
        model.userFactors.data,
        model.itemFactors.data,
        model.factorCount,
      );
      model.dispose();
      return value;
    };
    const [cpu, gpu] = [await auc("cpu"), await auc("gpu")];
    assert.ok(Math.abs(cpu - gpu) <= 0.01, `GPU AUC ${gpu} vs CPU ${cpu}`);
  },
);

gpuTest('device: "auto" trains on the GPU when one is usable', async () => {
  const plays = randomMatrix(40, 30, 0.2, 31);
  const model = await new AlternatingLeastSquares({ factors: 4, iterations: 1, device: "auto" })
    .fit(plays, quiet);
  assert.equal(model.onGpu, true);
  model.dispose();
  assert.equal(model.onGpu, false);
});

gpuTest(
  "an aborted GPU fit rejects with the signal's reason and leaves the model as it was",
  async () => {
    const plays = randomMatrix(2000, 300, 0.05, 32);
    const gpu = new AlternatingLeastSquares({
      factors: 8,
      iterations: 1,
      randomState: 1,
      device: "gpu",
    });
    await gpu.fit(plays, quiet);
    const fitted = gpu.userFactors.data.slice();
    // 500 iterations: far longer than the 20 ms before the abort, on any GPU.
    const long = new AlternatingLeastSquares({ ...gpu.parameters(), iterations: 500 });
    long.assignFactors(gpu.userFactors, gpu.itemFactors);
    long.toGpu();
    const controller = new AbortController();
    const reason = new Error("stop now");
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(
      long.fit(plays, { progress: false, signal: controller.signal }),
      (error) => error === reason,
    );
    assert.deepEqual(long.userFactors.data, fitted);
    assert.equal(long.onGpu, true);
    gpu.dispose();
    long.dispose();
  },
);

gpuTest("a GPU-trained model saves, and loads on the CPU with the same factors", async () => {
  const plays = randomMatrix(50, 40, 0.2, 21);
  const model = await new AlternatingLeastSquares({
    factors: 8,
    iterations: 2,
    randomState: 1,
    device: "gpu",
  })
    .fit(plays, quiet);
  const path = join(mkdtempSync(join(tmpdir(), "tacit-gpu-")), "gpu.tacit");
  await model.save(path);
  const loaded = await AlternatingLeastSquares.load(path);
  assert.equal(loaded.onGpu, false);
  assert.deepEqual(loaded.userFactors.data, model.userFactors.data);
  model.dispose();
});
