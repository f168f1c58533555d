import assert from "node:assert/strict";
import { cli } from "./support/agent.ts";
import { freePort } from "./support/servers.ts";

Deno.test("probe prints curl -w style phases and exits 0 for an up target", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("nginx is healthy"),
  );
  const url = `http://127.0.0.1:${server.addr.port}/nginx-health`;
  const r = await cli(["probe", url, "--status", "200", "--contains", "healthy"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines[0], `http ${url}`);
  assert.match(r.stdout, /^http_code {10}200$/m);
  assert.match(r.stdout, /^time_connect {7}\d+\.\d{6}s$/m);
  assert.match(r.stdout, /^time_total {9}\d+\.\d{6}s$/m);
  assert.equal(lines.at(-1), "result             up");
  assert.equal(r.stderr, "");
});

Deno.test("probe exits 1 with the reason when the target is down", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("busy", { status: 503 }),
  );
  const r = await cli(["probe", `http://127.0.0.1:${server.addr.port}/`]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^result {13}down$/m);
  assert.match(r.stderr, /^astron-watch probe: down: .*503/);
  const port = freePort();
  const refused = await cli(["probe", `127.0.0.1:${port}`, "--timeout", "2s"]);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /^tcp 127\.0\.0\.1:\d+$/m);
  assert.match(refused.stderr, /refused/i);
});

Deno.test("probe refuses bad arguments with one line, exit 2", async () => {
  const cases: [string[], string][] = [
    [["probe"], "give one target: a URL or host:port"],
    [["probe", "http://x/", "--timeout", "fast"], '--timeout: "fast" is not a duration'],
    [["probe", "nowhere"], '--target: "nowhere" is not host:port'],
    [["probe", "http://x/", "--type", "ftp"], '--type: "ftp" is not one of'],
    [["probe", "http://x/", "-H", "novalue"], '--header: "novalue" is not "Name: value"'],
  ];
  for (const [args, text] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
    assert.ok(r.stderr.includes(text), `${r.stderr} should include ${text}`);
  }
});

Deno.test("probe -L follows redirects and prints num_redirects; without it the 302 is the answer", async () => {
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/old") return new Response(null, { status: 302, headers: { location: "/new" } });
    return new Response("moved and healthy");
  });
  const url = `http://127.0.0.1:${server.addr.port}/old`;
  const followed = await cli(["probe", "-L", url, "--contains", "healthy"]);
  assert.equal(followed.code, 0, followed.stderr);
  assert.match(followed.stdout, /^http_code {10}200$/m);
  assert.match(followed.stdout, /^num_redirects {6}1$/m);
  const json = await cli(["probe", "--follow-redirects", "--json", url]);
  assert.equal(json.code, 0, json.stderr);
  const result = JSON.parse(json.stdout);
  assert.equal(result.code, "ok");
  assert.equal(result.status, 200);
  assert.equal(result.redirects, 1);
  const plain = await cli(["probe", url]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^http_code {10}302$/m);
  assert.doesNotMatch(plain.stdout, /num_redirects/);
});
