/** The candidate's brief, rendered from Markdown (sanitised). */
import { getBrief } from '../../api/endpoints.js';
import type { Auth } from '../../api/http.js';
import { isApiError } from '../../api/http.js';
import { h } from '../../lib/dom.js';
import { renderMarkdown } from '../../lib/markdown.js';
import { explain } from '../../lib/messages.js';

export function briefPanel(sessionId: string, auth: Auth, onTitle: (title: string) => void): HTMLElement {
  const body = h('div', { class: 'brief markdown', 'data-testid': 'brief' }, h('p', { class: 'muted' }, 'Loading the brief…'));
  getBrief(sessionId, auth)
    .then(({ title, markdown }) => {
      const heading = title ?? /^#\s+(.+)$/m.exec(markdown)?.[1]?.trim();
      if (heading) onTitle(heading);
      body.replaceChildren(markdown.trim() ? renderMarkdown(markdown) : h('p', { class: 'muted' }, 'This exercise has no written brief. Your interviewer will tell you what to do.'));
    })
    .catch((e: unknown) => {
      const text =
        isApiError(e) && e.endpointMissing
          ? "The brief can't be shown on this server yet. Ask your interviewer to share the task with you; your terminal works as usual."
          : `The brief could not be loaded. ${explain(e, 'candidate')}`;
      body.replaceChildren(h('p', { class: 'notice notice-warning', 'data-testid': 'brief-unavailable' }, text));
    });
  return body;
}
