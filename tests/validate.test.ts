import assert from "node:assert/strict";
import { test } from "./harness.ts";
import {
  booleanOption,
  describe,
  finiteNumber,
  float32Array,
  idInRange,
  idsInRange,
  int32Array,
  nonNegativeInteger,
  oneOf,
  positiveInteger,
  typedArrayLength,
} from "../lib/validate.ts";

test("checkers return the value they validated", () => {
  assert.equal(positiveInteger("factors", 64), 64);
  assert.equal(nonNegativeInteger("seed", 0), 0);
  assert.equal(finiteNumber("b", 0.8, { min: 0, max: 1 }), 0.8);
  assert.equal(oneOf("device", "gpu", ["cpu", "gpu"] as const), "gpu");
  assert.equal(booleanOption("progress", false), false);
  const ids = Int32Array.of(1, 2);
  assert.equal(int32Array("ids", ids), ids);
  assert.deepEqual(idsInRange("ids", ids, 3, "items"), ids);
  assert.notEqual(idsInRange("ids", ids, 3, "items"), ids);
  assert.deepEqual(idsInRange("ids", [2, 0], 3, "items"), Int32Array.of(2, 0));
  assert.deepEqual(idsInRange("id", 2, 3, "items"), Int32Array.of(2));
  assert.equal(idInRange("userid", 941, 942, "users"), 941);
  const f = new Float32Array(6);
  assert.equal(float32Array("factors", f), f);
  assert.equal(typedArrayLength("factors", f, 6), f);
});

test("positiveInteger() refuses zero with a message naming the argument", () => {
  assert.throws(() => positiveInteger("factors", 0), {
    name: "RangeError",
    message: "Expected factors to be a positive integer but found 0",
  });
});

test("a value of the wrong type is a TypeError and a bad number is a RangeError", () => {
  assert.throws(() => positiveInteger("factors", "64"), TypeError);
  assert.throws(() => positiveInteger("factors", 1.5), RangeError);
  assert.throws(() => positiveInteger("factors", Number.NaN), RangeError);
  assert.throws(() => nonNegativeInteger("seed", -1), RangeError);
  assert.throws(() => nonNegativeInteger("seed", 2 ** 53), RangeError);
  assert.throws(() => booleanOption("progress", 1), TypeError);
  assert.throws(() => int32Array("ids", [1, 2]), {
    name: "TypeError",
    message: "Expected ids to be an Int32Array but found an array",
  });
  assert.throws(() => float32Array("factors", new Float64Array(1)), {
    name: "TypeError",
    message: "Expected factors to be a Float32Array but found a Float64Array",
  });
});

test("finiteNumber() refuses NaN, infinities and values outside its bounds", () => {
  assert.throws(() => finiteNumber("alpha", Number.NaN), {
    name: "RangeError",
    message: "Expected alpha to be a finite number but found NaN",
  });
  assert.throws(() => finiteNumber("alpha", Infinity), RangeError);
  assert.throws(() => finiteNumber("b", 1.5, { min: 0, max: 1 }), {
    message: "Expected b to be a finite number >= 0 and <= 1 but found 1.5",
  });
  assert.throws(() => finiteNumber("lr", 0, { min: 0, minExclusive: true }), {
    message: "Expected lr to be a finite number > 0 but found 0",
  });
  assert.throws(() => finiteNumber("p", 1, { max: 1, maxExclusive: true }), RangeError);
  assert.equal(finiteNumber("b", 0, { min: 0, max: 1 }), 0);
  assert.throws(() => finiteNumber("k1", null), TypeError);
});

test("oneOf() lists the allowed values and shows the one found", () => {
  assert.throws(() => oneOf("device", "tpu", ["cpu", "gpu", "auto"]), {
    name: "RangeError",
    message: "Expected device to be one of 'cpu', 'gpu', 'auto' but found 'tpu'",
  });
  assert.throws(() => oneOf("device", 3, ["cpu", "gpu"]), TypeError);
});

test("idInRange() says which id is out of range for how many", () => {
  assert.throws(() => idInRange("userid", 943, 942, "users"), {
    name: "RangeError",
    message: "userid = 943 is out of range for a model with 942 users",
  });
  assert.throws(() => idInRange("userid", -1, 942, "users"), RangeError);
  assert.throws(() => idInRange("userid", 1.5, 942, "users"), RangeError);
  assert.throws(() => idInRange("userid", "7", 942, "users"), TypeError);
});

test("idsInRange() names the first bad entry", () => {
  assert.throws(() => idsInRange("userids", Int32Array.of(0, 5, 943), 942, "users"), {
    name: "RangeError",
    message: "userids[2] = 943 is out of range for a model with 942 users",
  });
});

test("typedArrayLength() says the expected and the found length", () => {
  assert.throws(() => typedArrayLength("userFactors", new Float32Array(5), 6), {
    name: "RangeError",
    message: "Expected userFactors to have length 6 but found 5",
  });
  assert.throws(() => typedArrayLength("x", [1, 2] as unknown as Float32Array, 2), TypeError);
});

test("describe() keeps -0 and names objects by their constructor", () => {
  assert.equal(describe(-0), "-0");
  assert.equal(describe("a"), "a string 'a'");
  assert.equal(describe(undefined), "undefined");
  assert.equal(describe(new Map()), "a Map");
  assert.equal(describe({}), "an Object");
});
