/** The candidate's commits since the start of the exercise, the files and the diff. */
import { getCommits } from '../../api/endpoints.js';
import { isApiError } from '../../api/http.js';
import type { FileChange } from '../../api/types.js';
import { h, replaceChildren } from '../../lib/dom.js';
import { formatDateTime, plural } from '../../lib/format.js';
import { explain, notAvailable } from '../../lib/messages.js';
import { diffView } from './diff-view.js';

function fileStat(f: FileChange): HTMLElement {
  return h(
    'li',
    { class: 'file-change' },
    h('code', null, f.path),
    f.additions === null || f.deletions === null
      ? h('span', { class: 'muted small' }, 'binary')
      : h('span', { class: 'small' }, h('span', { class: 'added' }, `+${f.additions}`), ' ', h('span', { class: 'removed' }, `−${f.deletions}`)),
  );
}

export function commitsSection(sessionId: string): HTMLElement {
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading the commits…'));
  const el = h('section', { class: 'card section', 'aria-labelledby': 'commits-head', 'data-testid': 'commits' }, h('h2', { id: 'commits-head' }, 'Commits and changes'), body);
  getCommits(sessionId)
    .then((history) => {
      const { commits, files, diff } = history;
      replaceChildren(
        body,
        history.warning ? h('p', { class: 'notice notice-info' }, history.warning) : null,
        commits.length === 0
          ? h('p', { class: 'empty' }, 'The candidate made no commits. Only committed work is shown here; the workspace download has everything.')
          : h(
              'div',
              null,
              h(
                'p',
                { class: 'muted' },
                `${plural(commits.length, 'commit')} since the start of the exercise${history.source === 'live' ? ' (read from the live sandbox just now)' : ''}.`,
                history.commitsTruncated ? ' Only the newest 500 are listed.' : '',
              ),
              h(
                'ol',
                { class: 'commit-list' },
                commits.map((c) =>
                  h(
                    'li',
                    { class: 'commit', 'data-testid': 'commit' },
                    h(
                      'div',
                      { class: 'commit-head' },
                      h('code', { class: 'commit-sha', title: c.hash }, c.hash.slice(0, 8)),
                      h('span', { class: 'commit-message' }, c.subject || '(no message)'),
                    ),
                    h(
                      'div',
                      { class: 'muted small' },
                      [c.author, c.date ? formatDateTime(c.date) : null, c.files.length > 0 ? plural(c.files.length, 'file') : null].filter(Boolean).join(' · '),
                    ),
                  ),
                ),
              ),
            ),
        files.length > 0 ? h('div', null, h('h3', null, 'Files changed'), h('ul', { class: 'file-list' }, files.map(fileStat))) : null,
        diff
          ? h(
              'details',
              { class: 'whole-diff', open: true },
              h('summary', null, 'The diff since the start'),
              diffView(diff),
              history.truncated ? h('p', { class: 'muted small' }, 'The diff is cut at 512 KiB; the workspace download has all of it.') : null,
            )
          : null,
      );
    })
    .catch((e: unknown) => {
      const text =
        isApiError(e) && e.endpointMissing
          ? notAvailable("The candidate's commits")
          : isApiError(e) && e.status === 404
            ? 'There is no workspace to read commits from (the session failed, ended while starting, or saving the workspace failed).'
            : isApiError(e) && e.code === 'WRONG_STATE'
              ? 'The sandbox is still starting; commits appear once it is ready.'
              : `The commits could not be read. ${explain(e, 'staff')}`;
      replaceChildren(body, h('p', { class: 'muted', 'data-testid': 'commits-unavailable' }, text));
    });
  return el;
}
