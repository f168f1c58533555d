/**
 * Who may send to the OTLP receiver: anyone on loopback (the platform's
 * services on the same host), clients whose address is in
 * `otlp_receiver.allow_from` (the compose network, say `172.16.0.0/12`),
 * and anyone else with the write token (`server.write_token`) as
 * `authorization: Bearer <token>` (gRPC metadata or HTTP header), compared
 * in constant time. Both transports ask the same {@linkcode OtlpAccess}.
 *
 * @module
 */

import { safeEqual } from "../api/middleware/access.ts";
import { type Cidr, cidrMatcher, isLoopbackIp } from "./cidr.ts";

/** The answer to "may this client send?". */
export type AccessDecision = { ok: true } | { ok: false; message: string };

/** Options for {@linkcode OtlpAccess}. */
export interface OtlpAccessOptions {
  /** Ranges allowed without a token, besides loopback. */
  allowFrom: readonly Cidr[];
  /** The write token in force (read per request, so a reload applies); empty: none. */
  token: () => string;
}

/** The OTLP receiver's access rule (see the module doc). */
export class OtlpAccess {
  #allowed: (address: string) => boolean;
  readonly #token: () => string;

  constructor(options: OtlpAccessOptions) {
    this.#allowed = cidrMatcher(options.allowFrom);
    this.#token = options.token;
  }

  /** Replace the allowed ranges (a reloaded config). */
  setAllowFrom(cidrs: readonly Cidr[]): void {
    this.#allowed = cidrMatcher(cidrs);
  }

  /**
   * Decide for a client at `address` (an IP as the listener reports it;
   * `undefined` when unknown) that sent `authorization` (the header's or
   * metadata's value, if any).
   */
  check(address: string | undefined, authorization: string | undefined): AccessDecision {
    if (address !== undefined && (isLoopbackIp(address) || this.#allowed(address))) {
      return { ok: true };
    }
    const token = this.#token();
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
    if (given !== undefined && token && safeEqual(given, token)) return { ok: true };
    const who = address ?? "an unknown address";
    if (given !== undefined) return { ok: false, message: "wrong bearer token" };
    return {
      ok: false,
      message: token
        ? `${who} is not in otlp_receiver.allow_from: send authorization: Bearer <server.write_token>`
        : `${who} is not in otlp_receiver.allow_from (and server.write_token is not set)`,
    };
  }
}
