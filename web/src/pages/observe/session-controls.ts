/** Extend the session's time, or end it (with a confirmation). */
import { endSession, extendSession } from '../../api/endpoints.js';
import { isApiError } from '../../api/http.js';
import type { Session } from '../../api/types.js';
import { confirmDialog } from '../../components/dialog.js';
import { h } from '../../lib/dom.js';
import { explain, notAvailable } from '../../lib/messages.js';

export interface SessionControls {
  el: HTMLElement;
  setLive(live: boolean): void;
}

export function sessionControls(
  session: Session,
  handlers: { onChanged(session: Session | null): void; onMessage(kind: 'error' | 'success' | 'info', text: string): void },
): SessionControls {
  const minutes = h(
    'select',
    { id: 'extend-minutes', class: 'select', 'data-testid': 'extend-minutes', 'aria-label': 'Minutes to add' },
    [5, 10, 15, 30, 60].map((m) => h('option', { value: m, selected: m === 10 }, `+${m} min`)),
  );
  const extend = h('button', { class: 'button', type: 'button', 'data-testid': 'extend' }, 'Add time');
  const end = h('button', { class: 'button button-danger', type: 'button', 'data-testid': 'end-session' }, 'End session');
  const el = h('div', { class: 'session-controls' }, h('div', { class: 'input-row compact' }, minutes, extend), end);

  extend.addEventListener('click', () => {
    const m = Number(minutes.value);
    extend.disabled = true;
    extendSession(session.id, m)
      .then(({ session: updated, addedMinutes }) => {
        handlers.onChanged(updated);
        handlers.onMessage(
          'success',
          addedMinutes < m ? `Added ${addedMinutes} minutes: the session has reached its longest allowed length.` : `Added ${addedMinutes} minutes.`,
        );
      })
      .catch((e: unknown) => {
        const text =
          isApiError(e) && e.endpointMissing
            ? notAvailable('Adding time')
            : isApiError(e) && e.code === 'WRONG_STATE'
              ? 'No time can be added: the session is over, its time is already up, or it has reached its longest allowed length.'
              : `Time could not be added. ${explain(e, 'staff')}`;
        handlers.onMessage('error', text);
      })
      .finally(() => {
        extend.disabled = false;
      });
  });

  end.addEventListener('click', () => {
    void confirmDialog({
      title: `End ${session.candidate.name}'s session?`,
      body: 'Their work is checked a last time and saved, the sandbox is removed, and their link stops working. This cannot be undone.',
      confirmLabel: 'End session',
      danger: true,
      testId: 'end-dialog',
    }).then((yes) => {
      if (!yes) return;
      end.disabled = true;
      end.textContent = 'Ending…';
      endSession(session.id)
        .then((s) => handlers.onChanged(s))
        .catch((e: unknown) => {
          handlers.onMessage('error', `The session could not be ended. ${explain(e, 'staff')}`);
          end.disabled = false;
          end.textContent = 'End session';
        });
    });
  });

  return {
    el,
    setLive(live) {
      el.hidden = !live;
    },
  };
}
