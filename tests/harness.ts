/**
 * One test API for both runtimes: `deno test` registers through `Deno.test`,
 * `bun test` through `bun:test`. Test files import `test` from here and assert
 * with `node:assert/strict`, so the same files run unchanged under both.
 */

type TestFn = () => void | Promise<void>;
type Register = (name: string, fn: TestFn) => void;
type Skip = (name: string, fn: TestFn) => void;

declare const Bun: unknown;
declare const Deno: {
  test(
    options: {
      name: string;
      fn: TestFn;
      sanitizeResources: boolean;
      sanitizeOps: boolean;
      ignore?: boolean;
    },
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

async function pickSkip(): Promise<Skip> {
  if (typeof Bun !== "undefined") {
    const specifier = "bun:" + "test";
    const bunTest = (await import(specifier)) as {
      test: { skip: (name: string, fn: TestFn) => void };
    };
    return (name, fn) => bunTest.test.skip(name, fn);
  }
  return (name, fn) =>
    Deno!.test({ name, fn, sanitizeResources: false, sanitizeOps: false, ignore: true });
}

const skip: Skip = await pickSkip();

/**
 * `test` when `reason` is undefined; otherwise the test is registered as
 * skipped (Deno: "ignored", Bun: "skip"), never as passed, and the reason
 * is printed once per `group` on stderr ("skipped tests: <group>: <reason>").
 */
export function testUnless(reason: string | undefined, group: string): Register {
  if (reason === undefined) return test;
  console.error(`skipped tests: ${group}: ${reason}`);
  return skip;
}
