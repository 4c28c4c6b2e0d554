/**
 * Bun adapter: `bun:ffi`. Bun has no nonblocking FFI calls, so
 * `callExportAsync` runs the call on a worker thread of its own: the worker
 * opens the same library (the same process-wide thread pool) and calls the
 * export with the addresses of the packed arguments and the context, whose
 * buffers the caller keeps alive until the promise settles. The event loop
 * stays free meanwhile, so an AbortSignal can fire during a long call and set
 * the context's cancel flag, as under Deno.
 *
 * Calls reach the worker in order and run one at a time there. The worker
 * does not keep the process alive while no call is pending. Where no worker
 * can be started, `callExportAsync` falls back to yielding one macrotask and
 * calling synchronously (an abort then takes effect at the next call).
 *
 * @module
 */
import { type Adapter, type NativeLibrary, plainLibrary, type Symbols } from "./adapter.ts";

// A computed specifier keeps Deno's type checker from resolving a Bun-only module.
const ffiSpecifier = "bun:" + "ffi";
const ffi = (await import(ffiSpecifier)) as {
  dlopen(path: string, defs: Record<string, unknown>): { symbols: Symbols; close(): void };
  ptr(view: ArrayBufferView): number;
};

const plainDefs = {
  tacit_abi_version: { args: [], returns: "i32" },
  tacit_abi_describe: { args: ["ptr", "i32"], returns: "i32" },
  tacit_set_num_threads: { args: ["i32"], returns: "i32" },
  tacit_get_num_threads: { args: [], returns: "i32" },
};

/** The worker's program: open the library, then run each call it is sent, in order. */
const WORKER_SOURCE = `
let symbols;
self.onmessage = async (event) => {
  const message = event.data;
  if (message.kind === "open") {
    const { dlopen } = await import("bun:ffi");
    const defs = {};
    for (const name of message.names) defs[name] = { args: ["ptr", "ptr"], returns: "i32" };
    symbols = dlopen(message.path, defs).symbols;
    return;
  }
  try {
    postMessage({ id: message.id, status: symbols[message.name](message.args, message.context) });
  } catch (error) {
    postMessage({ id: message.id, error: String(error?.stack ?? error) });
  }
};
`;

/** What this adapter uses of Bun's `Worker` (declared here: the npm build has no DOM types). */
interface BunWorker {
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: { message: string }) => void) | null;
  postMessage(message: unknown): void;
  terminate(): void;
  ref?(): void;
  unref?(): void;
}

const WorkerClass = (globalThis as { Worker?: new (url: string) => BunWorker }).Worker;

/** One worker thread that runs the library's exports for `callExportAsync`. */
class CallWorker {
  readonly #worker: BunWorker;
  /** The blob URL of the worker's program (loaded asynchronously: revoked on close). */
  readonly #url: string;
  readonly #pending = new Map<number, { resolve(status: number): void; reject(e: Error): void }>();
  #nextId = 1;
  #failure: Error | undefined;

  constructor(path: string, exportNames: readonly string[]) {
    this.#url = URL.createObjectURL(
      new Blob([WORKER_SOURCE], { type: "application/javascript" }),
    );
    this.#worker = new WorkerClass!(this.#url);
    this.#worker.onmessage = (event) =>
      this.#settle(event.data as { id: number; status?: number; error?: string });
    this.#worker.onerror = (event) => {
      this.#fail(new Error(`tacit: the native call worker failed: ${event.message}`));
    };
    this.#worker.postMessage({ kind: "open", path, names: exportNames });
    this.#worker.unref?.();
  }

  call(name: string, args: Uint8Array, context: Uint8Array): Promise<number> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise<number>((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref?.();
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({
        kind: "call",
        id,
        name,
        args: ffi.ptr(args),
        context: ffi.ptr(context),
      });
    });
  }

  close(): void {
    this.#fail(new Error("tacit: the native library was closed during a call"));
    this.#worker.terminate();
    URL.revokeObjectURL(this.#url);
  }

  #settle(message: { id: number; status?: number; error?: string }): void {
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id);
    if (this.#pending.size === 0) this.#worker.unref?.();
    if (message.error !== undefined) pending.reject(new Error(message.error));
    else pending.resolve(message.status!);
  }

  #fail(error: Error): void {
    this.#failure = error;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
    this.#worker.unref?.();
  }
}

export const adapter: Adapter = {
  openPlain(path) {
    const lib = ffi.dlopen(path, plainDefs);
    return plainLibrary(lib.symbols, () => lib.close());
  },
  openLibrary(path, exportNames): NativeLibrary {
    const defs: Record<string, unknown> = { ...plainDefs };
    for (const name of exportNames) defs[name] = { args: ["ptr", "ptr"], returns: "i32" };
    const lib = ffi.dlopen(path, defs);
    const symbols = lib.symbols;
    const callExport = (name: string, args: Uint8Array, context: Uint8Array): number =>
      symbols[name]!(args, context) as number;
    let worker: CallWorker | null | undefined;
    const callWorker = (): CallWorker | null => {
      if (worker === undefined) {
        try {
          worker = WorkerClass === undefined ? null : new CallWorker(path, exportNames);
        } catch {
          worker = null;
        }
      }
      return worker;
    };
    return {
      ...plainLibrary(symbols, () => {
        worker?.close();
        lib.close();
      }),
      callExport,
      callExportAsync: (name, args, context) => {
        const runner = callWorker();
        if (runner !== null) return runner.call(name, args, context);
        return new Promise((resolve, reject) => {
          setTimeout(() => {
            try {
              resolve(callExport(name, args, context));
            } catch (error) {
              reject(error);
            }
          }, 0);
        });
      },
      address: (view) => ffi.ptr(view),
    };
  },
};
