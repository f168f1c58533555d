/**
 * `access_logs:` live, end to end (issue 13): a real nginx (Debian's, started
 * here on loopback with the platform's `main` format and locations) serves a
 * known mix of requests while its log is rotated both ways (`mv` + `nginx -s
 * reopen`, and copytruncate, once with the agent down and once with it
 * running) and the agent is restarted mid-way. The agent's counts in `GET
 * /api/v1/access` equal the requests sent, per route, status and method, with
 * the bytes nginx sent: none lost, none doubled.
 */

import assert from "node:assert/strict";
import { type AgentProcess, spawnAgent, tempDir } from "./support/agent.ts";
import { locateNginx } from "./support/nginx.ts";
import { freePort, run, serverTest, startDaemon } from "./support/servers.ts";

/** nginx's `main` format, as the platform writes it. */
const MAIN_FORMAT =
  `'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"'`;

/** A running nginx whose access log is `<logs>/access.log` in format `main`. */
interface LogNginx extends AsyncDisposable {
  origin: string;
  /** The directory of `access.log` (and its rotated copies). */
  logs: string;
  /** `nginx -s reopen` with this instance's prefix and config. */
  reopen(): Promise<void>;
}

/**
 * Start nginx with the platform's locations, each answering a known status
 * without upstreams, and static files served from a directory.
 */
async function startLogNginx(bin: string): Promise<LogNginx> {
  const dir = await Deno.makeTempDir({ prefix: "astron-watch-nginx-" });
  await Deno.chmod(dir, 0o755);
  const logs = `${dir}/logs`;
  const www = `${dir}/www`;
  await Deno.mkdir(logs, { mode: 0o755 });
  await Deno.mkdir(`${www}/assets`, { recursive: true, mode: 0o755 });
  await Deno.chmod(www, 0o755);
  await Deno.chmod(`${www}/assets`, 0o755);
  await Deno.writeTextFile(`${www}/assets/app.js`, "console.log('astron');\n", { mode: 0o644 });
  await Deno.writeFile(`${www}/assets/logo.png`, new Uint8Array(300).fill(7), { mode: 0o644 });
  const port = freePort();
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 128; }
http {
  log_format main ${MAIN_FORMAT};
  access_log ${logs}/access.log main;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type text/plain;
  server {
    listen 127.0.0.1:${port};
    location = /nginx-health { return 200 "nginx is healthy\\n"; }
    location /workflow/v1/chat/completions { return 200 "data: {\\"ok\\":true}\\n\\n"; }
    location /console-api/chat-message/ { return 200 "data: [DONE]\\n\\n"; }
    location /console-api/created/ { return 201 "{\\"id\\":1}"; }
    location /console-api/broken/ { return 502; }
    location /console-api/ { return 200 "{\\"data\\":[]}"; }
    location ~* \\.(js|css|png|jpg|jpeg|gif|ico|svg|woff2?|ttf|eot)$ { root ${www}; }
    location /gone/ { return 404; }
    location / { return 200 "<!doctype html><title>astron</title>"; }
  }
}
`;
  const confPath = `${dir}/nginx.conf`;
  await Deno.writeTextFile(confPath, conf);
  const base = ["-p", dir, "-c", confPath, "-e", `${dir}/error.log`];
  const stop = await startDaemon({
    name: "nginx",
    cmd: bin,
    args: [...base, "-g", "daemon off;"],
    port,
    dir,
    log: `${dir}/error.log`,
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    logs,
    reopen: async () => {
      await run(bin, [...base, "-s", "reopen"]);
    },
    [Symbol.asyncDispose]: stop,
  };
}

/** One kind of request in the mix, with the route family the platform's locations give it. */
interface Kind {
  method: "GET" | "POST" | "HEAD";
  path: string;
  route: string;
}

/** The mix: every route family, 2xx, 4xx and 5xx, GET, POST and HEAD. */
const MIX: readonly Kind[] = [
  { method: "POST", path: "/workflow/v1/chat/completions", route: "sse" },
  { method: "POST", path: "/console-api/chat-message/abc", route: "sse" },
  { method: "GET", path: "/console-api/apps", route: "api" },
  { method: "POST", path: "/console-api/created/app", route: "api" },
  { method: "GET", path: "/console-api/broken/x", route: "api" },
  { method: "GET", path: "/assets/app.js", route: "static" },
  { method: "GET", path: "/assets/logo.png", route: "static" },
  { method: "GET", path: "/assets/missing.css", route: "static" },
  { method: "GET", path: "/nginx-health", route: "health" },
  { method: "HEAD", path: "/", route: "frontend" },
  { method: "GET", path: "/workspace/123", route: "frontend" },
  { method: "GET", path: "/gone/page", route: "frontend" },
];

/** What was sent and what nginx answered, counted the ways the API counts. */
class Tally {
  requests = 0;
  bytes = 0;
  readonly routes = new Map<string, { requests: number; e4: number; e5: number }>();
  readonly statuses = new Map<number, number>();
  readonly methods = new Map<string, number>();
  /** `route|method|status` -> requests, as the metric's labels. */
  readonly series = new Map<string, number>();
  /** path -> requests (the top paths list). */
  readonly paths = new Map<string, number>();

  add(kind: Kind, status: number, bytes: number): void {
    this.requests++;
    this.bytes += bytes;
    const r = this.routes.get(kind.route) ??
      this.routes.set(kind.route, { requests: 0, e4: 0, e5: 0 }).get(kind.route)!;
    r.requests++;
    if (status >= 500) r.e5++;
    else if (status >= 400) r.e4++;
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    this.methods.set(kind.method, (this.methods.get(kind.method) ?? 0) + 1);
    const k = `${kind.route}|${kind.method}|${status}`;
    this.series.set(k, (this.series.get(k) ?? 0) + 1);
    this.paths.set(kind.path, (this.paths.get(kind.path) ?? 0) + 1);
  }
}

/** Sends requests to nginx and counts them (all of them, and those since a mark). */
class Client {
  readonly all = new Tally();
  /** Requests since the agent went down (what its second run counts in its metrics). */
  readonly second = new Tally();
  #seq = 0;
  #afterStop = false;
  readonly #http = Deno.createHttpClient({});

  constructor(readonly origin: string) {}

  /** From now on, requests count towards {@linkcode second} too. */
  markStop(): void {
    this.#afterStop = true;
  }

  /**
   * Send one request and wait for its whole answer. Every URL carries a
   * sequence number so no two log lines are alike (the follower knows a file
   * by the hash of its first line; two files starting with the same line in
   * the same second would be one stream to it).
   */
  async send(kind: Kind): Promise<number> {
    const n = ++this.#seq;
    const res = await fetch(`${this.origin}${kind.path}?n=${n}`, {
      method: kind.method,
      body: kind.method === "POST" ? `{"n":${n}}` : undefined,
      client: this.#http,
    });
    const body = new Uint8Array(await res.arrayBuffer());
    this.all.add(kind, res.status, body.length);
    if (this.#afterStop) this.second.add(kind, res.status, body.length);
    return res.status;
  }

  /** `rounds` times the whole mix, four requests in flight at a time. */
  async phase(rounds: number): Promise<void> {
    const list = Array.from({ length: rounds }, () => MIX).flat();
    for (let i = 0; i < list.length; i += 4) {
      await Promise.all(list.slice(i, i + 4).map((k) => this.send(k)));
    }
  }

  close(): void {
    this.#http.close();
  }
}

interface AccessAnswer {
  requests: number;
  bytes: number;
  statuses: { status: number; requests: number }[];
  methods: { method: string; requests: number }[];
  routes: { route: string; requests: number; errors_4xx: number; errors_5xx: number }[];
  top: Record<string, { value: string; requests: number; error: number }[]>;
  unique_visitors: { count: number; exact: boolean };
  suspicious: { reason: string; requests: number }[];
  bursts: { start: string; errors_5xx: number }[];
  access_logs: {
    name: string;
    requests: number;
    unparsed: number;
    unparsed_samples: string[];
    cut: number;
    binary: number;
    files: { path: string; size: number; offset: number; behind: number }[];
    problem?: string;
  }[];
}

async function access(agent: AgentProcess): Promise<AccessAnswer> {
  const res = await agent.fetch("/api/v1/access?since=1h");
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json();
}

/** Poll the API until it counts `n` requests (never more: that would be a line read twice). */
async function waitForCount(agent: AgentProcess, n: number, what: string): Promise<AccessAnswer> {
  const until = Date.now() + 30_000;
  let last: AccessAnswer | undefined;
  while (Date.now() < until) {
    last = await access(agent);
    assert.ok(
      last.requests <= n,
      `${what}: the agent counts ${last.requests} requests, more than the ${n} sent:\n${
        JSON.stringify(last, null, 1)
      }`,
    );
    if (last.requests === n) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `${what}: the agent counts ${last?.requests} of ${n} requests after 30 s:\n${
      JSON.stringify(last, null, 1)
    }\n${agent.text()}`,
  );
}

/** The API's answer equals what was sent, per route, status and method, with the bytes. */
function assertMatches(got: AccessAnswer, sent: Tally): void {
  const context = JSON.stringify(got, null, 1);
  assert.equal(got.requests, sent.requests, context);
  assert.deepEqual(
    Object.fromEntries(got.routes.map((r) => [r.route, [r.requests, r.errors_4xx, r.errors_5xx]])),
    Object.fromEntries([...sent.routes].map(([route, r]) => [route, [r.requests, r.e4, r.e5]])),
    `per route [requests, 4xx, 5xx]:\n${context}`,
  );
  assert.deepEqual(
    Object.fromEntries(got.statuses.map((s) => [s.status, s.requests])),
    Object.fromEntries(sent.statuses),
    `per status:\n${context}`,
  );
  assert.deepEqual(
    Object.fromEntries(got.methods.map((m) => [m.method, m.requests])),
    Object.fromEntries(sent.methods),
    `per method:\n${context}`,
  );
  assert.equal(got.bytes, sent.bytes, `bytes ($body_bytes_sent):\n${context}`);
  assert.equal(got.access_logs.length, 1);
  const log = got.access_logs[0];
  assert.equal(log.unparsed, 0, `unparsed lines: ${JSON.stringify(log.unparsed_samples)}`);
  assert.equal(log.cut, 0);
  assert.equal(log.binary, 0);
  assert.equal(log.problem, undefined);
}

/** `nginx_http_requests_total` from `/metrics`, as `route|method|status` -> value. */
async function requestMetrics(agent: AgentProcess): Promise<Map<string, number>> {
  const res = await agent.fetch("/metrics");
  assert.equal(res.status, 200);
  const text = await res.text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^nginx_http_requests_total\{([^}]*)\} (\S+)/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
    );
    out.set(`${labels.route}|${labels.method}|${labels.status}`, Number(m[2]));
  }
  return out;
}

async function stopAgent(agent: AgentProcess): Promise<void> {
  agent.kill("SIGTERM");
  const { code, stderr } = await agent.exit();
  assert.equal(code, 0, stderr);
}

const nginx = locateNginx();

serverTest(
  "access_logs: nginx's counts survive mv + reopen, copytruncate (agent down and up) and a restart, none lost or doubled",
  nginx,
  async (bin) => {
    await using dir = await tempDir();
    await using web = await startLogNginx(bin);
    const client = new Client(web.origin);
    const log = `${web.logs}/access.log`;
    const config = `${dir.path}/c.yaml`;
    await Deno.writeTextFile(
      config,
      `log:
  stderr: always
server:
  listen: 127.0.0.1:0
  shutdown_timeout: 5s
probes: []
access_logs:
  - name: nginx
    path: ${log}
    format: main
    poll_interval: 100ms
`,
    );
    let agent: AgentProcess | undefined;
    try {
      agent = await spawnAgent({ config });

      // Phase 1: the live file.
      await client.phase(3);
      assertMatches(await waitForCount(agent, client.all.requests, "phase 1"), client.all);

      // Phase 2: rename-and-create. nginx writes to the renamed file until it
      // reopens; then to a new access.log. Both get lines.
      await Deno.rename(log, `${log}.1`);
      const renamedAt = (await Deno.stat(`${log}.1`)).size;
      await client.phase(2);
      assert.ok((await Deno.stat(`${log}.1`)).size > renamedAt, "nginx wrote to the renamed file");
      // The agent reads them there while access.log is missing.
      await waitForCount(agent, client.all.requests, "phase 2, renamed file");
      await web.reopen();
      // Until the worker has reopened, requests still land in access.log.1:
      // send until one is in the new file (each one counts).
      for (let i = 0;; i++) {
        const size = await Deno.stat(log).then((s) => s.size, () => 0);
        if (size > 0) break;
        assert.ok(i < 2000, "nginx did not write to the new access.log after reopen");
        await client.send(MIX[i % MIX.length]);
      }
      await client.phase(2);
      assertMatches(await waitForCount(agent, client.all.requests, "phase 2"), client.all);

      // Phase 3: the agent is down while nginx goes on.
      await stopAgent(agent);
      agent = undefined;
      client.markStop();
      await client.phase(2);

      // copytruncate while nothing is in flight (lines written between the
      // copy and the truncate are lost to any follower), then phase 4.
      await Deno.copyFile(log, `${log}.2`);
      await Deno.truncate(log, 0);
      await client.phase(2);

      // The agent again, on the same config and store: phases 3 and 4, nothing twice.
      agent = await spawnAgent({ config });
      assertMatches(await waitForCount(agent, client.all.requests, "after restart"), client.all);

      // Phase 5: copytruncate with the agent following, at whatever point of
      // its polls (the copy may hold lines it has not read yet, or none).
      await client.phase(2);
      await Deno.copyFile(log, `${log}.3`);
      await Deno.truncate(log, 0);
      await client.phase(1);
      const final = await waitForCount(agent, client.all.requests, "phase 5");
      assertMatches(final, client.all);
      // The top lists and visitors, kept per hour, survived the restart too (saved at stop).
      assert.deepEqual(
        Object.fromEntries(final.top.paths.map((e) => [e.value, e.requests]).toSorted()),
        Object.fromEntries([...client.all.paths].toSorted()),
        "top paths",
      );
      assert.ok(final.top.paths.every((e) => e.error === 0));
      assert.deepEqual(final.top.clients.map((e) => [e.value, e.requests]), [[
        "127.0.0.1",
        client.all.requests,
      ]]);
      // One client, one user agent, one day: one visitor, as GoAccess counts them.
      assert.deepEqual(final.unique_visitors, { count: 1, exact: true });
      // The mix has no suspicious request, and its 5xx (1 in 12) never make a burst.
      assert.deepEqual(final.suspicious, []);
      assert.deepEqual(final.bursts, []);
      const files = final.access_logs[0].files.map((f) => f.path.slice(web.logs.length + 1));
      assert.deepEqual(
        files.toSorted(),
        ["access.log", "access.log.1", "access.log.2", "access.log.3"],
        JSON.stringify(final.access_logs[0].files),
      );

      // The metrics count what this run of the agent read: phases 3 to 5.
      const metrics = await requestMetrics(agent);
      assert.ok(metrics.size > 0, "no nginx_http_requests_total lines in /metrics");
      assert.deepEqual(
        Object.fromEntries([...metrics].toSorted()),
        Object.fromEntries([...client.second.series].toSorted()),
        "nginx_http_requests_total{route,method,status} since the second start",
      );

      await stopAgent(agent);
      agent = undefined;
    } finally {
      client.close();
      await agent?.close();
    }
  },
);
