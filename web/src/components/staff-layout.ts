/**
 * The frame of the interviewer's pages: the brand, the navigation and who is signed in.
 * `requireStaff` sends anyone not signed in to the sign-in page and back afterwards.
 */
import { currentStaff, signOut } from '../api/staff-session.js';
import type { StaffUser } from '../api/types.js';
import { h, type Child } from '../lib/dom.js';
import { explain } from '../lib/messages.js';
import { navigate } from '../router.js';
import { messagePage } from './notice.js';

export function brand(): HTMLElement {
  return h(
    'a',
    { class: 'brand', href: '/', 'data-link': '', 'aria-label': 'opslab home' },
    h('img', { src: '/favicon.svg', alt: '', width: 24, height: 24 }),
    h('span', null, 'opslab'),
  );
}

/** The signed-in staff user, or null after sending the browser to sign in. */
export async function requireStaff(root: HTMLElement): Promise<StaffUser | null> {
  let user: StaffUser | null;
  try {
    user = await currentStaff();
  } catch (e) {
    root.replaceChildren(
      messagePage("We can't reach opslab", explain(e, 'staff'), h('button', { class: 'button button-primary', type: 'button', onclick: () => location.reload() }, 'Try again')),
    );
    return null;
  }
  if (!user) {
    const next = location.pathname + location.search;
    navigate(`/sign-in?next=${encodeURIComponent(next)}`, { replace: true });
    return null;
  }
  return user;
}

export function staffLayout(user: StaffUser, active: 'sessions' | 'labs' | null, ...content: Child[]): HTMLElement[] {
  const link = (href: string, label: string, key: typeof active) =>
    h('a', { href, 'data-link': '', class: 'nav-link', 'aria-current': active === key ? 'page' : null }, label);
  const header = h(
    'header',
    { class: 'topbar' },
    brand(),
    h('nav', { class: 'nav', 'aria-label': 'Main' }, link('/sessions', 'Sessions', 'sessions'), link('/labs', 'Labs', 'labs')),
    h(
      'div',
      { class: 'topbar-end' },
      h('span', { class: 'who', 'data-testid': 'signed-in-as' }, user.name === 'Staff' ? 'Signed in' : `${user.name}`),
      h(
        'button',
        {
          class: 'button button-quiet',
          type: 'button',
          'data-testid': 'sign-out',
          onclick: () => {
            void signOut().finally(() => navigate('/sign-in', { replace: true }));
          },
        },
        'Sign out',
      ),
    ),
  );
  return [header, h('main', { id: 'main', class: 'page' }, ...content)];
}
