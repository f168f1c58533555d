/**
 * The probe for each type. The scheduler looks probes up here and never
 * branches on the type.
 *
 * @module
 */

import type { ProbeConfig, ProbeType } from "../config/schema.ts";
import { httpProbe } from "./http.ts";
import { tcpProbe } from "./tcp.ts";
import type { Probe, ProbeRegistry, ProbeResult } from "./types.ts";

/** A probe type this build accepts in the config but cannot run yet: it reports so, every run. */
function notBuilt(type: ProbeType): Probe {
  return (_config: ProbeConfig): Promise<ProbeResult> =>
    Promise.resolve({
      ok: false,
      reason: `${type} probes are not built into this version yet`,
      phases: { total: 0 },
      started_at: Date.now(),
    });
}

/** The built-in probes. */
export const PROBES = {
  http: httpProbe,
  tcp: tcpProbe,
  postgres: notBuilt("postgres"),
  redis: notBuilt("redis"),
  sse: notBuilt("sse"),
} satisfies ProbeRegistry;
