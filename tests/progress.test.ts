import assert from "node:assert/strict";
import process from "node:process";
import { test } from "./harness.ts";
import { ProgressBar, resolveProgress } from "../lib/progress.ts";

/** A sink that records writes and a clock the test moves by hand. */
function rig() {
  const writes: string[] = [];
  let ms = 0;
  return {
    writes,
    tick: (by: number) => void (ms += by),
    options: { write: (t: string) => void writes.push(t), now: () => ms },
  };
}

test("a disabled progress bar prints nothing", () => {
  const { writes, options } = rig();
  const bar = new ProgressBar({ total: 5, enabled: false, interactive: true, ...options });
  for (let i = 1; i <= 5; i++) bar.update(i, { loss: 0.1 });
  bar.close();
  assert.deepEqual(writes, []);
});

test("off a terminal, a bar prints nothing unless enabled is explicitly true", () => {
  const { writes, options } = rig();
  const bar = new ProgressBar({ total: 3, interactive: false, ...options });
  bar.update(1);
  bar.close();
  assert.deepEqual(writes, []);
});

test("enabled off a terminal, a bar prints one line per update with counts, timing and postfix", () => {
  const { writes, tick, options } = rig();
  const bar = new ProgressBar({
    total: 4,
    label: "als",
    enabled: true,
    interactive: false,
    ...options,
  });
  for (let i = 1; i <= 4; i++) {
    tick(500);
    bar.update(i, { loss: 0.0123, epoch: i });
  }
  bar.close();
  assert.equal(writes.length, 4);
  assert.ok(writes.every((line) => line.endsWith("\n") && !line.includes("\r")));
  assert.match(
    writes[0]!,
    /^als {2}25%\|█████ +\| 1\/4 \[00:00<00:01, 0\.500s\/it, loss=0\.0123, epoch=1\]\n$/,
  );
  assert.match(
    writes[3]!,
    /100%\|█{20}\| 4\/4 \[00:02<00:00, 0\.500s\/it, loss=0\.0123, epoch=4\]/,
  );
});

test("on a terminal, a bar redraws in place at most ten times a second", () => {
  const { writes, tick, options } = rig();
  const bar = new ProgressBar({ total: 1000, enabled: true, interactive: true, ...options });
  for (let i = 1; i <= 1000; i++) {
    tick(1); // 1000 updates over one second
    bar.update(i);
  }
  bar.close();
  assert.ok(writes.length <= 13, `${writes.length} writes`);
  assert.ok(writes.slice(0, -1).every((w) => w.startsWith("\r")));
  assert.ok(writes.at(-2)!.includes("1000/1000"));
  assert.equal(writes.at(-1), "\n");
});

test("close() draws the last update that the throttle skipped", () => {
  const { writes, tick, options } = rig();
  const bar = new ProgressBar({ total: 10, enabled: true, interactive: true, ...options });
  bar.update(1);
  tick(10);
  bar.update(2, { loss: 1.5 });
  assert.equal(writes.length, 1);
  bar.close();
  assert.ok(writes[1]!.includes("2/10") && writes[1]!.includes("loss=1.5"));
  bar.update(3);
  assert.equal(writes.length, 3);
});

test("before any step completes the rate is unknown", () => {
  const { writes, options } = rig();
  const bar = new ProgressBar({ total: 2, enabled: true, interactive: false, ...options });
  bar.update(0);
  assert.match(writes[0]!, / 0\/2 \[00:00<\?, \?s\/it\]/);
});

test("resolveProgress() follows an explicit option and TACIT_PROGRESS=0 turns the default off", () => {
  assert.equal(resolveProgress(true), true);
  assert.equal(resolveProgress(false), false);
  assert.throws(() => resolveProgress("yes" as unknown as boolean), TypeError);
  const saved = process.env.TACIT_PROGRESS;
  process.env.TACIT_PROGRESS = "0";
  try {
    assert.equal(resolveProgress(undefined), false);
  } finally {
    if (saved === undefined) delete process.env.TACIT_PROGRESS;
    else process.env.TACIT_PROGRESS = saved;
  }
});

test("a bad total is refused", () => {
  assert.throws(() => new ProgressBar({ total: -1 }), RangeError);
  assert.throws(
    () => new ProgressBar({ total: 1, enabled: "yes" as unknown as boolean }),
    TypeError,
  );
});
