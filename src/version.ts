/**
 * The version, taken from `deno.json` so one place holds it; `deno compile`
 * embeds it in the binary.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/** The astron-watch version, like `0.1.0`. */
export const VERSION: string = denoJson.version;
