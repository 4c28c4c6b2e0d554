/**
 * A progress bar on stderr for loops a user waits on (fit epochs, index builds):
 *
 * ```
 * als  40%|████████            | 6/15 [00:03<00:04, 0.512s/it, loss=0.0123]
 * ```
 *
 * On a terminal it redraws in place with `\r`, at most about ten times a second
 * (the first and last update always draw). Off a terminal it prints nothing,
 * unless `enabled` was explicitly `true`; then it prints one line per update.
 *
 * @module
 */
import process from "node:process";
import { isatty } from "node:tty";
import { Access } from "./native/access.ts";
import { booleanOption, describe, nonNegativeInteger } from "./validate.ts";

/** Options of {@link ProgressBar}. */
export interface ProgressOptions {
  /** Number of steps in all. */
  total: number;
  /** Shown before the bar. Default none. */
  label?: string;
  /** Show the bar. Default {@link resolveProgress}(undefined). */
  enabled?: boolean;
  /** Where text goes. Default `process.stderr.write`. */
  write?: (text: string) => void;
  /** Redraw in place with `\r` (a terminal) rather than one line per update. Default: stderr is a TTY. */
  interactive?: boolean;
  /** Milliseconds clock. Default `performance.now`. */
  now?: () => number;
}

const REDRAW_MS = 100;
const BAR_WIDTH = 20;
const EIGHTHS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

function stderrIsTerminal(): boolean {
  try {
    return isatty(2);
  } catch {
    return false;
  }
}

/**
 * Whether a model should show progress: an explicit option wins; left out, progress
 * shows when stderr is a terminal and the environment variable `TACIT_PROGRESS` is not `"0"`.
 *
 * @param option The user's `progress` option.
 * @returns Whether to show a progress bar.
 * @throws TypeError when `option` is neither a boolean nor undefined.
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { resolveProgress } from "./progress.ts";
 * equal(resolveProgress(false), false);
 * equal(resolveProgress(true), true);
 * // @ts-expect-error: not a boolean
 * throws(() => resolveProgress("yes"), TypeError);
 * ```
 */
export function resolveProgress(option: boolean | undefined): boolean {
  if (option !== undefined) return booleanOption("progress", option);
  return stderrIsTerminal() && new Access().env("TACIT_PROGRESS") !== "0";
}

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  const mm = String(Math.floor(s / 60) % 60).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

function formatValue(value: string | number): string {
  if (typeof value === "string" || Number.isInteger(value) || !Number.isFinite(value)) {
    return String(value);
  }
  return String(Number(value.toPrecision(4)));
}

function bar(fraction: number): string {
  const eighths = Math.round(fraction * BAR_WIDTH * 8);
  const full = Math.floor(eighths / 8);
  const partial = EIGHTHS[eighths % 8]!;
  return ("█".repeat(full) + partial).padEnd(BAR_WIDTH, " ");
}

/**
 * A progress bar for a loop of `total` steps. A line reads `label percent|bar| done/total
 * [elapsed<remaining, seconds per step, postfix]`, times as mm:ss (h:mm:ss from an hour).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { ProgressBar } from "./progress.ts";
 * const lines: string[] = [];
 * let clock = 0; // milliseconds
 * const bar = new ProgressBar({
 *   total: 4,
 *   label: "als",
 *   enabled: true,
 *   interactive: false, // one line per update
 *   write: (text) => lines.push(text),
 *   now: () => clock,
 * });
 * clock = 500;
 * bar.update(1, { loss: 0.0123456 }); // 1 of 4 after 0.5 s: 0.5 s per step, 1.5 s to go
 * clock = 2000;
 * bar.update(4, { loss: 0.5 });
 * bar.close();
 * deepStrictEqual(lines, [
 *   "als  25%|█████               | 1/4 [00:00<00:01, 0.500s/it, loss=0.01235]\n",
 *   "als 100%|████████████████████| 4/4 [00:02<00:00, 0.500s/it, loss=0.5]\n",
 * ]);
 * ```
 */
export class ProgressBar implements Disposable {
  /** Number of steps in all. */
  readonly total: number;
  /** Whether the bar writes anything (see {@link ProgressOptions.enabled}). */
  readonly enabled: boolean;
  readonly #label: string;
  readonly #write: (text: string) => void;
  readonly #interactive: boolean;
  readonly #now: () => number;
  readonly #start: number;
  #lastDraw = -Infinity;
  #line = "";
  #drawn = "";
  #closed = false;

  /**
   * A bar at 0 of `total` steps; the clock starts now. Left out, `enabled` is true only on a
   * terminal with progress allowed ({@link resolveProgress}); an explicit `enabled: true`
   * prints off a terminal too, one line per update.
   *
   * @param options `total` steps; optional `label`, `enabled`, `write`, `interactive`, `now`.
   * @throws TypeError / RangeError for a `total` that is not a non-negative integer or a wrong option type.
   */
  constructor(options: ProgressOptions) {
    this.total = nonNegativeInteger("total", options.total);
    const label = options.label ?? "";
    if (typeof label !== "string") {
      throw new TypeError(`Expected label to be a string but found ${describe(label)}`);
    }
    this.#label = label;
    const explicit = options.enabled;
    const terminal = options.interactive === undefined
      ? stderrIsTerminal()
      : booleanOption("interactive", options.interactive);
    // Off a terminal, only an explicit `enabled: true` prints.
    this.enabled = explicit === undefined
      ? resolveProgress(undefined) && terminal
      : booleanOption("enabled", explicit);
    this.#interactive = terminal;
    this.#write = options.write ?? ((text) => void process.stderr.write(text));
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /**
   * Records that `done` steps are complete and redraws when due.
   *
   * @param done Steps completed so far (clamped to [0, total]).
   * @param postfix Values shown after the timing, e.g. `{ loss: 0.0123 }` → `loss=0.0123`.
   * @returns Nothing.
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * import { ProgressBar } from "./progress.ts";
   * const written: string[] = [];
   * const off = new ProgressBar({ total: 10, enabled: false, write: (t) => written.push(t) });
   * off.update(1, { loss: 0.5 });
   * equal(written.length, 0); // a disabled bar writes nothing
   * const clamped = new ProgressBar({ total: 2, enabled: true, interactive: false, write: (t) => written.push(t), now: () => 0 });
   * clamped.update(5);
   * equal(written[0], "100%|████████████████████| 2/2 [00:00<00:00, 0.000s/it]\n");
   * ```
   */
  update(done: number, postfix?: Record<string, string | number>): void {
    if (!this.enabled || this.#closed) return;
    const now = this.#now();
    this.#line = this.#format(done, now, postfix);
    if (!this.#interactive) {
      this.#write(this.#line + "\n");
      return;
    }
    const first = this.#lastDraw === -Infinity;
    if (first || done >= this.total || now - this.#lastDraw >= REDRAW_MS) this.#draw(now);
  }

  /**
   * Draws the last state (on a terminal) and ends the line. Further updates are ignored.
   *
   * @returns Nothing.
   * @example
   * ```ts
   * import { deepStrictEqual } from "node:assert/strict";
   * import { ProgressBar } from "./progress.ts";
   * const written: string[] = [];
   * const bar = new ProgressBar({ total: 2, enabled: true, interactive: true, write: (t) => written.push(t), now: () => 0 });
   * bar.update(1); // the first update always draws, in place
   * bar.close(); // ends the line
   * bar.update(2); // ignored
   * deepStrictEqual(written, ["\r 50%|██████████          | 1/2 [00:00<00:00, 0.000s/it]", "\n"]);
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.enabled || !this.#interactive || this.#line === "") return;
    if (this.#drawn !== this.#line) this.#draw(this.#now());
    this.#write("\n");
  }

  /** Closes the bar, for `using bar = new ProgressBar(...)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #draw(now: number): void {
    const pad = " ".repeat(Math.max(0, this.#drawn.length - this.#line.length));
    this.#write("\r" + this.#line + pad);
    this.#drawn = this.#line;
    this.#lastDraw = now;
  }

  #format(done: number, now: number, postfix?: Record<string, string | number>): string {
    const total = this.total;
    const steps = Math.min(Math.max(Number.isFinite(done) ? done : 0, 0), total);
    const fraction = total === 0 ? 1 : steps / total;
    const elapsed = (now - this.#start) / 1000;
    const perStep = steps > 0 ? elapsed / steps : undefined;
    const remaining = perStep === undefined ? "?" : clock(perStep * (total - steps));
    const rate = perStep === undefined ? "?s/it" : `${perStep.toFixed(perStep < 10 ? 3 : 1)}s/it`;
    const extra = postfix === undefined
      ? ""
      : Object.entries(postfix).map(([k, v]) => `, ${k}=${formatValue(v)}`).join("");
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4, " ");
    const label = this.#label === "" ? "" : `${this.#label} `;
    return `${label}${percent}|${bar(fraction)}| ${steps}/${total} [${
      clock(elapsed)
    }<${remaining}, ${rate}${extra}]`;
  }
}
