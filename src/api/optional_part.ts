/**
 * The routes of a part the agent loads only when the config asks for it
 * (`lazyComponent`): what they answer while it is absent.
 *
 * @module
 */

import { HTTPException } from "hono/http-exception";

/**
 * `part`, or the answer for its absence: 503 with `Retry-After` while a
 * configured part is still starting (the API listens first), 409 when the
 * config does not ask for it.
 *
 * @param messages the 503's (`starting`) and the 409's (`missing`, naming the config section)
 */
export function loadedPart<T>(
  part: T | undefined,
  configured: (() => boolean) | undefined,
  messages: { starting: string; missing: string },
): T {
  if (part !== undefined) return part;
  if (configured?.()) {
    throw new HTTPException(503, {
      message: messages.starting,
      res: new Response(null, { headers: { "Retry-After": "1" } }),
    });
  }
  throw new HTTPException(409, { message: messages.missing });
}
