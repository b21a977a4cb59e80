/**
 * Create a session for a lab: the candidate's name (and email), the length; then the
 * invite link to copy. The link holds the candidate's token and is shown only once.
 */
import { createSession } from '../../api/endpoints.js';
import type { LabSummary } from '../../api/types.js';
import { notice } from '../../components/notice.js';
import { copyText } from '../../lib/clipboard.js';
import { h, icon, ICONS, replaceChildren } from '../../lib/dom.js';
import { explain } from '../../lib/messages.js';

export function openCreateSessionDialog(lab: LabSummary): void {
  const dialog = h('dialog', { class: 'dialog dialog-wide', 'aria-labelledby': 'create-title', 'data-testid': 'create-dialog' });
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  dialog.addEventListener('close', () => dialog.remove());

  const name = h('input', { id: 'candidate-name', name: 'name', required: true, maxlength: 100, autocomplete: 'off', 'data-testid': 'candidate-name' });
  const email = h('input', { id: 'candidate-email', name: 'email', type: 'email', maxlength: 200, autocomplete: 'off', 'data-testid': 'candidate-email' });
  const duration = h('input', {
    id: 'duration',
    name: 'duration',
    type: 'number',
    min: 5,
    max: 1440,
    step: 5,
    value: lab.durationMinutes,
    required: true,
    'data-testid': 'duration',
  });
  const message = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { class: 'button button-primary', type: 'submit', 'data-testid': 'create-session' }, 'Create session');
  const form = h(
    'form',
    { class: 'stack', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'candidate-name' }, "Candidate's name"), name),
    h('div', { class: 'field' }, h('label', { for: 'candidate-email' }, 'Email ', h('span', { class: 'muted' }, '(optional, only staff see it)')), email),
    h('div', { class: 'field field-narrow' }, h('label', { for: 'duration' }, 'Length in minutes'), duration,
      h('p', { class: 'field-help' }, 'The clock starts when you create the session.')),
    message,
    h('div', { class: 'dialog-actions' }, h('button', { class: 'button', type: 'button', onclick: close }, 'Cancel'), submit),
  );

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const candidateName = name.value.trim();
    const minutes = Number(duration.value);
    if (!candidateName) {
      replaceChildren(message, notice('error', "Enter the candidate's name."));
      name.focus();
      return;
    }
    if (!Number.isInteger(minutes) || minutes < 5) {
      replaceChildren(message, notice('error', 'The length must be a whole number of minutes, at least 5.'));
      duration.focus();
      return;
    }
    if (email.value.trim() && !email.checkValidity()) {
      replaceChildren(message, notice('error', 'That email address does not look right.'));
      email.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Creating…';
    replaceChildren(message);
    createSession({
      lab: lab.id,
      candidate: { name: candidateName, ...(email.value.trim() ? { email: email.value.trim() } : {}) },
      durationMinutes: minutes,
    })
      .then((created) => showCreated(created.id, created.candidateUrl, candidateName))
      .catch((e: unknown) => {
        replaceChildren(message, notice('error', explain(e, 'staff')));
        submit.disabled = false;
        submit.textContent = 'Create session';
      });
  });

  const showCreated = (id: string, link: string, candidate: string) => {
    const linkInput = h('input', { id: 'candidate-link', readonly: true, value: link, 'data-testid': 'candidate-link', onfocus: (e: Event) => (e.target as HTMLInputElement).select() });
    const copyStatus = h('span', { class: 'copy-status', role: 'status', 'aria-live': 'polite' });
    const copyButton = h(
      'button',
      {
        class: 'button',
        type: 'button',
        'data-testid': 'copy-link',
        onclick: () => {
          void copyText(link).then((ok) => {
            copyStatus.textContent = ok ? 'Copied' : 'Select the link and copy it with Ctrl+C';
          });
        },
      },
      icon([...ICONS.copy]),
      ' Copy link',
    );
    replaceChildren(
      dialog,
      h('h2', { id: 'create-title', class: 'dialog-title' }, `Session created for ${candidate}`),
      h('p', null, 'Send this link to the candidate. It is their key to the session, so share it only with them. ', h('strong', null, 'It is shown only once.')),
      h('div', { class: 'field' }, h('label', { for: 'candidate-link' }, "Candidate's link"), h('div', { class: 'input-row' }, linkInput, copyButton)),
      copyStatus,
      h('p', { class: 'muted small' }, 'The sandbox takes a few seconds to start; the candidate sees a short wait if they are quicker.'),
      h(
        'div',
        { class: 'dialog-actions' },
        h('button', { class: 'button', type: 'button', onclick: close }, 'Close'),
        h('a', { class: 'button button-primary', href: `/observe/${id}`, 'data-link': '', 'data-testid': 'observe-link', onclick: close }, icon([...ICONS.eye]), ' Watch the session'),
      ),
    );
    linkInput.focus();
  };

  replaceChildren(
    dialog,
    h('h2', { id: 'create-title', class: 'dialog-title' }, `New session: ${lab.title}`),
    form,
  );
  document.body.appendChild(dialog);
  dialog.showModal();
  name.focus();
}
