/**
 * Alert channels against real loopback receivers, checked as each vendor
 * documents the request, independently of our code: signatures are
 * recomputed here with WebCrypto (`crypto.subtle`), not with the agent's
 * signing functions; the email channel talks to a small RFC 5321 server
 * written below (with STARTTLS through a TLS listener it hands the
 * connection to, since Deno has no server-side `startTls`).
 *
 * Every case runs `astron-watch alerts test CHANNEL -c FILE` as users do.
 */

import assert from "node:assert/strict";
import { cli, type CliResult, tempDir } from "./support/agent.ts";
import { type Received, Receiver } from "./support/receivers.ts";
import { locateOpenssl, makeCerts, type TestCerts } from "./support/tls.ts";
import { emailMessage } from "../src/alerts/smtp.ts";
import type { ChannelConfig } from "../src/config/alerts.ts";
import type { Notification } from "../src/alerts/message.ts";

// ---------------------------------------------------------------- helpers

const enc = new TextEncoder();
const dec = new TextDecoder();
const strict = new TextDecoder("utf-8", { fatal: true });

/** Base64 of bytes. */
function b64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Bytes of Base64 text (strict: throws on anything but the Base64 alphabet). */
function unb64(text: string): Uint8Array {
  assert.match(text, /^[A-Za-z0-9+/]*={0,2}$/, `not Base64: ${JSON.stringify(text)}`);
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Base64(HMAC-SHA256(key, message)) with WebCrypto. */
async function hmacBase64(key: string, message: string): Promise<string> {
  const k = await crypto.subtle.importKey(
    "raw",
    enc.encode(key),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return b64(new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(message))));
}

/** Write the config (language and channels) and run `alerts test NAME`. */
async function alertsTest(
  channels: string,
  name: string,
  options: { language?: "zh" | "en"; env?: Record<string, string> } = {},
): Promise<CliResult> {
  await using dir = await tempDir();
  const file = `${dir.path}/astron-watch.yaml`;
  await Deno.writeTextFile(
    file,
    `alerts:\n  language: ${options.language ?? "zh"}\n  channels:\n${
      channels.trim().split("\n").map((l) => `    ${l}`).join("\n")
    }\n`,
  );
  return await cli(["alerts", "test", name, "-c", file], { cwd: dir.path, env: options.env });
}

function show(r: CliResult): string {
  return `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

function assertSent(r: CliResult) {
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^sent: /, show(r));
}

function assertNotSent(r: CliResult, result: "refused" | "failed", detail?: RegExp) {
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, new RegExp(`^${result}: `), show(r));
  if (detail) assert.match(r.stdout, detail, show(r));
}

/** The raw (still percent-encoded) value of `key` in a query string. */
function rawQuery(search: string, key: string): string | undefined {
  for (const part of search.replace(/^\?/, "").split("&")) {
    const eq = part.indexOf("=");
    if (eq >= 0 && part.slice(0, eq) === key) return part.slice(eq + 1);
  }
  return undefined;
}

function only(r: Receiver): Received {
  assert.equal(r.requests.length, 1, `expected one request, got ${r.requests.length}`);
  return r.requests[0];
}

// --------------------------------------------------------------- DingTalk

Deno.test("channels: dingtalk robot request is signed (加签) as DingTalk documents, markdown body", async () => {
  const rx = await Receiver.start();
  try {
    rx.answer = () => Response.json({ errcode: 0, errmsg: "ok" });
    const before = Date.now();
    const r = await alertsTest(
      `ding: { type: dingtalk, url: "${rx.url}/robot/send?access_token=abc", secret: "SEC123" }`,
      "ding",
    );
    const after = Date.now();
    assertSent(r);
    const req = only(rx);
    assert.equal(req.path, "/robot/send");
    assert.match(req.headers.get("content-type") ?? "", /^application\/json\b/);
    const q = new URLSearchParams(req.search);
    assert.equal(q.get("access_token"), "abc", "the robot's token stays in the query");
    // timestamp: epoch milliseconds, within an hour of DingTalk's clock (here: of the run).
    const ts = q.get("timestamp") ?? "";
    assert.match(ts, /^\d{13}$/, `timestamp ${ts} is not epoch ms`);
    assert.ok(Number(ts) >= before - 60_000 && Number(ts) <= after + 60_000, `timestamp ${ts}`);
    // sign = urlEncode(Base64(HmacSHA256(key=secret, message=timestamp + "\n" + secret))).
    const expected = await hmacBase64("SEC123", `${ts}\nSEC123`);
    const raw = rawQuery(req.search, "sign");
    assert.ok(raw !== undefined, `no sign in ${req.search}`);
    assert.equal(decodeURIComponent(raw), expected);
    assert.doesNotMatch(raw, /[+/=]/, "the Base64 signature is URL-encoded in the query");
    assert.equal(raw, encodeURIComponent(expected));
    // The secret itself never travels.
    assert.ok(!req.search.includes("SEC123") && !req.body.includes("SEC123"));
    // Body: { msgtype: "markdown", markdown: { title, text } }.
    const body = JSON.parse(req.body);
    assert.deepEqual(Object.keys(body).sort(), ["markdown", "msgtype"]);
    assert.equal(body.msgtype, "markdown");
    assert.deepEqual(Object.keys(body.markdown).sort(), ["text", "title"]);
    assert.equal(typeof body.markdown.title, "string");
    assert.ok(body.markdown.title.length > 0);
    assert.match(body.markdown.title, /astron-watch-test/);
    assert.match(body.markdown.text, /测试/, "language zh: the text is Chinese");
    assert.match(body.markdown.text, /ding/, "the test message names the channel");
  } finally {
    await rx.close();
  }
});

Deno.test("channels: dingtalk without a secret sends no timestamp or sign", async () => {
  const rx = await Receiver.start();
  try {
    const r = await alertsTest(
      `ding: { type: dingtalk, url: "${rx.url}/robot/send?access_token=abc" }`,
      "ding",
    );
    assertSent(r);
    const q = new URLSearchParams(only(rx).search);
    assert.deepEqual([...q.keys()], ["access_token"]);
  } finally {
    await rx.close();
  }
});

Deno.test("channels: dingtalk HTTP 200 with errcode 310000 (sign not match) is refused", async () => {
  const rx = await Receiver.start();
  try {
    rx.answer = () => Response.json({ errcode: 310000, errmsg: "sign not match" });
    const r = await alertsTest(
      `ding: { type: dingtalk, url: "${rx.url}/robot/send?access_token=abc", secret: "SEC123" }`,
      "ding",
    );
    assertNotSent(r, "refused", /sign not match/);
    assert.equal(rx.requests.length, 1, "a refusal is not retried by `alerts test`");
  } finally {
    await rx.close();
  }
});

Deno.test("channels: dingtalk rate limit (errcode 130101) is a failure to retry, not a refusal", async () => {
  const rx = await Receiver.start();
  try {
    rx.answer = () =>
      Response.json({ errcode: 130101, errmsg: "send too fast, exceed 20 times per minute" });
    const r = await alertsTest(
      `ding: { type: dingtalk, url: "${rx.url}/robot/send?access_token=abc" }`,
      "ding",
    );
    assertNotSent(r, "failed", /130101/);
  } finally {
    await rx.close();
  }
});

// ----------------------------------------------------------------- Feishu

Deno.test("channels: feishu bot body is signed (签名校验) as Feishu documents, interactive card", async () => {
  const rx = await Receiver.start();
  try {
    rx.answer = () => Response.json({ code: 0, msg: "success", data: {} });
    const before = Date.now();
    const r = await alertsTest(
      `fs: { type: feishu, url: "${rx.url}/open-apis/bot/v2/hook/xyz", secret: "fsecret" }`,
      "fs",
    );
    const after = Date.now();
    assertSent(r);
    const req = only(rx);
    assert.equal(req.path, "/open-apis/bot/v2/hook/xyz");
    assert.match(req.headers.get("content-type") ?? "", /^application\/json\b/);
    const body = JSON.parse(req.body);
    // timestamp: epoch seconds, as a string.
    assert.equal(typeof body.timestamp, "string", "timestamp is a string");
    assert.match(body.timestamp, /^\d{10}$/, `timestamp ${body.timestamp} is not epoch seconds`);
    const ts = Number(body.timestamp);
    assert.ok(
      ts >= Math.floor(before / 1000) - 60 && ts <= Math.ceil(after / 1000) + 60,
      `timestamp ${ts}`,
    );
    // sign = Base64(HmacSHA256(key = timestamp + "\n" + secret, message = "")).
    assert.equal(typeof body.sign, "string");
    unb64(body.sign);
    assert.equal(body.sign, await hmacBase64(`${body.timestamp}\nfsecret`, ""));
    assert.ok(!req.body.includes("fsecret"), "the secret itself never travels");
    // An interactive card.
    assert.equal(body.msg_type, "interactive");
    const card = body.card;
    assert.equal(typeof card, "object");
    assert.equal(card.header.title.tag, "plain_text");
    assert.match(card.header.title.content, /astron-watch-test/);
    assert.ok(Array.isArray(card.elements) && card.elements.length > 0);
    const text = card.elements.map((e: { content?: string }) => e.content ?? "").join("\n");
    assert.match(text, /测试/);
  } finally {
    await rx.close();
  }
});

Deno.test("channels: feishu code 19021 (sign match fail) is refused", async () => {
  const rx = await Receiver.start();
  try {
    rx.answer = () =>
      Response.json({
        code: 19021,
        msg: "sign match fail or timestamp is not within one hour from current time",
        data: {},
      });
    const r = await alertsTest(
      `fs: { type: feishu, url: "${rx.url}/open-apis/bot/v2/hook/xyz", secret: "fsecret" }`,
      "fs",
    );
    assertNotSent(r, "refused", /19021/);
  } finally {
    await rx.close();
  }
});

// ------------------------------------------------------------------ WeCom

Deno.test("channels: wecom group robot gets markdown.content within 4096 bytes, in Chinese for zh", async () => {
  const rx = await Receiver.start();
  try {
    rx.answer = () => Response.json({ errcode: 0, errmsg: "ok" });
    const r = await alertsTest(
      `wx: { type: wecom, url: "${rx.url}/cgi-bin/webhook/send?key=k" }`,
      "wx",
    );
    assertSent(r);
    const req = only(rx);
    assert.equal(req.path, "/cgi-bin/webhook/send");
    assert.equal(new URLSearchParams(req.search).get("key"), "k");
    assert.match(req.headers.get("content-type") ?? "", /^application\/json\b/);
    const body = JSON.parse(req.body);
    assert.deepEqual(body, { msgtype: "markdown", markdown: { content: body.markdown.content } });
    assert.equal(typeof body.markdown.content, "string");
    const bytes = enc.encode(body.markdown.content).length;
    assert.ok(bytes > 0 && bytes <= 4096, `content is ${bytes} bytes`);
    assert.match(body.markdown.content, /测试/);
    assert.match(body.markdown.content, /告警/);
  } finally {
    await rx.close();
  }
});

Deno.test("channels: wecom errcode 93000 (invalid webhook url) is refused, 45009 (rate limit) failed", async () => {
  const rx = await Receiver.start();
  try {
    const channel = `wx: { type: wecom, url: "${rx.url}/cgi-bin/webhook/send?key=k" }`;
    rx.answer = () => Response.json({ errcode: 93000, errmsg: "invalid webhook url" });
    assertNotSent(await alertsTest(channel, "wx"), "refused", /93000/);
    rx.answer = () => Response.json({ errcode: 45009, errmsg: "api freq out of limit" });
    assertNotSent(await alertsTest(channel, "wx"), "failed", /45009/);
  } finally {
    await rx.close();
  }
});

// ------------------------------------------------------------------ Slack

Deno.test("channels: slack incoming webhook gets `text` in Slack's mrkdwn", async () => {
  const rx = await Receiver.start();
  try {
    // Slack answers a plain-text "ok".
    rx.answer = () => new Response("ok", { headers: { "content-type": "text/plain" } });
    const r = await alertsTest(`sl: { type: slack, url: "${rx.url}/services/T/B/X" }`, "sl", {
      language: "en",
    });
    assertSent(r);
    const req = only(rx);
    assert.equal(req.path, "/services/T/B/X");
    assert.match(req.headers.get("content-type") ?? "", /^application\/json\b/);
    const body = JSON.parse(req.body);
    assert.equal(typeof body.text, "string");
    assert.match(body.text, /astron-watch test message \(channel sl\)/);
    assert.doesNotMatch(body.text, /\*\*/, "Slack bold is *x*, not **x**");
    assert.doesNotMatch(body.text, /\]\(/, "Slack links are <url|text>, not [text](url)");
    assert.match(body.text, /<http[^|>]+\|[^>]+>/);
  } finally {
    await rx.close();
  }
});

Deno.test("channels: an HTTP 500 answer is failed, a 400 refused (exit 1 both)", async () => {
  const rx = await Receiver.start();
  try {
    const slack = `sl: { type: slack, url: "${rx.url}/services/T/B/X" }`;
    rx.answer = () => new Response("internal error", { status: 500 });
    assertNotSent(await alertsTest(slack, "sl"), "failed", /500/);
    rx.answer = () => new Response("invalid_payload", { status: 400 });
    assertNotSent(await alertsTest(slack, "sl"), "refused", /400 invalid_payload/);
    const ding = `ding: { type: dingtalk, url: "${rx.url}/robot/send?access_token=abc" }`;
    rx.answer = () => new Response("bad gateway", { status: 502 });
    assertNotSent(await alertsTest(ding, "ding"), "failed", /502/);
    rx.answer = () => new Response("forbidden", { status: 403 });
    assertNotSent(await alertsTest(ding, "ding"), "refused", /403/);
    assert.equal(rx.requests.length, 4);
  } finally {
    await rx.close();
  }
});

Deno.test("channels: a receiver that is not listening is failed", async () => {
  const down = Receiver.reserve();
  const r = await alertsTest(`sl: { type: slack, url: "${down.url}/services/T/B/X" }`, "sl");
  assertNotSent(r, "failed");
});

Deno.test("channels: a receiver that does not answer within the channel's timeout is failed", async () => {
  const rx = await Receiver.start();
  try {
    rx.answer = () =>
      new Promise((resolve) => setTimeout(() => resolve(new Response("ok")), 1_500));
    const started = Date.now();
    const r = await alertsTest(
      `sl: { type: slack, url: "${rx.url}/services/T/B/X", timeout: 300ms }`,
      "sl",
    );
    assertNotSent(r, "failed", /300ms/);
    assert.ok(Date.now() - started < 1_500 + 5_000);
  } finally {
    await rx.close();
  }
});

// ------------------------------------------------------------------ email

/** What one SMTP client connection did. */
interface SmtpSession {
  /** Every command line, as received (`"(tls) "` prefixed once upgraded). */
  commands: string[];
  ehlo?: string;
  mailFrom?: string;
  rcptTo: string[];
  /** The message as sent between DATA and "." (dot-stuffing undone), CRLF line ends. */
  data?: string;
  /** `AUTH PLAIN`: the decoded `authzid\0authcid\0password`, and whether it came over TLS. */
  auth?: { plain: string; tls: boolean };
  tls: boolean;
}

/** Server options. */
interface SmtpOptions {
  /** Advertise STARTTLS (needs `certs`). */
  starttls?: boolean;
  certs?: TestCerts;
  /** Advertise AUTH PLAIN. */
  auth?: boolean;
  /** Reply to RCPT TO instead of 250. */
  rcptReply?: string;
}

/** Reads CRLF-terminated lines from a connection. */
class Lines {
  #buf = new Uint8Array(0);
  constructor(readonly conn: Deno.Conn) {}

  async next(): Promise<string | null> {
    for (;;) {
      for (let i = 0; i + 1 < this.#buf.length; i++) {
        if (this.#buf[i] === 13 && this.#buf[i + 1] === 10) {
          const line = dec.decode(this.#buf.subarray(0, i));
          this.#buf = this.#buf.slice(i + 2);
          return line;
        }
      }
      const chunk = new Uint8Array(16 * 1024);
      const n = await this.conn.read(chunk);
      if (n === null) return null;
      const next = new Uint8Array(this.#buf.length + n);
      next.set(this.#buf);
      next.set(chunk.subarray(0, n), this.#buf.length);
      this.#buf = next;
    }
  }

  /** Bytes read but not yet taken as lines. */
  get pending(): number {
    return this.#buf.length;
  }
}

async function writeAll(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = enc.encode(text);
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/**
 * A minimal RFC 5321 server on loopback that records each session. With
 * `starttls`, after "220 Ready to start TLS" it relays the raw connection to
 * its own TLS listener, where the same session continues encrypted.
 */
class SmtpServer {
  readonly sessions: SmtpSession[] = [];
  readonly #listener: Deno.Listener;
  #tlsListener?: Deno.TlsListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  /** Sessions waiting for their TLS leg, in the order they asked. */
  readonly #handoff: SmtpSession[] = [];

  constructor(readonly options: SmtpOptions = {}) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#track(this.#accept(this.#listener, false));
    if (options.starttls) {
      assert.ok(options.certs, "STARTTLS needs certificates");
      this.#tlsListener = Deno.listenTls({
        hostname: "127.0.0.1",
        port: 0,
        cert: options.certs.chain,
        key: options.certs.key,
      });
      this.#track(this.#accept(this.#tlsListener, true));
    }
  }

  get url(): string {
    return `smtp://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  #track(p: Promise<void>) {
    const t = p.catch(() => {}).finally(() => this.#tasks.delete(t));
    this.#tasks.add(t);
  }

  async #accept(listener: Deno.Listener, tls: boolean): Promise<void> {
    try {
      for await (const conn of listener) {
        this.#conns.add(conn);
        this.#track(
          this.#serve(conn, tls).finally(() => {
            this.#conns.delete(conn);
            try {
              conn.close();
            } catch { /* closed */ }
          }),
        );
      }
    } catch { /* listener closed */ }
  }

  async #serve(conn: Deno.Conn, tls: boolean): Promise<void> {
    let session: SmtpSession;
    if (tls) {
      const s = this.#handoff.shift();
      if (!s) return;
      session = s;
      session.tls = true;
    } else {
      session = { commands: [], rcptTo: [], tls: false };
      this.sessions.push(session);
      await writeAll(conn, "220 smtp.example.test ESMTP test server\r\n");
    }
    const lines = new Lines(conn);
    const reply = (text: string) => writeAll(conn, text + "\r\n");
    for (;;) {
      const line = await lines.next();
      if (line === null) return;
      session.commands.push((tls ? "(tls) " : "") + line);
      const verb = line.split(" ")[0].toUpperCase();
      switch (verb) {
        case "EHLO": {
          session.ehlo = line.slice(5);
          const ext = ["8BITMIME", "SIZE 10485760"];
          if (this.options.starttls && !tls) ext.push("STARTTLS");
          if (this.options.auth) ext.push("AUTH PLAIN LOGIN");
          const all = [`smtp.example.test greets ${session.ehlo}`, ...ext];
          await reply(all.map((l, i) => `250${i === all.length - 1 ? " " : "-"}${l}`).join("\r\n"));
          break;
        }
        case "HELO":
          await reply("250 smtp.example.test");
          break;
        case "STARTTLS": {
          if (!this.options.starttls || tls) {
            // A server without the extension does not know the verb.
            await reply("500 5.5.2 command not recognized");
            break;
          }
          // RFC 3207: nothing may follow STARTTLS before the handshake.
          assert.equal(lines.pending, 0, "the client pipelined after STARTTLS");
          await reply("220 2.0.0 Ready to start TLS");
          this.#handoff.push(session);
          const port = (this.#tlsListener!.addr as Deno.NetAddr).port;
          const leg = await Deno.connect({ hostname: "127.0.0.1", port });
          this.#conns.add(leg);
          try {
            await Promise.all([relay(conn, leg), relay(leg, conn)]);
          } finally {
            this.#conns.delete(leg);
            try {
              leg.close();
            } catch { /* closed */ }
          }
          return;
        }
        case "AUTH": {
          const [, mech, initial] = line.split(" ");
          if (mech?.toUpperCase() !== "PLAIN" || !initial) {
            await reply("504 5.5.4 only AUTH PLAIN with an initial response here");
            break;
          }
          session.auth = { plain: dec.decode(unb64(initial)), tls };
          await reply("235 2.7.0 Authentication successful");
          break;
        }
        case "MAIL": {
          const m = /^MAIL FROM:<([^>]*)>/i.exec(line);
          if (!m) {
            await reply("501 5.5.4 syntax: MAIL FROM:<address>");
            break;
          }
          session.mailFrom = m[1];
          await reply("250 2.1.0 Ok");
          break;
        }
        case "RCPT": {
          const m = /^RCPT TO:<([^>]*)>/i.exec(line);
          if (!m) {
            await reply("501 5.5.4 syntax: RCPT TO:<address>");
            break;
          }
          if (!session.mailFrom) {
            await reply("503 5.5.1 need MAIL first");
            break;
          }
          if (this.options.rcptReply) {
            await reply(this.options.rcptReply);
            break;
          }
          session.rcptTo.push(m[1]);
          await reply("250 2.1.5 Ok");
          break;
        }
        case "DATA": {
          if (!session.rcptTo.length) {
            await reply("503 5.5.1 need RCPT first");
            break;
          }
          await reply("354 End data with <CR><LF>.<CR><LF>");
          const data: string[] = [];
          for (;;) {
            const l = await lines.next();
            if (l === null) return;
            if (l === ".") break;
            data.push(l.startsWith(".") ? l.slice(1) : l);
          }
          session.data = data.map((l) => l + "\r\n").join("");
          await reply("250 2.0.0 Ok: queued as 4F2A1");
          break;
        }
        case "RSET":
        case "NOOP":
          await reply("250 2.0.0 Ok");
          break;
        case "QUIT":
          await reply("221 2.0.0 Bye");
          return;
        default:
          await reply("500 5.5.2 command not recognized");
      }
    }
  }

  async close(): Promise<void> {
    this.#listener.close();
    this.#tlsListener?.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    while (this.#tasks.size) await Promise.all([...this.#tasks]);
  }
}

/** Copy `from` to `to` until `from` ends, then end `to`'s writing side. */
async function relay(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
    }
  } catch { /* either side closed */ }
  try {
    await (to as Deno.TcpConn).closeWrite();
  } catch { /* closed */ }
}

/** A parsed RFC 5322 message: unfolded headers by lower-case name, and the body. */
function parseMessage(data: string): { headers: Map<string, string>; body: string } {
  const end = data.indexOf("\r\n\r\n");
  assert.ok(end > 0, "a header section, an empty line, then the body");
  const headers = new Map<string, string>();
  for (const h of data.slice(0, end).replace(/\r\n[ \t]+/g, " ").split("\r\n")) {
    const colon = h.indexOf(":");
    assert.ok(colon > 0, `not a header field: ${JSON.stringify(h)}`);
    const name = h.slice(0, colon).toLowerCase();
    assert.ok(!headers.has(name), `header ${name} twice`);
    headers.set(name, h.slice(colon + 1).trim());
  }
  return { headers, body: data.slice(end + 4) };
}

/** Decode an RFC 2047 header value made of encoded-words (B or Q), checking their form. */
function decodeEncodedWords(value: string): string {
  const words = value.split(/\s+/);
  let out = "";
  for (const w of words) {
    const m = /^=\?([^?]+)\?([BbQq])\?([^?]*)\?=$/.exec(w);
    assert.ok(m, `${JSON.stringify(w)} is not an RFC 2047 encoded-word`);
    assert.ok(w.length <= 75, `encoded-word of ${w.length} chars (RFC 2047: at most 75)`);
    assert.equal(m[1].toUpperCase(), "UTF-8");
    const bytes = m[2].toUpperCase() === "B" ? unb64(m[3]) : Uint8Array.from(
      m[3].replace(/_/g, " ").match(/=[0-9A-F]{2}|[^=]/gi) ?? [],
      (t) => t.length === 3 ? parseInt(t.slice(1), 16) : t.charCodeAt(0),
    );
    out += strict.decode(bytes);
  }
  return out;
}

function emailChannel(url: string, extra = ""): string {
  return `mail: { type: email, url: "${url}", from: "aw@example.test", ` +
    `to: ["ops@example.test", "oncall@example.test"]${extra} }`;
}

/** Check the whole message as RFC 5322 / MIME / RFC 2047 say. */
function assertMessage(data: string) {
  assert.doesNotMatch(data.replace(/\r\n/g, ""), /[\r\n]/, "every line ends in CRLF");
  assert.ok([...data].every((ch) => ch.charCodeAt(0) < 0x80), "7-bit: UTF-8 only encoded");
  for (const l of data.split("\r\n")) assert.ok(l.length <= 998, "line longer than 998");
  const { headers, body } = parseMessage(data);
  assert.equal(headers.get("from"), "aw@example.test");
  assert.match(headers.get("to") ?? "", /ops@example\.test.*oncall@example\.test/);
  assert.ok(!Number.isNaN(Date.parse(headers.get("date") ?? "")), "a Date header");
  assert.match(headers.get("message-id") ?? "", /^<[^<>@\s]+@[^<>@\s]+>$/);
  assert.equal(headers.get("mime-version"), "1.0");
  assert.match(headers.get("content-type") ?? "", /^text\/plain;\s*charset="?utf-8"?$/i);
  assert.equal(headers.get("content-transfer-encoding")?.toLowerCase(), "base64");
  // Subject: RFC 2047 encoded (it has Chinese in it: language zh).
  const rawSubject = headers.get("subject") ?? "";
  assert.match(rawSubject, /^=\?UTF-8\?[BQ]\?/i, `Subject ${rawSubject} is not RFC 2047`);
  const subject = decodeEncodedWords(rawSubject);
  assert.match(subject, /告警/);
  assert.match(subject, /astron-watch-test/);
  // Body: Base64 lines of at most 76 characters, decoding to the UTF-8 text.
  const b64lines = body.split("\r\n").filter((l) => l !== "");
  for (const l of b64lines) assert.ok(l.length <= 76, `Base64 line of ${l.length} chars`);
  const text = strict.decode(unb64(b64lines.join("")));
  assert.match(text, /astron-watch 测试消息（通道 mail）/);
  assert.match(text, /收到此消息说明告警通道配置正确/);
  assert.doesNotMatch(text, /\*\*/, "no markdown bold in a plain-text mail");
}

Deno.test("channels: email over plain SMTP (starttls: false): envelope, RFC 2047 subject, Base64 body", async () => {
  const smtp = new SmtpServer();
  try {
    const r = await alertsTest(emailChannel(smtp.url, ", starttls: false"), "mail");
    assertSent(r);
    assert.match(r.stdout, /250 .*queued as 4F2A1/);
    assert.equal(smtp.sessions.length, 1);
    const s = smtp.sessions[0];
    const verbs = s.commands.map((c) => c.split(/[ :]/)[0].toUpperCase());
    assert.deepEqual(verbs, ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]);
    assert.ok(s.ehlo && s.ehlo.length > 0, "EHLO names the client");
    assert.equal(s.mailFrom, "aw@example.test");
    assert.deepEqual(s.rcptTo, ["ops@example.test", "oncall@example.test"]);
    assert.ok(s.data, "the message arrived");
    assertMessage(s.data);
  } finally {
    await smtp.close();
  }
});

Deno.test("channels: a long non-ASCII subject is split into encoded-words of at most 75 characters", () => {
  const rule = "core-workflow-error-ratio-production-cluster-east-2"; // 51 of at most 64
  const now = Date.now();
  const n: Notification = {
    group: { rule, labels: {} },
    externalUrl: "http://127.0.0.1:8080",
    language: "zh",
    alerts: [{
      status: "resolved",
      rule,
      severity: "critical",
      labels: { rule, severity: "critical" },
      annotations: { summary: "错误率 12%，超过阈值 1%", description: "持续五分钟" },
      value: 0.12,
      value_text: "12%",
      starts_at: now - 600_000,
      ends_at: now,
      link: "http://127.0.0.1:8080/api/v1/alerts",
      key: rule,
    }],
  };
  const c = {
    type: "email",
    url: "smtp://127.0.0.1:25",
    from: "aw@example.test",
    to: ["ops@example.test"],
  } as ChannelConfig;
  const data = emailMessage(c, n, now) + "\r\n";
  const head = data.slice(0, data.indexOf("\r\n\r\n"));
  for (const l of head.split("\r\n")) {
    assert.ok(l.length <= 78, `header line of ${l.length} chars (RFC 5322 SHOULD: 78)`);
  }
  const { headers, body } = parseMessage(data);
  const subject = decodeEncodedWords(headers.get("subject") ?? "");
  assert.ok(subject.includes(rule), subject);
  assert.match(subject, /恢复/);
  const text = strict.decode(unb64(body.split("\r\n").join("")));
  assert.match(text, /错误率 12%，超过阈值 1%/);
});

Deno.test("channels: email RCPT answered 5xx is refused, 4xx failed", async () => {
  for (
    const [reply, result] of [
      ["550 5.1.1 <ops@example.test>: Recipient address rejected", "refused"],
      ["451 4.3.0 try again later", "failed"],
    ] as const
  ) {
    const smtp = new SmtpServer({ rcptReply: reply });
    try {
      const r = await alertsTest(emailChannel(smtp.url, ", starttls: false"), "mail");
      assertNotSent(r, result, new RegExp(reply.slice(0, 3)));
      assert.equal(smtp.sessions[0].data, undefined);
    } finally {
      await smtp.close();
    }
  }
});

Deno.test("channels: email with starttls (the default) refuses a server that offers no STARTTLS", async () => {
  const smtp = new SmtpServer();
  try {
    const r = await alertsTest(emailChannel(smtp.url), "mail");
    assertNotSent(r, "refused", /STARTTLS/);
    const s = smtp.sessions[0];
    assert.equal(s.mailFrom, undefined, "nothing sent in clear");
    assert.equal(s.data, undefined);
    assert.ok(!s.commands.some((c) => /^(MAIL|RCPT|DATA|AUTH)/i.test(c)), s.commands.join("\n"));
  } finally {
    await smtp.close();
  }
});

Deno.test("channels: email with a password and starttls: false is refused before the password is sent", async () => {
  const smtp = new SmtpServer({ auth: true });
  try {
    const r = await alertsTest(
      emailChannel(smtp.url, `, starttls: false, username: "aw", password: "hunter2"`),
      "mail",
    );
    assertNotSent(r, "refused", /clear/);
    const s = smtp.sessions[0];
    assert.equal(s.auth, undefined, "no AUTH in clear");
    assert.ok(!s.commands.join("\n").includes(btoa("\0aw\0hunter2")));
    assert.ok(!s.commands.some((c) => /^(AUTH|MAIL|DATA)/i.test(c)), s.commands.join("\n"));
  } finally {
    await smtp.close();
  }
});

Deno.test("channels: an SMTP server that never greets is failed within the channel's timeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of listener) held.push(c);
    } catch { /* closed */ }
  })();
  try {
    const url = `smtp://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    const started = Date.now();
    const r = await alertsTest(emailChannel(url, ", starttls: false, timeout: 300ms"), "mail");
    assertNotSent(r, "failed", /no answer within 300ms/);
    assert.ok(Date.now() - started < 5_000, "the timeout ended the attempt");
    assert.equal(held.length, 1);
  } finally {
    listener.close();
    await accepting;
    for (const c of held) c.close();
  }
});

const openssl = locateOpenssl();

Deno.test({
  name: "channels: email upgrades with STARTTLS, logs in with AUTH PLAIN and sends only over TLS",
  ignore: !openssl.ok,
  async fn() {
    if (!openssl.ok) return;
    await using dir = await tempDir();
    const certs = await makeCerts(openssl.value);
    const caFile = `${dir.path}/ca.pem`;
    await Deno.writeTextFile(caFile, certs.ca);
    const smtp = new SmtpServer({ starttls: true, certs, auth: true });
    try {
      const r = await alertsTest(
        emailChannel(smtp.url, `, username: "aw", password: "hunter2"`),
        "mail",
        { env: { DENO_CERT: caFile } },
      );
      assertSent(r);
      assert.equal(smtp.sessions.length, 1);
      const s = smtp.sessions[0];
      assert.ok(s.tls, "the session went on over TLS");
      // In clear: EHLO and STARTTLS only; then EHLO again (RFC 3207 4.2) and the rest.
      const clear = s.commands.filter((c) => !c.startsWith("(tls) "));
      assert.deepEqual(clear.map((c) => c.split(" ")[0].toUpperCase()), ["EHLO", "STARTTLS"]);
      const secure = s.commands.filter((c) => c.startsWith("(tls) ")).map((c) =>
        c.slice(6).split(/[ :]/)[0].toUpperCase()
      );
      assert.deepEqual(secure, ["EHLO", "AUTH", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]);
      // RFC 4616: authzid NUL authcid NUL passwd.
      assert.deepEqual(s.auth, { plain: "\0aw\0hunter2", tls: true });
      assert.equal(s.mailFrom, "aw@example.test");
      assert.deepEqual(s.rcptTo, ["ops@example.test", "oncall@example.test"]);
      assert.ok(s.data);
      assertMessage(s.data);
    } finally {
      await smtp.close();
    }
  },
});

Deno.test({
  name: "channels: email with STARTTLS to an untrusted certificate fails and sends nothing",
  ignore: !openssl.ok,
  async fn() {
    if (!openssl.ok) return;
    const certs = await makeCerts(openssl.value);
    const smtp = new SmtpServer({ starttls: true, certs, auth: true });
    try {
      const r = await alertsTest(
        emailChannel(smtp.url, `, username: "aw", password: "hunter2"`),
        "mail",
      );
      assertNotSent(r, "failed");
      const s = smtp.sessions[0];
      assert.equal(s.auth, undefined);
      assert.equal(s.mailFrom, undefined);
      assert.ok(!s.commands.some((c) => /^(AUTH|MAIL)/i.test(c)), s.commands.join("\n"));
    } finally {
      await smtp.close();
    }
  },
});
