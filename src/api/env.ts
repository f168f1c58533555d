/**
 * The Hono environment shared by the app, its middleware and routes.
 *
 * @module
 */

/** Bindings passed from `Deno.serve` into the app, and per-request variables. */
export type ApiEnv = {
  Bindings: { remoteAddr?: Deno.Addr };
  Variables: { requestId: string };
};

/** The JSON error body every failing route answers with. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}
