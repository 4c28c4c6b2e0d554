/**
 * The GPU, seen from TypeScript: whether one is usable (and why not), and
 * device memory behind handles — factor matrices and sparse matrices — that
 * the models' `device: "gpu"` paths keep between calls.
 *
 * The CUDA library (`libtacit_cuda.so`, built from `cuda/` by
 * `bash scripts/build_cuda.sh`) is found, in order, at `TACIT_CUDA_LIB`,
 * in a source checkout's `cuda-out/`, or beside the CPU library; libtacit
 * opens it with dlopen on the first request (`tacit_gpu_open`), so a machine
 * without CUDA never loads it and every CPU path works as before.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { Access } from "./access.ts";
import { NativeHandle } from "./handle.ts";
import { callNative, callNativeAsync } from "./library.ts";
import type { CallOptions } from "./checked.ts";
import type { CsrMatrix } from "../sparse.ts";

/** Device 0, as the CUDA runtime describes it. */
export interface GpuDevice {
  /** e.g. "NVIDIA H200". */
  name: string;
  /** e.g. "9.0". */
  computeCapability: string;
  /** Streaming multiprocessors. */
  multiprocessors: number;
  /** Bytes of device memory. */
  memoryTotal: number;
  /** Bytes free when the library was opened. */
  memoryFree: number;
  /** The CUDA version the driver supports, e.g. "13.0". */
  driver: string;
  /** The CUDA runtime the library was built with. */
  runtime: string;
  /** Devices present (tacit uses device 0). */
  devices: number;
}

/** Whether tacit can use a GPU in this process, and why not. */
export type GpuAvailability =
  | { available: true; device: GpuDevice; library: string }
  | { available: false; reason: string };

/** Thrown by `device: "gpu"` (and `toGpu()`) when no GPU is usable. */
export class GpuUnavailableError extends Error {
  /** Why: the library was not found, did not load, or found no device. */
  readonly reason: string;
  /**
   * An error naming what asked for the GPU and why it is unavailable.
   * @param reason Why no GPU is usable.
   * @param what What asked for the GPU, e.g. `"ALS device: 'gpu'"`.
   */
  constructor(reason: string, what: string) {
    super(`${what} needs a GPU, but the GPU is unavailable: ${reason}`);
    this.name = "GpuUnavailableError";
    this.reason = reason;
  }
}

const CUDA_LIBRARY = "libtacit_cuda.so";
let availability: GpuAvailability | undefined;

/** `path` made absolute (the native side refuses a path dlopen would search for); as given when the working directory cannot be read. */
function absolute(path: string): string {
  if (path.startsWith("/")) return path;
  try {
    return resolve(path);
  } catch {
    return path;
  }
}

/** The CUDA library candidates, in order, with what each was. */
function candidates(access: Access): { path: string; from: string }[] {
  const found: { path: string; from: string }[] = [];
  const override = access.env("TACIT_CUDA_LIB");
  if (override !== undefined) return [{ path: absolute(override), from: "TACIT_CUDA_LIB" }];
  const checkout = new URL("../../cuda-out/" + CUDA_LIBRARY, import.meta.url);
  if (checkout.protocol === "file:") {
    found.push({ path: decodeURIComponent(checkout.pathname), from: "the checkout's cuda-out/" });
  }
  const cpu = access.env("TACIT_LIB");
  if (cpu !== undefined) {
    found.push({ path: join(dirname(absolute(cpu)), CUDA_LIBRARY), from: "beside TACIT_LIB" });
  }
  return found;
}

/**
 * Whether a GPU is usable: opens the CUDA library once per process and
 * reports device 0, or the reason there is none ("no CUDA library: …",
 * "could not load …: libcuda.so.1: cannot open shared object file", "no
 * CUDA device is present", …). Never throws.
 *
 * @returns `{ available: true, device, library }` or `{ available: false, reason }`.
 */
export function gpuAvailability(): GpuAvailability {
  if (availability !== undefined) return availability;
  const access = new Access();
  if (access.env("TACIT_GPU") === "0") {
    availability = { available: false, reason: "disabled by TACIT_GPU=0" };
    return availability;
  }
  const tried = candidates(access);
  const path = tried.find((candidate) => access.exists(candidate.path))?.path;
  if (path === undefined) {
    const looked = tried.map((candidate) => `${candidate.path} (${candidate.from})`).join(", ");
    availability = {
      available: false,
      reason: `no CUDA library (looked for ${looked || CUDA_LIBRARY}); build it with ` +
        "bash scripts/build_cuda.sh or set TACIT_CUDA_LIB",
    };
    return availability;
  }
  const bytes = new TextEncoder().encode(path);
  const available = new Int32Array(1);
  const info = new Uint8Array(1024);
  const infoLength = new Int32Array(1);
  try {
    callNative("tacit_gpu_open", {
      path: bytes,
      path_bytes: bytes.length,
      out_available: available,
      out_info: info,
      out_info_bytes: infoLength,
    });
  } catch (error) {
    availability = { available: false, reason: String((error as Error).message ?? error) };
    return availability;
  }
  const text = new TextDecoder().decode(info.subarray(0, infoLength[0]!));
  availability = available[0] === 1
    ? { available: true, device: JSON.parse(text) as GpuDevice, library: path }
    : { available: false, reason: text };
  return availability;
}

/**
 * Throws {@link GpuUnavailableError} unless a GPU is usable.
 *
 * @param what What asks for it, for the message.
 */
export function requireGpu(what: string): void {
  const state = gpuAvailability();
  if (!state.available) throw new GpuUnavailableError(state.reason, what);
}

/**
 * Device memory now, in bytes (for benchmarks and capacity planning).
 * @throws NativeError when no GPU is usable.
 */
export function gpuMemory(): { free: number; total: number } {
  requireGpu("gpuMemory()");
  const out = new BigUint64Array(2);
  callNative("tacit_gpu_memory", { out });
  return { free: Number(out[0]), total: Number(out[1]) };
}

/** Factor storage on the device; arithmetic is float32 whatever the storage. */
export type GpuStorage = "float32" | "float16" | "bfloat16";
const STORAGE_CODES: Record<GpuStorage, number> = { float32: 0, float16: 1, bfloat16: 2 };

/** A row-major factor matrix in GPU memory. */
export class GpuFactors extends NativeHandle {
  /**
   * Uploads `values` (`rows × factors`, float32), stored as `storage`.
   * @param values Row-major float32 values.
   * @param rows Rows.
   * @param factors Columns.
   * @param storage The device element type ("float32").
   */
  static upload(
    values: Float32Array,
    rows: number,
    factors: number,
    storage: GpuStorage = "float32",
  ): GpuFactors {
    const out = new BigUint64Array(1);
    callNative("tacit_gpu_factors_create", {
      values,
      rows,
      f: factors,
      dtype: STORAGE_CODES[storage],
      out_handle: out,
    });
    return new GpuFactors(out[0]!, rows, factors, storage);
  }

  private constructor(
    value: bigint,
    /** Rows. */
    readonly rows: number,
    /** Columns. */
    readonly factors: number,
    /** The device element type. */
    readonly storage: GpuStorage,
  ) {
    super(value, "GPU factor matrix");
  }

  /** A float32 host copy of rows [firstRow, firstRow + count). */
  download(firstRow = 0, count: number = this.rows - firstRow): Float32Array {
    const values = new Float32Array(count * this.factors);
    callNative("tacit_gpu_factors_copy", {
      matrix: this.handle,
      first_row: firstRow,
      n_rows: count,
      f: this.factors,
      direction: 1,
      values,
    });
    return values;
  }

  /** Overwrites rows from `firstRow` with `values` (whole rows, float32). */
  write(firstRow: number, values: Float32Array): void {
    callNative("tacit_gpu_factors_copy", {
      matrix: this.handle,
      first_row: firstRow,
      n_rows: values.length / this.factors,
      f: this.factors,
      direction: 0,
      values,
    });
  }
}

/** A sparse matrix in GPU memory. */
export class GpuCsr extends NativeHandle {
  /**
   * Uploads `matrix` (checked on the host first).
   * @param matrix The matrix.
   * @param options `values` keeps its values (ALS), `sorted` requires
   *   strictly increasing columns per row and `rowOf` stores each entry's
   *   row (BPR's sampler).
   */
  static upload(
    matrix: CsrMatrix,
    options: { values: boolean; sorted?: boolean; rowOf?: boolean },
  ): GpuCsr {
    const out = new BigUint64Array(1);
    callNative("tacit_gpu_csr_create", {
      n_rows: matrix.nRows,
      n_cols: matrix.nCols,
      indptr: matrix.indptr,
      indices: matrix.indices,
      data: options.values ? matrix.data : null,
      sorted: options.sorted ? 1 : 0,
      with_row_of: options.rowOf ? 1 : 0,
      out_handle: out,
    });
    return new GpuCsr(out[0]!, matrix.nRows, matrix.nCols);
  }

  private constructor(value: bigint, readonly nRows: number, readonly nCols: number) {
    super(value, "GPU sparse matrix");
  }
}

/** Options of {@link alsSolveOnGpu}. */
export interface GpuAlsSolve {
  solver: "cg" | "cholesky";
  cgSteps: number;
  regularization: number;
  alpha: number;
  /** 0: c = alpha·v (implicit's), 1: c = 1 + alpha·v (Hu et al.). */
  confidence: number;
}

/** One ALS half-sweep on the GPU: every row of `x` given `y`. */
export function alsSolveOnGpu(
  ratings: GpuCsr,
  x: GpuFactors,
  y: GpuFactors,
  options: GpuAlsSolve,
  call?: CallOptions,
): Promise<void> {
  return callNativeAsync("tacit_gpu_als_solve", {
    ratings: ratings.handle,
    x: x.handle,
    y: y.handle,
    solver: options.solver === "cg" ? 0 : 1,
    cg_steps: options.cgSteps,
    regularization: options.regularization,
    alpha: options.alpha,
    confidence: options.confidence,
  }, call);
}

/** The ALS loss on the GPU: `[objective, total confidence]` as the CPU's. */
export async function alsLossOnGpu(
  ratings: GpuCsr,
  x: GpuFactors,
  y: GpuFactors,
  options: Omit<GpuAlsSolve, "solver" | "cgSteps">,
  call?: CallOptions,
): Promise<[number, number]> {
  const out = new Float64Array(2);
  await callNativeAsync("tacit_gpu_als_loss", {
    ratings: ratings.handle,
    x: x.handle,
    y: y.handle,
    regularization: options.regularization,
    alpha: options.alpha,
    confidence: options.confidence,
    out,
  }, call);
  return [out[0]!, out[1]!];
}

/** The most results per query the GPU ranks; larger `n` ranks on the CPU. */
export const GPU_K_MAX = 2048;
