import assert from "node:assert/strict";
import { COMMANDS } from "../src/cli/main.ts";
import { parseConfigText } from "../src/config/load.ts";
import { Telemetry } from "../src/metrics/telemetry.ts";

Deno.test("the command list names and summarizes each command as its module does", async (t) => {
  for (const entry of COMMANDS) {
    await t.step(entry.name, async () => {
      const command = await entry.load();
      assert.equal(command.name, entry.name);
      assert.equal(command.summary, entry.summary);
    });
  }
});

function otlpOn() {
  const parsed = parseConfigText('otlp: { enable: true, endpoint: "http://127.0.0.1:9" }\n', {
    OTLP_TRACE_TIMEOUT: "200",
    OTLP_TRACE_EXPORT_TIMEOUT_MILLIS: "200",
  });
  assert.ok(parsed.ok);
  return parsed.config.otlp;
}

Deno.test("with OTLP on, telemetry serves /metrics and a tracer before start, and stops without starting", async () => {
  const telemetry = new Telemetry({ otlp: otlpOn() });
  telemetry.meterProvider.getMeter("test").createCounter("early_total").add(1);
  assert.match(await telemetry.scrape(), /^early_total 1$/m);
  const span = telemetry.tracer.startSpan("before start");
  assert.equal(span.isRecording(), false, "no span is recorded before the exporters exist");
  span.end();
  await telemetry.stop();
});

Deno.test("with OTLP on, start builds the exporters and the tracer records", async () => {
  const telemetry = new Telemetry({ otlp: otlpOn() });
  await telemetry.start();
  const span = telemetry.tracer.startSpan("after start");
  assert.equal(span.isRecording(), true);
  span.end();
  // No collector at port 9: the last export fails and stop still returns.
  await telemetry.stop();
});
