/**
 * Small helpers for errors at the edges: turning anything thrown into the one
 * line a user sees.
 *
 * @module
 */

/** The message of an unknown thrown value, for one-line reports. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message.split("\n")[0];
  return String(err);
}
