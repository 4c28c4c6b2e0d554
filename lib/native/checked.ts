/**
 * Checked native calls: every call site names its arguments, and each one is
 * checked against the export's declaration before native code runs — unknown
 * or missing names, non-integer counts, the wrong typed-array type, and a
 * buffer whose length differs from the declared one (a `TypeError` naming the
 * argument, the expected length with its formula, and the found length).
 * The native edge checks the same lengths again from the (pointer, length)
 * pairs it receives, so neither side trusts the other.
 *
 * Each call carries its own context: the thread limit for that call (a fit's
 * `numThreads`; the pool is never resized) and the buffer its error message
 * comes back in, so concurrent calls never see each other's errors.
 *
 * @module
 */
import {
  type ArgsOf,
  declarationOf,
  type ExportName,
  lengthFormula,
  type ParamDeclaration,
} from "./abi.ts";
import type { NativeLibrary } from "./adapter.ts";
import { abiDescription } from "./symbols.ts";
import { describe } from "../validate.ts";

/** Status codes returned by every export (`zig/status.zig`). */
export const Status = {
  ok: 0,
  /** An argument has the wrong type, shape or layout (TypeError). */
  invalidArgument: -1,
  /** An index or count is outside its allowed range (RangeError). */
  outOfRange: -2,
  /** A float input is NaN or infinite (RangeError). */
  notFinite: -3,
  /** The native allocator failed. */
  outOfMemory: -4,
  /** A numerical failure: a matrix that is not positive definite, a solve that diverged. */
  numerical: -5,
  /** A bug in tacit. */
  internal: -6,
  /** The call stopped because its caller asked it to (an AbortSignal fired during it). */
  cancelled: -7,
  /** The GPU is unavailable, or a CUDA call or kernel failed. */
  device: -8,
} as const;

/** The error a native call raised that is neither a TypeError nor a RangeError, with its status. */
export class NativeError extends Error {
  /** The negative status code the call returned (see {@link Status}). */
  readonly status: number;

  /**
   * An error with a native call's message and status.
   * @param message The native message.
   * @param status The negative status code (see {@link Status}).
   */
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
    this.name = "NativeError";
  }
}

/** Options of one native call. */
export interface CallOptions {
  /** The most threads this call may use; 0 or omitted = every thread of the pool. */
  threads?: number | undefined;
  /**
   * For a nonblocking call: when it fires, the running native call is asked to
   * stop (the context's cancel flag); a long kernel polls it as it works
   * (zig/status.zig Poll) and the call rejects with the signal's reason.
   */
  signal?: AbortSignal | undefined;
}

/** What an observer sees of one native call that reached native code. */
export interface CallRecord {
  name: ExportName;
  status: number;
  /** The threads the call's parallel work ran on. */
  threadsUsed: number;
}

const observers = new Set<(record: CallRecord) => void>();

/**
 * Calls `observer` after every native call that reached native code, until
 * the returned function is called (for tests: thread limits, and proving a
 * refused call never ran).
 */
export function observeNativeCalls(observer: (record: CallRecord) => void): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

/** The context's layout (`zig/status.zig` Context). */
const CONTEXT = {
  abiVersion: 0,
  contextSize: 4,
  threadLimit: 8,
  threadsUsed: 12,
  messageLength: 16,
  cancelRequested: 20,
  message: 24,
} as const;
const MESSAGE_CAPACITY = abiDescription.contextSize - CONTEXT.message;

/** A prepared call: the packed arguments and the context, and the values they point into. */
interface Packed {
  args: Uint8Array;
  context: Uint8Array;
  /** Keeps every buffer reachable while native code may read it. */
  values: unknown;
}

type BufferParam = Extract<ParamDeclaration, { kind: "buffer" }>;
type ScalarParam = Exclude<ParamDeclaration, { kind: "buffer" }>;

/** What packing an export needs, derived once from its declaration. */
interface Plan {
  size: number;
  names: ReadonlySet<string>;
  scalars: readonly ScalarParam[];
  buffers: readonly BufferParam[];
  /** Reused by synchronous calls, which cannot overlap on one JavaScript thread. */
  syncArgs: Uint8Array;
}

const plans = new Map<string, Plan>();
const syncContext = new Uint8Array(abiDescription.contextSize);
const placeholder = new Uint8Array(8);

function planOf(name: ExportName): Plan {
  let plan = plans.get(name);
  if (plan === undefined) {
    const declaration = declarationOf(name);
    const params = declaration.params as readonly ParamDeclaration[];
    plan = {
      size: declaration.size,
      names: new Set(params.map((p) => p.name)),
      scalars: params.filter((p): p is ScalarParam => p.kind !== "buffer"),
      buffers: params.filter((p): p is BufferParam => p.kind === "buffer"),
      syncArgs: new Uint8Array(declaration.size),
    };
    plans.set(name, plan);
  }
  return plan;
}

/**
 * Checks `args` against the declaration of `name` and packs them. A
 * synchronous call (`reuse`) packs into buffers kept for that export.
 * @throws TypeError naming the argument when a name, type or length is wrong.
 * @throws RangeError when a count is negative or not an integer.
 */
export function packCall<N extends ExportName>(
  lib: NativeLibrary,
  name: N,
  args: ArgsOf<N>,
  options: CallOptions = {},
  reuse = false,
): Packed {
  const plan = planOf(name);
  const values = args as unknown as Record<string, unknown>;
  if (typeof values !== "object" || values === null) {
    throw new TypeError(`Expected the arguments of ${name} to be an object`);
  }
  for (const key in values) {
    if (!plan.names.has(key)) {
      throw new TypeError(
        `${name} has no parameter ${key}; its parameters are ${[...plan.names].join(", ")}`,
      );
    }
  }
  const bytes = reuse ? plan.syncArgs : new Uint8Array(plan.size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, abiDescription.abiVersion, true);
  view.setUint32(4, plan.size, true);
  for (const p of plan.scalars) writeScalar(view, p, values[p.name], name);
  for (const p of plan.buffers) {
    const value = values[p.name];
    if (value === undefined) {
      throw new TypeError(`Expected ${name}'s ${p.name} to be given but found nothing`);
    }
    const required = requiredLength(p, values);
    if (value === null) {
      if (!p.nullable && required > 0) {
        throw new TypeError(
          `Expected ${p.name} to be a buffer of ${required} elements but found null`,
        );
      }
      writeU64(view, p.offset, 0);
      writeU64(view, p.lengthOffset, 0);
      continue;
    }
    const array = checkedArray(p, value, required);
    const pointer = array.byteLength > 0
      ? lib.address(array)
      : p.nullable
      ? lib.address(placeholder)
      : 0;
    writeU64(view, p.offset, pointer);
    writeU64(view, p.lengthOffset, array.length);
  }
  const context = reuse ? syncContext : new Uint8Array(abiDescription.contextSize);
  writeContextHeader(context, options.threads ?? 0);
  return { args: bytes, context, values };
}

/** Runs a packed call on the calling thread and throws the typed error its status stands for. */
export function runPacked(lib: NativeLibrary, name: ExportName, packed: Packed): void {
  finish(name, packed, lib.callExport(name, packed.args, packed.context));
}

/**
 * Runs a packed call without blocking the event loop (nonblocking on Deno).
 * With a signal, an abort while the call runs sets the context's cancel flag
 * (native code reads it from another thread; an aligned 32-bit store), and a
 * call that stopped for it rejects with the signal's reason.
 */
export async function runPackedAsync(
  lib: NativeLibrary,
  name: ExportName,
  packed: Packed,
  signal?: AbortSignal,
): Promise<void> {
  const requestCancel = () => {
    new DataView(packed.context.buffer).setUint32(CONTEXT.cancelRequested, 1, true);
  };
  if (signal?.aborted) requestCancel();
  signal?.addEventListener("abort", requestCancel);
  let status: number;
  try {
    status = await lib.callExportAsync(name, packed.args, packed.context);
  } finally {
    signal?.removeEventListener("abort", requestCancel);
  }
  if (status === Status.cancelled && signal?.aborted) {
    notify(name, packed, status);
    throw signal.reason;
  }
  finish(name, packed, status);
}

/** Tells every observer how a call that reached native code ended. */
function notify(name: ExportName, packed: Packed, status: number): void {
  if (observers.size === 0) return;
  const threadsUsed = new DataView(packed.context.buffer).getUint32(CONTEXT.threadsUsed, true);
  const record: CallRecord = { name, status, threadsUsed };
  for (const observer of observers) observer(record);
}

function finish(name: ExportName, packed: Packed, status: number): void {
  // Read before any observer runs: an observer's own call reuses the sync context.
  const message = status === Status.ok
    ? ""
    : messageOf(packed.context, new DataView(packed.context.buffer)) ||
      `tacit: ${name} failed with status ${status}`;
  notify(name, packed, status);
  switch (status) {
    case Status.ok:
      return;
    case Status.invalidArgument:
      throw new TypeError(message);
    case Status.outOfRange:
    case Status.notFinite:
      throw new RangeError(message);
    default:
      throw new NativeError(message, status);
  }
}

const decoder = new TextDecoder();

function messageOf(bytes: Uint8Array, view: DataView): string {
  const length = Math.min(view.getUint32(CONTEXT.messageLength, true), MESSAGE_CAPACITY);
  return decoder.decode(bytes.subarray(CONTEXT.message, CONTEXT.message + length));
}

/** Writes a u64 from a number (exact below 2^53, as every pointer and length is) or a bigint. */
function writeU64(view: DataView, offset: number, value: number | bigint): void {
  if (typeof value === "bigint") {
    view.setBigUint64(offset, value, true);
    return;
  }
  view.setUint32(offset, value % 0x1_0000_0000, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

function writeContextHeader(context: Uint8Array, threads: number): void {
  if (!Number.isInteger(threads) || threads < 0 || threads > 0xffff_ffff) {
    throw new RangeError(`Expected threads to be an integer >= 0 but found ${threads}`);
  }
  const view = new DataView(context.buffer);
  view.setUint32(CONTEXT.abiVersion, abiDescription.abiVersion, true);
  view.setUint32(CONTEXT.contextSize, abiDescription.contextSize, true);
  view.setUint32(CONTEXT.threadLimit, threads, true);
  view.setUint32(CONTEXT.messageLength, 0, true);
  view.setUint32(CONTEXT.cancelRequested, 0, true);
}

const I32_MIN = -2_147_483_648;
const I32_MAX = 2_147_483_647;

function writeScalar(view: DataView, p: ScalarParam, value: unknown, name: string): void {
  if (p.kind === "handle") {
    if (typeof value !== "bigint") {
      throw new TypeError(
        `Expected ${name}'s ${p.name} to be a native handle (bigint) but found ${describe(value)}`,
      );
    }
    view.setBigUint64(p.offset, value, true);
    return;
  }
  if (typeof value !== "number") {
    throw new TypeError(`Expected ${name}'s ${p.name} to be a number but found ${describe(value)}`);
  }
  // A string switch: "double" has no export yet, and the generated union would reject it.
  switch (p.kind as string) {
    case "count":
      if (!Number.isInteger(value) || value < 0 || value > I32_MAX) {
        throw new RangeError(
          `Expected ${name}'s ${p.name} to be an integer in 0..${I32_MAX} but found ${value}`,
        );
      }
      view.setInt32(p.offset, value, true);
      return;
    case "int":
      if (!Number.isInteger(value) || value < I32_MIN || value > I32_MAX) {
        throw new RangeError(
          `Expected ${name}'s ${p.name} to be a 32-bit integer but found ${value}`,
        );
      }
      view.setInt32(p.offset, value, true);
      return;
    case "float":
      view.setFloat32(p.offset, value, true);
      return;
    default:
      view.setFloat64(p.offset, value, true);
  }
}

function requiredLength(p: BufferParam, values: Record<string, unknown>): number {
  const length = p.length;
  if (length.lastOf !== null) {
    const source = values[length.lastOf] as Int32Array | null;
    if (source === null || source.length === 0) return 0;
    const last = source[source.length - 1]!;
    if (last < 0) {
      throw new TypeError(
        `Expected the last entry of ${length.lastOf} (the length of ${p.name}) to be >= 0 but found ${last}`,
      );
    }
    return last;
  }
  // Every factor is a count, checked before any buffer.
  let n: number = length.scale;
  for (const factor of length.product) n *= values[factor] as number;
  return n + length.add;
}

const arrayTypes = {
  u8: Uint8Array,
  i32: Int32Array,
  u64: BigUint64Array,
  f32: Float32Array,
  f64: Float64Array,
} as const;

function checkedArray(
  p: BufferParam,
  value: unknown,
  required: number,
): ArrayBufferView & { length: number } {
  const type = arrayTypes[p.element];
  if (!(value instanceof type)) {
    throw new TypeError(`Expected ${p.name} to be a ${type.name} but found ${describe(value)}`);
  }
  if (value.length !== required) {
    throw new TypeError(
      `Expected ${p.name} to have ${required} elements (${
        lengthFormula(p.length)
      }) but found ${value.length}`,
    );
  }
  return value;
}
