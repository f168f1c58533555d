/**
 * Test support for driving the system Chromium headless through puppeteer-core.
 * Chromium is `CHROMIUM_BIN` or Debian's `/usr/bin/chromium`; tests that need
 * it use `ignore: !chromiumPath()`. Each browser runs as root without sandbox
 * or GPU, with a throwaway profile and HOME (removed on close), and no host
 * name or address resolves except loopback: Chromium's own background calls to
 * Google fail at name resolution, before any DNS query or connection, and so
 * does a page's request to any other host (it still shows in
 * {@link recordRequests}). Serve test pages on 127.0.0.1 or localhost.
 */

import puppeteer, { type Browser, type Page } from "puppeteer-core";

export type { Browser, Page };

/** Debian's launcher script; the real binary is beside it in `/usr/lib/chromium`. */
const DEBIAN_WRAPPER = "/usr/bin/chromium";
const DEBIAN_BINARY = "/usr/lib/chromium/chromium";

/** Flags on top of puppeteer's defaults (which already have several of them). */
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-domain-reliability",
  "--disable-sync",
  "--disable-default-apps",
  "--disable-extensions",
  "--metrics-recording-only",
  "--mute-audio",
  "--no-pings",
  "--disable-field-trial-config",
  // Merged by puppeteer with its own list (Translate, MediaRouter, OptimizationHints, ...).
  "--disable-features=AimEnabled,AutofillServerCommunication,NetworkTimeServiceQuerying",
  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1 , EXCLUDE [::1]",
];

/** Viewport of pages from {@link newPage} (and of the browser's first tab). */
export const VIEWPORT = { width: 1280, height: 800 };

/** Default timeout (ms) for launching, and for page actions and navigations. */
export const TIMEOUT_MS = 20_000;

/**
 * The Chromium to test with: `CHROMIUM_BIN`, else `/usr/bin/chromium`, or
 * `undefined` when that file is missing (for `ignore:`).
 */
export function chromiumPath(): string | undefined {
  const path = Deno.env.get("CHROMIUM_BIN") || DEBIAN_WRAPPER;
  return isFile(path) ? path : undefined;
}

/**
 * Launch headless Chromium in a fresh temporary directory (profile and HOME),
 * which `close()` removes. Use `await using browser = await openBrowser()`.
 */
export async function openBrowser(): Promise<Browser> {
  let executablePath = chromiumPath();
  if (!executablePath) throw new Error("no Chromium: set CHROMIUM_BIN or apt-get install chromium");
  // The Debian launcher exports Google API keys and adds extension flags: skip it.
  if (executablePath === DEBIAN_WRAPPER && isFile(DEBIAN_BINARY)) executablePath = DEBIAN_BINARY;
  const home = await Deno.makeTempDir({ prefix: "astron-chromium-" });
  const removeHome = () =>
    Deno.remove(home, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true, // --headless=new, --hide-scrollbars, --mute-audio
      // DevTools over a pipe, not a port: nothing else can connect, and Chromium exits
      // with Deno even when a run is interrupted before close().
      pipe: true,
      userDataDir: `${home}/profile`,
      args: FLAGS,
      // Crash reports and dconf would otherwise go to ~/.config/chromium and ~/.cache.
      env: {
        ...Deno.env.toObject(),
        HOME: home,
        XDG_CONFIG_HOME: `${home}/.config`,
        XDG_CACHE_HOME: `${home}/.cache`,
      },
      defaultViewport: VIEWPORT,
      timeout: TIMEOUT_MS,
      // `deno test` handles signals itself; the pipe already ends Chromium with Deno.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
  } catch (e) {
    await removeHome();
    throw e;
  }
  const close = browser.close.bind(browser);
  browser.close = async () => {
    try {
      await close();
    } finally {
      await removeHome();
    }
  };
  return browser;
}

/** A new tab in `browser` with the 1280x800 viewport and 20 s default timeouts. */
export async function newPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport(VIEWPORT);
  page.setDefaultTimeout(TIMEOUT_MS);
  page.setDefaultNavigationTimeout(TIMEOUT_MS);
  return page;
}

/**
 * The URLs of all requests `page` (its frames and workers too) makes from now
 * on, failed and blocked ones included, in order: e.g. to assert that none
 * left the test server's origin.
 */
export function recordRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on("request", (request) => {
    urls.push(request.url());
  });
  return urls;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
