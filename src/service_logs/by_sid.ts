/**
 * The platform's service log lines that name one run (kept by
 * `service_logs:`), oldest first: the run's API answer and its console page
 * show them.
 *
 * @module
 */

import type { Store } from "../store/store.ts";

/** One line as shown with a run. */
export interface SidLogLine {
  log: string;
  file: string;
  at: string;
  level: string;
  line: string;
}

/** Most lines shown with one run. */
export const SID_LINES = 200;

/** The lines naming `sid`; none when the store cannot be read. */
export async function serviceLogLines(store: Store, sid: string): Promise<SidLogLine[]> {
  const rows = await store.backend.db.selectFrom("service_log_lines")
    .select(["source", "file", "at", "level", "line"]).where("sid", "=", sid)
    .orderBy("at").limit(SID_LINES).execute().catch(() => []);
  return rows.map((l) => ({
    log: l.source.replace(/^service:/, ""),
    file: l.file,
    at: new Date(Number(l.at)).toISOString(),
    level: l.level,
    line: l.line,
  }));
}
