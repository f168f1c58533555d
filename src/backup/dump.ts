/**
 * One database dumped in a way that can be trusted: the tool's stdout is
 * streamed (gzip, sha256 and the dump's facts on the way) to
 * `….partial`; only when the tool exited 0, the stream ended with the
 * dump's completion marker and the file is fsynced does the manifest get
 * written and the dump take its name. Anything else removes the partial
 * file and reports the failure in the tool's own words.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { BackupJob } from "../config/backups.ts";
import { errorMessage } from "../errors.ts";
import { syncDir, writeDurably } from "../durable.ts";
import { dumpName, type Manifest } from "./files.ts";
import { DumpScanner } from "./scan.ts";
import { runTool } from "./spawn.ts";
import { dumpCommand } from "./tools.ts";

/** A dump's outcome. */
export type DumpResult =
  | { ok: true; path: string; manifest: Manifest }
  | { ok: false; database: string; error: string };

/** Dump `database` of `job` into `jobDir`, started at `now`. */
export async function dumpDatabase(
  job: BackupJob,
  database: string,
  jobDir: string,
  now: number,
): Promise<DumpResult> {
  const name = dumpName(now, database, job.compress);
  const path = `${jobDir}/${name}`;
  const partial = `${path}.partial`;
  const started = performance.now();
  const scanner = new DumpScanner(job.type);
  const hash = createHash("sha256");
  let size = 0;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(partial, { write: true, create: true, truncate: true });
  } catch (err) {
    return { ok: false, database, error: `cannot write ${partial}: ${errorMessage(err)}` };
  }
  const fail = async (error: string): Promise<DumpResult> => {
    try {
      file.close();
    } catch {
      // closed already
    }
    await Deno.remove(partial).catch(() => {});
    return { ok: false, database, error };
  };
  const run = await runTool(dumpCommand(job, database), {
    timeout: job.timeout,
    stdout: async (out) => {
      const scanned = out.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, c) {
            scanner.push(chunk);
            c.enqueue(chunk);
          },
        }),
      );
      const bytes = job.compress
        ? scanned.pipeThrough(
          new CompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>,
        )
        : scanned;
      for await (const chunk of bytes) {
        hash.update(chunk);
        size += chunk.length;
        try {
          let off = 0;
          while (off < chunk.length) off += await file.write(chunk.subarray(off));
        } catch (err) {
          throw new Error(`writing ${partial}: ${errorMessage(err)}`);
        }
      }
    },
  });
  if (!run.ok) return await fail(run.error ?? "the dump failed");
  const facts = scanner.end();
  if (!facts.complete) {
    const marker = job.type === "postgres"
      ? "-- PostgreSQL database dump complete"
      : "-- Dump completed";
    return await fail(`the dump ended without its completion marker (${marker})`);
  }
  try {
    await file.syncData();
    file.close();
  } catch (err) {
    return await fail(`writing ${partial}: ${errorMessage(err)}`);
  }
  const manifest: Manifest = {
    version: 1,
    job: job.name,
    type: job.type,
    database,
    file: name,
    created: new Date(now).toISOString(),
    duration_ms: Math.round(performance.now() - started),
    size,
    sha256: hash.digest("hex"),
    compressed: job.compress,
    uncompressed_bytes: facts.bytes,
    tool_version: facts.tool_version,
    server_version: facts.server_version,
    tables: facts.tables,
  };
  try {
    await writeDurably(`${path}.json`, JSON.stringify(manifest, null, 2) + "\n");
    await Deno.rename(partial, path);
    await syncDir(jobDir);
  } catch (err) {
    await Deno.remove(`${path}.json`).catch(() => {});
    await Deno.remove(partial).catch(() => {});
    return { ok: false, database, error: `finishing ${path}: ${errorMessage(err)}` };
  }
  return { ok: true, path, manifest };
}
