/**
 * One test API for both runtimes: `deno test` registers through `Deno.test`,
 * `bun test` through `bun:test`. Test files import `test` from here and assert
 * with `node:assert/strict`, so the same files run unchanged under both.
 */

type TestFn = () => void | Promise<void>;
type Register = (name: string, fn: TestFn) => void;

declare const Bun: unknown;
declare const Deno: {
  test(
    options: { name: string; fn: TestFn; sanitizeResources: boolean; sanitizeOps: boolean },
  ): void;
} | undefined;

async function pickRegister(): Promise<Register> {
  if (typeof Bun !== "undefined") {
    // A computed specifier keeps Deno's type checker from resolving a Bun-only module.
    const specifier = "bun:" + "test";
    const bunTest = (await import(specifier)) as {
      test: (name: string, fn: TestFn, timeoutMs: number) => void;
    };
    return (name, fn) => bunTest.test(name, fn, 120_000);
  }
  if (typeof Deno !== "undefined") {
    // FFI nonblocking calls and the finalization registry outlive a test by design.
    return (name, fn) => Deno.test({ name, fn, sanitizeResources: false, sanitizeOps: false });
  }
  throw new Error("tests run under Deno (deno test) or Bun (bun test)");
}

export const test: Register = await pickRegister();
