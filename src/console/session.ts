/**
 * Who may see the console: the API's own rule (a bearer token, or loopback
 * while no read token is set), or a session cookie set by the sign-in form.
 *
 * The cookie is `role.expires.nonce.mac`, the MAC an HMAC-SHA256 keyed with
 * the role's token as configured now: nothing is kept on the server, and a
 * changed token ends every session made with the old one. Writes from a page
 * carry a CSRF token derived from the session and must come from this origin.
 *
 * @module
 */

import { createHmac } from "node:crypto";
import { bearerToken, isLoopback, safeEqual } from "../api/middleware/access.ts";

/** What a visitor may do: read pages, or also write (silences). */
export type Role = "read" | "write";

/** The tokens as configured now (empty when unset). */
export interface Tokens {
  read: string;
  write: string;
}

/** The session cookie's name. */
export const SESSION_COOKIE = "aw_session";
/** How long a session lasts. */
export const SESSION_MS = 12 * 3_600_000;

/** A signed-in visitor: the role and the session's nonce (for CSRF tokens and sign-out). */
export interface Session {
  role: Role;
  nonce: string;
  expires: number;
}

function mac(key: string, text: string): string {
  return createHmac("sha256", key).update(text).digest("base64url");
}

/** The token that keys a role's sessions; undefined when that role has none. */
function keyOf(role: Role, tokens: Tokens): string | undefined {
  return (role === "write" ? tokens.write : tokens.read) || undefined;
}

/** The role a token grants (write wins), or undefined when it matches neither. */
export function roleOf(token: string, tokens: Tokens): Role | undefined {
  if (tokens.write && safeEqual(token, tokens.write)) return "write";
  if (tokens.read && safeEqual(token, tokens.read)) return "read";
  return undefined;
}

/** A new session cookie value for `role`. */
export function signSession(role: Role, tokens: Tokens, now: number): string {
  const key = keyOf(role, tokens);
  if (!key) throw new Error(`no ${role} token is set`);
  const nonce = crypto.randomUUID().replaceAll("-", "");
  const body = `${role}.${Math.floor((now + SESSION_MS) / 1000)}.${nonce}`;
  return `${body}.${mac(key, body)}`;
}

/** The session a cookie value holds, when it is ours, unexpired and signed with a current token. */
export function readSession(
  value: string | undefined,
  tokens: Tokens,
  now: number,
  ended: { has(nonce: string): boolean },
): Session | undefined {
  const parts = value?.split(".");
  if (parts?.length !== 4) return undefined;
  const [role, expiresText, nonce, given] = parts;
  if (role !== "read" && role !== "write") return undefined;
  const key = keyOf(role, tokens);
  const expires = Number(expiresText) * 1000;
  if (!key || !Number.isSafeInteger(expires) || expires <= now || ended.has(nonce)) {
    return undefined;
  }
  if (!safeEqual(given, mac(key, `${role}.${expiresText}.${nonce}`))) return undefined;
  return { role, nonce, expires };
}

/** The CSRF token a session's forms carry. */
export function csrfToken(session: Session, tokens: Tokens): string {
  return mac(keyOf(session.role, tokens) ?? "", `csrf.${session.nonce}`);
}

/** True when a form's CSRF token belongs to the session. */
export function csrfOk(given: unknown, session: Session, tokens: Tokens): boolean {
  return typeof given === "string" && safeEqual(given, csrfToken(session, tokens));
}

/**
 * True when a write comes from a page of this site: `Sec-Fetch-Site` (the
 * browser's own verdict, right behind a TLS proxy too), else `Origin`'s host
 * against the request's. Browsers send one of them on every POST.
 */
export function sameOrigin(headers: Headers, requestUrl: string): boolean {
  const site = headers.get("sec-fetch-site");
  if (site) return site === "same-origin";
  const origin = headers.get("origin");
  if (!origin) return false;
  try {
    return new URL(origin).host === (headers.get("host") ?? new URL(requestUrl).host);
  } catch {
    return false;
  }
}

/** What the gate decides for one request. */
export interface Visitor {
  /** What the visitor may do; undefined: must sign in. */
  role?: Role;
  /** The session, when the access comes from the cookie. */
  session?: Session;
  /** Why a token given in `Authorization` was refused. */
  refused?: string;
}

/**
 * Who is asking: a bearer token (the API's rule), the session cookie, or
 * loopback while no read token is set (read only).
 */
export function visitor(input: {
  authorization?: string;
  cookie?: string;
  remoteAddr?: Deno.Addr;
  tokens: Tokens;
  now: number;
  ended: { has(nonce: string): boolean };
}): Visitor {
  const bearer = bearerToken(input.authorization);
  if (bearer !== undefined) {
    const role = roleOf(bearer, input.tokens);
    return role ? { role } : { refused: "wrong bearer token" };
  }
  const session = readSession(input.cookie, input.tokens, input.now, input.ended);
  if (session) return { role: session.role, session };
  if (!input.tokens.read && isLoopback(input.remoteAddr)) return { role: "read" };
  return {};
}
