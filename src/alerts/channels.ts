/**
 * Each channel type's request, signed as its vendor documents, and what its
 * answer means: delivered, refused (a 4xx, or a vendor error code that is
 * not a rate limit: not retried, logged with the answer), or failed (5xx,
 * 429, a rate limit, a timeout, no connection: retried with backoff).
 *
 * - `webhook`: {@linkcode WebhookBody} as JSON; with a `secret`,
 *   `X-Astron-Watch-Signature: sha256=<hex HMAC-SHA256 of the body>`.
 * - `alertmanager`: `POST /api/v2/alerts`, one entry per alert with
 *   `startsAt`, `endsAt` and `generatorURL`.
 * - `dingtalk`: markdown; with a `secret`, `timestamp` (ms) and `sign`
 *   (Base64 HMAC-SHA256 of `timestamp + "\n" + secret`, keyed by the
 *   secret) added to the URL's query.
 * - `feishu`: an interactive card; with a `secret`, `timestamp` (s) and
 *   `sign` (Base64 HMAC-SHA256 of an empty message, keyed by
 *   `timestamp + "\n" + secret`) in the body.
 * - `wecom`: markdown (at most 4096 bytes).
 * - `slack`: an incoming-webhook `text`.
 *
 * @module
 */

import { createHmac } from "node:crypto";
import type { ChannelConfig } from "../config/alerts.ts";
import { chatText, type Notification, webhookBody } from "./message.ts";

/** An HTTP request to send. */
export interface ChannelRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What an attempt came to. */
export type Delivery =
  | { result: "sent"; answer: string }
  | { result: "refused"; answer: string }
  | { result: "failed"; answer: string };

/** The DingTalk robot's signature: Base64 HMAC-SHA256 of `timestamp\nsecret`, keyed by the secret. */
export function dingtalkSign(timestampMs: number, secret: string): string {
  return createHmac("sha256", secret).update(`${timestampMs}\n${secret}`).digest("base64");
}

/** The Feishu robot's signature: Base64 HMAC-SHA256 of nothing, keyed by `timestamp\nsecret`. */
export function feishuSign(timestampS: number, secret: string): string {
  return createHmac("sha256", `${timestampS}\n${secret}`).update("").digest("base64");
}

/** The webhook channel's signature header value over the exact body. */
export function webhookSignature(body: string, secret: string): string {
  return "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
}

/** How far past a refresh an Alertmanager alert stays firing without the next one. */
export const ALERTMANAGER_REFRESH = 60_000;

/** Cut text to at most `max` UTF-8 bytes. */
function cutBytes(text: string, max: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= max) return text;
  return new TextDecoder().decode(bytes.subarray(0, max - 3)).replace(/\uFFFD$/, "") + "...";
}

/** The request for a notification on an HTTP channel (`email` goes over SMTP, `smtp.ts`). */
export function channelRequest(
  c: ChannelConfig & { type: Exclude<ChannelConfig["type"], "email"> },
  n: Notification,
  now: number,
): ChannelRequest {
  const json = { "content-type": "application/json", ...c.headers };
  switch (c.type) {
    case "webhook": {
      const body = JSON.stringify(webhookBody(n, now));
      const headers: Record<string, string> = { ...json };
      if (c.secret) headers["x-astron-watch-signature"] = webhookSignature(body, c.secret);
      return { url: c.url, headers, body };
    }
    case "alertmanager": {
      const body = n.alerts.map((a) => {
        const { rule, ...rest } = a.labels;
        return {
          labels: { alertname: rule ?? a.rule, ...rest },
          annotations: { ...a.annotations, value: a.value_text },
          startsAt: new Date(a.starts_at).toISOString(),
          endsAt: new Date(a.ends_at ?? now + 4 * ALERTMANAGER_REFRESH).toISOString(),
          generatorURL: a.link,
        };
      });
      return {
        url: c.url.replace(/\/+$/, "") + "/api/v2/alerts",
        headers: json,
        body: JSON.stringify(body),
      };
    }
    case "dingtalk": {
      const { title, text } = chatText(n);
      const url = new URL(c.url);
      if (c.secret) {
        url.searchParams.set("timestamp", String(now));
        url.searchParams.set("sign", dingtalkSign(now, c.secret));
      }
      const body = { msgtype: "markdown", markdown: { title, text } };
      return { url: url.href, headers: json, body: JSON.stringify(body) };
    }
    case "feishu": {
      const { title, text, firing } = chatText(n);
      const card = {
        header: {
          title: { tag: "plain_text", content: title },
          template: firing ? "red" : "green",
        },
        elements: [{ tag: "markdown", content: text }],
      };
      const body: Record<string, unknown> = { msg_type: "interactive", card };
      if (c.secret) {
        const ts = Math.floor(now / 1000);
        body.timestamp = String(ts);
        body.sign = feishuSign(ts, c.secret);
      }
      return { url: c.url, headers: json, body: JSON.stringify(body) };
    }
    case "wecom": {
      const content = cutBytes(chatText(n).text, 4096);
      return {
        url: c.url,
        headers: json,
        body: JSON.stringify({ msgtype: "markdown", markdown: { content } }),
      };
    }
    case "slack": {
      const text = chatText(n).text.replace(/\*\*(.+?)\*\*/g, "*$1*")
        .replace(/\[([^\]]+)\]\(([^)]+)\)/g, "<$2|$1>");
      return { url: c.url, headers: json, body: JSON.stringify({ text }) };
    }
  }
}

/** Vendor codes that mean "too fast, try later" rather than "wrong". */
const RATE_LIMITS: Partial<Record<ChannelConfig["type"], number[]>> = {
  dingtalk: [130101, 130102],
  feishu: [9499, 11232],
  wecom: [45009],
};

/** What an HTTP answer means for a channel. */
export function classifyAnswer(
  type: ChannelConfig["type"],
  status: number,
  text: string,
): Delivery {
  const answer = `${status} ${text.slice(0, 300)}`.trim();
  if (status === 429 || status === 408 || status >= 500) return { result: "failed", answer };
  if (status >= 400) return { result: "refused", answer };
  if (status < 200 || status >= 300) return { result: "failed", answer };
  if (type === "dingtalk" || type === "feishu" || type === "wecom") {
    let code: unknown;
    try {
      const v = JSON.parse(text);
      code = v.errcode ?? v.code ?? v.StatusCode;
    } catch {
      return { result: "refused", answer: `${answer} (not the robot's JSON answer)` };
    }
    if (code === 0 || code === undefined) return { result: "sent", answer };
    if (RATE_LIMITS[type]?.includes(Number(code))) return { result: "failed", answer };
    return { result: "refused", answer };
  }
  return { result: "sent", answer };
}

/** Send one request within `timeout` ms. Never throws. */
export async function post(
  req: ChannelRequest,
  type: ChannelConfig["type"],
  timeout: number,
): Promise<Delivery> {
  try {
    const res = await fetch(req.url, {
      method: "POST",
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(timeout),
      redirect: "manual",
    });
    const text = await res.text();
    return classifyAnswer(type, res.status, text);
  } catch (err) {
    const name = (err as Error)?.name;
    const answer = name === "TimeoutError"
      ? `no answer within ${timeout}ms`
      : String((err as Error)?.message ?? err);
    return { result: "failed", answer };
  }
}
