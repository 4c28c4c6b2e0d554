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
 * import { resolveProgress } from "./progress.ts";
 * console.assert(resolveProgress(false) === false && resolveProgress(true) === true);
 * ```
 */
export function resolveProgress(option: boolean | undefined): boolean {
  if (option !== undefined) return booleanOption("progress", option);
  return stderrIsTerminal() && process.env.TACIT_PROGRESS !== "0";
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
 * A progress bar for a loop of `total` steps.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./progress.ts";
 * const lines: string[] = [];
 * const bar = new ProgressBar({ total: 3, label: "als", enabled: true, write: (t) => lines.push(t) });
 * for (let i = 1; i <= 3; i++) bar.update(i, { loss: 1 / i });
 * bar.close();
 * console.assert(lines.at(-1)!.includes("3/3"));
 * ```
 */
export class ProgressBar implements Disposable {
  readonly total: number;
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
   * import { ProgressBar } from "./progress.ts";
   * const bar = new ProgressBar({ total: 10, enabled: false });
   * bar.update(1, { loss: 0.5 });
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
   * import { ProgressBar } from "./progress.ts";
   * new ProgressBar({ total: 1, enabled: false }).close();
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
