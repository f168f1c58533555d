/**
 * Annotation templates: `{{ $value }}`, `{{ $labels.service }}`, `{{ $rule }}`,
 * `{{ $severity }}`, `{{ $link }}` (the alert's page on the agent's API), and
 * `{{ $details }}` (what the condition adds: the sids and first line of a
 * `node_log` alert). The Prometheus forms `{{ .Value }}` and
 * `{{ .Labels.x }}` are taken too. Nothing else: a template is text with
 * holes, not a program.
 *
 * @module
 */

const HOLE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const VARIABLE =
  /^(?:\$value|\.Value|\$rule|\$severity|\$link|\$details|(?:\$labels|\.Labels)\.([A-Za-z_][A-Za-z0-9_]*))$/;

/** What fills a template's holes. */
export interface TemplateData {
  value: string;
  rule: string;
  severity: string;
  link: string;
  details: string;
  labels: Record<string, string>;
}

/**
 * Why a template cannot be used (a hole that is not a variable, a label the
 * rule never has, an unclosed `{{`), or `undefined` when it is fine.
 */
export function templateProblem(text: string, labels: ReadonlySet<string>): string | undefined {
  const stripped = text.replace(HOLE, "");
  if (stripped.includes("{{") || stripped.includes("}}")) {
    return `unbalanced "{{" or "}}" in ${JSON.stringify(text)}`;
  }
  for (const m of text.matchAll(HOLE)) {
    const v = VARIABLE.exec(m[1]);
    if (!v) {
      return `{{ ${m[1]} }} is not one of $value, $rule, $severity, $link, $details, $labels.NAME`;
    }
    if (v[1] && !labels.has(v[1])) {
      return `{{ ${m[1]} }}: ${JSON.stringify(v[1])} is not a label of this rule (${
        [...labels].join(", ")
      })`;
    }
  }
  return undefined;
}

/** Fill a template checked by {@linkcode templateProblem}. */
export function renderTemplate(text: string, data: TemplateData): string {
  return text.replace(HOLE, (_, expr: string) => {
    const v = VARIABLE.exec(expr);
    if (!v) return "";
    if (v[1]) return data.labels[v[1]] ?? "";
    if (expr === "$value" || expr === ".Value") return data.value;
    if (expr === "$rule") return data.rule;
    if (expr === "$severity") return data.severity;
    if (expr === "$link") return data.link;
    return data.details;
  });
}
