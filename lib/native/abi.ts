/**
 * The TypeScript side of the ABI declaration: the types a call site's named
 * arguments must have, derived from the generated description in
 * `symbols.ts`, and the comparison that holds that description against the
 * one the loaded library gives (`tacit_abi_describe`, built from
 * `zig/abi/table.zig`).
 *
 * @module
 */
import { abiDescription } from "./symbols.ts";

/** The whole ABI: convention version, context size and every export. */
export type AbiDescription = typeof abiDescription;
/** One export's declaration: name, whether it is long, the Args size, its parameters. */
export type ExportDeclaration = AbiDescription["exports"][number];
/** The name of a kernel export, e.g. `"tacit_als_solve"`. */
export type ExportName = ExportDeclaration["name"];
/** One parameter of an export. */
export type ParamDeclaration = ExportDeclaration["params"][number];
/** A buffer's required length: `scale · Π product + add`, or the last value of buffer `lastOf`. */
export interface LengthDeclaration {
  readonly product: readonly string[];
  readonly scale: number;
  readonly add: number;
  readonly lastOf: string | null;
}

interface ElementArrays {
  u8: Uint8Array;
  i32: Int32Array;
  u64: BigUint64Array;
  f32: Float32Array;
  f64: Float64Array;
}

type Declared<N extends ExportName> = Extract<ExportDeclaration, { name: N }>;
type ParamsOf<N extends ExportName> = Declared<N>["params"][number];
type ValueOf<P> = P extends { kind: "buffer"; element: infer E; nullable: infer Nullable }
  ? ElementArrays[E & keyof ElementArrays] | (Nullable extends true ? null : never)
  : P extends { kind: "handle" } ? bigint
  : number;

/** The named arguments of export `N`: numbers for scalars, typed arrays for buffers. */
export type ArgsOf<N extends ExportName> = {
  readonly [P in ParamsOf<N> as P["name"]]: ValueOf<P>;
};

const byName = new Map<string, ExportDeclaration>(
  abiDescription.exports.map((declaration) => [declaration.name, declaration]),
);

/** The declaration of export `name` (every name of `ExportName` has one). */
export function declarationOf(name: ExportName): ExportDeclaration {
  return byName.get(name)!;
}

/**
 * How a length reads in messages, exactly as `zig/abi/edge.zig` writes it:
 * "n_rows × f", "n_rows + 1", "2", "the last entry of indptr".
 */
export function lengthFormula(length: LengthDeclaration): string {
  if (length.lastOf !== null) return `the last entry of ${length.lastOf}`;
  let text = length.scale !== 1 || length.product.length === 0 ? String(length.scale) : "";
  for (const factor of length.product) text = text === "" ? factor : `${text} × ${factor}`;
  if (length.add !== 0) text += ` + ${length.add}`;
  return text;
}

/**
 * The first difference between two ABI descriptions, as a sentence naming
 * the path (`tacit_als_solve.params[2].name`), or undefined when they agree.
 * @param expected The description this module was generated from.
 * @param found The description the library gives.
 */
export function firstDifference(
  expected: unknown,
  found: unknown,
  path = "abi",
): string | undefined {
  if (Array.isArray(expected) || Array.isArray(found)) {
    if (!Array.isArray(expected) || !Array.isArray(found)) {
      return `${path}: expected ${show(expected)} but found ${show(found)}`;
    }
    for (let i = 0; i < Math.max(expected.length, found.length); i++) {
      const name = labelOf(expected[i]) ?? labelOf(found[i]);
      const label = name === undefined ? String(i) : `${i}: ${name}`;
      const difference = firstDifference(expected[i], found[i], `${path}[${label}]`);
      if (difference !== undefined) return difference;
    }
    return undefined;
  }
  if (isRecord(expected) && isRecord(found)) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(found)]);
    for (const key of keys) {
      const difference = firstDifference(expected[key], found[key], `${path}.${key}`);
      if (difference !== undefined) return difference;
    }
    return undefined;
  }
  return Object.is(expected, found)
    ? undefined
    : `${path}: expected ${show(expected)} but found ${show(found)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function labelOf(value: unknown): string | undefined {
  return isRecord(value) && typeof value.name === "string" ? value.name : undefined;
}

function show(value: unknown): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}
