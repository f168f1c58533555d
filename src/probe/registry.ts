/**
 * The probe for each type. The scheduler looks probes up here and never
 * branches on the type.
 *
 * @module
 */

import { httpProbe } from "./http.ts";
import { postgresProbe } from "./postgres.ts";
import { redisProbe } from "./redis.ts";
import { sseProbe } from "./sse.ts";
import { tcpProbe } from "./tcp.ts";
import type { ProbeRegistry } from "./types.ts";

/** The built-in probes. */
export const PROBES = {
  http: httpProbe,
  tcp: tcpProbe,
  postgres: postgresProbe,
  redis: redisProbe,
  sse: sseProbe,
} satisfies ProbeRegistry;
