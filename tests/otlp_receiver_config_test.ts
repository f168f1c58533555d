import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import { formatProblem } from "../src/config/reader.ts";
import { starterConfig } from "../src/config/starter.ts";

Deno.test("otlp_receiver defaults: OTLP/HTTP on, OTLP/gRPC opt-in, on the collector's ports on loopback", () => {
  const r = parseConfigText("", {});
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.deepEqual(r.config.otlp_receiver, {
    enable: true,
    grpc: false,
    grpc_listen: { host: "127.0.0.1", port: 4317 },
    http_listen: { host: "127.0.0.1", port: 4318 },
    allow_from: [],
    max_message: 4 * 1024 * 1024,
    max_series: 50_000,
    forward: "",
    forward_headers: {},
    expose_metrics: false,
  });
});

Deno.test("otlp_receiver takes every key", () => {
  const r = parseConfigText(
    `otlp_receiver:
  enable: false
  grpc: true
  grpc_listen: 0.0.0.0:14317
  http_listen: "[::]:14318"
  allow_from: [172.16.0.0/12, "fd00::/8", 10.1.2.3]
  max_message: 16MiB
  max_series: 200000
  forward: http://collector:4318
  forward_headers: { x-team: astron }
  expose_metrics: true
`,
    {},
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  if (!r.ok) return;
  assert.deepEqual(r.config.otlp_receiver, {
    enable: false,
    grpc: true,
    grpc_listen: { host: "0.0.0.0", port: 14317 },
    http_listen: { host: "::", port: 14318 },
    allow_from: ["172.16.0.0/12", "fd00::/8", "10.1.2.3"],
    max_message: 16 * 1024 * 1024,
    max_series: 200_000,
    forward: "http://collector:4318",
    forward_headers: { "x-team": "astron" },
    expose_metrics: true,
  });
  const grpcForward = parseConfigText("otlp_receiver: { forward: otel-collector:4317 }\n", {});
  assert.ok(grpcForward.ok && grpcForward.config.otlp_receiver.forward === "otel-collector:4317");
});

Deno.test("check names each bad otlp_receiver value", async (t) => {
  const cases: { name: string; yaml: string; line: string }[] = [
    {
      name: "a listen address without a port",
      yaml: "  grpc_listen: 4317\n",
      line: "otlp_receiver.grpc_listen: 4317 is not host:port with a port from 0 to 65535",
    },
    {
      name: "an unquoted IPv6 listen address",
      yaml: "  http_listen: [::1]:4318\n",
      line:
        'config:2:21: broken YAML: Unexpected scalar at node end (an IPv6 host:port must be quoted: "[::1]:9477")',
    },
    {
      name: "both transports on one address",
      yaml: "  grpc_listen: 127.0.0.1:5000\n  http_listen: 127.0.0.1:5000\n",
      line: 'otlp_receiver.http_listen: "127.0.0.1:5000" is also otlp_receiver.grpc_listen',
    },
    {
      name: "a transport on the API's address",
      yaml: "  http_listen: 127.0.0.1:9477\n",
      line: 'otlp_receiver.http_listen: "127.0.0.1:9477" is also server.listen',
    },
    {
      name: "a range with too long a prefix",
      yaml: "  allow_from: [10.0.0.0/8, 10.0.0.0/33]\n",
      line:
        'otlp_receiver.allow_from[1]: "10.0.0.0/33" is not an IP range like 172.16.0.0/12 or fd00::/8',
    },
    {
      name: "a host name as a range",
      yaml: "  allow_from: [core-workflow]\n",
      line:
        'otlp_receiver.allow_from[0]: "core-workflow" is not an IP range like 172.16.0.0/12 or fd00::/8',
    },
    {
      name: "allow_from that is not a list",
      yaml: "  allow_from: 172.16.0.0/12\n",
      line: 'otlp_receiver.allow_from: expected a list, got "172.16.0.0/12"',
    },
    {
      name: "a size that is not one",
      yaml: "  max_message: huge\n",
      line: 'otlp_receiver.max_message: "huge" is not a size (like 10MB, 512KiB, 2GB)',
    },
    {
      name: "a tiny max_message",
      yaml: "  max_message: 10\n",
      line: "otlp_receiver.max_message: 10 is too small (at least 1024 bytes)",
    },
    {
      name: "a max_message past what one request may hold",
      yaml: "  max_message: 4GiB\n",
      line: 'otlp_receiver.max_message: "4GiB" is too large (at most 1GiB)',
    },
    {
      name: "no series at all",
      yaml: "  max_series: 0\n",
      line: "otlp_receiver.max_series: 0 is out of range (1 to 10000000)",
    },
    {
      name: "a forward URL of another scheme",
      yaml: "  forward: grpc://collector:4317\n",
      line:
        'otlp_receiver.forward: "grpc://collector:4317" has scheme grpc, expected http or https',
    },
    {
      name: "a forward target without a port",
      yaml: "  forward: collector\n",
      line: 'otlp_receiver.forward: "collector" is not host:port with a port from 0 to 65535',
    },
    {
      name: "forwarding to itself",
      yaml: "  forward: 127.0.0.1:4317\n",
      line: `otlp_receiver.forward: "127.0.0.1:4317" is this receiver's own address (a loop)`,
    },
    {
      name: "forward headers without a forward",
      yaml: "  forward_headers: { x-team: a }\n",
      line: "otlp_receiver.forward_headers: is set but otlp_receiver.forward is not",
    },
    {
      name: "a bad header name",
      yaml: "  forward: collector:4317\n  forward_headers: { 'bad header': a }\n",
      line: 'otlp_receiver.forward_headers.bad header: "bad header" is not a valid header name',
    },
    {
      name: "enable that is not a boolean",
      yaml: "  enable: maybe\n",
      line: 'otlp_receiver.enable: "maybe" is not a boolean (true | false)',
    },
    {
      name: "a misspelt key",
      yaml: "  alow_from: []\n",
      line: 'otlp_receiver.alow_from: unknown key (did you mean "allow_from"?)',
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const r = parseConfigText(`otlp_receiver:\n${c.yaml}`, {});
      assert.ok(!r.ok, "refused");
      if (r.ok) return;
      assert.deepEqual(r.problems.map(formatProblem), [c.line]);
    });
  }
  await t.step("every bad value at once, each on its own line", () => {
    const r = parseConfigText(
      "otlp_receiver:\n  grpc_listen: x\n  allow_from: [nope]\n  max_series: -1\n  expose_metrics: 2\n",
      {},
    );
    assert.ok(!r.ok);
    if (r.ok) return;
    assert.deepEqual(r.problems.map((p) => p.path), [
      "otlp_receiver.grpc_listen",
      "otlp_receiver.allow_from[0]",
      "otlp_receiver.max_series",
      "otlp_receiver.expose_metrics",
    ]);
  });
});

Deno.test("the starter config's otlp_receiver section passes check", () => {
  const r = parseConfigText(starterConfig(), {});
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.match(starterConfig(), /^otlp_receiver:/m);
});
