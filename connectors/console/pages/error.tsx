/** A page that says what is wrong, with a way on. */
import { Layout } from '../layout';
import type { View } from '../session';

const TITLES: Record<number, string> = {
  400: 'That request was not valid',
  401: 'Please sign in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Not possible now',
};

export function ErrorPage({ view, status, message }: { view: View; status: number; message: string }): JSX.Element {
  return (
    <Layout view={view} title={TITLES[status] ?? 'Error'}>
      <h1 safe>{TITLES[status] ?? 'Something went wrong'}</h1>
      <div class="notice notice-error" role="alert">
        <p safe>{message}</p>
      </div>
      <p>
        {view.viewer ? <a href="/console/status">Back to the status page</a> : <a href="/console/sign-in">Sign in</a>}
      </p>
    </Layout>
  );
}
