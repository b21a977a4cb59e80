/**
 * The interviewer's private notes on a session: their own note, saved as they type (a
 * moment after the last key, and when they leave the field or the page), and the notes
 * of the other interviewers below it. Says in words whether the note is saved.
 */
import { listNotes, saveNote } from '../api/endpoints.js';
import { isApiError } from '../api/http.js';
import type { Note } from '../api/types.js';
import { debounce } from '../lib/debounce.js';
import { h, replaceChildren } from '../lib/dom.js';
import { formatDateTime, formatTime } from '../lib/format.js';
import { explain, notAvailable } from '../lib/messages.js';

export interface NotesEditor {
  el: HTMLElement;
  dispose(): void;
}

const SAVE_AFTER_MS = 800;

function otherNote(note: Note): HTMLElement {
  return h(
    'li',
    { class: 'other-note' },
    h('div', { class: 'muted small' }, `${note.author}, ${formatDateTime(note.updatedAt)}`),
    h('p', { class: 'other-note-text' }, note.text),
  );
}

export function notesEditor(sessionId: string): NotesEditor {
  const id = `notes-${sessionId}`;
  const status = h('span', { class: 'notes-status', 'data-testid': 'notes-status', role: 'status', 'aria-live': 'polite' }, 'Loading…');
  const area = h('textarea', {
    id,
    class: 'notes-text',
    rows: 8,
    disabled: true,
    placeholder: 'Only interviewers see these notes. They are saved as you type.',
    'data-testid': 'notes',
  });
  const others = h('div', { class: 'other-notes' });
  const el = h(
    'section',
    { class: 'notes', 'aria-labelledby': `${id}-label` },
    h('div', { class: 'section-head' }, h('h2', { id: `${id}-label` }, h('label', { for: id }, 'Private notes')), status),
    area,
    others,
  );
  let inFlight = 0;
  let disposed = false;

  const save = debounce((text: string) => {
    inFlight += 1;
    status.textContent = 'Saving…';
    saveNote(sessionId, text)
      .then((saved) => {
        if (disposed || save.pending()) return;
        status.textContent = text ? `Saved at ${formatTime(saved.updatedAt ?? new Date().toISOString())}` : 'Saved (empty)';
        el.dataset.saved = 'true';
      })
      .catch((e: unknown) => {
        if (disposed) return;
        status.textContent = isApiError(e) && e.endpointMissing ? 'Not saved: this server cannot store notes yet' : `Not saved. ${explain(e, 'staff')}`;
        el.dataset.saved = 'false';
      })
      .finally(() => {
        inFlight -= 1;
      });
  }, SAVE_AFTER_MS);

  area.addEventListener('input', () => {
    el.dataset.saved = 'false';
    status.textContent = 'Not saved yet…';
    save(area.value);
  });
  area.addEventListener('blur', () => save.flush());

  listNotes(sessionId)
    .then((notes) => {
      if (disposed) return;
      const mine = notes.find((n) => n.mine);
      area.value = mine?.text ?? '';
      area.disabled = false;
      status.textContent = mine?.updatedAt ? `Saved at ${formatTime(mine.updatedAt)}` : 'Nothing written yet';
      const theirs = notes.filter((n) => !n.mine && n.text.trim());
      if (theirs.length > 0) {
        replaceChildren(others, h('h3', { class: 'small muted' }, 'Other interviewers'), h('ul', { class: 'other-note-list' }, theirs.map(otherNote)));
      }
    })
    .catch((e: unknown) => {
      if (disposed) return;
      if (isApiError(e) && e.endpointMissing) {
        status.textContent = '';
        area.replaceWith(h('p', { class: 'muted', 'data-testid': 'notes-unavailable' }, notAvailable('Saving notes')));
        return;
      }
      status.textContent = explain(e, 'staff');
    });

  // Leaving the page with a note not yet saved: save now and let the browser ask.
  const beforeUnload = (event: BeforeUnloadEvent) => {
    if (save.pending() || inFlight > 0) {
      save.flush();
      event.preventDefault();
    }
  };
  window.addEventListener('beforeunload', beforeUnload);

  return {
    el,
    dispose() {
      save.flush();
      disposed = true;
      window.removeEventListener('beforeunload', beforeUnload);
    },
  };
}
