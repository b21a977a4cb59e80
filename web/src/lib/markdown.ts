/**
 * Markdown to safe HTML: marked renders, DOMPurify removes anything that could run
 * (scripts, event handlers, javascript: links). Links open in a new tab without a
 * referrer, so a brief cannot pull the candidate away from their terminal.
 */
import DOMPurify from 'dompurify';
import { marked } from 'marked';

let hooked = false;

export function renderMarkdown(markdown: string): DocumentFragment {
  if (!hooked) {
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A' && node.getAttribute('href')) {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer');
      }
    });
    hooked = true;
  }
  const html = marked.parse(markdown, { async: false, gfm: true, breaks: false });
  return DOMPurify.sanitize(html, { RETURN_DOM_FRAGMENT: true, FORBID_TAGS: ['style', 'form', 'input', 'button'] });
}
