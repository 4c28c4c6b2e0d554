/**
 * The indexes a factor model's queries go through: one per role —
 * `recommend` (inner product over item factors), `similarItems` (cosine over
 * item factors), `similarUsers` (cosine over user factors) — each checked
 * against the rows it must serve when attached, and refused as stale once
 * the model's factors changed (a fit, partial fit, load or assignFactors
 * replaces the factor arrays), so a query never silently uses an index of
 * other factors.
 *
 * @module
 */
import { AnnIndex } from "./index.ts";
import { describe } from "../validate.ts";

/** What an index serves. */
export type IndexRole = "recommend" | "similarItems" | "similarUsers";

/** The roles and the metric each needs. */
export const ROLE_METRIC = {
  recommend: "ip",
  similarItems: "cosine",
  similarUsers: "cosine",
} as const;

/** The rows a role's index must have been built from, as the model holds them now. */
export interface RoleRows {
  /** The model's factor array the rows come from (its identity marks staleness). */
  owner: Float32Array;
  /** The rows themselves (`owner`, or a copy without bias columns). */
  rows: Float32Array;
  /** Rows and factors. */
  shape: [number, number];
  /** For messages, e.g. "item factors". */
  noun: string;
}

interface Attachment {
  index: AnnIndex;
  /** The owner array the index was checked against. */
  owner: Float32Array;
}

/** Checks that `index` can serve `role` over `rows`; throws naming the mismatch. */
export function checkServes(index: unknown, role: IndexRole, rows: RoleRows): AnnIndex {
  if (!(index instanceof AnnIndex)) {
    throw new TypeError(
      `Expected index to be an HnswIndex, IvfIndex or ProjectionForestIndex but found ${
        describe(index)
      }`,
    );
  }
  if (index.disposed) throw new Error(`Expected a live index for ${role}() but it was disposed`);
  const metric = ROLE_METRIC[role];
  if (index.metric !== metric) {
    throw new RangeError(
      `Expected an index of metric '${metric}' for ${role}() but found one of metric '${index.metric}'`,
    );
  }
  const [n, f] = rows.shape;
  if (index.nItems !== n || index.factors !== f) {
    throw new RangeError(
      `Expected an index over [${n}, ${f}] (the model's ${rows.noun}) for ${role}() but found one over [${index.nItems}, ${index.factors}]`,
    );
  }
  if (index.source !== rows.rows && !sameValues(index.source, rows.rows)) {
    throw new RangeError(
      `Expected the index for ${role}() to be built from the model's ${rows.noun} but it was built from other rows of the same shape: build it from the model's current factors`,
    );
  }
  return index;
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (!Object.is(a[k], b[k])) return false;
  return true;
}

/** A model's attached indexes. */
export class AttachedIndexes {
  readonly #attached = new Map<IndexRole, Attachment>();
  /** Per-call indexes already checked against an owner array (the check reads every value). */
  readonly #checked = new WeakMap<AnnIndex, Float32Array>();

  /** Attaches `index` for `role` after `checkServes`. */
  attach(role: IndexRole, index: AnnIndex, rows: RoleRows): void {
    this.#attached.set(role, { index: checkServes(index, role, rows), owner: rows.owner });
  }

  /** Detaches the index of `role` (not disposed). */
  detach(role: IndexRole): void {
    this.#attached.delete(role);
  }

  /** Detaches every index (they are not disposed: the caller owns them). */
  clear(): void {
    this.#attached.clear();
  }

  /** The attached index of each role. */
  get(role: IndexRole): AnnIndex | undefined {
    return this.#attached.get(role)?.index;
  }

  /**
   * The index a query of `role` goes through: the per-call choice when given
   * (null: exact), else the attached one; refused when stale or disposed.
   *
   * @param role The query.
   * @param given The call's `index` option (undefined: the attached one).
   * @param rows The rows the role ranks now (only read for a per-call index
   *   or a stale attachment).
   */
  resolve(role: IndexRole, given: unknown, rows: () => RoleRows): AnnIndex | undefined {
    if (given === null) return undefined;
    if (given !== undefined) {
      const attached = this.#attached.get(role);
      const current = rows();
      if (attached?.index === given && attached.owner === current.owner) return attached.index;
      if (
        given instanceof AnnIndex && this.#checked.get(given) === current.owner && !given.disposed
      ) {
        return given;
      }
      const index = checkServes(given, role, current);
      this.#checked.set(index, current.owner);
      return index;
    }
    const attached = this.#attached.get(role);
    if (attached === undefined) return undefined;
    const current = rows();
    if (attached.owner !== current.owner) {
      throw new Error(
        `The ${attached.index.what} attached for ${role}() was built for factors the model no longer has (a fit, partial fit, load or assignFactors replaced them): rebuild it (await model.buildIndexes(...)) or detach it (model.useIndex(null))`,
      );
    }
    if (attached.index.disposed) {
      throw new Error(
        `The ${attached.index.what} attached for ${role}() was disposed: detach it (model.useIndex(null)) or attach a live one`,
      );
    }
    return attached.index;
  }
}
