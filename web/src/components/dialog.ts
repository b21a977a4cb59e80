/** A modal confirmation (native <dialog>: focus is trapped and Escape cancels). */
import { h } from '../lib/dom.js';

export function confirmDialog(options: {
  title: string;
  body: string;
  confirmLabel: string;
  cancelLabel?: string;
  danger?: boolean;
  testId?: string;
}): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = `dialog-title-${Math.random().toString(36).slice(2)}`;
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, 'data-testid': options.testId ?? 'confirm-dialog' });
    const finish = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    const confirm = h(
      'button',
      { type: 'button', class: options.danger ? 'button button-danger' : 'button button-primary', 'data-testid': 'confirm', onclick: () => finish(true) },
      options.confirmLabel,
    );
    const cancel = h('button', { type: 'button', class: 'button', 'data-testid': 'cancel', onclick: () => finish(false) }, options.cancelLabel ?? 'Cancel');
    dialog.append(
      h('h2', { id: titleId, class: 'dialog-title' }, options.title),
      h('p', { class: 'dialog-body' }, options.body),
      h('div', { class: 'dialog-actions' }, cancel, confirm),
    );
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      finish(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
