/**
 * The candidate's page, opened from the invite link: the brief, a terminal in their
 * sandbox, "Check my work", the time left, and "I'm done". The connection state is
 * always visible, and a dropped connection comes back by itself to the same shell.
 */
import { endSession, getSession, terminalTicket } from '../../api/endpoints.js';
import { type Auth, isApiError } from '../../api/http.js';
import type { Session } from '../../api/types.js';
import { connectionBadge } from '../../components/connection-badge.js';
import { countdown, WARNING_SECONDS } from '../../components/countdown.js';
import { confirmDialog } from '../../components/dialog.js';
import { messagePage, notice } from '../../components/notice.js';
import { h, replaceChildren } from '../../lib/dom.js';
import { explain } from '../../lib/messages.js';
import type { PageContext } from '../../router.js';
import { startLiveTerminal, type LiveTerminal } from '../../terminal/live-terminal.js';
import { briefPanel } from './brief-panel.js';
import { checkPanel } from './check-panel.js';
import { readInvite } from './invite.js';

const POLL_STARTING_MS = 700;
const POLL_SESSION_MS = 15_000;

const retryButton = () => h('button', { class: 'button button-primary', type: 'button', onclick: () => location.reload() }, 'Try again');

function expiredInvite(root: HTMLElement): void {
  root.replaceChildren(
    messagePage(
      'This invite has expired',
      'The session this link opens has ended or its time ran out. If you still need to do the exercise, ask your interviewer for a new link.',
    ),
  );
}

export async function candidatePage({ root, params }: PageContext): Promise<(() => void) | void> {
  const sessionId = params.id ?? '';
  document.title = 'Your exercise · opslab';
  const invite = readInvite(sessionId);
  if (!invite) {
    root.replaceChildren(
      messagePage(
        'This link is incomplete',
        'Open the link your interviewer sent you again: the whole link, including the part after “#token=”. If it still does not work, ask them for a new one.',
      ),
    );
    return;
  }
  const auth: Auth = { kind: 'candidate', invite };

  let session: Session;
  try {
    session = await getSession(sessionId, auth);
  } catch (e) {
    if (isApiError(e) && e.status === 401) expiredInvite(root);
    else root.replaceChildren(messagePage('We could not open your session', explain(e, 'candidate'), retryButton()));
    return;
  }

  const disposers: (() => void)[] = [];
  let terminal: LiveTerminal | null = null;
  let finished = false;
  /** The candidate pressed "I'm done": the session ending is their own doing. */
  let endingByCandidate = false;

  const labTitle = h('span', { class: 'bar-title', 'data-testid': 'lab-title' }, 'Your exercise');
  const timeWarning = h('div', { class: 'bar-warning', role: 'status', hidden: true, 'data-testid': 'time-warning' });
  const clock = countdown({
    onWarning: () => {
      timeWarning.hidden = false;
      timeWarning.textContent = 'Five minutes left. Commit your work now.';
    },
    onExpired: () => {
      timeWarning.hidden = false;
      timeWarning.textContent = 'Time is up. Your work is being checked one last time.';
    },
  });
  disposers.push(() => clock.dispose());
  const badge = connectionBadge(() => terminal?.connection.retryNow());
  const checks = checkPanel(sessionId, auth, () => showFinished('over'));
  const doneButton = h('button', { class: 'button', type: 'button', 'data-testid': 'done' }, "I'm done");
  const terminalBox = h('div', { class: 'terminal-box', 'data-testid': 'terminal' });
  const overlay = h('div', { class: 'terminal-overlay', 'data-testid': 'terminal-overlay' }, h('div', { class: 'spinner', 'aria-hidden': 'true' }), h('p', null, 'Preparing your environment…'));
  const frame = h('div', { class: 'terminal-frame', 'data-connection': 'connecting' }, terminalBox, overlay);
  const pageMessage = h('div', { class: 'page-message' });

  const showFinished = (reason: 'done' | 'over', state?: string) => {
    if (finished) return;
    finished = true;
    const why = endingByCandidate ? 'done' : reason;
    for (const d of disposers.splice(0)) d();
    terminal?.dispose();
    terminal = null;
    const title = why === 'done' ? 'Thank you, you are done' : state === 'expired' ? 'Time is up' : 'Your session has ended';
    const body =
      why === 'done'
        ? 'Your work was checked one last time and saved. Your interviewer will take it from here; you can close this tab.'
        : 'Your work has been saved and your interviewer has it. You can close this tab.';
    root.replaceChildren(messagePage(title, body));
    root.querySelector('.message-page')?.setAttribute('data-testid', 'finished');
  };

  doneButton.addEventListener('click', () => {
    void confirmDialog({
      title: 'Finish the exercise?',
      body: 'Your work is checked one last time and your environment is closed. You cannot come back to it afterwards.',
      confirmLabel: "Yes, I'm done",
      cancelLabel: 'Keep working',
      testId: 'done-dialog',
    }).then((yes) => {
      if (!yes) {
        terminal?.focus();
        return;
      }
      endingByCandidate = true;
      doneButton.disabled = true;
      doneButton.textContent = 'Finishing…';
      checks.button.disabled = true;
      endSession(sessionId, auth)
        .then(() => showFinished('done'))
        .catch((e: unknown) => {
          if (isApiError(e) && (e.status === 401 || e.code === 'WRONG_STATE')) {
            endingByCandidate = false;
            showFinished('over');
            return;
          }
          endingByCandidate = false;
          replaceChildren(pageMessage, notice('error', `We could not finish your session. ${explain(e, 'candidate')}`));
          doneButton.disabled = false;
          doneButton.textContent = "I'm done";
          checks.button.disabled = false;
        });
    });
  });

  root.replaceChildren(
    h(
      'div',
      { class: 'workspace-layout candidate' },
      h(
        'header',
        { class: 'topbar workspace-bar' },
        h('div', { class: 'bar-start' }, h('img', { src: '/favicon.svg', alt: 'opslab', width: 24, height: 24 }), labTitle),
        h('div', { class: 'bar-middle' }, clock.el, timeWarning),
        h('div', { class: 'bar-end' }, checks.button, doneButton),
      ),
      pageMessage,
      h(
        'main',
        { id: 'main', class: 'workspace-main' },
        h(
          'aside',
          { class: 'side-panel', 'aria-label': 'Brief and results' },
          checks.el,
          h('section', { class: 'brief-section', 'aria-label': 'Brief' }, briefPanel(sessionId, auth, (t) => {
            labTitle.textContent = t;
            document.title = `${t} · opslab`;
          })),
        ),
        h(
          'section',
          { class: 'terminal-panel', 'aria-label': 'Terminal' },
          h(
            'div',
            { class: 'terminal-caption' },
            badge.el,
            h('span', { class: 'terminal-hint' }, 'Copy: Ctrl+Shift+C (or Ctrl+C on a selection) · Paste: Ctrl+Shift+V · Leave: Shift+Tab'),
          ),
          frame,
        ),
      ),
    ),
  );

  const applySession = (s: Session) => {
    session = s;
    clock.setExpiry(s.expiresAt);
    if (s.state === 'ended' || s.state === 'expired') showFinished('over', s.state);
    if (s.state === 'failed') {
      finished = true;
      for (const d of disposers.splice(0)) d();
      terminal?.dispose();
      root.replaceChildren(messagePage('Your environment could not be started', 'Something went wrong while preparing it. Tell your interviewer; they can start a new session for you.'));
    }
  };

  const startTerminal = () => {
    overlay.hidden = true;
    terminal = startLiveTerminal(terminalBox, {
      sessionId,
      role: 'candidate',
      label: 'Terminal: type commands for your sandbox here',
      issueTicket: async () => (await terminalTicket(sessionId, auth)).ticket,
      onStatus: (status) => {
        badge.update(status);
        frame.dataset.connection = status.kind;
        if (status.kind === 'closed' && status.reason !== 'stopped') {
          if (status.reason === 'session-over') showFinished('over', status.state);
          else if (isApiError(status.error) && status.error.status === 401) showFinished('over');
        }
      },
      onControl: (message) => {
        if (message.type === 'state' && (message.state === 'ended' || message.state === 'expired')) showFinished('over', message.state);
        // The interviewer gave more time.
        if (message.type === 'session' && message.expiresAt) {
          clock.setExpiry(message.expiresAt);
          if (new Date(message.expiresAt).getTime() - Date.now() > WARNING_SECONDS * 1000) timeWarning.hidden = true;
        }
      },
    });
    terminal.focus();
  };

  // Keep the clock and state in step with the server (the interviewer may add time).
  let poll: ReturnType<typeof setTimeout> | null = null;
  const refresh = async () => {
    try {
      const s = await getSession(sessionId, auth);
      if (finished) return;
      const wasStarting = session.state === 'starting';
      applySession(s);
      if (wasStarting && s.state === 'ready' && !terminal) startTerminal();
    } catch (e) {
      if (finished) return;
      if (isApiError(e) && e.status === 401) {
        showFinished('over');
        return;
      }
    }
    if (!finished) poll = setTimeout(() => void refresh(), session.state === 'starting' ? POLL_STARTING_MS : POLL_SESSION_MS);
  };
  disposers.push(() => {
    if (poll) clearTimeout(poll);
  });

  applySession(session);
  if (finished) return;
  if (session.state === 'ready') startTerminal();
  else badge.update({ kind: 'connecting', attempt: 1 });
  poll = setTimeout(() => void refresh(), session.state === 'starting' ? POLL_STARTING_MS : POLL_SESSION_MS);

  return () => {
    finished = true;
    for (const d of disposers.splice(0)) d();
    terminal?.dispose();
  };
}
