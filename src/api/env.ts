/**
 * The Hono environment shared by the app, its middleware and routes.
 *
 * @module
 */

/** Bindings passed from the server into the app. */
export type ApiEnv = {
  Bindings: { remoteAddr?: Deno.Addr };
};

/** The JSON error body every failing route answers with. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}
