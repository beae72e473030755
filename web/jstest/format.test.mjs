// format.test.mjs: how the page writes numbers and sentences (format.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { duration, errorText, num, pct, plural, sentence } from "../format.js";

test("errorText: an error's message, or what was thrown", () => {
  assert.equal(errorText(new Error("out of memory")), "out of memory");
  assert.equal(errorText("stopped"), "stopped");
  assert.equal(errorText(undefined), "undefined");
  assert.equal(errorText({ message: "" }), "[object Object]");
});

test("sentence: a capital and a full stop, unless it has one", () => {
  const cases = [
    ["predict the rotation", "Predict the rotation."],
    ["  two views ", "Two views."],
    ["done!", "Done!"],
    ["why?", "Why?"],
    ["Already.", "Already."],
    ["", "."],
    [42, "42."],
  ];
  for (const [text, want] of cases) assert.equal(sentence(text), want, JSON.stringify(text));
});

test("plural", () => {
  assert.equal(plural(0, "photo"), "0 photos");
  assert.equal(plural(1, "photo"), "1 photo");
  assert.equal(plural(2, "named photo"), "2 named photos");
});

test("pct and num: fixed digits, a dash for no number", () => {
  const cases = [
    [pct(0.625), "62.5%"],
    [pct(1), "100.0%"],
    [pct(0), "0.0%"],
    [pct(0.12345), "12.3%"],
    [pct(NaN), "–"],
    [pct(undefined), "–"],
    [pct(Infinity), "–"],
    [num(1.23456), "1.235"],
    [num(-0.5, 1), "-0.5"],
    [num(2, 0), "2"],
    [num(null), "–"],
    [num("1"), "–"],
  ];
  for (const [got, want] of cases) assert.equal(got, want);
});

test("duration: m:ss below an hour, h:mm:ss above", () => {
  const cases = [
    [0, "0:00"],
    [9.4, "0:09"],
    [59.6, "1:00"],
    [61, "1:01"],
    [3599, "59:59"],
    [3600, "1:00:00"],
    [3725, "1:02:05"],
    [36000, "10:00:00"],
    [-1, "–"],
    [NaN, "–"],
    [Infinity, "–"],
  ];
  for (const [s, want] of cases) assert.equal(duration(s), want, `duration(${s})`);
});
