/**
 * Access control: writes need the write token as `Authorization: Bearer`;
 * reads are open on loopback only, unless a read token is set, which then is
 * required from everyone. Tokens are compared in constant time.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "../env.ts";

/** Options for {@linkcode access}. */
export interface AccessOptions {
  /** The current tokens (read on every request, so a reload takes effect at once). */
  tokens: () => { read: string; write: string };
  /** Paths open to anyone (health checks). */
  open?: readonly string[];
  /** Paths that check access themselves (the console: its session cookie and sign-in form). */
  own?: (path: string) => boolean;
}

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Compare two secrets in constant time (hashing first, so lengths leak nothing either). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(addr: Deno.Addr | undefined): boolean {
  if (!addr || addr.transport !== "tcp") return addr?.transport === "unix";
  const host = addr.hostname;
  return host === "::1" || /^(::ffff:)?127\./.test(host);
}

/** The token of an `Authorization: Bearer <token>` header, if it is one. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m?.[1];
}

function denied(status: 401 | 403, message: string): HTTPException {
  const headers: HeadersInit = status === 401
    ? { "WWW-Authenticate": 'Bearer realm="astron-watch"' }
    : {};
  return new HTTPException(status, { message, res: new Response(null, { headers }) });
}

/** The access middleware (see the module doc). */
export function access(options: AccessOptions): MiddlewareHandler<ApiEnv> {
  const open = new Set(options.open ?? []);
  return async function accessControl(c, next) {
    if (open.has(c.req.path) || options.own?.(c.req.path)) return await next();
    const { read, write } = options.tokens();
    const given = bearerToken(c.req.header("Authorization"));
    if (READ_METHODS.has(c.req.method)) {
      if (read) {
        if (given === undefined) throw denied(401, "reads need Authorization: Bearer <read_token>");
        if (!safeEqual(given, read) && !(write && safeEqual(given, write))) {
          throw denied(401, "wrong bearer token");
        }
      } else if (!isLoopback(c.env?.remoteAddr)) {
        throw denied(
          403,
          "reads are open on loopback only; set server.read_token for remote reads",
        );
      }
      return await next();
    }
    if (!write) throw denied(403, "writes are disabled: set server.write_token");
    if (given === undefined) throw denied(401, "writes need Authorization: Bearer <write_token>");
    if (!safeEqual(given, write)) throw denied(401, "wrong bearer token");
    return await next();
  };
}
