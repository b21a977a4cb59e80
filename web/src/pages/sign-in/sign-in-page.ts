/** Staff sign-in: paste your token; it is traded for a cookie (or kept for this tab). */
import { isApiError } from '../../api/http.js';
import { currentStaff, signIn } from '../../api/staff-session.js';
import { notice } from '../../components/notice.js';
import { brand } from '../../components/staff-layout.js';
import { h, replaceChildren } from '../../lib/dom.js';
import { explain } from '../../lib/messages.js';
import { navigate, type PageContext } from '../../router.js';

/** Only paths inside this app, never another site. */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/sessions';
}

export async function signInPage({ root, query }: PageContext): Promise<void> {
  document.title = 'Sign in · opslab';
  const next = safeNext(query.get('next'));
  const already = await currentStaff().catch(() => null);
  if (already) {
    navigate(next, { replace: true });
    return;
  }

  const message = h('div', { class: 'form-message', 'aria-live': 'polite' });
  const input = h('input', {
    id: 'staff-token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'staff-token-help',
    'data-testid': 'staff-token',
  });
  const submit = h('button', { class: 'button button-primary button-wide', type: 'submit', 'data-testid': 'sign-in' }, 'Sign in');
  const form = h(
    'form',
    { class: 'stack', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'staff-token' }, 'Staff token'), input,
      h('p', { id: 'staff-token-help', class: 'field-help' },
        'The token you were given for opslab (it starts with osl_s_). An admin can make one with ',
        h('code', null, 'opslab user add'), '. The first admin token is in ', h('code', null, 'data/admin-token'), ' on the server.')),
    message,
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      replaceChildren(message, notice('error', 'Paste your staff token first.'));
      input.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    replaceChildren(message);
    signIn(token)
      .then(() => navigate(next, { replace: true }))
      .catch((e: unknown) => {
        const text =
          isApiError(e) && (e.status === 401 || e.code === 'UNAUTHENTICATED')
            ? "That token wasn't recognised. Check that you pasted all of it, or ask an admin for a new one."
            : isApiError(e) && e.status === 403
              ? 'That is a candidate invite, not a staff token. Candidates open the link their interviewer sent them.'
              : explain(e, 'staff');
        replaceChildren(message, notice('error', text));
        submit.disabled = false;
        submit.textContent = 'Sign in';
        input.focus();
        input.select();
      });
  });

  root.replaceChildren(
    h(
      'main',
      { id: 'main', class: 'sign-in' },
      h(
        'div',
        { class: 'sign-in-card card' },
        brand(),
        h('h1', null, 'Sign in'),
        h('p', { class: 'muted' }, 'For interviewers and lab authors. Candidates don’t need to sign in: they use the link from their invite.'),
        form,
      ),
    ),
  );
  input.focus();
}
