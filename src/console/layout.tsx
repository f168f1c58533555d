/**
 * The page shell every console page shares: the navigation, the language
 * switch, the sign-out button; and the 404 page.
 *
 * @module
 */

import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import type { Lang, Text } from "./i18n.ts";
import { SCRIPT, STYLE } from "./assets.ts";
import type { Role } from "./session.ts";

/** What every page knows about the request. */
export interface PageContext {
  t: Text;
  lang: Lang;
  /** The request's path and query, for the language switch and sign-in's return. */
  here: string;
  role?: Role;
  /** True when access comes from a session cookie (a sign-out button is shown). */
  session: boolean;
  /** The CSRF token for forms that write. */
  csrf?: string;
  /** Which optional parts exist. */
  has: { store: boolean; alerts: boolean };
}

/** `here` with `lang` set, for the language switch. */
function withLang(here: string, lang: Lang): string {
  const url = new URL(here, "http://x");
  url.searchParams.set("lang", lang);
  return url.pathname + url.search;
}

/** One page: head, navigation and the content. */
export function Page(props: { ctx: PageContext; title: string; nav?: string; children?: Child }) {
  const { t, lang, has } = props.ctx;
  const link = (href: string, name: string, key: string) => (
    <a href={href} class={props.nav === key ? "here" : undefined}>{name}</a>
  );
  return (
    <>
      {raw("<!DOCTYPE html>")}
      <html lang={lang === "zh" ? "zh-CN" : "en"}>
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{`${props.title} · astron-watch`}</title>
          <link rel="icon" href="data:," />
          <link rel="stylesheet" href={STYLE.path} />
          <script src={SCRIPT.path} defer></script>
        </head>
        <body>
          <header>
            <span class="brand">astron-watch</span>
            {link("/", t.overview, "overview")}
            {has.store ? link("/runs", t.traces, "traces") : null}
            {has.store ? link("/usage", t.usage, "usage") : null}
            {has.alerts ? link("/alerts", t.alerts, "alerts") : null}
            <span class="right">
              <a href={withLang(props.ctx.here, lang === "zh" ? "en" : "zh")} id="lang">
                {t.language}
              </a>
              {props.ctx.session
                ? (
                  <form method="post" action="/signout">
                    <span class="muted">{t.signedInAs} {props.ctx.role}</span>{" "}
                    <input type="hidden" name="csrf" value={props.ctx.csrf ?? ""} />
                    <button type="submit" id="signout">{t.signOut}</button>
                  </form>
                )
                : <a href={`/signin?next=${encodeURIComponent(props.ctx.here)}`}>{t.signIn}</a>}
            </span>
          </header>
          <main>{props.children}</main>
        </body>
      </html>
    </>
  );
}

/** A message in red beside a form: what the API would have answered. */
export function Notice(props: { children?: Child }) {
  return <div class="notice" role="alert">{props.children}</div>;
}

/** The form that picks a page's time window. */
export function WindowForm(props: { t: Text; windows: string[]; chosen: string }) {
  const option = (w: string) => <option value={w} selected={w === props.chosen}>{w}</option>;
  return (
    <form class="filters" method="get">
      <label>
        {props.t.window}
        <select name="window">
          {props.windows.map(option)}
        </select>
      </label>
      <button type="submit">{props.t.show}</button>
    </form>
  );
}

/** The 404 page. */
export function NotFoundPage(props: { ctx: PageContext; message: string }) {
  return (
    <ErrorPage ctx={props.ctx} status={404} title={props.ctx.t.notFound} message={props.message} />
  );
}

/** A page that says why there is no page. */
export function ErrorPage(
  props: { ctx: PageContext; status: number; title: string; message: string },
) {
  return (
    <Page ctx={props.ctx} title={props.title}>
      <h1>{props.status} · {props.title}</h1>
      <p id={props.status === 404 ? "not-found" : "error"}>{props.message}</p>
      <p>
        <a href="/">{props.ctx.t.backHome}</a>
      </p>
    </Page>
  );
}
