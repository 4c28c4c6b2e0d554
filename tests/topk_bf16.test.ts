/**
 * `precision: "bf16Candidates"` (the bf16 candidate pass re-scored in
 * float32) returns the float32 path's ids and scores bit for bit, on random
 * and adversarial factors, through every filter. Where no candidate kernel is
 * chosen (no AMX-BF16 granted, and no AVX512-BF16 on an AMD CPU) both calls
 * run float32 (the pass's logic is then covered by the Zig tests, which run
 * every kernel the CPU can execute and a scalar emulation) and a test says so.
 */
import assert from "node:assert/strict";
import { AlternatingLeastSquares, bf16CandidatesAvailable, type CsrMatrix } from "../mod.ts";
import { lastTopKPath } from "../lib/models/query.ts";
import { randomMatrix } from "./reference.ts";
import { test } from "./harness.ts";

const available = bf16CandidatesAvailable();

/** A deterministic generator of uniform values in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

type FactorSet = "normal" | "nearTies" | "large" | "tiny" | "subnormal" | "mixed" | "negative";
const SETS: FactorSet[] = ["normal", "nearTies", "large", "tiny", "subnormal", "mixed", "negative"];

/** Factors of one adversarial kind (see zig/topk_bf16.zig's tests). */
function factors(
  set: FactorSet,
  rows: number,
  f: number,
  seed: number,
  side: "users" | "items",
): Float32Array {
  const next = seeded(seed);
  const out = Float32Array.from({ length: rows * f }, () => next() * 2 - 1);
  const bits = new Uint32Array(out.buffer);
  switch (set) {
    case "normal":
      break;
    case "nearTies":
      // Items are a few base rows nudged by 0-3 ulps, so scores differ in the last bits.
      if (side === "items") {
        for (let r = 0; r < rows; r++) {
          const base = Math.floor(next() * 3);
          for (let d = 0; d < f; d++) {
            bits[r * f + d] = bits[base * f + d]! + Math.floor(next() * 4);
          }
        }
      }
      break;
    case "large":
      if (side === "items") { for (let p = 0; p < out.length; p++) out[p]! *= 1e13; }
      break;
    case "tiny":
      for (let p = 0; p < out.length; p++) out[p]! *= 1e-15;
      break;
    case "subnormal":
      for (let p = 0; p < out.length; p++) out[p]! *= 1e-20;
      break;
    case "mixed":
      if (side === "items") {
        for (let r = 0; r < rows; r++) {
          const scale = 10 ** (next() * 20 - 10);
          for (let d = 0; d < f; d++) out[r * f + d]! *= scale;
        }
      }
      break;
    case "negative":
      for (let p = 0; p < out.length; p++) {
        out[p] = side === "users" ? Math.abs(out[p]!) : -Math.abs(out[p]!);
      }
      break;
  }
  return out;
}

function model(set: FactorSet, nUsers: number, nItems: number, f: number): AlternatingLeastSquares {
  const m = new AlternatingLeastSquares({ factors: f });
  m.assignFactors(
    { data: factors(set, nUsers, f, 11, "users"), shape: [nUsers, f] },
    { data: factors(set, nItems, f, 12, "items"), shape: [nItems, f] },
  );
  return m;
}

function assertSameBits(
  actual: { ids: Int32Array; scores: Float32Array },
  expected: { ids: Int32Array; scores: Float32Array },
  label: string,
) {
  assert.deepEqual([...actual.ids], [...expected.ids], `${label}: ids`);
  assert.deepEqual(
    [...new Uint32Array(actual.scores.buffer, actual.scores.byteOffset, actual.scores.length)],
    [
      ...new Uint32Array(
        expected.scores.buffer,
        expected.scores.byteOffset,
        expected.scores.length,
      ),
    ],
    `${label}: score bits`,
  );
}

const nUsers = 40;
const nItems = 300;
const liked: CsrMatrix = randomMatrix(nUsers, nItems, 0.2, 5);
const users = Int32Array.from({ length: nUsers }, (_, u) => u);
const allowed = Array.from({ length: nItems }, (_, i) => i).filter((i) => i % 3 !== 1);
const filterItems = Array.from({ length: nItems }, (_, i) => i).filter((i) => i % 7 === 0);

test("recommend with bf16 candidates equals float32 bit for bit on adversarial factors and every filter", () => {
  for (const f of [1, 3, 17, 64, 100]) {
    for (const set of SETS) {
      const m = model(set, nUsers, nItems, f);
      for (const n of [1, 3, 17, 100, 400]) {
        const filters = [
          { filterAlreadyLiked: false },
          { filterAlreadyLiked: true },
          { filterAlreadyLiked: false, items: allowed },
          { filterAlreadyLiked: true, items: allowed, filterItems },
        ];
        for (const [which, filter] of filters.entries()) {
          const label = `f = ${f}, ${set}, n = ${n}, filter ${which}`;
          const exact = m.recommend(users, liked, { n, ...filter, precision: "float32" });
          assert.equal(lastTopKPath(), "float32", label);
          const bf16 = m.recommend(users, liked, { n, ...filter, precision: "bf16Candidates" });
          assert.equal(lastTopKPath(), available ? "bf16Candidates" : "float32", label);
          assertSameBits(bf16, exact, label);
          assertSameBits(m.recommend(users, liked, { n, ...filter }), exact, `${label}, auto`);
        }
      }
    }
  }
});

test("similarItems and similarUsers with bf16 candidates equal float32 bit for bit", () => {
  for (const set of SETS) {
    const m = model(set, nUsers, nItems, 17);
    const items = Int32Array.from({ length: 64 }, (_, i) => i * 4);
    assertSameBits(
      m.similarItems(items, { n: 12, precision: "bf16Candidates" }),
      m.similarItems(items, { n: 12, precision: "float32" }),
      `similarItems, ${set}`,
    );
    assertSameBits(
      m.similarUsers(users, { n: 5, precision: "bf16Candidates" }),
      m.similarUsers(users, { n: 5, precision: "float32" }),
      `similarUsers, ${set}`,
    );
  }
});

test("an unknown precision is refused", () => {
  const m = model("normal", nUsers, nItems, 3);
  assert.throws(() => m.recommend(0, liked, { precision: "bf8" as "auto" }), {
    name: "RangeError",
    message: "Expected precision to be one of 'float32', 'bf16Candidates', 'auto' but found 'bf8'",
  });
  assert.throws(() => m.similarItems(0, { precision: 16 as unknown as "auto" }), {
    name: "TypeError",
    message: "Expected precision to be one of 'float32', 'bf16Candidates', 'auto' but found 16",
  });
});

test(`the candidate pass ran${available ? "" : " (skipped: no bf16 candidate kernel chosen on this CPU, both paths ran float32)"}`, () => {
  assert.equal(bf16CandidatesAvailable(), available);
});
