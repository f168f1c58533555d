/**
 * The probe for each type. The scheduler looks probes up here and never
 * branches on the type.
 *
 * `postgres` and `redis` are imported on their first run: the PostgreSQL
 * driver is loaded only by a process that has a probe of that type.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import { httpProbe } from "./http.ts";
import { sseProbe } from "./sse.ts";
import { tcpProbe } from "./tcp.ts";
import type { Probe, ProbeRegistry } from "./types.ts";

/** A probe whose module is imported on its first run (a failed import is a failed run, not a throw). */
function onFirstRun(load: () => Promise<Probe>): Probe {
  let probe: Promise<Probe> | undefined;
  return async (config, ctx) => {
    const started_at = Date.now();
    let run: Probe;
    try {
      run = await (probe ??= load());
    } catch (err) {
      probe = undefined;
      const reason = `cannot load the ${config.type} probe: ${errorMessage(err)}`;
      return { ok: false, code: "error", reason, phases: { total: 0 }, started_at };
    }
    return run(config, ctx);
  };
}

/** The built-in probes. */
export const PROBES = {
  http: httpProbe,
  tcp: tcpProbe,
  postgres: onFirstRun(async () => (await import("./postgres.ts")).postgresProbe),
  redis: onFirstRun(async () => (await import("./redis.ts")).redisProbe),
  sse: sseProbe,
} satisfies ProbeRegistry;
