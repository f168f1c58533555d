/**
 * Which paths the console serves. The app asks this before loading the
 * console's code, so an agent nobody browses never loads it.
 *
 * @module
 */

const CONSOLE_PATH =
  /^\/(?:|probes\/[^/]+|runs|runs\/[^/]+(?:\/nodes\/\d+\/[a-z]+)?|usage|alerts|alerts\/silences(?:\/[^/]+\/expire)?|signin|signout|assets\/[^/]+|blobs\/[^/]+)$/;

/** True for a path the console answers (its pages, forms and assets). */
export function isConsolePath(path: string): boolean {
  return CONSOLE_PATH.test(path);
}
