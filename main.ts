/**
 * astron-watch: parse the command line and hand off to `src/cli/`.
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
