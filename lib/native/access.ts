/**
 * Environment reads and file checks that never throw for a missing Deno
 * permission: what is not granted reads as unset or absent, and the
 * {@link Access} object remembers which flag was missing so that an error
 * raised later can say so. Under Deno a permission is queried first
 * (`Deno.permissions.querySync`), so nothing prompts; under Bun and Node
 * everything is granted and only real errors count.
 *
 * @module
 */
import { existsSync, statSync } from "node:fs";
import process from "node:process";

/** A Deno permission as `Deno.permissions.querySync` takes it. */
export type Permission =
  | { name: "env"; variable: string }
  | { name: "read" | "write"; path: string }
  | { name: "run"; command: string };

interface DenoPermissions {
  permissions: { querySync(descriptor: Permission): { state: string } };
}

/** `Deno`, or undefined under Bun and Node. */
const deno = (globalThis as unknown as { Deno?: DenoPermissions }).Deno;

/** The flag that grants a permission, e.g. `--allow-read=/srv/app`. */
export function flagFor(permission: Permission): string {
  switch (permission.name) {
    case "env":
      return `--allow-env=${permission.variable}`;
    case "run":
      return `--allow-run`;
    default:
      return `--allow-${permission.name}=${permission.path}`;
  }
}

/**
 * Whether the runtime grants a permission without prompting: always under
 * Bun and Node; under Deno only when it is `granted` (a `prompt` state counts
 * as not granted, so a library load never stops to ask).
 */
export function granted(permission: Permission): boolean {
  if (deno === undefined) return true;
  try {
    return deno.permissions.querySync(permission).state === "granted";
  } catch {
    return false;
  }
}

/** Permission-tolerant reads that remember what they were refused. */
export class Access {
  /** One line per refused read, e.g. `no --allow-env=TACIT_LIB: TACIT_LIB was treated as unset`. */
  readonly denied: string[] = [];

  /** Records a refusal once. */
  deny(line: string): void {
    if (!this.denied.includes(line)) this.denied.push(line);
  }

  /** Whether `permission` is granted; a refusal is recorded with `why`. */
  check(permission: Permission, why: string): boolean {
    if (granted(permission)) return true;
    this.deny(`no ${flagFor(permission)}: ${why}`);
    return false;
  }

  /** An environment variable, or undefined when it is unset, empty or not readable. */
  env(name: string): string | undefined {
    if (!this.check({ name: "env", variable: name }, `${name} was treated as unset`)) {
      return undefined;
    }
    try {
      const value = process.env[name];
      return value === undefined || value === "" ? undefined : value;
    } catch (error) {
      this.deny(`reading ${name} failed (${(error as Error).message}): treated as unset`);
      return undefined;
    }
  }

  /** Whether `path` exists; false (recorded) when it may not be read. */
  exists(path: string): boolean {
    if (!this.check({ name: "read", path }, `${path} was treated as absent`)) return false;
    try {
      return existsSync(path);
    } catch (error) {
      this.deny(`checking ${path} failed (${(error as Error).message}): treated as absent`);
      return false;
    }
  }

  /** The modification time of `path` in ms, or undefined when it is absent or not readable. */
  mtimeMs(path: string): number | undefined {
    if (!this.exists(path)) return undefined;
    try {
      return statSync(path).mtimeMs;
    } catch {
      return undefined;
    }
  }
}
