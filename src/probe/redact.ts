/**
 * Secrets out of probe results. A failure reason quotes what the target
 * said, and a target may say anything: Redis answers an `AUTH` it does not
 * know with `ERR unknown command 'AUTH', with args beginning with: 'the
 * password'`, an HTTP server may echo a request header. Every result passes
 * through {@linkcode redactResult} (in `runProbe`) before the board, the
 * API, the log, the metrics or the store see it.
 *
 * @module
 */

import type { ProbeConfig } from "../config/schema.ts";
import type { ProbeResult } from "./types.ts";

/** What a secret is replaced with. */
export const REDACTED = "***";

/** Header names whose values are credentials. */
const SECRET_HEADER = /auth|token|secret|passw|api-?key|cookie|session|signature|credential/i;
/** Query parameter names whose values are credentials (`?access_token=...`). */
const SECRET_PARAM = /token|secret|passw|pwd|key|auth|sig|credential|session/i;

const cache = new WeakMap<ProbeConfig, readonly string[]>();

/**
 * The secrets in a probe's config: its `password`, the password of its URL
 * and credential-like query parameters, and the values of credential
 * headers (`Authorization`, `X-Api-Key`, `Cookie`, ...), each also without
 * its scheme (`Bearer`), percent-decoded, and the password inside `Basic`. Longest first, so a secret that
 * contains another is replaced whole. Computed once per config.
 */
export function probeSecrets(config: ProbeConfig): readonly string[] {
  let secrets = cache.get(config);
  if (secrets) return secrets;
  const found = new Set<string>();
  const add = (s: string | undefined) => {
    if (!s) return;
    found.add(s);
    try {
      found.add(decodeURIComponent(s));
    } catch {
      // not percent-encoded
    }
  };
  add(config.password);
  if (config.url) {
    try {
      const url = new URL(config.url);
      add(url.password);
      if (url.password) add(basicCredentials(url)); // what the http probe sends for them
      for (const [name, value] of url.searchParams) {
        if (SECRET_PARAM.test(name)) {
          add(value);
          add(encodeURIComponent(value));
        }
      }
    } catch {
      // validated at load: always a URL
    }
  }
  for (const [name, value] of Object.entries(config.headers)) {
    if (!SECRET_HEADER.test(name)) continue;
    add(value.trim());
    const [, scheme, credentials] = /^([A-Za-z][A-Za-z0-9_-]*)\s+(\S.*)$/.exec(value.trim()) ?? [];
    add(credentials);
    if (scheme?.toLowerCase() === "basic" && credentials) add(basicPassword(credentials));
  }
  found.delete("");
  secrets = [...found].sort((a, b) => b.length - a.length);
  cache.set(config, secrets);
  return secrets;
}

/** `base64(user:password)` of a URL's credentials, as an `Authorization: Basic` header carries them. */
function basicCredentials(url: URL): string {
  const bytes = new TextEncoder().encode(
    `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
  );
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

/** The password inside `Basic base64(user:password)`, if it decodes. */
function basicPassword(credentials: string): string | undefined {
  try {
    const plain = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(credentials), (c) => c.charCodeAt(0)),
    );
    const colon = plain.indexOf(":");
    return colon === -1 ? undefined : plain.slice(colon + 1);
  } catch {
    return undefined;
  }
}

/**
 * `text` with every one of `secrets` replaced by `***`.
 *
 * @example
 * ```ts
 * redactSecrets("AUTH failed: ERR ... with args beginning with: `s3cret`", ["s3cret"]);
 * // "AUTH failed: ERR ... with args beginning with: `***`"
 * ```
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.replaceAll(secret, REDACTED);
  return out;
}

/** `result` with the secrets of `config` out of its reason (the same object when there are none). */
export function redactResult(result: ProbeResult, config: ProbeConfig): ProbeResult {
  if (result.reason === undefined) return result;
  const secrets = probeSecrets(config);
  if (secrets.length === 0) return result;
  const reason = redactSecrets(result.reason, secrets);
  return reason === result.reason ? result : { ...result, reason };
}
