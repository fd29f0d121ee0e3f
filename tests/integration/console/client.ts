/** A tiny cookie-keeping HTTP client for the console's pages (real HTTP to a listening control API). */
export interface Page {
  status: number;
  headers: Headers;
  body: string;
}

export class ConsoleClient {
  readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  private remember(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === '' || /Max-Age=0/.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Page> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      redirect: 'manual',
      headers: { cookie: this.cookieHeader(), ...headers },
    });
    this.remember(res);
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  async post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
    this.remember(res);
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  /** The value of a hidden `name` input on a page. */
  static field(body: string, name: string): string {
    const m = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(body);
    if (!m) throw new Error(`no hidden field ${name} on the page`);
    return m[1]!;
  }

  /** Signs in with a control API token through the sign-in form. */
  async signInWithToken(token: string): Promise<Page> {
    const page = await this.get('/console/sign-in');
    return this.post('/console/sign-in', {
      _csrf: ConsoleClient.field(page.body, '_csrf'),
      token,
      return_to: '/console/status',
    });
  }
}
