/** Sign-in: paste a control API token (the same identity as the API), or — demo only — pick a local user. */
import { Layout } from '../layout';
import type { View } from '../session';

export function SignInPage(props: {
  view: View;
  csrf: string;
  localUsers: Array<{ id: string; displayName: string }>;
  error?: string;
  returnTo: string;
}): JSX.Element {
  return (
    <Layout view={props.view} title="Sign in">
      <h1>Sign in</h1>
      {props.error ? (
        <div class="notice notice-error" role="alert">
          <p safe>{props.error}</p>
        </div>
      ) : (
        ''
      )}
      <section aria-labelledby="token-h">
        <h2 id="token-h">With a control API token</h2>
        <p>
          The console uses the control API's identity: a token it accepts signs you in, and your rights are those of
          your organizations.
        </p>
        <form method="post" action="/console/sign-in" class="stack">
          <input type="hidden" name="_csrf" value={props.csrf} />
          <input type="hidden" name="return_to" value={props.returnTo} />
          <label for="token">Bearer token</label>
          <input id="token" name="token" type="password" autocomplete="off" required maxlength="8192" />
          <button type="submit" class="button primary">
            Sign in
          </button>
        </form>
      </section>
      {props.localUsers.length > 0 ? (
        <section aria-labelledby="local-h">
          <h2 id="local-h">Demo users</h2>
          <p>Local sign-in is enabled (console.localSignInUsers): for the demo only.</p>
          <form method="post" action="/console/sign-in/local" class="stack">
            <input type="hidden" name="_csrf" value={props.csrf} />
            <input type="hidden" name="return_to" value={props.returnTo} />
            <ul class="plain">
              {props.localUsers.map((u) => (
                <li>
                  <button type="submit" name="user" value={u.id} class="button" safe>
                    {`Sign in as ${u.displayName}`}
                  </button>
                </li>
              ))}
            </ul>
          </form>
        </section>
      ) : (
        ''
      )}
    </Layout>
  );
}
