/**
 * The `email` channel: a small SMTP client (RFC 5321) on Deno's own TCP and
 * TLS: `smtps://` is TLS from the first byte; `smtp://` upgrades with
 * STARTTLS (RFC 3207) and, with `starttls: true` (the default), refuses a
 * server that does not offer it rather than send in clear; `AUTH PLAIN`
 * when a `username` is set. The message is UTF-8 text, Base64-encoded, with
 * an RFC 2047 subject. A 4xx reply is a failure to retry, a 5xx a refusal.
 * (No npm SMTP client was added: what an alert needs is this much, and
 * Deno's `startTls` does the hard part.)
 *
 * @module
 */

import type { ChannelConfig } from "../config/alerts.ts";
import { chatText, type Notification } from "./message.ts";
import type { Delivery } from "./channels.ts";

/** An SMTP reply that ends the conversation. */
class SmtpReply extends Error {
  constructor(readonly code: number, readonly text: string) {
    super(`${code} ${text}`);
  }
}

class Session {
  #conn: Deno.Conn;
  #buf = "";
  readonly #dec = new TextDecoder();
  readonly #enc = new TextEncoder();

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  get conn(): Deno.Conn {
    return this.#conn;
  }

  upgrade(conn: Deno.Conn): void {
    this.#conn = conn;
    this.#buf = "";
  }

  async #line(): Promise<string> {
    for (;;) {
      const nl = this.#buf.indexOf("\r\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 2);
        return line;
      }
      const chunk = new Uint8Array(4096);
      const n = await this.#conn.read(chunk);
      if (n === null) throw new Error("the server closed the connection");
      this.#buf += this.#dec.decode(chunk.subarray(0, n), { stream: true });
      if (this.#buf.length > 64 * 1024) throw new Error("reply line too long");
    }
  }

  /** Read one (possibly multi-line) reply; throws {@linkcode SmtpReply} unless its code is expected. */
  async reply(expect: number[]): Promise<string[]> {
    const lines: string[] = [];
    let code = 0;
    for (;;) {
      const line = await this.#line();
      code = Number(line.slice(0, 3));
      lines.push(line.slice(4));
      if (line[3] !== "-") break;
    }
    if (!expect.includes(code)) throw new SmtpReply(code, lines.join(" "));
    return lines;
  }

  async send(text: string, expect: number[]): Promise<string[]> {
    await this.write(text + "\r\n");
    return await this.reply(expect);
  }

  async write(text: string): Promise<void> {
    const bytes = this.#enc.encode(text);
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }
}

/**
 * RFC 2047 encoded-words for a UTF-8 header value (plain ASCII stays as is):
 * each word at most 75 characters and whole characters only (at most 39
 * bytes, 52 Base64 characters, so the first line stays within 78 with
 * `Subject: `), folded onto continuation lines.
 */
function encodeHeader(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  const words: string[] = [];
  let chunk = "";
  for (const ch of text) {
    if (chunk && new TextEncoder().encode(chunk + ch).length > 39) {
      words.push(`=?UTF-8?B?${base64(chunk)}?=`);
      chunk = "";
    }
    chunk += ch;
  }
  if (chunk) words.push(`=?UTF-8?B?${base64(chunk)}?=`);
  return words.join("\r\n ");
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The whole message, headers and Base64 body, dot-safe (Base64 has no leading dots). */
export function emailMessage(c: ChannelConfig, n: Notification, now: number): string {
  const { title, text } = chatText(n);
  const body = base64(text.replace(/\*\*(.+?)\*\*/g, "$1")).replace(/.{1,76}/g, "$&\r\n");
  const host = c.from.split("@")[1] ?? "localhost";
  return [
    `From: ${c.from}`,
    `To: ${c.to.join(", ")}`,
    `Subject: ${encodeHeader(title)}`,
    `Date: ${new Date(now).toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <${now.toString(36)}.${crypto.randomUUID()}@${host}>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    body,
  ].join("\r\n");
}

/** Send `n` as an email on channel `c`, within its timeout. Never throws. */
export async function sendEmail(c: ChannelConfig, n: Notification): Promise<Delivery> {
  const url = new URL(c.url);
  const tls = url.protocol === "smtps:";
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (tls ? 465 : 25));
  let session: Session | undefined;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      session?.conn.close();
    } catch { /* closed already */ }
  }, c.timeout);
  try {
    const conn = tls
      ? await Deno.connectTls({ hostname, port })
      : await Deno.connect({ hostname, port });
    session = new Session(conn);
    await session.reply([220]);
    let ehlo = await session.send("EHLO astron-watch", [250]);
    if (!tls && c.starttls) {
      if (!ehlo.some((l) => /^STARTTLS\b/i.test(l))) {
        return { result: "refused", answer: "the server offers no STARTTLS (starttls: true)" };
      }
      await session.send("STARTTLS", [220]);
      session.upgrade(await Deno.startTls(session.conn as Deno.TcpConn, { hostname }));
      ehlo = await session.send("EHLO astron-watch", [250]);
    }
    if (c.username) {
      if (!tls && !c.starttls) {
        return {
          result: "refused",
          answer: "not sending a password in clear (set starttls: true)",
        };
      }
      const plain = base64(`\u0000${c.username}\u0000${c.password}`);
      await session.send(`AUTH PLAIN ${plain}`, [235]);
    }
    await session.send(`MAIL FROM:<${c.from}>`, [250]);
    for (const to of c.to) await session.send(`RCPT TO:<${to}>`, [250, 251]);
    await session.send("DATA", [354]);
    await session.write(emailMessage(c, n, Date.now()));
    const done = await session.send(".", [250]);
    await session.send("QUIT", [221]).catch(() => {});
    return { result: "sent", answer: `250 ${done.join(" ")}` };
  } catch (err) {
    if (err instanceof SmtpReply) {
      return { result: err.code >= 500 ? "refused" : "failed", answer: err.message };
    }
    if (timedOut) return { result: "failed", answer: `no answer within ${c.timeout}ms` };
    return { result: "failed", answer: (err as Error)?.message ?? String(err) };
  } finally {
    clearTimeout(timer);
    try {
      session?.conn.close();
    } catch { /* closed already */ }
  }
}
