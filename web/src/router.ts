/**
 * The app's pages and a small history router. Pages are loaded on demand, so the
 * candidate's page does not carry the replay player and the report does not carry the
 * sign-in form. Keep the paths in step with APP_ROUTES in server/http/static.ts.
 */
import { messagePage } from './components/notice.js';
import { h } from './lib/dom.js';

/** What a page gets; it answers a cleanup for when the user leaves it. */
export interface PageContext {
  root: HTMLElement;
  params: Record<string, string>;
  query: URLSearchParams;
}
export type Cleanup = () => void;
export type Page = (ctx: PageContext) => Cleanup | void | Promise<Cleanup | void>;

interface Route {
  pattern: RegExp;
  keys: string[];
  load: () => Promise<Page>;
}

const SESSION_ID = '([a-f0-9]{20})';

const routes: Route[] = [
  { pattern: /^\/$/, keys: [], load: () => import('./pages/sessions/sessions-page.js').then((m) => m.sessionsPage) },
  { pattern: /^\/sessions\/?$/, keys: [], load: () => import('./pages/sessions/sessions-page.js').then((m) => m.sessionsPage) },
  { pattern: /^\/labs\/?$/, keys: [], load: () => import('./pages/labs/labs-page.js').then((m) => m.labsPage) },
  { pattern: /^\/sign-in\/?$/, keys: [], load: () => import('./pages/sign-in/sign-in-page.js').then((m) => m.signInPage) },
  { pattern: new RegExp(`^/s/${SESSION_ID}/?$`), keys: ['id'], load: () => import('./pages/candidate/candidate-page.js').then((m) => m.candidatePage) },
  { pattern: new RegExp(`^/observe/${SESSION_ID}/?$`), keys: ['id'], load: () => import('./pages/observe/observe-page.js').then((m) => m.observePage) },
  { pattern: new RegExp(`^/report/${SESSION_ID}/?$`), keys: ['id'], load: () => import('./pages/report/report-page.js').then((m) => m.reportPage) },
];

let cleanup: Cleanup | null = null;
let rendering = 0;
let appRoot: HTMLElement | null = null;

function match(path: string): { route: Route; params: Record<string, string> } | null {
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (m) {
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => (params[k] = m[i + 1] ?? ''));
      return { route, params };
    }
  }
  return null;
}

async function render(): Promise<void> {
  const root = appRoot;
  if (!root) return;
  const token = ++rendering;
  try {
    cleanup?.();
  } catch {
    // a page's cleanup must not stop the next page
  }
  cleanup = null;
  const found = match(location.pathname);
  if (!found) {
    document.title = 'Page not found · opslab';
    root.replaceChildren(
      messagePage("This page doesn't exist", 'The address may be mistyped, or the page has moved.', h('a', { href: '/', class: 'button', 'data-link': '' }, 'Go to sessions')),
    );
    return;
  }
  let page: Page;
  try {
    page = await found.route.load();
  } catch {
    root.replaceChildren(
      messagePage('This page could not be loaded', 'The app may have been updated while this tab was open. Reload the page to get the new version.', h('button', { class: 'button button-primary', type: 'button', onclick: () => location.reload() }, 'Reload')),
    );
    return;
  }
  if (token !== rendering) return;
  root.replaceChildren();
  try {
    const result = await page({ root, params: found.params, query: new URLSearchParams(location.search) });
    if (token !== rendering) {
      if (typeof result === 'function') result();
      return;
    }
    cleanup = typeof result === 'function' ? result : null;
  } catch {
    if (token !== rendering) return;
    root.replaceChildren(
      messagePage('Something went wrong', 'This page hit a problem it could not recover from. Reload to try again.', h('button', { class: 'button button-primary', type: 'button', onclick: () => location.reload() }, 'Reload')),
    );
  }
}

/** Go to `path` inside the app (no full page load). */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  void render();
}

export function startRouter(root: HTMLElement): void {
  appRoot = root;
  window.addEventListener('popstate', () => void render());
  // Links marked data-link stay inside the app.
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = (event.target as Element | null)?.closest?.('a[data-link]');
    if (!(link instanceof HTMLAnchorElement) || link.target || link.origin !== location.origin) return;
    event.preventDefault();
    navigate(link.pathname + link.search);
  });
  void render();
}
