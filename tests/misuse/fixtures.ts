/**
 * What the misuse cases misuse: a small play matrix, a temporary directory,
 * and one small configuration of every model kind with the names its API
 * uses (the fit matrix's argument name, a numeric option).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AlternatingLeastSquares,
  BayesianPersonalizedRanking,
  BM25Recommender,
  CosineRecommender,
  CsrMatrix,
  HybridFactorization,
  ItemItemRecommender,
  LogisticMatrixFactorization,
  MinibatchFactorization,
  type Model,
  TFIDFRecommender,
} from "../../mod.ts";

/** 12 users × 8 items, two or three items per user, every item liked by someone. */
export function plays(): CsrMatrix {
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < 12; u++) {
    for (let k = 0; k < 2 + (u % 2); k++) {
      rows.push(u);
      cols.push((u * 3 + k * 5) % 8);
    }
  }
  return CsrMatrix.fromCoo({ rows, cols, shape: [12, 8] });
}

/** A fresh temporary directory. */
export function scratch(): string {
  return mkdtempSync(join(tmpdir(), "tacit-misuse-"));
}

/** Fit options every case uses: no progress bar in the child's stderr. */
export const quiet = { progress: false } as const;

/** A model as the cases drive it: fit, recommend, similarItems, save. */
export type Driven = Model & {
  fit(matrix: unknown, options?: unknown): Promise<unknown>;
  recommend(userid: unknown, userItems: unknown, options?: unknown): unknown;
  similarItems(itemid: unknown, options?: unknown): unknown;
};

/** One model kind, as the cases see it. */
export interface Kind {
  /** A small, seeded model with `options` added. */
  make(options?: Record<string, unknown>): Driven;
  /** The fit matrix's argument name in messages. */
  matrix: string;
  /** A positive integer option of this kind. */
  numeric: string;
}

const seeded = (options: Record<string, unknown>) => ({ numThreads: 1, ...options });

/** Every model kind tacit has. */
export const KINDS: Record<string, Kind> = {
  als: {
    make: (o = {}) =>
      new AlternatingLeastSquares(seeded({ factors: 2, iterations: 2, randomState: 1, ...o })),
    matrix: "userItems",
    numeric: "factors",
  },
  bpr: {
    make: (o = {}) =>
      new BayesianPersonalizedRanking(seeded({ factors: 2, iterations: 3, randomState: 1, ...o })),
    matrix: "userItems",
    numeric: "factors",
  },
  lmf: {
    make: (o = {}) =>
      new LogisticMatrixFactorization(seeded({ factors: 2, iterations: 2, randomState: 1, ...o })),
    matrix: "userItems",
    numeric: "factors",
  },
  hybrid: {
    make: (o = {}) => new HybridFactorization(seeded({ noComponents: 2, randomState: 1, ...o })),
    matrix: "interactions",
    numeric: "noComponents",
  },
  minibatch: {
    make: (o = {}) =>
      new MinibatchFactorization(seeded({ embeddingDim: 2, nIter: 2, randomState: 1, ...o })),
    matrix: "interactions",
    numeric: "embeddingDim",
  },
  itemitem: {
    make: (o = {}) => new ItemItemRecommender(seeded({ k: 3, ...o })) as unknown as Driven,
    matrix: "userItems",
    numeric: "k",
  },
  cosine: {
    make: (o = {}) => new CosineRecommender(seeded({ k: 3, ...o })) as unknown as Driven,
    matrix: "userItems",
    numeric: "k",
  },
  tfidf: {
    make: (o = {}) => new TFIDFRecommender(seeded({ k: 3, ...o })) as unknown as Driven,
    matrix: "userItems",
    numeric: "k",
  },
  bm25: {
    make: (o = {}) => new BM25Recommender(seeded({ k: 3, ...o })) as unknown as Driven,
    matrix: "userItems",
    numeric: "k",
  },
};

/** A model of `kind` fitted on {@link plays}. */
export async function fitted(kind: Kind, options: Record<string, unknown> = {}): Promise<Driven> {
  const model = kind.make(options);
  await model.fit(plays(), quiet);
  return model;
}
