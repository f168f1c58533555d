/**
 * Opening the backend a store URL names. Each backend is loaded only when
 * its scheme is used (the PostgreSQL driver stays unloaded for SQLite).
 *
 * @module
 */

import type { StoreBackend } from "./backend.ts";

/** How to open each backend, by URL scheme. */
export type BackendOpener = (url: string) => Promise<StoreBackend>;

/**
 * Open the backend `url` names: `sqlite:PATH` or `postgres://...`.
 *
 * @throws {Error} naming the URL's scheme when no backend takes it, or why it cannot be opened.
 */
export async function openBackend(url: string): Promise<StoreBackend> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? "";
  const openers: Record<string, () => Promise<BackendOpener>> = {
    sqlite: async () => (await import("./sqlite/backend.ts")).openSqlite,
    postgres: async () => (await import("./postgres/backend.ts")).openPostgres,
    postgresql: async () => (await import("./postgres/backend.ts")).openPostgres,
  };
  const opener = openers[scheme];
  if (!opener) throw new Error(`store.url: unsupported scheme "${scheme}:" (sqlite: or postgres:)`);
  return await (await opener())(url);
}
