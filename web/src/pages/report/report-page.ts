/**
 * The report of a session: the score and every check (evidence and hidden checks
 * included), the interviewer's notes, the candidate's commits and diff, the replay with
 * the grading moments on its timeline, and the workspace download.
 */
import { allReports, getLab, getSession, recording, workspaceUrl } from '../../api/endpoints.js';
import { authHeaders, isApiError, STAFF } from '../../api/http.js';
import { LIVE_STATES, type Session, type StoredReport } from '../../api/types.js';
import { checkList, scoreLine } from '../../components/check-list.js';
import { messagePage, notice } from '../../components/notice.js';
import { notesEditor } from '../../components/notes-editor.js';
import { requireStaff, staffLayout } from '../../components/staff-layout.js';
import { stateBadge } from '../../components/state-badge.js';
import { h, icon, ICONS, replaceChildren } from '../../lib/dom.js';
import { formatDateTime, formatTime } from '../../lib/format.js';
import { explain } from '../../lib/messages.js';
import type { PageContext } from '../../router.js';
import { commitsSection } from './commits-section.js';
import { IDLE_LIMIT_SECONDS, mountReplay, prepareCast } from './replay.js';

const TRIGGER_TEXT: Record<string, string> = {
  candidate: 'Candidate pressed “Check my work”',
  staff: 'Interviewer ran the checks',
  end: 'Final check when the session ended',
  expiry: 'Final check when the time ran out',
  test: 'Lab test',
};

function gradingHistory(reports: StoredReport[], onSeek: (r: StoredReport) => void): HTMLElement {
  return h(
    'ol',
    { class: 'history', 'data-testid': 'grading-history' },
    reports.map((r) =>
      h(
        'li',
        null,
        h('button', { class: 'link-button', type: 'button', onclick: () => onSeek(r), title: 'Jump to this moment in the replay' }, formatTime(r.gradedAt)),
        h('span', null, TRIGGER_TEXT[r.trigger] ?? r.trigger),
        h('span', { class: 'numeric strong' }, `${r.score}/${r.maxScore}`),
      ),
    ),
  );
}

/** The workspace archive: a plain link with the cookie, else fetched with the token. */
function downloadButton(session: Session): HTMLElement {
  if (LIVE_STATES.includes(session.state)) {
    return h('p', { class: 'muted' }, 'The workspace is saved when the session ends; its download appears here then.');
  }
  const status = h('span', { class: 'muted small', role: 'status' });
  const link = h(
    'a',
    { class: 'button', href: workspaceUrl(session.id), download: `${session.id}-workspace.tar.gz`, 'data-testid': 'download-workspace' },
    icon([...ICONS.download]),
    ' Download (.tar.gz)',
  );
  link.addEventListener('click', (event) => {
    const headers = authHeaders(STAFF);
    if (!headers.authorization) return; // the cookie does it
    event.preventDefault();
    status.textContent = 'Preparing the download…';
    fetch(workspaceUrl(session.id), { headers })
      .then(async (r) => {
        if (r.status === 404) throw new Error('missing');
        if (!r.ok) throw new Error(String(r.status));
        const url = URL.createObjectURL(await r.blob());
        const a = h('a', { href: url, download: `${session.id}-workspace.tar.gz` });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        status.textContent = '';
      })
      .catch((e: unknown) => {
        status.textContent =
          e instanceof Error && e.message === 'missing'
            ? 'There is no saved workspace for this session (it ended before the sandbox was ready, or saving failed).'
            : 'The download failed. Try again in a moment.';
      });
  });
  return h('div', { class: 'download' }, link, h('p', { class: 'muted small' }, 'The candidate’s repository as it was at the end, with its git history.'), status);
}

export async function reportPage({ root, params }: PageContext): Promise<(() => void) | void> {
  const sessionId = params.id ?? '';
  document.title = 'Report · opslab';
  const user = await requireStaff(root);
  if (!user) return;

  let session: Session;
  let reports: StoredReport[];
  try {
    [session, reports] = await Promise.all([getSession(sessionId), allReports(sessionId).then((r) => r.reports)]);
  } catch (e) {
    root.replaceChildren(messagePage('This report could not be opened', explain(e, 'staff'), h('a', { class: 'button', href: '/sessions', 'data-link': '' }, 'All sessions')));
    return;
  }
  document.title = `Report: ${session.candidate.name} · opslab`;
  const latest = reports[reports.length - 1] ?? null;
  const labTitle = h('span', null, session.lab);
  getLab(session.lab)
    .then((lab) => (labTitle.textContent = lab.title))
    .catch(() => undefined);

  const notes = notesEditor(sessionId);
  const replayBox = h('div', { class: 'replay', 'data-testid': 'replay' });
  const replayNote = h('div', null, h('p', { class: 'muted' }, 'Loading the recording…'));
  let seek: ((seconds: number) => void) | null = null;
  let start: number | null = null;
  let disposed = false;

  const checksBody = latest
    ? h(
        'div',
        null,
        h('p', { class: 'muted small' }, `${TRIGGER_TEXT[latest.trigger] ?? latest.trigger}, ${formatDateTime(latest.gradedAt)}.`),
        checkList(latest, { staff: true }),
        latest.skipped.length > 0
          ? h('details', { class: 'skipped' }, h('summary', null, `${latest.skipped.length} workspace entries were not read by the checker`), h('ul', null, latest.skipped.map((s) => h('li', null, h('code', null, s)))))
          : null,
      )
    : h('p', { class: 'empty' }, LIVE_STATES.includes(session.state) ? 'No checks have run yet. The session is still live.' : 'This session was never graded (it ended before its sandbox was ready).');

  root.replaceChildren(
    ...staffLayout(
      user,
      null,
      h(
        'div',
        { class: 'page-head' },
        h(
          'div',
          null,
          h('p', { class: 'eyebrow' }, h('a', { href: '/sessions', 'data-link': '' }, '← Sessions')),
          h('h1', { 'data-testid': 'report-title' }, session.candidate.name),
          h('p', { class: 'muted' }, labTitle, ' · ', `${formatDateTime(session.createdAt)}${session.endedAt ? ` to ${formatTime(session.endedAt)}` : ''}`, ' · ', stateBadge(session.state)),
        ),
        h(
          'div',
          { class: 'report-score card', 'data-testid': 'report-score' },
          latest ? scoreLine(latest) : h('span', { class: 'muted' }, 'Not graded'),
          LIVE_STATES.includes(session.state) ? h('a', { class: 'button button-small', href: `/observe/${session.id}`, 'data-link': '' }, 'Observe') : null,
        ),
      ),
      session.error ? notice('warning', `The sandbox failed: ${session.error}`) : null,
      h(
        'div',
        { class: 'report-grid' },
        h(
          'div',
          { class: 'report-main' },
          h('section', { class: 'card section', 'aria-labelledby': 'checks-head', 'data-testid': 'report-checks' }, h('h2', { id: 'checks-head' }, 'Checks'), checksBody),
          h(
            'section',
            { class: 'card section', 'aria-labelledby': 'replay-head' },
            h('div', { class: 'section-head' }, h('h2', { id: 'replay-head' }, 'Replay'), h('span', { class: 'muted small' }, `Pauses longer than ${IDLE_LIMIT_SECONDS} s are shortened. Markers show each check.`)),
            replayBox,
            replayNote,
          ),
          commitsSection(sessionId),
        ),
        h(
          'div',
          { class: 'report-side' },
          h(
            'section',
            { class: 'card section', 'aria-labelledby': 'history-head' },
            h('h2', { id: 'history-head' }, 'Gradings'),
            reports.length > 0
              ? gradingHistory(reports, (r) => {
                  if (seek && start !== null) seek(Math.max(0, Date.parse(r.gradedAt) / 1000 - start));
                })
              : h('p', { class: 'empty' }, 'None yet.'),
          ),
          h('section', { class: 'card section' }, notes.el),
          h('section', { class: 'card section', 'aria-labelledby': 'download-head' }, h('h2', { id: 'download-head' }, 'Workspace'), downloadButton(session)),
        ),
      ),
    ),
  );

  recording(sessionId)
    .then((cast) => {
      if (disposed) return;
      const prepared = prepareCast(cast, reports);
      const header = JSON.parse(cast.slice(0, cast.indexOf('\n'))) as { timestamp?: number };
      start = typeof header.timestamp === 'number' ? header.timestamp : null;
      const player = mountReplay(replayBox, prepared);
      seek = (seconds) => {
        // Marker times are raw; find the marker (idle pauses shift the timeline).
        const index = prepared.markers.findIndex((m) => Math.abs(m.time - seconds) < 0.001);
        void (index >= 0 ? player.seek({ marker: index }) : player.seek(seconds));
      };
      replaceChildren(replayNote);
    })
    .catch((e: unknown) => {
      if (disposed) return;
      replaceChildren(
        replayNote,
        notice('info', isApiError(e) && e.status === 404 ? 'There is no recording for this session (its terminal was never opened).' : `The recording could not be played. ${explain(e, 'staff')}`),
      );
    });

  return () => {
    disposed = true;
    notes.dispose();
    window.player?.dispose();
    delete window.player;
  };
}
