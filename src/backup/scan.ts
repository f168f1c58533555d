/**
 * Reading a dump as it streams by, without holding it: whether it ended
 * with its tool's completion marker, the versions its header names, and
 * the rows of each table it carries (PostgreSQL `COPY` blocks, MySQL
 * `INSERT` tuples), which a restore verification compares with the
 * restored database. Works on bytes; only header and DDL lines are decoded.
 *
 * @module
 */

import type { BackupType } from "../config/backups.ts";

/** What a dump said about itself. */
export interface DumpFacts {
  /** The completion marker was seen after the last data. */
  complete: boolean;
  /** `-- Dumped from database version 15.18` / `-- Server version 10.11.6-MariaDB`. */
  server_version?: string;
  /** `pg_dump (PostgreSQL) 15.18` / `mariadb-dump 10.19 Distrib 10.11.6-MariaDB`. */
  tool_version?: string;
  /** Rows per table, as the dump's own snapshot had them; tables keyed as the dump names them. */
  tables: Record<string, number>;
  /** Uncompressed bytes. */
  bytes: number;
}

const PG_MARKER = "-- PostgreSQL database dump complete";
const MY_MARKER = "-- Dump completed";
const NL = 10;
const decoder = new TextDecoder();

/** Feed chunks with {@linkcode DumpScanner.push}, read {@linkcode DumpScanner.facts} at the end. */
export class DumpScanner {
  readonly #type: BackupType;
  readonly #facts: DumpFacts = { complete: false, tables: {}, bytes: 0 };
  /** Pieces of a line not yet ended. */
  #carry: Uint8Array[] = [];
  /** PostgreSQL: the table whose COPY block is being read. */
  #copying?: string;
  /** MySQL: not `;` inside a trigger's or routine's body (`DELIMITER ;;`), whose INSERTs are not rows. */
  #delimiter = ";";
  /** MySQL: inside an INSERT statement, its table, quote state and depth. */
  #insert?: { table: string; quote: number; escaped: boolean; depth: number };

  constructor(type: BackupType) {
    this.#type = type;
  }

  /** The facts so far. */
  get facts(): DumpFacts {
    return this.#facts;
  }

  /** Take the next chunk of the dump. */
  push(chunk: Uint8Array): void {
    this.#facts.bytes += chunk.length;
    let start = 0;
    while (start < chunk.length) {
      if (this.#insert) {
        start = this.#scanInsert(chunk, start);
        continue;
      }
      const nl = chunk.indexOf(NL, start);
      if (nl < 0) {
        this.#carry.push(chunk.subarray(start));
        return;
      }
      let line = chunk.subarray(start, nl);
      if (this.#carry.length) {
        this.#carry.push(line);
        line = join(this.#carry);
        this.#carry = [];
      }
      start = nl + 1;
      if (this.#copying !== undefined) {
        if (line.length === 2 && line[0] === 92 && line[1] === 46) this.#copying = undefined;
        else this.#facts.tables[this.#copying]++;
        continue;
      }
      // An INSERT's tuples may go on past this line: the loop's top scans them.
      this.#line(line);
    }
  }

  /** Call once the stream has ended: an unended last line is read too. */
  end(): DumpFacts {
    if (this.#carry.length) {
      const line = join(this.#carry);
      this.#carry = [];
      if (this.#copying === undefined && !this.#insert) this.#line(line);
    }
    return this.#facts;
  }

  /** A line outside data. */
  #line(line: Uint8Array): void {
    const c = line[0];
    if (c === 45 /* - */) {
      const text = decoder.decode(line.subarray(0, 200));
      if (text.startsWith(PG_MARKER) || text.startsWith(MY_MARKER)) {
        this.#facts.complete = true;
        return;
      }
      this.#header(text);
      return;
    }
    // Any statement after the marker means the marker was not the end.
    if (c !== undefined && c !== 92 /* \unrestrict */ && c !== 47 /* mysql's closing comments */) {
      this.#facts.complete = false;
    }
    if (this.#type === "postgres") {
      if (c === 67 /* C */ && startsWith(line, "COPY ")) {
        const text = decoder.decode(line);
        const m = /^COPY ((?:"(?:[^"]|"")*"|[^\s.(]+)(?:\.(?:"(?:[^"]|"")*"|[^\s(]+))?) /.exec(
          text,
        );
        if (m && text.endsWith("FROM stdin;")) {
          this.#copying = m[1];
          this.#facts.tables[m[1]] ??= 0;
        }
      }
      return;
    }
    if (c === 68 /* D */ && startsWith(line, "DELIMITER ")) {
      this.#delimiter = decoder.decode(line.subarray(10)).trim();
      return;
    }
    if (this.#delimiter !== ";") return;
    if (c === 67 && startsWith(line, "CREATE TABLE ")) {
      const m = /^CREATE TABLE (`(?:[^`]|``)*`)/.exec(decoder.decode(line.subarray(0, 300)));
      if (m) this.#facts.tables[m[1]] ??= 0;
      return;
    }
    if (c === 73 /* I */ && startsWith(line, "INSERT INTO ")) {
      const head = decoder.decode(line.subarray(0, 300));
      const m = /^INSERT INTO (`(?:[^`]|``)*`)(?: \([^)]*\))? VALUES ?/.exec(head);
      if (!m) return;
      const table = m[1];
      this.#facts.tables[table] ??= 0;
      this.#insert = { table, quote: 0, escaped: false, depth: 0 };
      // The rest of this line, and maybe the lines after it, hold the tuples.
      this.#scanInsert(line, new TextEncoder().encode(m[0]).length);
    }
  }

  /** Count tuples of an INSERT from `from`; returns where the statement ended (or the chunk's end). */
  #scanInsert(bytes: Uint8Array, from: number): number {
    const s = this.#insert!;
    for (let i = from; i < bytes.length; i++) {
      const b = bytes[i];
      if (s.quote) {
        if (s.escaped) s.escaped = false;
        else if (b === 92) s.escaped = true;
        else if (b === s.quote) s.quote = 0;
        continue;
      }
      if (b === 39 || b === 34) s.quote = b;
      else if (b === 40) {
        if (s.depth++ === 0) this.#facts.tables[s.table]++;
      } else if (b === 41) s.depth--;
      else if (b === 59 && s.depth === 0) {
        this.#insert = undefined;
        // Skip to the end of the line: the statement's `;` ends it.
        const nl = bytes.indexOf(NL, i + 1);
        return nl < 0 ? bytes.length : nl + 1;
      }
    }
    return bytes.length;
  }

  #header(text: string): void {
    const f = this.#facts;
    let m = /^-- Dumped from database version (.+)$/.exec(text);
    if (m) f.server_version ??= m[1].trim();
    m = /^-- Dumped by pg_dump version (.+)$/.exec(text);
    if (m) f.tool_version ??= `pg_dump ${m[1].trim()}`;
    m = /^-- Server version\s+(.+)$/.exec(text);
    if (m) f.server_version ??= m[1].trim();
    m = /^-- (MySQL|MariaDB) dump (.+)$/.exec(text);
    if (m) f.tool_version ??= `${m[1] === "MySQL" ? "mysqldump" : "mariadb-dump"} ${m[2].trim()}`;
  }
}

function startsWith(line: Uint8Array, prefix: string): boolean {
  if (line.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (line[i] !== prefix.charCodeAt(i)) return false;
  return true;
}

function join(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
