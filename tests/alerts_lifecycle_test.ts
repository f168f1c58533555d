/**
 * The alert lifecycle: a series with no verdict yet (a probe not run since
 * the start) keeps a firing alert firing; a series gone resolves it.
 */

import assert from "node:assert/strict";
import { AlertBook } from "../src/alerts/lifecycle.ts";
import type { AlertRule } from "../src/config/alerts.ts";

const rule: AlertRule = {
  name: "down",
  condition: { kind: "probe_down", probes: ["api"] },
  for: 0,
  severity: "critical",
  labels: {},
  annotations: {},
  channels: [],
  group_by: [],
  group_wait: 0,
  repeat_interval: 3_600_000,
};
const down = { labels: { probe: "api" }, value: 1, text: "1 failure", active: true };
const never = () => false;

Deno.test("alert lifecycle: an unknown series keeps the alert; a missing one resolves it", () => {
  const book = new AlertBook();
  const fired = book.step(rule, [down], 1_000, never);
  assert.deepStrictEqual(fired.events.map((e) => e.type), ["firing"]);

  // After a restart the probe has no result yet: nothing changes, nothing is sent.
  const restarted = new AlertBook();
  restarted.load(book.list());
  const held = restarted.step(rule, [{ ...down, active: false, unknown: true }], 2_000, never);
  assert.deepStrictEqual(held.events, []);
  assert.deepStrictEqual(held.removed, []);
  assert.deepStrictEqual(restarted.list().map((i) => i.state), ["firing"]);

  // Down again: still the one firing, not a second notification.
  assert.deepStrictEqual(restarted.step(rule, [down], 3_000, never).events, []);

  // The series gone (the probe removed): resolved.
  const gone = restarted.step(rule, [], 4_000, never);
  assert.deepStrictEqual(gone.events.map((e) => e.type), ["resolved"]);
});
