/**
 * The console's two static files, embedded in the binary and served under
 * names holding their content hash, so they can be cached for a year.
 *
 * @module
 */

import { createHash } from "node:crypto";

const CSS = `
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#fff;--panel:#f8f9fb;--ok:#2e9e5b;
--warn:#e6a23c;--bad:#d64545;--none:#d0d5dd;--accent:#3c6fd8}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;gap:18px;align-items:center;padding:10px 20px;border-bottom:1px solid var(--line);background:var(--panel)}
header .brand{font-weight:700;margin-right:10px}
header a{color:var(--fg);text-decoration:none}
header a.here{color:var(--accent);font-weight:600}
header .right{margin-left:auto;display:flex;gap:12px;align-items:center;color:var(--muted)}
header form{margin:0}
main{padding:16px 20px;max-width:1400px}
h1{font-size:20px;margin:4px 0 12px}
h2{font-size:16px;margin:22px 0 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:12px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
a{color:var(--accent)}
.muted{color:var(--muted)}
.state{display:inline-block;white-space:nowrap;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.state.up,.state.ok{background:var(--ok)}.state.down,.state.firing,.state.error{background:var(--bad)}
.state.pending{background:var(--warn)}.state.silenced{background:var(--muted)}
.bar rect.s-ok{fill:var(--ok)}.bar rect.s-some{fill:var(--warn)}.bar rect.s-bad{fill:var(--bad)}.bar rect.s-none{fill:var(--none)}
.err{color:var(--bad)}
.notice{padding:8px 12px;border:1px solid var(--bad);background:#fff4f4;border-radius:4px;margin:8px 0}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin-bottom:10px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
input,select,button{font:inherit;padding:4px 6px}
pre{background:var(--panel);padding:8px;overflow:auto;max-height:420px;white-space:pre-wrap;word-break:break-all;margin:4px 0}
pre .lvl-error{color:var(--bad);font-weight:600}
details{margin:2px 0}
summary{cursor:pointer}
svg text{font:11px system-ui,sans-serif;fill:var(--muted)}
svg .node-label{fill:var(--fg)}
svg rect.node.failed{stroke:var(--bad);stroke-width:2}
svg .failmark{fill:var(--bad);font-weight:700}
svg line.grid{stroke:var(--line)}
svg line.ff{stroke:var(--accent);stroke-dasharray:4 3}
svg rect.span{fill:#98a2b3}
svg .fail{fill:var(--bad)}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.signin{max-width:380px;margin:60px auto}
.signin input{width:100%;margin:6px 0}
`;

const JS = `
document.addEventListener("toggle", async (e) => {
  const d = e.target;
  if (!(d instanceof HTMLDetailsElement) || !d.open || !d.dataset.blob || d.dataset.loaded) return;
  d.dataset.loaded = "1";
  const pre = d.querySelector("pre");
  try {
    const r = await fetch("/blobs/" + d.dataset.blob, { credentials: "same-origin" });
    pre.textContent = r.ok ? await r.text() : "HTTP " + r.status;
  } catch (err) { pre.textContent = String(err); }
}, true);
`;

/** One embedded file. */
export interface Asset {
  /** The path it is served at, with its hash. */
  path: string;
  type: string;
  body: string;
}

function asset(name: string, ext: string, type: string, body: string): Asset {
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 12);
  return { path: `/assets/${name}.${hash}.${ext}`, type, body };
}

/** The style sheet. */
export const STYLE: Asset = asset("console", "css", "text/css; charset=utf-8", CSS.trim());
/** The script: loads an offloaded text when its `<details data-blob>` is opened. */
export const SCRIPT: Asset = asset("console", "js", "text/javascript; charset=utf-8", JS.trim());

/** Every asset by path. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([STYLE, SCRIPT].map((a) => [a.path, a]));
