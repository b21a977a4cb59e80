/**
 * The interviewer's view of a live session: the candidate's terminal (read-only, at
 * the candidate's size), check results as they arrive, private notes, more time, and
 * ending the round.
 */
import { followSessionEvents } from '../../api/events.js';
import { getLab, getSession, terminalTicket } from '../../api/endpoints.js';
import { isApiError } from '../../api/http.js';
import { LIVE_STATES, type GradeEventData, type Session, type SessionState } from '../../api/types.js';
import { connectionBadge } from '../../components/connection-badge.js';
import { countdown } from '../../components/countdown.js';
import { messagePage, notice } from '../../components/notice.js';
import { notesEditor } from '../../components/notes-editor.js';
import { brand, requireStaff } from '../../components/staff-layout.js';
import { stateBadge } from '../../components/state-badge.js';
import { h, icon, ICONS, replaceChildren } from '../../lib/dom.js';
import { explain } from '../../lib/messages.js';
import type { PageContext } from '../../router.js';
import { startLiveTerminal, type LiveTerminal } from '../../terminal/live-terminal.js';
import { liveChecks } from './live-checks.js';
import { sessionControls } from './session-controls.js';

export async function observePage({ root, params }: PageContext): Promise<(() => void) | void> {
  const sessionId = params.id ?? '';
  document.title = 'Observe · opslab';
  const user = await requireStaff(root);
  if (!user) return;

  let session: Session;
  try {
    session = await getSession(sessionId);
  } catch (e) {
    root.replaceChildren(messagePage('This session could not be opened', explain(e, 'staff'), h('a', { class: 'button', href: '/sessions', 'data-link': '' }, 'All sessions')));
    return;
  }
  document.title = `${session.candidate.name} · opslab`;

  const disposers: (() => void)[] = [];
  let terminal: LiveTerminal | null = null;
  const labTitle = h('span', { class: 'muted' }, session.lab);
  getLab(session.lab)
    .then((lab) => (labTitle.textContent = lab.title))
    .catch(() => undefined);

  const stateSlot = h('span', null, stateBadge(session.state));
  const clock = countdown();
  disposers.push(() => clock.dispose());
  const badge = connectionBadge(() => terminal?.connection.retryNow());
  const message = h('div', { class: 'page-message' });
  const flash = (kind: 'error' | 'success' | 'info', text: string) => {
    replaceChildren(message, notice(kind, text));
    if (kind !== 'error') setTimeout(() => message.replaceChildren(), 4000);
  };
  const checks = liveChecks(sessionId);
  const notes = notesEditor(sessionId);
  disposers.push(() => notes.dispose());
  const terminalBox = h('div', { class: 'terminal-box', 'data-testid': 'terminal' });
  const terminalNote = h('div', { class: 'terminal-overlay', hidden: true, 'data-testid': 'terminal-overlay' });
  const frame = h('div', { class: 'terminal-frame', 'data-connection': 'connecting' }, terminalBox, terminalNote);
  const readOnlyNote = h('span', { class: 'read-only-note', 'data-testid': 'read-only' }, icon([...ICONS.lock]), ' Read-only: you see what the candidate sees');

  const reportLink = h('a', { class: 'button button-primary', href: `/report/${sessionId}`, 'data-link': '', 'data-testid': 'report-link', hidden: true }, 'Open the report');
  const controls = sessionControls(session, {
    onChanged: (s) => {
      if (s) applySession(s);
      else void getSession(sessionId).then(applySession).catch(() => undefined);
    },
    onMessage: flash,
  });

  const applySession = (s: Session) => {
    session = s;
    replaceChildren(stateSlot, stateBadge(s.state));
    const live = LIVE_STATES.includes(s.state);
    controls.setLive(live);
    checks.setLive(s.state === 'ready');
    reportLink.hidden = live;
    if (live) clock.setExpiry(s.expiresAt);
    else {
      clock.freeze(s.state === 'expired' ? 'Time ran out' : s.state === 'failed' ? 'Failed' : 'Ended');
      stopTerminal(s.state);
    }
    if (s.state === 'ready' && !terminal) startTerminal();
    if (s.state === 'starting') {
      terminalNote.hidden = false;
      replaceChildren(terminalNote, h('div', { class: 'spinner', 'aria-hidden': 'true' }), h('p', null, 'The sandbox is starting…'));
    }
  };

  const stopTerminal = (state: SessionState) => {
    terminal?.connection.stop();
    badge.update({ kind: 'closed', reason: 'session-over', state });
    frame.dataset.connection = 'closed';
    terminalNote.hidden = false;
    replaceChildren(
      terminalNote,
      h('p', null, state === 'failed' ? `The sandbox failed: ${session.error ?? 'no reason was given'}.` : 'The session is over. The recording and the final checks are in the report.'),
      h('a', { class: 'button button-primary', href: `/report/${sessionId}`, 'data-link': '' }, 'Open the report'),
    );
  };

  const startTerminal = () => {
    terminalNote.hidden = true;
    terminal = startLiveTerminal(terminalBox, {
      sessionId,
      role: 'observer',
      label: "The candidate's terminal (read-only)",
      issueTicket: async () => (await terminalTicket(sessionId)).ticket,
      onStatus: (status) => {
        badge.update(status);
        frame.dataset.connection = status.kind;
        if (status.kind === 'closed' && status.reason === 'refused') {
          void getSession(sessionId).then(applySession).catch(() => undefined);
        }
      },
      onControl: (m) => {
        if (m.type === 'state') void getSession(sessionId).then(applySession).catch(() => undefined);
      },
    });
  };

  const stopEvents = followSessionEvents(sessionId, {
    onEvent: (event) => {
      if (event.type === 'grade') checks.onGradeEvent(event.data as GradeEventData);
      if (event.type === 'state') {
        const state = (event.data as { state?: SessionState }).state;
        if (state && state !== session.state) void getSession(sessionId).then(applySession).catch(() => undefined);
      }
      if (event.type === 'extended') {
        const expiresAt = (event.data as { expiresAt?: string }).expiresAt;
        if (expiresAt && LIVE_STATES.includes(session.state)) clock.setExpiry(expiresAt);
      }
    },
    onFatal: (status) => {
      if (status === 401) flash('error', 'You are signed out. Sign in again to keep watching.');
    },
  });
  disposers.push(stopEvents);

  // The expiry time may change (time added by another interviewer); keep it fresh.
  const poll = setInterval(() => {
    if (LIVE_STATES.includes(session.state)) void getSession(sessionId).then(applySession).catch((e: unknown) => {
      if (isApiError(e) && e.status === 401) flash('error', 'You are signed out. Sign in again to keep watching.');
    });
  }, 10_000);
  disposers.push(() => clearInterval(poll));

  root.replaceChildren(
    h(
      'div',
      { class: 'workspace-layout observe' },
      h(
        'header',
        { class: 'topbar workspace-bar' },
        h(
          'div',
          { class: 'bar-start' },
          brand(),
          h('span', { class: 'bar-divider', 'aria-hidden': 'true' }),
          h('div', { class: 'bar-who' }, h('span', { class: 'bar-title', 'data-testid': 'candidate-name' }, session.candidate.name), labTitle),
          stateSlot,
        ),
        h('div', { class: 'bar-middle' }, clock.el),
        h('div', { class: 'bar-end' }, controls.el, reportLink),
      ),
      message,
      h(
        'main',
        { id: 'main', class: 'workspace-main observe-main' },
        h(
          'section',
          { class: 'terminal-panel', 'aria-label': "Candidate's terminal" },
          h(
            'div',
            { class: 'terminal-caption' },
            h('div', { class: 'caption-start' }, badge.el, readOnlyNote),
            h('a', { href: '/sessions', 'data-link': '', class: 'small' }, '← All sessions'),
          ),
          frame,
        ),
        h('aside', { class: 'side-panel side-panel-right', 'aria-label': 'Checks and notes' }, checks.el, notes.el),
      ),
    ),
  );
  applySession(session);

  return () => {
    for (const d of disposers.splice(0)) d();
    terminal?.dispose();
  };
}
