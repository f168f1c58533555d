import assert from "node:assert/strict";
import { parseConfigText } from "../src/config/load.ts";
import type { ProbeConfig } from "../src/config/schema.ts";
import { PROBES } from "../src/probe/registry.ts";
import { runWithDeadline } from "../src/probe/scheduler.ts";
import type { ProbeCode, ProbePhases, ProbeResult } from "../src/probe/types.ts";
import { freePort, tcpServer } from "./support/servers.ts";

/** One validated probe config from a plain object (JSON is YAML). */
function probeConfig(probe: Record<string, unknown>): ProbeConfig {
  const r = parseConfigText(JSON.stringify({ probes: [{ name: "p", ...probe }] }), {});
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config.probes[0];
}

function run(config: ProbeConfig, signal = new AbortController().signal): Promise<ProbeResult> {
  return PROBES.http(config, { signal });
}

/** Phases present (those named) and in order dns <= connect <= tls <= first_byte <= total. */
function assertOrdered(phases: ProbePhases, present: (keyof ProbePhases)[]): void {
  for (const k of present) {
    assert.equal(typeof phases[k], "number", `phase ${k} in ${JSON.stringify(phases)}`);
  }
  const seq = (["dns", "connect", "tls", "first_byte", "total"] as const)
    .map((k) => phases[k]).filter((v): v is number => v !== undefined);
  for (let i = 1; i < seq.length; i++) assert.ok(seq[i - 1] <= seq[i], JSON.stringify(phases));
  assert.ok(seq[0] >= 0);
}

async function withServer(
  handler: Deno.ServeHandler,
  fn: (origin: string) => Promise<void>,
  hostname = "127.0.0.1",
): Promise<void> {
  const server = Deno.serve({ hostname, port: 0, onListen() {} }, handler);
  try {
    await fn(`http://${hostname}:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("http probe measures connect, first byte and total in order, without dns for an IP", async () => {
  await withServer(() => new Response("nginx is healthy\n"), async (origin) => {
    const result = await run(probeConfig({ type: "http", url: `${origin}/nginx-health` }));
    assert.equal(result.reason, undefined);
    assert.equal(result.ok, true);
    assert.equal(result.code, "ok");
    assert.equal(result.status, 200);
    assert.equal(result.phases.dns, undefined);
    assert.equal(result.phases.tls, undefined);
    assertOrdered(result.phases, ["connect", "first_byte", "total"]);
    assert.ok(result.started_at <= Date.now());
  });
});

Deno.test("http probe treats localhost as 127.0.0.1 without a lookup", async () => {
  await withServer(() => new Response("ok"), async (origin) => {
    const url = origin.replace("127.0.0.1", "localhost");
    const result = await run(probeConfig({ type: "http", url }));
    assert.equal(result.ok, true, result.reason ?? "");
    assert.equal(result.phases.dns, undefined);
  });
});

/** A name other than localhost that /etc/hosts maps to a loopback address, if any. */
async function loopbackName(): Promise<{ name: string; address: string } | undefined> {
  const hosts = await Deno.readTextFile("/etc/hosts").catch(() => "");
  for (const line of hosts.split("\n")) {
    const [address, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (!/^127\.\d+\.\d+\.\d+$/.test(address ?? "")) continue;
    for (const name of names) {
      if (!name || name.startsWith("localhost")) continue;
      const found = await Deno.resolveDns(name, "A").catch(() => []);
      if (found[0] === address) return { name, address };
    }
  }
  return undefined;
}

// CI adds such a name to /etc/hosts (.ci/run); elsewhere the test says why it cannot run.
const loopbackHost = await loopbackName();

Deno.test({
  name: "http probe records dns when it resolves a name",
  ignore: !loopbackHost,
  async fn(t) {
    const host = loopbackHost!;
    await t.step(`via /etc/hosts: ${host.name}`, async () => {
      await withServer(() => new Response("ok"), async (origin) => {
        const url = origin.replace(host.address, host.name);
        const result = await run(probeConfig({ type: "http", url }));
        assert.equal(result.ok, true, result.reason ?? "");
        assertOrdered(result.phases, ["dns", "connect", "first_byte", "total"]);
      }, host.address);
    });
  },
});
if (!loopbackHost) {
  console.log(
    'ignored "http probe records dns when it resolves a name": no name besides localhost maps ' +
      "to a loopback address in /etc/hosts",
  );
}

Deno.test("http probe checks expectations", async (t) => {
  const handler = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path === "/slow") await new Promise((r) => setTimeout(r, 150));
    if (path === "/missing") return new Response("no such page", { status: 404 });
    if (path === "/moved") return new Response(null, { status: 302, headers: { location: "/" } });
    if (path === "/created") return new Response("made", { status: 201 });
    if (path === "/echo") {
      return Response.json({
        method: req.method,
        ua: req.headers.get("user-agent"),
        auth: req.headers.get("authorization"),
        host: req.headers.get("host"),
        body: await req.text(),
      });
    }
    return new Response("nginx is healthy\n");
  };
  await withServer(handler, async (origin) => {
    const port = new URL(origin).port;
    const cases: {
      name: string;
      probe: Record<string, unknown>;
      code?: ProbeCode;
      reason?: string | RegExp;
    }[] = [
      { name: "a 200 passes by default", probe: { url: `${origin}/` } },
      { name: "a 302 passes by default and is not followed", probe: { url: `${origin}/moved` } },
      {
        name: "a 404 fails by default",
        probe: { url: `${origin}/missing` },
        code: "status",
        reason: "status 404, expected 2xx/3xx",
      },
      {
        name: "a status outside the set fails",
        probe: { url: `${origin}/`, expect: { status: [201, 202] } },
        code: "status",
        reason: "status 200, expected 201 or 202",
      },
      {
        name: "a status in the set passes",
        probe: { url: `${origin}/created`, expect: { status: [201] } },
      },
      {
        name: "a 404 passes when expected",
        probe: { url: `${origin}/missing`, expect: { status: 404, body_contains: "no such" } },
      },
      {
        name: "body_contains passes",
        probe: { url: `${origin}/`, expect: { body_contains: "healthy" } },
      },
      {
        name: "body_contains fails",
        probe: { url: `${origin}/`, expect: { body_contains: "sick" } },
        code: "body",
        reason: 'body does not contain "sick"',
      },
      {
        name: "body_regex passes",
        probe: { url: `${origin}/`, expect: { body_regex: "^nginx is \\w+\\n$" } },
      },
      {
        name: "body_regex fails",
        probe: { url: `${origin}/`, expect: { body_regex: "^down" } },
        code: "body",
        reason: "body does not match /^down/",
      },
      {
        name: "max_latency fails on a slow answer",
        probe: { url: `${origin}/slow`, expect: { max_latency: "50ms" } },
        code: "latency",
        reason: /^took 1\d\d\.\dms, over max_latency 50ms$/,
      },
      {
        name: "method, headers, body, Host and User-Agent are sent",
        probe: {
          url: `${origin}/echo`,
          method: "POST",
          headers: { Authorization: "Bearer t0k" },
          body: '{"ping":"pong ✓"}',
          expect: {
            body_contains:
              `"method":"POST","ua":"astron-watch/0.1.0","auth":"Bearer t0k","host":"127.0.0.1:${port}","body":"{\\"ping\\":\\"pong ✓\\"}"`,
          },
        },
      },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        const result = await run(probeConfig({ type: "http", ...c.probe }));
        if (c.reason === undefined) {
          assert.equal(result.reason, undefined);
          assert.equal(result.ok, true);
          assert.equal(result.code, "ok");
        } else {
          assert.equal(result.ok, false);
          assert.equal(result.code, c.code);
          if (typeof c.reason === "string") assert.equal(result.reason, c.reason ?? "");
          else assert.match(result.reason!, c.reason);
        }
      });
    }
  });
});

Deno.test("http probe reads chunked, sized and close-delimited bodies, and caps them at 1 MiB", async (t) => {
  const big = "x".repeat(3 * 1024 * 1024) + "TAIL";
  const handler = (req: Request): Response => {
    const path = new URL(req.url).pathname;
    if (path === "/chunked") {
      const parts = ["first ", "second ", "healthy"];
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          const p = parts.shift();
          if (p === undefined) c.close();
          else c.enqueue(new TextEncoder().encode(p));
        },
      });
      return new Response(body);
    }
    if (path === "/big") return new Response("HEAD" + big);
    return new Response("sized healthy");
  };
  await withServer(handler, async (origin) => {
    await t.step("chunked", async () => {
      const r = await run(
        probeConfig({
          type: "http",
          url: `${origin}/chunked`,
          expect: { body_contains: "second healthy" },
        }),
      );
      assert.equal(r.ok, true, r.reason ?? "");
    });
    await t.step("Content-Length", async () => {
      const r = await run(
        probeConfig({
          type: "http",
          url: `${origin}/sized`,
          expect: { body_contains: "sized healthy" },
        }),
      );
      assert.equal(r.ok, true, r.reason ?? "");
    });
    await t.step("only the first 1 MiB is read", async () => {
      const head = await run(
        probeConfig({ type: "http", url: `${origin}/big`, expect: { body_contains: "HEAD" } }),
      );
      assert.equal(head.ok, true, head.reason ?? "");
      const tail = await run(
        probeConfig({ type: "http", url: `${origin}/big`, expect: { body_contains: "TAIL" } }),
      );
      assert.equal(tail.reason, 'body does not contain "TAIL"');
      assert.equal(tail.code, "body");
    });
  });

  await t.step("close-delimited (HTTP/1.0 style)", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const serving = (async () => {
      const conn = await listener.accept();
      const buf = new Uint8Array(4096);
      await conn.read(buf);
      const reply = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nold but healthy";
      await conn.write(new TextEncoder().encode(reply));
      conn.close();
    })();
    try {
      const r = await run(probeConfig({
        type: "http",
        url: `http://127.0.0.1:${listener.addr.port}/`,
        expect: { body_contains: "old but healthy" },
      }));
      assert.equal(r.ok, true, r.reason ?? "");
      assert.equal(r.status, 200);
    } finally {
      await serving;
      listener.close();
    }
  });
});

Deno.test("http probe reports refused when the port is closed", async () => {
  const port = freePort();
  const result = await run(probeConfig({ type: "http", url: `http://127.0.0.1:${port}/` }));
  assert.equal(result.ok, false);
  assert.equal(result.code, "refused");
  assert.match(
    result.reason!,
    new RegExp(`^connecting to 127\\.0\\.0\\.1:${port}: .*refused`, "i"),
  );
  assert.equal(result.phases.connect, undefined);
  assert.equal(typeof result.phases.total, "number");
});

Deno.test("http probe of a server that accepts and never answers ends at its timeout", async (t) => {
  await using server = tcpServer("silent");
  const config = probeConfig({
    type: "http",
    url: `http://127.0.0.1:${server.port}/`,
    timeout: "300ms",
    interval: "1s",
  });
  await t.step("under the scheduler's deadline", async () => {
    const t0 = performance.now();
    const result = await runWithDeadline((signal) => PROBES.http(config, { signal }), 300);
    const took = performance.now() - t0;
    assert.equal(result.ok, false);
    assert.ok(took >= 295, `took ${took}ms`); // no upper bound: under --parallel a busy machine may be late
  });
  await t.step("on its own signal, with the step it was in", async () => {
    const t0 = performance.now();
    const result = await run(config, AbortSignal.timeout(300));
    const took = performance.now() - t0;
    assert.equal(result.reason, "timed out waiting for the response");
    assert.equal(result.code, "timeout");
    assert.equal(typeof result.phases.connect, "number");
    assert.equal(result.phases.first_byte, undefined);
    assert.ok(took >= 295, `took ${took}ms`); // no upper bound: under --parallel a busy machine may be late
  });
});

Deno.test("http probe reports a server that answers with something other than HTTP", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(4096));
    await conn.write(new TextEncoder().encode("SSH-2.0-OpenSSH_9.2\r\n"));
    conn.close();
  })();
  try {
    const r = await run(
      probeConfig({ type: "http", url: `http://127.0.0.1:${listener.addr.port}/` }),
    );
    assert.equal(r.ok, false);
    assert.equal(r.reason, 'not an HTTP/1.x response: "SSH-2.0-OpenSSH_9.2"');
    assert.equal(r.code, "protocol");
  } finally {
    await serving;
    listener.close();
  }
});

/** Why ::1 cannot be listened on here, if it cannot. */
function noIpv6(): string | undefined {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
const ipv6Missing = noIpv6();

Deno.test({
  name: "http probe reaches an IPv6 literal",
  ignore: ipv6Missing !== undefined,
  async fn() {
    const server = Deno.serve(
      { hostname: "::1", port: 0, onListen() {} },
      () => new Response("v6 ok"),
    );
    try {
      const r = await run(probeConfig({
        type: "http",
        url: `http://[::1]:${server.addr.port}/`,
        expect: { body_contains: "v6 ok" },
      }));
      assert.equal(r.ok, true, r.reason ?? "");
      assert.equal(r.phases.dns, undefined);
    } finally {
      await server.shutdown();
    }
  },
});
if (ipv6Missing) {
  console.log(`ignored "http probe reaches an IPv6 literal": no ::1 (${ipv6Missing})`);
}

Deno.test("http probe checks JSON fields of the body", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json({ status: "UP", data: { items: [{ ok: true, n: 3 }] } }),
  );
  const url = `http://127.0.0.1:${server.addr.port}/health`;
  const probe = (json: string) => {
    const r = parseConfigText(
      `probes: [{ name: j, type: http, url: "${url}", expect: { json: ${json} } }]`,
      {},
    );
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return PROBES.http(r.config.probes[0], { signal: new AbortController().signal });
  };
  const up = await probe(`{ status: UP, "data.items[0].ok": true, "data.items[0].n": 3 }`);
  assert.equal(up.ok, true, up.reason ?? "");
  const down = await probe(`{ "data.items[0].n": 4 }`);
  assert.equal(down.ok, false);
  assert.equal(down.reason, "json data.items[0].n is 3, expected 4");
  assert.equal(down.code, "body");
  const missing = await probe(`{ "data.nope": x }`);
  assert.equal(missing.reason, 'json data.nope is missing, expected "x"');
  const bad = parseConfigText(
    `probes: [{ name: j, type: http, url: "${url}", expect: { json: { "a..b": 1 } } }]`,
    {},
  );
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.equal(bad.problems[0].message, '"a..b" is not a field path like data.items[0].status');
  }
});

Deno.test("http probe follows redirects only when asked, up to 10, and checks the last answer", async (t) => {
  await using other = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      Response.json({
        origin: "other",
        auth: req.headers.get("authorization"),
        cookie: req.headers.get("cookie"),
      }),
  );
  const elsewhere = `http://127.0.0.1:${other.addr.port}/`;
  const redirect = (status: number, location: string) =>
    new Response(null, { status, headers: { location } });
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      const hops = /^\/hops\/(\d+)$/.exec(path);
      if (hops) {
        const n = Number(hops[1]);
        return redirect(302, n > 1 ? `/hops/${n - 1}` : "/arrived");
      }
      switch (path) {
        case "/arrived":
          return new Response("arrived and healthy");
        case "/to-missing":
          return redirect(301, "/missing");
        case "/see-other":
          return redirect(303, "/echo");
        case "/temporary":
          return redirect(307, "/echo");
        case "/elsewhere":
          return redirect(302, elsewhere);
        case "/ftp":
          return redirect(302, "ftp://127.0.0.1/file");
        case "/no-location":
          return new Response("moved, but not said where", { status: 302 });
        case "/echo":
          return Response.json({
            method: req.method,
            body: await req.text(),
            auth: req.headers.get("authorization"),
          });
      }
      return new Response("no such page", { status: 404 });
    },
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const follow = { follow_redirects: true };
  const cases: {
    name: string;
    probe: Record<string, unknown>;
    code: ProbeCode;
    status: number;
    redirects?: number;
    reason?: string;
  }[] = [
    {
      name: "without follow_redirects a 302 is the answer",
      probe: { url: `${origin}/hops/3` },
      code: "ok",
      status: 302,
    },
    {
      name: "three redirects lead to the last answer, which is checked",
      probe: { url: `${origin}/hops/3`, ...follow, expect: { body_contains: "arrived" } },
      code: "ok",
      status: 200,
      redirects: 3,
    },
    {
      name: "ten redirects are followed",
      probe: { url: `${origin}/hops/10`, ...follow },
      code: "ok",
      status: 200,
      redirects: 10,
    },
    {
      name: "an eleventh is a failure",
      probe: { url: `${origin}/hops/11`, ...follow },
      code: "redirect",
      status: 302,
      redirects: 10,
      reason: "more than 10 redirects",
    },
    {
      name: "the last answer's status fails the check, and the reason counts the redirects",
      probe: { url: `${origin}/to-missing`, ...follow },
      code: "status",
      status: 404,
      redirects: 1,
      reason: "status 404, expected 2xx/3xx (after 1 redirect)",
    },
    {
      name: "a 303 turns a POST into a GET without its body, credentials kept on the same origin",
      probe: {
        url: `${origin}/see-other`,
        ...follow,
        method: "POST",
        body: "ping",
        headers: { Authorization: "Bearer t0k", "Content-Type": "text/plain" },
        expect: { json: { method: "GET", body: "", auth: "Bearer t0k" } },
      },
      code: "ok",
      status: 200,
      redirects: 1,
    },
    {
      name: "a 307 repeats the POST with its body",
      probe: {
        url: `${origin}/temporary`,
        ...follow,
        method: "POST",
        body: "ping",
        expect: { json: { method: "POST", body: "ping" } },
      },
      code: "ok",
      status: 200,
      redirects: 1,
    },
    {
      name: "credentials do not go to another origin",
      probe: {
        url: `${origin}/elsewhere`,
        ...follow,
        headers: { Authorization: "Bearer t0k", Cookie: "session=s3cret" },
        expect: { json: { origin: "other", auth: null, cookie: null } },
      },
      code: "ok",
      status: 200,
      redirects: 1,
    },
    {
      name: "a Location that is not http(s) is a failure",
      probe: { url: `${origin}/ftp`, ...follow },
      code: "redirect",
      status: 302,
      redirects: 0,
      reason: "status 302 redirects to a ftp URL, not http or https",
    },
    {
      name: "a redirect status without a Location is the answer",
      probe: { url: `${origin}/no-location`, ...follow },
      code: "ok",
      status: 302,
      redirects: 0,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const r = await run(probeConfig({ type: "http", ...c.probe }));
      assert.equal(r.reason, c.reason);
      assert.equal(r.code, c.code);
      assert.equal(r.ok, c.code === "ok");
      assert.equal(r.status, c.status);
      assert.equal(r.redirects, c.redirects);
      if (r.ok) assertOrdered(r.phases, ["connect", "first_byte", "total"]);
    });
  }
});
