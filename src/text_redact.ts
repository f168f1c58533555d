/**
 * Passwords out of URLs in text shown to people (config errors, probe
 * targets): `postgres://spark:s3cret@db/x` becomes `postgres://spark:***@db/x`.
 * Works on text that is not a parseable URL too (`postgres://u:p@/db`).
 *
 * @module
 */

/**
 * `text` with the password of a leading `scheme://user:password@` replaced by `***`.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./text_redact.ts";
 * redactUrl("redis://:hunter2@127.0.0.1:6379"); // "redis://:***@127.0.0.1:6379"
 * ```
 */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/i, "$1***@");
}
