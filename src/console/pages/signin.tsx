/**
 * The sign-in form: the read or the write token, in exchange for a session
 * cookie.
 *
 * @module
 */

import { Notice, Page, type PageContext } from "../layout.tsx";

/** The sign-in page; `error` when the last token was refused. */
export function SignInPage(
  props: { ctx: PageContext; next: string; error?: string; noTokens: boolean },
) {
  const { t } = props.ctx;
  return (
    <Page ctx={props.ctx} title={t.signIn}>
      <div class="signin">
        <h1>{t.signIn}</h1>
        {props.noTokens ? <p class="muted">{t.noTokens}</p> : <p class="muted">{t.signInHint}</p>}
        {props.error ? <Notice>{props.error}</Notice> : null}
        <form method="post" action="/signin">
          <input type="hidden" name="next" value={props.next} />
          <label>
            {t.token}
            <input type="password" name="token" id="token" autocomplete="current-password" />
          </label>
          <button type="submit" id="signin">{t.signIn}</button>
        </form>
      </div>
    </Page>
  );
}
