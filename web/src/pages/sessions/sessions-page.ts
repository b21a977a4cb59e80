/** Live and past sessions, with state and score; refreshed every few seconds. */
import { latestReport, listLabs, listSessions } from '../../api/endpoints.js';
import { isApiError } from '../../api/http.js';
import { LIVE_STATES, type Session, type StoredReport } from '../../api/types.js';
import { notice } from '../../components/notice.js';
import { requireStaff, staffLayout } from '../../components/staff-layout.js';
import { stateBadge } from '../../components/state-badge.js';
import { h, replaceChildren } from '../../lib/dom.js';
import { formatClock, formatDateTime, formatMinutes, relative } from '../../lib/format.js';
import { explain } from '../../lib/messages.js';
import type { PageContext } from '../../router.js';

/** How long a past round lasted, from the shell being ready (or the request) to its end. */
function roundLength(s: Session): string {
  const start = new Date(s.readyAt ?? s.createdAt).getTime();
  const end = s.endedAt ? new Date(s.endedAt).getTime() : NaN;
  if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) return '—';
  const minutes = Math.round((end - start) / 60_000);
  return minutes < 1 ? 'under a minute' : formatMinutes(minutes);
}

const REFRESH_MS = 5000;

export async function sessionsPage({ root }: PageContext): Promise<(() => void) | void> {
  document.title = 'Sessions · opslab';
  const user = await requireStaff(root);
  if (!user) return;

  const live = h('div', { 'data-testid': 'live-sessions' }, h('p', { class: 'muted' }, 'Loading…'));
  const past = h('div', { 'data-testid': 'past-sessions' });
  const message = h('div');
  root.replaceChildren(
    ...staffLayout(
      user,
      'sessions',
      h(
        'div',
        { class: 'page-head' },
        h('div', null, h('h1', null, 'Sessions'), h('p', { class: 'muted' }, 'Every interview round on this server, newest first.')),
        h('a', { class: 'button button-primary', href: '/labs', 'data-link': '', 'data-testid': 'new-session' }, 'New session'),
      ),
      message,
      h('section', { class: 'card section', 'aria-labelledby': 'live-head' }, h('h2', { id: 'live-head' }, 'Live now'), live),
      h('section', { class: 'card section', 'aria-labelledby': 'past-head' }, h('h2', { id: 'past-head' }, 'Past sessions'), past),
    ),
  );

  const labTitles = new Map<string, string>();
  listLabs()
    .then(({ labs }) => labs.forEach((l) => labTitles.set(l.id, l.title)))
    .catch(() => undefined);
  const scores = new Map<string, StoredReport | null>();
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const scoreOf = async (s: Session, refresh: boolean) => {
    if (scores.has(s.id) && !refresh) return;
    try {
      scores.set(s.id, await latestReport(s.id));
    } catch (e) {
      if (isApiError(e) && e.status === 404) scores.set(s.id, null);
    }
  };

  const row = (s: Session) => {
    const isLive = LIVE_STATES.includes(s.state);
    const report = scores.get(s.id);
    const left = s.expiresAt ? (new Date(s.expiresAt).getTime() - Date.now()) / 1000 : null;
    return h(
      'tr',
      { 'data-testid': `session-${s.id}` },
      h('td', null, h('div', { class: 'strong' }, s.candidate.name), s.candidate.email ? h('div', { class: 'muted small' }, s.candidate.email) : null),
      h('td', null, labTitles.get(s.lab) ?? s.lab),
      h('td', null, stateBadge(s.state), s.error ? h('div', { class: 'muted small' }, s.error) : null),
      // Live rounds read best relative ("started 3 minutes ago", "12:04 left"); past ones
      // are scanned by date, and how long the round took says more than when it ended.
      h('td', null, isLive ? h('span', { title: formatDateTime(s.createdAt) }, relative(s.createdAt)) : formatDateTime(s.createdAt)),
      h(
        'td',
        { 'data-testid': isLive ? 'session-left' : 'session-length' },
        isLive ? (left !== null && left > 0 ? `${formatClock(left)} left` : 'ending…') : roundLength(s),
      ),
      h('td', { class: 'numeric', 'data-testid': 'session-score' }, report ? `${report.score} / ${report.maxScore}` : h('span', { class: 'muted' }, '—')),
      h(
        'td',
        { class: 'actions' },
        isLive ? h('a', { class: 'button button-small', href: `/observe/${s.id}`, 'data-link': '' }, 'Observe') : null,
        h('a', { class: 'button button-small button-quiet', href: `/report/${s.id}`, 'data-link': '' }, 'Report'),
      ),
    );
  };

  const table = (sessions: Session[], live: boolean) =>
    h(
      'table',
      { class: 'table' },
      h('caption', { class: 'visually-hidden' }, live ? 'Live sessions' : 'Past sessions'),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          h('th', { scope: 'col' }, 'Candidate'),
          h('th', { scope: 'col' }, 'Lab'),
          h('th', { scope: 'col' }, 'State'),
          h('th', { scope: 'col' }, live ? 'Started' : 'Date'),
          h('th', { scope: 'col' }, live ? 'Time left' : 'Length'),
          h('th', { scope: 'col', class: 'numeric' }, 'Score'),
          h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
        ),
      ),
      h('tbody', null, sessions.map(row)),
    );

  const load = async (first: boolean) => {
    try {
      const { sessions } = await listSessions();
      sessions.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      const liveOnes = sessions.filter((s) => LIVE_STATES.includes(s.state));
      const pastOnes = sessions.filter((s) => !LIVE_STATES.includes(s.state)).slice(0, 100);
      await Promise.all([...liveOnes.map((s) => scoreOf(s, true)), ...pastOnes.map((s) => scoreOf(s, first || !scores.get(s.id)))]);
      if (stopped) return;
      replaceChildren(message);
      replaceChildren(
        live,
        liveOnes.length > 0
          ? table(liveOnes, true)
          : h('p', { class: 'empty' }, 'No session is running. ', h('a', { href: '/labs', 'data-link': '' }, 'Start one from the lab catalog'), '.'),
      );
      replaceChildren(past, pastOnes.length > 0 ? table(pastOnes, false) : h('p', { class: 'empty' }, 'Finished sessions will be listed here with their scores.'));
    } catch (e) {
      if (stopped) return;
      replaceChildren(message, notice('error', explain(e, 'staff')));
    }
    if (!stopped) timer = setTimeout(() => void load(false), REFRESH_MS);
  };
  await load(true);

  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
