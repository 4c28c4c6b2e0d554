/**
 * The native boundary: the ABI description both sides hold, checked lengths
 * on every export (driven from the declaration, so a new export is covered
 * without a new test), errors that belong to their call, and drift between
 * the Zig and TypeScript declarations.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  declarationOf,
  type ExportName,
  firstDifference,
  lengthFormula,
} from "../lib/native/abi.ts";
import {
  callNative,
  callNativeAsync,
  libraryDescription,
  observeNativeCalls,
} from "../lib/native/library.ts";
import { abiDescription } from "../lib/native/symbols.ts";
import { test } from "./harness.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

type Declaration = (typeof abiDescription)["exports"][number];
type Param = Declaration["params"][number];

const arrayTypes = {
  u8: Uint8Array,
  i32: Int32Array,
  u64: BigUint64Array,
  f32: Float32Array,
  f64: Float64Array,
} as const;

/** Arguments of the declared lengths: counts 2, i32 buffers of ones (so every nnz is 1), other buffers zero. */
function wellShapedArgs(declaration: Declaration): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  const counts = new Map<string, number>();
  for (const p of declaration.params) {
    if (p.kind === "buffer") continue;
    if (p.kind === "handle") {
      args[p.name] = 1n; // never issued: native code refuses it, after the length checks
      continue;
    }
    args[p.name] = p.kind === "count" ? 2 : 0;
    if (p.kind === "count") counts.set(p.name, 2);
  }
  for (const p of declaration.params) {
    if (p.kind !== "buffer") continue;
    const length = p.length.lastOf !== null
      ? (args[p.length.lastOf] as Int32Array).at(-1)!
      : p.length.product.reduce(
        (n: number, factor: string) => n * counts.get(factor)!,
        p.length.scale,
      ) + p.length.add;
    const array = new arrayTypes[p.element](length);
    if (array instanceof Int32Array) array.fill(1);
    args[p.name] = array;
  }
  return args;
}

function countNativeCalls(run: () => void): number {
  let calls = 0;
  const stop = observeNativeCalls(() => calls++);
  try {
    run();
  } finally {
    stop();
  }
  return calls;
}

test("the library describes exactly the ABI that lib/native/symbols.ts was generated from", () => {
  assert.deepEqual(libraryDescription(), abiDescription);
  assert.equal(firstDifference(abiDescription, libraryDescription()), undefined);
});

test("every export refuses a too-short buffer before native code runs", () => {
  let refused = 0;
  for (const declaration of abiDescription.exports) {
    const name = declaration.name as ExportName;
    const args = wellShapedArgs(declaration);
    // Well-shaped arguments reach native code (which may still refuse their content).
    const reached = countNativeCalls(() => {
      try {
        callNative(name, args as never);
      } catch (error) {
        assert.ok(
          !/elements/.test((error as Error).message),
          `${name}: ${(error as Error).message}`,
        );
      }
    });
    assert.equal(reached, 1, `${name} with well-shaped arguments reaches native code`);
    for (const p of declaration.params) {
      if (p.kind !== "buffer") continue;
      const full = args[p.name] as Int32Array;
      if (full.length === 0) continue;
      const short = { ...args, [p.name]: full.subarray(0, full.length - 1) };
      const calls = countNativeCalls(() => {
        assert.throws(() => callNative(name, short as never), {
          name: "TypeError",
          message: `Expected ${p.name} to have ${full.length} elements (${
            lengthFormula(p.length)
          }) but found ${full.length - 1}`,
        });
      });
      assert.equal(calls, 0, `${name}.${p.name}: refused before native code`);
      refused++;
    }
  }
  let buffers = 0;
  for (const declaration of abiDescription.exports) {
    for (const p of declaration.params) if (p.kind === "buffer") buffers++;
  }
  assert.equal(refused, buffers, "every buffer of every export was shortened once");
});

test("arguments are named: an unknown or missing name, a wrong array type or a negative count is refused", () => {
  const values = Float32Array.of(1, Number.NaN);
  const out = new Int32Array(1);
  assert.throws(
    () =>
      callNative("tacit_count_nonfinite", { values, len: 2, out_count: out, extra: 1 } as never),
    {
      name: "TypeError",
      message: /has no parameter extra/,
    },
  );
  assert.throws(
    () => callNative("tacit_count_nonfinite", { values, len: 2 } as never),
    /out_count to be given/,
  );
  assert.throws(
    () =>
      callNative(
        "tacit_count_nonfinite",
        { values: Float64Array.of(1, 2), len: 2, out_count: out } as never,
      ),
    {
      name: "TypeError",
      message: "Expected values to be a Float32Array but found a Float64Array",
    },
  );
  assert.throws(
    () => callNative("tacit_count_nonfinite", { values, len: -1, out_count: out }),
    RangeError,
  );
  assert.throws(
    () => callNative("tacit_count_nonfinite", { values, len: 1.5, out_count: out }),
    RangeError,
  );
  callNative("tacit_count_nonfinite", { values, len: 2, out_count: out });
  assert.equal(out[0], 1);
});

test("a buffer passed as a subarray is read from its own offset", () => {
  const base = new Float32Array(10);
  base[5] = Number.NaN;
  const out = new Int32Array(1);
  callNative("tacit_count_nonfinite", { values: base.subarray(4, 8), len: 4, out_count: out });
  assert.equal(out[0], 1);
  callNative("tacit_count_nonfinite", { values: base.subarray(6), len: 4, out_count: out });
  assert.equal(out[0], 0);
  callNative("tacit_count_nonfinite", {
    values: base.subarray(5, 6),
    len: 1,
    out_count: out.subarray(0, 1),
  });
  assert.equal(out[0], 1);
});

test("1,000 concurrent failing calls each report their own message and error class", async () => {
  const calls = Array.from({ length: 1000 }, (_, i) => {
    if (i % 2 === 0) {
      // An index out of range for i + 1 columns: RangeError naming i + 1.
      const indices = Int32Array.of(i + 1);
      return {
        expected: {
          name: "RangeError",
          message: `indices[0] = ${i + 1} is out of range for ${i + 1} columns`,
        },
        promise: callNativeAsync("tacit_csr_check", {
          n_rows: 1,
          n_cols: i + 1,
          indptr: Int32Array.of(0, 1),
          indices,
          data: null,
        }),
      };
    }
    // An indptr that does not start at 0: TypeError naming i.
    return {
      expected: { name: "TypeError", message: `Expected indptr[0] to be 0 but found ${i}` },
      promise: callNativeAsync("tacit_csr_check", {
        n_rows: 1,
        n_cols: 5,
        indptr: Int32Array.of(i, i),
        indices: new Int32Array(i),
        data: null,
      }),
    };
  });
  const settled = await Promise.allSettled(calls.map((call) => call.promise));
  settled.forEach((result, i) => {
    assert.equal(result.status, "rejected", `call ${i}`);
    const error = (result as PromiseRejectedResult).reason as Error;
    assert.equal(error.name, calls[i]!.expected.name, `call ${i}: ${error.message}`);
    assert.equal(error.message, calls[i]!.expected.message, `call ${i}`);
  });
});

test("a call's thread limit is its own: the pool is never resized by it", async () => {
  const seen: { threads: number; used: number }[] = [];
  const values = new Float32Array(1 << 16);
  const out = new Int32Array(1);
  for (const threads of [1, 2, 0]) {
    const stop = observeNativeCalls((record) => seen.push({ threads, used: record.threadsUsed }));
    await callNativeAsync("tacit_count_nonfinite", { values, len: values.length, out_count: out }, {
      threads,
    });
    stop();
  }
  assert.equal(seen[0]!.used, 1);
  assert.ok(seen[1]!.used <= 2 && seen[1]!.used >= 1);
  assert.ok(seen[2]!.used >= seen[1]!.used);
});

test("declarations that differ are named at their first difference, on either side", () => {
  const swap = (description: typeof abiDescription, name: string, a: number, b: number) => {
    const copy = structuredClone(description) as unknown as {
      exports: { name: string; params: unknown[] }[];
    };
    const target = copy.exports.find((e) => e.name === name)!;
    [target.params[a], target.params[b]] = [target.params[b], target.params[a]];
    return copy;
  };
  const library = libraryDescription() as typeof abiDescription;
  // n_rows and n_cols of tacit_bpr_epoch: two i32 counts, the swap that type checks cannot catch.
  const zigSide = firstDifference(abiDescription, swap(library, "tacit_bpr_epoch", 0, 1));
  assert.match(
    zigSide!,
    /tacit_bpr_epoch\]\.params\[0: n_rows\]\.name: expected "n_rows" but found "n_cols"/,
  );
  const tsSide = firstDifference(swap(abiDescription, "tacit_als_solve", 8, 9), library);
  assert.match(
    tsSide!,
    /tacit_als_solve\]\.params\[8: f\]\.name: expected "f" but found "n_other"/,
  );
  const resized = structuredClone(library) as unknown as { exports: { size: number }[] };
  resized.exports[0]!.size += 8;
  assert.match(firstDifference(abiDescription, resized)!, /\.size: expected \d+ but found \d+/);
  assert.equal(declarationOf("tacit_gram").name, "tacit_gram");
});

/** Loads the package at `packageRoot` (with `lib` = TACIT_LIB when given) in a fresh process. */
function loadFresh(packageRoot: string, lib?: string): { status: number | null; output: string } {
  const file = join(mkdtempSync(join(tmpdir(), "tacit-abi-")), "probe.ts");
  const mod = new URL(`file://${join(packageRoot, "mod.ts")}`).href;
  writeFileSync(
    file,
    `import * as tacit from ${
      JSON.stringify(mod)
    };\nconsole.log("threads=" + tacit.getNumThreads());\n`,
  );
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
  if (lib !== undefined) env.TACIT_LIB = lib;
  const result = spawnSync(process.execPath, isBun ? [file] : ["run", "-A", file], {
    env,
    encoding: "utf8",
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function packageCopy(): string {
  const copy = mkdtempSync(join(tmpdir(), "tacit-drift-"));
  for (const entry of ["lib", "mod.ts"]) {
    cpSync(join(root, entry), join(copy, entry), { recursive: true });
  }
  return copy;
}

test("a TypeScript declaration with two arguments swapped refuses to load the library", () => {
  const copy = packageCopy();
  const symbols = join(copy, "lib", "native", "symbols.ts");
  const text = readFileSync(symbols, "utf8");
  // Swap the names of tacit_als_solve's first two parameters (solver, cg_steps: both i32).
  const start = text.indexOf('name: "tacit_als_solve"');
  const solver = text.indexOf('name: "solver"', start);
  const cgSteps = text.indexOf('name: "cg_steps"', start);
  assert.ok(start > 0 && solver > start && cgSteps > solver);
  const swapped = text.slice(0, solver) + 'name: "cg_steps"' +
    text.slice(solver + 'name: "solver"'.length, cgSteps) + 'name: "solver"' +
    text.slice(cgSteps + 'name: "cg_steps"'.length);
  writeFileSync(symbols, swapped);
  const library = process.env.TACIT_LIB ?? join(root, "zig-out", "lib", "libtacit.so");
  const { status, output } = loadFresh(copy, library);
  assert.notEqual(status, 0, output);
  assert.match(
    output,
    /does not implement the native ABI .*tacit_als_solve\]\.params\[0: cg_steps\]\.name: expected "cg_steps" but found "solver"/,
  );
  const intact = loadFresh(root, library);
  assert.equal(intact.status, 0, intact.output);
});

test("a Zig declaration with two arguments swapped builds a library this module refuses (rebuilt under Deno only)", () => {
  if (isBun) return; // one rebuild is enough: the loader's check is the same code on both runtimes
  const zig = process.env.TACIT_ZIG ?? join(root, ".tools", "py", "ziglang", "zig");
  const copy = mkdtempSync(join(tmpdir(), "tacit-zig-drift-"));
  for (const entry of ["zig", "build.zig", "build.zig.zon"]) {
    cpSync(join(root, entry), join(copy, entry), { recursive: true });
  }
  const source = join(copy, "zig", "c_api_sgd.zig");
  const text = readFileSync(source, "utf8");
  const declaration = 'name = "tacit_bpr_epoch", .long = true, .params = &([_]abi.Param{\n';
  const swapped = text.replace(
    `${declaration}    count("n_rows"),\n    count("n_cols"),\n`,
    `${declaration}    count("n_cols"),\n    count("n_rows"),\n`,
  );
  assert.notEqual(swapped, text, "the bpr_epoch declaration was found");
  writeFileSync(source, swapped);
  const build = spawnSync(zig, ["build", "-Doptimize=Debug", "--prefix", join(copy, "out")], {
    cwd: copy,
    encoding: "utf8",
  });
  assert.equal(build.status, 0, build.stderr);
  const { status, output } = loadFresh(root, join(copy, "out", "lib", "libtacit.so"));
  assert.notEqual(status, 0, output);
  assert.match(
    output,
    /tacit_bpr_epoch\]\.params\[0: n_rows\]\.name: expected "n_rows" but found "n_cols"/,
  );
});
