/// <reference lib="dom" />
/**
 * The console in a real browser (Debian's Chromium, headless, through
 * puppeteer-core) against a spawned agent with probes, stored runs and
 * spans: sign-in (a wrong token refused), each probe's state, a run's
 * timeline (one bar per node in time order, the failed node marked), the
 * pages in both languages, a silence created and expired, sign-out; no
 * request leaves the agent's origin (the browser's own request log); a
 * screenshot of each page in the test's temp dir (and in
 * `ASTRON_WATCH_SCREENSHOTS`, when set, for the README); an offloaded text
 * fetched when opened.
 */

import assert from "node:assert/strict";
import { spawnAgent, tempDir } from "./support/agent.ts";
import { TcpTarget } from "./support/receivers.ts";
import { chromiumPath, newPage, openBrowser, recordRequests } from "./support/browser.ts";
import { chatRun, errorRun } from "./fixtures/workflow.ts";
import { timeLocal } from "./fixtures/nginx_log.ts";

const READ = "console-read-token";
const WRITE = "console-write-token";

function config(up: string, accessLog: string): string {
  return `log:
  stderr: always
access_logs:
  - { name: nginx, path: "${accessLog}", poll_interval: 100ms }
server:
  listen: 127.0.0.1:0
  read_token: ${READ}
  write_token: ${WRITE}
probes:
  - { name: api, type: tcp, target: "${up}", interval: 300ms, timeout: 250ms, jitter: 0s }
  - { name: redis, type: tcp, target: "127.0.0.1:1", interval: 300ms, timeout: 250ms, retries: 1, jitter: 0s }
alerts:
  evaluation_interval: 200ms
  language: en
  rules:
    - name: redis-down
      probe_down: { probes: [redis] }
      severity: critical
`;
}

/** An OTLP/JSON span linked to a run by its `sid` attribute. */
function span(sid: string, name: string, startMs: number, ms: number, error = false) {
  const nanos = (t: number) => (BigInt(t) * 1_000_000n).toString();
  return {
    traceId: crypto.randomUUID().replaceAll("-", ""),
    spanId: crypto.randomUUID().replaceAll("-", "").slice(0, 16),
    name,
    kind: 2,
    startTimeUnixNano: nanos(startMs),
    endTimeUnixNano: nanos(startMs + ms),
    attributes: [{ key: "sid", value: { stringValue: sid } }],
    status: error ? { code: 2, message: "Timeout" } : { code: 1 },
  };
}

Deno.test({
  name:
    "console in Chromium: sign-in, probe states, a run's timeline, silences, sign-out, nothing off-origin",
  ignore: !chromiumPath(),
}, async () => {
  await using dir = await tempDir();
  const shots = Deno.env.get("ASTRON_WATCH_SCREENSHOTS");
  const target = new TcpTarget();
  // nginx's log: three answers, two of them 502.
  const accessLog = `${dir.path}/access.log`;
  const nginxLine = (status: number) =>
    `10.0.0.9 - - [${
      timeLocal(Date.now())
    }] "POST /workflow/v1/chat/completions HTTP/1.1" ${status} 12 "-" "curl/8.5.0" "-"\n`;
  await Deno.writeTextFile(accessLog, [200, 502, 502].map(nginxLine).join(""));
  await Deno.writeTextFile(`${dir.path}/c.yaml`, config(target.target, accessLog));
  const agent = await spawnAgent({ config: `${dir.path}/c.yaml` });
  await using browser = await openBrowser();
  try {
    const origin = `http://127.0.0.1:${agent.port}`;
    const auth = { Authorization: `Bearer ${WRITE}` };
    // Two runs (one failed at its second node) and spans linked to the failed one.
    const ok = chatRun();
    const failed = errorRun();
    const posted = await fetch(`${origin}/api/v1/traces`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify([ok, failed]),
    });
    assert.equal(posted.status, 202, await posted.text());
    const spans = await fetch(`${origin}/v1/traces`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({
        resourceSpans: [{
          resource: { attributes: [{ key: "service.name", value: { stringValue: "workflow" } }] },
          scopeSpans: [{
            spans: [
              span(failed.sid, "POST /workflow/v1/chat/completions", failed.start_time, 30_013),
              span(failed.sid, "llm.call", failed.start_time + 5, 30_000, true),
            ],
          }],
        }],
      }),
    });
    assert.equal(spans.status, 200, await spans.text());
    // A platform service's request counter, over OTLP/HTTP JSON on the API port.
    const nanos = String(BigInt(Date.now()) * 1_000_000n);
    const metrics = await fetch(`${origin}/v1/metrics`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({
        resourceMetrics: [{
          resource: {
            attributes: [{ key: "service.name", value: { stringValue: "core-workflow" } }],
          },
          scopeMetrics: [{
            metrics: [{
              name: "server_request_total",
              sum: {
                aggregationTemporality: 1,
                isMonotonic: true,
                dataPoints: [{
                  attributes: [
                    { key: "func", value: { stringValue: "chat" } },
                    { key: "ret", value: { stringValue: "0" } },
                  ],
                  startTimeUnixNano: nanos,
                  timeUnixNano: nanos,
                  asInt: "10",
                }],
              },
            }],
          }],
        }],
      }),
    });
    assert.equal(metrics.status, 200, await metrics.text());
    await waitFor("the access log counted", async () => {
      const res = await fetch(`${origin}/api/v1/access?since=1h`, { headers: auth });
      return (await res.json()).requests === 3;
    });
    // Both probes have a state (the API says so) before the page is looked at.
    await waitFor("probe states", async () => {
      const res = await fetch(`${origin}/api/v1/probes`, { headers: auth });
      const states = (await res.json()).probes.map((p: { state: string }) => p.state).sort();
      return states.join() === "down,up";
    });
    await waitFor("the run stored", async () => {
      const res = await fetch(`${origin}/api/v1/traces/${encodeURIComponent(failed.sid)}`, {
        headers: auth,
      });
      await res.body?.cancel();
      return res.status === 200;
    });

    const page = await newPage(browser);
    await page.setExtraHTTPHeaders({ "Accept-Language": "en-US,en;q=0.9" });
    const requests = recordRequests(page);
    const shot = async (name: string) => {
      await page.screenshot({ path: `${dir.path}/${name}.png`, fullPage: true });
      if (shots) await Deno.copyFile(`${dir.path}/${name}.png`, `${shots}/${name}.png`);
    };

    // Signing in: a read token is set, so even loopback is sent to the form.
    await page.goto(`${origin}/`);
    assert.equal(new URL(page.url()).pathname, "/signin");
    await page.type("#token", "not-the-token");
    await Promise.all([page.waitForNavigation(), page.click("#signin")]);
    assert.match(
      await page.$eval(".notice", (e) => e.textContent ?? ""),
      /not the read or the write/,
    );
    await shot("signin-refused");
    await page.type("#token", READ);
    await Promise.all([page.waitForNavigation(), page.click("#signin")]);
    assert.equal(new URL(page.url()).pathname, "/");

    // The overview: each probe's state, the uptime bar, the firing alert.
    const states = await page.$$eval(
      "#probes tr[data-probe]",
      (rows) =>
        rows.map((r) => [r.getAttribute("data-probe"), r.querySelector(".state")?.textContent]),
    );
    assert.deepEqual(states, [["api", "up"], ["redis", "down"]]);
    // The uptime bars end with this slice: green for api, red for redis (runs held in memory count).
    const last = await page.$$eval(
      "#probes svg.bar",
      (bars) => bars.map((b) => b.querySelector("rect:last-of-type")?.getAttribute("class")),
    );
    assert.deepEqual(last, ["s-ok", "s-bad"]);
    await waitFor("the alert on the overview", async () => {
      await page.reload();
      return (await page.$$("#alerts tr[data-alert='redis-down']")).length === 1;
    });
    // The platform's service heard over OTLP, and nginx's traffic with its 5xx.
    assert.match(await page.$eval("#services", (e) => e.textContent ?? ""), /core-workflow/);
    assert.equal(await page.$eval("#access-5xx", (e) => e.textContent?.trim()), "2");
    await shot("overview");

    // The runs list, then the failed run by its link.
    await page.goto(`${origin}/runs`);
    const sids = await page.$$eval(
      "#runs tr[data-sid]",
      (rows) => rows.map((r) => r.getAttribute("data-sid")),
    );
    assert.deepEqual(new Set(sids), new Set([ok.sid, failed.sid]));
    await shot("runs");
    await Promise.all([
      page.waitForNavigation(),
      page.click(`#runs tr[data-sid="${failed.sid}"] a`),
    ]);
    const bars = await page.$$eval("svg.waterfall g.row.node", (rows) =>
      rows.map((r) => ({
        start: Number(r.getAttribute("data-start")),
        failed: r.getAttribute("data-failed") === "1",
      })));
    assert.equal(bars.length, failed.trace!.length, "one bar per node");
    const starts = bars.map((b) => b.start);
    assert.deepEqual(starts, [...starts].sort((a, b) => a - b), "in time order");
    assert.deepEqual(
      bars.map((b) => b.failed),
      failed.trace!.map((n) => n.running_status === false),
      "the failed node marked",
    );
    assert.ok(bars.some((b) => b.failed));
    assert.equal(await page.$$eval("svg.waterfall g.row.span", (rows) => rows.length), 2);
    assert.match(await page.$eval("#nodes", (e) => e.textContent ?? ""), /Timeout: LLM/);
    await shot("run-failed");
    await page.goto(`${origin}/runs/${encodeURIComponent(ok.sid)}`);
    assert.equal(
      await page.$$eval("svg.waterfall g.row.node", (rows) => rows.length),
      ok.trace!.length,
    );
    // The knowledge node's 30 KB result was offloaded: it is fetched when its details are opened.
    const blob = await page.$("details[data-blob]");
    assert.ok(blob, "an offloaded text on the page");
    assert.equal(await blob.$eval("pre", (e) => e.textContent), "");
    await blob.evaluate((d) => {
      (d.parentElement as HTMLDetailsElement).open = true;
      (d as HTMLDetailsElement).open = true;
    });
    await page.waitForFunction(
      () => (document.querySelector("details[data-blob] pre")?.textContent ?? "").length > 5_000,
    );
    await shot("run");

    await page.goto(`${origin}/probes/api`);
    assert.equal(await page.$eval("#state", (e) => e.textContent), "up");
    assert.ok(await page.$$eval("svg.phases rect", (r) => r.length) > 0, "latency drawn");
    assert.ok(await page.$$eval("#history tbody tr", (r) => r.length) > 0, "runs listed");
    await shot("probe");
    await page.goto(`${origin}/usage`);
    assert.match(await page.$eval("#by-app", (e) => e.textContent ?? ""), new RegExp(ok.app_id!));
    await shot("usage");

    // A read session sees silences but is asked for the write token to change them.
    await page.goto(`${origin}/alerts`);
    assert.equal((await page.$$("#new-silence")).length, 0);
    await shot("alerts");

    // Chinese, switched from the page.
    await Promise.all([page.waitForNavigation(), page.click("#lang")]);
    assert.match(await page.$eval("h1", (e) => e.textContent ?? ""), /告警/);
    await page.goto(`${origin}/`);
    assert.match(await page.$eval("h1", (e) => e.textContent ?? ""), /总览/);
    await shot("overview-zh");
    await page.goto(`${origin}/?lang=en`);

    // Sign out, then in with the write token: create a silence, then expire it.
    await Promise.all([page.waitForNavigation(), page.click("#signout")]);
    assert.equal(new URL(page.url()).pathname, "/signin");
    await page.goto(`${origin}/`);
    assert.equal(new URL(page.url()).pathname, "/signin", "signed out");
    await page.goto(`${origin}/signin?next=/alerts`);
    await page.type("#token", WRITE);
    await Promise.all([page.waitForNavigation(), page.click("#signin")]);
    assert.equal(new URL(page.url()).pathname, "/alerts");
    await page.type("#new-silence input[name=matchers]", 'rule="redis-down"');
    await page.type("#new-silence input[name=comment]", "redis maintenance");
    await Promise.all([page.waitForNavigation(), page.click("#new-silence button")]);
    assert.match(await page.$eval("#silences", (e) => e.textContent ?? ""), /redis maintenance/);
    const silences = await (await fetch(`${origin}/api/v1/silences`, { headers: auth })).json();
    assert.equal(silences.silences.length, 1);
    await shot("alerts-silenced");
    await Promise.all([page.waitForNavigation(), page.click("#silences button.expire")]);
    assert.equal((await page.$$("#silences tr[data-silence]")).length, 0);
    // A bad matcher is refused with the API's message beside the form.
    await page.type("#new-silence input[name=matchers]", "not a matcher");
    await Promise.all([page.waitForNavigation(), page.click("#new-silence button")]);
    assert.match(await page.$eval("#silence-error", (e) => e.textContent ?? ""), /matchers\[0\]/);

    // Unknown pages are 404 pages.
    const missing = await page.goto(`${origin}/runs/spf0@nothing`);
    assert.equal(missing?.status(), 404);
    assert.equal((await page.$$("#not-found")).length, 1);

    // Every request the browser made went to the agent.
    const elsewhere = requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith("data:"));
    assert.deepEqual(elsewhere, []);
    assert.ok(requests.some((u) => /\/assets\/console\.[0-9a-f]{12}\.css$/.test(u)));
    for (const name of ["overview", "run-failed", "probe", "alerts"]) {
      assert.ok((await Deno.stat(`${dir.path}/${name}.png`)).size > 5_000, name);
    }
  } finally {
    await agent.close();
    target.close();
  }
});

async function waitFor(what: string, pred: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!await pred()) {
    if (Date.now() > until) throw new Error(`not within ${ms}ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
