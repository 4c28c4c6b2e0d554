/**
 * What `tacit fit` leaves for the commands after it: the model file (`--model-file`,
 * the library's own format, any model's `save`) and beside it a sidecar
 * `<model-file>.data`, a tacit file of kind `cli-data` holding the training
 * matrix (users × items, as read: `recommend` leaves out what a user already has) and
 * the external user and item ids (UTF-8, with offsets), so `recommend` and `similar`
 * print the ids of the input file with no need to read it again. Both are written
 * atomically; the sidecar is checked against the model (shape) when loaded.
 *
 * @module
 */
import { readTacitFile, TacitFileError, writeTacitFile } from "../io/format.ts";
import type { Model } from "../models/model.ts";
import { loadModel } from "../models/registry.ts";
import { CsrMatrix } from "../sparse.ts";
import { CliError, EXIT } from "./errors.ts";

/** The sidecar's path for a model file. */
export function sidecarPath(modelFile: string): string {
  return `${modelFile}.data`;
}

/** A fitted model with what the CLI needs to serve it. */
export interface Fitted {
  model: Model;
  /** The training matrix, users × items. */
  matrix: CsrMatrix;
  /** `users[u]`: the external id of dense user u. */
  users: string[];
  /** `items[i]`: the external id of dense item i. */
  items: string[];
  /** What fit recorded: the input, its format, the weighting. */
  meta: Record<string, unknown>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function packIds(ids: readonly string[]): { bytes: Uint8Array; offsets: Int32Array } {
  const parts = ids.map((id) => encoder.encode(id));
  const offsets = new Int32Array(ids.length + 1);
  for (let k = 0; k < parts.length; k++) offsets[k + 1] = offsets[k]! + parts[k]!.length;
  const bytes = new Uint8Array(offsets[ids.length]!);
  for (let k = 0; k < parts.length; k++) bytes.set(parts[k]!, offsets[k]!);
  return { bytes, offsets };
}

function unpackIds(bytes: Uint8Array, offsets: Int32Array, path: string, what: string): string[] {
  const ids: string[] = new Array(offsets.length - 1);
  for (let k = 0; k + 1 < offsets.length; k++) {
    const start = offsets[k]!;
    const end = offsets[k + 1]!;
    if (!(start >= 0 && end >= start && end <= bytes.length)) {
      throw new TacitFileError(`Expected ${what} id offsets within the id bytes in ${path}`, path);
    }
    ids[k] = decoder.decode(bytes.subarray(start, end));
  }
  return ids;
}

/**
 * Saves the model and its sidecar.
 *
 * @throws CliError (output) when either cannot be written.
 */
export async function saveFitted(path: string, fitted: Fitted): Promise<void> {
  const users = packIds(fitted.users);
  const items = packIds(fitted.items);
  const { matrix } = fitted;
  try {
    await fitted.model.save(path);
    await writeTacitFile(sidecarPath(path), {
      kind: "cli-data",
      params: { ...fitted.meta, shape: matrix.shape },
      arrays: {
        indptr: { array: matrix.indptr, shape: [matrix.indptr.length] },
        indices: { array: matrix.indices, shape: [matrix.nnz] },
        data: { array: matrix.data, shape: [matrix.nnz] },
        userIds: { array: users.bytes, shape: [users.bytes.length] },
        userOffsets: { array: users.offsets, shape: [users.offsets.length] },
        itemIds: { array: items.bytes, shape: [items.bytes.length] },
        itemOffsets: { array: items.offsets, shape: [items.offsets.length] },
      },
    });
  } catch (error) {
    throw new CliError(EXIT.output, (error as Error).message, { cause: error });
  }
}

/**
 * Loads a model saved by `tacit fit` and its sidecar.
 *
 * @throws TacitFileError (exit 4) for a missing, damaged or mismatched file.
 */
export async function loadFitted(path: string): Promise<Fitted> {
  const model = await loadModel(path);
  const side = sidecarPath(path);
  const file = await readTacitFile(side, { kind: "cli-data" });
  const array = <T>(name: string, type: new (...args: never[]) => T): T => {
    const entry = file.arrays[name]?.array;
    if (!(entry instanceof type)) {
      throw new TacitFileError(`Expected an array '${name}' in ${side} but found none`, side);
    }
    return entry;
  };
  const shape = file.params.shape as [number, number];
  let matrix: CsrMatrix;
  try {
    matrix = new CsrMatrix(
      shape,
      array("indptr", Int32Array),
      array("indices", Int32Array),
      array("data", Float32Array),
    );
  } catch (error) {
    throw new TacitFileError(`${(error as Error).message} (in ${side})`, side, { cause: error });
  }
  const users = unpackIds(
    array("userIds", Uint8Array),
    array("userOffsets", Int32Array),
    side,
    "user",
  );
  const items = unpackIds(
    array("itemIds", Uint8Array),
    array("itemOffsets", Int32Array),
    side,
    "item",
  );
  if (users.length !== matrix.nRows || items.length !== matrix.nCols) {
    throw new TacitFileError(`Expected ${side} to have one id per row and column`, side);
  }
  if (model.nUsers !== matrix.nRows || model.nItems !== matrix.nCols) {
    throw new TacitFileError(
      `${side} is [${matrix.shape}] but the model in ${path} has ${model.nUsers} users and ${model.nItems} items (a sidecar of another fit?)`,
      side,
    );
  }
  const { shape: _, ...meta } = file.params;
  return { model, matrix, users, items, meta };
}
